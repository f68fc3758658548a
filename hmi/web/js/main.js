// The HMI shell: sign-in state, the navigation bar that is the same on every
// screen, the set rail (STOP and PAIN, always in the same place while a set
// runs), the hash router and the machine-state watch.
//
// Principle of operation:
//  1. Screens are modules with mount(root, params, app) returning a cleanup
//     function; the router mounts one at a time into #screen.
//  2. The live WebSocket feeds app.live; every message updates the state chip
//     and shows or hides the set rail. STOP and PAIN post without a token and
//     never wait for anything else.
//  3. GET /api/v1/status is polled (1 s during a set, 3 s otherwise) for the
//     faults list and the running set's id.
//  4. When the set a member started ends, the member is taken to its summary.

import { api, live, setToken, setUnauthorizedHandler, ApiError } from './api.js';
import { h, clear, toast } from './ui.js';
import { loadSettings, STATES } from './format.js';
import { t, onLanguage } from './i18n.js';
import { unlockAudio } from './metronome.js';
import * as login from './screens/login.js';
import * as member from './screens/member.js';
import * as assessment from './screens/assessment.js';
import * as liveView from './screens/live.js';
import * as staff from './screens/staff.js';
import * as progress from './screens/progress.js';
import * as maint from './screens/maint.js';
import * as records from './screens/records.js';

const RUNNING = new Set(['ready', 'calibrating', 'active', 'unloading']);
const IDLE_LOGOUT_MS = 5 * 60 * 1000;

const ROUTES = {
  login: login.mountLogin,
  today: member.mountToday,
  assessment: assessment.mountAssessment,
  quick: member.mountQuick,
  history: progress.mountHistory,
  member: progress.mountMemberPage,
  settings: member.mountSettings,
  live: liveView.mountLive,
  summary: liveView.mountSummary,
  programmes: staff.mountProgrammes,
  programme: staff.mountProgramme,
  members: staff.mountMembers,
  audit: records.mountAudit,
  report: records.mountReport,
  accounts: records.mountAccounts,
  alarms: maint.mountAlarms,
  events: maint.mountEvents,
  diagnostics: maint.mountDiagnostics,
  service: maint.mountService,
};

const TABS = {
  none: [['login', () => t('Sign in')], ['settings', () => t('Settings')]],
  member: [['today', () => t('Today')], ['live', () => t('Live')], ['history', () => t('History')], ['settings', () => t('Settings')]],
  guest: [['quick', () => t('Quick start')], ['live', () => t('Live')], ['settings', () => t('Settings')]],
  staff: [['programmes', () => t('Programmes')], ['members', () => t('Members')], ['audit', () => t('Audit')], ['live', () => t('Live')], ['settings', () => t('Settings')]],
  maintenance: [['alarms', () => t('Alarms')], ['events', () => t('Events')], ['diagnostics', () => t('Diagnostics')], ['service', () => t('Service')], ['accounts', () => t('Accounts')]],
};

const HOME = { none: 'login', member: 'today', guest: 'quick', staff: 'programmes', maintenance: 'alarms' };

export const app = {
  auth: null,          // {token, role, member_id, name, number, expires_at}
  live: null,          // latest live message
  status: null,        // latest GET /status
  set: null,           // the set started from this screen: {id, tempo, mode, load_n, target_reps, hold_s}
  connected: false,
  go,
  signIn,
  signOut,
  home: () => go(HOME[role()]),
  role,
  refreshStatus,
};

function role() { return app.auth ? app.auth.role : 'none'; }

let current = { name: null, cleanup: null };

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return { name: parts[0] || HOME[role()], params: parts.slice(1).map(decodeURIComponent) };
}

export function go(name, ...params) {
  const hash = '#/' + [name, ...params.map(encodeURIComponent)].join('/');
  if (location.hash === hash) route(); else location.hash = hash;
}

function allowed(name) {
  const r = role();
  if (name === 'live' || name === 'summary' || name === 'settings') return true;
  if (name === 'login') return r === 'none';
  if (name === 'programme' || name === 'member' || name === 'report') return r === 'staff';
  if (name === 'accounts') return r === 'staff' || r === 'maintenance';
  // A member's free set (the Today card's "Free set"): the quick screen, not a tab.
  if (name === 'quick') return r === 'member' || r === 'guest';
  if (name === 'assessment') return r === 'member';
  return TABS[r].some(([n]) => n === name);
}

function route() {
  let { name, params } = parseHash();
  if (!ROUTES[name] || !allowed(name)) {
    name = HOME[role()];
    params = [];
    history.replaceState(null, '', '#/' + name);
  }
  if (current.cleanup) { try { current.cleanup(); } catch (e) { console.error(e); } }
  const root = clear(document.getElementById('screen'));
  root.className = `screen screen-${name}`;
  document.getElementById('modals').replaceChildren();
  current = { name, cleanup: null };
  renderNav();
  try {
    current.cleanup = ROUTES[name](root, params, app) || null;
  } catch (e) {
    console.error(e);
    root.append(h('div.panel', h('h2', t('This screen failed')), h('p', String(e.message || e))));
  }
}

// --- navigation bar ----------------------------------------------------------
function renderNav() {
  const nav = clear(document.getElementById('tabs'));
  nav.classList.toggle('many', TABS[role()].length > 4); // staff's five tabs: a smaller font
  const active = current.name === 'programme' ? 'programmes' : current.name === 'member' ? 'members' : current.name === 'summary' ? 'live'
    : current.name === 'accounts' && role() === 'staff' ? 'audit' : current.name;
  for (const [name, label] of TABS[role()]) {
    nav.append(h('button.tab', {
      class: `tab${name === active ? ' on' : ''}`,
      'data-tab': name,
      onclick: () => go(name),
    }, typeof label === 'function' ? label() : label));
  }
  const who = clear(document.getElementById('who'));
  if (app.auth) {
    const label = app.auth.role === 'member' ? (app.auth.name || t('Member {number}', { number: app.auth.number || '' }))
      : app.auth.role === 'guest' ? t('Guest') : app.auth.role === 'staff' ? (app.auth.name || t('Staff')) : t('Service');
    who.append(h('button.btn.signout', { 'data-test': 'signout', onclick: () => signOut() },
      h('span.who-name', label), h('span.so', t('Sign out'))));
  }
}

function renderChip() {
  const chip = document.getElementById('state');
  const msg = app.live;
  const faults = (app.status && app.status.faults) || (msg && msg.faults) || [];
  let state = msg ? msg.state : (app.status && app.status.state);
  let text = STATES[state] || (state ? state : '…');
  let cls = 'chip';
  if (!app.connected) { text = t('No link'); cls += ' stale'; }
  else if (state === 'fault' || state === 'estop') cls += ' alarm';
  else if (faults.length) { cls += ' warn'; text = faults.length > 1 ? t('{state} · {n} faults', { state: text, n: faults.length }) : t('{state} · 1 fault', { state: text }); }
  chip.className = cls;
  chip.textContent = text;
  chip.dataset.state = state || '';
}

// --- set rail: STOP and PAIN ---------------------------------------------------
// The rail's and the bar's fixed words (index.html), in the screen's language.
function shellText() {
  document.getElementById('stop').textContent = t('STOP');
  document.getElementById('pain').textContent = t('PAIN');
  document.getElementById('rail').setAttribute('aria-label', t('Set controls'));
  document.getElementById('home').setAttribute('aria-label', t('Home'));
}
onLanguage(() => { shellText(); renderChip(); });

let railShown = false;
function updateRail() {
  const state = app.live ? app.live.state : app.status && app.status.state;
  const show = RUNNING.has(state);
  if (show !== railShown) {
    railShown = show;
    document.body.classList.toggle('set-running', show);
  }
}

async function pressStop(kind) {
  const btn = document.getElementById(kind === 'pain' ? 'pain' : 'stop');
  btn.classList.add('pressed');
  try {
    const r = kind === 'pain' ? await api.pain() : await api.stop();
    if (r && r.stopped === false && kind !== 'pain') toast(t('No set was running'), 'info');
  } catch (e) {
    // Retry once: STOP must get through.
    try { kind === 'pain' ? await api.pain() : await api.stop(); } catch {
      toast(t('STOP could not reach the controller: use the emergency stop button'), 'alarm', 10000);
    }
  } finally {
    setTimeout(() => btn.classList.remove('pressed'), 300);
  }
}

// --- sign in / out ----------------------------------------------------------------
function signIn(reply, extra) {
  app.auth = { ...extra, ...reply };
  if (reply.member && typeof reply.member === 'object') {
    app.auth.member_id = reply.member.id;
    app.auth.name = reply.member.name;
    app.auth.number = reply.member.number;
  }
  setToken(app.auth.token);
  sessionStorage.setItem('soleus.auth', JSON.stringify(app.auth));
  go(HOME[role()]);
}

function signOut(why) {
  if (app.auth) api.logout();
  app.auth = null;
  app.set = null;
  setToken(null);
  sessionStorage.removeItem('soleus.auth');
  if (why) toast(why, 'info');
  go('login');
}

setUnauthorizedHandler(() => signOut(t('Signed out: the session expired')));

// --- status polling and live feed -----------------------------------------------------
let prevState = null;
async function refreshStatus() {
  try {
    app.status = await api.status();
    if (app.status && app.status.set_id && RUNNING.has(app.status.state)) {
      if (!app.set || app.set.id !== app.status.set_id) app.set = { ...(app.set || {}), id: app.status.set_id, loaded: false };
    }
  } catch (e) {
    if (!(e instanceof ApiError)) console.error(e);
  }
  renderChip();
  if (!app.live) onState(app.status && app.status.state);
  return app.status;
}

function pollLoop() {
  const running = RUNNING.has(app.live ? app.live.state : app.status && app.status.state);
  refreshStatus().finally(() => setTimeout(pollLoop, running ? 1000 : 3000));
}

function onState(state) {
  if (state === prevState) return;
  const was = prevState;
  prevState = state;
  updateRail();
  const r = role();
  if (RUNNING.has(state) && !RUNNING.has(was) && (r === 'member' || r === 'guest')) {
    // The assessment screen shows its own sets (force, countdown): it stays.
    if (current.name !== 'live' && current.name !== 'assessment') go('live');
  }
  if (!RUNNING.has(state) && RUNNING.has(was)) {
    refreshStatus();
    // The assessment screen shows its sets' results itself.
    if (app.set && app.set.id && current.name !== 'assessment' && (r === 'member' || r === 'guest' || current.name === 'live')) {
      const id = app.set.id;
      // The set's record is final once the controller has left 'unloading'.
      setTimeout(() => go('summary', id), 150);
    }
  }
}

live.on((msg) => {
  app.live = msg;
  if (msg.set_id && RUNNING.has(msg.state) && (!app.set || app.set.id !== msg.set_id)) {
    app.set = { ...(app.set || {}), id: msg.set_id, loaded: false };
  }
  onState(msg.state);
  renderChip();
});
live.onConnection((c) => {
  app.connected = c;
  document.body.classList.toggle('no-link', !c);
  renderChip();
});

// --- idle sign-out ---------------------------------------------------------------
let lastTouch = Date.now();
function idleCheck() {
  const running = RUNNING.has(app.live && app.live.state);
  // Every role signs out after the daemon's idle time for it (idle_logout_s;
  // the daemon logs the token out too); 5 minutes if it gave none.
  const idleMs = app.auth && Number(app.auth.idle_logout_s) > 0 ? app.auth.idle_logout_s * 1000 : IDLE_LOGOUT_MS;
  if (app.auth && !running && Date.now() - lastTouch > idleMs) signOut(t('Signed out after {min} min without a touch', { min: Math.round(idleMs / 60000) }));
  setTimeout(idleCheck, 10000);
}

// --- clock ---------------------------------------------------------------------
function tickClock() {
  const d = new Date();
  document.getElementById('clock').textContent =
    `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
  setTimeout(tickClock, 10000 - (Date.now() % 10000));
}

function boot() {
  loadSettings();
  try {
    const saved = JSON.parse(sessionStorage.getItem('soleus.auth') || 'null');
    if (saved && saved.token && (!saved.expires_at || new Date(saved.expires_at) > new Date())) {
      app.auth = saved;
      setToken(saved.token);
    }
  } catch { /* not signed in */ }
  document.getElementById('stop').addEventListener('click', () => pressStop('stop'));
  document.getElementById('pain').addEventListener('click', () => pressStop('pain'));
  document.getElementById('home').addEventListener('click', () => app.home());
  for (const ev of ['pointerdown', 'keydown']) {
    window.addEventListener(ev, () => { lastTouch = Date.now(); unlockAudio(); }, { capture: true, passive: true });
  }
  // No context menu, no accidental text selection on a touchscreen.
  window.addEventListener('contextmenu', (e) => e.preventDefault());
  window.addEventListener('hashchange', route);
  live.start();
  pollLoop();
  idleCheck();
  tickClock();
  route();
  // For the browser tests' page-load figure: when the first screen was drawn.
  window.soleusFirstScreenMs = performance.now();
}

boot();
