// Maintenance screens, ISA-101 style: grey, colour only for the abnormal.
// Alarms by priority (time, code, meaning, hint), the event log with filters
// and paging, live diagnostics as analog bars and trends, and the service
// actions (tare, span calibration, range check, fault reset, odometer).

import { api, ApiError } from '../api.js';
import { h, clear, toast, segmented, choose, confirmBox, modal } from '../ui.js';
import { keypad } from '../keypad.js';
import { rule } from '../validate.js';
import { dateTime, codeMeaning, codeHint, isCodeMeaning, CODES, STATES, fmtNum, G } from '../format.js';
import { t } from '../i18n.js';

function apiMsg(e) {
  if (e instanceof ApiError) return `${e.status ? e.status + ' ' : ''}${e.field ? e.field + ': ' : ''}${e.message}`;
  return String(e.message || e);
}

// ISA-18.2 style priority: 1 urgent (red), 2 high (amber), 3 medium (magenta), 4 low.
const PRIORITY = {
  sto: 1, drive_fault: 1, comm_loss: 1, overspeed: 1, load_cell_overload: 1, arm_failed: 1, over_force: 1, internal_error: 1,
  stale_load_cell: 2, adc_error: 2, implausible_reading: 2, sensor_cross_check: 2, travel_limit: 2, disarmed: 2,
  queue_overflow: 3, loop_overrun: 3, comm_glitch: 3, tare_failed: 3, reset_refused: 3,
};
const PRIO_NAME = { 1: () => t('URGENT'), 2: () => t('HIGH'), 3: () => t('MEDIUM'), 4: () => t('LOW') };
const SEVERITY = { error: () => t('error'), warning: () => t('warning'), info: () => t('info') };
function priorityOf(f) {
  if (Number.isFinite(f.priority)) return f.priority;
  if (PRIORITY[f.code]) return PRIORITY[f.code];
  return f.severity === 'error' ? 2 : f.severity === 'warning' ? 3 : 4;
}

async function faultReset(after) {
  try {
    await api.faultReset();
    toast(t('Fault reset sent'), 'info');
  } catch (e) { toast(t('Fault reset refused: {error}', { error: apiMsg(e) }), 'warn', 6000); }
  if (after) after();
}

// --- alarms -------------------------------------------------------------------------
export function mountAlarms(root, params, app) {
  let alive = true;
  let timer = null;
  const list = h('div.col', { 'data-test': 'alarm-list', style: { overflowY: 'auto', minHeight: 0, flex: 1 } });
  root.append(h('div.col', { style: { height: '100%' } },
    h('div.row', h('h2.grow', t('Active alarms')),
      h('button.btn', { onclick: () => app.go('events') }, t('Event log')),
      h('button.btn.primary', { 'data-test': 'fault-reset', onclick: () => faultReset(refresh) }, t('Fault reset'))),
    list));

  async function refresh() {
    clearTimeout(timer);
    let status = null;
    let recent = [];
    try {
      status = await app.refreshStatus();
      const since = String(Date.now() - 24 * 3600e3);
      const ev = await api.events({ since, severity: 'error', limit: 5 });
      recent = ev.items;
    } catch (e) { /* shown below */ }
    if (!alive) return;
    const faults = ((status && status.faults) || []).slice().sort((a, b) => priorityOf(a) - priorityOf(b));
    clear(list);
    if (!status) list.append(h('div.panel', h('p', t('No answer from the controller.'))));
    else if (!faults.length) list.append(h('div.panel', { 'data-test': 'no-alarms' }, h('p', t('No active alarm. Machine {state}.', { state: STATES[status.state] || status.state }))));
    for (const f of faults) {
      const p = priorityOf(f);
      list.append(h('div.alarm-card', { 'data-code': f.code },
        h('div.prio', { class: `prio p${p}` }, PRIO_NAME[p] ? PRIO_NAME[p]() : `P${p}`),
        h('div.meaning', codeMeaning(f.code, f.message)),
        h('div.meta', `${dateTime(f.since)} · ${t('code {code}', { code: f.code })}${f.message && !isCodeMeaning(f.code, f.message) ? ' · ' + f.message : ''}`),
        h('div.hint', codeHint(f.code, f.hint) ? t('What to do: {hint}', { hint: codeHint(f.code, f.hint) }) : '')));
    }
    if (recent.length) {
      list.append(h('h3', t('Errors in the last 24 h')));
      for (const e of recent) {
        list.append(h('div.row.small', h('span.sev.error', t('error')), h('span.num', dateTime(e.time)), h('b', e.code), h('span.muted', codeMeaning(e.code, e.message))));
      }
    }
    timer = setTimeout(refresh, 3000);
  }
  refresh();
  return () => { alive = false; clearTimeout(timer); };
}

// --- event log --------------------------------------------------------------------------
const PAGE = 6;

export function mountEvents(root) {
  const f = { severity: '', code: '', since: '24h', offset: 0 };
  const rows = h('tbody');
  const count = h('span.muted.small', { 'data-test': 'ev-count' });
  const prev = h('button.btn', { 'data-test': 'ev-prev', onclick: () => { f.offset = Math.max(0, f.offset - PAGE); load(); } }, t('‹ Newer'));
  const next = h('button.btn', { 'data-test': 'ev-next', onclick: () => { f.offset += PAGE; load(); } }, t('Older ›'));
  const codeBtn = h('button.btn', { 'data-test': 'ev-code', onclick: pickCode }, t('All codes'));
  root.append(h('div.col', { style: { height: '100%', gap: '6px' } },
    h('div.filters',
      // severity is a minimum: warning means warnings and errors.
      segmented([{ value: '', label: t('All') }, { value: 'warning', label: t('Warn+') }, { value: 'error', label: t('Errors') }],
        f.severity, (v) => { f.severity = v; f.offset = 0; load(); }, 'severity'),
      codeBtn,
      segmented([{ value: '1h', label: '1 h' }, { value: '24h', label: '24 h' }, { value: '7d', label: '7 d' }, { value: '', label: t('All') }],
        f.since, (v) => { f.since = v; f.offset = 0; load(); }, 'since')),
    h('div', { style: { flex: 1, minHeight: 0 } }, h('table.table.evtable', { 'data-test': 'events' }, rows)),
    h('div.pager', count, prev, next)));

  async function pickCode() {
    const v = await choose(t('Event code'), [{ value: '', label: t('All codes') }, ...Object.keys(CODES).map((c) => ({ value: c, label: c }))]);
    if (v === null) return;
    f.code = v; f.offset = 0;
    codeBtn.textContent = v || t('All codes');
    load();
  }

  function sinceIso() {
    const ms = { '1h': 3600e3, '24h': 24 * 3600e3, '7d': 7 * 24 * 3600e3 }[f.since];
    return ms ? String(Date.now() - ms) : ''; // Unix ms
  }

  async function load() {
    try {
      const { items, total } = await api.events({ since: sinceIso(), severity: f.severity, code: f.code, offset: f.offset, limit: PAGE });
      clear(rows);
      if (!items.length) rows.append(h('tr', h('td', { colspan: 4 }, t('No events match.'))));
      for (const e of items) {
        const sev = e.severity || 'info';
        rows.append(h('tr', { class: sev === 'error' ? 'alarm' : sev === 'warning' ? 'warn' : '', 'data-code': e.code, 'data-id': String(e.id ?? ''), onclick: () => detail(e) },
          h('td.num', { 'data-test': 'ev-time' }, dateTime(e.time)),
          h('td', h('span', { class: `sev ${sev}` }, SEVERITY[sev] ? SEVERITY[sev]() : sev)),
          h('td', { 'data-test': 'ev-code' }, h('b', e.code)),
          h('td.msg', e.message && !isCodeMeaning(e.code, e.message) ? e.message : codeMeaning(e.code))));
      }
      const from = items.length ? f.offset + 1 : 0;
      count.textContent = total !== null ? t('{from}–{to} of {total}', { from, to: f.offset + items.length, total }) : `${from}–${f.offset + items.length}`;
      prev.disabled = f.offset === 0;
      next.disabled = total !== null ? f.offset + items.length >= total : items.length < PAGE;
    } catch (e) {
      clear(rows).append(h('tr', h('td', apiMsg(e))));
    }
  }

  function detail(e) {
    let m;
    m = modal([
      h('h2', codeMeaning(e.code, e.message)),
      h('div.kv', h('span', t('Time')), h('b', dateTime(e.time)), h('span', t('Code')), h('b', e.code), h('span', t('Severity')), h('b', SEVERITY[e.severity] ? SEVERITY[e.severity]() : e.severity),
        e.set_id ? [h('span', t('Set')), h('b', String(e.set_id))] : null,
        e.value !== undefined && e.value !== null ? [h('span', t('Value')), h('b', String(e.value))] : null),
      h('p', e.message || ''),
      codeHint(e.code, e.hint) ? h('p', h('b', t('What to do:')), ' ', codeHint(e.code, e.hint)) : null,
      h('div.row.end', h('button.btn.primary', { onclick: () => m.close() }, t('Close'))),
    ], { cls: 'confirm' });
  }

  load();
}

// --- diagnostics ----------------------------------------------------------------------------
// Units and display ranges by the name's suffix, for signals the daemon sends
// as bare numbers ({"drive.temperature_c": 41.2}). The ranges are the HMI's
// defaults for the reference machine (a 230 V AC servo drive: DC bus ≈ 325 V).
const SUFFIX = [
  [/temperature_c$|_c$/, '°C', { min: 0, max: 100, lo: 5, hi: 70 }],
  [/bus_voltage_v$/, 'V', { min: 0, max: 450, lo: 280, hi: 380 }],
  [/_v$/, 'V', {}],
  [/_mm_s$/, 'mm/s', {}],
  [/_mm$/, 'mm', {}],
  [/force_n$|load_n$/, 'N', { min: 0, max: 2500, lo: 0, hi: 2000 }],
  [/_n$/, 'N', {}],
  [/_nm$/, 'Nm', {}],
  [/_a$/, 'A', {}],
  [/_rpm$/, 'rpm', {}],
  [/_pct$/, '%', { min: 0, max: 100 }],
  [/_hz$/, 'Hz', {}],
  [/_ms$/, 'ms', {}],
];
export function describeSignal(name, v) {
  const sig = typeof v === 'object' && v !== null ? { name, ...v } : { name, value: v };
  for (const [re, unit, range] of SUFFIX) {
    if (re.test(name)) { sig.unit = sig.unit ?? unit; for (const k of Object.keys(range)) sig[k] = sig[k] ?? range[k]; break; }
  }
  return sig;
}

function analogBar(name, value, unit, sig = {}) {
  if (!Number.isFinite(sig.min) || !Number.isFinite(sig.max)) {
    // No known range: the value alone, no bar that would pretend a scale.
    const digits = !Number.isFinite(value) || Number.isInteger(value) ? 0 : Math.abs(value) >= 100 ? 1 : 2;
    return h('div.abar', { 'data-signal': name }, h('span.nm', name), h('span'),
      h('span.vl', `${Number.isFinite(value) ? value.toFixed(digits) : '–'}${unit ? ' ' + unit : ''}`));
  }
  const min = sig.min;
  const max = sig.max;
  const lo = Number.isFinite(sig.lo) ? sig.lo : min;
  const hi = Number.isFinite(sig.hi) ? sig.hi : max;
  const pct = (v) => `${Math.max(0, Math.min(100, (100 * (v - min)) / (max - min || 1)))}%`;
  let cls = 'abar';
  if (Number.isFinite(value) && (value < min || value > max)) cls += ' alarm';
  else if (Number.isFinite(value) && (value < lo || value > hi)) cls += ' warn';
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return h('div', { class: cls, 'data-signal': name },
    h('span.nm', name),
    h('span.tr', h('span.norm', { style: { left: pct(lo), width: `calc(${pct(hi)} - ${pct(lo)})` } }),
      h('span.ptr', { style: { left: pct(Number.isFinite(value) ? value : min) } })),
    h('span.vl', `${Number.isFinite(value) ? value.toFixed(digits) : '–'}${unit ? ' ' + unit : ''}`));
}

function trend(el, label, width, height) {
  const U = window.uPlot;
  if (!U) return null;
  return new U({
    width, height, legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false } },
    axes: [{ show: false }, { stroke: '#555', size: 40, font: '12px DejaVu Sans', grid: { stroke: '#d6d6d6' } }],
    series: [{}, { label, stroke: '#333', width: 2, points: { show: false } }],
  }, [[], []], el);
}

export function mountDiagnostics(root) {
  let alive = true;
  let timer = null;
  // Every signal, in a list that scrolls (the daemon sends about 20).
  const sigBox = h('div', { 'data-test': 'signals', style: { overflowY: 'auto', minHeight: 0, flex: 1 } });
  const loopKv = h('div.kv', { 'data-test': 'loop' });
  const busKv = h('div.kv', { 'data-test': 'bus' });
  const driveBars = h('div', { 'data-test': 'drive' });
  const tLoopEl = h('div.trend');
  const tTempEl = h('div.trend');
  root.append(h('div.diag',
    h('div.panel.col', { style: { gap: '2px' } }, h('h3', t('Decoded signals')), sigBox),
    h('div.col', { style: { minHeight: 0, gap: '6px' } },
      h('div.panel', h('h3', t('Drive')), driveBars, h('div.small.muted', t('temperature, last minute')), tTempEl),
      h('div.panel', h('div.row', { style: { alignItems: 'flex-start' } },
        h('div.grow', h('h3', t('Loop timing')), loopKv), h('div.grow', h('h3', t('Bus')), busKv)), h('div.small.muted', t('loop p99, last minute')), tLoopEl))));
  let tLoop = null;
  let tTemp = null;
  const hist = { x: [], p99: [], temp: [] };
  requestAnimationFrame(() => {
    const w = tLoopEl.getBoundingClientRect().width;
    tLoop = trend(tLoopEl, 'p99 ms', Math.floor(w), 64);
    tTemp = trend(tTempEl, 'drive °C', Math.floor(w), 64);
  });

  const seen = {};
  const since = {};
  // True for 10 s after a counter went up.
  function rising(name, v) {
    if (!Number.isFinite(v)) return false;
    if (seen[name] !== undefined && v > seen[name]) since[name] = Date.now();
    seen[name] = v;
    return since[name] !== undefined && Date.now() - since[name] < 10000;
  }

  function kv(box, pairs) {
    clear(box);
    for (const [k, v, bad] of pairs) box.append(h('span', k), h('b', bad ? { class: 'bad' } : null, v));
  }

  async function refresh() {
    let d;
    try { d = await api.diagnostics(); } catch (e) {
      clear(sigBox).append(h('p.err', apiMsg(e)));
      timer = setTimeout(refresh, 2000);
      return;
    }
    if (!alive) return;
    const sigs = Array.isArray(d.signals) ? d.signals
      : Object.entries(d.signals || {}).map(([name, v]) => describeSignal(name, v));
    const find = (re) => { const s = sigs.find((x) => re.test(x.name)); return s ? Number(s.value) : undefined; };
    const scroll = sigBox.scrollTop;
    sigBox.replaceChildren(...sigs.map((s) => analogBar(s.name, Number(s.value), s.unit || '', s)));
    sigBox.scrollTop = scroll;
    const loop = d.loop || {};
    const period = loop.hz ? 1000 / loop.hz : null;
    kv(loopKv, [
      [t('rate'), `${fmtNum(loop.hz, 0)} Hz`],
      ['p50', `${fmtNum(loop.p50_ms, 2)} ms`],
      ['p99', `${fmtNum(loop.p99_ms, 2)} ms`, period && loop.p99_ms > 1.5 * period],
      ['max', `${fmtNum(loop.max_ms, 2)} ms`, period && loop.max_ms > 3 * period],
      [t('overruns'), fmtNum(loop.overruns), rising('overruns', loop.overruns)],
    ]);
    const bus = d.bus || {};
    // Counters are cumulative: only a counter that is still rising is abnormal.
    kv(busKv, [
      [t('transactions'), fmtNum(bus.transactions)],
      [t('timeouts'), fmtNum(bus.timeouts), rising('timeouts', bus.timeouts)],
      [t('CRC errors'), fmtNum(bus.crc_errors), rising('crc', bus.crc_errors)],
      [t('exceptions'), fmtNum(bus.exceptions), rising('exceptions', bus.exceptions)],
      [t('reconnects'), fmtNum(bus.reconnects), rising('reconnects', bus.reconnects)],
    ]);
    const drive = { ...(d.drive || {}) };
    drive.temperature_c = drive.temperature_c ?? find(/temperature_c$/);
    drive.bus_voltage_v = drive.bus_voltage_v ?? find(/bus_voltage_v$/);
    clear(driveBars).append(
      analogBar(t('temperature'), Number(drive.temperature_c), '°C', describeSignal('temperature_c', 0)),
      analogBar(t('bus voltage'), Number(drive.bus_voltage_v), 'V', describeSignal('bus_voltage_v', 0)));
    const n = hist.x.length;
    hist.x.push(n); hist.p99.push(loop.p99_ms ?? null); hist.temp.push(drive.temperature_c ?? null);
    if (hist.x.length > 120) { hist.x.shift(); hist.p99.shift(); hist.temp.shift(); }
    if (tLoop) tLoop.setData([hist.x.slice(), hist.p99.slice()]);
    if (tTemp) tTemp.setData([hist.x.slice(), hist.temp.slice()]);
    timer = setTimeout(refresh, 500);
  }
  refresh();
  return () => { alive = false; clearTimeout(timer); if (tLoop) tLoop.destroy(); if (tTemp) tTemp.destroy(); };
}

// --- service actions ---------------------------------------------------------------------------
export function mountService(root, params, app) {
  const tareOut = h('div.result', { 'data-test': 'tare-result' });
  const spanOut = h('div.result', { 'data-test': 'span-result' });
  const rangeOut = h('div.result', { 'data-test': 'range-result' });
  const resetOut = h('div.result');
  const odo = h('div.kv', { 'data-test': 'odometer' }, h('span', t('Loading…')));

  const run = async (out, fn, okText) => {
    out.textContent = t('Working…');
    try {
      const r = await fn();
      out.textContent = okText(r || {});
    } catch (e) { out.textContent = t('Refused: {error}', { error: apiMsg(e) }); }
  };

  root.append(h('div.service',
    h('div.panel', h('h3', t('Load cell tare')), h('p.small', t('Nothing may rest on the pad.')),
      h('button.btn.primary', { 'data-test': 'tare', onclick: async () => {
        if (!(await confirmBox(t('Tare the load cell'), t('Make sure nothing rests on the pad and nobody sits on the machine.'), t('Tare')))) return;
        run(tareOut, api.tare, (r) => (Number.isFinite(r.offset) ? t('Tared: offset {offset}.', { offset: r.offset }) : t('Tared.')));
      } }, t('Tare')), tareOut),
    h('div.panel', h('h3', t('Span calibration')), h('p.small', t('Hang a known weight on the pad.')),
      h('button.btn.primary', { 'data-test': 'span', onclick: async () => {
        const v = await keypad({ title: t('Known weight'), layout: 'decimal', unit: 'kg', validate: rule('span_kg'), hint: '1–200 kg' });
        if (v === null) return;
        run(spanOut, () => api.span(Number(v) * G), (r) => (Number.isFinite(r.gain) ? t('Span set with {kg} kg ({n} N), gain {gain}.', { kg: fmtNum(Number(v), v.includes('.') ? v.split('.')[1].length : 0), n: fmtNum(Number(v) * G, 1), gain: r.gain }) : t('Span set with {kg} kg ({n} N).', { kg: fmtNum(Number(v), v.includes('.') ? v.split('.')[1].length : 0), n: fmtNum(Number(v) * G, 1) })));
      } }, t('Calibrate span…')), spanOut),
    h('div.panel', h('h3', t('Range check')), h('p.small', t('Moves the empty pad slowly over its travel.')),
      h('button.btn.primary', { 'data-test': 'range-check', onclick: async () => {
        if (!(await confirmBox(t('Range check'), t('The pad will move slowly over its whole travel. Keep clear of the machine.'), t('Start')))) return;
        run(rangeOut, api.rangeCheck, (r) => (r.ok === false ? t('Failed: {message}', { message: r.message || '' }) : Number.isFinite(r.bottom_mm) ? t('OK: {bottom}–{top} mm.', { bottom: fmtNum(r.bottom_mm, 1), top: fmtNum(r.top_mm, 1) }) : t('OK.')));
      } }, t('Range check')), rangeOut),
    h('div.panel', h('h3', t('Faults and odometer')),
      h('button.btn', { 'data-test': 'fault-reset', onclick: () => run(resetOut, api.faultReset, () => t('Reset sent.')) }, t('Fault reset')), resetOut, odo)));

  api.diagnostics().then((d) => {
    const o = d.odometer || {};
    const labels = { travel_m: [t('pad travel'), (v) => `${fmtNum(v / 1000, 2)} km`], distance_m: [t('pad travel'), (v) => `${fmtNum(v / 1000, 2)} km`],
      reps: [t('reps'), (v) => fmtNum(v)], sets: [t('sets'), (v) => fmtNum(v)], motor_hours: [t('motor hours'), (v) => `${fmtNum(v, 1)} h`] };
    clear(odo);
    for (const [k, v] of Object.entries(o)) {
      const [label, f] = labels[k] || [k.replace(/_/g, ' '), (x) => String(typeof x === 'number' ? fmtNum(x, Number.isInteger(x) ? 0 : 1) : x)];
      odo.append(h('span', label), h('b', f(v)));
    }
    if (!Object.keys(o).length) odo.append(h('span', t('no odometer reported')));
  }).catch((e) => { clear(odo).append(h('span', apiMsg(e))); });
}
