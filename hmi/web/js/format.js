// Units, numbers, times and the plain-words text of every stop reason.

import { t } from './i18n.js';

export const G = 9.80665; // N per kg-force

export const settings = {
  unit: 'kg',          // 'kg' or 'N': how loads are shown
  metronome: true,     // audible metronome on by default
  volume: 0.6,         // 0–1
};

export function loadSettings() {
  try {
    const s = JSON.parse(localStorage.getItem('soleus.settings') || '{}');
    if (s.unit === 'kg' || s.unit === 'N') settings.unit = s.unit;
    if (typeof s.metronome === 'boolean') settings.metronome = s.metronome;
    if (Number.isFinite(s.volume)) settings.volume = Math.min(1, Math.max(0, s.volume));
  } catch { /* defaults */ }
}

export function saveSettings() {
  localStorage.setItem('soleus.settings', JSON.stringify(settings));
}

export function fmtNum(v, digits = 0) {
  if (v === null || v === undefined || !Number.isFinite(Number(v))) return '–';
  return Number(v).toFixed(digits);
}

/** A load in the configured unit: "45.9 kg" or "450 N". */
export function load(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  if (settings.unit === 'N') return `${Math.round(n)} N`;
  return `${(n / G).toFixed(1)} kg`;
}

/** A load with N where the precision matters: "45.9 kg · 450 N" (or only N). */
export function loadPrecise(n) {
  if (n === null || n === undefined || !Number.isFinite(Number(n))) return '–';
  if (settings.unit === 'N') return `${Math.round(n)} N`;
  return `${(n / G).toFixed(1)} kg · ${Math.round(n)} N`;
}

export function kgToN(kg) { return kg * G; }
export function nToKg(n) { return n / G; }

export function seconds(s) {
  if (!Number.isFinite(Number(s))) return '–';
  s = Number(s);
  if (s < 60) return `${s.toFixed(0)} s`;
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

export const MODES = {
  isotonic: 'Constant load',
  eccentric: 'Heavier lowering',
  isometric: 'Static hold',
};

export const PHASES = {
  concentric: { word: 'RAISE', hint: 'push up, heels high' },
  top: { word: 'HOLD', hint: 'hold at the top' },
  eccentric: { word: 'LOWER', hint: 'lower slowly' },
  bottom: { word: 'PAUSE', hint: 'pause at the bottom' },
  hold: { word: 'PUSH', hint: 'push and hold' },
  none: { word: '', hint: '' },
};

export const STATES = {
  idle: 'Ready', ready: 'Starting', calibrating: 'Range rep', active: 'Set running',
  unloading: 'Unloading', rest: 'Rest', fault: 'FAULT', estop: 'E-STOP',
};

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
  const atRep = reps > 0 ? `set ended at rep ${reps}` : 'set ended before a full rep';
  const AtRep = atRep[0].toUpperCase() + atRep.slice(1);
  switch (reason) {
    case 'target_reached':
      return `Target reached: all ${reps} reps done`;
    case 'hold_complete':
      return `Hold complete: ${fmtNum(set.hold_s || set.tut_s, 0)} s held`;
    case 'force_drop': {
      const forces = log.map((r) => Number(r.mean_force_n)).filter(Number.isFinite);
      if (forces.length >= 2) {
        const best = Math.max(...forces);
        const last = forces[forces.length - 1];
        const pct = best > 0 ? Math.round((100 * (best - last)) / best) : 0;
        return `Force dropped ${pct} % below your best rep: ${atRep}`;
      }
      return `Force dropped below your best rep: ${atRep}`;
    }
    case 'range_loss':
      return `Your range got shorter: reps stopped reaching the full height. ${AtRep}`;
    case 'pace_loss':
      return `Raises became too slow to keep the tempo. ${AtRep}`;
    case 'stall':
      return `You could not raise the pad any further, so the load was lightened. ${AtRep}`;
    case 'loss_of_control':
      return `Movement became unsteady two reps in a row. ${AtRep} for safety`;
    case 'user_stop':
      return `You pressed STOP: ${atRep}`;
    case 'pain':
      return `You pressed PAIN: ${atRep}. Your therapist will see this. Tell staff if it persists`;
    case 'user_left':
      return `You let go of the pad, so the machine unloaded: ${atRep}`;
    case 'estop':
      return 'Emergency stop pressed: the motor was switched off at once. Staff must reset it';
    case 'drive_fault':
      return 'The motor drive reported a fault and stopped. Call staff';
    case 'comm_loss':
      return 'The controller lost contact with the motor or load cell and unloaded safely. Call staff';
    case 'sensor_fault':
      return 'A sensor gave implausible readings, so the machine unloaded safely. Call staff';
    case 'overspeed':
      return 'The pad moved too fast, so the machine unloaded for safety';
    case 'travel_limit':
      return 'The pad reached the end of its travel, so the machine unloaded';
    case 'storage_fault':
      return 'The set could not be saved, so the machine stopped. Call staff';
    case 'shutdown':
      return 'The machine was shut down during the set';
    case null: case undefined:
      return 'The set is still running';
    default:
      return `Set ended (${reason})`;
  }
}

/** Plain words for event and fault codes, with a hint for what to do. */
export const CODES = {
  boot: ['Controller started', ''],
  armed: ['Drive watchdog and torque limit armed', ''],
  arm_failed: ['Could not arm the drive watchdog or torque limit', 'Check the drive cable and its COMM_TIMEOUT / TORQUE_LIMIT registers; see docs/configuration.md'],
  sensor_recovered: ['Load cell data good again', ''],
  internal_error: ['Internal error in the controller: the drive was stopped', 'Restart soleusd (maintenance), then report the log'],
  procedure_started: ['Maintenance procedure started (range check or span calibration)', ''],
  procedure_ended: ['Maintenance procedure ended', 'The range check or span calibration reports its own result'],
  stored_range: ['Stored range', 'How the set found the member\'s range, or why it calibrated'],
  floor_catch: ['The pad dropped to the floor under load: the load was taken off at once', 'The set goes on; the load comes back as the member rises'],
  over_force: ['Over-force: the machine pushed beyond its maximum load', 'The set stopped at once; check the drive TORQUE_LIMIT and scaling before use'],
  disarmed: ['Drive setup to be armed again', 'The drive faulted, restarted or stopped answering; it is armed and read back before it may enable again'],
  reset: ['Faults reset', ''],
  reset_refused: ['Fault reset refused: the cause is still present', 'Clear the cause first (release the e-stop, fix the bus), then reset'],
  set_started: ['Set started', ''],
  set_refused: ['Set refused', 'A set is running, or a fault or e-stop is latched'],
  calibrated: ['Range calibrated', ''],
  calibration_retry: ['Range rep repeated', 'The calibration rep was too short or unsteady'],
  stop_requested: ['Stop requested', ''],
  set_ended: ['Set ended', ''],
  unloaded: ['Unloaded', ''],
  sto: ['Emergency stop (STO)', 'Release the e-stop button, check the member, then Fault reset'],
  drive_fault: ['Servo drive fault', 'Read the drive fault code on the Diagnostics screen; check motor cable and drive temperature, then Fault reset'],
  comm_loss: ['Communication lost with the drive or load cell', 'Check the RS-485 / Ethernet cable, termination and power of the drive and load-cell amplifier, then Fault reset'],
  comm_glitch: ['Bus reply lost or corrupt', 'Occasional glitches are absorbed; many in a row point to cabling or termination'],
  stale_load_cell: ['Load cell stopped updating', 'Power-cycle the load-cell amplifier; check its cable'],
  adc_error: ['Load cell ADC error', 'Check the load cell cable and amplifier'],
  load_cell_overload: ['Load cell overload', 'Check for a jam; tare and span-calibrate the load cell'],
  implausible_reading: ['Implausible sensor reading', 'Check load cell and encoder; run Range check'],
  overspeed: ['Pad over-speed', 'Check the drive SPEED_LIMIT and the mechanics for slip'],
  travel_limit: ['Soft travel limit reached', 'Run Range check; check the soft limits in the configuration'],
  sensor_cross_check: ['Motor torque and load cell disagree', 'Tare and span-calibrate the load cell; check for a slipping load cell, a frozen transmitter reading or a mechanical jam'],
  user_left: ['User let go of the pad', ''],
  tared: ['Load cell tared', ''],
  tare_failed: ['Tare failed', 'Make sure nothing rests on the pad, then tare again'],
  command_refused: ['Command refused in this state', ''],
  move_started: ['Hold-to-move started', ''],
  move_ended: ['Hold-to-move ended', ''],
  queue_overflow: ['Internal queue overflow: data dropped', 'The storage or HMI could not keep up; check disk and CPU load'],
  loop_overrun: ['Control loop overrun', 'Check CPU load and the loop rate; see loop timing on Diagnostics'],
};

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
