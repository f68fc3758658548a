// (p) The physiotherapists' programme, end to end (issue 13's acceptance
// walk-through): one member, on the real daemon and simulator, through
//   1. the strength assessment staff assign and the member does (protocol/1-assessment.mjs);
//   2. a %-based programme over several sessions, the clock moved forward
//      (protocol/2-programme.mjs);
//   3. the member's progress: schedule, adherence, charts, per-rep feedback,
//      a PAIN stop (protocol/3-progress.mjs);
//   4. staff: the member page, the PAIN event, the audit entry with their own
//      name, the CSV export and the report (protocol/4-staff.mjs).
// Each step is a module exporting `name` and `async run(t, ctx)`; a step
// makes what it needs when an earlier step did not run (so one step can be
// run alone: SOLEUS_PROTOCOL_STEPS=3 ./real.sh BUILD '(p)'). Screenshots of
// every screen go to tests/artifacts/screenshots/protocol-*.png.

import { env, roleLogin } from './lib.mjs';

const STEP_FILES = ['1-assessment.mjs', '2-programme.mjs', '3-progress.mjs', '4-staff.mjs'];

async function api(base, method, p, body, tok) {
  const r = await fetch(`${base}/api/v1${p}`, {
    method, headers: tok ? { Authorization: `Bearer ${tok}` } : {}, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  const j = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${text}`);
  return j;
}

/** The walk-through's shared state: the member, and how staff sign in. */
async function makeContext(t) {
  const ctx = {
    api: (method, p, body, tok) => api(t.base, method, p, body, tok),
    member: { number: `2${String(Date.now()).slice(-4)}`, name: 'PETRA PROTOCOL' },
    /** Staff sign in on the HMI (a named account once there is one). */
    staffLogin: (page) => roleLogin(page, 'staff'),
    /** A staff token from the API. */
    staffToken: async () => (await api(t.base, 'POST', '/login', { role: 'staff', pin: env.staffPin })).token,
    done: new Set(),  // names of the steps that ran
  };
  const tok = await ctx.staffToken();
  const { id } = await ctx.api('POST', '/members', { number: ctx.member.number, name: ctx.member.name }, tok);
  ctx.member.id = id;
  await ctx.api('POST', '/logout', {}, tok);
  return ctx;
}

export const protocolTest = {
  name: "(p) the physiotherapists' programme: assessment, sessions over weeks, progress, staff",
  async fn(t) {
    const only = (process.env.SOLEUS_PROTOCOL_STEPS || '').split(',').filter(Boolean).map(Number);
    const ctx = await makeContext(t);
    for (const [i, file] of STEP_FILES.entries()) {
      if (only.length && !only.includes(i + 1)) continue;
      const step = await import(`./protocol/${file}`);
      const t0 = Date.now();
      await step.run(t, ctx);
      ctx.done.add(step.name);
      t.log(`step ${i + 1} (${step.name}): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  },
};
