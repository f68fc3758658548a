// Staff screens: the programme list, the programme editor (steps with every
// field validated on the keypad as it is typed), and members with the
// programme assigned to each and their assessed max.

import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { h, clear, toast, segmented, choose, confirmBox } from '../ui.js';
import { keypad } from '../keypad.js';
import { rule, tempoError, newStep, stepErrors, cleanStep, PROGRESSIONS, progressionsFor, progressionText, LIMITS } from '../validate.js';
import { load, loadPrecise, MODES, seconds, settings, G } from '../format.js';
import { exportCsv } from './records.js';

function apiMsg(e) {
  if (e instanceof ApiError) return `${e.field ? e.field + ': ' : ''}${e.message}`;
  return String(e.message || e);
}

// --- programme list ----------------------------------------------------------------
export function mountProgrammes(root, params, app) {
  const list = h('div.list', { 'data-test': 'programme-list' });
  root.append(h('div.col', { style: { height: '100%' } },
    h('div.row', h('h2.grow', t('Programmes')),
      h('button.btn.primary', { 'data-test': 'new-programme', onclick: () => app.go('programme', 'new') }, t('New programme'))),
    list));
  api.programmes().then(({ items }) => {
    if (!items.length) list.append(h('p.muted', t('No programmes yet.')));
    for (const p of items) {
      const steps = Array.isArray(p.steps) ? p.steps.length : p.step_count;
      list.append(h('button.btn', { 'data-id': String(p.id), onclick: () => app.go('programme', p.id) },
        `${p.name}`, h('span.muted.small', steps !== undefined ? `  ·  ${steps === 1 ? t('1 step') : t('{n} steps', { n: steps })}` : '')));
    }
  }).catch((e) => list.append(h('p.err', apiMsg(e))));
}

// --- programme editor -----------------------------------------------------------------
export function mountProgramme(root, params, app) {
  const id = params[0] === 'new' ? null : params[0];
  // A new programme follows the articles: every other day for a 6-week block, then 3 a week.
  const prog = {
    name: '', steps: [newStep()], sessions_per_week: 3, block_weeks: 6, block_every_other_day: true, after_block_sessions_per_week: 3,
  };
  let sel = 0;  // the step shown; -1: the schedule
  const nameBtn = h('button.btn.value', { 'data-test': 'p-name', onclick: editName, style: { flex: '1' } });
  const tabs = h('div.steptabs');
  const grid = h('div.stepgrid');
  const msg = h('div.err', { 'data-test': 'p-msg' });
  const saveBtn = h('button.btn.primary', { 'data-test': 'p-save', onclick: save }, t('Save'));
  root.append(h('div.editor', { style: { height: '100%' } },
    h('div.row', h('button.btn', { onclick: () => app.go('programmes') }, t('‹ List')), nameBtn,
      id ? h('button.btn', { onclick: remove }, t('Delete')) : null, saveBtn),
    h('div.row', tabs,
      h('div.grow'),
      h('button.btn', { 'data-test': 'step-up', onclick: () => move(-1) }, '◀'),
      h('button.btn', { 'data-test': 'step-down', onclick: () => move(1) }, '▶'),
      h('button.btn', { 'data-test': 'step-remove', onclick: removeStep }, t('Remove step'))),
    grid, msg));

  function render() {
    nameBtn.textContent = prog.name || t('Tap to name the programme');
    nameBtn.classList.toggle('bad', !prog.name);
    clear(tabs);
    tabs.append(h('button.btn', { class: `btn${sel === -1 ? ' on' : ''}`, 'data-test': 'tab-schedule', onclick: () => { sel = -1; render(); } }, t('Schedule')));
    prog.steps.forEach((s, i) => {
      const bad = stepErrors(s).length > 0;
      tabs.append(h('button.btn', { class: `btn${i === sel ? ' on' : ''}${bad ? ' bad' : ''}`, 'data-step': String(i + 1), onclick: () => { sel = i; render(); } }, t('Step {n}', { n: i + 1 })));
    });
    if (prog.steps.length < 8) tabs.append(h('button.btn', { 'data-test': 'step-add', onclick: addStep }, t('+ Step')));
    renderStep();
    const errs = prog.steps.flatMap((s, i) => stepErrors(s).map((e) => t('Step {n} {field}: {message}', { n: i + 1, field: e.field, message: e.message })));
    msg.textContent = !prog.name ? t('The programme needs a name') : errs[0] || '';
    saveBtn.disabled = Boolean(!prog.name || errs.length);
  }

  function field(label, control, name) {
    return h('div.field', { 'data-field': name || '' }, h('label', label), control);
  }

  function valueBtn(name, text, onclick) {
    const s = prog.steps[sel];
    const bad = stepErrors(s).some((e) => e.field === name);
    return h('button.btn.value', { class: `btn value${bad ? ' bad' : ''}`, 'data-test': `f-${name}`, onclick }, text);
  }

  function renderSchedule() {
    clear(grid);
    const num = (name, title, hintTxt, apply) => async () => {
      const v = await keypad({ title, layout: 'numeric', value: prog[name] ?? '', validate: rule(name === 'after_block_sessions_per_week' ? 'sessions_per_week' : name), hint: hintTxt });
      if (v !== null) { apply(Number(v)); render(); }
    };
    const btn = (name, text, onclick) => h('button.btn.value', { 'data-test': `f-${name}`, onclick, style: { flex: '1', minWidth: '0' } }, text);
    const block = prog.block_weeks !== null && prog.block_weeks !== undefined;
    grid.append(
      h('div.field', { 'data-field': 'block_weeks' }, h('label', t('Block')), h('div.row',
        btn('block_weeks', block ? t('{n} weeks', { n: prog.block_weeks }) : t('No block'),
          num('block_weeks', t('Block length, weeks'), t('1–52 weeks'), (v) => { prog.block_weeks = v; })),
        block ? h('button.btn', { 'data-test': 'no-block', style: { flex: '0 0 auto', padding: '0 10px' }, onclick: () => { prog.block_weeks = null; render(); } }, t('None')) : null)),
      h('div.field', { 'data-field': 'block_every_other_day' }, h('label', t('In the block')),
        segmented([{ value: 'eod', label: t('Every other day') }, { value: 'week', label: t('Per week') }],
          prog.block_every_other_day ? 'eod' : 'week', (v) => { prog.block_every_other_day = v === 'eod'; render(); }, 'block-freq')),
      h('div.field', { 'data-field': 'sessions_per_week' }, h('label', t('Sessions a week')),
        btn('sessions_per_week', String(prog.sessions_per_week),
          num('sessions_per_week', t('Sessions per week'), t('1–14; in the block when not every other day, or without a block'), (v) => { prog.sessions_per_week = v; }))),
      h('div.field', { 'data-field': 'after_block_sessions_per_week' }, h('label', t('After the block')),
        btn('after_block_sessions_per_week', prog.after_block_sessions_per_week ? t('{n} a week', { n: prog.after_block_sessions_per_week }) : t('unchanged'),
          num('after_block_sessions_per_week', t('Sessions per week after the block (maintenance)'), t('1–14'), (v) => { prog.after_block_sessions_per_week = v; }))),
      h('p.small.muted', { style: { gridColumn: '1 / 3' } },
        t('A reassessment falls due at the end of each block. Training on consecutive days is allowed: the member sees a gentle note.')),
    );
  }

  function renderStep() {
    if (sel < 0) { renderSchedule(); return; }
    const s = prog.steps[sel];
    clear(grid);
    const edit = async (name, opts, apply) => {
      const v = await keypad(opts);
      if (v !== null) { apply(v); render(); }
    };
    const num = (name, title, limit, unit, hintTxt, layout = 'numeric') => () => edit(name, {
      title, unit, layout, value: s[name] ?? '', validate: rule(limit), hint: hintTxt,
    }, (v) => { s[name] = Number(v); });
    const iso = s.mode === 'isometric';
    const pct = s.load_pct !== undefined && s.load_pct !== null;
    const modeSeg = segmented([
      { value: 'isotonic', label: t('Constant load') }, { value: 'eccentric', label: t('Heavier lowering') }, { value: 'isometric', label: t('Static hold') },
    ], s.mode, (v) => {
      s.mode = v;
      if (v === 'isometric' && !s.hold_s) s.hold_s = 30;
      if (s.progression && !progressionsFor(s).some((x) => x.value === s.progression.rule)) s.progression = { rule: 'none' };
      if (v !== 'isometric' && !s.target_reps) s.target_reps = 12;
      if (v === 'eccentric' && s.eccentric_pct === undefined) s.eccentric_pct = 20;
      render();
    }, 'mode');
    const mode = h('div.field', { style: { gridColumn: '1 / 3' }, 'data-field': 'mode' }, h('label', t('Mode')), modeSeg);
    const loadSeg = segmented([{ value: 'n', label: settings.unit === 'kg' ? 'kg' : 'N' }, { value: 'pct', label: t('% max') }], pct ? 'pct' : 'n', (v) => {
      if (v === 'pct') { s.load_pct = 70; delete s.load_n; } else {
        s.load_n = 400; delete s.load_pct;
        if (s.progression && (s.progression.rule === 'load_pct' || s.progression.increment === 'load_pct')) s.progression = { rule: 'none' };
      }
      render();
    }, 'load-unit');
    const loadBtn = pct
      ? valueBtn('load_pct', t('{pct} % of max', { pct: s.load_pct }), num('load_pct', t('Load, % of assessed max'), 'load_pct', '%', t('{min}–{max} % of the member\'s max', { min: 10, max: 150 }), 'decimal'))
      // In kg (Settings), the load is shown and typed in kg and kept in N.
      : settings.unit === 'kg'
        ? valueBtn('load_n', load(s.load_n), () => edit('load_n', {
          title: t('Load'), unit: 'kg', layout: 'decimal', value: Number.isFinite(Number(s.load_n)) ? (s.load_n / G).toFixed(1) : '',
          validate: rule('load_kg'), hint: `${LIMITS.load_kg.min}–${LIMITS.load_kg.max} kg`,
        }, (v) => { s.load_n = Math.round(Number(v) * G * 10) / 10; }))
        : valueBtn('load_n', `${s.load_n} N`, num('load_n', t('Load'), 'load_n', 'N', `0–${LIMITS.load_n.max} N`, 'decimal'));
    loadBtn.style.width = '118px';
    const prog_ = s.progression || { rule: 'none' };
    // The rep range of double progression: bottom, then top (the target starts at the bottom).
    const editRange = async () => {
      const lo = await keypad({ title: t('Rep range: bottom'), layout: 'numeric', value: s.rep_min ?? '', validate: rule('rep_min'), hint: t('1–100 reps') });
      if (lo === null) return;
      const hi = await keypad({ title: t('Rep range: top'), layout: 'numeric', value: s.rep_max ?? '', validate: (v) => rule('rep_max')(v) || (Number(v) < Number(lo) ? t('At least the bottom ({n})', { n: lo }) : null), hint: t('{n}–100 reps', { n: lo }) });
      if (hi === null) return;
      s.rep_min = Number(lo);
      s.rep_max = Number(hi);
      s.target_reps = s.rep_min;
      render();
    };
    // "Only if every rep was on tempo": a condition of any rule but none.
    const onTempo = prog_.rule === 'none' ? h('div') : field(t('On tempo only'), segmented(
      [{ value: 'no', label: t('No') }, { value: 'yes', label: t('Yes') }], prog_.on_tempo ? 'yes' : 'no',
      (v) => { s.progression = { ...prog_, on_tempo: v === 'yes' }; render(); }, 'on-tempo'), 'on_tempo');
    grid.append(
      mode,
      field(t('Sets'), valueBtn('sets', String(s.sets), num('sets', t('Sets'), 'sets', '', '1–10')), 'sets'),
      iso
        ? field(t('Hold'), valueBtn('hold_s', `${s.hold_s} s`, num('hold_s', t('Hold time'), 'hold_s', 's', '1–300 s', 'decimal')), 'hold_s')
        : prog_.rule === 'double'
          ? field(t('Rep range'), valueBtn('rep_range', `${s.rep_min ?? '?'}–${s.rep_max ?? '?'}`, editRange), 'rep_range')
          : field(t('Reps'), valueBtn('target_reps', String(s.target_reps), num('target_reps', t('Reps per set'), 'target_reps', '', '1–100')), 'target_reps'),
      field(iso ? t('Force limit') : t('Load'), h('div.row', loadBtn, loadSeg), 'load'),
      s.mode === 'eccentric'
        ? field(t('Extra lower'), valueBtn('eccentric_pct', `+${s.eccentric_pct} %`, num('eccentric_pct', t('Extra load when lowering'), 'eccentric_pct', '%', '0–100 %', 'decimal')), 'eccentric_pct')
        : onTempo,
      field(t('Tempo'), valueBtn('tempo', s.tempo, () => edit('tempo', {
        title: t('Tempo: lower-pause-raise-hold, s'), layout: 'tempo', value: s.tempo, validate: tempoError, hint: t('e.g. {example}', { example: '3-1-3-1 / 2.5-0-2-1' }),
      }, (v) => { s.tempo = v; })), 'tempo'),
      field(t('Rest'), valueBtn('rest_s', `${s.rest_s} s`, num('rest_s', t('Rest between sets'), 'rest_s', 's', '0–600 s')), 'rest_s'),
      field(t('Force drop'), valueBtn('force_drop_pct', `${s.force_drop_pct} %`, num('force_drop_pct', t('End the set when force drops by'), 'force_drop_pct', '%', '5–50 %', 'decimal')), 'force_drop_pct'),
      field(t('Progression'), valueBtn('progression', progressionText(prog_, s), async () => {
        const r = await choose(t('Progression after the session'), progressionsFor(s).map((p) => ({ value: p.value, label: p.label })));
        if (r === null) return;
        if (r === 'none') { s.progression = { rule: 'none' }; render(); return; }
        if (r === 'double') {
          const incs = [{ value: 'load_n', label: t('+ load, N') }];
          if (pct) incs.unshift({ value: 'load_pct', label: t('+ load, % of the load') });
          const inc = await choose(t('At the top of the range, the load rises by'), incs);
          if (inc === null) return;
          const amount = await keypad({ title: t('Load increment'), layout: 'decimal', unit: inc === 'load_pct' ? '%' : 'N',
            value: prog_.rule === 'double' ? prog_.amount : '', validate: rule('progression_amount'), hint: inc === 'load_pct' ? t('e.g. 10 %') : t('e.g. 20 N') });
          if (amount === null) return;
          s.progression = { rule: 'double', increment: inc, amount: Number(amount), on_tempo: Boolean(prog_.on_tempo) };
          if (!s.rep_min || !s.rep_max) await editRange();
          render();
          return;
        }
        const unit = PROGRESSIONS.find((p) => p.value === r).unit;
        const v = await keypad({ title: t('Progression: {rule}', { rule: PROGRESSIONS.find((p) => p.value === r).label }), layout: 'decimal', unit,
          value: s.progression && s.progression.rule === r ? s.progression.amount : '', validate: rule('progression_amount'), hint: '0.5–20' });
        if (v !== null) s.progression = { rule: r, amount: Number(v), on_tempo: Boolean(prog_.on_tempo) };
        render();
      }), 'progression'),
    );
  }

  async function editName() {
    const v = await keypad({ title: t('Programme name'), layout: 'alpha', value: prog.name,
      validate: (x) => (x.trim().length < 1 ? t('Enter a name') : x.length > 64 ? t('At most 64 characters') : null) });
    if (v !== null) { prog.name = v.trim(); render(); }
  }
  function addStep() { prog.steps.push(newStep()); sel = prog.steps.length - 1; render(); }
  function removeStep() {
    if (prog.steps.length <= 1) { toast(t('A programme needs at least one step'), 'info'); return; }
    prog.steps.splice(sel, 1); sel = Math.max(0, sel - 1); render();
  }
  function move(d) {
    const j = sel + d;
    if (j < 0 || j >= prog.steps.length) return;
    [prog.steps[sel], prog.steps[j]] = [prog.steps[j], prog.steps[sel]];
    sel = j; render();
  }
  async function save() {
    const body = {
      name: prog.name, steps: prog.steps.map(cleanStep),
      sessions_per_week: prog.sessions_per_week, block_every_other_day: Boolean(prog.block_every_other_day),
    };
    if (prog.block_weeks) body.block_weeks = prog.block_weeks;
    if (prog.after_block_sessions_per_week) body.after_block_sessions_per_week = prog.after_block_sessions_per_week;
    try {
      if (id) await api.updateProgramme(id, body);
      else {
        const r = await api.createProgramme(body);
        toast(t('Programme saved'), 'info');
        app.go('programme', r.id);
        return;
      }
      toast(t('Programme saved'), 'info');
    } catch (e) { msg.textContent = apiMsg(e); }
  }
  async function remove() {
    if (!(await confirmBox(t('Delete programme'), t('Delete "{name}"? Members assigned to it keep their history.', { name: prog.name }), t('Delete')))) return;
    try { await api.deleteProgramme(id); app.go('programmes'); } catch (e) { msg.textContent = apiMsg(e); }
  }

  if (id) {
    api.programme(id).then((p) => {
      prog.name = p.name || '';
      prog.sessions_per_week = p.sessions_per_week ?? 3;
      prog.block_weeks = p.block_weeks ?? null;
      prog.block_every_other_day = Boolean(p.block_every_other_day);
      prog.after_block_sessions_per_week = p.after_block_sessions_per_week ?? null;
      prog.steps = (p.steps && p.steps.length ? p.steps : [newStep()]).map((s) => ({ progression: { rule: 'none' }, ...s }));
      render();
    }).catch((e) => { msg.textContent = apiMsg(e); });
  }
  render();
}

// --- members -----------------------------------------------------------------------------
export function mountMembers(root, params, app) {
  let members = [];
  let programmes = [];
  let sel = null;
  const list = h('div.list', { 'data-test': 'member-list' });
  const detail = h('div.panel.col');
  root.append(h('div.split',
    h('div.col', { style: { minHeight: 0 } },
      h('button.btn.primary', { 'data-test': 'new-member', onclick: addMember }, t('New member')), list),
    detail));

  function progName(pid) {
    const p = programmes.find((x) => String(x.id) === String(pid));
    return p ? p.name : t('None');
  }

  function renderList() {
    clear(list);
    for (const m of members) {
      // Issue 13: who is flagged (a PAIN stop) and who is due for reassessment.
      list.append(h('button.btn', { class: `btn${sel && sel.id === m.id ? ' on' : ''}`, 'data-number': String(m.number),
        onclick: () => { sel = m; renderList(); renderDetail(); } }, `${m.number}  ${m.name || ''}`,
        m.flagged ? h('span.badge.alarm', { 'data-test': 'flagged' }, t('PAIN')) : null,
        m.reassessment_due ? h('span.badge', { 'data-test': 'reassess' }, t('Reassess')) : null));
    }
  }

  function renderDetail() {
    clear(detail);
    if (!sel) { detail.append(h('h2', t('Members')), h('p.muted', t('Choose a member on the left, or add one.'))); return; }
    const m = sel;
    const out = h('div.err');
    const put = async (patch) => {
      try {
        const r = 'programme_id' in patch ? await api.assignProgramme(m.id, patch.programme_id) : await api.updateMember(m.id, patch);
        Object.assign(m, patch, r && typeof r === 'object' ? r : {});
        toast(t('Saved'), 'info');
        renderList(); renderDetail();
      } catch (e) { out.textContent = apiMsg(e); }
    };
    detail.append(
      h('h2', `${m.name || t('Member')} · ${m.number}`),
      h('div.field', h('label', t('Programme')), h('button.btn.value', { 'data-test': 'm-programme', onclick: async () => {
        const v = await choose(t('Assign a programme'), [{ value: '__none', label: t('None') }, ...programmes.map((p) => ({ value: String(p.id), label: p.name }))]);
        if (v === null) return;
        put({ programme_id: v === '__none' ? null : (Number.isFinite(Number(v)) ? Number(v) : v) });
      } }, progName(m.programme_id))),
      h('div.field', h('label', t('Assessed max')), h('button.btn.value', { 'data-test': 'm-max', onclick: async () => {
        const v = await keypad({ title: t('Assessed max (entered by hand)'), layout: 'decimal', unit: 'N', value: m.assessed_max_n || '', validate: rule('assessed_max_n'), hint: '1–10000 N' });
        if (v !== null) put({ assessed_max_n: Number(v) });
      } }, m.assessed_max_n ? loadPrecise(m.assessed_max_n) : t('not assessed'))),
      h('div.field', h('label', t('Assessment')), h('button.btn.value', { 'data-test': 'm-assess', onclick: async () => {
        try {
          const r = await api.assignAssessment(m.id, !m.assessment_assigned);
          m.assessment_assigned = r.assigned;
          toast(r.assigned ? t('Assessment assigned') : t('Assessment withdrawn'), 'info');
          renderDetail();
        } catch (e) { out.textContent = apiMsg(e); }
      } }, m.assessment_assigned ? t('assigned: tap to withdraw') : t('Assign an assessment'))),
      h('div.field', h('label', t('Name')), h('button.btn.value', { onclick: async () => {
        const v = await keypad({ title: t('Name'), layout: 'alpha', value: m.name || '', validate: (x) => (x.trim() ? null : t('Enter a name')) });
        if (v !== null) put({ name: v.trim() });
      } }, m.name || '–')),
      m.flagged ? h('div.row', h('p.grow', { 'data-test': 'm-flag' }, t('Flagged: a session ended with a PAIN stop. Nothing progressed.')),
        h('button.btn', { 'data-test': 'm-clear-flag', onclick: () => put({ flagged: false }) }, t('Clear flag'))) : null,
      m.reassessment_due ? h('p.small', { 'data-test': 'm-reassess' }, t('Reassessment due: the block has ended since the last assessment.')) : null,
      m.last_session ? h('p.small.muted', t('Last session {date}', { date: m.last_session })) : null,
      // Issue 13, one row: the member page (charts, PAIN and loss-of-control
      // stops, adherence, assessments), the report, the CSV export and the audit trail.
      h('div.row.member-actions',
        h('button.btn.primary', { 'data-test': 'm-page', onclick: () => app.go('member', m.id) }, t('Progress and events')),
        h('button.btn', { 'data-test': 'm-report', onclick: () => app.go('report', m.id) }, t('Report')),
        h('button.btn', { 'data-test': 'm-csv', onclick: () => exportCsv(m) }, t('CSV')),
        h('button.btn', { 'data-test': 'm-audit', onclick: () => app.go('audit', m.id) }, t('Audit'))),
      out);
  }

  async function addMember() {
    const num = await keypad({ title: t('New member: number'), validate: (x) => rule('member_number')(x) || (members.some((m) => String(m.number) === x) ? t('This number is taken') : null), hint: t('member number') });
    if (num === null) return;
    const name = await keypad({ title: t('New member: name'), layout: 'alpha', validate: (x) => (x.trim() ? null : t('Enter a name')) });
    if (name === null) return;
    try {
      const r = await api.createMember({ number: num, name: name.trim() });
      await reload();
      sel = members.find((m) => String(m.id) === String(r.id)) || members.find((m) => String(m.number) === num) || null;
      renderList(); renderDetail();
    } catch (e) { toast(apiMsg(e), 'warn'); }
  }

  async function reload() {
    const [m, p] = await Promise.all([api.members(), api.programmes()]);
    members = m.items;
    programmes = p.items;
  }

  reload().then(() => { renderList(); renderDetail(); }).catch((e) => detail.append(h('p.err', apiMsg(e))));
  renderDetail();
}

export { load, MODES };
