// Member screens: today's programme step with Start (and the rest countdown
// between sets), the quick start of a free set (guests, or a member without a
// programme), the member's history, and the settings (unit, metronome).

import { api, ApiError } from '../api.js';
import { h, toast, segmented, clear } from '../ui.js';
import { keypad } from '../keypad.js';
import { rule, tempoError, parseTempo, LIMITS } from '../validate.js';
import { settings, saveSettings, load, loadPrecise, seconds, clock, shortDate, MODES, G, fmtNum, numAuto } from '../format.js';
import { testBeep, unlockAudio } from '../metronome.js';
import { t, LANGUAGES, setLanguage } from '../i18n.js';
import { assessmentPanel } from './assessment.js';

function fact(k, v, small, test) {
  return h('div.fact', h('div.k', k), h('div.v', test ? { 'data-test': test } : null, v, small ? h('small', ' ', small) : null));
}

function tempoWords(tempo) {
  const p = parseTempo(tempo);
  if (!p) return tempo;
  return t('lower {e} s · pause {b} s · raise {c} s · hold {t} s', { e: numAuto(p.eccentric), b: numAuto(p.bottom), c: numAuto(p.concentric), t: numAuto(p.top) });
}

function startError(e) {
  if (e instanceof ApiError) {
    if (e.status === 409) return t('The machine cannot start now (a set is running, or a fault is latched)');
    if (e.status === 422 || e.status === 400) return `${e.field ? e.field + ': ' : ''}${e.message}`;
    return e.message;
  }
  return String(e);
}

/** A day as the schedule gives it (UTC midnight): "Mon 7 Dec". */
function dueDate(ms) {
  return new Date(ms).toLocaleDateString('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' });
}

/**
 * The schedule on the Today card (GET /members/{id}/schedule): the block's
 * week or maintenance, this week's count against plan, the next session due,
 * adherence per week, and the notes (consecutive days, reassessment due).
 */
export function scheduleBox(sc) {
  if (!sc || !sc.programme_id) return null;
  const week = sc.phase === 'block' ? t('Week {week} of {weeks}', { week: sc.block_week, weeks: sc.block_weeks })
    : sc.phase === 'maintenance' ? t('Maintenance') : null;
  const days = sc.next_due_in_days;
  const when = days === 0 ? t('today') : days === 1 ? t('tomorrow') : t('in {n} days', { n: days });
  const recent = (sc.adherence || []).slice(-4);
  return h('div.sched', { 'data-test': 'schedule' },
    h('div.sched-row',
      week ? h('span.sched-chip', { 'data-test': 'block-week' }, week) : null,
      h('span.sched-chip', { 'data-test': 'this-week' }, t('This week {done} of {planned}', { done: sc.this_week.done, planned: sc.this_week.planned })),
      sc.next_due_ms !== null && sc.next_due_ms !== undefined
        ? h('span.sched-chip', { 'data-test': 'next-due' }, t('Next: {when} ({date})', { when, date: dueDate(sc.next_due_ms) })) : null),
    h('div.sched-row.small', { 'data-test': 'adherence' }, h('span.muted', t('Adherence')),
      ...recent.map((w, i) => h('span.adh', { class: `adh${w.done >= w.planned ? ' met' : ''}` },
        t('W{n} {done}/{planned}', { n: sc.adherence.length - recent.length + i + 1, done: w.done, planned: w.planned })))),
    sc.reassessment_due ? h('div.sched-row.small.warnline', { 'data-test': 'reassessment-due' }, t('Reassessment due: ask staff for a strength assessment')) : null,
    sc.consecutive_day_note ? h('div.sched-row.small.muted', { 'data-test': 'consecutive-note' }, t('You trained on consecutive days: that is fine; a rest day between sessions helps the calf recover.')) : null);
}

// --- today --------------------------------------------------------------------
export function mountToday(root, params, app) {
  let timer = null;
  let alive = true;
  const body = h('div', { style: { height: '100%' } });
  root.append(body);

  let assess = null;
  async function refresh() {
    let s;
    let sc = null;
    try {
      assess = await api.assessment().catch(() => null);
      const id = app.auth && app.auth.member_id;
      [s, sc] = await Promise.all([api.session(), id ? api.schedule(id).catch(() => null) : null]);
    } catch (e) {
      clear(body).append(h('div.panel.col',
        h('h2', t('Your programme could not be loaded')), h('p', String(e.message)),
        h('div.row', h('button.btn', { onclick: refresh }, t('Try again')),
          h('button.btn.primary', { onclick: () => app.go('quick') }, t('Free set')))));
      return;
    }
    if (!alive) return;
    render(s, sc);
  }

  function render(s, sc) {
    clearInterval(timer);
    clear(body);
    const panel = assessmentPanel(assess, app);
    if (panel && (assess.assigned || assess.active)) {
      body.append(panel);  // an assigned assessment comes first
      return;
    }
    // Not assigned: "Start assessment" where the screen has room (no programme,
    // or done for today); the step card keeps the whole screen.
    if (!s || !s.programme) {
      body.append(h('div.panel.col', { 'data-test': 'no-programme' },
        h('h2', t('No programme assigned yet')),
        h('p', t('Ask staff to assign you a programme, or train a free set now.')),
        h('div.row', h('button.btn.big.primary', { onclick: () => app.go('quick') }, t('Free set')), panel)));
      return;
    }
    if (s.state === 'done') {
      body.append(h('div.panel.col', { 'data-test': 'programme-done' },
        h('h2', t('{programme}: done for today', { programme: s.programme.name })),
        h('p', t('Well done. Your progress is saved.')),
        scheduleBox(sc),
        h('div.row', h('button.btn.big', { onclick: () => app.go('history') }, t('History')),
          h('button.btn.big.primary', { onclick: () => app.signOut() }, t('Finish')), panel)));
      return;
    }
    const st = s.step || {};
    const iso = st.mode === 'isometric';
    const restLeft = s.state === 'rest' && Number(s.rest_remaining_s) > 0 ? Number(s.rest_remaining_s) : 0;
    const restEnd = Date.now() + restLeft * 1000;
    const startBtn = h('button.btn.big.primary', { 'data-test': 'start', onclick: () => start() }, t('Start set {n}', { n: s.set_no }));
    const countdown = h('div.rest-count', { 'data-test': 'rest-count' });
    const restBox = h('div.panel.col', h('h3', t('Rest')), countdown);
    const endRest = () => { clearInterval(timer); restBox.remove(); startBtn.disabled = false; };
    body.append(h('div.step-card',
      h('div.panel.col',
        h('h3', s.steps ? t('{programme} · step {n} of {steps}', { programme: s.programme.name, n: s.step_no, steps: s.steps }) : t('{programme} · step {n}', { programme: s.programme.name, n: s.step_no })),
        h('div.facts',
          fact(t('Set'), `${s.set_no}`, s.sets ? t('of {n}', { n: s.sets }) : '', 'set-no'),
          fact(iso ? t('Hold') : t('Reps'), iso ? `${st.hold_s} s` : `${st.target_reps}`),
          fact(t('Load'), load(st.load_n), settings.unit === 'kg' ? `${Math.round(st.load_n)} N` : '', 'step-load'),
          fact(t('Mode'), MODES[st.mode] || st.mode),
          iso ? null : fact(t('Tempo'), st.tempo, ''),
          st.rest_s !== undefined ? fact(t('Rest'), `${st.rest_s} s`) : null),
        h('p.small.muted', iso ? t('Push against the pad and hold for {s} s.', { s: st.hold_s }) : tempoWords(st.tempo),
          st.mode === 'eccentric' ? ` · ${t('{pct} % heavier when lowering', { pct: st.eccentric_pct })}` : ''),
        scheduleBox(sc)),
      h('div.go', restLeft > 0 ? restBox : h('div.panel.small', { style: { flex: 1 } },
        h('h3', t('Before you start')),
        h('p', t('Sit down, balls of the feet on the plate, pad on your thighs.')),
        h('p', { style: { marginTop: '6px' } }, t('The first rep is a slow, light range rep. It is not counted.'))), startBtn)));
    if (restLeft > 0) {
      startBtn.disabled = true;
      const tick = () => {
        const left = (restEnd - Date.now()) / 1000;
        countdown.textContent = clock(left);
        if (left <= 0) endRest();
      };
      tick();
      timer = setInterval(tick, 250);
    }
  }

  async function start() {
    unlockAudio();
    try {
      const r = await api.sessionStart();
      app.set = { id: r.id, loaded: false };
      app.go('live');
    } catch (e) { toast(startError(e), 'warn', 6000); refresh(); }
  }

  refresh();
  return () => { alive = false; clearInterval(timer); };
}

// --- quick start / free set -----------------------------------------------------------
const TEMPI = ['3-1-3-1', '2-1-2-1', '2-0-2-0', '1-0-1-0'];

export function mountQuick(root, params, app) {
  const cap = Number(app.auth && app.auth.load_cap_n) || (app.auth && app.auth.role === 'guest' ? 600 : LIMITS.load_n.max);
  // "Another set" starts from the last set's values (this sign-in only).
  const last = app.lastQuick && app.lastQuick.who === (app.auth && app.auth.token) ? app.lastQuick.p : null;
  const p = last ? { ...last, load_n: Math.min(last.load_n, cap) }
    : { mode: 'isotonic', load_n: Math.min(300, cap), target_reps: 10, hold_s: 30, tempo: '3-1-3-1', eccentric_pct: 20 };
  const msg = h('div.err');
  const loadBtn = h('button.btn.value', { 'data-test': 'q-load', onclick: editLoad });
  const repsBtn = h('button.btn.value', { 'data-test': 'q-reps', onclick: editReps });
  const eccBtn = h('button.btn.value', { 'data-test': 'q-ecc', onclick: editEcc });
  const repsLabel = h('label');
  const eccRow = h('div.field', h('label', t('Extra lowering')), eccBtn);
  const tempoWordsEl = h('div.field', h('span'), h('span.small.muted', { 'data-test': 'q-tempo-words' }));
  const tempoSeg = segmented(TEMPI.map((x) => ({ value: x, label: x })), p.tempo, (v) => { p.tempo = v; render(); }, 'tempo');

  function render() {
    loadBtn.textContent = loadPrecise(p.load_n);
    const iso = p.mode === 'isometric';
    repsLabel.textContent = iso ? t('Hold time') : t('Reps');
    repsBtn.textContent = iso ? `${p.hold_s} s` : String(p.target_reps);
    tempoSeg.set(p.tempo);
    eccBtn.textContent = `${p.eccentric_pct} %`;
    tempoWordsEl.lastChild.textContent = p.mode === 'isometric' ? '' : tempoWords(p.tempo);
    eccRow.style.display = p.mode === 'eccentric' ? '' : 'none';
  }

  async function editLoad() {
    const kg = settings.unit === 'kg';
    const v = await keypad({
      title: t('Load'), layout: 'decimal', unit: kg ? 'kg' : 'N',
      value: kg ? (p.load_n / G).toFixed(1) : Math.round(p.load_n),
      validate: kg ? rule('load_kg', { max: Math.floor((cap / G) * 10) / 10 }) : rule('load_n', { max: cap }),
      hint: kg ? `0–${(cap / G).toFixed(1)} kg` : `0–${cap} N`,
    });
    if (v !== null) { p.load_n = kg ? Number(v) * G : Number(v); render(); }
  }
  async function editReps() {
    if (p.mode === 'isometric') {
      const v = await keypad({ title: t('Hold time'), unit: 's', value: p.hold_s, validate: rule('hold_s'), hint: '1–300 s' });
      if (v !== null) { p.hold_s = Number(v); render(); }
    } else {
      const v = await keypad({ title: t('Reps'), value: p.target_reps, validate: rule('target_reps'), hint: '1–100' });
      if (v !== null) { p.target_reps = Number(v); render(); }
    }
  }
  async function editTempo() {
    const v = await keypad({ title: t('Tempo lower-pause-raise-hold (s)'), layout: 'tempo', value: p.tempo, validate: tempoError, hint: t('e.g. {example}', { example: '3-1-3-1' }) });
    if (v !== null) { p.tempo = v; render(); }
  }
  async function editEcc() {
    const v = await keypad({ title: t('Extra load when lowering'), unit: '%', value: p.eccentric_pct, validate: rule('eccentric_pct'), hint: '0–100 %' });
    if (v !== null) { p.eccentric_pct = Number(v); render(); }
  }

  async function start() {
    unlockAudio();
    const body = { mode: p.mode, load_n: Math.round(p.load_n * 10) / 10, force_drop_pct: 20 };
    if (p.mode !== 'isometric') body.tempo = p.tempo; // a hold has no tempo
    if (p.mode === 'isometric') body.hold_s = p.hold_s; else body.target_reps = p.target_reps;
    if (p.mode === 'eccentric') body.eccentric_pct = p.eccentric_pct;
    if (app.auth && app.auth.member_id) body.member_id = app.auth.member_id;
    msg.textContent = '';
    app.lastQuick = { who: app.auth && app.auth.token, p: { ...p } };
    try {
      const r = await api.startSet(body);
      app.set = { id: r.id, loaded: false };
      app.go('live');
    } catch (e) { msg.textContent = startError(e); }
  }

  root.append(h('div.quick',
    h('div.panel.col',
      h('h2', app.auth && app.auth.role === 'guest' ? t('Quick start') : t('Free set')),
      h('div.field', h('label', t('Mode')), segmented([
        { value: 'isotonic', label: t('Constant') }, { value: 'eccentric', label: t('Heavy lower') }, { value: 'isometric', label: t('Hold') },
      ], p.mode, (v) => { p.mode = v; render(); }, 'mode')),
      h('div.field', h('label', t('Load')), loadBtn),
      h('div.field', repsLabel, repsBtn),
      h('div.field', h('label', t('Tempo')), h('div.row', tempoSeg, h('button.btn', { onclick: editTempo, 'data-test': 'q-tempo-custom' }, '…'))),
      tempoWordsEl,
      eccRow,
      msg),
    h('div.quick-go',
      h('p.small.muted', app.auth && app.auth.role === 'guest' ? t('Guests: load up to {load}.', { load: load(cap) }) : ''),
      h('div.grow'),
      h('button.btn.big.primary', { 'data-test': 'start', onclick: start }, t('Start')))));
  render();
}

// The member's History is in progress.js (issue 13: charts, sessions, force curves).

// --- settings -------------------------------------------------------------------------
export function mountSettings(root, params, app) {
  const vols = [{ value: 0.25, label: t('Low') }, { value: 0.6, label: t('Medium') }, { value: 1, label: t('High') }];
  const nearest = vols.reduce((a, b) => (Math.abs(b.value - settings.volume) < Math.abs(a.value - settings.volume) ? b : a)).value;
  root.append(h('div.panel.col', { style: { maxWidth: '640px' } },
    h('h2', t('Settings')),
    h('div.field', h('label', t('Loads in')), segmented([{ value: 'kg', label: 'kg' }, { value: 'N', label: t('newton (N)') }],
      settings.unit, (v) => { settings.unit = v; saveSettings(); }, 'unit')),
    // The language applies at once: the screen (and the bar) is drawn again.
    h('div.field', h('label', t('Language')), segmented(LANGUAGES, settings.lang,
      (v) => { settings.lang = v; setLanguage(v); saveSettings(); if (app) { app.go('settings'); app.refreshStatus(); } }, 'lang')),
    h('div.field', h('label', t('Metronome')), segmented([{ value: true, label: t('On') }, { value: false, label: t('Off') }],
      settings.metronome, (v) => { settings.metronome = v; saveSettings(); }, 'metronome')),
    h('div.field', h('label', t('Volume')), h('div.row', segmented(vols, nearest, (v) => { settings.volume = v; saveSettings(); testBeep(); }, 'volume'),
      h('button.btn', { onclick: testBeep }, t('Test')))),
    h('p.small.muted', t('Settings are kept on this machine.'))));
}
