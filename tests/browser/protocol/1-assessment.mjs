// Walk-through step 1: the strength assessment (issue 13 §1, docs/assessment.md).
// Staff assign it on the HMI (members list → "Assign an assessment"); the
// member signs in, finds it on the Today card and does it on the HMI: the
// warm-up (range rep and a light rep), then the maximal pushes with their
// rests. The simulated athlete has a known maximal force (the simulator's
// truth, capacity_n); the assessed max must be within 5 % of it.
// Adds to ctx: ctx.assessment = {max_n, truth_n} (N).
// The test daemon runs a short assessment ([assessment] in real-system.mjs'
// testConfig: 1 warm-up rep, 3 s pushes, 3 s rests).

import { assert, athlete, memberLogin, openHmi, ready, shot, signOut, tap, token, waitFor } from '../lib.mjs';

export const name = 'assessment';

const TRUTH_N = 1100;  // the athlete's maximal force (below the 1800 N max load)

export async function run(t, ctx) {
  const layout = (problems, what) => assert(!problems || !problems.length, `${what}: ${JSON.stringify(problems)}`);
  const page = await openHmi(t.ctx, t.base);

  // Staff assign the assessment from the member list.
  await ctx.staffLogin(page);
  await tap(page, '[data-tab=members]');
  await tap(page, `[data-test=member-list] [data-number="${ctx.member.number}"]`);
  await tap(page, '[data-test=m-assess]');
  await page.waitForFunction(() => /withdraw/.test(document.querySelector('[data-test=m-assess]')?.textContent || ''));
  layout(await shot(page, 'protocol-1-staff-assign', t.report), 'staff assign');
  const tok = await ctx.staffToken();
  const m = await ctx.api('GET', `/members/${ctx.member.id}`, undefined, tok);
  assert(m.assessment_assigned === true, `assigned: ${JSON.stringify(m)}`);
  await signOut(page);

  // The athlete: warm-up reps as tempo (the calibration rep and one), then
  // maximal pushes of its whole capacity.
  await athlete(t, {
    style: 'assessment', tempo: '2-1-2-1', capacity_n: TRUTH_N, iso_fraction: 1, after_reps: 2,
    fatigue_rate: 0, top_mm: 80, bottom_mm: 30, traits: { enabled: false },
  });
  await ready(t);

  await memberLogin(page, ctx.member.number);
  await page.waitForSelector('[data-test=assessment-due]');
  layout(await shot(page, 'protocol-1-today', t.report), 'today');
  await tap(page, '[data-test=go-assessment]');
  await page.waitForSelector('[data-test=a-start]');
  layout(await shot(page, 'protocol-1-intro', t.report), 'intro');
  await tap(page, '[data-test=a-start]');
  await page.waitForSelector('body.set-running', { timeout: 15000 });
  await page.waitForTimeout(2500);
  layout(await shot(page, 'protocol-1-warmup', t.report), 'warm-up');

  const seen = new Set();
  const memberTok = await token(page);
  await waitFor(async () => {
    if (await page.locator('[data-test=a-result], [data-test=a-refused], [data-test=a-incomplete]').count()) return true;
    const running = await page.locator('body.set-running').count();
    const count = await page.locator('[data-test=a-count]').count();
    if (running && count && !seen.has('push')) {
      await page.waitForTimeout(2000);
      layout(await shot(page, 'protocol-1-push', t.report), 'push');
      seen.add('push');
    }
    const rest = await page.locator('[data-test=a-rest]').count();
    if (rest && !seen.has('rest')) {
      layout(await shot(page, 'protocol-1-rest', t.report), 'rest');
      seen.add('rest');
    }
    const next = page.locator('[data-test=a-next]:not([disabled])');
    if (!running && await next.count()) {
      if (!seen.has('next')) { layout(await shot(page, 'protocol-1-next', t.report), 'next push'); seen.add('next'); }
      await ready(t);
      await next.first().tap().catch(() => {});
    }
    return false;
  }, 150000, 'the assessment\'s result').catch(async (e) => {
    await shot(page, 'protocol-1-timeout', t.report);
    const card = await ctx.api('GET', '/assessment', undefined, memberTok).catch((x) => String(x));
    throw new Error(`${e.message}; card ${JSON.stringify(card)}`);
  });
  layout(await shot(page, 'protocol-1-result', t.report), 'result');
  assert(await page.locator('[data-test=a-result]').count(),
    `no result: ${await page.locator('[data-test=assessment]').textContent()}`);
  const maxN = Number(await page.locator('[data-test=a-result]').getAttribute('data-max'));
  const truth = t.sys && t.sys.sim ? await t.sys.sim({ cmd: 'truth' }) : null;
  const truthN = truth ? Number(truth.capacity_n) : TRUTH_N;
  t.log(`assessed ${maxN} N, truth ${truthN} N`);
  assert(Math.abs(maxN - truthN) <= 0.05 * truthN, `assessed ${maxN} N is not within 5 % of ${truthN} N`);
  const list = await ctx.api('GET', `/members/${ctx.member.id}/assessments`, undefined, tok);
  assert(list.assessments.length >= 1 && list.assessments[0].complete && list.assessments[0].max_n === maxN,
    `stored: ${JSON.stringify(list)}`);
  const after = await ctx.api('GET', `/members/${ctx.member.id}`, undefined, tok);
  assert(after.assessed_max_n === maxN && after.assessed_method === 'isometric' && !after.assessment_assigned,
    `member: ${JSON.stringify(after)}`);
  await tap(page, '[data-test=a-finish]');
  await page.waitForFunction(() => /#\/today/.test(location.hash));
  await signOut(page);
  assert(page.errors.length === 0, `script errors: ${page.errors.join('\n')}`);
  ctx.assessment = { max_n: maxN, truth_n: truthN };
  await page.close();
}
