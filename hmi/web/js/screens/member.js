// Member screens: today's programme step with Start (and the rest countdown
// between sets), the quick start of a free set (guests, or a member without a
// programme), the member's history, and the settings (unit, metronome).

import { api, ApiError } from '../api.js';
import { h, toast, segmented, clear } from '../ui.js';
import { keypad } from '../keypad.js';
import { rule, tempoError, parseTempo, LIMITS } from '../validate.js';
import { settings, saveSettings, load, loadPrecise, seconds, clock, shortDate, MODES, G, fmtNum } from '../format.js';
import { testBeep, unlockAudio } from '../metronome.js';
import { assessmentPanel } from './assessment.js';

function fact(k, v, small, test) {
  return h('div.fact', h('div.k', k), h('div.v', test ? { 'data-test': test } : null, v, small ? h('small', ' ', small) : null));
}

function tempoWords(t) {
  const p = parseTempo(t);
  if (!p) return t;
  return `lower ${p.eccentric} s · pause ${p.bottom} s · raise ${p.concentric} s · hold ${p.top} s`;
}

function startError(e) {
  if (e instanceof ApiError) {
    if (e.status === 409) return 'The machine cannot start now (a set is running, or a fault is latched)';
    if (e.status === 422 || e.status === 400) return `${e.field ? e.field + ': ' : ''}${e.message}`;
    return e.message;
  }
  return String(e);
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
    try {
      assess = await api.assessment().catch(() => null);
      s = await api.session();
    } catch (e) {
      clear(body).append(h('div.panel.col',
        h('h2', 'Your programme could not be loaded'), h('p', String(e.message)),
        h('div.row', h('button.btn', { onclick: refresh }, 'Try again'),
          h('button.btn.primary', { onclick: () => app.go('quick') }, 'Free set'))));
      return;
    }
    if (!alive) return;
    render(s);
  }

  function render(s) {
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
        h('h2', 'No programme assigned yet'),
        h('p', 'Ask staff to assign you a programme, or train a free set now.'),
        h('div.row', h('button.btn.big.primary', { onclick: () => app.go('quick') }, 'Free set'), panel)));
      return;
    }
    if (s.state === 'done') {
      body.append(h('div.panel.col', { 'data-test': 'programme-done' },
        h('h2', `${s.programme.name}: done for today`),
        h('p', 'Well done. Your progress is saved.'),
        h('div.row', h('button.btn.big', { onclick: () => app.go('history') }, 'History'),
          h('button.btn.big.primary', { onclick: () => app.signOut() }, 'Finish'), panel)));
      return;
    }
    const st = s.step || {};
    const iso = st.mode === 'isometric';
    const restLeft = s.state === 'rest' && Number(s.rest_remaining_s) > 0 ? Number(s.rest_remaining_s) : 0;
    const restEnd = Date.now() + restLeft * 1000;
    const startBtn = h('button.btn.big.primary', { 'data-test': 'start', onclick: () => start() }, `Start set ${s.set_no}`);
    const countdown = h('div.rest-count', { 'data-test': 'rest-count' });
    const restBox = h('div.panel.col', h('h3', 'Rest'), countdown);
    const endRest = () => { clearInterval(timer); restBox.remove(); startBtn.disabled = false; };
    body.append(h('div.step-card',
      h('div.panel.col',
        h('h3', `${s.programme.name} · step ${s.step_no}${s.steps ? ` of ${s.steps}` : ''}`),
        h('div.facts',
          fact('Set', `${s.set_no}`, s.sets ? `of ${s.sets}` : '', 'set-no'),
          fact(iso ? 'Hold' : 'Reps', iso ? `${st.hold_s} s` : `${st.target_reps}`),
          fact('Load', load(st.load_n), settings.unit === 'kg' ? `${Math.round(st.load_n)} N` : '', 'step-load'),
          fact('Mode', MODES[st.mode] || st.mode),
          iso ? null : fact('Tempo', st.tempo, ''),
          st.rest_s !== undefined ? fact('Rest', `${st.rest_s} s`) : null),
        h('p.small.muted', iso ? `Push against the pad and hold for ${st.hold_s} s.` : tempoWords(st.tempo),
          st.mode === 'eccentric' ? ` · ${st.eccentric_pct} % heavier when lowering` : '')),
      h('div.go', restLeft > 0 ? restBox : h('div.panel.small', { style: { flex: 1 } },
        h('h3', 'Before you start'),
        h('p', 'Sit down, balls of the feet on the plate, pad on your thighs.'),
        h('p', { style: { marginTop: '6px' } }, 'The first rep is a slow, light range rep. It is not counted.')), startBtn)));
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
  const eccRow = h('div.field', h('label', 'Extra lowering'), eccBtn);
  const tempoWordsEl = h('div.field', h('span'), h('span.small.muted', { 'data-test': 'q-tempo-words' }));
  const tempoSeg = segmented(TEMPI.map((t) => ({ value: t, label: t })), p.tempo, (v) => { p.tempo = v; render(); }, 'tempo');

  function render() {
    loadBtn.textContent = loadPrecise(p.load_n);
    const iso = p.mode === 'isometric';
    repsLabel.textContent = iso ? 'Hold time' : 'Reps';
    repsBtn.textContent = iso ? `${p.hold_s} s` : String(p.target_reps);
    tempoSeg.set(p.tempo);
    eccBtn.textContent = `${p.eccentric_pct} %`;
    tempoWordsEl.lastChild.textContent = p.mode === 'isometric' ? '' : tempoWords(p.tempo);
    eccRow.style.display = p.mode === 'eccentric' ? '' : 'none';
  }

  async function editLoad() {
    const kg = settings.unit === 'kg';
    const v = await keypad({
      title: 'Load', layout: 'decimal', unit: kg ? 'kg' : 'N',
      value: kg ? (p.load_n / G).toFixed(1) : Math.round(p.load_n),
      validate: kg ? rule('load_kg', { max: Math.floor((cap / G) * 10) / 10 }) : rule('load_n', { max: cap }),
      hint: kg ? `0–${(cap / G).toFixed(1)} kg` : `0–${cap} N`,
    });
    if (v !== null) { p.load_n = kg ? Number(v) * G : Number(v); render(); }
  }
  async function editReps() {
    if (p.mode === 'isometric') {
      const v = await keypad({ title: 'Hold time', unit: 's', value: p.hold_s, validate: rule('hold_s'), hint: '1–300 s' });
      if (v !== null) { p.hold_s = Number(v); render(); }
    } else {
      const v = await keypad({ title: 'Reps', value: p.target_reps, validate: rule('target_reps'), hint: '1–100' });
      if (v !== null) { p.target_reps = Number(v); render(); }
    }
  }
  async function editTempo() {
    const v = await keypad({ title: 'Tempo lower-pause-raise-hold (s)', layout: 'tempo', value: p.tempo, validate: tempoError, hint: 'e.g. 3-1-3-1' });
    if (v !== null) { p.tempo = v; render(); }
  }
  async function editEcc() {
    const v = await keypad({ title: 'Extra load when lowering', unit: '%', value: p.eccentric_pct, validate: rule('eccentric_pct'), hint: '0–100 %' });
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
      h('h2', app.auth && app.auth.role === 'guest' ? 'Quick start' : 'Free set'),
      h('div.field', h('label', 'Mode'), segmented([
        { value: 'isotonic', label: 'Constant' }, { value: 'eccentric', label: 'Heavy lower' }, { value: 'isometric', label: 'Hold' },
      ], p.mode, (v) => { p.mode = v; render(); }, 'mode')),
      h('div.field', h('label', 'Load'), loadBtn),
      h('div.field', repsLabel, repsBtn),
      h('div.field', h('label', 'Tempo'), h('div.row', tempoSeg, h('button.btn', { onclick: editTempo, 'data-test': 'q-tempo-custom' }, '…'))),
      tempoWordsEl,
      eccRow,
      msg),
    h('div.quick-go',
      h('p.small.muted', app.auth && app.auth.role === 'guest' ? `Guests: load up to ${load(cap)}.` : ''),
      h('div.grow'),
      h('button.btn.big.primary', { 'data-test': 'start', onclick: start }, 'Start'))));
  render();
}

// --- history ------------------------------------------------------------------------
export function mountHistory(root, params, app) {
  const box = h('div.panel.col', { style: { height: '100%' } }, h('h2', 'Your last sessions'), h('p.muted', 'Loading…'));
  root.append(box);
  const id = app.auth && app.auth.member_id;
  if (!id) { box.lastChild.textContent = 'Guests have no history.'; return; }
  api.history(id, 10).then(({ items }) => {
    box.lastChild.remove();
    if (!items.length) { box.append(h('p', { 'data-test': 'history-empty' }, 'No sessions yet.')); return; }
    box.append(h('div', { style: { overflowY: 'auto', minHeight: 0 } }, h('table.table', { 'data-test': 'history' },
      h('tr', h('th', 'Date'), h('th', 'Programme'), h('th', 'Sets'), h('th', 'Reps'), h('th', 'Load'), h('th', 'Time under tension')),
      items.map((s) => h('tr',
        h('td', shortDate(s.date || s.started_at)),
        h('td', s.programme || 'Free set'),
        h('td', fmtNum(s.sets)),
        h('td', fmtNum(s.reps)),
        h('td', load(s.load_n)),
        h('td', seconds(s.tut_s)))))));
  }).catch((e) => { box.lastChild.textContent = `History could not be loaded: ${e.message}`; });
}

// --- settings -------------------------------------------------------------------------
export function mountSettings(root) {
  const vols = [{ value: 0.25, label: 'Low' }, { value: 0.6, label: 'Medium' }, { value: 1, label: 'High' }];
  const nearest = vols.reduce((a, b) => (Math.abs(b.value - settings.volume) < Math.abs(a.value - settings.volume) ? b : a)).value;
  root.append(h('div.panel.col', { style: { maxWidth: '640px' } },
    h('h2', 'Settings'),
    h('div.field', h('label', 'Loads in'), segmented([{ value: 'kg', label: 'kg' }, { value: 'N', label: 'newton (N)' }],
      settings.unit, (v) => { settings.unit = v; saveSettings(); }, 'unit')),
    h('div.field', h('label', 'Metronome'), segmented([{ value: true, label: 'On' }, { value: false, label: 'Off' }],
      settings.metronome, (v) => { settings.metronome = v; saveSettings(); }, 'metronome')),
    h('div.field', h('label', 'Volume'), h('div.row', segmented(vols, nearest, (v) => { settings.volume = v; saveSettings(); testBeep(); }, 'volume'),
      h('button.btn', { onclick: testBeep }, 'Test'))),
    h('p.small.muted', 'Settings are kept on this machine.')));
}
