// The on-screen keypad: the only way to type on the touchscreen.
//
// Principle of operation:
//  1. keypad() opens a modal with a display, the field's allowed range and a
//     grid of keys (numeric, decimal, tempo or letters).
//  2. After every key the text is validated by the field's own rule; the
//     message shows at once and OK stays disabled while the text is invalid,
//     so a bad value can never leave the keypad ("validated as it is typed").
//  3. A hardware keyboard (or an RFID reader typing like one) works too.

import { h, modal } from './ui.js';
import { t } from './i18n.js';

const LAYOUTS = {
  numeric: ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'CLR', '0', '⌫'],
  decimal: ['1', '2', '3', '4', '5', '6', '7', '8', '9', '.', '0', '⌫'],
  tempo: ['1', '2', '3', '-', '4', '5', '6', '.', '7', '8', '9', '⌫', 'CLR', '0'],
  alpha: [
    ...'1234567890'.split(''), ...'QWERTYUIOP'.split(''), ...'ASDFGHJKL'.split(''), '-',
    ...'ZXCVBNM'.split(''), '.', '⌫', ' ', 'CLR',
  ],
};

/** A grid of keys; onKey(k) gets '⌫', 'CLR' or the character. */
export function keyGrid(layout, onKey) {
  const keys = LAYOUTS[layout] || LAYOUTS.numeric;
  const grid = h(`div.keys.keys-${layout}`);
  for (const k of keys) {
    const label = k === ' ' ? t('space') : k === 'CLR' ? t('Clear') : k;
    grid.append(h('button.key', {
      'data-key': k === ' ' ? 'space' : k,
      class: `key${k === ' ' ? ' space' : ''}${k === '⌫' ? ' bksp' : ''}${k === 'CLR' ? ' clr' : ''}`,
      onclick: () => onKey(k),
    }, label));
  }
  return grid;
}

export function applyKey(text, k, maxLen = 24) {
  if (k === '⌫') return text.slice(0, -1);
  if (k === 'CLR') return '';
  if (text.length >= maxLen) return text;
  return text + k;
}

/**
 * Opens the keypad. Resolves the accepted text, or null on Cancel.
 * opts: {title, value, layout, validate(text) -> message|null, hint, unit, maxLen, secret}
 */
export function keypad(opts) {
  const { title, layout = 'numeric', validate = () => null, hint = '', unit = '',
    maxLen = layout === 'alpha' ? 32 : 12, secret = false } = opts;
  let text = opts.value === undefined || opts.value === null ? '' : String(opts.value);
  return new Promise((resolve) => {
    const display = h('div.kp-value', { 'data-test': 'kp-value' });
    const unitEl = h('span.kp-unit', unit);
    const msg = h('div.kp-msg', { 'data-test': 'kp-msg' });
    const ok = h('button.btn.primary.kp-ok', { 'data-test': 'kp-ok', onclick: () => accept() }, t('OK'));
    const cancel = h('button.btn.kp-cancel', { onclick: () => finish(null) }, t('Cancel'));
    let m;
    const update = () => {
      display.textContent = secret ? '•'.repeat(text.length) : text;
      const err = text === '' ? (opts.allowEmpty ? null : t('Enter a value')) : validate(text);
      msg.textContent = text === '' && !opts.allowEmpty ? hint : (err || hint);
      msg.classList.toggle('bad', Boolean(err) && text !== '');
      display.parentElement && display.parentElement.classList.toggle('bad', Boolean(err) && text !== '');
      ok.disabled = Boolean(err);
    };
    const onKey = (k) => { text = applyKey(text, k, maxLen); update(); };
    const accept = () => {
      const err = text === '' ? (opts.allowEmpty ? null : t('Enter a value')) : validate(text);
      if (err) { update(); return; }
      finish(text);
    };
    const onKeyDown = (e) => {
      if (e.key === 'Enter') { e.preventDefault(); accept(); }
      else if (e.key === 'Escape') finish(null);
      else if (e.key === 'Backspace') onKey('⌫');
      else if (e.key.length === 1) {
        const k = layout === 'alpha' ? e.key.toUpperCase() : e.key;
        if ((LAYOUTS[layout] || []).includes(k) || (layout === 'alpha' && /^[ A-Z0-9.-]$/.test(k))) onKey(k);
      } else return;
      e.stopPropagation();
    };
    const finish = (v) => {
      window.removeEventListener('keydown', onKeyDown, true);
      m.close();
      resolve(v);
    };
    window.addEventListener('keydown', onKeyDown, true);
    m = modal([
      h('div.kp-head', h('h2', title), cancel),
      h('div.kp-display', display, unitEl),
      msg,
      h('div.kp-body', keyGrid(layout, onKey), h('div.kp-side', ok)),
    ], { cls: `keypad kp-${layout}` });
    update();
  });
}

/** A number rule: integer or decimal within [min, max]. */
export function numberRule({ min, max, integer = false, label = t('Value'), unit = '' }) {
  return (text) => {
    if (!/^\d*\.?\d*$/.test(text) || text === '.') return t('Digits only');
    if (integer && text.includes('.')) return t('{label} must be a whole number', { label });
    const v = Number(text);
    if (!Number.isFinite(v)) return t('Not a number');
    if (v < min || v > max) return unit ? t('{label} must be {min}–{max} {unit}', { label, min, max, unit }) : t('{label} must be {min}–{max}', { label, min, max });
    return null;
  };
}
