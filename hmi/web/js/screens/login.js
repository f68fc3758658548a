// Sign-in: member number on the on-screen keypad, an RFID wristband (the
// reader types its tag like a keyboard, then Enter), guest quick start, and
// the PIN sign-in of staff and maintenance.

import { api, ApiError } from '../api.js';
import { h, toast, modal } from '../ui.js';
import { t } from '../i18n.js';
import { keyGrid, applyKey, keypad } from '../keypad.js';

function loginError(e) {
  if (e instanceof ApiError) {
    if (e.status === 429) return t('Too many wrong tries: locked for 5 minutes');
    if (e.status === 401 || e.status === 403 || e.status === 404) return e.message && !/^HTTP/.test(e.message) ? e.message : t('Not recognised');
    if (e.status === 0) return t('No answer from the machine');
    return e.message;
  }
  return String(e.message || e);
}

async function askPin(title) {
  return keypad({ title, layout: 'numeric', secret: true, maxLen: 12, hint: t('PIN: 4 to 12 digits'), validate: (s) => (/^\d{4,12}$/.test(s) ? null : t('A PIN is 4 to 12 digits')) });
}

export function mountLogin(root, params, app) {
  let number = '';
  const display = h('div.kp-value', { 'data-test': 'member-number' });
  const msg = h('div.err', { 'data-test': 'login-msg' });
  const update = () => { display.textContent = number; msg.textContent = ''; };

  async function memberLogin(id, how) {
    if (!id) { msg.textContent = t('Enter your member number'); return; }
    msg.textContent = '';
    try {
      const reply = await api.login({ member: id });
      app.signIn(reply, { role: 'member', number: id, via: how });
    } catch (e) {
      // A member with a PIN gets 401 naming the field "pin": ask for it.
      if (e instanceof ApiError && e.status === 401 && e.field === 'pin') {
        const pin = await askPin(t('Your PIN'));
        if (pin === null) return;
        try {
          const reply = await api.login({ member: id, pin });
          app.signIn(reply, { role: 'member', number: id, via: how });
        } catch (e2) { msg.textContent = loginError(e2); }
        return;
      }
      msg.textContent = loginError(e);
    }
  }

  async function roleLogin(role, title) {
    const pin = await askPin(title);
    if (pin === null) return;
    try {
      const reply = await api.login({ role, pin });
      app.signIn(reply, { role });
    } catch (e) { toast(loginError(e), 'warn'); }
  }

  // Staff: tap your name, then your PIN (a PIN alone must not pick the
  // account: a guess would unlock whichever account it matched). The shared
  // staff PIN, when the gym keeps one, is a tile of its own.
  async function staffLogin() {
    let names;
    try { names = await api.staffNames(); } catch (e) { toast(loginError(e), 'warn'); return; }
    const accounts = (names && names.staff) || [];
    if (!accounts.length) { roleLogin('staff', t('Staff PIN')); return; }
    const choice = await new Promise((resolve) => {
      let m;
      const done = (v) => { m.close(); resolve(v); };
      m = modal([
        h('h2', t('Who are you?')),
        h('div.staff-tiles', { 'data-test': 'staff-tiles' },
          accounts.map((a) => h('button.btn.staff-tile', { 'data-staff-id': String(a.id), onclick: () => done(a) }, a.name)),
          names.shared_pin ? h('button.btn.staff-tile.shared', { 'data-test': 'staff-shared', onclick: () => done('shared') }, t('Shared staff PIN')) : null),
        h('div.row.end', h('button.btn', { onclick: () => done(null) }, t('Cancel'))),
      ], { cls: 'chooser' });
    });
    if (choice === null) return;
    if (choice === 'shared') { roleLogin('staff', t('Staff PIN')); return; }
    const pin = await askPin(t('PIN for {name}', { name: choice.name }));
    if (pin === null) return;
    try {
      const reply = await api.login({ role: 'staff', staff_id: choice.id, pin });
      app.signIn(reply, { role: 'staff' });
    } catch (e) { toast(loginError(e), 'warn'); }
  }

  async function guest() {
    try {
      const reply = await api.login({ role: 'guest' });
      app.signIn(reply, { role: 'guest' });
    } catch (e) { toast(loginError(e), 'warn'); }
  }

  const onKey = (k) => { number = applyKey(number, k, 10); update(); };

  root.append(h('div.login',
    h('div.pad.panel',
      h('h2', t('Member number')),
      h('div.kp-display', display),
      h('div.row', keyGrid('numeric', onKey)),
      h('div.row', h('button.btn.primary.grow', { 'data-test': 'member-login', onclick: () => memberLogin(number, 'keypad') }, t('Sign in'))),
      msg),
    h('div.others',
      h('div.panel.login-hint', t('Or hold your wristband to the reader.')),
      h('button.btn.big.primary', { 'data-test': 'guest', onclick: guest }, t('Quick start as guest')),
      h('div.row',
        h('button.btn.grow', { 'data-test': 'staff-login', onclick: staffLogin }, t('Staff')),
        h('button.btn.grow', { 'data-test': 'maint-login', onclick: () => roleLogin('maintenance', t('Maintenance PIN')) }, t('Maintenance'))))));
  update();

  // RFID reader: a burst of characters then Enter. Digits typed on a hardware
  // keyboard land in the member number; any other burst is taken as a tag.
  let tag = '';
  let lastKey = 0;
  const onKeyDown = (e) => {
    if (document.querySelector('.modal-layer')) return;
    const now = performance.now();
    if (now - lastKey > 800) tag = '';
    lastKey = now;
    if (e.key === 'Enter') {
      e.preventDefault();
      const t = tag.trim();
      tag = '';
      if (t && t !== number) memberLogin(t, 'rfid');
      else memberLogin(number, 'keypad');
    } else if (e.key === 'Backspace') {
      onKey('⌫');
    } else if (e.key.length === 1) {
      tag += e.key;
      if (/\d/.test(e.key)) onKey(e.key);
    }
  };
  window.addEventListener('keydown', onKeyDown);
  return () => window.removeEventListener('keydown', onKeyDown);
}
