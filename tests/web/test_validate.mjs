// Unit tests of the touchscreen page's field rules (hmi/web/js/validate.js),
// run by Node's own test runner (node --test), no browser. The tempo cases are
// the table the C++ parser is tested against (tests/common/tempo_cases.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { tempoCheck, tempoError, parseTempo, newStep, stepErrors } from '../../hmi/web/js/validate.js';

const casesFile = process.env.SOLEUS_TEMPO_CASES
  || fileURLToPath(new URL('../common/tempo_cases.json', import.meta.url));
const { cases } = JSON.parse(readFileSync(casesFile, 'utf8'));

test('tempo: the shared table of cases', () => {
  assert.ok(cases.length >= 40);
  for (const c of cases) {
    const r = tempoCheck(c.input);
    const err = tempoError(c.input);
    if (c.accepted) {
      assert.equal(r.error, undefined, `${JSON.stringify(c.input)}: ${r.message}`);
      assert.deepEqual(r.values, c.values, JSON.stringify(c.input));
      assert.equal(err, null, JSON.stringify(c.input));
      const p = parseTempo(c.input);
      assert.deepEqual([p.eccentric, p.bottom, p.concentric, p.top], c.values);
    } else {
      assert.equal(r.error, c.error, JSON.stringify(c.input));
      assert.ok(r.message, JSON.stringify(c.input));
      assert.ok(err, JSON.stringify(c.input));
      assert.equal(parseTempo(c.input), null, JSON.stringify(c.input));
    }
  }
});

test('tempo: the keypad while typing', () => {
  // The browser test's check (tests/browser/tests.mjs): an incomplete tempo.
  assert.match(tempoError('3-1-3'), /Four numbers/);
  assert.match(tempoError('3-'), /Four numbers/);
  assert.match(tempoError('3--'), /Four numbers/);
  // What more keys cannot mend is named at once.
  assert.equal(tempoError('61'), 'Each phase at most 60 s');
  assert.equal(tempoError('3-61-'), 'Each phase at most 60 s');
  assert.equal(tempoError('100'), 'At most 2 digits before "." and 3 after');
  assert.equal(tempoError('1.2345'), 'At most 2 digits before "." and 3 after');
  assert.equal(tempoError('5.-'), 'Digits on both sides of "."');
  assert.equal(tempoError('.5'), 'Digits on both sides of "."');
  assert.equal(tempoError('1.2.'), 'One decimal point per number');
  assert.equal(tempoError('3-1-3-1x'), 'Digits, "." and "-" only');
  assert.match(tempoError('3-1-3-1-'), /Four numbers/);
  assert.equal(tempoError('3-1-3-'), 'Each part needs a number');
  // Typing any accepted tempo key by key never shows a message that claims
  // more keys cannot mend it.
  const mendable = new Set([null, 'Four numbers: lower-pause-raise-hold', 'Each part needs a number',
    'Digits on both sides of "."']);
  for (const c of cases.filter((x) => x.accepted)) {
    for (let n = 1; n <= c.input.length; n++) {
      const prefix = c.input.slice(0, n);
      assert.ok(mendable.has(tempoError(prefix)), `${prefix}: ${tempoError(prefix)}`);
    }
  }
});

test('tempo: a step with a bad tempo names the field', () => {
  assert.deepEqual(stepErrors(newStep()), []);
  const errs = stepErrors({ ...newStep(), tempo: '5.-1-3-1' });
  assert.deepEqual(errs, [{ field: 'tempo', message: 'Digits on both sides of "."' }]);
  assert.deepEqual(stepErrors({ ...newStep(), tempo: '' }).map((e) => e.field), ['tempo']);
});
