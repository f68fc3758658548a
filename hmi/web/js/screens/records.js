// Staff records (issue 13): the audit viewer (who changed what, filtered by
// member and by person, newest first, paged), a member's CSV export, and the
// one-page printable report (strength trend, adherence, pain events, the
// programme) with an Export to a self-contained .html file.
//
// Principle of operation:
//  1. Everything comes from the JSON API; the assessments and schedule
//     endpoints belong to other parts of issue 13 and may answer 404: the
//     report then says "not available" for that section.
//  2. The report's styles are one string (REPORT_CSS): injected into the page
//     for the screen and @media print (A4, one page), and copied into the
//     exported file, so the file looks as printed with nothing else loaded.
//     The strength chart is drawn with uPlot; the export replaces its canvas
//     by a PNG of it.

import { api, ApiError } from '../api.js';
import { h, clear, toast, choose, confirmBox } from '../ui.js';
import { keypad } from '../keypad.js';
import { t } from '../i18n.js';
import { load, dateTime, methodText } from '../format.js';

const day = (ms) => dateTime(ms).slice(0, 10);

function apiMsg(e) {
  if (e instanceof ApiError) return `${e.field ? e.field + ': ' : ''}${e.message}`;
  return String(e.message || e);
}

/** Saves `text` as a file through the browser's download. */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, style: { display: 'none' } });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A member's sets and reps as CSV (GET /members/{id}/export.csv), downloaded. */
export async function exportCsv(member, range = {}) {
  try {
    const text = await api.exportCsv(member.id, range);
    download(`member-${member.number || member.id}.csv`, text, 'text/csv');
    toast(t('CSV saved'), 'info');
  } catch (e) { toast(apiMsg(e), 'warn'); }
}

// --- the audit viewer ---------------------------------------------------------------

function describe(r, programmes = []) {
  // A member's programme is stored as its id: show the name.
  if (r.entity === 'member' && r.field === 'programme') {
    const name = (v) => { const p = programmes.find((x) => String(x.id) === String(v)); return v == null ? null : p ? p.name : `#${v}`; };
    r = { ...r, before: name(r.before), after: name(r.after) };
  }
  const what = r.entity === 'member' ? t('member {id}', { id: r.entity_id ?? '' })
    : `${r.entity}${r.entity_id != null ? ' ' + r.entity_id : ''}`;
  if (r.field === '*') return `${what}: ${r.before == null ? t('created') : r.after ?? t('deleted')}`;
  const short = (v) => (v == null ? '–' : String(v).length > 40 ? String(v).slice(0, 39) + '…' : String(v));
  return `${what} · ${r.field}: ${short(r.before)} → ${short(r.after)}`;
}

export function mountAudit(root, params, app) {
  const filter = { memberId: params[0] && params[0] !== 'all' ? Number(params[0]) : null, actorId: params[1] ? Number(params[1]) : null };
  let members = [];
  let people = [];
  let programmes = [];
  let pages = [null]; // before-ids of the pages seen, for "Newer"
  let page = 0;
  let next = null;
  const memberBtn = h('button.btn.value.audit-filter', { 'data-test': 'audit-member', onclick: pickMember });
  const personBtn = h('button.btn.value.audit-filter', { 'data-test': 'audit-person', onclick: pickPerson });
  const newer = h('button.btn', { 'data-test': 'audit-newer', onclick: () => { page -= 1; load_(); } }, t('‹ Newer'));
  const older = h('button.btn', { 'data-test': 'audit-older', onclick: () => { page += 1; pages[page] = next; load_(); } }, t('Older ›'));
  const list = h('div.list.audit-list', { 'data-test': 'audit-list' });
  root.append(h('div.col', { style: { height: '100%' } },
    h('div.row', h('button.btn', { 'data-test': 'audit-accounts', onclick: () => app.go('accounts') }, t('Accounts')),
      h('div.grow'), memberBtn, personBtn, newer, older),
    list));

  function labels() {
    const m = members.find((x) => x.id === filter.memberId);
    memberBtn.textContent = filter.memberId ? t('Member: {name}', { name: m ? `${m.number} ${m.name}` : filter.memberId }) : t('Every member');
    const p = people.find((x) => x.id === filter.actorId);
    personBtn.textContent = filter.actorId ? t('By: {name}', { name: p ? p.name : filter.actorId }) : t('Everyone');
  }

  async function pickMember() {
    const v = await choose(t('Show changes about'), [{ value: '__all', label: t('Every member') },
      ...members.map((m) => ({ value: String(m.id), label: `${m.number}  ${m.name}` }))]);
    if (v === null) return;
    filter.memberId = v === '__all' ? null : Number(v);
    pages = [null]; page = 0; load_();
  }
  async function pickPerson() {
    const v = await choose(t('Show changes made by'), [{ value: '__all', label: t('Everyone') },
      ...people.map((p) => ({ value: String(p.id), label: p.active ? p.name : t('{name} (deactivated)', { name: p.name }) }))]);
    if (v === null) return;
    filter.actorId = v === '__all' ? null : Number(v);
    pages = [null]; page = 0; load_();
  }

  async function load_() {
    labels();
    clear(list);
    try {
      const r = await api.audit({ memberId: filter.memberId, actorId: filter.actorId, before: pages[page], limit: 8 });
      next = r.next_before;
      older.disabled = next == null;
      newer.disabled = page === 0;
      if (!r.audit.length) list.append(h('p.muted', t('No changes recorded.')));
      for (const row of r.audit) {
        list.append(h('div.audit-row', { 'data-id': String(row.id), 'data-actor': row.actor_name, 'data-field': row.field },
          h('span.audit-time', dateTime(row.t_ms).slice(0, 10), h('br'), dateTime(row.t_ms).slice(11)),
          h('span.audit-who', row.actor_name),
          h('span.audit-what', describe(row, programmes))));
      }
    } catch (e) { list.append(h('p.err', apiMsg(e))); }
  }

  Promise.all([api.members().catch(() => ({ items: [] })), api.staffAccounts().catch(() => []), api.programmes().catch(() => ({ items: [] }))])
    .then(([m, s, p]) => { members = m.items; people = Array.isArray(s) ? s : []; programmes = p.items; load_(); });
}

// --- staff accounts ---------------------------------------------------------------------
// Admins (a staff account flagged admin, or maintenance) add, rename, reset
// the PIN of, promote and deactivate accounts; everyone signed in with an
// account may change their own PIN. The server checks all of it again.

const askName = (title, value = '') => keypad({ title, layout: 'alpha', value, validate: (x) => (x.trim() ? (x.trim().length > 60 ? t('At most 60 characters') : null) : t('Enter a name')) });
const askNewPin = (title) => keypad({ title, layout: 'numeric', secret: true, maxLen: 12, hint: t('PIN: 4 to 12 digits'), validate: (x) => (/^\d{4,12}$/.test(x) ? null : t('A PIN is 4 to 12 digits')) });

export function mountAccounts(root, params, app) {
  const admin = app.auth && (app.auth.role === 'maintenance' || app.auth.admin === true);
  const mine = app.auth && app.auth.staff_id;
  const list = h('div.list', { 'data-test': 'account-list' });
  root.append(h('div.col', { style: { height: '100%' } },
    h('div.row',
      app.auth && app.auth.role === 'staff' ? h('button.btn', { onclick: () => app.go('audit') }, t('‹ Audit')) : null,
      h('h2.grow', t('Staff accounts')),
      admin ? h('button.btn.primary', { 'data-test': 'account-new', onclick: add }, t('New account')) : null),
    list));

  async function call(fn) {
    try { await fn(); toast(t('Saved'), 'info'); } catch (e) { toast(apiMsg(e), 'warn'); }
    load_();
  }
  async function add() {
    const name = await askName(t('New account: name'));
    if (name === null) return;
    const pin = await askNewPin(t('New account: PIN'));
    if (pin === null) return;
    const isAdmin = await confirmBox(t('Admin?'), t('May {name} manage staff accounts?', { name: name.trim() }), t('Yes, admin'));
    call(() => api.createStaff({ name: name.trim(), pin, admin: isAdmin }));
  }
  async function act(a) {
    const own = mine && a.id === mine;
    const options = [];
    if (admin || own) options.push({ value: 'pin', label: own ? t('Change my PIN') : t('New PIN') });
    if (admin) {
      options.push({ value: 'name', label: t('Rename') });
      options.push({ value: 'admin', label: a.admin ? t('Remove admin') : t('Make admin') });
      options.push({ value: 'active', label: a.active ? t('Deactivate') : t('Reactivate') });
    }
    if (!options.length) { toast(t('Only an admin can change this account'), 'info'); return; }
    const v = await choose(a.name, options);
    if (v === 'pin') { const pin = await askNewPin(t('New PIN for {name}', { name: a.name })); if (pin !== null) call(() => api.updateStaff(a.id, { pin })); }
    if (v === 'name') { const n = await askName(t('Rename {name}', { name: a.name }), a.name); if (n !== null) call(() => api.updateStaff(a.id, { name: n.trim() })); }
    if (v === 'admin') call(() => api.updateStaff(a.id, { admin: !a.admin }));
    if (v === 'active') {
      if (a.active && !(await confirmBox(t('Deactivate'), t('{name} can no longer sign in. The audit keeps the name.', { name: a.name }), t('Deactivate')))) return;
      call(() => api.updateStaff(a.id, { active: !a.active }));
    }
  }
  async function load_() {
    clear(list);
    try {
      const accounts = await api.staffAccounts();
      if (!accounts.length) list.append(h('p.muted', t('No staff accounts yet.')));
      for (const a of accounts) {
        const tags = [a.admin ? t('admin') : null, a.active ? null : t('deactivated')].filter(Boolean).join(' · ');
        list.append(h('button.btn', { class: `btn${a.active ? '' : ' muted'}`, 'data-staff-id': String(a.id), onclick: () => act(a) },
          a.name, tags ? h('span.muted.small', `  ·  ${tags}`) : ''));
      }
    } catch (e) { list.append(h('p.err', apiMsg(e))); }
  }
  load_();
}

// --- the printable report ---------------------------------------------------------------

// One A4 page (210 × 297 mm, 12 mm margins): the sections are sized to fit,
// and tables keep their last rows only.
export const REPORT_CSS = `
.report { background: #fff; color: #111; font: 11px/1.35 system-ui, sans-serif; padding: 10px 14px; max-width: 186mm; margin: 0 auto; box-sizing: border-box; }
.report h1 { font-size: 17px; margin: 0 0 2px; }
.report h2 { font-size: 13px; margin: 10px 0 4px; border-bottom: 1px solid #999; }
.report .meta { color: #444; margin: 0 0 4px; }
.report table { border-collapse: collapse; width: 100%; }
.report th, .report td { border-bottom: 1px solid #ddd; padding: 2px 4px; text-align: left; }
.report .na { color: #666; font-style: italic; }
.report .chart { height: 150px; }
.report .chart img { width: 100%; }
.report .cols { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
@media print {
  @page { size: A4; margin: 12mm; }
  html, body { width: auto !important; height: auto !important; overflow: visible !important; background: #fff !important; }
  .screen-report .col { height: auto !important; overflow: visible !important; }
  #bar, #rail, #tabs, #toast, #modals, .report-actions { display: none !important; }
  .screen-report, #screen { overflow: visible !important; height: auto !important; position: static !important; padding: 0 !important; }
  .report { max-width: none; padding: 0; }
}
`;

function section(title, body, test) {
  return h('section', { 'data-section': test }, h('h2', title), body);
}

const notAvailable = () => h('p.na', t('Not available'));

export function mountReport(root, params, app) {
  const id = params[0];
  const weeks = Number(params[1]) || 6;
  const style = h('style', { 'data-report-css': '1' }, REPORT_CSS);
  const report = h('article.report', { 'data-test': 'report' }, h('p', t('Loading…')));
  const actions = h('div.row.report-actions',
    h('button.btn', { onclick: () => app.go('members') }, t('‹ Members')),
    h('div.grow'),
    h('button.btn', { 'data-test': 'report-weeks', onclick: async () => {
      const w = await choose(t('Report period'), [6, 12, 26].map((n) => ({ value: String(n), label: t('Last {n} weeks', { n }) })));
      if (w !== null) app.go('report', id, w);
    } }, t('Last {n} weeks', { n: weeks })),
    h('button.btn', { 'data-test': 'report-print', onclick: () => window.print() }, t('Print')),
    h('button.btn.primary', { 'data-test': 'report-export', onclick: exportHtml }, t('Export')));
  root.append(style, h('div.col', { style: { height: '100%', overflow: 'auto' } }, actions, report));
  let member = null;
  let plot = null;

  async function build() {
    const to = Date.now();
    const from = to - weeks * 7 * 86400000;
    member = await api.member(id);
    const [assess, sched, hist, prog] = await Promise.all([
      api.assessments(id),
      api.schedule(id),
      api.rawHistory(id, 100).catch(() => []),
      member.programme_id ? api.programme(member.programme_id).catch(() => null) : null,
    ]);
    clear(report);
    report.append(
      h('h1', t('Training report: {name}', { name: member.name })),
      h('p.meta', t('Member {number} · {from} to {to} · printed {now}', {
        number: member.number, from: day(from), to: day(to), now: dateTime(to),
      })));

    // Strength trend: the assessed max over time (newest last on the chart).
    const chart = h('div.chart', { 'data-test': 'strength-chart' });
    const trend = h('div');
    const list = assess && Array.isArray(assess.assessments) ? assess.assessments : null;
    if (!list) {
      trend.append(member.assessed_max_n ? h('p', t('Assessed max {max} (entered by hand)', { max: load(member.assessed_max_n) })) : notAvailable());
    } else {
      const pts = list.filter((a) => a.max_n != null).sort((a, b) => a.t_ms - b.t_ms);
      if (!pts.length) trend.append(h('p.na', t('No complete assessment yet')));
      else {
        trend.append(chart);
        const rows = pts.slice(-5).map((a) => h('tr', h('td', day(a.t_ms)), h('td', methodText(a.method)), h('td', load(a.max_n)), h('td', a.spread_pct != null ? `${a.spread_pct} %` : '')));
        trend.append(h('table', h('tr', h('th', t('Date')), h('th', t('Method')), h('th', t('Max')), h('th', t('Spread'))), rows));
        requestAnimationFrame(() => drawTrend(chart, pts));
      }
    }

    // Adherence: sessions done against planned, per week.
    const adh = h('div');
    if (!sched) adh.append(notAvailable());
    else {
      const weeksList = (sched.adherence || []).filter((w) => w.week_start_ms >= from - 7 * 86400000).slice(-8);
      const planned = weeksList.reduce((a, w) => a + (w.planned || 0), 0);
      const done = weeksList.reduce((a, w) => a + (w.done || 0), 0);
      adh.append(h('p', planned ? t('{done} of {planned} sessions done ({pct} %)', { done, planned, pct: Math.round((100 * done) / planned) }) : t('No sessions planned in this period')));
      if (sched.phase) adh.append(h('p.meta', sched.phase === 'block' && sched.block_week ? t('Week {week} of {weeks}', { week: sched.block_week, weeks: sched.block_weeks }) : t('Maintenance')));
      if (weeksList.length) {
        adh.append(h('table', h('tr', h('th', t('Week of')), h('th', t('Planned')), h('th', t('Done'))),
          weeksList.map((w) => h('tr', h('td', day(w.week_start_ms)), h('td', String(w.planned)), h('td', String(w.done))))));
      }
    }

    // Pain events: sets stopped with PAIN in the period.
    const entries = Array.isArray(hist) ? hist : (hist && (hist.sessions || hist.items)) || [];
    const pains = [];
    for (const e of entries) {
      if (e.date_ms < from) continue;
      for (const s of e.sets || []) if (s.stop_reason === 'pain') pains.push({ t: e.date_ms, set: s });
    }
    const pain = h('div', { 'data-test': 'pain-events' });
    if (!pains.length) pain.append(h('p', t('No pain events in this period')));
    else {
      pain.append(h('table', h('tr', h('th', t('Time')), h('th', t('Set')), h('th', t('Reps before the stop')), h('th', t('Load'))),
        pains.slice(0, 8).map((p) => h('tr', { 'data-set': String(p.set.set_id) }, h('td', dateTime(p.t)), h('td', `#${p.set.set_id}`), h('td', String(p.set.reps)), h('td', load(p.set.load_n))))));
      if (pains.length > 8) pain.append(h('p.meta', t('and {n} more', { n: pains.length - 8 })));
    }

    // The programme.
    const progEl = h('div');
    if (!prog) progEl.append(h('p', t('No programme assigned')));
    else {
      progEl.append(h('p', h('b', prog.name), prog.sessions_per_week ? ' · ' + t('{n} sessions a week', { n: prog.sessions_per_week }) : ''));
      if (sched && sched.reassessment_due) progEl.append(h('p', t('Reassessment due')));
      progEl.append(h('table', h('tr', h('th', t('Step')), h('th', t('Sets × reps')), h('th', t('Load')), h('th', t('Tempo'))),
        (prog.steps || []).map((s, i) => h('tr', h('td', String(i + 1)),
          h('td', `${s.sets} × ${s.target_reps ?? (s.hold_s != null ? t('{s} s hold', { s: s.hold_s }) : '')}`),
          h('td', s.load_pct != null ? t('{pct} % of max', { pct: s.load_pct }) : load(s.load_n)),
          h('td', s.tempo || '')))));
    }

    report.append(
      section(t('Strength trend'), trend, 'strength'),
      h('div.cols', section(t('Adherence'), adh, 'adherence'), section(t('Pain events'), pain, 'pain')),
      section(t('Programme'), progEl, 'programme'));
  }

  function drawTrend(el, pts) {
    if (typeof uPlot === 'undefined' || !el.isConnected) return;
    const width = Math.max(300, el.clientWidth || 600);
    // eslint-disable-next-line no-undef
    plot = new uPlot({
      width, height: 140, legend: { show: false },
      scales: { x: { time: true } },
      series: [{}, { label: t('Max'), stroke: '#1565c0', width: 2, points: { size: 6 } }],
      axes: [{}, { label: 'N', size: 50 }],
    }, [pts.map((a) => a.t_ms / 1000), pts.map((a) => a.max_n)], el);
  }

  // The rendered page as one file: the report's markup with its styles inline
  // and the chart as an image; nothing else is needed to open or print it.
  function exportHtml() {
    if (!member) return;
    const copy = report.cloneNode(true);
    const canvas = report.querySelector('canvas');
    const holder = copy.querySelector('[data-test="strength-chart"]');
    if (canvas && holder) {
      clear(holder);
      holder.append(h('img', { src: canvas.toDataURL('image/png'), alt: t('Strength trend') }));
    }
    const html = `<!doctype html>\n<html lang="${document.documentElement.lang || 'en'}"><head><meta charset="utf-8">`
      + `<title>${escapeHtml(t('Training report: {name}', { name: member.name }))}</title>`
      + `<style>${REPORT_CSS}</style></head><body>${copy.outerHTML}</body></html>\n`;
    download(`report-${member.number || member.id}.html`, html, 'text/html');
    toast(t('Report saved'), 'info');
  }

  build().catch((e) => { clear(report); report.append(h('p.err', apiMsg(e))); });
  return () => { if (plot) plot.destroy(); };
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
