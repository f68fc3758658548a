// Refuses a Node.js older than any `engines.node` in package-lock.json (the
// browser tests' dependencies). Run by scripts/install-deps.sh, so that a too
// old Node is a clear error at install time, not a crash in the middle of the
// browser tests. Only ">=X[.Y[.Z]]" ranges are understood; any other form is an
// error here, to be handled when a dependency brings one.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const lock = JSON.parse(fs.readFileSync(path.join(here, 'package-lock.json'), 'utf8'));
const parse = (v) => v.split('.').map((x) => Number.parseInt(x, 10) || 0).concat([0, 0, 0]).slice(0, 3);
const have = parse(process.versions.node);
const older = (a, b) => a[0] !== b[0] ? a[0] < b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] < b[2];
let bad = 0;
for (const [name, pkg] of Object.entries(lock.packages || {})) {
  const range = pkg.engines && pkg.engines.node;
  if (!range) continue;
  const m = /^>=\s*(\d+(?:\.\d+){0,2})$/.exec(range.trim());
  if (!m) {
    console.error(`check-node: ${name || 'the tests'}: engines.node "${range}" is not a ">=X.Y.Z" range this check understands`);
    bad = 1;
  } else if (older(have, parse(m[1]))) {
    console.error(`check-node: Node.js ${process.versions.node} is older than ${name || 'the tests'} needs (${range}); ` +
      'install a newer Node.js, or pin an older release of that package in tests/browser/package.json');
    bad = 1;
  }
}
if (!bad) console.log(`check-node: Node.js ${process.versions.node} satisfies every engines.node in tests/browser/package-lock.json`);
process.exit(bad);
