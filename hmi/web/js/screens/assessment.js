// The guided strength assessment (docs/assessment.md): the member's screen
// through the warm-up, each maximal push and each rest, with the live force,
// the pushes' results and the final result ("beyond the machine's range", or
// a retry when the pushes disagree). The daemon runs the steps (GET/POST
// /api/v1/assessment…); this screen only shows its card and presses Next.
// Every text through t(). The STOP and PAIN rail is the shell's, as for any set.

import { api, live, ApiError } from '../api.js';
import { h, toast, clear } from '../ui.js';
import { t } from '../i18n.js';
import { load, settings } from '../format.js';

function forceText(n) {
  if (n === null || n === undefined) return t('≥ max load');
  return settings.unit === 'kg' ? `${load(n)} (${Math.round(n)} N)` : `${Math.round(n)} N`;
}

function errText(e) {
  if (e instanceof ApiError) return `${e.field ? e.field + ': ' : ''}${e.message}`;
  return String(e && e.message ? e.message : e);
}

export function mountAssessment(root, params, app) {
  let alive = true;
  let card = null;
  let poll = null;
  let tick = null;
  let restEnd = 0;
  let pushFrom = 0;  // when the running push's hold became active (ms)
  let peak = 0;
  const body = h('div.panel.col', { 'data-test': 'assessment', style: { height: '100%' } });
  root.append(body);
  const forceEl = h('div.v', { 'data-test': 'a-force', style: { fontSize: '48px' } }, '–');
  const countEl = h('div.rest-count', { 'data-test': 'a-count' });
  const repsEl = h('div.v', { 'data-test': 'a-reps' }, '0');
  const phaseEl = h('p', { 'data-test': 'a-phase', style: { fontSize: '28px', fontWeight: 'bold' } });

  const offLive = live.on((msg) => {
    if (!card || !card.set_running) return;
    const f = Number(msg.force_n) || 0;
    if (msg.state === 'active' && card.range) {
      if (!pushFrom) pushFrom = Date.now();
      peak = Math.max(peak, f);
    }
    forceEl.textContent = `${Math.round(f)} N`;
    if (!card.range) {
      repsEl.textContent = String(msg.reps ?? 0);
      phaseEl.textContent = msg.state === 'calibrating' ? t('Slowly all the way up, then all the way down')
        : msg.phase === 'concentric' ? t('Raise') : msg.phase === 'eccentric' ? t('Lower') : msg.state === 'unloading' ? t('Done: relax') : '';
    }
  });

  async function refresh() {
    try {
      card = await api.assessment();
    } catch (e) {
      clear(body).append(h('h2', t('Strength assessment')), h('p.err', errText(e)),
        h('button.btn', { onclick: () => app.go('today') }, t('Back')));
      return;
    }
    if (alive) render();
  }

  async function press(fn, what) {
    try {
      card = await fn();
      if (what === 'next') { pushFrom = 0; peak = 0; }
      render();
    } catch (e) { toast(errText(e), 'warn', 6000); refresh(); }
  }

  function trialsTable() {
    if (!card.trials || !card.trials.length) return '';
    return h('div.facts', { 'data-test': 'a-trials' }, card.trials.map((tr, i) =>
      h('div.fact', h('div.k', t('Push {n}', { n: i + 1 })),
        h('div.v', { 'data-test': `a-trial-${i + 1}` }, tr.beyond_range ? t('≥ max load') : forceText(tr.force_n)))));
  }

  function render() {
    clearInterval(tick);
    clear(body);
    body.append(h('h2', t('Strength assessment')));
    const c = card;
    const total = c.trials_total;
    if (c.step === 'done' && c.result) {
      const r = c.result;
      if (r.complete && r.beyond_range) {
        body.append(h('div', { 'data-test': 'a-result', 'data-beyond': 'true' },
          h('h3', t('≥ {max}: beyond the machine\'s range', { max: forceText(c.max_load_n) })),
          h('p', t('You pushed harder than the machine can hold. Your loads are set by staff.'))));
      } else if (r.complete) {
        body.append(h('div', { 'data-test': 'a-result', 'data-max': String(r.max_n) },
          h('h3', t('Your maximal force: {force}', { force: forceText(r.max_n) })),
          h('p', t('Best of {n} pushes; they differed by {spread} %.', { n: c.trials.length, spread: r.spread_pct })),
          h('p.small.muted', t('Your %-based loads now use this value.'))));
      } else if (r.refused) {
        body.append(h('div', { 'data-test': 'a-refused' },
          h('h3', t('The pushes differed by {spread} %', { spread: r.spread_pct })),
          h('p', t('More than {max} % apart: the result is not reliable. Rest, then try the pushes again.', { max: c.max_spread_pct }))));
      } else {
        body.append(h('div', { 'data-test': 'a-incomplete' },
          h('h3', t('Assessment incomplete')), h('p', r.note)));
      }
      body.append(trialsTable());
      body.append(h('div.row',
        r.refused ? h('button.btn.big.primary', { 'data-test': 'a-retry', onclick: () => press(api.assessmentRetry, 'retry') }, t('Retry the pushes')) : null,
        h('button.btn.big', { 'data-test': 'a-finish', onclick: async () => { try { await api.assessmentEnd(); } catch (e) { /* shown below */ } app.go('today'); } }, t('Finish'))));
      return;
    }
    if (c.set_running) {
      const warm = !c.range;
      body.append(h('h3', warm ? t('Warm-up') : t('Push {n} of {total}', { n: c.trial, total })),
        h('p', warm
          ? t('Follow the pad: the first rep is slow and light and measures your range, then {n} light reps.', { n: c.warmup_reps })
          : t('Rise until the pad stops you, then push up as hard as you can. Keep pushing until the count ends.')),
        warm ? phaseEl : '',
        h('div.facts', h('div.fact', h('div.k', t('Force')), forceEl),
          warm ? h('div.fact', h('div.k', t('Reps')), repsEl) : h('div.fact', h('div.k', t('Seconds left')), countEl)),
        trialsTable());
      if (!warm) {
        tick = setInterval(() => {
          if (!pushFrom) { countEl.textContent = t('wait'); return; }
          const left = Math.max(0, c.push_s - (Date.now() - pushFrom) / 1000);
          countEl.textContent = left > 0 ? String(Math.ceil(left)) : t('relax');
        }, 200);
      }
      return;
    }
    if (c.next === 'wait') {
      restEnd = Date.now() + Number(c.rest_remaining_s) * 1000;
      const nextBtn = h('button.btn.big.primary', { 'data-test': 'a-next', disabled: true, onclick: () => press(api.assessmentNext, 'next') }, t('Start push {n}', { n: c.trials_done + 1 }));
      body.append(h('h3', t('Rest')), h('p', t('Relax. The next push starts when you press the button after the rest.')),
        h('div.rest-count', { 'data-test': 'a-rest' }), nextBtn, trialsTable());
      const restEl = body.querySelector('[data-test="a-rest"]');
      const step = () => {
        const left = (restEnd - Date.now()) / 1000;
        restEl.textContent = left > 0 ? `${Math.ceil(left)} s` : t('Ready');
        if (left <= 0) { nextBtn.disabled = false; clearInterval(tick); }
      };
      step();
      tick = setInterval(step, 200);
      return;
    }
    if (c.next === 'trial') {
      body.append(h('h3', t('Push {n} of {total}', { n: c.trials_done + 1, total })),
        h('p', t('The pad will hold at the middle of your range. Rise until it stops you, then push up as hard as you can for {s} s.', { s: c.push_s })),
        h('button.btn.big.primary', { 'data-test': 'a-next', onclick: () => press(api.assessmentNext, 'next') }, t('Start push {n}', { n: c.trials_done + 1 })),
        trialsTable());
      return;
    }
    // Not begun (or the warm-up is next).
    body.append(
      h('p', t('The assessment measures the greatest force your calves can push with, knee bent.')),
      h('ol.small',
        h('li', t('Warm-up: a slow range rep, then {n} light reps.', { n: c.warmup_reps })),
        h('li', t('{n} maximal pushes of {s} s at the middle of your range, with {r} s of rest before each.', { n: total, s: c.push_s, r: c.rest_s })),
        h('li', t('STOP or PAIN ends the assessment at once; it is then incomplete.'))),
      h('p.small.muted', t('Sit down, balls of the feet on the plate, pad on your thighs.')),
      h('div.row',
        h('button.btn.big.primary', { 'data-test': 'a-start', onclick: () => press(async () => { await api.assessmentStart(); return api.assessmentNext(); }, 'next') }, t('Start warm-up')),
        h('button.btn.big', { onclick: () => app.go('today') }, t('Back'))));
  }

  refresh();
  poll = setInterval(() => { if (alive) refresh(); }, 1000);
  return () => { alive = false; clearInterval(poll); clearInterval(tick); offLive(); };
}

/** The Today card's panel: an assigned assessment, or "Start assessment". */
export function assessmentPanel(card, app) {
  if (!card) return null;
  if (card.assigned || card.active) {
    return h('div.panel.col', { 'data-test': 'assessment-due' },
      h('h3', t('Strength assessment')),
      h('p', card.active ? t('Your assessment is in progress.') : t('Staff have asked you for a strength assessment.')),
      h('button.btn.big.primary', { 'data-test': 'go-assessment', onclick: () => app.go('assessment') }, t('Start assessment')));
  }
  return h('button.btn', { 'data-test': 'go-assessment', onclick: () => app.go('assessment') }, t('Start assessment'));
}
