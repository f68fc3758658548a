#include "soleus/storage/schema.hpp"

#include <stdexcept>
#include <string>
#include <string_view>

namespace soleus::storage {

namespace {

// Conventions for every table:
//  * times are INTEGER milliseconds since 1970-01-01 UTC (columns *_ms): exact,
//    sortable, indexable, and free of time-zone text;
//  * loop times (t_start_s, t0_s) are REAL seconds of the daemon's monotonic
//    loop clock: they relate samples to reps within one set, not to the calendar;
//  * names of modes, stop reasons and severities are the API's (issue 5), so
//    an export reads the same as the API; CHECK constraints keep them so.
//
// MIGRATION 1: the initial schema. Never edit it: add a migration instead.
constexpr std::string_view kMigration1 = R"sql(
-- Members: the people who train. Their own data, exportable and erasable.
CREATE TABLE members (
  id              INTEGER PRIMARY KEY,   -- stable key for assignments, sessions and sets
  number          TEXT NOT NULL UNIQUE,  -- typed on the keypad or sent by the RFID reader; the login name
  name            TEXT NOT NULL DEFAULT '',  -- shown on the HMI so a member sees it is their card
  pin_hash        TEXT,                  -- optional PIN as a slow-KDF string (issue 5); NULL = no PIN
  rom_bottom_mm   REAL,                  -- stored range of motion: with it the calibration rep is skipped
  rom_top_mm      REAL,
  rom_measured_ms INTEGER,               -- when the range was measured: staff see a stale range
  assessed_max_n  REAL CHECK (assessed_max_n IS NULL OR assessed_max_n > 0),
                                         -- assessed max force: base of loads given as % of max
  assessed_ms     INTEGER,               -- when it was assessed (or typed in by staff)
  created_ms      INTEGER NOT NULL,
  updated_ms      INTEGER NOT NULL,
  CHECK ((rom_bottom_mm IS NULL) = (rom_top_mm IS NULL)),
  CHECK (rom_top_mm IS NULL OR rom_top_mm > rom_bottom_mm)
);

-- Programmes: staff's plans, independent of who follows them.
CREATE TABLE programmes (
  id                INTEGER PRIMARY KEY,
  name              TEXT NOT NULL,
  notes             TEXT NOT NULL DEFAULT '',
  sessions_per_week INTEGER NOT NULL DEFAULT 2 CHECK (sessions_per_week BETWEEN 1 AND 14),
                                      -- planned frequency, shown to the member
  block_weeks       INTEGER CHECK (block_weeks IS NULL OR block_weeks > 0),
                                      -- progression: length of a block (e.g. 6) ...
  after_block_sessions_per_week INTEGER CHECK (after_block_sessions_per_week IS NULL
                                      OR after_block_sessions_per_week BETWEEN 1 AND 14),
                                      -- ... and the frequency after it (e.g. 3); NULL = unchanged
  archived          INTEGER NOT NULL DEFAULT 0,  -- hidden from the editor, kept for history
  created_ms        INTEGER NOT NULL,
  updated_ms        INTEGER NOT NULL
);

-- Steps of a programme: what one exercise block prescribes. A session walks them in order.
CREATE TABLE programme_steps (
  id             INTEGER PRIMARY KEY,
  programme_id   INTEGER NOT NULL REFERENCES programmes(id) ON DELETE CASCADE,
  position       INTEGER NOT NULL,   -- order within the programme (1, 2, ...)
  mode           TEXT NOT NULL CHECK (mode IN ('isotonic','eccentric','isometric')),
  sets           INTEGER NOT NULL CHECK (sets BETWEEN 1 AND 20),
  target_reps    INTEGER CHECK (target_reps BETWEEN 1 AND 100),  -- isotonic, eccentric
  hold_s         REAL CHECK (hold_s > 0),                         -- isometric
  load_n         REAL CHECK (load_n > 0),            -- a load in newtons ...
  load_pct_max   REAL CHECK (load_pct_max > 0 AND load_pct_max <= 150),
                                                     -- ... or in % of the member's assessed max
  tempo          TEXT NOT NULL DEFAULT '3-1-3-1',    -- "E-B-C-T" seconds, as the API takes it
  rest_s         REAL NOT NULL DEFAULT 90 CHECK (rest_s >= 0),  -- rest before the next set
  force_drop_pct REAL NOT NULL DEFAULT 20 CHECK (force_drop_pct BETWEEN 5 AND 50),
  eccentric_pct  REAL NOT NULL DEFAULT 0 CHECK (eccentric_pct BETWEEN 0 AND 100),
  -- Progression rule: when `progress_when` holds for a session, the next
  -- session's load of this step rises by progress_load_pct (e.g. 5 %).
  progress_when  TEXT NOT NULL DEFAULT 'never'
                 CHECK (progress_when IN ('never','all_sets_target','all_sets_target_on_tempo')),
  progress_load_pct REAL NOT NULL DEFAULT 0 CHECK (progress_load_pct BETWEEN 0 AND 50),
  UNIQUE (programme_id, position),
  CHECK ((target_reps IS NULL) <> (hold_s IS NULL)),      -- exactly one of reps and hold
  CHECK ((mode = 'isometric') = (hold_s IS NOT NULL)),
  CHECK ((load_n IS NULL) <> (load_pct_max IS NULL))      -- exactly one kind of load
);

-- Assignments: which member follows which programme since when (history kept).
CREATE TABLE assignments (
  id           INTEGER PRIMARY KEY,
  member_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
  programme_id INTEGER NOT NULL REFERENCES programmes(id),
  started_ms   INTEGER NOT NULL,  -- start of the first block: the progression counts weeks from it
  ended_ms     INTEGER,           -- NULL while current
  created_ms   INTEGER NOT NULL
);
CREATE INDEX assignments_member ON assignments(member_id, ended_ms);

-- Progression state of one step for one assignment: the load factor the
-- progression rule has reached (1.05 after one +5 % step).
CREATE TABLE step_progress (
  assignment_id INTEGER NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
  step_id       INTEGER NOT NULL REFERENCES programme_steps(id) ON DELETE CASCADE,
  load_factor   REAL NOT NULL DEFAULT 1 CHECK (load_factor > 0),
  updated_ms    INTEGER NOT NULL,
  PRIMARY KEY (assignment_id, step_id)
) WITHOUT ROWID;

-- Sessions: one visit of a member (or a guest) to the machine.
CREATE TABLE sessions (
  id            INTEGER PRIMARY KEY,
  member_id     INTEGER REFERENCES members(id) ON DELETE CASCADE,  -- NULL = guest
  assignment_id INTEGER REFERENCES assignments(id) ON DELETE SET NULL,  -- NULL = free training
  started_ms    INTEGER NOT NULL,
  ended_ms      INTEGER,          -- NULL while open: a restart resumes or closes it
  state         TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open','done','aborted')),
  progressed    INTEGER NOT NULL DEFAULT 0  -- the progression rule was applied once (never twice)
);
CREATE INDEX sessions_member ON sessions(member_id, started_ms);

-- Sets: one set as asked for and as it ended. The id is allocated by the
-- daemon before the set starts (the API's {"id": N}).
CREATE TABLE sets (
  id             INTEGER PRIMARY KEY,
  session_id     INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
  member_id      INTEGER REFERENCES members(id) ON DELETE CASCADE,  -- NULL = guest; for erasure and history
  step_id        INTEGER REFERENCES programme_steps(id) ON DELETE SET NULL,
  set_index      INTEGER,         -- 1-based set number within the step: a resumed session continues here
  started_ms     INTEGER NOT NULL,
  ended_ms       INTEGER,         -- NULL while running (or if the daemon died mid-set)
  -- parameters (POST /api/v1/sets)
  mode           TEXT NOT NULL DEFAULT 'isotonic' CHECK (mode IN ('isotonic','eccentric','isometric')),
  load_n         REAL NOT NULL DEFAULT 0,
  tempo          TEXT NOT NULL DEFAULT '',
  target_reps    INTEGER,
  hold_s         REAL,
  force_drop_pct REAL,
  eccentric_pct  REAL,
  -- result
  stop_reason    TEXT CHECK (stop_reason IS NULL OR stop_reason IN ('target_reached',
                   'hold_complete','force_drop','range_loss','pace_loss','stall',
                   'loss_of_control','user_stop','pain','user_left','estop','drive_fault',
                   'comm_loss','sensor_fault','overspeed','travel_limit','storage_fault',
                   'shutdown')),   -- NULL while running
  reps           INTEGER NOT NULL DEFAULT 0,  -- counted full reps (the API's reps)
  partial_reps   INTEGER NOT NULL DEFAULT 0,
  tut_s          REAL NOT NULL DEFAULT 0,     -- time under tension
  best_output    REAL,            -- the best rep's output: the force-drop reference
  last_output    REAL,
  range_bottom_mm REAL,           -- the range the set used ...
  range_top_mm   REAL,
  range_calibrated INTEGER NOT NULL DEFAULT 0  -- ... and whether it was measured in this set
);
CREATE INDEX sets_member_time ON sets(member_id, started_ms);  -- a member's history, by date
CREATE INDEX sets_time ON sets(started_ms);                    -- every set by date (soleusctl sets)
CREATE INDEX sets_session ON sets(session_id);

-- Reps: every rep attempt with every metric the controller computes (the
-- API's rep_log). seq numbers attempts; n numbers counted reps (0 = partial).
CREATE TABLE reps (
  set_id             INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
  seq                INTEGER NOT NULL,  -- attempt number within the set, 1, 2, ...
  n                  INTEGER NOT NULL,  -- counted-rep number; 0 for a partial
  partial            INTEGER NOT NULL DEFAULT 0,  -- 1 = did not cover the range; not counted
  t_start_s          REAL NOT NULL,     -- loop time when the concentric began: ties the rep to its trace
  peak_force_n       REAL NOT NULL,
  mean_force_n       REAL NOT NULL,
  concentric_s       REAL NOT NULL,
  top_pause_s        REAL NOT NULL,
  eccentric_s        REAL NOT NULL,
  bottom_pause_s     REAL NOT NULL,
  rom_mm             REAL NOT NULL,
  rom_pct            REAL NOT NULL,
  mean_velocity_mm_s REAL NOT NULL,
  smoothness         REAL NOT NULL,
  on_tempo           INTEGER NOT NULL,
  tempo_deviation_s  REAL NOT NULL,
  tut_s              REAL NOT NULL,     -- this rep's share of the set's time under tension
  PRIMARY KEY (set_id, seq)             -- a retried batch cannot write a rep twice
) WITHOUT ROWID;

-- Rep traces: force and position at the loop rate, compactly. One row is a
-- chunk of one set's samples (usually one rep: the chunk is cut at each rep's
-- end). data holds (time, force, position) triples, each quantised by the
-- scale columns and stored as zigzag-varint deltas (see trace_codec.hpp):
-- typically 3-4 bytes a sample instead of 24.
CREATE TABLE rep_traces (
  id                INTEGER PRIMARY KEY,
  set_id            INTEGER NOT NULL REFERENCES sets(id) ON DELETE CASCADE,
  rep_seq           INTEGER,          -- the rep whose end closed the chunk; NULL = between/after reps
  created_ms        INTEGER NOT NULL, -- wall time written: retention deletes by it
  t0_s              REAL NOT NULL,    -- loop time of the first sample ...
  t1_s              REAL NOT NULL,    -- ... and of the last: finds the chunks of a rep
  samples           INTEGER NOT NULL,
  time_scale_s      REAL NOT NULL,    -- seconds per time unit (0.001)
  force_scale_n     REAL NOT NULL,    -- newtons per force unit (0.1)
  position_scale_mm REAL NOT NULL,    -- millimetres per position unit (0.01)
  data              BLOB NOT NULL
);
CREATE INDEX rep_traces_set ON rep_traces(set_id, t0_s);
CREATE INDEX rep_traces_created ON rep_traces(created_ms);

-- Events: the technicians' log. Faults, e-stops, communication errors,
-- configuration loads, calibrations, resets, start/stop, DB maintenance.
-- Kept forever (no retention) and never erased with a member: set_id is a
-- plain number, not a foreign key, and events hold no personal data.
CREATE TABLE events (
  id       INTEGER PRIMARY KEY,
  t_ms     INTEGER NOT NULL,
  severity INTEGER NOT NULL CHECK (severity IN (0,1,2)),  -- 0 info, 1 warning, 2 error: sortable
  code     TEXT NOT NULL,             -- stable code (docs/events.md)
  message  TEXT NOT NULL DEFAULT '',  -- human text
  set_id   INTEGER,                   -- the set it happened in, if any
  context  TEXT CHECK (context IS NULL OR json_valid(context))  -- JSON details (values, limits)
);
CREATE INDEX events_time ON events(t_ms);  -- "what happened yesterday at 18:05", newest first

-- Audit trail: who changed what (programmes, members, limits, erasures), with
-- the values before and after. Never updated or deleted.
CREATE TABLE audit (
  id          INTEGER PRIMARY KEY,
  t_ms        INTEGER NOT NULL,
  actor_role  TEXT NOT NULL CHECK (actor_role IN ('member','staff','maintenance','system')),
  actor_id    INTEGER,                -- member or staff id when known
  entity      TEXT NOT NULL,          -- 'member', 'programme', 'programme_step', 'limit', ...
  entity_id   INTEGER,
  field       TEXT NOT NULL,          -- column or setting; '*' for create/erase of a whole entity
  before      TEXT,                   -- value before (NULL on create); secrets shown as '(set)'
  after       TEXT                    -- value after (NULL on delete)
);
CREATE INDEX audit_entity ON audit(entity, entity_id, t_ms);

-- Odometer: the machine's life totals for maintenance. One row.
CREATE TABLE odometer (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  reps            INTEGER NOT NULL DEFAULT 0,  -- counted reps performed
  sets            INTEGER NOT NULL DEFAULT 0,  -- sets ended
  motor_on_s      REAL NOT NULL DEFAULT 0,     -- drive enabled time: wear of motor and screw
  highest_force_n REAL NOT NULL DEFAULT 0,     -- largest force ever seen at the pad
  since_ms        INTEGER NOT NULL             -- when counting began (this file's creation)
);
INSERT INTO odometer (id, since_ms) VALUES (1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));

-- Fault counts per event code (events of severity error).
CREATE TABLE odometer_faults (
  code      TEXT PRIMARY KEY,
  count     INTEGER NOT NULL DEFAULT 0,
  last_t_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

// MIGRATION 2: learnt after the first release.
//  * The controller also reports direction reversals and a "wobbly" flag per
//    rep (loss-of-control evidence); technicians asked to see them.
//  * soleusctl events --code / --severity on a large log scanned the time
//    index: filter indexes that also give the newest-first order.
constexpr std::string_view kMigration2 = R"sql(
ALTER TABLE reps ADD COLUMN reversals INTEGER NOT NULL DEFAULT 0;  -- direction reversals in the moving phases
ALTER TABLE reps ADD COLUMN wobbly INTEGER NOT NULL DEFAULT 0;     -- 1 = counted towards loss_of_control
CREATE INDEX events_code_time ON events(code, t_ms);
CREATE INDEX events_severity_time ON events(severity, t_ms);
)sql";

// MIGRATION 3: the programme-session runner (issue 5).
//  * Staff's progression rules are more than "+x % load": the API's rules are
//    load_n (+N), load_pct (+%), reps (+reps) and hold_s (+s). progress_rule
//    and progress_amount hold them; progress_when keeps the condition.
//  * The runner earns a step one "level" per successful session: additive
//    rules need the count, not a factor. step_progress.level holds it.
//  * A session records the programme it followed (the assignment may change
//    later) and what the runner decided when it ended (a JSON summary: the
//    progression per step), for staff and the member's history. The runner
//    derives its position from the session's sets, never from a stored
//    cursor, so a crash cannot desynchronise it.
//  * Maintenance calibrations (issue 5): the load-cell transmitter has no span
//    command, so the span factor found with a known weight is kept here and
//    applied by the daemon at every start; range checks keep their results
//    next to it, so a technician sees how the machine measured over time.
constexpr std::string_view kMigration3 = R"sql(
ALTER TABLE programme_steps ADD COLUMN progress_rule TEXT NOT NULL DEFAULT 'none'
  CHECK (progress_rule IN ('none','load_n','load_pct','reps','hold_s'));
ALTER TABLE programme_steps ADD COLUMN progress_amount REAL NOT NULL DEFAULT 0
  CHECK (progress_amount >= 0);
UPDATE programme_steps SET progress_rule = 'load_pct', progress_amount = progress_load_pct
  WHERE progress_when <> 'never' AND progress_load_pct > 0;
ALTER TABLE step_progress ADD COLUMN level INTEGER NOT NULL DEFAULT 0 CHECK (level >= 0);
ALTER TABLE sessions ADD COLUMN programme_id INTEGER REFERENCES programmes(id);
ALTER TABLE sessions ADD COLUMN summary TEXT CHECK (summary IS NULL OR json_valid(summary));
                                  -- what the runner decided at the end (progression per step)
CREATE INDEX sessions_open ON sessions(member_id, state);
CREATE TABLE calibrations (
  id      INTEGER PRIMARY KEY,
  t_ms    INTEGER NOT NULL,
  kind    TEXT NOT NULL CHECK (kind IN ('span','range_check')),
  ok      INTEGER NOT NULL,           -- the check passed / the calibration was applied
  value   REAL,                       -- span: the factor applied to the cell's force; range_check: travel, mm
  details TEXT CHECK (details IS NULL OR json_valid(details))  -- measured values, limits, why
);
CREATE INDEX calibrations_kind ON calibrations(kind, id);
)sql";

// MIGRATION 4: the schedule and double progression (issue 13 §2).
//  * A programme's block can plan a session every other day (the articles'
//    default) instead of sessions_per_week: block_every_other_day.
//  * Double progression: a step has a rep range (rep_min–rep_max); its
//    load increment keeps progress_rule ('load_n' or 'load_pct') and
//    progress_amount, with progress_double = 1 (no table rebuild for a new
//    CHECK value). The member's current target within the range is kept per
//    assignment in step_progress.target_reps (NULL: rep_min).
//  * Every change a rule makes (or does not) is logged with its reason:
//    progression_log, read per member by the API.
//  * A session with a PAIN stop flags the member for staff: member_flags
//    (one row per flagged member, deleted when staff clear it).
//  * Adherence is derived from the sessions (a session with at least one set
//    counts on the day it started), reproducibly: nothing stored for it.
constexpr std::string_view kMigration4 = R"sql(
ALTER TABLE programmes ADD COLUMN block_every_other_day INTEGER NOT NULL DEFAULT 0
  CHECK (block_every_other_day IN (0, 1));
ALTER TABLE programme_steps ADD COLUMN rep_min INTEGER CHECK (rep_min IS NULL OR rep_min BETWEEN 1 AND 100);
ALTER TABLE programme_steps ADD COLUMN rep_max INTEGER CHECK (rep_max IS NULL OR rep_max BETWEEN 1 AND 100);
ALTER TABLE programme_steps ADD COLUMN progress_double INTEGER NOT NULL DEFAULT 0
  CHECK (progress_double IN (0, 1));
ALTER TABLE step_progress ADD COLUMN target_reps INTEGER;  -- double progression's current target
CREATE TABLE progression_log (
  id            INTEGER PRIMARY KEY,
  t_ms          INTEGER NOT NULL,
  member_id     INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
  assignment_id INTEGER REFERENCES assignments(id) ON DELETE SET NULL,
  session_id    INTEGER REFERENCES sessions(id) ON DELETE SET NULL,
  step_id       INTEGER REFERENCES programme_steps(id) ON DELETE SET NULL,
  change        TEXT NOT NULL
                CHECK (change IN ('load_up','target_up','reps_up','hold_up','none','pain')),
  level_before  INTEGER NOT NULL,
  level_after   INTEGER NOT NULL,
  target_before INTEGER,            -- double progression only
  target_after  INTEGER,
  reason        TEXT NOT NULL       -- in words, as the member and staff read it
);
CREATE INDEX progression_log_member ON progression_log(member_id, id);
CREATE TABLE member_flags (
  member_id  INTEGER PRIMARY KEY REFERENCES members(id) ON DELETE CASCADE,
  reason     TEXT NOT NULL CHECK (reason IN ('pain')),
  t_ms       INTEGER NOT NULL,
  session_id INTEGER REFERENCES sessions(id) ON DELETE SET NULL
);
)sql";

// MIGRATION 5: the guided strength assessment (issue 13 §1, docs/assessment.md): every
//    assessment is kept (the trend), complete or not; the member's current
//    assessed max says how it was found; staff assign an assessment to a
//    member (the Today card offers it until it is done).
constexpr std::string_view kMigration5 = R"sql(
CREATE TABLE assessments (
  id           INTEGER PRIMARY KEY,
  member_id    INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
  t_ms         INTEGER NOT NULL,                 -- when it ended
  method       TEXT NOT NULL CHECK (method IN ('isometric','submaximal','manual')),
  complete     INTEGER NOT NULL CHECK (complete IN (0, 1)),
  max_n        REAL CHECK (max_n IS NULL OR max_n > 0),  -- NULL: incomplete or beyond range
  beyond_range INTEGER NOT NULL DEFAULT 0 CHECK (beyond_range IN (0, 1)),
  spread_pct   REAL,
  trials       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(trials)),  -- [{pct_of_range, force_n, beyond_range}]
  curve        TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(curve)),
  note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX assessments_member ON assessments(member_id, t_ms);
ALTER TABLE members ADD COLUMN assessed_method TEXT
  CHECK (assessed_method IS NULL OR assessed_method IN ('isometric','submaximal','manual'));
UPDATE members SET assessed_method = 'manual' WHERE assessed_max_n IS NOT NULL;
ALTER TABLE members ADD COLUMN assessment_assigned_ms INTEGER;  -- staff asked for one; NULL: none due
)sql";

// MIGRATION 6: named staff accounts (issue 13).
//  * One shared staff PIN could not say who changed what: each physiotherapist
//    has an account with a name and a PIN of their own (hashed like a
//    member's PIN). Accounts are deactivated, never deleted: the audit trail
//    refers to them by id (audit.actor_id with actor_role 'staff').
//  * An admin account (and maintenance) manages the accounts.
//  * The audit viewer filters by person and pages newest first: an index on
//    the actor.
constexpr std::string_view kMigration6 = R"sql(
CREATE TABLE staff_accounts (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 60),
  pin_hash   TEXT NOT NULL,                  -- pbkdf2-sha256$...: never the PIN
  admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0,1)),  -- may manage staff accounts
  active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0,1)), -- 0 = deactivated: cannot sign in
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE UNIQUE INDEX staff_accounts_active_name ON staff_accounts(name COLLATE NOCASE) WHERE active = 1;
CREATE TRIGGER staff_accounts_never_deleted BEFORE DELETE ON staff_accounts
BEGIN SELECT RAISE(ABORT, 'staff accounts are deactivated, never deleted'); END;
CREATE INDEX audit_actor ON audit(actor_role, actor_id, id);
)sql";

// MIGRATION 7: the member's stored range (issue 13): how each set found its range,
//    and why it calibrated ('confirmed', 'no_stored_range', 'stale',
//    'outside_limits', 'not_confirmed'; NULL: isometric, or before this
//    migration), with the stored range's age when it was offered. The
//    member's own range is members.rom_bottom_mm/rom_top_mm/rom_measured_ms,
//    written after a good calibration.
constexpr std::string_view kMigration7 = R"sql(
ALTER TABLE sets ADD COLUMN range_note TEXT CHECK (range_note IS NULL OR range_note IN
  ('confirmed','no_stored_range','stale','outside_limits','not_confirmed','checking'));
ALTER TABLE sets ADD COLUMN range_age_days REAL CHECK (range_age_days IS NULL OR range_age_days >= 0);
)sql";

// MIGRATION 8: the fleet's outbox (issue 14, docs/fleet.md "The outbox"):
//    what waits to be published to the broker, in publishing order (seq,
//    AUTOINCREMENT: a seq is never reused, so a telemetry message's id
//    <machine>/metrics/<seq> stays unique). A set's or an event's row is a
//    reference to the record (its payload is rendered when it is sent); a
//    telemetry row carries its payload. Rows are written by the writer in the
//    transaction of the record itself, only when [fleet] is configured, and
//    deleted when the broker acknowledged them (PUBACK).
constexpr std::string_view kMigration8 = R"sql(
CREATE TABLE outbox (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT,
  kind       TEXT NOT NULL CHECK (kind IN ('set','event','metrics')),
  ref_id     INTEGER CHECK ((kind = 'metrics') = (ref_id IS NULL)),        -- sets.id / events.id
  payload    TEXT CHECK ((kind = 'metrics') = (payload IS NOT NULL AND json_valid(payload))),
  created_ms INTEGER NOT NULL
);
CREATE INDEX outbox_kind ON outbox(kind, seq);  -- oldest per kind; oldest telemetry first to go
)sql";

// MIGRATION 9: members who train on any machine of the gym (issue 14 §2,
// docs/fleet.md "Shared records").
//  * Local integer ids differ per machine: each shared row gets a uid, 128
//    random bits in hex, backfilled for existing rows; records refer to each
//    other by uid (an assignment's member and programme).
//  * fleet_records holds each shared record's version: a hybrid logical clock
//    value (fleet/hlc.hpp, packed 48-bit ms and 16-bit counter) and the
//    machine that wrote it, the version the local edit was based on (to tell
//    a concurrent edit from a later one), whether it is a tombstone, and
//    whether it waits to be published. Triggers (kSharedTriggers below) bump
//    the version and mark the record in the same transaction as every local
//    edit, whichever storage function made it; while a remote record is
//    applied (fleet_state.applying = 1) they stay quiet.
//  * Sets and sessions done on another machine are stored here with their
//    origin (machine and id there): a member's history reads them like any.
//  * fleet_seen (versions received), fleet_parked (records that wait for
//    what they refer to) and fleet_peers (how far each peer's sets have been
//    caught up) are the exchange's own state.
constexpr std::string_view kMigration9 = R"sql(
ALTER TABLE members ADD COLUMN uid TEXT;
ALTER TABLE programmes ADD COLUMN uid TEXT;
ALTER TABLE assignments ADD COLUMN uid TEXT;
ALTER TABLE assessments ADD COLUMN uid TEXT;
ALTER TABLE staff_accounts ADD COLUMN uid TEXT;
UPDATE members SET uid = lower(hex(randomblob(16)));
UPDATE programmes SET uid = lower(hex(randomblob(16)));
UPDATE assignments SET uid = lower(hex(randomblob(16)));
UPDATE assessments SET uid = lower(hex(randomblob(16)));
UPDATE staff_accounts SET uid = lower(hex(randomblob(16)));
CREATE UNIQUE INDEX members_uid ON members(uid);
CREATE UNIQUE INDEX programmes_uid ON programmes(uid);
CREATE UNIQUE INDEX assignments_uid ON assignments(uid);
CREATE UNIQUE INDEX assessments_uid ON assessments(uid);
CREATE UNIQUE INDEX staff_accounts_uid ON staff_accounts(uid);

ALTER TABLE sets ADD COLUMN origin_machine TEXT;      -- NULL: done on this machine
ALTER TABLE sets ADD COLUMN origin_set_id INTEGER;    -- the set's id on its machine
CREATE UNIQUE INDEX sets_origin ON sets(origin_machine, origin_set_id);
ALTER TABLE sessions ADD COLUMN origin_machine TEXT;
ALTER TABLE sessions ADD COLUMN origin_session_id INTEGER;
CREATE UNIQUE INDEX sessions_origin ON sessions(origin_machine, origin_session_id);

CREATE TABLE fleet_state (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  machine  TEXT NOT NULL DEFAULT '',   -- this machine's name ([fleet] machine); '' until known
  hlc      INTEGER NOT NULL DEFAULT 0, -- the clock's last value (packed)
  applying INTEGER NOT NULL DEFAULT 0  -- 1 while a remote record is applied: triggers stay quiet
);
INSERT INTO fleet_state (id) VALUES (1);

CREATE TABLE fleet_records (
  kind         TEXT NOT NULL CHECK (kind IN ('member','programme','assignment','progression',
                                             'assessment','staff')),
  uid          TEXT NOT NULL,
  hlc          INTEGER NOT NULL,
  machine      TEXT NOT NULL,
  base_hlc     INTEGER,           -- the version this machine's edit was based on
  base_machine TEXT,
  deleted      INTEGER NOT NULL DEFAULT 0,  -- a tombstone (erasure)
  pending      INTEGER NOT NULL DEFAULT 0,  -- 1: a local edit the broker has not acknowledged
  PRIMARY KEY (kind, uid)
) WITHOUT ROWID;
CREATE INDEX fleet_records_pending ON fleet_records(hlc) WHERE pending = 1;

CREATE TABLE fleet_seen (
  kind TEXT NOT NULL, uid TEXT NOT NULL, hlc INTEGER NOT NULL, machine TEXT NOT NULL,
  PRIMARY KEY (kind, uid, hlc, machine)
) WITHOUT ROWID;

CREATE TABLE fleet_parked (
  kind      TEXT NOT NULL,        -- a record's kind, or 'set'
  uid       TEXT NOT NULL,        -- the record's uid, or the set's message id
  payload   TEXT NOT NULL,
  waits_for TEXT NOT NULL,        -- what it refers to and is missing, in words
  t_ms      INTEGER NOT NULL,
  PRIMARY KEY (kind, uid)
) WITHOUT ROWID;

CREATE TABLE fleet_peers (
  machine      TEXT PRIMARY KEY,
  caught_up_to INTEGER NOT NULL DEFAULT 0  -- every set of that machine up to this id is here
) WITHOUT ROWID;
)sql";

// The triggers of migration 9: one "mark" per shared table and change.
std::string mark(std::string_view kind, std::string_view uid_expr, bool tombstone) {
  std::string s;
  s += "  UPDATE fleet_state SET hlc = max(hlc + 1, "
       "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 65536);\n";
  s += "  INSERT INTO fleet_records (kind, uid, hlc, machine, deleted, pending) VALUES ('";
  s += kind;
  s += "', ";
  s += uid_expr;
  s += ", (SELECT hlc FROM fleet_state), (SELECT machine FROM fleet_state), ";
  s += tombstone ? "1" : "0";
  s += ", 1)\n    ON CONFLICT (kind, uid) DO UPDATE SET\n"
       "      base_hlc = CASE WHEN pending THEN base_hlc ELSE hlc END,\n"
       "      base_machine = CASE WHEN pending THEN base_machine ELSE machine END,\n"
       "      hlc = excluded.hlc, machine = excluded.machine, deleted = excluded.deleted,"
       " pending = 1;\n";
  return s;
}

std::string trigger(std::string_view name, std::string_view when, std::string_view table,
                    std::string_view extra_condition, std::string_view body) {
  std::string s = "CREATE TRIGGER fleet_";
  s += name;
  s += " AFTER ";
  s += when;
  s += " ON ";
  s += table;
  s += " WHEN (SELECT applying FROM fleet_state) = 0";
  if (!extra_condition.empty()) {
    s += " AND ";
    s += extra_condition;
  }
  s += "\nBEGIN\n";
  s += body;
  s += "END;\n";
  return s;
}

const std::string& migration9() {
  static const std::string sql = [] {
    std::string s(kMigration9);
    // Rows that get a uid when inserted, and are marked.
    struct Own {
      const char* table;
      const char* kind;
      bool deletable;
    };
    for (const Own& o :
         {Own{"members", "member", true}, Own{"programmes", "programme", false},
          Own{"assignments", "assignment", true}, Own{"assessments", "assessment", true},
          Own{"staff_accounts", "staff", false}}) {
      const std::string t = o.table;
      s += trigger(t + "_ins", "INSERT", t, "",
                   "  UPDATE " + t +
                       " SET uid = lower(hex(randomblob(16))) WHERE id = NEW.id AND "
                       "uid IS NULL;\n" +
                       mark(o.kind, "(SELECT uid FROM " + t + " WHERE id = NEW.id)", false));
      s += trigger(t + "_upd", "UPDATE", t, "NEW.uid IS NOT NULL", mark(o.kind, "NEW.uid", false));
      if (o.deletable)
        s += trigger(t + "_del", "DELETE", t, "OLD.uid IS NOT NULL", mark(o.kind, "OLD.uid", true));
    }
    // Rows that belong to another's record.
    struct Part {
      const char* table;
      const char* kind;
      const char* owner;  // the owner's uid from a row (R = NEW or OLD)
    };
    for (const Part& p :
         {Part{"programme_steps", "programme",
               "(SELECT uid FROM programmes WHERE id = R.programme_id)"},
          Part{"step_progress", "progression",
               "(SELECT uid FROM assignments WHERE id = R.assignment_id)"},
          Part{"member_flags", "member", "(SELECT uid FROM members WHERE id = R.member_id)"}}) {
      const std::string t = p.table;
      for (const char* when : {"INSERT", "UPDATE", "DELETE"}) {
        std::string owner = p.owner;
        const std::string row = std::string_view(when) == "DELETE" ? "OLD" : "NEW";
        owner.replace(owner.find("R."), 2, row + ".");
        s += trigger(t + "_" +
                         std::string(when == std::string_view("INSERT")   ? "ins"
                                     : when == std::string_view("UPDATE") ? "upd"
                                                                          : "del"),
                     when, t, owner + " IS NOT NULL", mark(p.kind, owner, false));
      }
    }
    // What was there before migration 9 is shared too: every record is
    // marked, to be published once a [fleet] section names the machine.
    for (const Own& o :
         {Own{"members", "member", true}, Own{"programmes", "programme", false},
          Own{"assignments", "assignment", true}, Own{"assessments", "assessment", true},
          Own{"staff_accounts", "staff", false}})
      s += std::string("INSERT INTO fleet_records (kind, uid, hlc, machine, pending) SELECT '") +
           o.kind +
           "', uid, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 65536, '', 1 "
           "FROM " +
           o.table + ";\n";
    s += "INSERT INTO fleet_records (kind, uid, hlc, machine, pending) SELECT DISTINCT "
         "'progression', "
         "a.uid, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 65536, '', 1 FROM "
         "step_progress sp JOIN assignments a ON a.id = sp.assignment_id;\n";
    s += "UPDATE fleet_state SET hlc = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) "
         "* 65536;\n";
    return s;
  }();
  return sql;
}

}  // namespace

std::string_view migration_sql(int version) {
  switch (version) {
    case 1: return kMigration1;
    case 2: return kMigration2;
    case 3: return kMigration3;
    case 4: return kMigration4;
    case 5: return kMigration5;
    case 6: return kMigration6;
    case 7: return kMigration7;
    case 8: return kMigration8;
    case 9: return migration9();
    default: throw std::out_of_range("no migration " + std::to_string(version));
  }
}

int schema_version(Database& db) { return static_cast<int>(db.scalar_int("PRAGMA user_version")); }

MigrationResult migrate(Database& db, int target) {
  if (target < 1 || target > kSchemaVersion)
    throw std::runtime_error("migrate: target version " + std::to_string(target) +
                             " is not in 1.." + std::to_string(kSchemaVersion));
  MigrationResult r;
  Transaction tx(db);  // taken first: two processes cannot migrate at once
  r.from = schema_version(db);
  r.to = r.from;
  if (r.from > kSchemaVersion)
    throw std::runtime_error("database schema version " + std::to_string(r.from) +
                             " is newer than this build's " + std::to_string(kSchemaVersion) +
                             "; refusing to touch it");
  if (r.from >= target) return r;
  for (int v = r.from + 1; v <= target; ++v) db.exec(migration_sql(v));
  db.exec("PRAGMA user_version = " + std::to_string(target));
  tx.commit();
  r.to = target;
  return r;
}

}  // namespace soleus::storage
