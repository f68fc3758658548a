// The screen text catalogue (hmi/web/js/i18n.js, lang/*.js), checked by
// check_catalogue.mjs, and the checker's own self-test: each kind of fault is
// planted in a throw-away tree and must be reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { checkTree, scanSource } from './check_catalogue.mjs';
import { t, setLanguage, language } from '../../hmi/web/js/i18n.js';
import de from '../../hmi/web/js/lang/de.js';

test('catalogue: every t() text of hmi/web/js has its German, none unused, placeholders agree', async () => {
  const { keys, problems } = await checkTree();
  assert.ok(keys.size > 300, `only ${keys.size} keys found`);
  assert.deepEqual(problems, []);
});

test('catalogue self-test: a planted missing key, unused entry, placeholder mismatch and non-literal t() fail', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'soleus-i18n-'));
  try {
    mkdirSync(path.join(dir, 'lang'));
    mkdirSync(path.join(dir, 'screens'));
    // As hmi/web/package.json: Node 18 (Debian 12's) reads a .js file with
    // `export` as CommonJS unless a package.json says "module".
    writeFileSync(path.join(dir, 'package.json'), '{"type": "module"}\n');
    writeFileSync(path.join(dir, 'screens', 'a.js'), [
      "import { t } from '../i18n.js';",
      '// t(\'In a comment\') is no call',
      "const s = 'not a key';",
      "h('p', t('Known'), t(\"Planted missing\"), t(`Week {week}`, { week }));",
      'const re = /t\\(\'x\'\\)/;',
      'h(\'p\', t(s), t(`Hello ${name}`), t(\'a\' + s), x.t(\'method, not t\'));',
      'function t(text) { return text; }',
    ].join('\n'));
    writeFileSync(path.join(dir, 'lang', 'xx.js'), `export default ${JSON.stringify({
      Known: 'Bekannt', 'Week {week}': 'Woche {wk}', 'Never used': 'Nie benutzt',
    })};\n`);
    const { keys, problems } = await checkTree(dir, path.join(dir, 'lang'));
    assert.deepEqual([...keys.keys()].sort(), ['Known', 'Planted missing', 'Week {week}']);
    const has = (re) => assert.ok(problems.some((p) => re.test(p)), `${re} in:\n${problems.join('\n')}`);
    has(/missing "Planted missing"/);
    has(/unused "Never used"/);
    has(/placeholders of "Week \{week\}"/);
    has(/t\(\) needs a string literal, got t\(s,/);
    has(/got t\(`Hello \$\{…\}` name,/);
    has(/got t\('a' \+ s,/);
    assert.equal(problems.length, 6, problems.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('catalogue: a key with escapes and a template literal read as text', () => {
  const { keys, bad } = scanSource("t('Delete \"{name}\"?'); t(`One ${'$'}`); t('It\\'s');");
  assert.deepEqual(keys.map((k) => k.key), ['Delete "{name}"?', "It's"]);
  assert.equal(bad.length, 1);
});

test('t(): placeholders, German, unknown language falls back to English', () => {
  setLanguage('en');
  assert.equal(t('Start set {n}', { n: 2 }), 'Start set 2');
  setLanguage('de');
  assert.equal(language(), 'de');
  assert.equal(t('Start set {n}', { n: 2 }), 'Satz 2 starten');
  assert.equal(t('PAIN'), 'SCHMERZ');
  assert.equal(t('STOP'), 'STOP');
  assert.equal(t('A text no catalogue has'), 'A text no catalogue has');
  assert.equal(de['Set'], 'Satz');
  setLanguage('xx');
  assert.equal(language(), 'en');
  assert.equal(t('PAIN'), 'PAIN');
});

test('format.js follows the language: decimal comma, tables and sentences in German', async () => {
  const f = await import('../../hmi/web/js/format.js');
  setLanguage('en');
  assert.equal(f.load(350), '35.7 kg');
  assert.equal(f.loadPrecise(350), '35.7 kg · 350 N');
  assert.equal(f.MODES.isotonic, 'Constant load');
  assert.equal(f.stopReasonText({ stop_reason: 'user_stop', reps: 4 }), 'You pressed STOP: set ended at rep 4');
  setLanguage('de');
  assert.equal(f.load(350), '35,7 kg');
  assert.equal(f.loadPrecise(350), '35,7 kg · 350 N');
  assert.equal(f.fmtNum(2.5, 1), '2,5');
  assert.equal(f.numAuto(2.5), '2,5');
  assert.equal(f.MODES.isotonic, 'Konstante Last');
  assert.equal(f.STATES.active, 'Satz läuft');
  assert.equal(f.PHASES.concentric.word, 'HEBEN');
  assert.equal(f.codeMeaning('boot'), 'Steuerung gestartet');
  assert.ok(f.isCodeMeaning('boot', 'Controller started'));
  assert.equal(f.stopReasonText({ stop_reason: 'user_stop', reps: 4 }), 'Sie haben STOP gedrückt: Satz endete bei Wiederholung 4');
  assert.equal(f.stopReasonText({ stop_reason: 'range_loss', reps: 0 }),
    'Ihr Bewegungsumfang wurde kürzer: Die Wiederholungen erreichten nicht mehr die volle Höhe. Satz endete vor einer vollen Wiederholung');
  const v = await import('../../hmi/web/js/validate.js');
  assert.equal(v.tempoError('3-1-3'), 'Vier Zahlen: senken-Pause-heben-halten');
  assert.equal(v.rule('target_reps')('150'), 'Wdh. muss 1–100 sein');
  setLanguage('en');
  assert.equal(v.rule('target_reps')('150'), 'Reps must be 1–100');
  assert.equal(f.load(350), '35.7 kg');
});
