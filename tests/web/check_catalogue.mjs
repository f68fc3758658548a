// The screen text catalogue check (docs/hmi.md, "Translating the
// HMI"): every t() key of hmi/web/js against every language's catalogue in
// hmi/web/js/lang/. Fails when
//   - a key has no entry in a catalogue (missing translation),
//   - a catalogue has an entry no t() uses (unused),
//   - an entry's placeholders ({name}) differ from its key's,
//   - an entry is not a non-empty string,
//   - t() is called with anything but one string literal as its first
//     argument (t(x), t('a' + b), t(`…${x}…`)), except the calls on
//     ALLOW_NON_LITERAL below.
// Run by ctest ("web: the screen text catalogue", node --test) with a
// self-test that plants each fault; or by hand, to list what a tree lacks:
//   node tests/web/check_catalogue.mjs [JS_DIR [CATALOGUE_DIR]]
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const JS_DIR = path.resolve(here, '../../hmi/web/js');

/**
 * t() calls whose first argument may be other than a literal: "file:snippet",
 * the snippet being the text of the argument. Each needs a reason; its keys
 * must still be literals somewhere (or they show in English). Empty so far.
 */
export const ALLOW_NON_LITERAL = new Set([]);

// ---- a small JavaScript tokenizer: enough for strings, templates (with
// nested code in ${…}), comments and regular expression literals.
const PUNCT_BEFORE_REGEX = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^', '=>', '&&', '||', '??', '==', '===', '!=', '!==']);
const KEYWORDS_BEFORE_REGEX = new Set(['return', 'typeof', 'case', 'do', 'else', 'in', 'of', 'new', 'delete', 'void', 'throw', 'yield', 'await']);

export function tokenize(src) {
  const toks = [];
  let i = 0;
  let line = 1;
  const stack = []; // brace depth at each open ${ of a template
  let depth = 0;
  const prevSignificant = () => toks[toks.length - 1];
  const regexAllowed = () => {
    const p = prevSignificant();
    if (!p) return true;
    if (p.type === 'punct') return PUNCT_BEFORE_REGEX.has(p.value);
    if (p.type === 'id') return KEYWORDS_BEFORE_REGEX.has(p.value);
    return false;
  };
  // Reads a template from i (just after ` or after the } closing a ${…});
  // pushes a 'tpl' token part; returns true when it stopped at a ${.
  const readTemplate = (tok) => {
    while (i < src.length) {
      const c = src[i];
      if (c === '\\') { tok.cooked += src.slice(i, i + 2); i += 2; continue; }
      if (c === '\n') line++;
      if (c === '`') { i++; return false; }
      if (c === '$' && src[i + 1] === '{') { i += 2; tok.exprs++; tok.raw = `${tok.raw.replace(/`$/, '')}\${…}\``; return true; }
      tok.cooked += c;
      tok.raw = `${tok.raw.replace(/`$/, '')}${c}\``;
      i++;
    }
    throw new Error(`unterminated template at line ${line}`);
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '\n') { line++; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === '/' && src[i + 1] === '/') { while (i < src.length && src[i] !== '\n') i++; continue; }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      line += (src.slice(i, end).match(/\n/g) || []).length;
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (c === '\'' || c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) { if (src[j] === '\\') j++; if (src[j] === '\n') break; j++; }
      toks.push({ type: 'str', raw: src.slice(i, j + 1), line });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      i++;
      const tok = { type: 'tpl', cooked: '', exprs: 0, line, raw: '``' };
      toks.push(tok);
      if (readTemplate(tok)) stack.push({ depth, tok });
      continue;
    }
    if (c === '}' && stack.length && stack[stack.length - 1].depth === depth) {
      const { tok } = stack.pop();
      i++;
      if (readTemplate(tok)) stack.push({ depth, tok });
      continue;
    }
    if (c === '/' && regexAllowed()) {
      let j = i + 1;
      let cls = false;
      while (j < src.length && (cls || src[j] !== '/')) {
        if (src[j] === '\\') j++;
        else if (src[j] === '[') cls = true;
        else if (src[j] === ']') cls = false;
        j++;
      }
      j++;
      while (/[a-z]/i.test(src[j] || '')) j++;
      toks.push({ type: 'regex', raw: src.slice(i, j), line });
      i = j;
      continue;
    }
    const id = /^[A-Za-z_$][\w$]*/.exec(src.slice(i, i + 200));
    if (id) { toks.push({ type: 'id', value: id[0], line }); i += id[0].length; continue; }
    const numLit = /^\d[\d_.eE]*/.exec(src.slice(i, i + 50));
    if (numLit) { toks.push({ type: 'num', value: numLit[0], line }); i += numLit[0].length; continue; }
    const p = /^(===|!==|\.\.\.|=>|&&|\|\||\?\?|==|!=|<=|>=|\?\.|[^\s])/.exec(src.slice(i, i + 3))[0];
    if (p === '{') depth++;
    if (p === '}') depth--;
    toks.push({ type: 'punct', value: p, line });
    i += p.length;
  }
  return toks;
}

/** The text of a string literal token (its escapes resolved). */
function literalText(tok) {
  if (tok.type === 'tpl') return tok.cooked.replace(/\\(.)/g, '$1');
  // Our own sources: the literal read as JavaScript.
  return Function(`"use strict"; return (${tok.raw});`)();
}

/**
 * The t() calls of one source text: {keys: [{key, line}], bad: [{line, arg}]}.
 * A call is t( not preceded by "." or "function".
 */
export function scanSource(src, file = '') {
  const toks = tokenize(src);
  const keys = [];
  const bad = [];
  for (let k = 0; k < toks.length - 1; k++) {
    const tk = toks[k];
    if (tk.type !== 'id' || tk.value !== 't') continue;
    const before = toks[k - 1];
    if (before && ((before.type === 'punct' && (before.value === '.' || before.value === '?.')) || (before.type === 'id' && before.value === 'function'))) continue;
    if (toks[k + 1].type !== 'punct' || toks[k + 1].value !== '(') continue;
    const arg = toks[k + 2];
    const after = toks[k + 3];
    const literal = arg && (arg.type === 'str' || (arg.type === 'tpl' && arg.exprs === 0))
      && after && after.type === 'punct' && (after.value === ',' || after.value === ')');
    if (literal) { keys.push({ key: literalText(arg), line: arg.line, file }); continue; }
    // The argument's text up to the call's first top-level "," or ")".
    let d = 0;
    let j = k + 2;
    const parts = [];
    for (; j < toks.length; j++) {
      const x = toks[j];
      if (x.type === 'punct' && '([{'.includes(x.value)) d++;
      if (x.type === 'punct' && ')]}'.includes(x.value)) { if (d === 0) break; d--; }
      if (x.type === 'punct' && x.value === ',' && d === 0) break;
      parts.push(x.raw ?? x.value);
    }
    const text = parts.join(' ');
    if (!ALLOW_NON_LITERAL.has(`${file}:${text}`)) bad.push({ file, line: tk.line, arg: text });
  }
  return { keys, bad };
}

function jsFiles(dir, skip) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (skip.has(p)) continue;
    if (statSync(p).isDirectory()) out.push(...jsFiles(p, skip));
    else if (name.endsWith('.js')) out.push(p);
  }
  return out;
}

/** Every t() of the HMI's sources (not the catalogues): {keys: Map key -> [where]}, bad. */
export function scanTree(jsDir = JS_DIR, langDir = path.join(jsDir, 'lang')) {
  const keys = new Map();
  const bad = [];
  for (const f of jsFiles(jsDir, new Set([langDir]))) {
    const rel = path.relative(jsDir, f);
    const r = scanSource(readFileSync(f, 'utf8'), rel);
    for (const { key, line } of r.keys) {
      if (!keys.has(key)) keys.set(key, []);
      keys.get(key).push(`${rel}:${line}`);
    }
    bad.push(...r.bad);
  }
  return { keys, bad };
}

const placeholders = (s) => [...new Set((String(s).match(/\{(\w+)\}/g) || []))].sort().join(' ');

/** The problems of one catalogue ({English: translation}) against the keys. */
export function checkCatalogue(name, catalogue, keys) {
  const problems = [];
  for (const [key, where] of keys) {
    if (!Object.prototype.hasOwnProperty.call(catalogue, key)) problems.push(`${name}: missing ${JSON.stringify(key)} (${where[0]})`);
  }
  for (const [key, value] of Object.entries(catalogue)) {
    if (!keys.has(key)) problems.push(`${name}: unused ${JSON.stringify(key)}`);
    else if (typeof value !== 'string' || value.trim() === '') problems.push(`${name}: empty translation of ${JSON.stringify(key)}`);
    else if (placeholders(key) !== placeholders(value)) {
      problems.push(`${name}: placeholders of ${JSON.stringify(key)} are {${placeholders(key)}}, of ${JSON.stringify(value)} {${placeholders(value)}}`);
    }
  }
  return problems;
}

/** All problems of a tree: non-literal calls, then each catalogue's. */
export async function checkTree(jsDir = JS_DIR, langDir = path.join(jsDir, 'lang')) {
  const { keys, bad } = scanTree(jsDir, langDir);
  const problems = bad.map((b) => `${b.file}:${b.line}: t() needs a string literal, got t(${b.arg}, …)`);
  for (const f of readdirSync(langDir).filter((n) => n.endsWith('.js')).sort()) {
    const mod = await import(pathToFileURL(path.join(langDir, f)).href);
    problems.push(...checkCatalogue(`lang/${f}`, mod.default, keys));
  }
  return { keys, problems };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const jsDir = path.resolve(process.argv[2] || JS_DIR);
  const langDir = path.resolve(process.argv[3] || path.join(jsDir, 'lang'));
  const { keys, problems } = await checkTree(jsDir, langDir);
  for (const p of problems) console.log(p);
  console.log(`${keys.size} keys; ${problems.length} problem(s)`);
  process.exitCode = problems.length ? 1 : 0;
}
