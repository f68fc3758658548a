// The live screen's words for how a set finds the member's range (issue 13:
// range_note of the live message; hmi/web/js/format.js rangeNoteText), through
// t() so a catalogue can translate them. Node's own test runner, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { rangeNoteText } from '../../hmi/web/js/format.js';
import { setCatalogue } from '../../hmi/web/js/i18n.js';

test('range note: each reason in words, the age in days, nothing without a note', () => {
  setCatalogue({});
  assert.equal(rangeNoteText({ range_note: 'stale', range_age_days: 41.7 }),
    'Your stored range is 41 days old: this light first rep measures it again');
  assert.match(rangeNoteText({ range_note: 'no_stored_range' }), /No stored range/);
  assert.match(rangeNoteText({ range_note: 'checking', range_age_days: 2 }), /checks it/);
  assert.match(rangeNoteText({ range_note: 'confirmed' }), /first rep counted/);
  assert.match(rangeNoteText({ range_note: 'not_confirmed' }), /did not count/);
  assert.match(rangeNoteText({ range_note: 'outside_limits' }), /does not fit the machine/);
  assert.equal(rangeNoteText({ range_note: null }), null);
  assert.equal(rangeNoteText({}), null);
});

test('range note: goes through the catalogue (keyed by the English text)', () => {
  setCatalogue({
    'Your stored range is {days} days old: this light first rep measures it again':
      'Ihr gespeicherter Bewegungsbereich ist {days} Tage alt: diese leichte erste Wiederholung misst ihn neu',
  });
  assert.equal(rangeNoteText({ range_note: 'stale', range_age_days: 31 }),
    'Ihr gespeicherter Bewegungsbereich ist 31 Tage alt: diese leichte erste Wiederholung misst ihn neu');
  setCatalogue({});
});
