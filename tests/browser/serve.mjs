#!/usr/bin/env node
// For HMI development: builds the HMI and starts soleus-sim and soleusd from a
// build tree exactly as the browser tests do (real-system.mjs: free ports, a
// fresh database, the bus tolerances widened), prints the address to open, and
// stops both on Ctrl-C.
// Usage: node serve.mjs BUILD_DIR
//   After editing hmi/web, run the printed build.sh line again and reload the
//   page (soleusd serves the asset directory from disk).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startReal } from './real-system.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const buildDir = process.argv[2] || process.env.SOLEUS_BUILD_DIR;
if (!buildDir) {
  console.error('usage: node serve.mjs BUILD_DIR   (a CMake build tree with app/soleusd and sim/soleus-sim)');
  process.exit(2);
}
const artifacts = path.join(repo, 'tests/artifacts/serve');
const assets = path.join(artifacts, 'hmi');
fs.rmSync(assets, { recursive: true, force: true });
const build = path.join(repo, 'hmi/web/build.sh');
execFileSync('bash', [build, assets], { stdio: ['ignore', 'ignore', 'inherit'] });
const sys = await startReal({ repo, buildDir: path.resolve(buildDir), assetDir: assets, artifacts, maintPin: process.env.SOLEUS_MAINT_PIN || '4321' });
console.log(`HMI at ${sys.base}/  (staff PIN 1234, maintenance 4321; logs in ${path.join(artifacts, 'logs')})`);
console.log(`simulator control port ${sys.simPort}, e.g. ${path.resolve(buildDir, 'sim/soleus-sim')} --ctl ${sys.simPort} '{"cmd":"athlete","style":"push_hard"}'`);
console.log(`after editing hmi/web: bash ${build} ${assets}; Ctrl-C stops both`);
process.on('SIGINT', async () => { await sys.stop(); process.exit(0); });
process.on('SIGTERM', async () => { await sys.stop(); process.exit(0); });
