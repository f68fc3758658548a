// The HMI's only door to soleusd: the JSON API under /api/v1 and the live
// WebSocket. Every endpoint path the HMI uses is named in this file, so that
// a change in docs/api.md is a change here and nowhere else.
//
// Principle of operation:
//  1. REST calls go through request(): JSON in and out, the bearer token of the
//     signed-in user attached, errors turned into ApiError carrying the
//     contract's {"error": {"field", "message"}} body.
//  2. A 401 on an authenticated call means the token expired: the registered
//     onUnauthorized handler signs the user out.
//  3. Live data comes from one WebSocket. It reconnects by itself with a
//     back-off (0.5 s doubling to 5 s) and tells its listeners whether it is
//     connected, so the screens can grey out stale values.

import { t } from './i18n.js';

const BASE = '/api/v1';

export class ApiError extends Error {
  constructor(status, field, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.field = field || null;
  }
}

let token = null;
let sessionBegun = false;
let onUnauthorized = () => {};

export function setToken(t) { token = t; sessionBegun = false; }
export function getToken() { return token; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

async function request(method, path, body, { auth = true, timeoutMs = 8000, text: asText = false } = {}) {
  const headers = { Accept: asText ? 'text/csv, application/json' : 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  let res;
  try {
    res = await fetch(BASE + path, {
      method, headers, signal: ctl.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, null, t('No answer from the machine'));
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    if (res.status === 401 && auth && token) onUnauthorized();
    throw new ApiError(res.status, err.field, err.message || res.statusText);
  }
  return asText ? text : data;
}

function notAvailable(e) {
  if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
  throw e;
}

// Lists may come bare or wrapped ({items: [...], total}); accept both.
// total is null when the server does not know it.
function list(data, key) {
  if (Array.isArray(data)) return { items: data, total: data.length };
  const items = (data && (data[key] || data.items)) || [];
  return { items, total: data && Number.isFinite(data.total) ? data.total : null, next_before: data && data.next_before };
}

// The programme-session card's shape is the daemon's (docs/api.md), and its
// runner is still growing: read it defensively into what the screens use:
// programme {id, name}, step_no, steps, set_no (1-based), sets, step (with
// load_n resolved), state (ready | running | rest | done), rest_remaining_s.
// `programme` may be the name (a string) or an object; `set`/`sets` may sit on
// the card or in its step. A rest is shown whenever rest_remaining_s > 0.
const SESSION_STATES = {
  ready: 'ready', idle: 'ready', new: 'ready', open: 'ready', started: 'ready', not_started: 'ready', next: 'ready',
  running: 'running', active: 'running', in_set: 'running', set_running: 'running',
  rest: 'rest', resting: 'rest',
  done: 'done', complete: 'done', completed: 'done', finished: 'done', ended: 'done',
};

const num = (v) => ((typeof v === 'number' || (typeof v === 'string' && v !== '')) && Number.isFinite(Number(v)) ? Number(v) : null);

export function normalizeSession(s) {
  if (!s || typeof s !== 'object') return null;
  const step = s.step && typeof s.step === 'object' ? s.step : null;
  const pid = s.programme && typeof s.programme === 'object' ? s.programme.id : s.programme_id;
  let programme = null;
  if (s.programme && typeof s.programme === 'object') {
    programme = { ...s.programme, name: s.programme.name || s.programme_name || t('Your programme') };
  } else if (typeof s.programme === 'string' || (pid !== undefined && pid !== null)) {
    programme = { id: pid ?? null, name: (typeof s.programme === 'string' && s.programme) || s.programme_name || t('Your programme') };
  }
  const rest = Math.max(0, num(s.rest_remaining_s) ?? num(step && step.rest_remaining_s) ?? 0);
  let state = SESSION_STATES[String(s.state || '').toLowerCase()] || null;
  if (s.done === true) state = 'done';
  if (!state) state = rest > 0 ? 'rest' : 'ready';
  if (rest > 0 && state !== 'done' && state !== 'running') state = 'rest';
  const stepIndex = num(s.step_index) ?? num(step && step.index);
  return {
    ...s,
    programme,
    step,
    step_no: num(s.step_no) ?? (stepIndex !== null ? stepIndex + 1 : 1),
    steps: num(s.steps) ?? num(s.step_count) ?? num(step && (step.count ?? step.steps)) ?? null,
    set_no: num(s.set_no) ?? num(s.set) ?? num(step && (step.set ?? step.set_no)) ?? 1,
    sets: num(s.sets) ?? num(step && step.sets) ?? null,
    state,
    rest_remaining_s: rest,
  };
}

// A history entry either has totals (sets, reps, load_n, tut_s) or, as the
// daemon sends it, a list of its sets: sum them up.
function normalizeHistory(e) {
  const out = { ...e, date: e.date ?? e.date_ms ?? e.started_at ?? e.started_ms };
  if (Array.isArray(e.sets)) {
    out.set_list = e.sets; // the sets themselves (the History's session view)
    out.sets = e.sets.length;
    out.reps = e.sets.reduce((a, x) => a + (Number(x.reps) || 0), 0);
    out.tut_s = e.sets.reduce((a, x) => a + (Number(x.tut_s) || 0), 0);
    // The heaviest load of the moving sets (an isometric set's load is a force limit).
    const moving = e.sets.filter((x) => x.mode !== 'isometric');
    out.load_n = (moving.length ? moving : e.sets).reduce((a, x) => Math.max(a, Number(x.load_n) || 0), 0) || null;
  }
  if (out.programme === undefined) out.programme = e.programme_name ?? (e.programme_id ? t('Programme') : null);
  return out;
}

export const api = {
  // --- session ---------------------------------------------------------
  login: (body) => request('POST', '/login', body, { auth: false }),
  logout: () => request('POST', '/logout', {}).catch(() => null),

  // --- machine and sets --------------------------------------------------
  status: () => request('GET', '/status', undefined, { auth: false }),
  startSet: (params) => request('POST', '/sets', params),
  getSet: (id) => request('GET', `/sets/${encodeURIComponent(id)}`),
  // No token: the STOP on the machine's own screen always works.
  stop: () => request('POST', '/sets/current/stop', {}, { auth: false, timeoutMs: 3000 }),
  // The pain button ends the set like STOP with the reason "pain".
  pain: () => request('POST', '/sets/current/stop', { reason: 'pain' }, { auth: false, timeoutMs: 3000 }),

  // --- programme session of the signed-in member (the daemon's runner) -----
  // 404: no programme is assigned to this member (the daemon's answer), not an error.
  session: () => request('GET', '/session').then(normalizeSession).catch((e) => {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }),
  // Start (or resume) today's session once, then each press of Start is
  // POST /session/next, which starts the next set and answers {"id"}.
  sessionStart: async () => {
    if (!sessionBegun) {
      await request('POST', '/session/start', {}).catch((e) => {
        if (e.status !== 409) throw e; // 409: already begun
      });
      sessionBegun = true;
    }
    return request('POST', '/session/next', {});
  },
  sessionEnd: () => request('POST', '/session/end', {}),
  // --- strength assessment of the signed-in member (docs/assessment.md) ----
  assessment: () => request('GET', '/assessment'),
  assessmentStart: () => request('POST', '/assessment/start', {}),
  assessmentNext: () => request('POST', '/assessment/next', {}),
  assessmentRetry: () => request('POST', '/assessment/retry', {}),
  assessmentEnd: () => request('POST', '/assessment/end', {}),
  assessments: (memberId) => request('GET', `/members/${encodeURIComponent(memberId)}/assessments`),
  assignAssessment: (memberId, assigned) =>
    request('PUT', `/members/${encodeURIComponent(memberId)}/assessment`, { assigned }),
  history: (memberId, limit = 10) =>
    request('GET', `/members/${encodeURIComponent(memberId)}/history?limit=${limit}`)
      .then((d) => { const r = list(d, 'sessions'); r.items = r.items.map(normalizeHistory); return r; }),

  // The member's schedule (issue 13 §2): next due, this week, block week, adherence.
  schedule: (memberId) => request('GET', `/members/${encodeURIComponent(memberId)}/schedule`),
  // --- progress (issue 13 §3) ------------------------------------------------
  trace: (setId) => request('GET', `/sets/${encodeURIComponent(setId)}/trace`, undefined, { timeoutMs: 15000 }),
  // Another part of issue 13 serves these two; until then they answer 404.
  assessments: (memberId) => request('GET', `/members/${encodeURIComponent(memberId)}/assessments`),
  memberEvents: (memberId) => request('GET', `/members/${encodeURIComponent(memberId)}/events`),
  member: (id) => request('GET', `/members/${encodeURIComponent(id)}`),

  // --- staff ---------------------------------------------------------------
  programmes: () => request('GET', '/programmes').then((d) => list(d, 'programmes')),
  programme: (id) => request('GET', `/programmes/${encodeURIComponent(id)}`),
  createProgramme: (p) => request('POST', '/programmes', p),
  updateProgramme: (id, p) => request('PUT', `/programmes/${encodeURIComponent(id)}`, p),
  deleteProgramme: (id) => request('DELETE', `/programmes/${encodeURIComponent(id)}`),
  members: () => request('GET', '/members').then((d) => list(d, 'members')),
  createMember: (m) => request('POST', '/members', m),
  updateMember: (id, m) => request('PUT', `/members/${encodeURIComponent(id)}`, m),
  assignProgramme: (id, programmeId) =>
    request('PUT', `/members/${encodeURIComponent(id)}/programme`, { programme_id: programmeId }),
  member: (id) => request('GET', `/members/${encodeURIComponent(id)}`),
  // Issue 13's shared contracts (other branches): 404 until they exist = "not available".
  assessments: (id) => request('GET', `/members/${encodeURIComponent(id)}/assessments`).catch(notAvailable),
  schedule: (id) => request('GET', `/members/${encodeURIComponent(id)}/schedule`).catch(notAvailable),
  rawHistory: (id, limit = 100) => request('GET', `/members/${encodeURIComponent(id)}/history?limit=${limit}`),

  // --- named staff accounts, the audit trail, the CSV export (issue 13) -----
  staffNames: () => request('GET', '/login/staff', undefined, { auth: false }),
  staffAccounts: () => request('GET', '/staff'),
  createStaff: (s) => request('POST', '/staff', s),
  updateStaff: (id, s) => request('PUT', `/staff/${encodeURIComponent(id)}`, s),
  audit: ({ memberId, actorId, before, limit = 20 } = {}) => {
    const q = new URLSearchParams();
    if (memberId) q.set('member_id', String(memberId));
    if (actorId) q.set('actor_id', String(actorId));
    if (before) q.set('before', String(before));
    q.set('limit', String(limit));
    return request('GET', `/audit?${q}`);
  },
  // The CSV as text (RFC 4180, formula-guarded by the server).
  exportCsv: (id, { from, to } = {}) => {
    const q = new URLSearchParams();
    if (from) q.set('from', String(from));
    if (to) q.set('to', String(to));
    const qs = q.toString();
    return request('GET', `/members/${encodeURIComponent(id)}/export.csv${qs ? '?' + qs : ''}`, undefined, { text: true, timeoutMs: 20000 });
  },

  // --- maintenance ---------------------------------------------------------
  events: ({ since, severity, code, offset = 0, limit = 20 } = {}) => {
    const q = new URLSearchParams();
    if (since) q.set('since', since);
    if (severity) q.set('severity', severity);
    if (code) q.set('code', code);
    q.set('offset', String(offset));
    q.set('limit', String(limit));
    return request('GET', `/events?${q}`).then((d) => {
      const r = list(d, 'events');
      // The event's time may be called time, ts or t (ISO text or epoch).
      r.items = r.items.map((e) => ({ ...e, time: e.time ?? e.ts ?? e.t }));
      return r;
    });
  },
  diagnostics: () => request('GET', '/diagnostics'),
  tare: () => request('POST', '/maintenance/tare', {}),
  span: (knownN) => request('POST', '/maintenance/span', { known_n: knownN }),
  rangeCheck: () => request('POST', '/maintenance/range-check', {}, { timeoutMs: 60000 }),
  faultReset: () => request('POST', '/maintenance/fault-reset', {}),
};

// --- live WebSocket ----------------------------------------------------------
export class Live {
  constructor() {
    this.listeners = new Set();
    this.connListeners = new Set();
    this.last = null;
    this.connected = false;
    this.backoff = 500;
    this.ws = null;
    this.closed = false;
  }

  start() {
    this.closed = false;
    this.open();
  }

  open() {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${proto}//${location.host}${BASE}/live`);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      this.backoff = 500;
      this.setConnected(true);
    };
    ws.onmessage = (ev) => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      this.last = msg;
      for (const fn of this.listeners) {
        try { fn(msg); } catch (e) { console.error(e); }
      }
    };
    ws.onclose = () => {
      this.ws = null;
      this.setConnected(false);
      this.retry();
    };
    ws.onerror = () => { try { ws.close(); } catch { /* closing anyway */ } };
  }

  retry() {
    if (this.closed) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 5000);
    setTimeout(() => this.open(), wait);
  }

  setConnected(c) {
    if (c === this.connected) return;
    this.connected = c;
    for (const fn of this.connListeners) fn(c);
  }

  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  onConnection(fn) { this.connListeners.add(fn); return () => this.connListeners.delete(fn); }
}

export const live = new Live();
