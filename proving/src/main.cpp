#include <array>
// soleus-proving-ground: runs seeded athletes through the real controller
// stack on synthetic time and judges the outcomes (docs/proving-ground.md).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "soleus/common/log.hpp"
#include "soleus/proving/judges.hpp"
#include "soleus/proving/population.hpp"

using namespace soleus;
using namespace soleus::proving;

namespace {

struct Row {
  int sets = 0, counts_judged = 0, counts_ok = 0, stop_ok = 0, partials = 0, false_left = 0,
      unsafe = 0;
};

struct Done {
  std::uint64_t seed = 0;
  std::vector<std::string> traits;
  Judgement j;
  std::string reason;
  int reps = 0;
  double sim_s = 0;
};

void usage() {
  std::puts(
      "usage: soleus-proving-ground [--athletes N] [--seed S] [--jobs J] [--config FILE] "
      "[--loop-hz HZ]\n"
      "                             [--no-goals] [--quiet] [--only TRAIT_LABEL]\n"
      "                             [--ratchet COUNTS_PCT,STOPS_PCT,PARTIALS,FALSE_LEFT,UNSAFE]\n"
      "       soleus-proving-ground --replay SEED [--trace out.csv] [--config FILE] [--loop-hz "
      "HZ]");
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

int replay(std::uint64_t seed, const std::string& trace, const WorldOptions& wo) {
  const Case c = draw_case(seed);
  const Outcome o = run_case(c, wo);
  const Judgement j = judge(o);
  std::printf("seed %llu: %s\n", static_cast<unsigned long long>(seed), join(c.traits).c_str());
  std::printf(
      "programme: %s load %.0f N tempo %s reps %d hold %.0f s drop %.0f %%; capacity %.0f N bottom "
      "%.1f top %.1f mm\n",
      controller::to_string(c.programme.mode), c.programme.load_n,
      c.programme.tempo.to_string().c_str(), c.programme.target_reps, c.programme.hold_s,
      c.programme.force_drop_pct, c.athlete.capacity_n, c.athlete.bottom_mm, c.athlete.top_mm);
  if (!o.error.empty()) std::printf("error: %s\n", o.error.c_str());
  if (o.result)
    std::printf("result: %s, %d reps, %d partial, TUT %.2f s, unload at %.2f s\n",
                controller::to_string(o.result->reason), o.result->reps, o.result->partial_reps,
                o.result->tut_s, o.unload_start_s.value_or(-1));
  std::printf("active from %.2f s\n", o.active_start_s.value_or(-1));
  for (const auto& r : o.reps)
    std::printf(
        "  controller rep seq %d n %d t %.2f rom %.0f%% conc %.2f top %.2f ecc %.2f bottom %.2f "
        "mean %.0f N %.1f mm/s rev %d smooth %.2f%s\n",
        r.seq, r.n, r.t_start_s, r.rom_pct, r.concentric_s, r.top_pause_s, r.eccentric_s,
        r.bottom_pause_s, r.mean_force_n, r.mean_velocity_mm_s, r.reversals, r.smoothness,
        r.wobbly ? " wobbly" : "");
  for (const auto& t : o.truth)
    std::printf(
        "  truth rep %d start %.2f end %.2f rise %.2f return %.2f loaded %.2f mean %.0f N conc "
        "%.2f%s%s%s\n",
        t.index, t.start_s, t.end_s, t.rise_fraction, t.return_fraction, t.loaded_s,
        t.mean_concentric_n, t.concentric_s, t.stalled ? " stalled" : "", t.wobbly ? " wobbly" : "",
        t.mid_rest ? " rest after" : "");
  const auto& ev = o.athlete_events;
  if (ev.left_s) std::printf("  left at %.2f s\n", *ev.left_s);
  if (ev.returned_s) std::printf("  returned at %.2f s\n", *ev.returned_s);
  if (ev.stall_s) std::printf("  stalled at %.2f s\n", *ev.stall_s);
  if (const auto& h = o.hold; h.hold) {
    std::printf(
        "  hold: began pushing %.2f s, machine's hold ended %.2f s, force failed %.2f s%s\n",
        h.start_s.value_or(-1), h.end_s.value_or(-1), h.fail_s.value_or(-1),
        h.gave_up ? " (gave up)" : "");
    for (const auto& [a, b] : h.bouts) std::printf("  hold bout %.2f .. %.2f s\n", a, b);
    if (o.active_start_s) {
      const double w = o.hold_window_s, a0 = *o.active_start_s;
      if (auto d = h.first_drop_s(o.c.programme.force_drop_pct, w, a0, o.sim_s))
        std::printf("  hold: true force drop (%.0f %%) at %.2f s\n", o.c.programme.force_drop_pct,
                    *d);
      std::printf("  hold force per %.1f s window from %.2f s:", w, a0);
      for (double t = a0; t + w <= o.sim_s; t += w)
        if (auto m = h.mean_force(t, t + w)) std::printf(" %.0f", *m);
      std::printf("\n");
    }
  }
  for (const auto& [from, to] : ev.rests) std::printf("  rested %.2f .. %.2f s\n", from, to);
  for (const auto& e : o.events)
    std::printf("  event %.2f %s %.*s\n", e.t_s, controller::to_string(e.code),
                static_cast<int>(e.text_view().size()), e.text_view().data());
  std::printf("verdict: %s\n", j.failed() ? j.why().c_str() : "all judges pass");
  if (!trace.empty()) {
    write_trace(o, trace);
    std::printf("trace: %s (%zu samples)\n", trace.c_str(), o.samples.size());
  }
  return j.failed() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int athletes = 1000, jobs = 2;
  std::uint64_t seed = 1;
  std::string only;  // --only LABEL: run only the seeds whose case has this trait label
  bool goals = true, quiet = false;
  // --ratchet: the figures a run must not fall below (counts %, stops %) or
  // rise above (counted partials, false user_left, unsafe sets) while the
  // goals are not met yet: the test command's slice keeps what was won.
  std::optional<std::array<double, 5>> ratchet;
  std::optional<std::uint64_t> replay_seed;
  std::string trace;
  WorldOptions wo;
  wo.config_path = SOLEUS_PROVING_CONFIG;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--athletes") athletes = std::stoi(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--jobs") jobs = std::max(1, std::stoi(next()));
    else if (a == "--config") wo.config_path = next();
    else if (a == "--loop-hz") wo.loop_hz = std::stod(next());
    else if (a == "--replay") replay_seed = std::stoull(next());
    else if (a == "--trace") trace = next();
    else if (a == "--no-goals") goals = false;
    else if (a == "--quiet") quiet = true;
    else if (a == "--only") only = next();
    else if (a == "--ratchet") {
      std::array<double, 5> r{};
      std::string v = next();
      std::size_t pos = 0;
      for (int k = 0; k < 5; ++k) {
        std::size_t used = 0;
        r[static_cast<std::size_t>(k)] = std::stod(v.substr(pos), &used);
        pos += used + 1;
      }
      ratchet = r;
    } else {
      usage();
      return 2;
    }
  }
  log::set_level(log::Level::Error);
  if (replay_seed) return replay(*replay_seed, trace, wo);

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Done> done(static_cast<std::size_t>(athletes));
  run_parallel(athletes, jobs, [&](int i) {
    const std::uint64_t s = seed + static_cast<std::uint64_t>(i);
    const Case c = draw_case(s);
    Done& d = done[static_cast<std::size_t>(i)];
    d.seed = s;
    d.traits = c.traits;
    if (!only.empty() && std::find(c.traits.begin(), c.traits.end(), only) == c.traits.end())
      return;
    const Outcome o = run_case(c, wo);
    d.j = judge(o);
    d.reason = o.result ? controller::to_string(o.result->reason) : "none";
    d.reps = o.result ? o.result->reps : -1;
    d.sim_s = o.sim_s;
  });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::map<std::string, Row> rows;
  Row all;
  double sim = 0;
  auto add = [](Row& r, const Done& d) {
    ++r.sets;
    if (d.j.counts.judged) {
      ++r.counts_judged;
      r.counts_ok += d.j.counts.ok;
    }
    r.stop_ok += d.j.stop.ok;
    r.partials += !d.j.partial.ok;
    r.false_left += !d.j.false_left.ok;
    r.unsafe += d.j.unsafe();
  };
  if (!only.empty())
    done.erase(std::remove_if(done.begin(), done.end(),
                              [&](const Done& d) {
                                return std::find(d.traits.begin(), d.traits.end(), only) ==
                                       d.traits.end();
                              }),
               done.end());
  for (const auto& d : done) {
    sim += d.sim_s;
    add(all, d);
    for (const auto& t : d.traits) add(rows[t], d);
  }
  auto pct = [](int a, int b) { return b ? 100.0 * a / b : 100.0; };
  std::printf("%-26s %6s %9s %9s %9s %11s %7s\n", "trait", "sets", "counts%", "stop%", "partials",
              "false_left", "unsafe");
  auto line = [&](const std::string& k, const Row& r) {
    std::printf("%-26s %6d %8.1f%% %8.1f%% %9d %11d %7d\n", k.c_str(), r.sets,
                pct(r.counts_ok, r.counts_judged), pct(r.stop_ok, r.sets), r.partials, r.false_left,
                r.unsafe);
  };
  for (const auto& [k, r] : rows) line(k, r);
  line("ALL", all);

  std::vector<const Done*> failing;
  for (const auto& d : done)
    if (d.j.failed()) failing.push_back(&d);
  if (!quiet) {
    std::printf("\nfailing cases (%zu):\n", failing.size());
    for (const auto* d : failing)
      std::printf("  seed %llu [%s, %d reps] %s\n", static_cast<unsigned long long>(d->seed),
                  d->reason.c_str(), d->reps, d->j.why().c_str());
  }
  std::vector<const Done*> worst = failing;
  std::sort(worst.begin(), worst.end(),
            [](const Done* a, const Done* b) { return a->j.badness() > b->j.badness(); });
  if (worst.size() > 10) worst.resize(10);
  std::printf("\nworst %zu:\n", worst.size());
  for (const auto* d : worst)
    std::printf("  seed %llu (%s): %s\n", static_cast<unsigned long long>(d->seed),
                join(d->traits).c_str(), d->j.why().c_str());
  if (!worst.empty())
    std::printf("replay: soleus-proving-ground --replay %llu --trace out.csv\n",
                static_cast<unsigned long long>(worst.front()->seed));

  const double counts = pct(all.counts_ok, all.counts_judged), stops = pct(all.stop_ok, all.sets);
  std::printf("\n%d athletes, %.0f simulated s, wall %.1f s, %.0fx real time (%d jobs)\n", athletes,
              sim, wall, wall > 0 ? sim / wall : 0.0, jobs);
  const bool met = counts >= 99.0 && stops >= 98.0 && all.partials == 0 && all.false_left == 0 &&
                   all.unsafe == 0;
  std::printf(
      "goals (counts >= 99 %%, stops >= 98 %%, 0 partials, 0 false user_left, 0 unsafe): %s\n",
      met ? "MET" : "NOT MET");
  if (ratchet) {
    const auto& r = *ratchet;
    const bool kept = counts >= r[0] - 1e-9 && stops >= r[1] - 1e-9 && all.partials <= r[2] &&
                      all.false_left <= r[3] && all.unsafe <= r[4];
    std::printf(
        "ratchet (counts >= %.1f %%, stops >= %.1f %%, partials <= %.0f, false user_left <= %.0f, "
        "unsafe <= %.0f): %s\n",
        r[0], r[1], r[2], r[3], r[4], kept ? "KEPT" : "WORSE");
    if (!kept) return 1;
    return 0;
  }
  return met || !goals ? 0 : 1;
}
