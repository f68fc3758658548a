// Walk-through step 2 (issue 13 §2): staff create a %-of-max programme on
// the HMI (1 step, 1 set, double progression over 3–4 reps at tempo 1-0-1-0,
// +10 % at the top, a 6-week block every other day) and assign it; the member
// runs 3 sessions on the HMI with the daemon's clock moved forward 2 days
// between them. Ground truth is the API: each set's reps and load as the
// daemon recorded them (GET /sets/{id}), the change log
// (GET /members/{id}/progression) and the schedule (GET /members/{id}/schedule);
// the Today card must show the same week, count, next due and adherence.
//
// Needs soleusd-test (the clock hook; tests/browser/real-system.mjs, point 5).
// Reads ctx.member (and its assessed max, from step 1; else puts one through
// the API). Adds to ctx:
//   ctx.programme = {id, name}  the programme the member follows from here on.

import { env, assert, assertEq, tap, typeKeys, keypadOk, memberLogin, signOut, token, apiGet, shot, waitFor, openHmi, ready, athlete } from '../lib.mjs';

export const name = 'programme';

const DAY_MS = 86400000;
const TEMPO = '1-0-1-0';
const PCT = 50;       // % of the assessed max
const STEP_PCT = 10;  // the load increment at the top of the range

function layoutOk(problems, what) {
  assert(problems.length === 0, `layout of ${what}: ${problems.join('; ')}`);
}

/** Staff build the programme in the editor; returns {id, name}. */
async function createProgramme(t, page) {
  await tap(page, '[data-test=new-programme]');
  const pname = `DOUBLE ${String(Date.now()).slice(-5)}`;
  await tap(page, '[data-test=p-name]');
  await typeKeys(page, pname);
  await keypadOk(page);
  await tap(page, '.seg[data-name=mode] [data-value=isotonic]');
  await tap(page, '[data-test=f-sets]');
  await typeKeys(page, '1');
  await keypadOk(page);
  await tap(page, '.seg[data-name=load-unit] [data-value=pct]');
  await tap(page, '[data-test=f-load_pct]');
  await typeKeys(page, String(PCT));
  await keypadOk(page);
  await tap(page, '[data-test=f-tempo]');
  await typeKeys(page, TEMPO);
  await keypadOk(page);
  await tap(page, '[data-test=f-rest_s]');
  await typeKeys(page, '5');
  await keypadOk(page);
  // Double progression: +10 % of the load at the top, over a 3–4 rep range.
  await tap(page, '[data-test=f-progression]');
  await tap(page, '.chooser [data-value=double]');
  await tap(page, '.chooser [data-value=load_pct]');
  await typeKeys(page, String(STEP_PCT));
  await keypadOk(page);
  await typeKeys(page, '3');
  await keypadOk(page);
  await typeKeys(page, '4');
  await keypadOk(page);
  await page.waitForSelector('[data-test=f-rep_range]');
  assertEq((await page.locator('[data-test=f-rep_range]').textContent()).trim(), '3–4', 'the rep range on the editor');
  assert(/3–4 reps, then \+10 %/.test(await page.locator('[data-test=f-progression]').textContent()), 'the rule in words');
  layoutOk(await shot(page, 'protocol-2-editor-step', t.report), 'editor: step');
  // The schedule: the articles' default, a 6-week block every other day, then 3 a week.
  await tap(page, '[data-test=tab-schedule]');
  await page.waitForSelector('[data-test=f-block_weeks]');
  assertEq((await page.locator('[data-test=f-block_weeks]').textContent()).trim(), '6 weeks', 'block of 6 weeks by default');
  await tap(page, '.seg[data-name=block-freq] [data-value=eod]');
  assertEq((await page.locator('[data-test=f-after_block_sessions_per_week]').textContent()).trim(), '3 a week', 'then 3 a week');
  layoutOk(await shot(page, 'protocol-2-editor-schedule', t.report), 'editor: schedule');
  await tap(page, '[data-test=p-save]');
  await page.waitForURL(/#\/programme\/[^n]/, { timeout: 10000 });
  const id = Number(decodeURIComponent(page.url().split('#/programme/')[1]));
  const saved = await apiGet(t.base, `/programmes/${id}`, await token(page));
  const st = saved.steps[0];
  assertEq(JSON.stringify([saved.block_weeks, saved.block_every_other_day, saved.after_block_sessions_per_week]),
    JSON.stringify([6, true, 3]), 'the block rule saved');
  assertEq(JSON.stringify([st.sets, st.load_pct, st.tempo, st.rep_min, st.rep_max, st.target_reps, st.progression.rule, st.progression.increment, st.progression.amount]),
    JSON.stringify([1, PCT, TEMPO, 3, 4, 3, 'double', 'load_pct', STEP_PCT]), 'the step saved');
  return { id, name: pname };
}

/** The Today card's schedule, as the screen shows it. */
async function todayCard(page) {
  await page.waitForSelector('[data-test=schedule]', { timeout: 15000 });
  const text = async (sel) => ((await page.locator(`[data-test=schedule] [data-test=${sel}]`).textContent().catch(() => '')) || '').trim();
  return { week: await text('block-week'), thisWeek: await text('this-week'), next: await text('next-due'), adherence: await text('adherence') };
}

/** Runs the card's set on the HMI; returns the set as GET /sets/{id} has it. */
async function runSet(t, page) {
  await ready(t);
  await tap(page, '[data-test=start]');
  await page.waitForSelector('body.set-running', { timeout: 15000 });
  await waitFor(async () => /#\/summary\//.test(page.url()), env.setTimeoutS * 1000, 'the set to end');
  const id = decodeURIComponent(page.url().split('#/summary/')[1]);
  await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])', { timeout: 15000 });
  return apiGet(t.base, `/sets/${id}`, await token(page));
}

export async function run(t, ctx) {
  // Not a skip: that would skip the whole walk-through's other steps too.
  if (!t.sys || !t.sys.advanceClock || !t.sys.testHooks) throw new Error('step 2 needs soleusd-test (the clock hook): build the target soleusd-test, and do not set SOLEUS_BROWSER_TEST_HOOKS=0');
  await athlete(t, { style: 'tempo', tempo: TEMPO });
  const staff = await ctx.staffToken();
  let member = await ctx.api('GET', `/members/${ctx.member.id}`, undefined, staff);
  if (!member.assessed_max_n) {  // step 1 did not run: a max through the API
    await ctx.api('PUT', `/members/${ctx.member.id}`, { assessed_max_n: 1000 }, staff);
    member = await ctx.api('GET', `/members/${ctx.member.id}`, undefined, staff);
  }
  const max = member.assessed_max_n;

  // Staff: the programme on the HMI, assigned to the member.
  const page = await openHmi(t.ctx, t.base);
  await ctx.staffLogin(page);
  ctx.programme = await createProgramme(t, page);
  await tap(page, '[data-tab=members]');
  await tap(page, `[data-number="${ctx.member.number}"]`);
  await tap(page, '[data-test=m-programme]');
  await tap(page, `.chooser [data-value="${ctx.programme.id}"]`);
  await page.waitForFunction((n) => document.querySelector('[data-test=m-programme]')?.textContent === n, ctx.programme.name);
  await signOut(page);

  // The member: 3 sessions, 2 days apart. The rule: target 3 → reached → 4;
  // 4 = the top → load +10 %, target back to 3; then 3 again at the new load.
  const base = Math.round(max * PCT / 100);
  const expect = [
    { target: 3, load: base, change: 'target_up' },
    { target: 4, load: base, change: 'load_up' },
    { target: 3, load: Math.round((max * PCT / 100) * (1 + STEP_PCT / 100)), change: 'target_up' },
  ];
  const sets = [];
  for (const [i, e] of expect.entries()) {
    if (i > 0) await t.sys.advanceClock(2 * DAY_MS);
    await memberLogin(page, ctx.member.number);
    const before = await todayCard(page);
    const sc0 = await ctx.api('GET', `/members/${ctx.member.id}/schedule`, undefined, staff);
    assertEq(sc0.phase, 'block', 'in the block');
    assertEq(sc0.block_week, 1, 'days 0, 2 and 4 are in week 1');
    assertEq(sc0.this_week.done, i, `sessions done this week before session ${i + 1}`);
    assertEq(sc0.next_due_in_days, 0, 'due today (every other day)');
    assertEq(before.week, 'Week 1 of 6', 'the Today card: the block\'s week');
    assertEq(before.thisWeek, `This week ${i} of 4`, 'the Today card: this week against plan');
    assert(/^Next: today/.test(before.next), `the Today card: next due today: "${before.next}"`);
    assert(before.adherence.includes(`W1 ${i}/4`), `the Today card: adherence "${before.adherence}"`);
    layoutOk(await shot(page, `protocol-2-today-${i + 1}`, t.report), `Today card ${i + 1}`);
    const card = await apiGet(t.base, '/session', await token(page));
    assertEq(card.step.target_reps, e.target, `session ${i + 1}: the target the rule set`);
    assertEq(card.step.load_n, e.load, `session ${i + 1}: the load the rule set`);

    const set = await runSet(t, page);
    t.log(`session ${i + 1}: set ${set.id}: ${set.reps} reps at ${set.load_n} N (${set.stop_reason})`);
    assertEq(set.stop_reason, 'target_reached', `session ${i + 1}: the set reached its target`);
    assertEq(set.reps, e.target, `session ${i + 1}: reps as recorded`);
    assertEq(Math.round(set.load_n), e.load, `session ${i + 1}: load as recorded`);
    sets.push(set);
    await tap(page, '[data-test=finish]');  // ends the session: the rules apply now
    await page.waitForSelector('[data-test=member-login]');
    const log = await ctx.api('GET', `/members/${ctx.member.id}/progression`, undefined, staff);
    assertEq(log.length, i + 1, `one change per session (${JSON.stringify(log)})`);
    assertEq(log[0].change, e.change, `session ${i + 1}: the rule's change (${log[0].reason})`);
    assert(log[0].reason.length > 10, `session ${i + 1}: a reason in words`);
  }

  // After the third session (day 4): the schedule and the Today card agree.
  const sc = await ctx.api('GET', `/members/${ctx.member.id}/schedule`, undefined, staff);
  assertEq(JSON.stringify([sc.programme_id, sc.phase, sc.block_week, sc.block_weeks, sc.sessions_per_week]),
    JSON.stringify([ctx.programme.id, 'block', 1, 6, 3.5]), 'the schedule after 3 sessions');
  assertEq(JSON.stringify(sc.this_week), JSON.stringify({ week_start_ms: sc.adherence[0].week_start_ms, planned: 4, done: 3 }), 'this week: 3 of 4');
  assertEq(sc.adherence.length, 1, 'one week of adherence');
  assertEq(sc.next_due_in_days, 2, 'next due 2 days after the last session');
  assertEq(sc.flagged, false, 'not flagged');
  assertEq(sc.reassessment_due, false, 'no reassessment due in week 1');
  await memberLogin(page, ctx.member.number);
  const after = await todayCard(page);
  assertEq(after.thisWeek, 'This week 3 of 4', 'the Today card after 3 sessions');
  assert(/^Next: in 2 days/.test(after.next), `the Today card: next due in 2 days: "${after.next}"`);
  assert(after.adherence.includes('W1 3/4'), `adherence on the card: "${after.adherence}"`);
  const card = await apiGet(t.base, '/session', await token(page));
  assertEq(card.step.target_reps, 4, 'the next target: 4');
  layoutOk(await shot(page, 'protocol-2-today-after', t.report), 'Today card after 3 sessions');
  await signOut(page);
  assertEq(page.errors.join('\n'), '', 'no script errors');
  await page.close();
  t.log(`clock moved ${t.sys.clockOffsetMs() / DAY_MS} days; loads ${sets.map((s) => Math.round(s.load_n)).join(' → ')} N`);
}
