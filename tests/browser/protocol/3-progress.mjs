// Step 3 of the walk-through (issue 13 §3): the member's progress.
//  1. The member (ctx.member.number) runs a free set of 3 reps at 1-0-1-0 on
//     the HMI; during it the live screen's per-rep feedback (on tempo / too
//     fast / too slow, full range or not) is read and checked against the
//     set's stored rep_log (GET /sets/{id}), the ground truth.
//  2. A second set ended with the rail's PAIN button.
//     (With step 2's sessions these are more sessions; alone, they make two.)
//  3. History: the sessions chart, tap a session, tap a set: its force curve
//     shows one series per rep of GET /sets/{id}/trace.
//  4. Staff open the member page: the PAIN stop is listed (time, set, rep).
// Adds to ctx: ctx.painSet = {id, rep} (the PAIN set and the rep attempts
// recorded before the stop), ctx.progressSet = id of the completed set.

import {
  assert, assertEq, athlete, ready, tap, typeKeys, keypadOk, memberLogin, signOut, shot, token, apiGet, waitFor, env, openHmi,
} from '../lib.mjs';

export const name = 'progress';

const TEMPO = '1-0-1-0';

function layoutOk(problems, what) { assert(problems.length === 0, `layout of ${what}: ${problems.join('; ')}`); }

/** Sets the quick screen to 3 reps at 1-0-1-0 and a light load, then Start. */
async function startFreeSet(t, page) {
  await page.evaluate(() => { location.hash = '#/quick'; });
  await page.waitForSelector('[data-test=q-load]');
  await tap(page, '[data-test=q-load]');
  await typeKeys(page, '30');
  await keypadOk(page);
  await tap(page, '[data-test=q-reps]');
  await typeKeys(page, '3');
  await keypadOk(page);
  await tap(page, `.seg[data-name=tempo] [data-value="${TEMPO}"]`);
  await ready(t);
  await tap(page, '[data-test=start]');
  await page.waitForSelector('body.set-running', { timeout: 15000 });
}

export async function run(t, ctx) {
  const page = await openHmi(t.ctx, t.base);
  await athlete(t, { style: 'tempo', tempo: TEMPO });
  await memberLogin(page, ctx.member.number);
  const tok = await token(page);

  // ---- 1. a set with per-rep feedback
  await startFreeSet(t, page);
  const seen = new Map(); // seq -> {n, tempo, full}
  let liveShot = false;
  await waitFor(async () => {
    if (/#\/summary\//.test(page.url())) return true;
    const fb = await page.evaluate(() => {
      const el = document.querySelector('.live [data-test=rep-feedback]');
      return el && el.dataset.seq ? { ...el.dataset } : null;
    }).catch(() => null);
    if (fb && !seen.has(fb.seq)) {
      seen.set(fb.seq, fb);
      if (!liveShot && Number(fb.n) >= 1) {
        liveShot = true;
        layoutOk(await shot(page, 'protocol-3-live-rep-feedback', t.report), 'live with per-rep feedback');
      }
    }
    return false;
  }, env.setTimeoutS * 1000, 'the progress set to end');
  const setId = decodeURIComponent(page.url().split('#/summary/')[1]);
  await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])', { timeout: 15000 });
  const set = await apiGet(t.base, `/sets/${setId}`, tok);
  ctx.progressSet = Number(setId);
  t.log(`progress set ${setId}: ${set.reps} reps, ${set.stop_reason}; feedback seen for attempts ${[...seen.keys()].join(', ')}`);
  assertEq(set.stop_reason, 'target_reached', 'the set runs to its 3 reps');
  // The feedback against the stored reps: a counted rep's verdict is its rep_log
  // entry's; a rep shown as not counted has no rep_log entry.
  const bySeq = new Map(set.rep_log.map((r) => [String(r.seq), r]));
  let counted = 0;
  for (const [seq, fb] of seen) {
    const r = bySeq.get(seq);
    if (fb.full === 'true') {
      assert(r, `rep attempt ${seq} shown as counted is in the rep_log: ${JSON.stringify(set.rep_log)}`);
      assertEq(fb.n, String(r.n), `rep number of attempt ${seq}`);
      assertEq(fb.tempo, r.tempo, `tempo verdict of rep ${r.n}`);
      assertEq(fb.tempo, r.on_tempo ? 'on_tempo' : r.tempo_deviation_s < 0 ? 'too_fast' : 'too_slow', `verdict of rep ${r.n} from on_tempo and the deviation's sign`);
      counted++;
    } else {
      assert(!r, `rep attempt ${seq} shown as not counted is not a counted rep of the rep_log`);
    }
  }
  assert(counted >= 2, `per-rep feedback shown for at least 2 counted reps during the set (saw ${counted})`);
  // The summary's fatigue index is the set view's.
  const fat = await page.locator('[data-test=sum-fatigue]').getAttribute('data-fatigue');
  assertEq(fat === '' ? null : Number(fat), set.fatigue_index_pct, 'fatigue index on the summary');
  // A dynamic set's first counted rep is left out (it runs under the ramp to the full load): 4 counted reps give a figure.
  assert(set.reps >= 4 ? Number.isFinite(set.fatigue_index_pct) : set.fatigue_index_pct === null, `fatigue index with ${set.reps} reps: ${set.fatigue_index_pct}`);
  layoutOk(await shot(page, 'protocol-3-summary-fatigue', t.report), 'summary with the fatigue index');

  // ---- 2. a set ended with PAIN, after its first counted rep
  await startFreeSet(t, page);
  await page.waitForFunction(() => Number(document.querySelector('.live [data-test=reps]')?.textContent) >= 1, null, { timeout: env.setTimeoutS * 1000 });
  await tap(page, '#pain');
  await page.waitForURL(/#\/summary\//, { timeout: 20000 });
  await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])', { timeout: 15000 });
  const painId = Number(decodeURIComponent(page.url().split('#/summary/')[1]));
  const pain = await apiGet(t.base, `/sets/${painId}`, tok);
  assertEq(pain.stop_reason, 'pain', 'the PAIN button ends the set with pain');
  layoutOk(await shot(page, 'protocol-3-pain-summary', t.report), 'pain summary');

  // ---- 3. History: chart, a session, a set's force curve per rep
  await tap(page, '[data-tab=history]');
  await page.waitForSelector('[data-test=progress-chart] .uplot', { timeout: 10000 });
  const hist = await apiGet(t.base, `/members/${ctx.member.id}/history?limit=30`, tok);
  assert(hist.length >= 2, `two sessions or more in the history: ${hist.length}`);
  const points = Number(await page.locator('[data-test=progress-chart]').getAttribute('data-points'));
  assertEq(points, hist.filter((e) => Number.isFinite(e.load_x_reps_n)).length, 'one chart point per session');
  layoutOk(await shot(page, 'protocol-3-history', t.report), 'history');
  await tap(page, '.seg[data-name=measure] [data-value=tempo]');
  await page.waitForSelector('[data-test=progress-chart][data-measure=tempo] .uplot');
  layoutOk(await shot(page, 'protocol-3-history-on-tempo', t.report), 'history, % on tempo');
  // The session of the completed set (free sets are a session each).
  const idx = hist.findIndex((e) => e.sets.some((s) => s.set_id === Number(setId)));
  assert(idx >= 0, `set ${setId} is in the history`);
  await tap(page, `[data-test=session-row][data-index="${idx}"]`);
  await page.waitForSelector(`[data-test=set-row][data-set="${setId}"]`);
  layoutOk(await shot(page, 'protocol-3-session', t.report), 'a session\'s sets');
  await tap(page, `[data-test=set-row][data-set="${setId}"]`);
  await page.waitForSelector('[data-test=force-curve][data-series] .uplot', { timeout: 10000 });
  const trace = await apiGet(t.base, `/sets/${setId}/trace`, tok);
  const withSamples = trace.reps.filter((r) => r.t.length > 0);
  assert(withSamples.length >= set.reps, `the trace has a curve for each counted rep (${withSamples.length} of ${set.reps})`);
  // The series uPlot draws (x is series 0), and the legend's entries.
  const series = await page.evaluate(() => document.querySelector('[data-test=force-curve]').uplot.series.length - 1);
  assertEq(await page.locator('[data-test=curve-legend] span').count(), withSamples.length, 'one legend entry per rep');
  assertEq(series, withSamples.length, 'one force series per rep of the trace');
  assertEq(await page.locator('[data-test=force-curve]').getAttribute('data-series'), String(withSamples.length), 'series drawn');
  layoutOk(await shot(page, 'protocol-3-force-curve', t.report), 'force curve per rep');

  // ---- 4. the PAIN stop for staff: the API, then the member page
  await signOut(page);
  const stok = await ctx.staffToken();
  const ev = await ctx.api('GET', `/members/${ctx.member.id}/events`, undefined, stok);
  const pe = ev.events.find((e) => e.set_id === painId);
  assert(pe && pe.reason === 'pain', `the PAIN stop is among the member's events: ${JSON.stringify(ev)}`);
  assertEq(pe.rep, (await apiGet(t.base, `/sets/${painId}`, stok)).reps + pain.partial_reps, 'rep attempts before the PAIN');
  ctx.painSet = { id: painId, rep: pe.rep };
  await ctx.staffLogin(page);
  await page.evaluate((id) => { location.hash = `#/member/${id}`; }, ctx.member.id);
  await page.waitForSelector('[data-test=progress-chart] .uplot', { timeout: 10000 });
  layoutOk(await shot(page, 'protocol-3-staff-member-page', t.report), 'staff member page');
  await tap(page, '.seg[data-name=member-tab] [data-value=events]');
  await page.waitForSelector(`[data-test=member-event][data-set="${painId}"][data-reason=pain]`);
  layoutOk(await shot(page, 'protocol-3-staff-member-events', t.report), 'staff member events');
  await signOut(page);
  assertEq(page.errors.join('\n'), '', 'no script errors');
  await page.close();
}
