// The browser tests. Each drives the HMI by touch at 800×480 and checks what
// it shows against what the API reports: soleusd with soleus-sim behind it,
// started by the runner (real.sh), or a soleusd named by SOLEUS_URL; see README.md.

import {
  env, assert, assertEq, tap, typeKeys, keypadOk, roleLogin, memberLogin, signOut, token, apiGet, shot,
  injectFault, athlete, ready, waitFor, openHmi, liveRelay, Skip,
} from './lib.mjs';
import { protocolTest } from './protocol.mjs';
import de from '../../hmi/web/js/lang/de.js';

// Short sets: a whole set takes a few seconds on the simulator. The athlete
// follows the same tempo (docs/simulator.md: style "tempo").
const TEMPO = process.env.SOLEUS_TEST_TEMPO || '1-0-1-0';
const REPS = 5;
const real = () => env.real;

// Words each stop reason's sentence must contain (independent of the HMI's own table).
const REASON_WORDS = {
  target_reached: /Target reached/, hold_complete: /Hold complete/, force_drop: /Force dropped( \d+ %)? below your best rep/,
  range_loss: /range/i, pace_loss: /too slow/, stall: /could not raise/, loss_of_control: /unsteady/, user_stop: /You pressed STOP/,
  pain: /You pressed PAIN/, user_left: /let go/, estop: /Emergency stop/, drive_fault: /drive/, comm_loss: /lost contact/,
  sensor_fault: /sensor/, overspeed: /too fast/, travel_limit: /travel/, storage_fault: /saved/, shutdown: /shut down/,
};
const COUNTED = new Set(['force_drop', 'range_loss', 'pace_loss', 'stall', 'loss_of_control', 'user_stop', 'pain', 'user_left']);

/**
 * The test members, made through the staff API: 1001 with a programme,
 * 1002 with PIN 4321, and a wristband tag A1B2C3D4.
 */
async function seedMembers(base) {
  const call = async (method, p, body, tok) => {
    const r = await fetch(`${base}/api/v1${p}`, { method, headers: tok ? { Authorization: `Bearer ${tok}` } : {}, body: body && JSON.stringify(body) });
    const j = await r.json();
    if (!r.ok && r.status !== 409) throw new Error(`${method} ${p}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const { token: tok } = await call('POST', '/login', { role: 'staff', pin: env.staffPin });
  const members = await call('GET', '/members', undefined, tok);
  const list = Array.isArray(members) ? members : members.members || members.items || [];
  if (!list.some((m) => m.number === '1001')) {
    const { id: pid } = await call('POST', '/programmes', { name: 'ACHILLES REHAB', steps: [
      { mode: 'isotonic', sets: 2, target_reps: 6, load_n: 400, tempo: '2-1-2-1', rest_s: 20, progression: { rule: 'load_n', amount: 10 } },
      { mode: 'isometric', sets: 1, hold_s: 20, load_n: 500 }] }, tok);
    for (const m of [{ number: '1001', name: 'ANNA MEIER', assessed_max_n: 1200 }, { number: '1002', name: 'BEN KOCH', pin: '4321' },
      { number: 'A1B2C3D4', name: 'CARLA (WRISTBAND)' }]) {
      const { id } = await call('POST', '/members', m, tok);
      if (m.number !== '1002') await call('PUT', `/members/${id}/programme`, { programme_id: pid }, tok);
    }
  }
  await call('POST', '/logout', {}, tok);
}

function layoutOk(problems, name) {
  assert(problems.length === 0, `layout of ${name}: ${problems.join('; ')}`);
}

// English texts a German screen must not show: the catalogue's keys whose
// German differs (and that are not themselves some German text, as
// "Programme" is).
const GERMAN = new Set(Object.values(de));
const NOT_GERMAN = [...Object.entries(de)].filter(([en, text]) => en !== text && !GERMAN.has(en)).map(([en]) => en);

/** Visible text nodes that are an English catalogue text (not translated). */
async function untranslated(page) {
  return page.evaluate((keys) => {
    const bad = new Set(keys);
    const out = new Set();
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const s = n.textContent.trim();
      const el = n.parentElement;
      if (!s || !bad.has(s) || !el || el.closest('.toast:not(.show)')) continue;
      const r = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      if (r.width > 0 && r.height > 0 && st.visibility !== 'hidden') out.add(s);
    }
    return [...out];
  }, NOT_GERMAN);
}

/** The layout check and a "de-NAME" screenshot of a German screen, with no English text left. */
async function germanScreen(t, page, name) {
  layoutOk(await shot(page, `de-${name}`, t.report), `de-${name}`);
  const left = await untranslated(page);
  assert(left.length === 0, `de-${name}: English text on a German screen: "${left.join('", "')}"`);
}

/** Every tab of the bar (whoever is signed in), in German. */
async function germanTabs(t, page, who) {
  const tabs = await page.locator('#tabs [data-tab]').evaluateAll((els) => els.map((e) => e.dataset.tab));
  for (const tab of tabs) {
    await tap(page, `[data-tab=${tab}]`);
    await page.waitForTimeout(400);
    await germanScreen(t, page, `${who}-${tab}`);
  }
}

/** Settings → language (the segment in Settings), on whatever screen is shown after. */
async function setLanguage(page, lang) {
  await tap(page, '[data-tab=settings]');
  await tap(page, `[data-name=lang] [data-value=${lang}]`);
  await page.waitForFunction((l) => document.documentElement.lang === l, lang);
}

/** Back to the default settings (English, kg), also after a failed test: the browser context is shared. */
async function defaultSettings(page) {
  await page.evaluate(() => localStorage.removeItem('soleus.settings')).catch(() => {});
}

/** Follows a running set on the live view; returns {id, set, observedMax}. */
async function followSet(t, page, label) {
  await page.waitForSelector('body.set-running', { timeout: 15000 });
  await page.waitForSelector('.live [data-test=reps]', { state: 'visible' });
  let observedMax = 0;
  let shotTaken = false;
  const stopBox = await page.locator('#stop').boundingBox();
  assert(stopBox && stopBox.width >= 48 && stopBox.height >= 48, 'STOP is a large target');
  await waitFor(async () => {
    if (/#\/summary\//.test(page.url())) return true;
    // Not an auto-waiting locator: the live view disappears when the set ends.
    const txt = await page.evaluate(() => document.querySelector('.live [data-test=reps]')?.textContent ?? null).catch(() => null);
    const n = Number(txt);
    if (Number.isFinite(n)) observedMax = Math.max(observedMax, n);
    if (!shotTaken && n >= 2) {
      shotTaken = true;
      layoutOk(await shot(page, `${label}-live`, t.report), `${label}-live`);
      const box = await page.locator('#stop').boundingBox();
      assertEq(JSON.stringify(box), JSON.stringify(stopBox), 'STOP stays in place');
    }
    return false;
  }, env.setTimeoutS * 1000, `the set to end (${label})`);
  const id = decodeURIComponent(page.url().split('#/summary/')[1]);
  await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])', { timeout: 15000 });
  const set = await apiGet(t.base, `/sets/${id}`, await token(page));
  return { id, set, observedMax };
}

/** The summary on the screen agrees with GET /api/v1/sets/{id}. */
async function checkSummary(page, set) {
  const reason = await page.locator('[data-test=stop-reason]').getAttribute('data-reason');
  const text = (await page.locator('[data-test=stop-reason]').textContent()).trim();
  assertEq(reason, set.stop_reason, 'stop reason on the screen');
  assert(REASON_WORDS[set.stop_reason] && REASON_WORDS[set.stop_reason].test(text), `plain words for ${set.stop_reason}: "${text}"`);
  if (COUNTED.has(set.stop_reason) && set.reps > 0) assert(text.includes(`rep ${set.reps}`), `"${text}" names rep ${set.reps}`);
  if (set.mode !== 'isometric') {
    const shown = (await page.locator('[data-test=sum-reps]').textContent()).trim();
    assertEq(shown, String(set.reps), 'rep count on the summary');
  }
  return text;
}

export const tests = [
  {
    name: 'every screen fits 800×480 with 48 px targets; page load time',
    async fn(t) {
      const page = await openHmi(t.ctx, t.base);
      // Page load time: median of 5 cold-cache reloads, to the sign-in screen drawn.
      const times = [];
      for (let i = 0; i < 5; i++) {
        const cdp = await page.context().newCDPSession(page);
        await cdp.send('Network.clearBrowserCache');
        await cdp.detach();
        await page.reload({ waitUntil: 'load' }); // a real reload (goto of the same URL may not be)
        await page.waitForSelector('[data-test=member-login]');
        times.push(await page.evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0];
          return { load: nav.loadEventEnd, ready: window.soleusFirstScreenMs };
        }));
      }
      const med = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)];
      t.report.figures.page_load_ms = Math.round(med(times.map((x) => x.load)));
      t.report.figures.first_screen_ms = Math.round(med(times.map((x) => x.ready)));

      layoutOk(await shot(page, '01-login', t.report), 'login');
      await tap(page, '[data-test=staff-login]');
      await typeKeys(page, '12');
      layoutOk(await shot(page, '02-pin-keypad', t.report), 'pin keypad');
      await tap(page, '.keypad .kp-cancel');
      await tap(page, '[data-tab=settings]');
      layoutOk(await shot(page, '03-settings', t.report), 'settings');

      await tap(page, '[data-tab=login]');
      await tap(page, '[data-test=guest]');
      await page.waitForSelector('[data-test=q-load]');
      layoutOk(await shot(page, '04-quick-start', t.report), 'quick start');
      await tap(page, '[data-test=q-tempo-custom]');
      await typeKeys(page, '3-1-3');
      const msg = await page.locator('[data-test=kp-msg]').textContent();
      assert(/Four numbers/.test(msg), `tempo validated as typed: "${msg}"`);
      assert(await page.locator('[data-test=kp-ok]').isDisabled(), 'OK disabled for an incomplete tempo');
      layoutOk(await shot(page, '05-tempo-keypad', t.report), 'tempo keypad');
      await tap(page, '.keypad .kp-cancel');
      await signOut(page);

      if (real()) {
        await seedMembers(t.base);
        await memberLogin(page, '1001');
        await page.waitForSelector('[data-test=start]');
        layoutOk(await shot(page, '06-member-today', t.report), 'today');
        await tap(page, '[data-tab=history]');
        await page.waitForSelector('[data-test=history], [data-test=history-empty]');
        layoutOk(await shot(page, '07-member-history', t.report), 'history');
        await signOut(page);
        // A member with a PIN is asked for it; without a programme, a free set is offered.
        for (const d of '1002') await page.locator(`.login .key[data-key="${d}"]`).tap();
        await tap(page, '[data-test=member-login]');
        await typeKeys(page, '4321');
        await keypadOk(page);
        await page.waitForSelector('[data-test=no-programme]');
        layoutOk(await shot(page, '07b-member-no-programme', t.report), 'no programme');
        await signOut(page);
        // RFID wristband: the reader types its tag, then Enter.
        await page.keyboard.type('A1B2C3D4', { delay: 5 });
        await page.keyboard.press('Enter');
        await page.waitForSelector('[data-test=signout]');
        const who = await page.locator('.who-name').textContent();
        assert(/A1B2C3D4/.test(who), `wristband sign-in: "${who}"`);
        await signOut(page);
      }

      await roleLogin(page, 'staff');
      await page.waitForSelector('[data-test=programme-list]');
      layoutOk(await shot(page, '08-staff-programmes', t.report), 'programmes');
      await tap(page, '[data-test=new-programme]');
      await page.waitForSelector('[data-test=f-sets]');
      layoutOk(await shot(page, '09-staff-editor', t.report), 'editor');
      await tap(page, '[data-test=p-name]');
      await typeKeys(page, 'TOUR');
      layoutOk(await shot(page, '10-alpha-keypad', t.report), 'alpha keypad');
      await tap(page, '.keypad .kp-cancel');
      await tap(page, '[data-tab=members]');
      await page.waitForSelector('[data-test=member-list]');
      await page.waitForTimeout(300);
      const first = page.locator('[data-test=member-list] .btn').first();
      if (await first.count()) await first.tap();
      layoutOk(await shot(page, '11-staff-members', t.report), 'members');
      if (await first.count()) {
        // The member page (issue 13): progress charts, PAIN stops, adherence, assessments.
        await tap(page, '[data-test=m-page]');
        await page.waitForSelector('[data-test=progress-chart], [data-test=history-empty]');
        layoutOk(await shot(page, '11b-staff-member-page', t.report), 'member page');
        for (const tab of ['events', 'adherence', 'assessments']) {
          await tap(page, `.seg[data-name=member-tab] [data-value=${tab}]`);
          await page.waitForSelector(`[data-test=member-${tab}]`);
          await page.waitForFunction((tb) => !document.querySelector(`[data-test=member-${tb}]`).textContent.includes('Loading'), tab);
          layoutOk(await shot(page, `11c-staff-member-${tab}`, t.report), `member page, ${tab}`);
        }
        await tap(page, '[data-tab=members]');
      }
      await signOut(page);

      await roleLogin(page, 'maintenance');
      await page.waitForSelector('[data-test=alarm-list]');
      layoutOk(await shot(page, '12-maint-alarms', t.report), 'alarms');
      await tap(page, '[data-tab=events]');
      await page.waitForSelector('[data-test=events] tr');
      layoutOk(await shot(page, '13-maint-events', t.report), 'events');
      await tap(page, '[data-tab=diagnostics]');
      await page.waitForSelector('[data-test=signals] .abar');
      await page.waitForTimeout(1200);
      layoutOk(await shot(page, '14-maint-diagnostics', t.report), 'diagnostics');
      await tap(page, '[data-tab=service]');
      await page.waitForTimeout(300);
      layoutOk(await shot(page, '15-maint-service', t.report), 'service');
      await signOut(page);

      // Every screen once more in German (Settings → Sprache): it fits, and no
      // English catalogue text is left on it (screenshots de-*).
      try {
        await setLanguage(page, 'de');
        assertEq(await page.locator('#pain').textContent(), 'SCHMERZ', 'the rail\'s PAIN in German');
        await germanTabs(t, page, 'none');
        await tap(page, '[data-tab=login]');
        await tap(page, '[data-test=staff-login]');
        await typeKeys(page, '12');
        await germanScreen(t, page, 'pin-keypad');
        await tap(page, '.keypad .kp-cancel');
        await tap(page, '[data-test=guest]');
        await page.waitForSelector('[data-test=q-load]');
        await germanTabs(t, page, 'guest');
        await tap(page, '[data-tab=quick]');
        await tap(page, '[data-test=q-tempo-custom]');
        await typeKeys(page, '3-1-3');
        const deMsg = await page.locator('[data-test=kp-msg]').textContent();
        assert(/Vier Zahlen/.test(deMsg), `the tempo keypad's message in German: "${deMsg}"`);
        await germanScreen(t, page, 'tempo-keypad');
        await tap(page, '.keypad .kp-cancel');
        await signOut(page);
        if (real()) {
          await memberLogin(page, '1001');
          await page.waitForSelector('[data-test=start]');
          await germanTabs(t, page, 'member');
          await signOut(page);
        }
        await roleLogin(page, 'staff');
        await page.waitForSelector('[data-test=programme-list]');
        await germanTabs(t, page, 'staff');
        await tap(page, '[data-tab=programmes]');
        await tap(page, '[data-test=new-programme]');
        await page.waitForSelector('[data-test=f-sets]');
        await germanScreen(t, page, 'staff-editor');
        await tap(page, '[data-tab=members]');
        await page.waitForSelector('[data-test=member-list]');
        await page.waitForTimeout(300);
        const firstMember = page.locator('[data-test=member-list] .btn').first();
        if (await firstMember.count()) await firstMember.tap();
        await germanScreen(t, page, 'staff-member');
        await signOut(page);
        await roleLogin(page, 'maintenance');
        await page.waitForSelector('[data-test=alarm-list]');
        await germanTabs(t, page, 'maintenance');
        await signOut(page);
        await setLanguage(page, 'en');
        assertEq(await page.locator('#pain').textContent(), 'PAIN', 'back in English');
      } finally {
        await defaultSettings(page);
      }
      assertEq(page.errors.join('\n'), '', 'no script errors');
      await page.close();
    },
  },

  {
    name: '(a) a guest runs a whole set; count and stop reason match GET /sets/{id}',
    async fn(t) {
      await athlete(t, { style: 'tempo', tempo: TEMPO });
      const page = await openHmi(t.ctx, t.base);
      await tap(page, '[data-test=guest]');
      await tap(page, '[data-test=q-load]');
      await typeKeys(page, '30');
      await keypadOk(page);
      await tap(page, '[data-test=q-reps]');
      await typeKeys(page, '150');
      assert(await page.locator('[data-test=kp-ok]').isDisabled(), '150 reps refused as typed');
      await typeKeys(page, String(REPS));
      await keypadOk(page);
      // The tempo typed on the keypad.
      await tap(page, '[data-test=q-tempo-custom]');
      await typeKeys(page, TEMPO);
      await keypadOk(page);
      assert((await page.locator('[data-test=q-tempo-words]').textContent()).includes('raise'), 'tempo in words');
      await ready(t);
      await tap(page, '[data-test=start]');
      const { set, observedMax } = await followSet(t, page, '20-guest');
      assert(set.state === 'done' && set.stop_reason, `set finished: ${JSON.stringify(set.state)}`);
      assertEq(set.tempo, TEMPO, 'the tempo typed is the set\'s');
      assert(observedMax >= set.reps - 1 && observedMax <= set.reps, `live counter reached ${observedMax}, API says ${set.reps}`);
      const text = await checkSummary(page, set);
      assertEq(set.stop_reason, 'target_reached', 'an athlete on tempo reaches the target');
      assertEq(set.reps, REPS, 'reps of the set');
      t.log(`set ${set.id}: ${set.reps} reps, ${set.stop_reason}: "${text}"`);
      layoutOk(await shot(page, '21-guest-summary', t.report), 'summary');

      // STOP ends the next set at once, in the same place on every screen.
      await tap(page, '[data-test=again]');
      await ready(t);
      await tap(page, '[data-test=start]');
      await page.waitForSelector('body.set-running');
      const box = await page.locator('#stop').boundingBox();
      await tap(page, '[data-tab=settings]');
      layoutOk(await shot(page, '22-settings-during-set', t.report), 'settings during a set');
      assertEq(JSON.stringify(await page.locator('#stop').boundingBox()), JSON.stringify(box), 'STOP in the same place on another screen');
      await tap(page, '#stop');
      await page.waitForURL(/#\/summary\//, { timeout: 20000 });
      await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])');
      const id2 = decodeURIComponent(page.url().split('#/summary/')[1]);
      const set2 = await apiGet(t.base, `/sets/${id2}`, await token(page));
      assertEq(set2.stop_reason, 'user_stop', 'STOP gives user_stop');
      await checkSummary(page, set2);
      layoutOk(await shot(page, '23-stopped-summary', t.report), 'stopped summary');
      assertEq(page.errors.join('\n'), '', 'no script errors');
      await page.close();
    },
  },

  {
    name: '(u) kg/N end to end: live, summary and the programme editor agree with the API; German too',
    async fn(t) {
      await athlete(t, { style: 'tempo', tempo: TEMPO });
      const page = await openHmi(t.ctx, t.base);
      const liveLoad = () => page.evaluate(() => document.querySelector('[data-test=live-load]')?.textContent ?? null).catch(() => null);
      // Follows the running set until the live screen shows `want(set)` as its load.
      const seeLiveLoad = async (want) => {
        await page.waitForSelector('body.set-running', { timeout: 15000 });
        let set = null;
        let seen = null;
        await waitFor(async () => {
          if (!set) {
            const st = await apiGet(t.base, '/status');
            if (st.set_id) set = await apiGet(t.base, `/sets/${st.set_id}`, await token(page));
            return false;
          }
          seen = await liveLoad();
          return seen === want(set);
        }, 15000, 'the load on the live screen');
        return set;
      };
      try {
        // N: a guest set at 350 N, typed in N.
        await tap(page, '[data-tab=settings]');
        await tap(page, '[data-name=unit] [data-value=N]');
        await tap(page, '[data-tab=login]');
        await tap(page, '[data-test=guest]');
        await tap(page, '[data-test=q-load]');
        await typeKeys(page, '350');
        await keypadOk(page);
        assertEq(await page.locator('[data-test=q-load]').textContent(), '350 N', 'the load typed in N');
        await tap(page, '[data-test=q-reps]');
        await typeKeys(page, '3');
        await keypadOk(page);
        await tap(page, '[data-test=q-tempo-custom]');
        await typeKeys(page, TEMPO);
        await keypadOk(page);
        await ready(t);
        await tap(page, '[data-test=start]');
        const set1 = await seeLiveLoad((s) => `load ${Math.round(s.load_n)} N`);
        assert(Math.abs(set1.load_n - 350) < 0.5, `the set's load_n: ${set1.load_n}`);
        layoutOk(await shot(page, '30-units-live-N', t.report), 'live in N');
        await page.waitForURL(/#\/summary\//, { timeout: env.setTimeoutS * 1000 });
        await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])', { timeout: 15000 });
        assertEq(await page.locator('[data-test=sum-load]').textContent(), `${Math.round(set1.load_n)} N`, 'summary load in N');
        // kg: the same set's load is load_n / 9.80665, one decimal.
        await tap(page, '[data-tab=settings]');
        await tap(page, '[data-name=unit] [data-value=kg]');
        await page.evaluate((id) => { location.hash = `#/summary/${id}`; }, String(set1.id));
        await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])', { timeout: 15000 });
        const kg1 = (set1.load_n / 9.80665).toFixed(1);
        assertEq(await page.locator('[data-test=sum-load]').textContent(), `${kg1} kg`, 'summary load in kg');
        layoutOk(await shot(page, '31-units-summary-kg', t.report), 'summary in kg');

        // German, kg: the next set's live screen and summary (STOP ends it).
        await setLanguage(page, 'de');
        await page.evaluate((id) => { location.hash = `#/summary/${id}`; }, String(set1.id));
        await tap(page, '[data-test=again]');
        await page.waitForSelector('[data-test=q-load]');
        const kgDe = kg1.replace('.', ',');
        assertEq(await page.locator('[data-test=q-load]').textContent(), `${kgDe} kg · ${Math.round(set1.load_n)} N`, 'quick start load in German, kg');
        await ready(t);
        await tap(page, '[data-test=start]');
        const set2 = await seeLiveLoad((s) => `Last ${(s.load_n / 9.80665).toFixed(1).replace('.', ',')} kg · ${Math.round(s.load_n)} N`);
        await germanScreen(t, page, 'units-live-kg');
        await tap(page, '#stop');
        await page.waitForURL(/#\/summary\//, { timeout: 20000 });
        await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])', { timeout: 15000 });
        assert(/Sie haben STOP gedrückt/.test(await page.locator('[data-test=stop-reason]').textContent()), 'the stop reason in German');
        assertEq(await page.locator('[data-test=sum-load]').textContent(), `${(set2.load_n / 9.80665).toFixed(1).replace('.', ',')} kg`, 'summary load in German, kg');
        await germanScreen(t, page, 'units-summary-kg');
        await signOut(page);

        // The programme editor takes the load in kg and stores newtons.
        await roleLogin(page, 'staff');
        await tap(page, '[data-test=new-programme]');
        await tap(page, '[data-test=p-name]');
        await typeKeys(page, 'KG TEST');
        await keypadOk(page);
        await tap(page, '[data-test=f-load_n]');
        assertEq(await page.locator('.keypad .kp-unit').textContent(), 'kg', 'the editor asks for kg');
        await typeKeys(page, '40');
        await keypadOk(page);
        assertEq(await page.locator('[data-test=f-load_n]').textContent(), '40,0 kg', 'the step load in kg');
        await germanScreen(t, page, 'units-editor-kg');
        await tap(page, '[data-test=p-save]');
        await page.waitForURL(/#\/programme\/\d+/, { timeout: 10000 });
        const pid = page.url().split('#/programme/')[1];
        const prog = await apiGet(t.base, `/programmes/${pid}`, await token(page));
        assert(Math.abs(prog.steps[0].load_n - 40 * 9.80665) <= 0.05, `40 kg stored as ${prog.steps[0].load_n} N (${(40 * 9.80665).toFixed(2)} expected)`);
        t.log(`N: ${set1.load_n} N; kg ${kg1}; editor 40 kg -> ${prog.steps[0].load_n} N`);
        await signOut(page);
      } finally {
        await defaultSettings(page);
      }
      assertEq(page.errors.join('\n'), '', 'no script errors');
      await page.close();
    },
  },

  {
    name: '(a1) a tiring athlete: the set ends by force drop, as the API says',
    async fn(t) {
      // Pushes at its capacity and loses a fifth of it every rep (docs/simulator.md).
      await athlete(t, { style: 'push_hard', tempo: TEMPO, capacity_n: 700, fatigue_rate: 0.2 });
      const page = await openHmi(t.ctx, t.base);
      await tap(page, '[data-test=guest]');
      await tap(page, '[data-test=q-load]');
      await typeKeys(page, '25');
      await keypadOk(page);
      await tap(page, '[data-test=q-reps]');
      await typeKeys(page, '20');
      await keypadOk(page);
      await tap(page, '[data-test=q-tempo-custom]');
      await typeKeys(page, TEMPO);
      await keypadOk(page);
      await ready(t);
      await tap(page, '[data-test=start]');
      const { set, observedMax } = await followSet(t, page, '27-guest-fatigue');
      assert(observedMax >= set.reps - 1 && observedMax <= set.reps, `live counter reached ${observedMax}, API says ${set.reps}`);
      const text = await checkSummary(page, set);
      assertEq(set.stop_reason, 'force_drop', 'the tiring athlete\'s set ends by force drop');
      assert(set.reps < 20, 'before the target');
      t.log(`set ${set.id}: ${set.reps} reps, ${set.stop_reason}: "${text}"`);
      layoutOk(await shot(page, '28-force-drop-summary', t.report), 'force drop summary');
      assertEq(page.errors.join('\n'), '', 'no script errors');
      await page.close();
    },
  },

  {
    name: '(a2) an isometric hold runs to its time; PAIN ends a set with reason pain',
    async fn(t) {
      // It pushes 0.7 × 600 N = 420 N, below the hold's 50 kg (490 N) limit.
      await athlete(t, { style: 'isometric', capacity_n: 600, iso_fraction: 0.7 });
      const page = await openHmi(t.ctx, t.base);
      await tap(page, '[data-test=guest]');
      await tap(page, '.seg[data-name=mode] [data-value=isometric]');
      await tap(page, '[data-test=q-load]');
      await typeKeys(page, '50');
      await keypadOk(page);
      await tap(page, '[data-test=q-reps]');
      await typeKeys(page, '6');
      await keypadOk(page);
      await ready(t);
      await tap(page, '[data-test=start]');
      await page.waitForSelector('body.set-running', { timeout: 15000 });
      await page.waitForFunction(() => document.querySelector('[data-test=phase]')?.textContent === 'PUSH', null, { timeout: env.setTimeoutS * 1000 });
      layoutOk(await shot(page, '24-hold-live', t.report), 'hold live');
      await page.waitForURL(/#\/summary\//, { timeout: env.setTimeoutS * 1000 });
      await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])');
      const id = decodeURIComponent(page.url().split('#/summary/')[1]);
      const set = await apiGet(t.base, `/sets/${id}`, await token(page));
      assertEq(set.mode, 'isometric', 'an isometric set');
      await checkSummary(page, set);
      assertEq(set.stop_reason, 'hold_complete', 'the hold runs to its time');
      layoutOk(await shot(page, '25-hold-summary', t.report), 'hold summary');

      await tap(page, '[data-test=again]');
      await tap(page, '.seg[data-name=mode] [data-value=isotonic]');
      await ready(t);
      await tap(page, '[data-test=start]');
      await page.waitForSelector('body.set-running');
      await tap(page, '#pain');
      await page.waitForURL(/#\/summary\//, { timeout: 20000 });
      await page.waitForSelector('[data-test=stop-reason][data-reason]:not([data-reason=""])');
      const id2 = decodeURIComponent(page.url().split('#/summary/')[1]);
      const set2 = await apiGet(t.base, `/sets/${id2}`, await token(page));
      assertEq(set2.stop_reason, 'pain', 'PAIN gives pain');
      await checkSummary(page, set2);
      layoutOk(await shot(page, '26-pain-summary', t.report), 'pain summary');
      assertEq(page.errors.join('\n'), '', 'no script errors');
      await page.close();
    },
  },

  {
    name: 'a mid-set rest: the live screen counts down the time left',
    async fn(t) {
      if (!(t.sys && t.sys.sim)) throw new Skip('needs the simulator\'s athlete to rest on cue');
      // After every rep's top pause the athlete holds the pad up for 5 s
      // (docs/simulator.md, trait mid_rest_*): past the tempo's pause + 0.5 s
      // tolerance the controller calls it a rest, counted down from
      // rest_limit_s (10 s); 5 s is well inside it, so the set goes on.
      await athlete(t, { style: 'tempo', tempo: TEMPO,
        traits: { mid_rest_p: 1, mid_rest_where: 'top', mid_rest_min_s: 5, mid_rest_max_s: 5 } });
      try {
        const page = await openHmi(t.ctx, t.base);
        await tap(page, '[data-test=guest]');
        await tap(page, '[data-test=q-load]');
        await typeKeys(page, '30');
        await keypadOk(page);
        await tap(page, '[data-test=q-reps]');
        await typeKeys(page, '3');
        await keypadOk(page);
        await tap(page, '[data-test=q-tempo-custom]');
        await typeKeys(page, TEMPO);
        await keypadOk(page);
        await ready(t);
        await tap(page, '[data-test=start]');
        await page.waitForFunction(() => document.querySelector('[data-test=phase]')?.textContent === 'REST',
          null, { timeout: env.setTimeoutS * 1000 });
        const left = async () => Number(((await page.locator('[data-test=phase-hint]').textContent()).match(/^(\d+) s left/) || [])[1]);
        const first = await left();
        layoutOk(await shot(page, '29-mid-set-rest', t.report), 'mid-set rest countdown');
        await page.waitForFunction((n) => {
          const m = (document.querySelector('[data-test=phase-hint]')?.textContent || '').match(/^(\d+) s left/);
          return m && Number(m[1]) < n;
        }, first, { timeout: 10000 });
        assert(first <= 10 && first >= 8, `the countdown starts at the rest limit (10 s): ${first}`);
        const { set } = await followSet(t, page, '29-rest');
        assertEq(set.stop_reason, 'target_reached', 'the set carries on after the rest');
        assertEq(page.errors.join('\n'), '', 'no script errors');
        await page.close();
      } finally {
        await t.sys.sim({ cmd: 'athlete', traits: { enabled: false } });
      }
    },
  },

  {
    name: 'the live link drops: "No link" shows, then it reconnects by itself',
    async fn(t) {
      // The page talks to soleusd through a byte relay (lib.mjs liveRelay),
      // which cuts the live WebSocket and refuses it for 2 s.
      const relay = await liveRelay(t.base);
      try {
        const page = await openHmi(t.ctx, relay.base);
        await page.waitForFunction(() => !/No link|…/.test(document.querySelector('#state').textContent));
        const cut = relay.dropLive(2000);
        assert(cut >= 1, `the page's live WebSocket went through the relay (${cut} cut)`);
        await page.waitForSelector('#state.stale', { timeout: 5000 });
        layoutOk(await shot(page, '50-no-link', t.report), 'no link');
        const t0 = Date.now();
        await page.waitForSelector('#state:not(.stale)', { timeout: 15000 });
        t.log(`reconnected ${Date.now() - t0} ms after the link was dropped`);
        await page.close();
      } finally {
        await relay.close();
      }
    },
  },

  {
    name: '(b) staff create a programme and assign it; the member runs it',
    async fn(t) {
      await athlete(t, { style: 'tempo', tempo: TEMPO });
      const page = await openHmi(t.ctx, t.base);
      // The editor takes loads in the unit of Settings: N here (kg: test (u)).
      await tap(page, '[data-tab=settings]');
      await tap(page, '[data-name=unit] [data-value=N]');
      await tap(page, '[data-tab=login]');
      await roleLogin(page, 'staff');
      await tap(page, '[data-test=new-programme]');
      const name = `CALF ${String(Date.now()).slice(-5)}`;
      await tap(page, '[data-test=p-name]');
      await typeKeys(page, name);
      await keypadOk(page);
      await tap(page, '.seg[data-name=mode] [data-value=isotonic]');
      await tap(page, '[data-test=f-sets]');
      await typeKeys(page, '2');
      await keypadOk(page);
      await tap(page, '[data-test=f-target_reps]');
      await typeKeys(page, '0');
      assert(await page.locator('[data-test=kp-ok]').isDisabled(), '0 reps refused as typed');
      await typeKeys(page, '3');
      await keypadOk(page);
      await tap(page, '[data-test=f-load_n]');
      await typeKeys(page, '2500');
      const m1 = await page.locator('[data-test=kp-msg]').textContent();
      assert(/1800/.test(m1), `load limit shown as typed: "${m1}"`);
      await typeKeys(page, '250');
      await keypadOk(page);
      await tap(page, '[data-test=f-tempo]');
      await typeKeys(page, TEMPO);
      await keypadOk(page);
      await tap(page, '[data-test=f-rest_s]');
      await typeKeys(page, '5');
      await keypadOk(page);
      await tap(page, '[data-test=f-force_drop_pct]');
      await typeKeys(page, '60');
      assert(await page.locator('[data-test=kp-ok]').isDisabled(), '60 % force drop refused');
      await typeKeys(page, '25');
      await keypadOk(page);
      await tap(page, '[data-test=f-progression]');
      assertEq(await page.locator('.chooser [data-value=load_pct]').count(), 0, 'no % progression for a load in N');
      await tap(page, '.chooser [data-value=load_n]');
      await typeKeys(page, '10');
      await keypadOk(page);
      layoutOk(await shot(page, '30-staff-programme-filled', t.report), 'filled editor');
      await tap(page, '[data-test=p-save]');
      await page.waitForURL(/#\/programme\/[^n]/, { timeout: 10000 });
      const pid = decodeURIComponent(page.url().split('#/programme/')[1]);
      const saved = await apiGet(t.base, `/programmes/${pid}`, await token(page));
      assertEq(saved.name, name, 'programme saved with its name');
      const st = saved.steps[0];
      assertEq(JSON.stringify([st.mode, st.sets, st.target_reps, st.load_n, st.tempo, st.rest_s, st.force_drop_pct]),
        JSON.stringify(['isotonic', 2, 3, 250, TEMPO, 5, 25]), 'step fields saved');

      // A new member, with the programme assigned.
      const number = String(700000 + Math.floor(Math.random() * 99999));
      await tap(page, '[data-tab=members]');
      await tap(page, '[data-test=new-member]');
      await typeKeys(page, number);
      await keypadOk(page);
      await typeKeys(page, 'TEST MEMBER');
      await keypadOk(page);
      await page.waitForSelector('[data-test=m-programme]');
      await tap(page, '[data-test=m-programme]');
      await tap(page, `.chooser [data-value="${pid}"]`);
      await page.waitForFunction((n) => document.querySelector('[data-test=m-programme]')?.textContent === n, name);
      layoutOk(await shot(page, '31-staff-member-assigned', t.report), 'member assigned');
      await signOut(page);

      // The member runs it: two sets with a rest between.
      await memberLogin(page, number);
      await page.waitForSelector('[data-test=start]');
      assert(/^1\s*of 2$/.test((await page.locator('[data-test=set-no]').textContent()).trim()), 'set 1 of 2 on the card');
      const cardTitle = (await page.locator('.step-card h3').first().textContent()).trim();
      assert(cardTitle.startsWith(`${name} · step 1`), `the programme's name on the card: "${cardTitle}"`);
      layoutOk(await shot(page, '32-member-today', t.report), 'member today');
      await ready(t);
      await tap(page, '[data-test=start]');
      const r1 = await followSet(t, page, '33-member-set1');
      assertEq(r1.set.stop_reason, 'target_reached', 'set 1 reaches its target');
      assertEq(r1.set.reps, 3, 'set 1 reps');
      assertEq(r1.set.load_n, 250, 'set 1 load');
      assertEq(r1.set.tempo, TEMPO, 'set 1 tempo');
      await checkSummary(page, r1.set);
      // The member's history files the set under the programme's session,
      // with the programme (it used to say programme_id null, read as "Free set").
      const hist = await apiGet(t.base, `/members/${r1.set.member_id}/history`, await token(page));
      const entry = hist.find((e) => e.sets.some((s) => s.set_id === r1.set.id));
      assert(entry, `set ${r1.set.id} is in the member's history: ${JSON.stringify(hist)}`);
      assert(entry.session_id !== null, 'the history entry is a programme session');
      assertEq(String(entry.programme_id), String(pid), 'the history entry names the programme');
      assertEq(entry.programme, saved.name, "the history entry carries the programme's name");
      // What comes next is the daemon's runner's: a rest before set 2, or
      // (a runner that does not track sets yet) back to the card.
      const after = await page.waitForSelector('[data-test=next-set], [data-test=next], [data-test=finish]');
      const what = await after.getAttribute('data-test');
      const card = await apiGet(t.base, '/session', await token(page));
      t.log(`after set 1 the summary offers "${what}"; GET /session: ${JSON.stringify(card)}`);
      if (what === 'next-set') {
        layoutOk(await shot(page, '34-member-rest', t.report), 'rest');
        if (Number(card.rest_remaining_s) > 0) {
          assert(/^\d+:\d\d$/.test((await page.locator('[data-test=rest-count]').textContent()).trim()), 'a rest countdown');
        }
        await page.waitForSelector('[data-test=next-set]:not([disabled])', { timeout: 20000 });
        await ready(t);
        await tap(page, '[data-test=next-set]');
        const r2 = await followSet(t, page, '35-member-set2');
        assertEq(r2.set.reps, 3, 'set 2 reps');
        await checkSummary(page, r2.set);
        await page.waitForSelector('[data-test=finish]');
        layoutOk(await shot(page, '36-member-done', t.report), 'programme done');
      } else {
        layoutOk(await shot(page, '34-member-after-set1', t.report), 'after set 1');
        t.log('the runner did not offer a rest and set 2: only set 1 was run');
      }
      assertEq(page.errors.join('\n'), '', 'no script errors');
      await page.close();
    },
  },

  {
    name: '(c) maintenance sees an injected fault with its time and code',
    async fn(t) {
      if (!env.faultCmd && !(t.sys && t.sys.sim)) throw new Skip('set SOLEUS_INJECT_FAULT_CMD to inject a fault into the real system');
      const page = await openHmi(t.ctx, t.base);
      await roleLogin(page, 'maintenance');
      const f = await injectFault(t.base, t.sys);
      t.log(`injected ${f.code}`);
      // Alarms: the fault by priority, with its meaning and a hint.
      await page.waitForSelector(`.alarm-card[data-code="${f.code}"]`, { timeout: 15000 });
      const card = await page.locator(`.alarm-card[data-code="${f.code}"]`).textContent();
      assert(/What to do/.test(card), `alarm has a hint: "${card}"`);
      await page.waitForSelector('#state.alarm');
      layoutOk(await shot(page, '40-maint-alarm', t.report), 'alarm');

      // The event log, filtered to errors, shows it with the API's time and code.
      await tap(page, '[data-tab=events]');
      await tap(page, '.seg[data-name=severity] [data-value=error]');
      await page.waitForSelector(`[data-test=events] tr[data-code="${f.code}"]`);
      const tok = await token(page);
      const api = await apiGet(t.base, `/events?code=${encodeURIComponent(f.code)}&limit=1`, tok);
      const ev = (api.events || api.items || api)[0];
      const evTime = new Date(ev.time ?? ev.ts ?? ev.t);
      assert(evTime.getTime() >= f.before - 2000 && evTime.getTime() <= f.after + 2000, `event time ${evTime.toISOString()} within the injection`);
      const row = page.locator(`[data-test=events] tr[data-code="${f.code}"]`).first();
      const shownTime = (await row.locator('[data-test=ev-time]').textContent()).trim();
      const expected = await page.evaluate((ms) => {
        const d = new Date(ms); const p = (n) => String(n).padStart(2, '0');
        return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
      }, evTime.getTime());
      assertEq(shownTime, expected, 'event time on the screen');
      assertEq((await row.locator('[data-test=ev-code]').textContent()).trim(), f.code, 'event code on the screen');
      layoutOk(await shot(page, '41-maint-events-error', t.report), 'events filtered');
      await row.tap();
      await page.waitForSelector('.modal');
      layoutOk(await shot(page, '42-maint-event-detail', t.report), 'event detail');
      await tap(page, '.modal .btn.primary');

      // Paging moves through the log.
      await tap(page, '.seg[data-name=severity] [data-value=""]');
      await tap(page, '.seg[data-name=since] [data-value=""]');
      await page.waitForFunction(() => /^1–/.test(document.querySelector('[data-test=ev-count]').textContent));
      const c1 = await page.locator('[data-test=ev-count]').textContent();
      if (!(await page.locator('[data-test=ev-next]').isDisabled())) {
        await tap(page, '[data-test=ev-next]');
        await page.waitForFunction((c) => document.querySelector('[data-test=ev-count]').textContent !== c, c1);
        assert(/^7–/.test(await page.locator('[data-test=ev-count]').textContent()), 'second page starts at 7');
      }

      // Fault reset clears it.
      await tap(page, '[data-tab=alarms]');
      await tap(page, '[data-test=fault-reset]');
      await page.waitForSelector('[data-test=no-alarms]', { timeout: 15000 });
      assertEq(page.errors.join('\n'), '', 'no script errors');
      await page.close();
    },
  },
  protocolTest,
];

export { Skip };
