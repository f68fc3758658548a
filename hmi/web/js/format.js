// Units, numbers, times and the plain-words text of every stop reason.
// Numbers shown are formatted for the screen's language (decimal comma in
// German: "45,9 kg"); what is typed on the keypad keeps the "." of its key.

import { t, setLanguage, language, onLanguage } from './i18n.js';


export const G = 9.80665; // N per kg-force

export const settings = {
  unit: 'kg',          // 'kg' or 'N': how loads are shown
  metronome: true,     // audible metronome on by default
  volume: 0.6,         // 0–1
  lang: 'en',          // the screen's language (i18n.js LANGUAGES)
};

export function loadSettings() {
  try {
    const s = JSON.parse(localStorage.getItem('soleus.settings') || '{}');
    if (s.unit === 'kg' || s.unit === 'N') settings.unit = s.unit;
    if (typeof s.metronome === 'boolean') settings.metronome = s.metronome;
    if (Number.isFinite(s.volume)) settings.volume = Math.min(1, Math.max(0, s.volume));
    if (typeof s.lang === 'string') settings.lang = s.lang;
  } catch { /* defaults */ }
  setLanguage(settings.lang);
  settings.lang = language();
}

export function saveSettings() {
  localStorage.setItem('soleus.settings', JSON.stringify(settings));
}

const formatters = new Map();
/** A number with `digits` decimals in the screen's language ("45.9", "45,9"). */
export function num(v, digits = 0) {
  const key = `${language()}/${digits}`;
  if (!formatters.has(key)) {
    formatters.set(key, new Intl.NumberFormat(language(), { minimumFractionDigits: digits, maximumFractionDigits: digits, useGrouping: false }));
  }
  return formatters.get(key).format(v);
}

/** A number with as many decimals as it has (at most 3): "2.5", "2,5", "3". */
export function numAuto(v) {
  const key = `${language()}/auto`;
  if (!formatters.has(key)) formatters.set(key, new Intl.NumberFormat(language(), { maximumFractionDigits: 3, useGrouping: false }));
  return formatters.get(key).format(v);
}

/** How an assessed max was found (assessments' `method`), in words. */
export function methodText(method) {
  switch (method) {
    case 'isometric': return t('Maximal pushes');
    case 'submaximal': return t('Reps to failure');
    case 'manual': return t('Entered by staff');
    default: return method || '';
  }
}

export function fmtNum(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '–';
  return num(Number(v), digits);
}

/** A load in the configured unit: "45.9 kg" or "450 N". */
export function load(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  if (settings.unit === 'N') return `${Math.round(n)} N`;
  return `${num(n / G, 1)} kg`;
}

/** A load with N where the precision matters: "45.9 kg · 450 N" (or only N). */
export function loadPrecise(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  if (settings.unit === 'N') return `${Math.round(n)} N`;
  return `${num(n / G, 1)} kg · ${Math.round(n)} N`;
}

export function kgToN(kg) { return kg * G; }
export function nToKg(n) { return n / G; }

export function seconds(s) {
  if (!Number.isFinite(Number(s))) return '–';
  s = Number(s);
  if (s < 60) return `${num(s, 0)} s`;
  const m = Math.floor(s / 60);
  const r = Math.round(s - m * 60);
  return `${m}:${String(r).padStart(2, '0')}`;
}

export function clock(s) {
  s = Math.max(0, Math.ceil(s));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

function pad(n) { return String(n).padStart(2, '0'); }

/** Event or fault time, local: "2026-11-23 18:05:12". Accepts ISO strings or epoch ms/s. */
export function dateTime(t) {
  const d = toDate(t);
  if (!d) return '–';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function shortDate(t) {
  const d = toDate(t);
  if (!d) return '–';
  return `${pad(d.getDate())}.${pad(d.getMonth() + 1)}. ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function toDate(t) {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') return new Date(t < 1e11 ? t * 1000 : t);
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

// The tables of words are rebuilt in the screen's language (onLanguage, below).
export let MODES;
const modes = () => ({
  isotonic: t('Constant load'),
  eccentric: t('Heavier lowering'),
  isometric: t('Static hold'),
});

export let PHASES;
const phases = () => ({
  concentric: { word: t('RAISE'), hint: t('push up, heels high') },
  top: { word: t('HOLD'), hint: t('hold at the top') },
  eccentric: { word: t('LOWER'), hint: t('lower slowly') },
  bottom: { word: t('PAUSE'), hint: t('pause at the bottom') },
  hold: { word: t('PUSH'), hint: t('push and hold') },
  none: { word: '', hint: '' },
});

export let STATES;
const states = () => ({
  idle: t('Ready'), ready: t('Starting'), calibrating: t('Range rep'), active: t('Set running'),
  unloading: t('Unloading'), rest: t('Rest'), fault: t('FAULT'), estop: t('E-STOP'),
});

/** Every stop reason of the contract. */
export const STOP_REASONS = [
  'target_reached', 'hold_complete', 'force_drop', 'range_loss', 'pace_loss', 'stall',
  'loss_of_control', 'user_stop', 'pain', 'user_left', 'estop', 'drive_fault', 'comm_loss',
  'sensor_fault', 'overspeed', 'travel_limit', 'storage_fault', 'shutdown',
];

/** Stop reasons that are the machine's fault, not the member's training. */
export const SAFETY_REASONS = new Set([
  'estop', 'drive_fault', 'comm_loss', 'sensor_fault', 'overspeed', 'travel_limit',
  'storage_fault', 'shutdown',
]);

/**
 * The stop reason of a finished set in plain words, using the set's numbers:
 * e.g. "Force dropped 22 % below your best rep: set ended at rep 13".
 */
export function stopReasonText(set) {
  const reason = set && set.stop_reason;
  const reps = Number(set && set.reps) || 0;
  const log = (set && Array.isArray(set.rep_log)) ? set.rep_log : [];
  const atRep = reps > 0 ? t('set ended at rep {rep}', { rep: reps }) : t('set ended before a full rep');
  const AtRep = atRep[0].toUpperCase() + atRep.slice(1);
  switch (reason) {
    case 'target_reached':
      return t('Target reached: all {reps} reps done', { reps });
    case 'hold_complete':
      return t('Hold complete: {s} s held', { s: fmtNum(set.hold_s || set.tut_s, 0) });
    case 'force_drop': {
      const forces = log.map((r) => Number(r.mean_force_n)).filter(Number.isFinite);
      if (forces.length >= 2) {
        const best = Math.max(...forces);
        const last = forces[forces.length - 1];
        const pct = best > 0 ? Math.round((100 * (best - last)) / best) : 0;
        return t('Force dropped {pct} % below your best rep: {end}', { pct, end: atRep });
      }
      return t('Force dropped below your best rep: {end}', { end: atRep });
    }
    case 'range_loss':
      return t('Your range got shorter: reps stopped reaching the full height. {End}', { End: AtRep });
    case 'pace_loss':
      return t('Raises became too slow to keep the tempo. {End}', { End: AtRep });
    case 'stall':
      return t('You could not raise the pad any further, so the load was lightened. {End}', { End: AtRep });
    case 'loss_of_control':
      return t('Movement became unsteady two reps in a row. {End} for safety', { End: AtRep });
    case 'user_stop':
      return t('You pressed STOP: {end}', { end: atRep });
    case 'pain':
      return t('You pressed PAIN: {end}. Your therapist will see this. Tell staff if it persists', { end: atRep });
    case 'user_left':
      return t('You let go of the pad, so the machine unloaded: {end}', { end: atRep });
    case 'estop':
      return t('Emergency stop pressed: the motor was switched off at once. Staff must reset it');
    case 'drive_fault':
      return t('The motor drive reported a fault and stopped. Call staff');
    case 'comm_loss':
      return t('The controller lost contact with the motor or load cell and unloaded safely. Call staff');
    case 'sensor_fault':
      return t('A sensor gave implausible readings, so the machine unloaded safely. Call staff');
    case 'overspeed':
      return t('The pad moved too fast, so the machine unloaded for safety');
    case 'travel_limit':
      return t('The pad reached the end of its travel, so the machine unloaded');
    case 'storage_fault':
      return t('The set could not be saved, so the machine stopped. Call staff');
    case 'shutdown':
      return t('The machine was shut down during the set');
    case null: case undefined:
      return t('The set is still running');
    default:
      return t('Set ended ({reason})', { reason });
  }
}

/** Plain words for event and fault codes, with a hint for what to do. */
export let CODES;
const codes = () => ({
  boot: [t('Controller started'), ''],
  armed: [t('Drive watchdog and torque limit armed'), ''],
  arm_failed: [t('Could not arm the drive watchdog or torque limit'), t('Check the drive cable and its COMM_TIMEOUT / TORQUE_LIMIT registers; see docs/configuration.md')],
  sensor_recovered: [t('Load cell data good again'), ''],
  internal_error: [t('Internal error in the controller: the drive was stopped'), t('Restart soleusd (maintenance), then report the log')],
  procedure_started: [t('Maintenance procedure started (range check or span calibration)'), ''],
  procedure_ended: [t('Maintenance procedure ended'), t('The range check or span calibration reports its own result')],
  stored_range: [t('Stored range'), t('How the set found the member\'s range, or why it calibrated')],
  floor_catch: [t('The pad dropped to the floor under load: the load was taken off at once'), t('The set goes on; the load comes back as the member rises')],
  over_force: [t('Over-force: the machine pushed beyond its maximum load'), t('The set stopped at once; check the drive TORQUE_LIMIT and scaling before use')],
  disarmed: [t('Drive setup to be armed again'), t('The drive faulted, restarted or stopped answering; it is armed and read back before it may enable again')],
  reset: [t('Faults reset'), ''],
  reset_refused: [t('Fault reset refused: the cause is still present'), t('Clear the cause first (release the e-stop, fix the bus), then reset')],
  set_started: [t('Set started'), ''],
  set_refused: [t('Set refused'), t('A set is running, or a fault or e-stop is latched')],
  calibrated: [t('Range calibrated'), ''],
  calibration_retry: [t('Range rep repeated'), t('The calibration rep was too short or unsteady')],
  stop_requested: [t('Stop requested'), ''],
  set_ended: [t('Set ended'), ''],
  unloaded: [t('Unloaded'), ''],
  sto: [t('Emergency stop (STO)'), t('Release the e-stop button, check the member, then Fault reset')],
  drive_fault: [t('Servo drive fault'), t('Read the drive fault code on the Diagnostics screen; check motor cable and drive temperature, then Fault reset')],
  comm_loss: [t('Communication lost with the drive or load cell'), t('Check the RS-485 / Ethernet cable, termination and power of the drive and load-cell amplifier, then Fault reset')],
  comm_glitch: [t('Bus reply lost or corrupt'), t('Occasional glitches are absorbed; many in a row point to cabling or termination')],
  stale_load_cell: [t('Load cell stopped updating'), t('Power-cycle the load-cell amplifier; check its cable')],
  adc_error: [t('Load cell ADC error'), t('Check the load cell cable and amplifier')],
  load_cell_overload: [t('Load cell overload'), t('Check for a jam; tare and span-calibrate the load cell')],
  implausible_reading: [t('Implausible sensor reading'), t('Check load cell and encoder; run Range check')],
  overspeed: [t('Pad over-speed'), t('Check the drive SPEED_LIMIT and the mechanics for slip')],
  travel_limit: [t('Soft travel limit reached'), t('Run Range check; check the soft limits in the configuration')],
  sensor_cross_check: [t('Motor torque and load cell disagree'), t('Tare and span-calibrate the load cell; check for a slipping load cell, a frozen transmitter reading or a mechanical jam')],
  user_left: [t('User let go of the pad'), ''],
  tared: [t('Load cell tared'), ''],
  tare_failed: [t('Tare failed'), t('Make sure nothing rests on the pad, then tare again')],
  command_refused: [t('Command refused in this state'), ''],
  move_started: [t('Hold-to-move started'), ''],
  move_ended: [t('Hold-to-move ended'), ''],
  queue_overflow: [t('Internal queue overflow: data dropped'), t('The storage or HMI could not keep up; check disk and CPU load')],
  loop_overrun: [t('Control loop overrun'), t('Check CPU load and the loop rate; see loop timing on Diagnostics')],
});

function rebuild() {
  MODES = modes();
  PHASES = phases();
  STATES = states();
  CODES = codes();
}
rebuild();
onLanguage(rebuild);
const CODES_EN = codes(); // built before any language is set: English

/** Whether a text is the code's meaning, in English (as soleusd says it) or in the screen's language. */
export function isCodeMeaning(code, text) {
  return text === codeMeaning(code) || Boolean(CODES_EN[code] && CODES_EN[code][0] === text);
}

export function codeMeaning(code, fallback) {
  return (CODES[code] && CODES[code][0]) || fallback || code;
}

export function codeHint(code, fallback) {
  return fallback || (CODES[code] && CODES[code][1]) || '';
}

/** What a live message's range_note (issue 13: the member's stored range) means
 *  for the member, through t(); null: nothing to say. */
export function rangeNoteText(msg) {
  const days = Math.floor(Number(msg.range_age_days));
  switch (msg.range_note) {
    case 'checking': return t('Your stored range: this light first rep checks it, and counts if it matches');
    case 'confirmed': return t('Your stored range is confirmed: the first rep counted');
    case 'no_stored_range': return t('No stored range: this light first rep measures your range');
    case 'stale': return t('Your stored range is {days} days old: this light first rep measures it again', { days: Number.isFinite(days) ? days : '?' });
    case 'outside_limits': return t('Your stored range does not fit the machine now: this light first rep measures it again');
    case 'not_confirmed': return t('Your range has changed: the first rep measured it again and did not count');
    default: return null;
  }
}
