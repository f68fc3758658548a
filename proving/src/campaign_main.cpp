// soleus-fault-campaign: complete sets with random faults through the real
// controller stack on synthetic time, judged from the models' truth
// (issue 10, section 4; docs/safety.md, "The fault campaign").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "soleus/common/log.hpp"
#include "soleus/proving/campaign.hpp"

using namespace soleus;
using namespace soleus::proving;

namespace {

void usage() {
  std::puts(
      "usage: soleus-fault-campaign [--sets N] [--seed S] [--jobs J] [--config FILE] [--max-unsafe "
      "K]\n"
      "       soleus-fault-campaign --replay SEED [--trace out.csv] [--config FILE]\n"
      "Runs N sets (seeds S..S+N-1), each with a random athlete, programme and 1-20 random "
      "faults,\n"
      "and an operator who resets and presses Start again (up to 3 times). Exit 1 when more than "
      "K\n"
      "sets (default 0) had an unsafe outcome.");
}

struct Done {
  std::uint64_t seed = 0;
  int injections = 0;
  int starts = 0;
  double sim_s = 0;
  CampaignVerdict v;
  std::string error;
};

int replay(std::uint64_t seed, const WorldOptions& wo, const std::string& trace) {
  const Case c = draw_campaign_case(seed);
  std::printf("seed %llu: %d injections, programme %s %.0f N\n",
              static_cast<unsigned long long>(seed), injections(c),
              controller::to_string(c.programme.mode), c.programme.load_n);
  for (const auto& f : c.faults) std::printf("  inject %.3f s %s\n", f.t_s, f.request.c_str());
  for (const auto& [a, b] : c.stalls) std::printf("  stall %.3f .. %.3f s\n", a, b);
  const Outcome o = run_case(c, wo);
  if (!o.error.empty()) std::printf("error: %s\n", o.error.c_str());
  for (double s : o.starts_s) std::printf("  start %.3f s\n", s);
  for (std::size_t i = 0; i < o.results.size(); ++i)
    std::printf("  result %.3f s %s\n", o.result_times_s[i],
                controller::to_string(o.results[i].reason));
  for (const auto& e : o.events)
    std::printf("  event %.3f %s %.*s\n", e.t_s, controller::to_string(e.code),
                static_cast<int>(e.text_view().size()), e.text_view().data());
  if (!trace.empty()) {
    write_trace(o, trace);
    std::printf("trace: %s (%zu samples)\n", trace.c_str(), o.samples.size());
  }
  const CampaignVerdict v = judge_campaign(o);
  std::printf("verdict: %s\n", v.unsafe() ? v.why().c_str() : "safe");
  return v.unsafe() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int sets = 1000, jobs = 2, max_unsafe = 0;
  std::uint64_t seed = 1;
  std::optional<std::uint64_t> replay_seed;
  std::string trace;
  WorldOptions wo;
  wo.config_path = SOLEUS_PROVING_CONFIG;
  wo.max_s = 150;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--sets") sets = std::stoi(next());
    else if (a == "--seed") seed = std::stoull(next());
    else if (a == "--jobs") jobs = std::max(1, std::stoi(next()));
    else if (a == "--config") wo.config_path = next();
    else if (a == "--max-unsafe") max_unsafe = std::stoi(next());
    else if (a == "--replay") replay_seed = std::stoull(next());
    else if (a == "--trace") trace = next();
    else {
      usage();
      return 2;
    }
  }
  log::set_level(log::Level::Error);
  if (replay_seed) return replay(*replay_seed, wo, trace);

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Done> done(static_cast<std::size_t>(sets));
  run_parallel(sets, jobs, [&](int i) {
    Done& d = done[static_cast<std::size_t>(i)];
    d.seed = seed + static_cast<std::uint64_t>(i);
    const Case c = draw_campaign_case(d.seed);
    d.injections = injections(c);
    const Outcome o = run_case(c, wo);
    d.error = o.error;
    d.starts = static_cast<int>(o.starts_s.size());
    d.sim_s = o.sim_s;
    d.v = judge_campaign(o);
  });
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  long inj = 0, starts = 0;
  double sim = 0;
  int unsafe = 0, errors = 0;
  std::map<std::string, int> by_kind;
  std::vector<const Done*> bad;
  for (const auto& d : done) {
    inj += d.injections;
    starts += d.starts;
    sim += d.sim_s;
    if (!d.error.empty()) {
      ++errors;
      bad.push_back(&d);
      continue;
    }
    if (!d.v.unsafe()) continue;
    ++unsafe;
    bad.push_back(&d);
    const std::pair<const char*, const Verdict*> kinds[] = {{"force", &d.v.force},
                                                            {"speed", &d.v.speed},
                                                            {"armed", &d.v.armed},
                                                            {"no_start", &d.v.no_start},
                                                            {"quick_stop", &d.v.quick_stop},
                                                            {"unload", &d.v.unload},
                                                            {"end_of_range", &d.v.end_of_range}};
    for (const auto& [k, v] : kinds)
      if (!v->ok) ++by_kind[k];
  }
  std::printf(
      "fault campaign: %d sets (seeds %llu..%llu), %ld injections, %ld starts, %.0f simulated s\n",
      sets, static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed + sets - 1),
      inj, starts, sim);
  std::printf("unsafe sets: %d", unsafe);
  for (const auto& [k, n] : by_kind) std::printf("  %s %d", k.c_str(), n);
  std::printf("\nrun errors: %d\n", errors);
  int shown = 0;
  for (const Done* d : bad) {
    if (++shown > 20) break;
    std::printf("  seed %llu: %s%s\n", static_cast<unsigned long long>(d->seed),
                d->error.empty() ? "" : d->error.c_str(), d->v.why().c_str());
  }
  if (!bad.empty())
    std::printf("replay: soleus-fault-campaign --replay %llu\n",
                static_cast<unsigned long long>(bad.front()->seed));
  std::printf("wall %.1f s (%d jobs), %.0f x real time\n", wall, jobs, sim / std::max(wall, 1e-9));
  return (unsafe > max_unsafe || errors > 0) ? 1 : 0;
}
