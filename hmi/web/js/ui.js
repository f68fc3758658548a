// Small DOM helpers: element builder, modal layer, messages and confirmation.
// Touch only: everything reacts to 'click' (a tap), nothing to hover.

import { t } from './i18n.js';

/** h('div.card#id', {onclick, dataset...}, children...) */
export function h(sel, attrs, ...children) {
  const m = /^([a-z0-9]+)?((?:[.#][\w-]+)*)$/i.exec(sel);
  const el = document.createElement((m && m[1]) || 'div');
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

/** A modal layer above everything except the set rail (STOP stays usable). */
export function modal(content, { onClose, cls = '' } = {}) {
  const layer = h(`div.modal-layer`);
  const box = h('div.modal', content);
  for (const c of cls.split(/\s+/).filter(Boolean)) box.classList.add(c);
  layer.append(box);
  document.getElementById('modals').append(layer);
  return {
    box,
    close() {
      layer.remove();
      if (onClose) onClose();
    },
  };
}

let toastTimer = null;
/** A short message at the bottom. kind: 'info' | 'warn' | 'alarm'. */
export function toast(text, kind = 'info', ms = 4000) {
  const el = document.getElementById('toast');
  el.textContent = text;
  el.className = `toast show ${kind}`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.className = 'toast'; }, ms);
}

/** Ask before an action; resolves true or false. */
export function confirmBox(title, text, okLabel = t('OK')) {
  return new Promise((resolve) => {
    let m;
    const done = (v) => { m.close(); resolve(v); };
    m = modal([
      h('h2', title),
      h('p.confirm-text', text),
      h('div.row.end',
        h('button.btn', { onclick: () => done(false) }, t('Cancel')),
        h('button.btn.primary', { onclick: () => done(true), 'data-test': 'confirm-ok' }, okLabel)),
    ], { cls: 'confirm' });
  });
}

/** A list of choices in a modal; resolves the chosen value or null. */
export function choose(title, options) {
  return new Promise((resolve) => {
    let m;
    const done = (v) => { m.close(); resolve(v); };
    m = modal([
      h('h2', title),
      h('div.choices', options.map((o) =>
        h('button.btn.choice', { onclick: () => done(o.value), 'data-value': String(o.value) }, o.label))),
      h('div.row.end', h('button.btn', { onclick: () => done(null) }, t('Cancel'))),
    ], { cls: 'chooser' });
  });
}

/** Segmented control: one of several buttons pressed. */
export function segmented(options, value, onChange, name = '') {
  const wrap = h('div.seg', { 'data-name': name });
  const render = () => {
    for (const b of wrap.children) b.classList.toggle('on', b.dataset.value === String(value));
  };
  for (const o of options) {
    wrap.append(h('button.btn', {
      'data-value': String(o.value),
      onclick: () => { value = o.value; render(); onChange(o.value); },
    }, o.label));
  }
  render();
  wrap.set = (v) => { value = v; render(); };
  return wrap;
}
