// Field rules for sets and programme steps, the same limits as the API
// contract (issue 5) and controller::SetParams / Tempo::parse, so that a value
// the keypad accepts is a value the daemon accepts.

import { numberRule } from './keypad.js';

export const LIMITS = {
  sets: { min: 1, max: 10, integer: true, label: 'Sets' },
  target_reps: { min: 1, max: 100, integer: true, label: 'Reps' },
  hold_s: { min: 1, max: 300, label: 'Hold time', unit: 's' },
  load_n: { min: 1, max: 1800, label: 'Load', unit: 'N' },
  load_kg: { min: 0.1, max: 183.5, label: 'Load', unit: 'kg' },
  load_pct: { min: 1, max: 150, label: 'Load', unit: '% of max' },
  eccentric_pct: { min: 0, max: 100, label: 'Extra lowering load', unit: '%' },
  rest_s: { min: 0, max: 600, integer: true, label: 'Rest', unit: 's' },
  force_drop_pct: { min: 5, max: 50, label: 'Force drop', unit: '%' },
  assessed_max_n: { min: 1, max: 10000, label: 'Assessed max', unit: 'N' },
  progression_amount: { min: 0.1, max: 1000, label: 'Amount' },
  member_number: { min: 1, max: 99999999999, integer: true, label: 'Member number' },
  span_kg: { min: 1, max: 200, label: 'Known weight', unit: 'kg' },
};

export function rule(name, override = {}) {
  return numberRule({ ...LIMITS[name], ...override });
}

/** "E-B-C-T": four non-negative decimals ≤ 60 s, e.g. "3-1-3-1" or "2.5-0-2-1". */
export function tempoError(text) {
  if (!/^[0-9.-]*$/.test(text)) return 'Digits, "." and "-" only';
  const parts = text.split('-');
  if (parts.length > 4) return 'Four numbers: lower-pause-raise-hold';
  for (const p of parts) {
    if (p === '' || p === '.') return parts.length < 4 ? 'Four numbers: lower-pause-raise-hold' : 'Each part needs a number';
    if ((p.match(/\./g) || []).length > 1) return 'One decimal point per number';
    if (Number(p) > 60) return 'Each phase at most 60 s';
  }
  if (parts.length < 4) return 'Four numbers: lower-pause-raise-hold';
  return null;
}

export function parseTempo(text) {
  if (!text || tempoError(String(text))) return null;
  const [e, b, c, t] = String(text).split('-').map(Number);
  return { eccentric: e, bottom: b, concentric: c, top: t, cycle: e + b + c + t };
}

export const PROGRESSIONS = [
  { value: 'none', label: 'None', unit: '' },
  { value: 'load_pct', label: '+ load, % of max', unit: '%' },
  { value: 'load_n', label: '+ load, N', unit: 'N' },
  { value: 'reps', label: '+ reps', unit: 'reps' },
  { value: 'hold_s', label: '+ hold time, s', unit: 's' },
];

/** The progression rules a step may use (the API's rules, docs/api.md). */
export function progressionsFor(step) {
  const iso = step.mode === 'isometric';
  const pct = step.load_pct !== undefined && step.load_pct !== null;
  return PROGRESSIONS.filter((p) => (p.value !== 'reps' || !iso) && (p.value !== 'hold_s' || iso)
    && (p.value !== 'load_pct' || pct));
}

export function progressionText(p) {
  if (!p || !p.rule || p.rule === 'none') return 'None';
  const amt = p.amount;
  const when = 'when all sets are completed';
  if (p.rule === 'load_pct') return `+${amt} % load ${when}`;
  if (p.rule === 'load_n') return `+${amt} N load ${when}`;
  if (p.rule === 'reps') return `+${amt} reps ${when}`;
  if (p.rule === 'hold_s') return `+${amt} s hold ${when}`;
  return p.rule;
}

export function newStep() {
  return {
    mode: 'isotonic', sets: 3, target_reps: 12, load_n: 400, tempo: '3-1-3-1', rest_s: 90,
    force_drop_pct: 20, progression: { rule: 'none', amount: 0 },
  };
}

/** Whole-step check (each field was already checked as typed); [] when valid. */
export function stepErrors(s) {
  const errs = [];
  const chk = (name, v, limit = name) => {
    if (v === undefined || v === null || v === '') { errs.push({ field: name, message: `${LIMITS[limit].label} is missing` }); return; }
    const m = rule(limit)(String(v));
    if (m) errs.push({ field: name, message: m });
  };
  if (!['isotonic', 'eccentric', 'isometric'].includes(s.mode)) errs.push({ field: 'mode', message: 'Choose a mode' });
  chk('sets', s.sets);
  if (s.mode === 'isometric') chk('hold_s', s.hold_s); else chk('target_reps', s.target_reps);
  if (s.load_pct !== undefined && s.load_pct !== null) chk('load_pct', s.load_pct);
  else chk('load_n', s.load_n);
  if (s.mode === 'eccentric') chk('eccentric_pct', s.eccentric_pct);
  const te = tempoError(String(s.tempo || ''));
  if (te) errs.push({ field: 'tempo', message: te });
  chk('rest_s', s.rest_s);
  chk('force_drop_pct', s.force_drop_pct);
  if (s.progression && s.progression.rule !== 'none') {
    if (!progressionsFor(s).some((p) => p.value === s.progression.rule)) errs.push({ field: 'progression', message: 'This progression does not suit the step' });
    else chk('progression', s.progression.amount, 'progression_amount');
  }
  return errs;
}

/** A step as sent to the API: exactly one of target_reps/hold_s, one of load_n/load_pct. */
export function cleanStep(s) {
  const out = {
    mode: s.mode, sets: Number(s.sets), tempo: s.tempo, rest_s: Number(s.rest_s),
    force_drop_pct: Number(s.force_drop_pct),
    progression: s.progression && s.progression.rule !== 'none'
      ? { rule: s.progression.rule, amount: Number(s.progression.amount) } : { rule: 'none' },
  };
  if (s.mode === 'isometric') out.hold_s = Number(s.hold_s); else out.target_reps = Number(s.target_reps);
  if (s.load_pct !== undefined && s.load_pct !== null) out.load_pct = Number(s.load_pct);
  else out.load_n = Number(s.load_n);
  if (s.mode === 'eccentric') out.eccentric_pct = Number(s.eccentric_pct || 0);
  return out;
}
