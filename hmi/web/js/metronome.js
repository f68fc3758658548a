// Audible metronome that follows the tempo the daemon paces (WebAudio, no files).
//
// Principle of operation:
//  1. The daemon's live messages carry the prescribed phase and how far
//     through it the member should be (phase_progress 0–1).
//  2. On each phase change a tone marks the new phase: high for RAISE, low for
//     LOWER, a short mid click for the pauses.
//  3. Within a phase a soft tick marks every whole second still to go, found
//     from progress × the phase's length in the set's tempo.
//  4. Volume and on/off come from the settings; the AudioContext is resumed on
//     the first touch (browsers keep audio muted until a user gesture).

import { settings } from './format.js';

let ctx = null;
let lastPhase = null;
let lastSecond = -1;

export function unlockAudio() {
  try {
    if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
    if (ctx.state === 'suspended') ctx.resume();
  } catch { ctx = null; }
}

function tone(freq, durS, gain) {
  if (!ctx || !settings.metronome || settings.volume <= 0) return;
  const t0 = ctx.currentTime;
  const osc = ctx.createOscillator();
  const g = ctx.createGain();
  osc.type = 'sine';
  osc.frequency.value = freq;
  const peak = Math.max(0.0001, gain * settings.volume);
  g.gain.setValueAtTime(0.0001, t0);
  g.gain.exponentialRampToValueAtTime(peak, t0 + 0.01);
  g.gain.exponentialRampToValueAtTime(0.0001, t0 + durS);
  osc.connect(g).connect(ctx.destination);
  osc.start(t0);
  osc.stop(t0 + durS + 0.02);
}

const PHASE_TONES = {
  concentric: [880, 0.18, 0.6],
  eccentric: [440, 0.25, 0.6],
  top: [660, 0.08, 0.35],
  bottom: [660, 0.08, 0.35],
  hold: [880, 0.18, 0.6],
};

/** Feed each live message; tempo = parseTempo() result or null. */
export function metronomeTick(msg, tempo) {
  const running = msg.state === 'active' || msg.state === 'calibrating';
  if (!running) { lastPhase = null; lastSecond = -1; return; }
  const phase = msg.phase;
  if (phase !== lastPhase) {
    lastPhase = phase;
    lastSecond = 0;
    const t = PHASE_TONES[phase];
    if (t) tone(...t);
    return;
  }
  const len = tempo ? { concentric: tempo.concentric, top: tempo.top, eccentric: tempo.eccentric, bottom: tempo.bottom }[phase] : null;
  if (!len || !Number.isFinite(msg.phase_progress)) return;
  const sec = Math.floor(msg.phase_progress * len + 1e-6);
  if (sec > lastSecond && sec < len) {
    lastSecond = sec;
    tone(1200, 0.04, 0.25);
  }
}

/** A short test beep for the settings screen. */
export function testBeep() {
  unlockAudio();
  tone(880, 0.18, 0.6);
}
