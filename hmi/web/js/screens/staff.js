// Staff screens: the programme list, the programme editor (steps with every
// field validated on the keypad as it is typed), and members with the
// programme assigned to each and their assessed max.

import { t } from '../i18n.js';
import { api, ApiError } from '../api.js';
import { h, clear, toast, segmented, choose, confirmBox } from '../ui.js';
import { keypad } from '../keypad.js';
import { rule, tempoError, newStep, stepErrors, cleanStep, PROGRESSIONS, progressionsFor, progressionText, LIMITS } from '../validate.js';
import { load, loadPrecise, MODES, seconds } from '../format.js';

function apiMsg(e) {
  if (e instanceof ApiError) return `${e.field ? e.field + ': ' : ''}${e.message}`;
  return String(e.message || e);
}

// --- programme list ----------------------------------------------------------------
export function mountProgrammes(root, params, app) {
  const list = h('div.list', { 'data-test': 'programme-list' });
  root.append(h('div.col', { style: { height: '100%' } },
    h('div.row', h('h2.grow', 'Programmes'),
      h('button.btn.primary', { 'data-test': 'new-programme', onclick: () => app.go('programme', 'new') }, 'New programme')),
    list));
  api.programmes().then(({ items }) => {
    if (!items.length) list.append(h('p.muted', 'No programmes yet.'));
    for (const p of items) {
      const steps = Array.isArray(p.steps) ? p.steps.length : p.step_count;
      list.append(h('button.btn', { 'data-id': String(p.id), onclick: () => app.go('programme', p.id) },
        `${p.name}`, h('span.muted.small', steps !== undefined ? `  ·  ${steps} step${steps === 1 ? '' : 's'}` : '')));
    }
  }).catch((e) => list.append(h('p.err', apiMsg(e))));
}

// --- programme editor -----------------------------------------------------------------
export function mountProgramme(root, params, app) {
  const id = params[0] === 'new' ? null : params[0];
  const prog = { name: '', steps: [newStep()] };
  let sel = 0;
  const nameBtn = h('button.btn.value', { 'data-test': 'p-name', onclick: editName, style: { flex: '1' } });
  const tabs = h('div.steptabs');
  const grid = h('div.stepgrid');
  const msg = h('div.err', { 'data-test': 'p-msg' });
  const saveBtn = h('button.btn.primary', { 'data-test': 'p-save', onclick: save }, 'Save');
  root.append(h('div.editor', { style: { height: '100%' } },
    h('div.row', h('button.btn', { onclick: () => app.go('programmes') }, '‹ List'), nameBtn,
      id ? h('button.btn', { onclick: remove }, 'Delete') : null, saveBtn),
    h('div.row', tabs,
      h('div.grow'),
      h('button.btn', { 'data-test': 'step-up', onclick: () => move(-1) }, '◀'),
      h('button.btn', { 'data-test': 'step-down', onclick: () => move(1) }, '▶'),
      h('button.btn', { 'data-test': 'step-remove', onclick: removeStep }, 'Remove step')),
    grid, msg));

  function render() {
    nameBtn.textContent = prog.name || 'Tap to name the programme';
    nameBtn.classList.toggle('bad', !prog.name);
    clear(tabs);
    prog.steps.forEach((s, i) => {
      const bad = stepErrors(s).length > 0;
      tabs.append(h('button.btn', { class: `btn${i === sel ? ' on' : ''}${bad ? ' bad' : ''}`, 'data-step': String(i + 1), onclick: () => { sel = i; render(); } }, `Step ${i + 1}`));
    });
    if (prog.steps.length < 8) tabs.append(h('button.btn', { 'data-test': 'step-add', onclick: addStep }, '+ Step'));
    renderStep();
    const errs = prog.steps.flatMap((s, i) => stepErrors(s).map((e) => `Step ${i + 1} ${e.field}: ${e.message}`));
    msg.textContent = !prog.name ? 'The programme needs a name' : errs[0] || '';
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

  function renderStep() {
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
      { value: 'isotonic', label: 'Constant load' }, { value: 'eccentric', label: 'Heavier lowering' }, { value: 'isometric', label: 'Static hold' },
    ], s.mode, (v) => {
      s.mode = v;
      if (v === 'isometric' && !s.hold_s) s.hold_s = 30;
      if (s.progression && !progressionsFor(s).some((x) => x.value === s.progression.rule)) s.progression = { rule: 'none' };
      if (v !== 'isometric' && !s.target_reps) s.target_reps = 12;
      if (v === 'eccentric' && s.eccentric_pct === undefined) s.eccentric_pct = 20;
      render();
    }, 'mode');
    const mode = h('div.field', { style: { gridColumn: '1 / 3' }, 'data-field': 'mode' }, h('label', 'Mode'), modeSeg);
    const loadSeg = segmented([{ value: 'n', label: 'N' }, { value: 'pct', label: '% max' }], pct ? 'pct' : 'n', (v) => {
      if (v === 'pct') { s.load_pct = 70; delete s.load_n; } else {
        s.load_n = 400; delete s.load_pct;
        if (s.progression && s.progression.rule === 'load_pct') s.progression = { rule: 'none' };
      }
      render();
    }, 'load-unit');
    const loadBtn = pct
      ? valueBtn('load_pct', `${s.load_pct} % of max`, num('load_pct', 'Load, % of assessed max', 'load_pct', '%', '10–150 % of the member\'s max', 'decimal'))
      : valueBtn('load_n', `${s.load_n} N`, num('load_n', 'Load', 'load_n', 'N', `0–${LIMITS.load_n.max} N`, 'decimal'));
    loadBtn.style.width = '118px';
    const prog_ = s.progression || { rule: 'none' };
    grid.append(
      mode,
      field('Sets', valueBtn('sets', String(s.sets), num('sets', 'Sets', 'sets', '', '1–10')), 'sets'),
      iso
        ? field('Hold', valueBtn('hold_s', `${s.hold_s} s`, num('hold_s', 'Hold time', 'hold_s', 's', '1–300 s', 'decimal')), 'hold_s')
        : field('Reps', valueBtn('target_reps', String(s.target_reps), num('target_reps', 'Reps per set', 'target_reps', '', '1–100')), 'target_reps'),
      field(iso ? 'Force limit' : 'Load', h('div.row', loadBtn, loadSeg), 'load'),
      s.mode === 'eccentric'
        ? field('Extra lower', valueBtn('eccentric_pct', `+${s.eccentric_pct} %`, num('eccentric_pct', 'Extra load when lowering', 'eccentric_pct', '%', '0–100 %', 'decimal')), 'eccentric_pct')
        : h('div'),
      field('Tempo', valueBtn('tempo', s.tempo, () => edit('tempo', {
        title: 'Tempo: lower-pause-raise-hold, s', layout: 'tempo', value: s.tempo, validate: tempoError, hint: 'e.g. 3-1-3-1 or 2.5-0-2-1',
      }, (v) => { s.tempo = v; })), 'tempo'),
      field('Rest', valueBtn('rest_s', `${s.rest_s} s`, num('rest_s', 'Rest between sets', 'rest_s', 's', '0–600 s')), 'rest_s'),
      field('Force drop', valueBtn('force_drop_pct', `${s.force_drop_pct} %`, num('force_drop_pct', 'End the set when force drops by', 'force_drop_pct', '%', '5–50 %', 'decimal')), 'force_drop_pct'),
      field('Progression', valueBtn('progression', progressionText(prog_), async () => {
        const r = await choose('Progression after the session', progressionsFor(s).map((p) => ({ value: p.value, label: p.label })));
        if (r === null) return;
        if (r === 'none') { s.progression = { rule: 'none' }; render(); return; }
        const unit = PROGRESSIONS.find((p) => p.value === r).unit;
        const v = await keypad({ title: `Progression: ${PROGRESSIONS.find((p) => p.value === r).label}`, layout: 'decimal', unit,
          value: s.progression && s.progression.rule === r ? s.progression.amount : '', validate: rule('progression_amount'), hint: '0.5–20' });
        if (v !== null) s.progression = { rule: r, amount: Number(v) };
        render();
      }), 'progression'),
    );
  }

  async function editName() {
    const v = await keypad({ title: 'Programme name', layout: 'alpha', value: prog.name,
      validate: (t) => (t.trim().length < 1 ? 'Enter a name' : t.length > 64 ? 'At most 64 characters' : null) });
    if (v !== null) { prog.name = v.trim(); render(); }
  }
  function addStep() { prog.steps.push(newStep()); sel = prog.steps.length - 1; render(); }
  function removeStep() {
    if (prog.steps.length <= 1) { toast('A programme needs at least one step', 'info'); return; }
    prog.steps.splice(sel, 1); sel = Math.max(0, sel - 1); render();
  }
  function move(d) {
    const j = sel + d;
    if (j < 0 || j >= prog.steps.length) return;
    [prog.steps[sel], prog.steps[j]] = [prog.steps[j], prog.steps[sel]];
    sel = j; render();
  }
  async function save() {
    const body = { name: prog.name, steps: prog.steps.map(cleanStep) };
    try {
      if (id) await api.updateProgramme(id, body);
      else {
        const r = await api.createProgramme(body);
        toast(`Programme saved`, 'info');
        app.go('programme', r.id);
        return;
      }
      toast('Programme saved', 'info');
    } catch (e) { msg.textContent = apiMsg(e); }
  }
  async function remove() {
    if (!(await confirmBox('Delete programme', `Delete "${prog.name}"? Members assigned to it keep their history.`, 'Delete'))) return;
    try { await api.deleteProgramme(id); app.go('programmes'); } catch (e) { msg.textContent = apiMsg(e); }
  }

  if (id) {
    api.programme(id).then((p) => {
      prog.name = p.name || '';
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
      h('button.btn.primary', { 'data-test': 'new-member', onclick: addMember }, 'New member'), list),
    detail));

  function progName(pid) {
    const p = programmes.find((x) => String(x.id) === String(pid));
    return p ? p.name : 'None';
  }

  function renderList() {
    clear(list);
    for (const m of members) {
      list.append(h('button.btn', { class: `btn${sel && sel.id === m.id ? ' on' : ''}`, 'data-number': String(m.number),
        onclick: () => { sel = m; renderList(); renderDetail(); } }, `${m.number}  ${m.name || ''}`));
    }
  }

  function renderDetail() {
    clear(detail);
    if (!sel) { detail.append(h('h2', 'Members'), h('p.muted', 'Choose a member on the left, or add one.')); return; }
    const m = sel;
    const out = h('div.err');
    const put = async (patch) => {
      try {
        const r = 'programme_id' in patch ? await api.assignProgramme(m.id, patch.programme_id) : await api.updateMember(m.id, patch);
        Object.assign(m, patch, r && typeof r === 'object' ? r : {});
        toast('Saved', 'info');
        renderList(); renderDetail();
      } catch (e) { out.textContent = apiMsg(e); }
    };
    detail.append(
      h('h2', `${m.name || 'Member'} · ${m.number}`),
      h('div.field', h('label', 'Programme'), h('button.btn.value', { 'data-test': 'm-programme', onclick: async () => {
        const v = await choose('Assign a programme', [{ value: '__none', label: 'None' }, ...programmes.map((p) => ({ value: String(p.id), label: p.name }))]);
        if (v === null) return;
        put({ programme_id: v === '__none' ? null : (Number.isFinite(Number(v)) ? Number(v) : v) });
      } }, progName(m.programme_id))),
      h('div.field', h('label', 'Assessed max'), h('button.btn.value', { 'data-test': 'm-max', onclick: async () => {
        const v = await keypad({ title: 'Assessed max (entered by hand)', layout: 'decimal', unit: 'N', value: m.assessed_max_n || '', validate: rule('assessed_max_n'), hint: '1–10000 N' });
        if (v !== null) put({ assessed_max_n: Number(v) });
      } }, m.assessed_max_n ? loadPrecise(m.assessed_max_n) : 'not assessed')),
      h('div.field', h('label', t('Assessment')), h('button.btn.value', { 'data-test': 'm-assess', onclick: async () => {
        try {
          const r = await api.assignAssessment(m.id, !m.assessment_assigned);
          m.assessment_assigned = r.assigned;
          toast(r.assigned ? t('Assessment assigned') : t('Assessment withdrawn'), 'info');
          renderDetail();
        } catch (e) { out.textContent = apiMsg(e); }
      } }, m.assessment_assigned ? t('assigned: tap to withdraw') : t('Assign an assessment'))),
      h('div.field', h('label', 'Name'), h('button.btn.value', { onclick: async () => {
        const v = await keypad({ title: 'Name', layout: 'alpha', value: m.name || '', validate: (t) => (t.trim() ? null : 'Enter a name') });
        if (v !== null) put({ name: v.trim() });
      } }, m.name || '–')),
      h('p.small.muted', m.last_session ? `Last session ${m.last_session}` : ''),
      out);
  }

  async function addMember() {
    const num = await keypad({ title: 'New member: number', validate: (t) => rule('member_number')(t) || (members.some((m) => String(m.number) === t) ? 'This number is taken' : null), hint: 'member number' });
    if (num === null) return;
    const name = await keypad({ title: 'New member: name', layout: 'alpha', validate: (t) => (t.trim() ? null : 'Enter a name') });
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
