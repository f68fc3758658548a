#!/usr/bin/env node
// Runs the browser tests: builds the HMI and starts soleus-sim and soleusd
// from SOLEUS_BUILD_DIR (real.sh sets it), or uses the running soleusd named
// by SOLEUS_URL; launches Debian's Chromium
// headless at 800×480 and runs each test. Screenshots go to
// tests/artifacts/screenshots/, a JSON report to tests/artifacts/browser-report.json.
// Ends with the line "N passed, N failed" and exits non-zero on any failure.
// Usage: ./real.sh BUILD_DIR [name-filter], or SOLEUS_URL=… node run.mjs [name-filter]

import fs from 'node:fs';
import path from 'node:path';
import { startSystem, launch, artifacts, Skip, env } from './lib.mjs';
import { measure } from './live-latency.mjs';
import { tests } from './tests.mjs';

const filter = process.argv[2] || '';
if (!env.real && !env.url) {
  console.error('run.mjs: no system under test: ./real.sh BUILD_DIR starts soleusd + soleus-sim, or set SOLEUS_URL to a running soleusd');
  process.exit(2);
}
const report = { started: new Date().toISOString(), target: env.real ? 'real' : env.url, figures: {}, tests: [], shots: [] };
const tStart = Date.now();
let passed = 0;
let failed = 0;
let skipped = 0;

fs.rmSync(path.join(artifacts, 'screenshots'), { recursive: true, force: true });
fs.rmSync(path.join(artifacts, 'logs'), { recursive: true, force: true });
const sys = await startSystem();
if (sys.assetBytes) report.figures.asset_bytes = sys.assetBytes;
console.log(`# system under test: ${sys.base}${env.real ? ` (soleusd + soleus-sim from ${env.buildDir})` : ''}`);
const browser = await launch();
try {
  for (const test of tests) {
    if (filter && !test.name.includes(filter)) continue;
    // On the real system a test that failed while the daemon lost the
    // simulator (the box descheduled it: comm_loss, a dropped link, or both
    // processes killed from outside) is run once more, as scripts/test.sh
    // does for the end-to-end sets; the log says so.
    for (let attempt = 1; attempt <= 2; attempt++) {
      const t0 = Date.now();
      const log = (s) => console.log(`#   ${s}`);
      const mark = sys.daemonOutput ? sys.daemonOutput().length : 0;
      const restarts = sys.restarts || 0;
      let ctx = null;
      try {
        // The real system: back to idle with no latched fault and the default athlete.
        if (sys.prepare) {
          const done = await sys.prepare();
          if (done.length) log(`before the test: ${done.join('; ')}`);
        }
        ctx = { base: sys.base, sys, ctx: browser.ctx, report, log };
        await test.fn(ctx);
        passed += 1;
        console.log(`ok - ${test.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)${attempt > 1 ? ' on the second run' : ''}`);
        report.tests.push({ name: test.name, ok: true, s: (Date.now() - t0) / 1000, attempt });
        break;
      } catch (e) {
        if (e instanceof Skip) {
          skipped += 1;
          console.log(`skip - ${test.name}: ${e.message}`);
          report.tests.push({ name: test.name, skipped: e.message });
          break;
        }
        // The simulated machine failed under the test (the link, or a fault the
        // test did not ask for, such as the simulated athlete over-speeding the
        // pad as it unloads): the test runs once more, and says so.
        const lost = sys.daemonOutput && ((sys.restarts || 0) !== restarts
          || /\[(comm_loss|overspeed|stale_load_cell|arm_failed)\]|link lost/.test(sys.daemonOutput().slice(mark)));
        for (const [i, p] of browser.ctx.pages().entries()) {
          await p.screenshot({ path: path.join(artifacts, 'screenshots', `FAIL-${report.tests.length + 1}-${attempt}-${i}.png`) }).catch(() => {});
          await p.close().catch(() => {});
        }
        if (lost && attempt === 1) {
          console.log(`retry - ${test.name}: the simulated machine faulted or dropped during the test (${String(e.message || e).split('\n')[0]})`);
          report.tests.push({ name: test.name, retried: String(e.message || e) });
          continue;
        }
        failed += 1;
        console.log(`FAIL - ${test.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n#   ${String(e.stack || e).split('\n').slice(0, 4).join('\n#   ')}`);
        report.tests.push({ name: test.name, ok: false, error: String(e.message || e) });
        break;
      }
    }
  }
  // Live-view latency from a sample's t_ms to its receipt, with 1 and 10 clients.
  if (!filter) {
    for (const n of [1, 10]) {
      const r = await measure(sys.base, n, 5, sys.clockOffsetMs ? sys.clockOffsetMs() : 0);
      report.figures[`live_latency_${n}_client${n > 1 ? 's' : ''}`] = `p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms (${r.rate_hz} Hz each)`;
    }
  }
} finally {
  await browser.close();
  await sys.stop();
}
report.figures.browser_run_s = Math.round((Date.now() - tStart) / 100) / 10;
if (sys.restarts) report.figures.restarts_after_outside_kill = sys.restarts;
for (const [k, v] of Object.entries(report.figures)) console.log(`# ${k}: ${v}`);
fs.mkdirSync(artifacts, { recursive: true });
fs.writeFileSync(path.join(artifacts, 'browser-report.json'), JSON.stringify(report, null, 2));
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
