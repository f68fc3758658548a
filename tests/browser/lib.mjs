// Helpers shared by the browser tests: the system under test (soleusd and
// soleus-sim started from a build tree, or a soleusd named by SOLEUS_URL),
// Chromium through playwright-core, touch helpers for the on-screen keypad,
// screenshots with layout checks, the fault-injection hook, and a relay that
// cuts the live WebSocket between the page and soleusd.

import { chromium } from 'playwright-core';
import { execFileSync, exec } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startReal } from './real-system.mjs';

export const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '../..');
export const artifacts = path.join(repo, 'tests/artifacts');
export const shots = path.join(artifacts, 'screenshots');

// SOLEUS_BUILD_DIR (a CMake build tree with app/soleusd and sim/soleus-sim):
// the runner starts soleus-sim and soleusd itself ("real"); SOLEUS_URL: a
// system someone else runs. One of the two is required.
const buildDir = process.env.SOLEUS_BUILD_DIR || '';
const real = Boolean(buildDir) && !process.env.SOLEUS_URL;
export const env = {
  url: process.env.SOLEUS_URL || '',
  buildDir,
  real,
  // The demo PINs of config/sim.toml.
  staffPin: process.env.SOLEUS_STAFF_PIN || '1234',
  maintPin: process.env.SOLEUS_MAINT_PIN || '4321',
  faultCmd: process.env.SOLEUS_INJECT_FAULT_CMD || '',
  faultCode: process.env.SOLEUS_FAULT_CODE || 'drive_fault',
  setTimeoutS: Number(process.env.SOLEUS_SET_TIMEOUT_S || (real ? 60 : 180)),
  chromium: process.env.CHROMIUM || '/usr/bin/chromium',
};

export class Skip extends Error {}

export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
export function assertEq(actual, expected, msg) {
  if (actual !== expected) throw new Error(`${msg}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

// ---------------------------------------------------------------- system under test
/**
 * Builds the HMI and starts soleus-sim and soleusd from SOLEUS_BUILD_DIR, or
 * uses the running soleusd that SOLEUS_URL names.
 */
export async function startSystem() {
  if (env.url) return { base: env.url.replace(/\/$/, ''), stop: async () => {} };
  if (!env.real) {
    throw new Error('no system under test: run real.sh BUILD_DIR (or set SOLEUS_BUILD_DIR), or set SOLEUS_URL to a running soleusd');
  }
  const out = path.join(artifacts, 'hmi');
  fs.rmSync(out, { recursive: true, force: true });
  execFileSync('bash', [path.join(repo, 'hmi/web/build.sh'), out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const sys = await startReal({ repo, buildDir: path.resolve(env.buildDir), assetDir: out, artifacts, maintPin: env.maintPin });
  sys.assetBytes = dirBytes(out);
  return sys;
}

function dirBytes(d) {
  let n = 0;
  for (const e of fs.readdirSync(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

/** Runs the fault-injection hook; resolves {code, before, after} (ms epoch). */
export async function injectFault(base, sys) {
  const before = Date.now();
  let code = env.faultCode;
  if (!env.faultCmd && sys && sys.sim) {
    // The simulated drive raises fault 1 (over-current), latched until a fault reset.
    await sys.sim({ cmd: 'fault', kind: 'drive_fault', code: 1 });
  } else if (env.faultCmd) {
    const outText = await new Promise((resolve, reject) => {
      exec(env.faultCmd, { env: { ...process.env, SOLEUS_URL: base, ...(sys && sys.sim ? { SOLEUS_SIM: sys.simExe, SOLEUS_SIM_CTL: String(sys.simPort) } : {}) }, timeout: 60000 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    });
    try { const j = JSON.parse(outText); if (j.code) code = j.code; } catch { /* plain output */ }
  } else {
    throw new Skip('SOLEUS_INJECT_FAULT_CMD is not set for the real system');
  }
  return { code, before, after: Date.now() };
}

/**
 * On the real system: the machine is ready for a set (idle or rest, no fault
 * latched), resetting a fault that a loaded box latched since the test began.
 * Called just before a test taps Start; nothing with SOLEUS_URL.
 */
export async function ready(t) {
  if (!t.sys || !t.sys.prepare) return;
  const done = await t.sys.prepare({ keepAthlete: true });
  if (done.length) t.log(`before Start: ${done.join('; ')}`);
}

/** Shapes the simulated athlete (the simulator's control channel); nothing with SOLEUS_URL. */
export async function athlete(t, simSettings) {
  if (t.sys && t.sys.sim) return t.sys.sim({ cmd: 'athlete', ...simSettings, reset: true });
  return null;
}

/**
 * A TCP relay in front of soleusd (base: its http://host:port) that forwards
 * bytes both ways and knows nothing of the API: the page is opened on
 * relay.base, so its requests and its live WebSocket go through it.
 * relay.dropLive(ms) cuts every open WebSocket (an upgrade request to
 * /api/v1/live) and, for `ms`, closes new ones at once; plain HTTP passes.
 * This is how a test makes the live link drop: soleusd has no such switch.
 * The one change to the bytes: the live handshake's Origin (the relay's
 * address, which soleusd rightly refuses with 403) is replaced by soleusd's
 * own, as a same-origin reverse proxy would present it. Other requests pass
 * unchanged, so a POST through the relay is refused (foreign Origin): a test
 * using it only reads.
 */
export async function liveRelay(base) {
  const target = new URL(base);
  const live = new Set();
  const all = new Set();
  let refusedUntil = 0;
  const server = net.createServer((down) => {
    all.add(down);
    down.on('close', () => { all.delete(down); live.delete(down); });
    down.on('error', () => {});
    let head = Buffer.alloc(0);
    const onHead = (d) => {
      head = Buffer.concat([head, d]);
      const text = head.toString('latin1');
      if (!text.includes('\r\n\r\n') && head.length < 65536) return; // the request head is not complete yet
      down.off('data', onHead);
      down.pause();
      const isLive = /^GET [^ ]*\/api\/v1\/live[ ?]/.test(text) && /\r\nupgrade:\s*websocket/i.test(text);
      if (isLive && Date.now() < refusedUntil) { down.destroy(); return; }
      const first = isLive ? Buffer.from(text.replace(/\r\norigin:[^\r]*/i, `\r\nOrigin: ${target.origin}`), 'latin1') : head;
      const up = net.connect(Number(target.port || 80), target.hostname);
      all.add(up);
      up.on('error', () => down.destroy());
      up.on('close', () => { all.delete(up); down.destroy(); });
      down.on('close', () => up.destroy());
      if (isLive) live.add(down);
      up.write(first);
      down.pipe(up);
      up.pipe(down);
    };
    down.on('data', onHead);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    /** Cuts the open live WebSockets; refuses new ones for `ms`. Returns how many were cut. */
    dropLive(ms) {
      refusedUntil = Date.now() + ms;
      const n = live.size;
      for (const s of live) s.destroy();
      return n;
    },
    async close() {
      for (const s of all) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// ---------------------------------------------------------------- browser
export async function launch() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'soleus-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: env.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
    viewport: { width: 800, height: 480 },
    hasTouch: true,
    isMobile: false,
    deviceScaleFactor: 1,
  });
  return {
    ctx,
    async close() { await ctx.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

/** A fresh page on the HMI, with console errors collected. */
export async function openHmi(ctx, base) {
  const page = await ctx.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  // Chromium logs every 4xx as a console error. Expected: a 401 asking for a
  // member's PIN, and soleusd's 404 on GET /session for a member without a programme.
  page.on('console', (m) => {
    if (m.type() !== 'error' || /status of 401/.test(m.text())) return;
    if (/status of 404/.test(m.text()) && /\/api\/v1\/session$/.test((m.location() || {}).url || '')) return;
    page.errors.push(m.text());
  });
  await page.goto(`${base}/#/login`);
  // Signed out, and the default settings (kg, English): the browser context is shared.
  await page.evaluate(() => { sessionStorage.clear(); localStorage.removeItem('soleus.settings'); });
  await page.goto(`${base}/#/login`);
  await page.waitForSelector('[data-test=member-login]');
  return page;
}

export async function tap(page, selector) {
  const loc = page.locator(selector).first();
  await loc.waitFor({ state: 'visible', timeout: 10000 });
  await loc.tap();
}

/** Types on the open on-screen keypad, key by key. */
export async function typeKeys(page, text, { clear = true } = {}) {
  await page.waitForSelector('.keypad');
  if (clear) {
    const hasC = await page.locator('.keypad .key[data-key="CLR"]').count();
    if (hasC) await tap(page, '.keypad .key[data-key="CLR"]');
    else {
      for (let i = 0; i < 12; i++) await page.locator('.keypad .key[data-key="⌫"]').tap();
    }
  }
  for (const ch of String(text)) {
    const key = ch === ' ' ? 'space' : ch.toUpperCase();
    await page.locator(`.keypad .key[data-key="${key}"]`).tap();
  }
}

export async function keypadOk(page) {
  const kp = await page.waitForSelector('.keypad');
  await (await kp.$('[data-test=kp-ok]')).tap();
  // This keypad closes; another may open at once (e.g. number, then name).
  await kp.waitForElementState('hidden');
}

/** PIN sign-in of staff or maintenance through the keypad. */
export async function roleLogin(page, role) {
  await tap(page, role === 'staff' ? '[data-test=staff-login]' : '[data-test=maint-login]');
  if (role === 'staff') {
    // With named staff accounts (issue 13) Staff shows the name tiles first:
    // this helper signs in with the shared staff PIN's tile.
    await page.waitForSelector('[data-test=staff-tiles], .keypad');
    if (await page.locator('[data-test=staff-tiles]').count()) await tap(page, '[data-test=staff-shared]');
  }
  await typeKeys(page, role === 'staff' ? env.staffPin : env.maintPin);
  await keypadOk(page);
  await page.waitForSelector('[data-test=signout]');
}

export async function memberLogin(page, number) {
  for (const d of String(number)) await page.locator(`.login .key[data-key="${d}"]`).tap();
  await tap(page, '[data-test=member-login]');
  await page.waitForSelector('[data-test=signout]');
}

export async function signOut(page) {
  await tap(page, '[data-test=signout]');
  await page.waitForSelector('[data-test=member-login]');
}

export async function token(page) {
  return page.evaluate(() => JSON.parse(sessionStorage.getItem('soleus.auth') || '{}').token);
}

export async function apiGet(base, pathname, tok) {
  const r = await fetch(`${base}/api/v1${pathname}`, { headers: tok ? { Authorization: `Bearer ${tok}` } : {} });
  if (!r.ok) throw new Error(`GET ${pathname}: ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * Saves tests/artifacts/screenshots/NAME.png and checks the layout at
 * 800×480: nothing wider or taller than the viewport, every visible button at
 * least 48×48 px, no text cut off inside buttons. Returns the problems found.
 */
export async function shot(page, name, report) {
  fs.mkdirSync(shots, { recursive: true });
  await page.waitForTimeout(150);
  await page.screenshot({ path: path.join(shots, `${name}.png`) });
  const problems = await page.evaluate(() => {
    const out = [];
    const vw = window.innerWidth; const vh = window.innerHeight;
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      const st = getComputedStyle(el);
      return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none';
    };
    const label = (el) => (el.dataset.test || el.dataset.key || el.textContent || el.id || el.className).trim().slice(0, 30);
    for (const el of document.querySelectorAll('button')) {
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      if (r.width < 47.5 || r.height < 47.5) out.push(`target ${Math.round(r.width)}×${Math.round(r.height)} px < 48: "${label(el)}"`);
      if (r.right > vw + 0.5 || r.bottom > vh + 0.5 || r.left < -0.5 || r.top < -0.5) out.push(`button outside 800×480: "${label(el)}"`);
      if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).textOverflow !== 'ellipsis') out.push(`text cut off in button "${label(el)}"`);
      // A button sticking out of its panel overlaps the next column.
      const panel = el.parentElement && el.parentElement.closest('.panel');
      if (panel) {
        const p = panel.getBoundingClientRect();
        if (r.right > p.right + 0.5 || r.left < p.left - 0.5) out.push(`button "${label(el)}" sticks out of its panel`);
      }
    }
    for (const sel of ['#screen', '.modal']) {
      for (const el of document.querySelectorAll(sel)) {
        if (!visible(el)) continue;
        const r = el.getBoundingClientRect();
        if (r.right > vw + 0.5 || r.bottom > vh + 0.5) out.push(`${sel} outside the viewport`);
      }
    }
    // Content that overflows its box (cut off) inside the screen.
    for (const el of document.querySelectorAll('#screen *, .modal *')) {
      if (!visible(el) || el.closest('.uplot') || el.tagName === 'BUTTON') continue;
      const st = getComputedStyle(el);
      if (st.overflowY === 'auto' || st.overflowY === 'scroll') continue;
      if ((st.overflow === 'hidden' || st.overflowY === 'hidden') && el.scrollHeight > el.clientHeight + 2 && el.clientHeight > 0) {
        out.push(`content cut off (${el.scrollHeight}>${el.clientHeight}px) in ${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`);
      }
    }
    return out;
  });
  if (report) report.shots.push({ name, problems });
  return problems;
}

export async function waitFor(fn, timeoutMs, what) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
