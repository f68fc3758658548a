#!/usr/bin/env node
// Live-view latency of a running soleusd: N WebSocket clients on
// /api/v1/live, each message's receipt time minus its sample time t_ms (the
// daemon's system clock; same host, so the same clock). Includes the sample's
// age when the 25 Hz sampler takes it, the server, the socket and this
// process's event loop.
// Usage: node live-latency.mjs BASE_URL [seconds per run = 5] [client counts = 1,10]
//        node live-latency.mjs --start BUILD_DIR [seconds] [counts]
//   --start: soleus-sim + soleusd from BUILD_DIR with config/sim.toml's own
//   timing (100 Hz loop, not the browser tests' widened 50 Hz), then stopped.
// Prints one line per client count; measure() is used by run.mjs.

import WebSocket from 'ws';

const pct = (a, p) => a[Math.min(a.length - 1, Math.floor((p / 100) * a.length))];

/** `clockOffsetMs`: how far a test moved soleusd-test's wall clock (t_ms is on it). */
export async function measure(base, clients, seconds, clockOffsetMs = 0) {
  const url = `${base.replace(/^http/, 'ws')}/api/v1/live`;
  const lat = [];
  const counts = new Array(clients).fill(0);
  const socks = await Promise.all(Array.from({ length: clients }, (_, i) => new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => resolve(ws));
    ws.on('error', reject);
    ws.on('message', (data) => {
      const now = Date.now();
      if (!ws.measuring) return;
      try {
        const t = JSON.parse(data).t_ms;
        if (Number.isFinite(t)) { lat.push(now - (t - clockOffsetMs)); counts[i] += 1; }
      } catch { /* not a frame */ }
    });
  })));
  await new Promise((r) => setTimeout(r, 500)); // settle
  for (const ws of socks) ws.measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  for (const ws of socks) ws.close();
  lat.sort((a, b) => a - b);
  return {
    clients,
    seconds,
    messages: lat.length,
    rate_hz: Math.round((Math.min(...counts) / seconds) * 10) / 10,
    p50_ms: pct(lat, 50),
    p99_ms: pct(lat, 99),
    max_ms: lat[lat.length - 1],
  };
}

export function describe(r) {
  return `live latency, ${r.clients} client${r.clients > 1 ? 's' : ''}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, max ${r.max_ms} ms `
    + `(${r.messages} messages in ${r.seconds} s, ${r.rate_hz} Hz per client)`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  let sys = null;
  if (args[0] === '--start') {
    const path = await import('node:path');
    const { execFileSync } = await import('node:child_process');
    const { startReal } = await import('./real-system.mjs');
    const here = path.dirname(new URL(import.meta.url).pathname);
    const repo = path.resolve(here, '../..');
    const artifacts = path.join(repo, 'tests/artifacts/latency');
    const assets = path.join(artifacts, 'hmi');
    execFileSync('bash', [path.join(repo, 'hmi/web/build.sh'), assets], { stdio: ['ignore', 'ignore', 'inherit'] });
    sys = await startReal({ repo, buildDir: path.resolve(args[1]), assetDir: assets, artifacts, maintPin: '4321', widen: false });
    args.splice(0, 2, sys.base);
  }
  const base = args[0];
  if (!base) { console.error('usage: node live-latency.mjs BASE_URL|--start BUILD_DIR [seconds] [1,10]'); process.exit(2); }
  const seconds = Number(args[1] || 5);
  try {
    for (const n of (args[2] || '1,10').split(',').map(Number)) console.log(describe(await measure(base, n, seconds)));
  } finally {
    if (sys) await sys.stop();
  }
}
