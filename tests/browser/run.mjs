#!/usr/bin/env node
// Runs the browser tests: builds the HMI and starts the mock API server, or
// uses the running system named by SOLEUS_URL; launches Debian's Chromium
// headless at 800×480 and runs each test. Screenshots go to
// tests/artifacts/screenshots/, a JSON report to tests/artifacts/browser-report.json.
// Ends with the line "N passed, N failed" and exits non-zero on any failure.
// Usage: node run.mjs [name-filter]

import fs from 'node:fs';
import path from 'node:path';
import { startSystem, launch, artifacts, Skip, env } from './lib.mjs';
import { tests } from './tests.mjs';

const filter = process.argv[2] || '';
const report = { started: new Date().toISOString(), target: env.url || 'mock', figures: {}, tests: [], shots: [] };
let passed = 0;
let failed = 0;
let skipped = 0;

const sys = await startSystem();
if (sys.assetBytes) report.figures.asset_bytes = sys.assetBytes;
console.log(`# system under test: ${sys.base}${env.url ? '' : ' (mock)'}`);
const browser = await launch();
try {
  for (const test of tests) {
    if (filter && !test.name.includes(filter)) continue;
    const t0 = Date.now();
    const ctx = { base: sys.base, ctx: browser.ctx, report, log: (s) => console.log(`#   ${s}`) };
    try {
      await test.fn(ctx);
      passed += 1;
      console.log(`ok - ${test.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      report.tests.push({ name: test.name, ok: true, s: (Date.now() - t0) / 1000 });
    } catch (e) {
      if (e instanceof Skip) {
        skipped += 1;
        console.log(`skip - ${test.name}: ${e.message}`);
        report.tests.push({ name: test.name, skipped: e.message });
        continue;
      }
      failed += 1;
      console.log(`FAIL - ${test.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n#   ${String(e.stack || e).split('\n').slice(0, 4).join('\n#   ')}`);
      report.tests.push({ name: test.name, ok: false, error: String(e.message || e) });
      let i = 0;
      for (const p of browser.ctx.pages()) {
        await p.screenshot({ path: path.join(artifacts, 'screenshots', `FAIL-${report.tests.length}-${i++}.png`) }).catch(() => {});
        await p.close().catch(() => {});
      }
    }
  }
} finally {
  await browser.close();
  await sys.stop();
}
for (const [k, v] of Object.entries(report.figures)) console.log(`# ${k}: ${v}`);
fs.mkdirSync(artifacts, { recursive: true });
fs.writeFileSync(path.join(artifacts, 'browser-report.json'), JSON.stringify(report, null, 2));
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
