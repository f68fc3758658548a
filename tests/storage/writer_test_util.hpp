#pragma once
// Records as the daemon would push them, for the writer tests.
#include "soleus/storage/writer.hpp"

namespace soleus::storage::test {

inline SetStartRecord set_start(std::int64_t set_id, std::int64_t member = 0,
                                std::int64_t session = 0) {
  SetStartRecord s;
  s.set_id = set_id;
  s.member_id = member;
  s.session_id = session;
  s.mode.assign("isotonic");
  s.load_n = 800;
  s.tempo.assign("3-1-3-1");
  s.target_reps = 15;
  return s;
}

/// Rep `seq` (counted, n = seq) starting at loop time t0: 3-1-3-1 s phases.
inline RepRecord make_rep(std::int64_t set_id, int seq, double t0) {
  RepRecord r;
  r.set_id = set_id;
  r.seq = seq;
  r.n = seq;
  r.t_start_s = t0;
  r.peak_force_n = 800 + seq;
  r.mean_force_n = 700;
  r.concentric_s = 3;
  r.top_pause_s = 1;
  r.eccentric_s = 3;
  r.bottom_pause_s = 1;
  r.rom_mm = 110;
  r.rom_pct = 98;
  r.mean_velocity_mm_s = 36;
  r.smoothness = 0.95;
  r.tempo_deviation_s = 0.1;
  r.tut_s = 8;
  return r;
}

/// A whole set: start, `reps` reps of 8 s each with a 100 Hz trace, end.
inline void push_set(Writer& w, std::int64_t set_id, int reps, std::int64_t member = 0,
                     std::int64_t session = 0) {
  w.push(set_start(set_id, member, session));
  double t = 0;
  for (int k = 1; k <= reps; ++k) {
    const double t0 = t;
    for (int i = 0; i < 800; ++i, t += 0.01) {
      double phase = i / 800.0;
      w.push_trace({set_id, t, static_cast<float>(700 + 100 * phase),
                    static_cast<float>(i < 300   ? i / 3.0
                                       : i < 400 ? 100
                                       : i < 700 ? 100 - (i - 400) / 3.0
                                                 : 0)});
    }
    w.push(make_rep(set_id, k, t0));
  }
  SetEndRecord e;
  e.set_id = set_id;
  e.stop_reason.assign("target_reached");
  e.reps = reps;
  e.tut_s = 8.0 * reps;
  e.t_end_s = t;
  w.push(e);
}

}  // namespace soleus::storage::test
