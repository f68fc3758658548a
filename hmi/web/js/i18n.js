// The screen text catalogue. Every text a screen shows goes through t(),
// keyed by its English wording (gettext style): t('Sign in'), or with
// placeholders t('Week {week} of {weeks}', { week: 3, weeks: 6 }).
// English is the key itself; other languages map the English text to theirs.
// A text missing from a language's catalogue shows in English.
//
// (Issue 13: the catalogues and the language setting are filled in by the
// i18n work; screens already call t() for every new text.)

let catalogue = {};

/** Installs a language's catalogue ({English: translation}); {} = English. */
export function setCatalogue(c) { catalogue = c || {}; }

/** The text in the current language, placeholders {name} filled from vars. */
export function t(text, vars) {
  let s = Object.prototype.hasOwnProperty.call(catalogue, text) ? catalogue[text] : text;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m));
  return s;
}
