#!/usr/bin/env node
// A mock of soleusd's HTTP/WebSocket API (issue 5's contract) for developing
// the HMI and for the browser tests, until the real daemon serves them.
//
// Usage: node mock-server.mjs [--port 8080] [--root DIR] [--speed 1]
//   --root   the built HMI (hmi/web/build.sh OUT_DIR); default: hmi/web itself
//            with /vendor mapped to hmi/web/node_modules/uplot/dist
//   --speed  simulated time runs this many times faster than the wall clock
// Prints "mock soleusd listening on http://127.0.0.1:PORT" once ready.
//
// Principle of operation:
//  1. One simulated machine steps every 40 ms of wall time (dt × speed of
//     simulated time): a set goes ready → calibrating (one slow uncounted rep)
//     → active (reps paced by the tempo E-B-C-T) → unloading → rest.
//  2. The virtual athlete pushes a little more than the load; after
//     `fatigue_after` reps its mean concentric force falls by `drop_per_rep`
//     per rep, so the force-drop rule (100 − force_drop_pct) % of the best rep
//     ends the set unless the target is reached first.
//  3. Every live message goes to every WebSocket client at 25 Hz.
//  4. Test hooks under /mock/ (no token): inject a fault, shape the athlete.
//     They are not part of the contract and the real daemon has none.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
function arg(name, def) {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
}
const PORT = Number(arg('port', process.env.PORT || 8080));
const ROOT = path.resolve(arg('root', process.env.SOLEUS_HMI_DIR || path.join(here, '../../hmi/web')));
const SPEED = Number(arg('speed', process.env.MOCK_SPEED || 1));
const STAFF_PIN = process.env.SOLEUS_STAFF_PIN || '1111';
const MAINT_PIN = process.env.SOLEUS_MAINT_PIN || '2222';
const GUEST_CAP_N = 600;
const MAX_LOAD_N = 1800;

// ---------------------------------------------------------------- data
const now = () => Date.now();
const iso = (t = now()) => new Date(t).toISOString();

const db = {
  members: [
    { id: 1, number: '1001', name: 'ANNA MEIER', pin: null, programme_id: 1, assessed_max_n: 1200 },
    { id: 2, number: '1002', name: 'BEN KOCH', pin: '4321', programme_id: null, assessed_max_n: null },
    { id: 3, number: 'A1B2C3D4', name: 'CARLA (WRISTBAND)', pin: null, programme_id: 1, assessed_max_n: 900, tag: true },
  ],
  programmes: [
    {
      id: 1, name: 'ACHILLES REHAB',
      steps: [
        { mode: 'isotonic', sets: 2, target_reps: 6, load_pct: 40, tempo: '2-1-2-1', rest_s: 20, force_drop_pct: 20, progression: { rule: 'load_pct', amount: 5 } },
        { mode: 'isometric', sets: 1, hold_s: 20, load_n: 500, tempo: '0-0-0-0', rest_s: 30, force_drop_pct: 20, progression: { rule: 'none' } },
      ],
    },
  ],
  sets: new Map(),
  events: [],
  history: new Map([[1, [
    { session_id: 3, date_ms: now() - 2 * 86400e3, programme_id: 1, sets: [
      { set_id: 31, mode: 'isotonic', load_n: 470, reps: 12, tut_s: 72, stop_reason: 'target_reached' },
      { set_id: 32, mode: 'isotonic', load_n: 470, reps: 11, tut_s: 66, stop_reason: 'force_drop' },
      { set_id: 33, mode: 'isometric', load_n: 500, reps: 0, tut_s: 30, stop_reason: 'hold_complete' }] },
    { session_id: 2, date_ms: now() - 5 * 86400e3, programme_id: 1, sets: [
      { set_id: 21, mode: 'isotonic', load_n: 450, reps: 12, tut_s: 72, stop_reason: 'target_reached' },
      { set_id: 22, mode: 'isotonic', load_n: 450, reps: 9, tut_s: 54, stop_reason: 'range_loss' }] },
    { session_id: 1, date_ms: now() - 9 * 86400e3, programme_id: null, sets: [
      { set_id: 11, mode: 'isotonic', load_n: 400, reps: 12, tut_s: 96, stop_reason: 'target_reached' }] },
  ]]]),
  sessions: new Map(), // member id → programme session
  tokens: new Map(),
  failures: new Map(), // account → {count, until}
};
let nextId = { set: 1, event: 1, programme: 2, member: 4, session: 100 };

const athlete = { fatigue_after: 5, drop_per_rep: 0.09, strength: 1.12, rest_after_rep: 0, rest_s: 0 };
// The daemon's training.rest_limit_s default (docs/controller.md): the countdown of a mid-set rest.
const REST_LIMIT_S = 10;

function event(severity, code, message, extra = {}) {
  const t = now();
  const e = { id: nextId.event++, t_ms: t, time: iso(t), severity, code, message, set_id: null, ...extra };
  db.events.push(e);
  if (db.events.length > 5000) db.events.shift();
  return e;
}
// Seed a history of events for paging.
{
  const t0 = now() - 3 * 3600e3;
  const seed = [['info', 'boot', 'soleusd 0.1 started'], ['info', 'armed', 'watchdog 100 ms, torque limit 1800 N read back'],
    ['warning', 'comm_glitch', 'one reply lost (timeout)'], ['info', 'tared', 'offset 132'], ['warning', 'loop_overrun', 'period 23.1 ms'],
    ['info', 'set_started', 'isotonic 450 N'], ['info', 'set_ended', 'target_reached'], ['error', 'stale_load_cell', 'sample counter frozen 62 ms'],
    ['info', 'reset', 'faults cleared']];
  for (let i = 0; i < 24; i++) {
    const [sev, code, msg] = seed[i % seed.length];
    db.events.push({ id: nextId.event++, t_ms: t0 + i * 420e3, time: iso(t0 + i * 420e3), severity: sev, code, message: msg, set_id: null });
  }
}

// ---------------------------------------------------------------- machine
const m = {
  state: 'idle', faults: [], set: null, t: 0, position: 40, velocity: 0, force: 0, load: 0,
  phase: 'none', progress: 0, odometer: { distance_m: 18234.5, reps: 41230, sets: 3911, motor_hours: 512.4 },
};
const RANGE = { bottom: 40, top: 110 };
const T0 = Date.now();
const FAULT_REASON = { sto: 'estop', drive_fault: 'drive_fault', comm_loss: 'comm_loss', stale_load_cell: 'sensor_fault', adc_error: 'sensor_fault', load_cell_overload: 'sensor_fault', implausible_reading: 'sensor_fault', sensor_cross_check: 'sensor_fault', overspeed: 'overspeed', travel_limit: 'travel_limit' };

function parseTempo(t) {
  const p = String(t).split('-').map(Number);
  return { e: p[0], b: p[1], c: p[2], t: p[3] };
}

function startSet(params, memberId) {
  const id = nextId.set++;
  const rec = {
    id, state: 'calibrating', mode: params.mode, load_n: params.load_n, tempo: params.tempo,
    target_reps: params.target_reps ?? null, hold_s: params.hold_s ?? null, force_drop_pct: params.force_drop_pct ?? 20,
    eccentric_pct: params.eccentric_pct ?? 0, member_id: memberId ?? null,
    reps: 0, partial_reps: 0, tut_s: 0, stop_reason: null, rep_log: [], started_at: iso(), ended_at: null,
  };
  db.sets.set(id, rec);
  m.set = { rec, tp: parseTempo(params.tempo), stage: 'ready', stageT: 0, repT: 0, phaseIdx: 0, best: 0, curForce: [], repTut: 0, attempt: 0, stopAsked: null };
  m.state = 'ready';
  m.load = 0;
  event('info', 'set_started', `${params.mode} ${params.load_n} N tempo ${params.tempo}`, { set_id: id });
  return rec;
}

function endSet(reason) {
  const s = m.set;
  if (!s || s.stage === 'unloading') return false;
  s.rec.stop_reason = reason;
  s.stage = 'unloading';
  s.stageT = 0;
  m.state = 'unloading';
  m.phase = 'none';
  event(reason === 'target_reached' || reason === 'hold_complete' ? 'info' : 'warning', 'set_ended', reason, { set_id: s.rec.id });
  return true;
}

function repForce(n) {
  // The athlete's mean concentric force for counted rep n, × load.
  const f = n <= athlete.fatigue_after ? athlete.strength : athlete.strength * (1 - athlete.drop_per_rep * (n - athlete.fatigue_after));
  return Math.max(0.3, f);
}

function step(dt) {
  m.t += dt;
  const s = m.set;
  if (!s) {
    m.force = 2 + Math.random();
    m.velocity = 0;
    return;
  }
  const rec = s.rec;
  s.stageT += dt;
  const phases = [['concentric', s.tp.c], ['top', s.tp.t], ['eccentric', s.tp.e], ['bottom', s.tp.b]];
  const cal = [['concentric', 2.5], ['top', 0.3], ['eccentric', 2.5], ['bottom', 0.3]];
  const ramp = Math.min(1, s.stageT / 0.5);

  if (s.stage === 'ready') {
    m.load = rec.load_n * 0.2 * ramp;
    m.force = m.load + 5;
    if (s.stageT >= 0.5) { s.stage = 'calibrating'; s.stageT = 0; s.phaseIdx = 0; s.repT = 0; m.state = 'calibrating'; }
    return;
  }
  if (s.stage === 'unloading') {
    m.load = Math.max(0, m.load - (rec.load_n / 0.6) * dt);
    m.force = m.load;
    m.position += (RANGE.bottom - m.position) * Math.min(1, dt * 4);
    if (s.stageT >= 0.6) {
      rec.state = 'done';
      rec.ended_at = iso();
      m.odometer.sets += 1;
      m.set = null;
      m.load = 0;
      m.state = m.faults.some((f) => f.latched) ? (m.faults.some((f) => f.code === 'sto') ? 'estop' : 'fault') : 'rest';
      event('info', 'unloaded', `set ${rec.id}`, { set_id: rec.id });
      onSetDone(rec);
    }
    return;
  }
  if (s.stage === 'hold') {
    m.phase = 'hold';
    m.progress = Math.min(1, s.stageT / rec.hold_s);
    m.load = rec.load_n;
    m.force = rec.load_n * (0.8 + 0.05 * Math.sin(m.t * 3)) ;
    m.velocity = 0;
    rec.tut_s = s.stageT;
    if (s.stageT >= rec.hold_s) { rec.tut_s = rec.hold_s; endSet('hold_complete'); }
    return;
  }
  // a mid-set rest at the bottom: the live message counts down rest_remaining_s
  if (s.restLeft > 0) {
    s.restLeft -= dt;
    s.restShown = Math.max(0, s.restShown - dt);
    m.phase = 'bottom'; m.progress = 1; m.position = RANGE.bottom; m.velocity = 0; m.force = m.load;
    if (s.restLeft <= 0) s.restShown = null;
    return;
  }
  // calibrating or active: walk the rep's phases
  const calib = s.stage === 'calibrating';
  const seq = calib ? cal : phases;
  s.repT += dt;
  while (seq[s.phaseIdx][1] <= s.repT && s.phaseIdx < 4) {
    s.repT -= seq[s.phaseIdx][1];
    s.phaseIdx += 1;
    if (s.phaseIdx === 4) break;
  }
  if (s.phaseIdx >= 4) {
    // a rep is complete
    if (calib) {
      event('info', 'calibrated', `range ${RANGE.bottom}–${RANGE.top} mm`, { set_id: rec.id });
      if (rec.mode === 'isometric') { s.stage = 'hold'; s.stageT = 0; m.state = 'active'; return; }
      s.stage = 'active'; m.state = 'active';
    } else {
      const n = rec.reps + 1;
      const mean = rec.load_n * repForce(n);
      const cyc = s.tp.c + s.tp.t + s.tp.e + s.tp.b;
      rec.reps = n;
      rec.tut_s = Math.round(n * cyc * 100) / 100;
      m.odometer.reps += 1;
      m.odometer.distance_m += 2 * (RANGE.top - RANGE.bottom) / 1000;
      rec.rep_log.push({
        n, peak_force_n: Math.round(mean * 1.08), mean_force_n: Math.round(mean), concentric_s: s.tp.c, top_pause_s: s.tp.t,
        eccentric_s: s.tp.e, bottom_pause_s: s.tp.b, rom_mm: RANGE.top - RANGE.bottom, rom_pct: 100,
        mean_velocity_mm_s: Math.round((RANGE.top - RANGE.bottom) / Math.max(0.1, s.tp.c)), smoothness: 0.97, on_tempo: true, tempo_deviation_s: 0.05,
      });
      s.best = Math.max(s.best, mean);
      if (rec.target_reps && n >= rec.target_reps) { endSet('target_reached'); return; }
      if (mean < s.best * (1 - rec.force_drop_pct / 100)) { endSet('force_drop'); return; }
      if (athlete.rest_after_rep === n && athlete.rest_s > 0) { s.restLeft = athlete.rest_s; s.restShown = REST_LIMIT_S; }
    }
    s.phaseIdx = 0;
  }
  const [ph, len] = seq[s.phaseIdx];
  m.phase = ph;
  m.progress = len > 0 ? Math.min(1, s.repT / len) : 1;
  const x = m.progress;
  const span = RANGE.top - RANGE.bottom;
  const prevPos = m.position;
  if (ph === 'concentric') m.position = RANGE.bottom + span * (1 - Math.cos(Math.PI * x)) / 2;
  else if (ph === 'top') m.position = RANGE.top;
  else if (ph === 'eccentric') m.position = RANGE.top - span * (1 - Math.cos(Math.PI * x)) / 2;
  else m.position = RANGE.bottom;
  m.velocity = (m.position - prevPos) / dt;
  const load = calib ? rec.load_n * 0.2 : rec.load_n * (ph === 'eccentric' && rec.mode === 'eccentric' ? 1 + rec.eccentric_pct / 100 : 1);
  m.load = load;
  const f = calib ? 1.05 : repForce(rec.reps + 1);
  if (ph === 'concentric') m.force = load * (f + 0.25 * Math.sin(Math.PI * x) - 0.1);
  else if (ph === 'eccentric') m.force = load * (0.95 - 0.05 * Math.sin(Math.PI * x));
  else m.force = load * 1.0;
  m.force += (Math.random() - 0.5) * 6;
  m.odometer.motor_hours += dt / 3600;
}

function liveMessage() {
  const rec = m.set && m.set.rec;
  let tut = rec ? rec.tut_s : 0;
  if (rec && m.set.stage === 'active') {
    const s = m.set;
    const seqLen = [s.tp.c, s.tp.t, s.tp.e, s.tp.b];
    let inRep = s.repT;
    for (let i = 0; i < s.phaseIdx; i++) inRep += seqLen[i];
    tut = rec.tut_s + inRep;
  }
  return {
    t_ms: Math.round(T0 + m.t * 1000), // simulated time (runs `speed` times faster)
    force_n: round1(m.force), position_mm: round1(m.position), velocity_mm_s: round1(m.velocity),
    load_n: round1(m.load), state: m.state, phase: m.set ? m.phase : 'none', phase_progress: Math.round(m.progress * 1000) / 1000,
    reps: rec ? rec.reps : 0, tut_s: Math.round(tut * 10) / 10,
    faults: m.faults.map(({ code, message, since }) => ({ code, message, since })),
    set_id: rec ? rec.id : null,
    range_bottom_mm: rec && m.set.stage !== 'calibrating' && m.set.stage !== 'ready' ? RANGE.bottom : null,
    range_top_mm: rec && m.set.stage !== 'calibrating' && m.set.stage !== 'ready' ? RANGE.top : null,
    rest_remaining_s: rec && m.set.restShown != null && m.set.stage === 'active' ? round1(m.set.restShown) : null,
  };
}
function round1(v) { return Math.round(v * 10) / 10; }

// ---------------------------------------------------------------- programme sessions
function memberProgramme(member) {
  return db.programmes.find((p) => p.id === member.programme_id) || null;
}

function resolveStep(member, st) {
  const out = { ...st };
  if (st.load_pct !== undefined && st.load_pct !== null) {
    out.load_n = Math.round(((member.assessed_max_n || 1000) * st.load_pct) / 100);
  }
  return out;
}

function sessionOf(member) {
  const prog = memberProgramme(member);
  if (!prog) return null;
  let s = db.sessions.get(member.id);
  if (!s || s.programme_id !== prog.id) {
    s = { programme_id: prog.id, step_idx: 0, set_no: 1, state: 'ready', rest_until: 0, reps: 0, tut: 0, sets: 0, load: 0, current_set: null, entries: [] };
    db.sessions.set(member.id, s);
  }
  return s;
}

function sessionView(member) {
  const prog = memberProgramme(member);
  const s = sessionOf(member);
  if (!prog || !s) return { programme_id: null, step: null, rest_remaining_s: 0 };
  const st = prog.steps[Math.min(s.step_idx, prog.steps.length - 1)];
  const restLeft = s.state === 'rest' ? Math.max(0, (s.rest_until - now()) / 1000) : 0;
  // docs/api.md's card: programme_id, step {index, …, sets, set}, rest_remaining_s;
  // programme_name, steps and done are proposed additions the HMI uses when present.
  return {
    programme_id: prog.id, programme_name: prog.name, steps: prog.steps.length, done: s.state === 'done',
    step: { index: Math.min(s.step_idx, prog.steps.length - 1), ...resolveStep(member, st), set: s.set_no },
    rest_remaining_s: Math.round(restLeft * 10) / 10,
  };
}

function onSetDone(rec) {
  if (!rec.member_id) return;
  const member = db.members.find((x) => x.id === rec.member_id);
  if (!member) return;
  const s = db.sessions.get(member.id);
  const hist = db.history.get(member.id) || [];
  db.history.set(member.id, hist);
  const entry = { set_id: rec.id, mode: rec.mode, load_n: rec.load_n, reps: rec.reps, tut_s: rec.tut_s, stop_reason: rec.stop_reason };
  if (!s || s.current_set !== rec.id) {
    hist.unshift({ session_id: nextId.session++, date_ms: now(), programme_id: null, sets: [entry] });
    return;
  }
  s.entries.push(entry);
  const prog = memberProgramme(member);
  s.current_set = null;
  s.reps += rec.reps; s.tut += rec.tut_s; s.sets += 1; s.load = Math.max(s.load, rec.load_n);
  const st = prog.steps[s.step_idx];
  s.set_no += 1;
  if (s.set_no > st.sets) { s.step_idx += 1; s.set_no = 1; }
  if (s.step_idx >= prog.steps.length) {
    s.state = 'done';
    hist.unshift({ session_id: nextId.session++, date_ms: now(), programme_id: prog.id, sets: s.entries });
  } else {
    s.state = 'rest';
    s.rest_until = now() + (st.rest_s * 1000) / SPEED;
  }
}

function publicMember(x) {
  return { id: x.id, number: x.number, name: x.name, programme_id: x.programme_id, assessed_max_n: x.assessed_max_n, has_pin: Boolean(x.pin) };
}

// ---------------------------------------------------------------- validation
class HttpError extends Error {
  constructor(status, field, message) { super(message); this.status = status; this.field = field; }
}
const bad = (status, field, message) => { throw new HttpError(status, field, message); };

function num(body, field, min, max, { integer = false, required = true } = {}) {
  const v = body[field];
  if (v === undefined || v === null) { if (required) bad(400, field, `${field} is required`); return undefined; }
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(400, field, `${field} must be a number`);
  if (integer && !Number.isInteger(v)) bad(422, field, `${field} must be a whole number`);
  if (v < min || v > max) bad(422, field, `${field} must be ${min}–${max}`);
  return v;
}

function tempoOk(t) {
  if (typeof t !== 'string') return false;
  const p = t.split('-');
  return p.length === 4 && p.every((x) => /^(\d+\.?\d*|\.\d+)$/.test(x) && Number(x) <= 60);
}

function validateSet(b, cap) {
  if (!['isotonic', 'eccentric', 'isometric'].includes(b.mode)) bad(422, 'mode', 'mode must be isotonic, eccentric or isometric');
  num(b, 'load_n', 1, cap);
  if (b.eccentric_pct > 0 && b.mode !== 'eccentric') bad(422, 'eccentric_pct', 'only an eccentric set takes an eccentric extra load');
  if (b.tempo === undefined && b.mode === 'isometric') b.tempo = '0-0-0-0';
  if (!tempoOk(b.tempo)) bad(422, 'tempo', 'tempo must be "E-B-C-T", four numbers of seconds');
  const hasReps = b.target_reps !== undefined; const hasHold = b.hold_s !== undefined;
  if (hasReps === hasHold) bad(422, hasReps ? 'hold_s' : 'target_reps', 'exactly one of target_reps and hold_s');
  if (b.mode === 'isometric' && !hasHold) bad(422, 'hold_s', 'isometric needs hold_s');
  if (hasReps) num(b, 'target_reps', 1, 100, { integer: true });
  if (hasHold) num(b, 'hold_s', 1, 300);
  num(b, 'force_drop_pct', 5, 50, { required: false });
  num(b, 'eccentric_pct', 0, 100, { required: false });
}

function validateStep(st, i) {
  const f = (x) => `steps[${i}].${x}`;
  try {
    if (!['isotonic', 'eccentric', 'isometric'].includes(st.mode)) bad(422, 'mode', 'bad mode');
    num(st, 'sets', 1, 10, { integer: true });
    if (st.mode === 'isometric') num(st, 'hold_s', 1, 300); else num(st, 'target_reps', 1, 100, { integer: true });
    if ((st.load_pct === undefined) === (st.load_n === undefined)) bad(422, 'load_n', 'give exactly one of load_n and load_pct');
    if (st.load_pct !== undefined) num(st, 'load_pct', 1, 150); else num(st, 'load_n', 1, MAX_LOAD_N);
    if (!tempoOk(st.tempo)) bad(422, 'tempo', 'tempo must be "E-B-C-T"');
    num(st, 'rest_s', 0, 600);
    num(st, 'force_drop_pct', 5, 50);
    if (st.eccentric_pct > 0 && st.mode !== 'eccentric') bad(422, 'eccentric_pct', 'only an eccentric set takes an eccentric extra load');
    if (st.mode === 'eccentric') num(st, 'eccentric_pct', 0, 100);
    const p = st.progression || { rule: 'none' };
    if (!['none', 'load_pct', 'load_n', 'reps', 'hold_s'].includes(p.rule)) bad(422, 'progression.rule', 'unknown progression rule');
    if (p.rule !== 'none') num(p, 'amount', 0.1, 1000);
    if (p.rule === 'reps' && st.mode === 'isometric') bad(422, 'progression.rule', 'an isometric step progresses by hold_s');
    if (p.rule === 'hold_s' && st.mode !== 'isometric') bad(422, 'progression.rule', 'only an isometric step progresses by hold_s');
    if (p.rule === 'load_pct' && st.load_pct === undefined) bad(422, 'progression.rule', 'load_pct progression needs load_pct');
  } catch (e) {
    if (e instanceof HttpError) e.field = f(e.field);
    throw e;
  }
}

// ---------------------------------------------------------------- HTTP
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.json': 'application/json' };

function serveStatic(req, res, url) {
  let p = decodeURIComponent(url.pathname);
  if (!p.startsWith('/') || p.includes('..')) { res.writeHead(400); res.end(); return; }
  if (p === '/') p = '/index.html';
  let file = path.join(ROOT, p);
  // Unbuilt hmi/web: serve uPlot from node_modules.
  if (p.startsWith('/vendor/') && !fs.existsSync(file)) file = path.join(ROOT, 'node_modules/uplot/dist', p.slice(8));
  fs.readFile(file, (err, data) => {
    if (err) { sendJson(res, 404, { error: { field: null, message: 'not found' } }); return; }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache', 'Content-Length': data.length });
    res.end(data);
  });
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data), 'Cache-Control': 'no-store' });
  res.end(data);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 64 * 1024) bad(413, null, 'body too large');
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(400, null, 'body must be a JSON object');
    return v;
  } catch (e) {
    if (e instanceof HttpError) throw e;
    bad(400, null, 'malformed JSON');
  }
}

function auth(req, ...roles) {
  const h = req.headers.authorization || '';
  const tok = h.startsWith('Bearer ') ? h.slice(7) : null;
  const t = tok && db.tokens.get(tok);
  if (!t || t.expires < now()) bad(401, null, 'sign in first');
  if (roles.length && !roles.includes(t.role)) bad(403, null, `needs role ${roles.join(' or ')}`);
  return t;
}

function loginFail(account) {
  const f = db.failures.get(account) || { count: 0, until: 0 };
  f.count += 1;
  if (f.count >= 5) { f.until = now() + 5 * 60e3; f.count = 0; }
  db.failures.set(account, f);
}
function checkLock(account) {
  const f = db.failures.get(account);
  if (f && f.until > now()) bad(429, null, 'locked for 5 minutes after 5 wrong PINs');
}

function issue(role, member) {
  const token = crypto.randomBytes(18).toString('base64url');
  const expires = now() + 3600e3;
  db.tokens.set(token, { role, member_id: member ? member.id : null, expires });
  const reply = { token, expires_at: expires, role, member_id: member ? member.id : null };
  if (role === 'member' || role === 'guest') reply.idle_logout_s = 300;
  if (role === 'guest') reply.load_cap_n = GUEST_CAP_N;
  return reply;
}

const routes = [];
const route = (method, re, fn) => routes.push({ method, re, fn });

route('POST', /^\/api\/v1\/login$/, async (req, b) => {
  if (b.member !== undefined) {
    const id = String(b.member);
    const mem = db.members.find((x) => x.number === id);
    const account = `member:${id}`;
    checkLock(account);
    if (!mem) { loginFail(account); bad(401, 'member', 'Member number not known'); }
    if (mem.pin) {
      if (b.pin === undefined) bad(401, 'pin', 'PIN required');
      if (String(b.pin) !== mem.pin) { loginFail(account); bad(401, 'pin', 'Wrong PIN'); }
    }
    return [200, issue('member', mem)];
  }
  if (b.role === 'guest') return [200, issue('guest')];
  if (b.role === 'staff' || b.role === 'maintenance') {
    checkLock(`role:${b.role}`);
    const pin = b.role === 'staff' ? STAFF_PIN : MAINT_PIN;
    if (String(b.pin) !== pin) { loginFail(`role:${b.role}`); bad(401, 'pin', 'Wrong PIN'); }
    return [200, issue(b.role)];
  }
  bad(400, 'role', 'give {member, pin} or {role, pin}');
});
route('POST', /^\/api\/v1\/logout$/, async (req) => {
  const tok = (req.headers.authorization || '').slice(7);
  db.tokens.delete(tok);
  return [200, { ok: true }];
});
route('GET', /^\/api\/v1\/status$/, async () => [200, {
  state: m.state, position_mm: round1(m.position), force_n: round1(m.force), load_n: round1(m.load),
  set_id: m.set ? m.set.rec.id : null,
  faults: m.faults.map(({ code, message, since }) => ({ code, message, since })),
  loop: { hz: 100, p99_ms: 10.4 + Math.random() * 0.3, overruns: 2 },
}]);
route('POST', /^\/api\/v1\/sets$/, async (req, b) => {
  const t = auth(req, 'member', 'guest', 'staff');
  validateSet(b, t.role === 'guest' ? GUEST_CAP_N : MAX_LOAD_N);
  if (m.set || m.state === 'fault' || m.state === 'estop') bad(409, null, m.set ? 'a set is running' : `machine in ${m.state}`);
  const rec = startSet(b, t.role === 'member' ? t.member_id : null);
  return [201, { id: rec.id }];
});
route('POST', /^\/api\/v1\/sets\/current\/stop$/, async (req, b) => {
  const reason = b.reason === 'pain' ? 'pain' : 'user_stop';
  if (reason === 'pain') event('warning', 'stop_requested', 'pain button');
  else event('info', 'stop_requested', 'STOP on the screen');
  return [200, { stopped: endSet(reason) }];
});
route('GET', /^\/api\/v1\/sets\/(\d+)$/, async (req, b, mm) => {
  const rec = db.sets.get(Number(mm[1]));
  if (!rec) bad(404, 'id', 'no such set');
  const { member_id, started_at, ended_at, ...pub } = rec;
  return [200, { ...pub, member_id, started_at, ended_at }];
});
route('GET', /^\/api\/v1\/session$/, async (req) => {
  const t = auth(req, 'member');
  return [200, sessionView(db.members.find((x) => x.id === t.member_id))];
});
route('POST', /^\/api\/v1\/session\/start$/, async (req) => {
  const t = auth(req, 'member');
  const member = db.members.find((x) => x.id === t.member_id);
  if (!memberProgramme(member)) bad(409, null, 'no programme assigned');
  return [200, sessionView(member)];
});
route('POST', /^\/api\/v1\/session\/end$/, async (req) => {
  const t = auth(req, 'member');
  const member = db.members.find((x) => x.id === t.member_id);
  const s = sessionOf(member);
  if (s) s.state = 'done';
  return [200, sessionView(member)];
});
route('POST', /^\/api\/v1\/session\/next$/, async (req) => {
  const t = auth(req, 'member');
  const member = db.members.find((x) => x.id === t.member_id);
  const prog = memberProgramme(member);
  if (!prog) bad(409, null, 'no programme assigned');
  const s = sessionOf(member);
  if (s.state === 'done') bad(409, null, 'programme done for today');
  if (m.set || m.state === 'fault' || m.state === 'estop') bad(409, null, 'machine busy or faulted');
  if (s.state === 'rest' && s.rest_until > now()) bad(409, null, 'resting');
  const st = resolveStep(member, prog.steps[s.step_idx]);
  const params = { mode: st.mode, load_n: st.load_n, tempo: st.tempo, force_drop_pct: st.force_drop_pct, eccentric_pct: st.eccentric_pct };
  if (st.mode === 'isometric') params.hold_s = st.hold_s; else params.target_reps = st.target_reps;
  const rec = startSet(params, member.id);
  s.current_set = rec.id;
  s.state = 'running';
  return [201, { id: rec.id }];
});
route('GET', /^\/api\/v1\/members\/(\d+)\/history$/, async (req, b, mm, url) => {
  const t = auth(req, 'member', 'staff');
  if (t.role === 'member' && t.member_id !== Number(mm[1])) bad(403, null, 'not your history');
  const limit = Number(url.searchParams.get('limit') || 10);
  return [200, (db.history.get(Number(mm[1])) || []).slice(0, limit)];
});
route('GET', /^\/api\/v1\/programmes$/, async (req) => { auth(req, 'staff'); return [200, db.programmes]; });
route('GET', /^\/api\/v1\/programmes\/(\d+)$/, async (req, b, mm) => {
  auth(req, 'staff');
  const p = db.programmes.find((x) => x.id === Number(mm[1]));
  if (!p) bad(404, 'id', 'no such programme');
  return [200, p];
});
function validateProgramme(b) {
  if (typeof b.name !== 'string' || b.name.length < 1 || b.name.length > 64) bad(422, 'name', 'name must be 1–64 characters');
  if (!Array.isArray(b.steps) || b.steps.length < 1 || b.steps.length > 20) bad(422, 'steps', 'a programme has 1 to 20 steps');
  b.steps.forEach(validateStep);
}
route('POST', /^\/api\/v1\/programmes$/, async (req, b) => {
  auth(req, 'staff');
  validateProgramme(b);
  const p = { id: nextId.programme++, name: b.name, steps: b.steps };
  db.programmes.push(p);
  return [201, { id: p.id }];
});
route('PUT', /^\/api\/v1\/programmes\/(\d+)$/, async (req, b, mm) => {
  auth(req, 'staff');
  const p = db.programmes.find((x) => x.id === Number(mm[1]));
  if (!p) bad(404, 'id', 'no such programme');
  validateProgramme(b);
  p.name = b.name; p.steps = b.steps;
  return [200, { id: p.id }];
});
route('DELETE', /^\/api\/v1\/programmes\/(\d+)$/, async (req, b, mm) => {
  auth(req, 'staff');
  const i = db.programmes.findIndex((x) => x.id === Number(mm[1]));
  if (i < 0) bad(404, 'id', 'no such programme');
  db.programmes.splice(i, 1);
  for (const x of db.members) if (x.programme_id === Number(mm[1])) x.programme_id = null;
  return [200, { deleted: true }];
});
route('GET', /^\/api\/v1\/members$/, async (req) => { auth(req, 'staff'); return [200, db.members.map(publicMember)]; });
route('POST', /^\/api\/v1\/members$/, async (req, b) => {
  auth(req, 'staff');
  if (typeof b.number !== 'string' || !/^[0-9A-Za-z]{1,16}$/.test(b.number)) bad(422, 'number', 'member number: 1–16 letters or digits');
  if (db.members.some((x) => x.number === b.number)) bad(409, 'number', 'number taken');
  if (typeof b.name !== 'string' || !b.name.trim()) bad(422, 'name', 'name required');
  const x = { id: nextId.member++, number: b.number, name: b.name, pin: null, programme_id: null, assessed_max_n: null };
  db.members.push(x);
  return [201, { id: x.id }];
});
route('PUT', /^\/api\/v1\/members\/(\d+)$/, async (req, b, mm) => {
  auth(req, 'staff');
  const x = db.members.find((y) => y.id === Number(mm[1]));
  if (!x) bad(404, 'id', 'no such member');
  for (const k of Object.keys(b)) if (!['name', 'number', 'pin', 'assessed_max_n', 'notes'].includes(k)) bad(400, k, 'unknown field');
  if ('assessed_max_n' in b) x.assessed_max_n = b.assessed_max_n === null ? null : num(b, 'assessed_max_n', 1, 10000);
  if ('name' in b) x.name = String(b.name);
  if ('pin' in b) x.pin = b.pin === null ? null : String(b.pin);
  return [200, { ok: true }];
});
route('PUT', /^\/api\/v1\/members\/(\d+)\/programme$/, async (req, b, mm) => {
  auth(req, 'staff');
  const x = db.members.find((y) => y.id === Number(mm[1]));
  if (!x) bad(404, 'id', 'no such member');
  if (!('programme_id' in b)) bad(422, 'programme_id', 'is required (an id, or null to unassign)');
  if (b.programme_id !== null && !db.programmes.some((p) => p.id === b.programme_id)) bad(422, 'programme_id', 'no such programme');
  x.programme_id = b.programme_id;
  db.sessions.delete(x.id);
  return [200, publicMember(x)];
});
route('GET', /^\/api\/v1\/events$/, async (req, b, mm, url) => {
  auth(req, 'maintenance', 'staff');
  const q = url.searchParams;
  let ev = db.events.slice().reverse();
  if (q.get('since')) {
    const v = q.get('since');
    const s = /^\d+$/.test(v) ? Number(v) : new Date(v).getTime();
    if (!Number.isFinite(s)) bad(422, 'since', 'neither Unix ms nor a UTC time');
    ev = ev.filter((e) => e.t_ms >= s);
  }
  const RANK = { info: 0, warning: 1, error: 2 };
  if (q.get('severity')) {
    if (!(q.get('severity') in RANK)) bad(422, 'severity', 'not one of info, warning, error');
    ev = ev.filter((e) => RANK[e.severity] >= RANK[q.get('severity')]); // a minimum
  }
  if (q.get('code')) ev = ev.filter((e) => e.code === q.get('code'));
  const offset = Number(q.get('offset') || 0);
  const limit = Math.min(200, Number(q.get('limit') || 50));
  return [200, { events: ev.slice(offset, offset + limit), total: ev.length, offset, limit }];
});
route('GET', /^\/api\/v1\/(maintenance\/)?diagnostics$/, async (req) => {
  auth(req, 'maintenance');
  const j = () => (Math.random() - 0.5);
  const r3 = (v) => Math.round(v * 1000) / 1000;
  // docs/api.md: the daemon's object, signals as a map of bare numbers.
  return [200, {
    signals: {
      'drive.position_mm': r3(m.position), 'drive.velocity_mm_s': r3(m.velocity), 'drive.torque_nm': r3(m.load * 0.0021 + j() * 0.02),
      'drive.current_a': r3(m.load * 0.004 + 0.3 + j() * 0.05), 'drive.speed_rpm': r3(m.velocity * 6),
      'drive.status_word': m.set ? 0x0637 : 0x0250, 'drive.fault_code': m.faults.some((f) => f.code === 'drive_fault') ? 1 : 0,
      'drive.temperature_c': r3(41 + Math.sin(m.t / 30) * 2 + j() * 0.2), 'drive.bus_voltage_v': r3(326 + j() * 2),
      'drive.sto_ok': m.faults.some((f) => f.code === 'sto') ? 0 : 1,
      'load_cell.force_n': r3(m.force), 'load_cell.raw': Math.round(8388608 + m.force * 120), 'load_cell.sample_counter': Math.round(m.t * 1000) % 65536,
      'controller.load_n': r3(m.load),
    },
    bus: { transactions: 1234567 + Math.round(m.t * 100), timeouts: 3, crc_errors: 1, exceptions: 0, reconnects: 0 },
    loop: { hz: 100, p50_ms: r3(10.0 + j() * 0.05), p99_ms: r3(10.4 + Math.random() * 0.3), max_ms: 12.9, overruns: 2 },
    odometer: { reps: m.odometer.reps, travel_m: Math.round(m.odometer.distance_m * 10) / 10, sets: m.odometer.sets, motor_hours: Math.round(m.odometer.motor_hours * 10) / 10 },
  }];
});
route('POST', /^\/api\/v1\/maintenance\/tare$/, async (req) => {
  auth(req, 'maintenance');
  if (m.set) bad(409, null, 'not during a set');
  event('info', 'tared', 'offset 131');
  return [200, { ok: true, offset: 131 }];
});
route('POST', /^\/api\/v1\/maintenance\/span$/, async (req, b) => {
  auth(req, 'maintenance');
  num(b, 'known_n', 9, 2500);
  if (m.set) bad(409, null, 'not during a set');
  return [200, { ok: true, gain: 0.00833 }];
});
route('POST', /^\/api\/v1\/maintenance\/range-check$/, async (req) => {
  auth(req, 'maintenance');
  if (m.set) bad(409, null, 'not during a set');
  await new Promise((r) => setTimeout(r, 1200));
  return [200, { ok: true, bottom_mm: 2.1, top_mm: 158.7 }];
});
route('POST', /^\/api\/v1\/maintenance\/fault-reset$/, async (req) => {
  auth(req, 'maintenance');
  m.faults = [];
  if (m.state === 'fault' || m.state === 'estop') m.state = 'idle';
  event('info', 'reset', 'faults cleared');
  return [200, { ok: true, state: m.state }];
});

// ---- test hooks (mock only)
route('POST', /^\/mock\/fault$/, async (req, b) => {
  const code = String(b.code || 'comm_loss');
  const e = event(b.severity || 'error', code, b.message || 'injected by the test harness');
  m.faults.push({ code, message: e.message, since: e.t_ms, latched: true });
  if (m.set) endSet(FAULT_REASON[code] || 'sensor_fault');
  else m.state = code === 'sto' ? 'estop' : 'fault';
  return [200, { code, time: e.time, t_ms: e.t_ms, id: e.id }];
});
route('POST', /^\/mock\/athlete$/, async (req, b) => {
  Object.assign(athlete, b);
  return [200, athlete];
});

// Drops every live client and refuses new ones for `ms` (tests the HMI's reconnect).
let liveRefusedUntil = 0;
route('POST', /^\/mock\/drop-live$/, async (req, b) => {
  liveRefusedUntil = Date.now() + (Number(b.ms) || 2000);
  for (const c of wss.clients) c.terminate();
  return [200, { dropped: true }];
});

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://x');
  if (!url.pathname.startsWith('/api/') && !url.pathname.startsWith('/mock/')) { serveStatic(req, res, url); return; }
  for (const r of routes) {
    const mm = r.re.exec(url.pathname);
    if (!mm || r.method !== req.method) continue;
    try {
      const body = req.method === 'GET' ? {} : await readBody(req);
      const [status, reply] = await r.fn(req, body, mm, url);
      sendJson(res, status, reply);
    } catch (e) {
      if (e instanceof HttpError) sendJson(res, e.status, { error: { field: e.field ?? null, message: e.message } });
      else { console.error(e); sendJson(res, 500, { error: { field: null, message: 'internal error' } }); }
    }
    return;
  }
  sendJson(res, 404, { error: { field: null, message: `no route ${req.method} ${url.pathname}` } });
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, sock, head) => {
  if (new URL(req.url, 'http://x').pathname !== '/api/v1/live' || Date.now() < liveRefusedUntil) { sock.destroy(); return; }
  wss.handleUpgrade(req, sock, head, (ws) => wss.emit('connection', ws));
});

const TICK_MS = 40;
setInterval(() => {
  step((TICK_MS / 1000) * SPEED);
  const data = JSON.stringify(liveMessage());
  for (const c of wss.clients) if (c.readyState === 1 && c.bufferedAmount < 65536) c.send(data);
}, TICK_MS);

server.listen(PORT, '127.0.0.1', () => {
  console.log(`mock soleusd listening on http://127.0.0.1:${server.address().port} (root ${ROOT}, speed ${SPEED})`);
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { server.close(); process.exit(0); });
