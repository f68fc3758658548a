// Writes tests/storage/fixtures/schema-vN.db: a database at schema version N
// (migrations 1..N only, by this code) with a few rows in the shape release N
// wrote them. Run it only to make a new version's fixture; the files are
// committed and must then never change, because they stand for databases in
// the field.
//   storage_make_fixture tests/storage/fixtures/schema-v1.db 1
//   storage_make_fixture tests/storage/fixtures/schema-v2.db 2
//   storage_make_fixture tests/storage/fixtures/schema-v3.db 3
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/storage/trace_codec.hpp"

using namespace soleus::storage;

int main(int argc, char** argv) {
  if (argc != 3 ||
      (std::string(argv[2]) != "1" && std::string(argv[2]) != "2" && std::string(argv[2]) != "3")) {
    std::cerr << "usage: storage_make_fixture OUT.db VERSION (1, 2 or 3)\n";
    return 2;
  }
  const int version = std::stoi(argv[2]);
  std::filesystem::remove(argv[1]);
  auto db = Database::open(argv[1]);
  db.exec("PRAGMA page_size = 1024");  // small file; set before the first table
  migrate(db, version);
  Transaction tx(db);
  const std::int64_t t = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  db.exec(
      "INSERT INTO members (id, number, name, assessed_max_n, assessed_ms, created_ms, "
      "updated_ms, rom_bottom_mm, rom_top_mm) VALUES (1, '1001', 'Fixture Member', 1500, " +
      std::to_string(t) + ", " + std::to_string(t) + ", " + std::to_string(t) + ", 10, 120)");
  db.exec(
      "INSERT INTO programmes (id, name, block_weeks, after_block_sessions_per_week, "
      "created_ms, updated_ms) VALUES (1, 'Base', 6, 3, 0, 0)");
  db.exec(
      "INSERT INTO programme_steps (programme_id, position, mode, sets, target_reps, "
      "load_pct_max, progress_when, progress_load_pct) "
      "VALUES (1, 1, 'isotonic', 3, 12, 60, 'all_sets_target_on_tempo', 5)");
  db.exec(
      "INSERT INTO assignments (member_id, programme_id, started_ms, created_ms) "
      "VALUES (1, 1, 0, 0)");
  db.exec(
      "INSERT INTO sessions (id, member_id, assignment_id, started_ms, ended_ms, state) "
      "VALUES (1, 1, 1, " +
      std::to_string(t) + ", " + std::to_string(t + 600'000) + ", 'done')");
  db.exec(
      "INSERT INTO sets (id, session_id, member_id, set_index, started_ms, ended_ms, mode, "
      "load_n, tempo, target_reps, force_drop_pct, eccentric_pct, stop_reason, reps, "
      "partial_reps, tut_s) VALUES (1, 1, 1, 1, " +
      std::to_string(t) + ", " + std::to_string(t + 30'000) +
      ", 'isotonic', 900, '3-1-3-1', 12, 20, 0, 'force_drop', 2, 1, 16)");
  auto rep = db.prepare(
      "INSERT INTO reps (set_id, seq, n, partial, t_start_s, peak_force_n, mean_force_n, "
      "concentric_s, top_pause_s, eccentric_s, bottom_pause_s, rom_mm, rom_pct, "
      "mean_velocity_mm_s, smoothness, on_tempo, tempo_deviation_s, tut_s) "
      "VALUES (1, ?1, ?2, ?3, ?4, ?5, 700, 3, 1, 3, 1, 105, 95, 35, 0.93, 1, 0.2, 8)");
  for (int k = 1; k <= 3; ++k) {
    rep.bind(1, k)
        .bind(2, k < 3 ? k : 0)
        .bind(3, k == 3)
        .bind(4, (k - 1) * 8.0)
        .bind(5, 800.0 + 12.5 * (k - 1));
    rep.run();
    rep.reset();
  }
  std::vector<TraceSample> samples;
  samples.reserve(50);
  for (int i = 0; i < 50; ++i)  // rep 1, thinned to 50 samples to keep the file small
    samples.push_back({1, i * 0.16, static_cast<float>(650 + i), static_cast<float>(i * 2.0)});
  auto blob = encode_trace(samples);
  auto tr = db.prepare(
      "INSERT INTO rep_traces (set_id, rep_seq, created_ms, t0_s, t1_s, samples, time_scale_s, "
      "force_scale_n, position_scale_mm, data) VALUES (1, 1, ?1, 0, ?2, 50, 0.001, 0.1, 0.01, ?3)");
  tr.bind(1, t).bind(2, samples.back().t_s).bind_blob(3, blob);
  tr.run();
  db.exec("INSERT INTO events (t_ms, severity, code, message, set_id, context) VALUES (" +
          std::to_string(t) + ", 0, 'set_started', 'set 1 started', 1, '{\"load_n\":900}'), (" +
          std::to_string(t + 30'000) + ", 2, 'drive_fault', 'over-current', NULL, NULL)");
  db.exec(
      "INSERT INTO audit (t_ms, actor_role, actor_id, entity, entity_id, field, before, "
      "after) VALUES (0, 'staff', 1, 'member', 1, '*', NULL, 'created')");
  db.exec(
      "UPDATE odometer SET reps = 2, sets = 1, motor_on_s = 40, highest_force_n = 825, "
      "since_ms = " +
      std::to_string(t) + " WHERE id = 1");
  db.exec("INSERT INTO odometer_faults (code, count, last_t_ms) VALUES ('drive_fault', 1, " +
          std::to_string(t + 30'000) + ")");
  if (version >= 2) {  // release 2's columns, and a step_progress row of release 2's runner
    db.exec("UPDATE reps SET reversals = 3, wobbly = 1 WHERE seq = 3");
    db.exec(
        "INSERT INTO step_progress (assignment_id, step_id, load_factor, updated_ms) "
        "VALUES (1, 1, 1.05, " +
        std::to_string(t) + ")");
  }
  if (version >= 3) {  // release 3's runner: a level earned, the session's programme and summary
    db.exec("UPDATE step_progress SET level = 1");
    db.exec("UPDATE programme_steps SET progress_rule = 'load_pct', progress_amount = 5");
    db.exec(
        "UPDATE sessions SET programme_id = 1, progressed = 1, summary = "
        "'{\"state\":\"done\",\"why\":\"ended by the member\",\"sets\":1,\"steps\":[]}' "
        "WHERE id = 1");
  }
  tx.commit();
  db.exec("VACUUM");
  std::cout << argv[1] << ": schema " << schema_version(db) << ", "
            << db.scalar_int("PRAGMA page_count") * 1024 << " bytes\n";
  return 0;
}
