// Progress you can see (issue 13 §3): one module for the member's History
// and the staff member page (#/member/{id}).
//
// Principle of operation:
//  1. GET /members/{id}/history gives per session its sets and a summary
//     (reps, load × reps, TUT, % of reps on tempo). One uPlot chart shows one
//     measure over the sessions (oldest left); a segmented control picks it.
//  2. GET /members/{id}/assessments (another part of issue 13; a 404 means
//     "no assessments") adds the assessed max over time and, when the newest
//     assessment has one, its strength curve over the range.
//  3. Tapping a session (a row of the list) shows its sets; tapping a set
//     shows its stored force curve per rep from GET /sets/{id}/trace: force
//     against time from each rep's start, one uPlot series per rep attempt
//     (a partial rep dashed), with the set's fatigue index and decline.
//  4. Every chart is uPlot (the vendored global), never hand-drawn. The
//     container is sized by CSS; a chart takes its box's size when drawn.

import { api, ApiError } from '../api.js';
import { h, clear, segmented } from '../ui.js';
import { t } from '../i18n.js';
import { load, seconds, shortDate, fmtNum, settings, G, MODES, methodText } from '../format.js';

const AXIS = { stroke: '#444', grid: { stroke: '#d0d0d0' }, font: '13px DejaVu Sans' };
// Rep series colours: dark to light greys and one blue, distinguishable in print.
const REP_COLOURS = ['#34404f', '#2f6db5', '#7a4f9a', '#1c7c54', '#b5652f', '#8a8a8a', '#5a5a5a', '#a23b3b'];

function U() { return window.uPlot; }

/** A load's number in the configured unit (charts: numbers only, unit in the title). */
function loadNum(n) { return settings.unit === 'N' ? n : n / G; }
function unitName() { return settings.unit === 'N' ? 'N' : 'kg'; }

/** 404 (not there yet: another engineer's endpoint) → null; other errors thrown. */
async function optional(p) {
  try { return await p; } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.status === 405)) return null;
    throw e;
  }
}

/** Draws a uPlot chart into `el` once it has a size; returns a cleanup. */
function plot(el, opts, data) {
  // Room for the title above the plot.
  const reserve = opts.title ? 22 : 0;
  let chart = null;
  let raf = requestAnimationFrame(() => {
    raf = 0;
    const C = U();
    if (!C || !el.isConnected) return;
    // The box's size (a chart element's own height may not resolve in a flex column).
    const r = (el.parentElement || el).getBoundingClientRect();
    const width = Math.max(120, Math.floor(r.width) - 8);
    const height = Math.max(80, Math.floor(r.height) - 8 - reserve);
    chart = new C({ width, height, ...opts }, data, el);
    el.uplot = chart; // the tests read the series drawn
  });
  return () => { if (raf) cancelAnimationFrame(raf); if (chart) chart.destroy(); };
}

function sessionLabel(e) {
  return e.programme || t('Free set');
}

// The measures of the sessions chart: [key, label, value of a history entry].
function measures() {
  return [
    ['volume', t('Load × reps'), (e) => (Number.isFinite(e.load_x_reps_n) ? loadNum(e.load_x_reps_n) : null), () => t('Load × reps, {unit}', { unit: unitName() })],
    ['tut', t('Time under tension'), (e) => (Number.isFinite(e.tut_s) ? e.tut_s : null), () => t('Time under tension, s')],
    ['tempo', t('% on tempo'), (e) => (Number.isFinite(e.on_tempo_pct) ? e.on_tempo_pct : null), () => t('Reps on tempo, %')],
  ];
}

/**
 * Mounts the progress views of member `memberId` into `root`.
 * opts.staff: the physiotherapist's page (the same charts; no "your").
 * Returns a cleanup function.
 */
export function mountProgress(root, memberId, app, opts = {}) {
  let entries = [];        // history, newest first
  let assessments = null;  // null: none / not available
  let measure = 'volume';
  let view = { name: 'overview' };
  let cleanups = [];
  let alive = true;
  const body = h('div.progress', { 'data-test': 'progress' });
  root.append(body);

  function reset() {
    for (const c of cleanups) c();
    cleanups = [];
    clear(body);
  }

  async function loadAll() {
    body.append(h('p.muted', t('Loading…')));
    try {
      const [hist, asm] = await Promise.all([
        api.history(memberId, 30),
        optional(api.assessments(memberId)),
      ]);
      if (!alive) return;
      entries = hist.items;
      assessments = asm && Array.isArray(asm.assessments) ? asm.assessments : null;
      render();
    } catch (e) {
      if (!alive) return;
      clear(body).append(h('p.err', t('History could not be loaded: {message}', { message: e.message })));
    }
  }

  function render() {
    reset();
    if (view.name === 'session') return renderSession(view.entry);
    if (view.name === 'set') return renderSet(view.entry, view.setId);
    return renderOverview();
  }

  // ---- overview: the chart over sessions and the list of sessions
  function renderOverview() {
    if (!entries.length && !(assessments && assessments.length)) {
      body.append(h('p', { 'data-test': 'history-empty' }, t('No sessions yet.')));
      return;
    }
    const opts = measures().map(([value, label]) => ({ value, label }));
    const withMax = assessments && assessments.some((a) => Number.isFinite(a.max_n));
    const newestCurve = assessments && assessments.find((a) => Array.isArray(a.curve) && a.curve.some((p) => Number.isFinite(p.force_n)));
    if (withMax) opts.push({ value: 'max', label: t('Assessed max') });
    if (newestCurve) opts.push({ value: 'curve', label: t('Strength curve') });
    if (!opts.some((o) => o.value === measure)) measure = 'volume';
    const chartEl = h('div.pchart', { 'data-test': 'progress-chart', 'data-measure': measure });
    const chartBox = h('div.panel.pchart-box', chartEl);
    const seg = segmented(opts, measure, (v) => { measure = v; render(); }, 'measure');
    const list = h('div.plist', { 'data-test': 'sessions' });
    body.append(h('div.progress-top', seg), chartBox, list);

    // the chart
    const C = U();
    if (C) {
      if (measure === 'max') cleanups.push(maxChart(chartEl));
      else if (measure === 'curve') cleanups.push(curveChart(chartEl, newestCurve));
      else cleanups.push(sessionsChart(chartEl));
    }

    // the sessions, newest first: tap one for its sets
    if (!entries.length) list.append(h('p.muted', t('No sessions yet.')));
    list.append(h('table.table', { 'data-test': 'history' },
      h('tr', h('th', t('Date')), h('th', t('Session')), h('th', t('Sets')), h('th', t('Reps')),
        h('th', t('Load × reps')), h('th', t('Time under tension')), h('th', t('On tempo'))),
      entries.map((e, i) => h('tr.tap', {
        'data-test': 'session-row', 'data-index': String(i), 'data-session': e.session_id == null ? '' : String(e.session_id),
        onclick: () => { view = { name: 'session', entry: e }; render(); },
      },
      h('td', shortDate(e.date)),
      h('td', sessionLabel(e)),
      h('td', fmtNum(e.sets)),
      h('td', fmtNum(e.reps)),
      h('td', Number.isFinite(e.load_x_reps_n) ? load(e.load_x_reps_n) : '–'),
      h('td', seconds(e.tut_s)),
      h('td', Number.isFinite(e.on_tempo_pct) ? `${Math.round(e.on_tempo_pct)} %` : '–')))));
  }

  function sessionsChart(el) {
    const m = measures().find(([k]) => k === measure);
    const old = entries.slice().reverse(); // oldest first
    const xs = old.map((e, i) => i + 1);
    const ys = old.map((e) => m[2](e));
    el.dataset.points = String(ys.filter((y) => y !== null).length);
    return plot(el, {
      legend: { show: false }, cursor: { show: false },
      title: m[3](),
      scales: { x: { time: false }, y: { range: (u, mn, mx) => [0, Math.max(measure === 'tempo' ? 100 : 1, (mx || 0) * 1.15)] } },
      axes: [
        { ...AXIS, size: 30, values: (u, v) => v.map((x) => (Number.isInteger(x) && old[x - 1] ? shortDate(old[x - 1].date).slice(0, 6) : '')) },
        { ...AXIS, size: 50 },
      ],
      series: [{}, { label: m[1], stroke: '#34404f', width: 3, points: { size: 9, fill: '#34404f' }, spanGaps: true }],
    }, [xs, ys]);
  }

  function maxChart(el) {
    const pts = assessments.filter((a) => Number.isFinite(a.max_n)).slice().reverse(); // oldest first
    el.dataset.points = String(pts.length);
    return plot(el, {
      legend: { show: false }, cursor: { show: false },
      title: t('Assessed max, {unit}', { unit: unitName() }),
      scales: { x: { time: true }, y: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) * 1.15)] } },
      axes: [{ ...AXIS, size: 30 }, { ...AXIS, size: 50 }],
      series: [{}, { label: t('Assessed max'), stroke: '#34404f', width: 3, points: { size: 9, fill: '#34404f' } }],
    }, [pts.map((a) => a.t_ms / 1000), pts.map((a) => loadNum(a.max_n))]);
  }

  function curveChart(el, a) {
    const pts = a.curve.filter((p) => Number.isFinite(p.force_n)).sort((x, y) => x.pct_of_range - y.pct_of_range);
    const degrees = pts.every((p) => Number.isFinite(p.angle_deg));
    el.dataset.points = String(pts.length);
    return plot(el, {
      legend: { show: false }, cursor: { show: false },
      title: degrees ? t('Strength over the range ({date}), {unit} against ankle angle, °', { date: shortDate(a.t_ms), unit: unitName() })
        : t('Strength over the range ({date}), {unit} against % of range', { date: shortDate(a.t_ms), unit: unitName() }),
      scales: { x: { time: false }, y: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) * 1.15)] } },
      axes: [{ ...AXIS, size: 30 }, { ...AXIS, size: 50 }],
      series: [{}, { label: t('Force'), stroke: '#34404f', width: 3, points: { size: 9, fill: '#34404f' } }],
    }, [pts.map((p) => (degrees ? p.angle_deg : p.pct_of_range)), pts.map((p) => loadNum(p.force_n))]);
  }

  // ---- one session: its sets
  function renderSession(e) {
    const sets = (e.set_list || []).slice().reverse(); // oldest first, as done
    body.append(h('div.progress-top',
      h('button.btn', { 'data-test': 'back', onclick: () => { view = { name: 'overview' }; render(); } }, t('Back')),
      h('h2', `${sessionLabel(e)} · ${shortDate(e.date)}`)),
    h('div.plist', { 'data-test': 'session-sets' }, h('table.table',
      h('tr', h('th', t('Set')), h('th', t('Mode')), h('th', t('Load')), h('th', t('Reps')), h('th', t('Time under tension')),
        h('th', t('On tempo')), h('th', t('Ended'))),
      sets.map((s, i) => h('tr.tap', {
        'data-test': 'set-row', 'data-set': String(s.set_id),
        onclick: () => { view = { name: 'set', entry: e, setId: s.set_id }; render(); },
      },
      h('td', String(i + 1)),
      h('td', MODES[s.mode] || s.mode),
      h('td', load(s.load_n)),
      h('td', fmtNum(s.reps)),
      h('td', seconds(s.tut_s)),
      h('td', Number.isFinite(s.on_tempo_pct) ? `${Math.round(s.on_tempo_pct)} %` : '–'),
      h('td', stopWords(s.stop_reason)))))));
  }

  // ---- one set: its force curve per rep
  async function renderSet(e, setId) {
    const head = h('div.progress-top',
      h('button.btn', { 'data-test': 'back', onclick: () => { view = { name: 'session', entry: e }; render(); } }, t('Back')),
      h('h2', t('Set {id}', { id: setId })));
    const figs = h('div.pfigs');
    const chartEl = h('div.pchart', { 'data-test': 'force-curve' });
    const legend = h('div.plegend', { 'data-test': 'curve-legend' });
    body.append(head, figs, h('div.panel.pchart-box.tall', chartEl), legend);
    let set, trace;
    try {
      [set, trace] = await Promise.all([api.getSet(setId), api.trace(setId)]);
    } catch (err) {
      chartEl.append(h('p.err', t('The force curve could not be loaded: {message}', { message: err.message })));
      return;
    }
    if (!alive || view.setId !== setId) return;
    const fig = (k, v, test) => h('div.fact', h('div.k', k), h('div.v', { 'data-test': test }, v));
    figs.append(
      fig(t('Reps'), fmtNum(set.reps), 'set-reps'),
      fig(t('Load'), load(set.load_n), 'set-load'),
      fig(t('Fatigue index'), Number.isFinite(set.fatigue_index_pct) ? `${fmtNum(set.fatigue_index_pct, 0)} %` : '–', 'fatigue-index'),
      fig(t('Decline per rep'), Number.isFinite(set.decline_n_per_rep) ? `${fmtNum(loadNum(set.decline_n_per_rep), 1)} ${unitName()}` : '–', 'decline'));
    const reps = (trace.reps || []).filter((r) => Array.isArray(r.t) && r.t.length);
    chartEl.dataset.series = String(reps.length);
    if (!reps.length) { chartEl.append(h('p.muted', t('No force curve was kept for this set.'))); return; }
    // One x axis for all reps: a 20 ms grid of time from each rep's start.
    const DT = 0.02;
    let n = 0;
    for (const r of reps) n = Math.max(n, Math.round(r.t[r.t.length - 1] / DT) + 1);
    const xs = Array.from({ length: n }, (_, i) => Math.round(i * DT * 100) / 100);
    const data = [xs];
    for (const r of reps) {
      const ys = new Array(n).fill(null);
      r.t.forEach((tt, k) => { const i = Math.round(tt / DT); if (i >= 0 && i < n) ys[i] = loadNum(r.force_n[k]); });
      data.push(ys);
    }
    reps.forEach((r, i) => legend.append(h('span', { style: { borderColor: REP_COLOURS[i % REP_COLOURS.length] }, class: r.partial ? 'partial' : '' },
      r.partial ? t('partial {seq}', { seq: r.seq }) : t('rep {n}', { n: r.n }))));
    cleanups.push(plot(chartEl, {
      legend: { show: false }, cursor: { show: false },
      title: t('Force per rep, {unit}, against seconds from the rep\'s start', { unit: unitName() }),
      scales: { x: { time: false }, y: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) * 1.1)] } },
      axes: [{ ...AXIS, size: 28 }, { ...AXIS, size: 50 }],
      series: [{}, ...reps.map((r, i) => ({
        label: r.partial ? t('partial {seq}', { seq: r.seq }) : t('rep {n}', { n: r.n }),
        stroke: REP_COLOURS[i % REP_COLOURS.length], width: 2, dash: r.partial ? [6, 4] : undefined,
        points: { show: false }, spanGaps: true,
      }))],
    }, data));
  }

  loadAll();
  return () => { alive = false; reset(); };
}

export function stopWords(reason) {
  const words = {
    target_reached: t('target reached'), hold_complete: t('hold complete'), force_drop: t('force dropped'),
    range_loss: t('range lost'), pace_loss: t('pace lost'), stall: t('stalled'), loss_of_control: t('loss of control'),
    user_stop: t('STOP'), pain: t('PAIN'), user_left: t('left the machine'),
  };
  return reason ? (words[reason] || reason) : '–';
}

// --- the member's History screen ------------------------------------------------
export function mountHistory(root, params, app) {
  const id = app.auth && app.auth.member_id;
  if (!id) { root.append(h('div.panel', h('p', t('Guests have no history.')))); return null; }
  return mountProgress(root, id, app, { staff: false });
}

// --- the staff member page (#/member/{id}) ----------------------------------------
export function mountMemberPage(root, params, app) {
  const id = params[0];
  let alive = true;
  let tab = 'progress';
  let cleanup = null;
  const title = h('h2', t('Member'));
  const content = h('div.member-page-body');
  // Actions area: CSV export, report and audit buttons are added here by the
  // export/report work of issue 13 (keep this element and its data-test).
  const actions = h('div.row.member-actions', { 'data-test': 'member-actions' });
  const tabs = segmented([
    { value: 'progress', label: t('Progress') },
    { value: 'events', label: t('PAIN and control') },
    { value: 'adherence', label: t('Adherence') },
    { value: 'assessments', label: t('Assessments') },
  ], tab, (v) => { tab = v; show(); }, 'member-tab');
  root.append(h('div.member-page',
    h('div.progress-top', h('button.btn', { 'data-test': 'back', onclick: () => app.go('members') }, t('Members')), title, h('div.grow'), actions),
    tabs, content));

  api.member(id).then((m) => { if (alive) title.textContent = `${m.name || t('Member')} · ${m.number}`; }).catch(() => {});

  function show() {
    if (cleanup) { cleanup(); cleanup = null; }
    clear(content);
    if (tab === 'progress') cleanup = mountProgress(content, id, app, { staff: true });
    else if (tab === 'events') showEvents();
    else if (tab === 'adherence') showAdherence();
    else showAssessments();
  }

  async function showEvents() {
    const box = h('div.plist', { 'data-test': 'member-events' }, h('p.muted', t('Loading…')));
    content.append(box);
    try {
      const r = await api.memberEvents(id);
      if (!alive || tab !== 'events') return;
      clear(box);
      const ev = r.events || [];
      if (!ev.length) { box.append(h('p', { 'data-test': 'no-events' }, t('No PAIN or loss-of-control stops.'))); return; }
      box.append(h('table.table',
        h('tr', h('th', t('Time')), h('th', t('What')), h('th', t('Set')), h('th', t('Rep')), h('th', t('Counted reps'))),
        ev.map((e) => h('tr', { class: e.reason === 'pain' ? 'alarm' : 'warn', 'data-test': 'member-event', 'data-set': String(e.set_id), 'data-reason': e.reason },
          h('td', shortDate(e.t_ms)), h('td', stopWords(e.reason)), h('td', String(e.set_id)),
          h('td', e.rep ? String(e.rep) : t('before the first')), h('td', String(e.reps))))));
    } catch (e) { clear(box).append(h('p.err', e.message)); }
  }

  async function showAdherence() {
    const box = h('div.col', { 'data-test': 'member-adherence' }, h('p.muted', t('Loading…')));
    content.append(box);
    let s;
    try { s = await optional(api.schedule(id)); } catch (e) { clear(box).append(h('p.err', e.message)); return; }
    if (!alive || tab !== 'adherence') return;
    clear(box);
    if (!s || !Array.isArray(s.adherence)) { box.append(h('p.muted', t('No schedule for this member.'))); return; }
    box.append(h('p', s.programme ? t('{programme}: {done} of {planned} sessions this week', {
      programme: s.programme, done: s.this_week ? s.this_week.done : 0, planned: s.this_week ? s.this_week.planned : 0,
    }) : t('No programme assigned.')));
    const el = h('div.pchart', { 'data-test': 'adherence-chart' });
    box.append(h('div.panel.pchart-box', el));
    const weeks = s.adherence;
    if (!weeks.length || !U()) return;
    cleanup = plot(el, {
      legend: { show: false }, cursor: { show: false },
      title: t('Sessions per week: planned (dashed) and done'),
      scales: { x: { time: false }, y: { range: (u, mn, mx) => [0, Math.max(1, (mx || 0) + 1)] } },
      axes: [{ ...AXIS, size: 30, values: (u, v) => v.map((x) => (Number.isInteger(x) ? t('wk {n}', { n: x }) : '')) }, { ...AXIS, size: 40 }],
      series: [{},
        { label: t('planned'), stroke: '#a8a8a8', width: 2, dash: [6, 4], points: { size: 7 } },
        { label: t('done'), stroke: '#34404f', width: 3, points: { size: 9, fill: '#34404f' } }],
    }, [weeks.map((w, i) => i + 1), weeks.map((w) => w.planned), weeks.map((w) => w.done)]);
  }

  async function showAssessments() {
    const box = h('div.plist', { 'data-test': 'member-assessments' }, h('p.muted', t('Loading…')));
    content.append(box);
    let r;
    try { r = await optional(api.assessments(id)); } catch (e) { clear(box).append(h('p.err', e.message)); return; }
    if (!alive || tab !== 'assessments') return;
    clear(box);
    const list = r && Array.isArray(r.assessments) ? r.assessments : [];
    if (!list.length) { box.append(h('p.muted', t('No assessments yet.'))); return; }
    box.append(h('table.table',
      h('tr', h('th', t('Date')), h('th', t('Method')), h('th', t('Max')), h('th', t('Spread')), h('th', t('Note'))),
      list.map((a) => h('tr',
        h('td', shortDate(a.t_ms)), h('td', methodText(a.method)),
        h('td', a.beyond_range ? t('≥ max load: beyond the machine\'s range') : (Number.isFinite(a.max_n) ? load(a.max_n) : (a.complete ? '–' : t('incomplete')))),
        h('td', Number.isFinite(a.spread_pct) ? `${fmtNum(a.spread_pct, 1)} %` : '–'),
        h('td', a.note || '')))));
  }

  show();
  return () => { alive = false; if (cleanup) cleanup(); };
}
