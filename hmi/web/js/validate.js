// Field rules for sets and programme steps, the same limits as the API
// contract (issue 5) and controller::SetParams, and the one tempo grammar
// (soleus::common::parse_tempo), so that a value the keypad accepts is a value
// the daemon accepts.

import { numberRule } from './keypad.js';
import { t, onLanguage } from './i18n.js';

// LIMITS, TEMPO_MESSAGES and PROGRESSIONS hold screen text: rebuilt in the
// screen's language (onLanguage, below).
export let LIMITS;
const limits = () => ({
  sets: { min: 1, max: 10, integer: true, label: t('Sets') },
  target_reps: { min: 1, max: 100, integer: true, label: t('Reps') },
  hold_s: { min: 1, max: 300, label: t('Hold time'), unit: 's' },
  load_n: { min: 1, max: 1800, label: t('Load'), unit: 'N' },
  load_kg: { min: 0.1, max: 183.5, label: t('Load'), unit: 'kg' },
  load_pct: { min: 1, max: 150, label: t('Load'), unit: t('% of max') },
  eccentric_pct: { min: 0, max: 100, label: t('Extra lowering load'), unit: '%' },
  rest_s: { min: 0, max: 600, integer: true, label: t('Rest'), unit: 's' },
  force_drop_pct: { min: 5, max: 50, label: t('Force drop'), unit: '%' },
  assessed_max_n: { min: 1, max: 10000, label: t('Assessed max'), unit: 'N' },
  progression_amount: { min: 0.1, max: 1000, label: t('Amount') },
  rep_min: { min: 1, max: 100, integer: true, label: t('Bottom of the rep range') },
  rep_max: { min: 1, max: 100, integer: true, label: t('Top of the rep range') },
  block_weeks: { min: 1, max: 52, integer: true, label: t('Block'), unit: t('weeks') },
  sessions_per_week: { min: 1, max: 14, integer: true, label: t('Sessions per week') },
  member_number: { min: 1, max: 99999999999, integer: true, label: t('Member number') },
  span_kg: { min: 1, max: 200, label: t('Known weight'), unit: 'kg' },
});

export function rule(name, override = {}) {
  return numberRule({ ...LIMITS[name], ...override });
}

// The tempo grammar, the same as soleus::common::parse_tempo (docs/api.md,
// "Tempo"): "E-B-C-T", four numbers separated by "-", each one or two digits,
// optionally "." and one to three digits, each at most 60 s. Checked in this
// order, the first failure naming the error: character, count, number,
// digits, range. tests/common/tempo_cases.json holds the cases both the C++
// and this file's test (tests/web/test_validate.mjs) run.
export const TEMPO_MAX_PHASE_S = 60;

let TEMPO_MESSAGES;
const tempoMessages = () => ({
  character: t('Digits, "." and "-" only'),
  count: t('Four numbers: lower-pause-raise-hold'),
  empty: t('Each part needs a number'),
  dots: t('One decimal point per number'),
  dot: t('Digits on both sides of "."'),
  digits: t('At most 2 digits before "." and 3 after'),
  range: t('Each phase at most {max} s', { max: TEMPO_MAX_PHASE_S }),
});

// One number's problem: [error class, message key] or null. `typing`: the
// number may still grow (the last one while typed), so only what more keys
// cannot mend is a problem.
function tempoNumberProblem(p, typing = false) {
  const dots = (p.match(/\./g) || []).length;
  if (!typing) {
    if (p === '') return ['number', 'empty'];
    if (dots > 1) return ['number', 'dots'];
    if (p.startsWith('.') || p.endsWith('.')) return ['number', 'dot'];
  } else if (dots > 1 || p.startsWith('.')) {
    return ['number', dots > 1 ? 'dots' : 'dot'];
  }
  const [whole, frac = ''] = p.split('.');
  if (whole.length > 2 || frac.length > 3) return ['digits', 'digits'];
  if (Number(p === '' ? 0 : p.replace(/\.$/, '')) > TEMPO_MAX_PHASE_S) return ['range', 'range'];
  return null;
}

/**
 * The grammar's verdict on a whole text: {values: [e, b, c, t]} or
 * {error: 'character'|'count'|'number'|'digits'|'range', message}.
 */
export function tempoCheck(text) {
  const fail = (error, key = error) => ({ error, message: TEMPO_MESSAGES[key] });
  if (!/^[0-9.-]*$/.test(text)) return fail('character');
  const parts = text.split('-');
  if (parts.length !== 4) return fail('count');
  for (const p of parts) {
    const problem = tempoNumberProblem(p);
    if (problem) return fail(...problem);
  }
  return { values: parts.map(Number) };
}

/**
 * The keypad's message for a tempo being typed, null when it is a tempo. Short
 * of four numbers, a number already typed that more keys cannot mend is named
 * first (e.g. "61-"); otherwise the grammar's message.
 */
export function tempoError(text) {
  const r = tempoCheck(text);
  if (!r.error) return null;
  if (r.error === 'count') {
    const parts = text.split('-');
    if (parts.length < 4) {
      for (let i = 0; i < parts.length; i++) {
        const problem = tempoNumberProblem(parts[i], i === parts.length - 1);
        if (problem && problem[1] !== 'empty') return TEMPO_MESSAGES[problem[1]];
      }
    }
  }
  return r.message;
}

export function parseTempo(text) {
  if (!text) return null;
  const r = tempoCheck(String(text));
  if (r.error) return null;
  const [e, b, c, t] = r.values;
  return { eccentric: e, bottom: b, concentric: c, top: t, cycle: e + b + c + t };
}

export let PROGRESSIONS;
const progressions = () => [
  { value: 'none', label: t('None'), unit: '' },
  { value: 'load_pct', label: t('+ load, % of max'), unit: '%' },
  { value: 'load_n', label: t('+ load, N'), unit: 'N' },
  { value: 'reps', label: t('+ reps'), unit: t('reps') },
  { value: 'hold_s', label: t('+ hold time, s'), unit: 's' },
  // Issue 13: a rep range; +1 rep per successful session up to its top, then
  // the load rises by the increment and the target goes back to the bottom.
  { value: 'double', label: t('Double progression'), unit: '' },
];

function rebuild() {
  LIMITS = limits();
  TEMPO_MESSAGES = tempoMessages();
  PROGRESSIONS = progressions();
}
rebuild();
onLanguage(rebuild);

/** The progression rules a step may use (the API's rules, docs/api.md). */
export function progressionsFor(step) {
  const iso = step.mode === 'isometric';
  const pct = step.load_pct !== undefined && step.load_pct !== null;
  return PROGRESSIONS.filter((p) => (p.value !== 'reps' || !iso) && (p.value !== 'hold_s' || iso)
    && (p.value !== 'load_pct' || pct) && (p.value !== 'double' || !iso));
}

export function progressionText(p, step) {
  if (!p || !p.rule || p.rule === 'none') return t('None');
  const amt = p.amount;
  if (p.rule === 'double') {
    const unit = p.increment === 'load_pct' ? '%' : 'N';
    return t('{min}–{max} reps, then +{amount} {unit}{tempo}', {
      min: step ? step.rep_min : '?', max: step ? step.rep_max : '?', amount: amt, unit,
      tempo: p.on_tempo ? t(', on tempo') : '',
    });
  }
  if (p.rule === 'load_pct') return t('+{amount} % load when all sets are completed', { amount: amt });
  if (p.rule === 'load_n') return t('+{amount} N load when all sets are completed', { amount: amt });
  if (p.rule === 'reps') return t('+{amount} reps when all sets are completed', { amount: amt });
  if (p.rule === 'hold_s') return t('+{amount} s hold when all sets are completed', { amount: amt });
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
    if (v === undefined || v === null || v === '') { errs.push({ field: name, message: t('{label} is missing', { label: LIMITS[limit].label }) }); return; }
    const m = rule(limit)(String(v));
    if (m) errs.push({ field: name, message: m });
  };
  if (!['isotonic', 'eccentric', 'isometric'].includes(s.mode)) errs.push({ field: 'mode', message: t('Choose a mode') });
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
    if (!progressionsFor(s).some((p) => p.value === s.progression.rule)) errs.push({ field: 'progression', message: t('This progression does not suit the step') });
    else chk('progression', s.progression.amount, 'progression_amount');
    if (s.progression.rule === 'double') {
      chk('rep_range', s.rep_min, 'rep_min');
      chk('rep_range', s.rep_max, 'rep_max');
      if (Number(s.rep_max) < Number(s.rep_min)) errs.push({ field: 'rep_range', message: t('The top of the range is below its bottom') });
      if (s.progression.increment === 'load_pct' && !(s.load_pct !== undefined && s.load_pct !== null)) {
        errs.push({ field: 'progression', message: t('A % increment needs a load in % of max') });
      }
    }
  }
  return errs;
}

/** A step as sent to the API: exactly one of target_reps/hold_s, one of load_n/load_pct. */
export function cleanStep(s) {
  const out = {
    mode: s.mode, sets: Number(s.sets), tempo: s.tempo, rest_s: Number(s.rest_s),
    force_drop_pct: Number(s.force_drop_pct),
    progression: s.progression && s.progression.rule !== 'none'
      ? { rule: s.progression.rule, amount: Number(s.progression.amount), on_tempo: Boolean(s.progression.on_tempo) } : { rule: 'none' },
  };
  if (out.progression.rule === 'double') {
    out.progression.increment = s.progression.increment || 'load_n';
    out.rep_min = Number(s.rep_min);
    out.rep_max = Number(s.rep_max);
    s.target_reps = Number(s.rep_min);  // a new target starts at the bottom of the range
  }
  if (s.mode === 'isometric') out.hold_s = Number(s.hold_s); else out.target_reps = Number(s.target_reps);
  if (s.load_pct !== undefined && s.load_pct !== null) out.load_pct = Number(s.load_pct);
  else out.load_n = Number(s.load_n);
  if (s.mode === 'eccentric') out.eccentric_pct = Number(s.eccentric_pct || 0);
  return out;
}
