// The screen text catalogue. Every text a screen shows goes through t(),
// keyed by its English wording (gettext style): t('Sign in'), or with
// placeholders t('Week {week} of {weeks}', { week: 3, weeks: 6 }).
// English is the key itself; other languages map the English text to theirs
// (js/lang/de.js). A text missing from a language's catalogue shows in English.
//
// Principle of operation:
//  1. setLanguage(code) installs that language's catalogue, sets <html lang>
//     and calls the onLanguage() listeners, which rebuild the tables that
//     hold translated text (format.js: MODES, PHASES, STATES, CODES;
//     validate.js: LIMITS labels, tempo messages, progressions).
//  2. The first argument of t() is always a string literal, so that
//     tests/web/check_catalogue.mjs can find every key and check each
//     language's catalogue against them (docs/hmi.md, "Translating
//     the HMI").

import de from './lang/de.js';

/** The languages of the Settings screen, each named in itself. */
export const LANGUAGES = [
  { value: 'en', label: 'English' },
  { value: 'de', label: 'Deutsch' },
];
const CATALOGUES = { en: {}, de };

let catalogue = {};
let lang = 'en';
const listeners = [];

/** Installs a language's catalogue ({English: translation}); {} = English. */
export function setCatalogue(c) { catalogue = c || {}; }

/** The text in the current language, placeholders {name} filled from vars. */
export function t(text, vars) {
  let s = Object.prototype.hasOwnProperty.call(catalogue, text) ? catalogue[text] : text;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m));
  return s;
}

/** The current language's code ('en', 'de'). */
export function language() { return lang; }

/** Switches the language (unknown codes: English); tables and <html lang> follow. */
export function setLanguage(code) {
  lang = Object.prototype.hasOwnProperty.call(CATALOGUES, code) ? code : 'en';
  setCatalogue(CATALOGUES[lang]);
  if (typeof document !== 'undefined') document.documentElement.lang = lang;
  for (const f of listeners) f(lang);
}

/** f(lang) runs after every setLanguage(). */
export function onLanguage(f) { listeners.push(f); }
