// The live view of a set and the set summary.
//
// Principle of operation (live view):
//  1. The set's prescription (tempo, load, reps) comes once from
//     GET /api/v1/sets/{id}; everything else comes from the live messages.
//  2. The pacing cue draws one rep as four segments in the order the member
//     does them (raise, hold, lower, pause), each as wide as its share of the
//     tempo. The needle stands where the member should be: the start of the
//     current phase plus phase_progress × its length. The big word names it.
//  3. A rep's force curve starts when the phase turns to 'concentric'. Samples
//     are put on a fixed 40 ms grid of time-since-rep-start, so the current
//     rep, the previous one (faint) and the load share one x axis in uPlot.
//     The chart redraws at most ~12 times a second.
//  4. A mid-set rest (rest_remaining_s not null) shows REST and the time
//     left before the set ends ("n s left").
//  4a. How the set finds the member's range (range_note, issue 13) is said
//     under the cue while the first rep runs and until the first rep is
//     counted: a stored range being checked or confirmed, or why the set
//     calibrates (no stored range, N days old, outside the machine's limits,
//     not confirmed).
//  5. The position bar shows the pad inside the calibrated range; the range
//     comes from the message (range_bottom_mm / range_top_mm) when the daemon
//     sends it, otherwise from the lowest and highest pad position seen during
//     the calibration rep.

import { api, live } from '../api.js';
import { h, clear } from '../ui.js';
import { parseTempo } from '../validate.js';
import {
  settings, load, loadPrecise, fmtNum, numAuto, PHASES, STATES, stopReasonText, SAFETY_REASONS, seconds, clock, MODES,
  rangeNoteText,
} from '../format.js';
import { metronomeTick } from '../metronome.js';
import { t } from '../i18n.js';

const RUNNING = new Set(['ready', 'calibrating', 'active', 'unloading']);
const DT = 0.04;

function uPlotCtor() { return window.uPlot; }

function forceChart(el, width, height) {
  const U = uPlotCtor();
  if (!U) return null;
  const opts = {
    width, height, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(100, max * 1.1)] } },
    axes: [
      { stroke: '#444', grid: { stroke: '#d0d0d0' }, size: 28, font: '13px DejaVu Sans', values: (u, v) => v.map((x) => `${numAuto(x)}s`) },
      { stroke: '#444', grid: { stroke: '#d0d0d0' }, size: 46, font: '13px DejaVu Sans' },
    ],
    series: [
      {},
      { label: t('previous rep'), stroke: '#a8a8a8', width: 2, points: { show: false }, spanGaps: true },
      { label: t('load'), stroke: '#000', width: 1, dash: [6, 4], points: { show: false }, spanGaps: true },
      { label: t('this rep'), stroke: '#34404f', width: 3, points: { show: false }, spanGaps: true },
    ],
  };
  return new U(opts, [[0], [null], [null], [null]], el);
}

export function mountLive(root, params, app) {
  let set = null;          // GET /sets/{id}
  let tempo = null;        // parsed tempo
  let range = null;        // {bottom, top}
  let calMin = Infinity;
  let calMax = -Infinity;
  let lastPhase = null;
  let cur = [];            // current rep's force on the grid
  let prev = [];
  let repT0 = null;
  let dirty = false;
  let lastDraw = 0;
  let raf = 0;
  let chart = null;
  let lastMsg = null;

  // ---- layout
  const word = h('b', { 'data-test': 'phase' });
  const hint = h('span', { 'data-test': 'phase-hint' });
  const rangeNote = h('small', { 'data-test': 'range-note', style: 'display:block' });
  const segs = h('div.segs');
  const needle = h('div.needle');
  const legend = h('div.legend');
  const pace = h('div.pace', h('div.word', word, hint, rangeNote), h('div.pacebar', { 'data-test': 'pacebar' }, segs, needle, legend));
  const reps = h('div.reps', { 'data-test': 'reps' }, '0');
  const of = h('div.of');
  const tut = h('div.tut', h('span', { 'data-test': 'tut' }, '0'), h('small', ' ', t('s under tension')));
  // Per-rep feedback (issue 13): the last rep's tempo verdict and range, from
  // the live message's last_rep (the controller's own result for that rep).
  const repfb = h('div.repfb', { 'data-test': 'rep-feedback' });
  const counter = h('div.counter', reps, of, tut, repfb);
  const rom = h('div.rom');
  const pad = h('div.pad');
  const posbar = h('div.posbar', { 'data-test': 'posbar' }, h('div.lbl', { style: { top: '4px' } }, t('top')),
    h('div.track', rom, pad), h('div.lbl', { style: { bottom: '4px' } }, t('bottom')));
  const chartEl = h('div');
  const chartbox = h('div.chartbox', h('div.title', t('Force, N · grey: last rep · dashed: load')), chartEl);
  const fbFill = h('div.fb-fill');
  const fbLoad = h('div.fb-load', { 'data-label': t('load') });
  const forceTxt = h('div.txt');
  const forcebar = h('div.forcebar', { 'data-test': 'forcebar' }, forceTxt, h('div.fb-track', fbFill, fbLoad));
  const idle = h('div.panel.col', { style: { display: 'none' } });
  const grid = h('div.live', pace, counter, posbar, chartbox, forcebar);
  root.append(grid, idle);

  // The chart is made once its box has a size (the grid may start hidden).
  function ensureChart() {
    if (chart) return;
    const r = chartbox.getBoundingClientRect();
    if (r.width < 50 || r.height < 50) return;
    chart = forceChart(chartEl, Math.floor(r.width) - 8, Math.floor(r.height) - 28);
  }

  function drawSegments() {
    clear(segs);
    if (!set) return;
    if (set.mode === 'isometric') {
      segs.append(h('div.seg-p', { style: { width: '100%' } }, t('hold {s} s', { s: fmtNum(set.hold_s) })));
      legend.textContent = '';
      return;
    }
    if (!tempo) return;
    const parts = [['concentric', t('raise'), tempo.concentric], ['top', t('hold'), tempo.top], ['eccentric', t('lower'), tempo.eccentric], ['bottom', t('pause'), tempo.bottom]];
    for (const [ph, label, s] of parts) {
      if (s <= 0) continue;
      segs.append(h('div.seg-p', { dataset: { phase: ph }, style: { width: `${(100 * s) / tempo.cycle}%` } }, `${label} ${numAuto(s)}s`));
    }
    legend.replaceChildren(h('span', t('tempo {tempo}', { tempo: set.tempo })), h('span', t('one rep {s} s', { s: fmtNum(tempo.cycle, 1) })));
  }

  async function loadSet() {
    const id = app.set && app.set.id;
    if (!id) return;
    try {
      set = await api.getSet(id);
      tempo = parseTempo(set.tempo);
      if (app.set) app.set.loaded = true;
      of.textContent = set.mode === 'isometric' ? t('s held of {s} s', { s: fmtNum(set.hold_s) }) : t('of {n}', { n: set.target_reps || '–' });
      tut.style.visibility = set.mode === 'isometric' ? 'hidden' : '';
      chartbox.firstChild.textContent = set.mode === 'isometric' ? t('Force during the hold, N · dashed: limit') : t('Force, N · grey: last rep · dashed: load');
      drawSegments();
      if (lastMsg) onMsg(lastMsg);
    } catch (e) { console.warn('set', e); }
  }

  function showIdle(msg) {
    grid.style.display = 'none';
    idle.style.display = '';
    const role = app.role();
    clear(idle).append(
      h('h2', t('No set running')),
      h('p', t('Machine: {state}', { state: msg ? (STATES[msg.state] || msg.state) : '…' })),
      h('div.row',
        role === 'member' ? h('button.btn.big.primary', { onclick: () => app.go('today') }, t('Today')) : null,
        role === 'guest' ? h('button.btn.big.primary', { onclick: () => app.go('quick') }, t('Quick start')) : null,
        app.set && app.set.id ? h('button.btn.big', { onclick: () => app.go('summary', app.set.id) }, t('Last set')) : null));
  }

  function onMsg(msg) {
    lastMsg = msg;
    if (!RUNNING.has(msg.state)) { showIdle(msg); return; }
    if (grid.style.display === 'none') { grid.style.display = ''; idle.style.display = 'none'; }
    ensureChart();
    if (app.set && app.set.id && (!set || set.id !== app.set.id) && !loading) { loading = true; loadSet().finally(() => { loading = false; }); }

    metronomeTick(msg, tempo);

    // pacing cue
    const ph = msg.phase || 'none';
    let w = PHASES[ph] || { word: ph.toUpperCase(), hint: '' };
    // The first rep is light and finds the member's range: until the cue
    // starts (after it), tell them what to do, whatever their pace.
    if (msg.state === 'calibrating') w = { word: (PHASES[ph] || {}).word || t('RAISE SLOWLY'), hint: t('light first rep: slowly all the way up, then all the way down') };
    if (msg.state === 'ready') w = { word: t('READY'), hint: t('light load coming on; then raise slowly') };
    if (msg.state === 'unloading') w = { word: t('DONE'), hint: t('unloading, relax') };
    // A mid-set rest (held at the top or bottom beyond the tempo's pause):
    // tell the member how long they have before the set ends.
    const rest = Number(msg.rest_remaining_s);
    if (msg.state === 'active' && msg.rest_remaining_s != null && Number.isFinite(rest)) {
      w = { word: t('REST'), hint: t('{s} s left, then carry on', { s: Math.ceil(Math.max(0, rest)) }) };
    }
    word.textContent = w.word;
    hint.textContent = w.hint;
    const note = rangeNoteText(msg);
    const early = msg.state === 'ready' || msg.state === 'calibrating' || (msg.state === 'active' && Number(msg.reps ?? 0) <= 1);
    rangeNote.textContent = note && early ? note : '';
    const prog = Math.min(1, Math.max(0, Number(msg.phase_progress) || 0));
    if (set && set.mode === 'isometric') {
      needle.style.left = `${prog * 100}%`;
    } else if (tempo && tempo.cycle > 0) {
      const order = ['concentric', 'top', 'eccentric', 'bottom'];
      const len = { concentric: tempo.concentric, top: tempo.top, eccentric: tempo.eccentric, bottom: tempo.bottom };
      const i = order.indexOf(ph);
      if (i >= 0) {
        let start = 0;
        for (let k = 0; k < i; k++) start += len[order[k]];
        needle.style.left = `${(100 * (start + prog * len[ph])) / tempo.cycle}%`;
        needle.style.display = '';
      } else needle.style.display = 'none';
      for (const s of segs.children) s.classList.toggle('now', s.dataset.phase === ph);
    }

    // counter: reps, or for a hold the seconds held
    reps.textContent = set && set.mode === 'isometric' ? fmtNum(msg.tut_s, 0) : String(msg.reps ?? 0);
    tut.firstChild.textContent = fmtNum(msg.tut_s, 0);
    showRepFeedback(msg.last_rep);

    // position bar with the calibrated range
    const pos = Number(msg.position_mm);
    if (Number.isFinite(msg.range_bottom_mm) && Number.isFinite(msg.range_top_mm)) {
      range = { bottom: msg.range_bottom_mm, top: msg.range_top_mm };
    } else if (msg.state === 'calibrating' && Number.isFinite(pos)) {
      calMin = Math.min(calMin, pos); calMax = Math.max(calMax, pos);
    } else if (!range && calMax > calMin) {
      range = { bottom: calMin, top: calMax };
    }
    const lo0 = range ? range.bottom : (Number.isFinite(calMin) ? calMin : pos);
    const hi0 = range ? range.top : (Number.isFinite(calMax) ? calMax : pos);
    const span = Math.max(20, hi0 - lo0);
    const lo = lo0 - 0.25 * span;
    const hi = hi0 + 0.25 * span;
    const y = (v) => `${100 - (100 * (v - lo)) / (hi - lo)}%`;
    if (range) { rom.style.top = y(range.top); rom.style.bottom = `${(100 * (range.bottom - lo)) / (hi - lo)}%`; rom.style.display = ''; } else rom.style.display = 'none';
    if (Number.isFinite(pos)) pad.style.top = y(Math.min(hi, Math.max(lo, pos)));

    // force bar against the load
    const f = Number(msg.force_n) || 0;
    const l = Number(msg.load_n) || (set && set.load_n) || 0;
    const full = Math.max(l * 1.5, f * 1.1, 100);
    fbFill.style.width = `${Math.min(100, (100 * f) / full)}%`;
    fbLoad.style.left = `${Math.min(100, (100 * l) / full)}%`;
    forceTxt.replaceChildren(h('span', t('Force'), ' '), h('b', { 'data-test': 'force' }, settings.unit === 'N' ? `${Math.round(f)} N` : `${fmtNum(f / 9.80665, 1)} kg`),
      h('br'), h('span.small.muted', { 'data-test': 'live-load' }, t('load {load}', { load: loadPrecise(l) })));

    // force curve of the rep as it happens
    const tS = Number(msg.t_ms) / 1000;
    if ((ph === 'concentric' && lastPhase !== 'concentric') || (ph === 'hold' && lastPhase !== 'hold')) {
      prev = ph === 'hold' ? [] : cur.length ? cur : prev;
      cur = [];
      repT0 = tS;
    }
    lastPhase = ph;
    if (repT0 !== null && Number.isFinite(tS)) {
      const i = Math.round((tS - repT0) / DT);
      if (i >= 0 && i < 8000) { cur[i] = f; dirty = true; }
    }
    if (dirty && !raf) raf = requestAnimationFrame(draw);
  }

  let loading = false;
  let timer = 0;
  let fbKey = '';

  function showRepFeedback(r) {
    const mine = r && (!app.set || !app.set.id || String(r.set_id) === String(app.set.id));
    const key = mine ? `${r.set_id}/${r.seq}` : '';
    if (key === fbKey) return;
    fbKey = key;
    if (!mine) { repfb.replaceChildren(); delete repfb.dataset.seq; return; }
    const tempoText = { on_tempo: t('on tempo'), too_fast: t('too fast'), too_slow: t('too slow') }[r.tempo] || r.tempo;
    Object.assign(repfb.dataset, { seq: String(r.seq), n: String(r.n), tempo: r.tempo, full: r.partial ? 'false' : 'true' });
    repfb.className = `repfb ${r.tempo}${r.partial ? ' partial' : ''}`;
    repfb.replaceChildren(
      h('div', r.partial ? t('Rep not counted') : t('Rep {n}', { n: r.n })),
      h('b.fb-tempo', tempoText),
      h('div.fb-range', r.partial ? t('range not full') : t('full range')));
  }

  function draw() {
    raf = 0;
    const now = performance.now();
    if (!chart) return;
    if (now - lastDraw < 80) {
      // At most ~12 redraws a second: come back when the interval is over.
      if (dirty && !timer) timer = setTimeout(() => { timer = 0; if (!raf) raf = requestAnimationFrame(draw); }, 80 - (now - lastDraw));
      return;
    }
    lastDraw = now;
    dirty = false;
    const minLen = set && set.mode === 'isometric' ? Math.ceil((Number(set.hold_s) || 10) / DT) : tempo ? Math.ceil(tempo.cycle / DT) : 100;
    const n = Math.max(minLen, cur.length, prev.length, 10);
    const xs = new Array(n);
    const a = new Array(n);
    const b = new Array(n);
    const c = new Array(n);
    const l = (lastMsg && Number(lastMsg.load_n)) || (set && set.load_n) || null;
    for (let i = 0; i < n; i++) {
      xs[i] = Math.round(i * DT * 100) / 100;
      a[i] = prev[i] ?? null;
      b[i] = l;
      c[i] = cur[i] ?? null;
    }
    chart.setData([xs, a, b, c]);
  }

  const off = live.on(onMsg);
  if (live.last) onMsg(live.last); else showIdle(null);
  loadSet();
  return () => { off(); if (raf) cancelAnimationFrame(raf); clearTimeout(timer); if (chart) chart.destroy(); };
}

// --- summary ------------------------------------------------------------------------
// The set's fatigue index and rep-to-rep decline, as the set view carries them
// (computed once by the daemon: docs/api.md, "Fatigue"); null with < 3 reps.
function fatigueLine(s) {
  if (s.mode === 'isometric') return null;
  const fi = Number.isFinite(s.fatigue_index_pct) ? s.fatigue_index_pct : null;
  const d = Number.isFinite(s.decline_n_per_rep) ? s.decline_n_per_rep : null;
  const dv = d === null ? null : settings.unit === 'N' ? `${fmtNum(d, 1)} N` : `${fmtNum(d / 9.80665, 2)} kg`;
  return h('div.sum-fatigue', { 'data-test': 'sum-fatigue', 'data-fatigue': fi === null ? '' : String(fi), 'data-decline': d === null ? '' : String(d) },
    fi === null ? t('Fatigue index: needs 4 or more reps') : t('Fatigue index {pct} %', { pct: fmtNum(fi, 0) }),
    dv === null ? '' : ` · ${t('decline {value} per rep', { value: dv })}`);
}

export function mountSummary(root, params, app) {
  const id = params[0];
  let alive = true;
  let timer = null;
  const box = h('div.summary', h('div.reason', t('Loading the set…')));
  root.append(box);

  async function fetchDone() {
    for (let i = 0; i < 40 && alive; i++) {
      const s = await api.getSet(id);
      if (s.state === 'done' || s.stop_reason) return s;
      await new Promise((r) => setTimeout(r, 250));
    }
    return api.getSet(id);
  }

  function fig(k, v, test) { return h('div.panel.fact', h('div.k', k), h('div.v', test ? { 'data-test': test } : null, v)); }

  async function render() {
    let s;
    try { s = await fetchDone(); } catch (e) {
      clear(box).append(h('div.reason', t('The set could not be loaded: {error}', { error: e.message })));
      return;
    }
    if (!alive) return;
    const tp = parseTempo(s.tempo);
    const iso = s.mode === 'isometric';
    const presc = tp && s.reps ? s.reps * tp.cycle : null;
    const reason = h('div.reason', { 'data-test': 'stop-reason', 'data-reason': s.stop_reason || '' }, stopReasonText(s));
    if (SAFETY_REASONS.has(s.stop_reason)) reason.classList.add('safety');
    if (s.stop_reason === 'pain') reason.classList.add('pain');
    const chartEl = h('div.panel.chartbox', { style: { flex: '1', minHeight: '0' } },
      h('div.title', t('Force per rep, N: mean (dark), peak (grey)')));
    const right = h('div.sum-right');
    clear(box).append(reason,
      h('div.sum-left',
        h('div.sum-figs',
          iso ? fig(t('Held'), `${fmtNum(s.tut_s, 0)} s`, 'sum-reps') : fig(t('Reps'), String(s.reps), 'sum-reps'),
          fig(t('Under tension'), `${fmtNum(s.tut_s, 0)} s`, 'sum-tut'),
          fig(t('Load'), load(s.load_n), 'sum-load')),
        h('div.small.muted', `${MODES[s.mode] || s.mode} · ${loadPrecise(s.load_n)}${iso ? '' : ` · ${t('tempo {tempo}', { tempo: s.tempo })}`}` +
          (s.partial_reps ? ` · ${s.partial_reps > 1 ? t('{n} partial reps not counted', { n: s.partial_reps }) : t('1 partial rep not counted')}` : '') +
          (presc ? ` · ${t('prescribed {time} under tension', { time: seconds(presc) })}` : '')),
        fatigueLine(s),
        chartEl),
      right);
    // per-rep force
    const log = Array.isArray(s.rep_log) ? s.rep_log.filter((r) => r.n > 0) : [];
    const U = uPlotCtor();
    if (U && log.length) {
      requestAnimationFrame(() => {
        const r = chartEl.getBoundingClientRect();
        new U({
          width: Math.floor(r.width) - 8, height: Math.floor(r.height) - 28, legend: { show: false }, cursor: { show: false },
          scales: { x: { time: false }, y: { range: (u, mn, mx) => [0, Math.max(100, mx * 1.1)] } },
          axes: [{ stroke: '#444', grid: { stroke: '#d0d0d0' }, size: 28, font: '13px DejaVu Sans', label: '', values: (u, v) => v.map((x) => (Number.isInteger(x) ? `#${x}` : '')) },
            { stroke: '#444', grid: { stroke: '#d0d0d0' }, size: 46, font: '13px DejaVu Sans' }],
          series: [{}, { label: t('peak N'), stroke: '#a8a8a8', width: 2, points: { size: 6 } },
            { label: t('mean N'), stroke: '#34404f', width: 3, points: { size: 8 } }],
        }, [log.map((r) => r.n), log.map((r) => r.peak_force_n), log.map((r) => r.mean_force_n)], chartEl);
      });
    } else if (iso) chartEl.remove();
    else chartEl.append(h('p.muted', t('No full reps to chart.')));

    // what next
    const role = app.role();
    if (role === 'member') {
      let sess = null;
      try { sess = await api.session(); } catch { /* no programme */ }
      if (!alive) return;
      if (sess && sess.programme && sess.state === 'rest') {
        const left0 = Number(sess.rest_remaining_s) || 0;
        const end = Date.now() + left0 * 1000;
        const count = h('div.rest-count', { 'data-test': 'rest-count' });
        const next = h('button.btn.big.primary', { 'data-test': 'next-set', disabled: left0 > 0 ? true : null, onclick: async () => {
          try { const r = await api.sessionStart(); app.set = { id: r.id, loaded: false }; app.go('live'); } catch (e) { next.textContent = e.message; }
        } }, t('Start set {n}', { n: sess.set_no }));
        right.append(h('div.panel.col', h('h3', t('Rest')), count), next);
        const tick = () => { const l = (end - Date.now()) / 1000; count.textContent = clock(l); if (l <= 0) { clearInterval(timer); next.disabled = false; } };
        tick(); timer = setInterval(tick, 250);
      } else if (sess && sess.programme && sess.state === 'done') {
        // Finish ends the session first: the daemon applies the programme's
        // rules (progression, the change log) now, not when it times out.
        right.append(h('div.panel', h('h2', t('Programme done for today'))),
          h('button.btn.big.primary', { 'data-test': 'finish', onclick: async () => { await api.sessionEnd().catch(() => null); app.signOut(); } }, t('Finish')),
          h('button.btn', { onclick: () => app.go('history') }, t('History')));
      } else {
        right.append(h('button.btn.big.primary', { 'data-test': 'next', onclick: () => app.go('today') }, t('Next')),
          h('button.btn', { onclick: () => app.signOut() }, t('Finish')));
      }
    } else if (role === 'guest') {
      right.append(h('button.btn.big.primary', { 'data-test': 'again', onclick: () => app.go('quick') }, t('Another set')),
        h('button.btn.big', { 'data-test': 'finish', onclick: () => app.signOut() }, t('Finish')));
    } else {
      right.append(h('button.btn.big', { onclick: () => app.home() }, t('Back')));
    }
  }

  render();
  return () => { alive = false; clearInterval(timer); };
}
