#pragma once
/// The guided strength assessment (issue 13 §1; docs/assessment.md): its
/// steps and its result, as pure logic on plain values and a given clock.
///
/// Principle of operation:
///  1. An assessment runs as ordinary sets, one after the other, each started
///     by the member's press (the screen's "Next") through the same checks and
///     clamps as any set: first a warm-up set of `warmup_reps` isotonic reps at
///     `warmup_pct` % of the machine's max load, whose light first rep
///     calibrates the member's range; then `trials` isometric maximal pushes of
///     `push_s` at the middle of that range, with the hold's force limit at the
///     machine's max load, and `rest_s` of rest before each push.
///  2. Run::next() says what the next set is (or why none may start yet: rest
///     remaining, finished); Run::on_set_end() takes each set's outcome. A
///     set that ended with pain or a stop of the member's (or any fault) ends
///     the assessment at once: incomplete. A trial whose pad rose above the
///     hold (the member out-pushed the machine's max load) is "beyond range".
///  3. judge() makes the result from the trials: the best trial's force and
///     the spread, (best − worst) / best × 100. A spread above
///     `max_spread_pct` is refused (retry: new trials, the range is kept).
///     A trial beyond range ends the assessment at once: the result is
///     "≥ max load" with no number (its stop may be the machine's travel
///     limit or speed trip: the pad rose under the member's push).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace soleus::programme::assessment {

struct Config {
  int warmup_reps = 5;                   ///< 1–20
  double warmup_pct = 20;                ///< % of the machine's max load, 5–50
  int trials = 3;                        ///< 1–5
  double push_s = 5;                     ///< 2–10
  double rest_s = 60;                    ///< 1–600 (tests use a few seconds)
  double max_spread_pct = 15;            ///< 1–50: a larger spread is refused
  std::string warmup_tempo = "2-1-2-1";  ///< E-B-C-T (the one tempo grammar)
};

/// One maximal push as measured.
struct Trial {
  double pct_of_range = 50;
  std::optional<double> force_n;  ///< peak force; nullopt when beyond range
  bool beyond_range = false;
};

/// How a set of the assessment ended, as the controller reported it.
struct SetOutcome {
  std::string stop_reason;  ///< e.g. hold_complete, target_reached, pain, user_stop
  double peak_force_n = 0;  ///< isometric: the peak
  bool beyond_range = false;
  std::optional<double> range_bottom_mm, range_top_mm;  ///< the warm-up's range
};

struct Result {
  bool complete = false;  ///< all trials done and the spread accepted
  bool refused = false;   ///< all trials done, spread too large: offer a retry
  std::optional<double> max_n;
  bool beyond_range = false;
  std::optional<double> spread_pct;
  std::string note;  ///< why incomplete / refused, or what the result means
};

/// The result from the trials done (fewer than cfg.trials: incomplete).
Result judge(const std::vector<Trial>& trials, const Config& cfg);

/// Whether a set's stop reason lets the assessment go on.
bool normal_end(const std::string& stop_reason, bool isometric);

enum class Step { Warmup, Rest, Trial, Done };
const char* to_string(Step s);

/// What to start next.
struct Next {
  enum class Kind { Warmup, Trial, Wait, None } kind = Kind::None;
  double rest_remaining_s = 0;  ///< Wait
  int trial = 0;                ///< Trial: 1-based
  double hold_height_mm = 0;    ///< Trial
  double pct_of_range = 50;     ///< Trial
};

class Run {
 public:
  Run(Config cfg, std::int64_t started_ms) : cfg_(std::move(cfg)), started_ms_(started_ms) {}

  const Config& config() const { return cfg_; }
  std::int64_t started_ms() const { return started_ms_; }
  /// What may start at now_ms.
  Next next(std::int64_t now_ms) const;
  /// The step now (for the screen).
  Step step(std::int64_t now_ms) const;
  /// A set of this assessment began (so a second press cannot start another).
  void on_set_start(std::int64_t set_id, std::int64_t now_ms);
  std::optional<std::int64_t> running_set() const { return running_; }
  /// The running set ended.
  void on_set_end(const SetOutcome& o, std::int64_t now_ms);
  /// Ends the assessment now (the member left, a stop outside a set).
  void abandon(const std::string& why);
  /// After a refused result: new trials, the warm-up's range kept.
  bool retry(std::int64_t now_ms);

  bool finished() const { return finished_; }
  bool warmed_up() const { return range_top_mm_ > range_bottom_mm_; }
  int trials_done() const { return static_cast<int>(trials_.size()); }
  const std::vector<Trial>& trials() const { return trials_; }
  /// The result so far (final once finished()).
  Result result() const;
  double range_bottom_mm() const { return range_bottom_mm_; }
  double range_top_mm() const { return range_top_mm_; }
  int retries() const { return retries_; }

 private:
  Config cfg_;
  std::int64_t started_ms_;
  std::optional<std::int64_t> running_;
  std::int64_t last_end_ms_ = 0;
  double range_bottom_mm_ = 0, range_top_mm_ = 0;
  std::vector<Trial> trials_;
  bool finished_ = false;
  std::string stopped_why_;  ///< non-empty: ended early (incomplete)
  int retries_ = 0;
};

}  // namespace soleus::programme::assessment
