#pragma once
/// The virtual athlete: seated, knee pad on the thighs, balls of the feet on
/// the step. It pushes the pad up with its calves and lets it down again.
///
/// Principle of operation (one call of step() per millisecond):
///  1. Anatomy: the heels are lowest at `bottom_mm` (pad height) and the
///     calves cannot lift the pad beyond `top_mm`; the available force fades
///     to zero over the last few mm above the top. Below the bottom the
///     heels and ankle carry the load passively (a stiff spring with damping),
///     also when the athlete is relaxed; that force passes through the thighs,
///     so the load cell reads it.
///  2. It waits, relaxed, until load comes on (the drive enabled and its
///     torque command at least start_load_n down for start_delay_s), then does reps
///     until the load has been off for 0.5 s: concentric, top pause,
///     eccentric, bottom pause (the tempo E-B-C-T it is given).
///  3. Tempo-following phases track a smooth trajectory (velocity ramps of
///     at most 0.25 s, constant speed between) with feed-forward of the load
///     it feels (pad weight plus the motor's force with the screw's friction
///     for the direction it moves) and a PD on the error, clamped to
///     [0, current capacity]: it pushes just as hard as needed.
///  4. Styles change what it does (assessment: see parse_style): push_hard pushes at capacity while
///  rising;
///     half_range does an honest first rep then half-range ones;
///     shrinking_range loses range rep by rep; bounce moves fast and drops
///     onto its heels at the bottom to rebound; let_go leaves the pad (no
///     contact at all) at the top of the rep after `after_reps`; relax goes
///     limp at the bottom after `after_reps`; isometric pushes with a
///     fraction of its capacity against whatever holds the pad.
///  5. Fatigue: fatigue_rate is the fraction of the current capacity lost at
///     the end of each rep (isometric: per 10 s of holding).
///  6. Ground truth: every rep it makes (including a controller's calibration
///     rep) is recorded with its range, peak and mean concentric force and
///     phase durations. A rep is full when it covers ≥ 90 % of the anatomical
///     range bottom → top → bottom.
///  7. Traits (AthleteTraits::enabled; off by default, then 1-6 hold exactly):
///     the style is replaced by a mix of traits (reaction, effort, tempo
///     compliance, mid-set rests, range jitter, fatigue kinds, tremor,
///     sticking point, drops, leaving). Its position is the heel (bone):
///     pad = heel − tissue_mm × contact / 1800 N; the anatomical bottom/top
///     and the heel spring act on the heel. The capacity falls linearly with
///     rising speed (force-velocity). Randomness: the athlete's own
///     generators seeded by `seed`; per-rep draws are made when a rep starts.
///     Truth adds heel extremes, rise/return fractions, loaded time, wobbly/
///     stalled/mid_rest per rep and events() (see docs/simulator.md,
///     "Athlete traits").
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace soleus::sim {

enum class AthleteStyle {
  Tempo,
  PushHard,
  HalfRange,
  Bounce,
  LetGo,
  ShrinkingRange,
  Relax,
  Isometric,
  Assessment
};
const char* to_string(AthleteStyle s);
/// "tempo", "push_hard", "half_range", "bounce", "let_go", "shrinking_range", "relax", "isometric",
/// "assessment" (the strength assessment: tempo reps until it has made
/// `after_reps` reps, the warm-up with its calibration rep, then a maximal
/// push of iso_fraction × capacity every time the drive is enabled, which
/// falls with rising speed as in the trait model's force-velocity relation;
/// the truth's capacity_n is its isometric maximum anywhere in its range but
/// the last 5 mm to its top).
bool parse_style(const std::string& text, AthleteStyle& out);

/// E-B-C-T seconds: eccentric, bottom pause, concentric, top pause.
struct Tempo {
  double eccentric_s = 3, bottom_s = 1, concentric_s = 3, top_s = 1;
};
/// The athlete's shortest eccentric and concentric, s.
inline constexpr double kMinMovingPhaseS = 0.2;
/// Parses "3-1-3-1" by the one tempo grammar (soleus::common::parse_tempo:
/// each 0..60 s), with the athlete's own rule on top: eccentric and concentric
/// at least kMinMovingPhaseS. `why` says what is wrong; `out` is kept then.
bool parse_tempo(const std::string& text, Tempo& out, std::string& why);
bool parse_tempo(const std::string& text, Tempo& out);
/// The same bounds on phases given as numbers (e.g. [3, 1, 3, 1]).
bool check_tempo(const Tempo& t, std::string& why);
std::string to_string(const Tempo& t);

/// Athlete traits (issue 9): a mix of behaviours instead of one style. With
/// `AthleteTraits::enabled` false (the default) nothing of this applies and
/// the style drives the athlete exactly as before.
enum class Effort { Track, Follow, PushHard, Grind };
//  Track: tempo-tracking PD on its own trajectory, feed-forward of the felt load.
//  Follow: pushes the felt load (its own estimate incl. friction) + follow_surplus_n;
//          rises as fast as that surplus allows; lowers pushing a little less than the load.
//  PushHard: pushes at capacity while rising; braked by the machine.
//  Grind: near-maximal slow reps: rises at capacity (it is slow because the load is close to it).
enum class FatigueKind { None, Gradual, Sudden, RangeFirst, HalfThenFull, FailMidRise };
enum class Leave { None, MidRise, MidLowering, AtTop, AtBottom, StandUp, SitBack };
enum class RestWhere { Top, Bottom };

struct AthleteTraits {
  bool enabled = false;
  // reaction
  double reaction_s = 0;  ///< 0-4 s: after load comes on, sits passively under whatever load
  bool first_bottom_pause = false;  ///< starts with a bottom pause instead of rising
  // effort
  Effort effort = Effort::Track;
  double follow_surplus_n = 10;  ///< Follow: force beyond the felt load, N (3..30)
  // tempo compliance: own tempo = prescribed × tempo_scale, each phase × (1 + U(-jitter, +jitter))
  double tempo_scale = 1.0;   ///< 0.6..1.4
  double tempo_jitter = 0.0;  ///< 0 (exact) .. 0.6 (irregular)
  double pause_scale = 1.0;   ///< pauses shorter/longer than prescribed: 0.3..2
  double mid_rest_p = 0;      ///< per rep, probability of a mid-set rest (still loaded)
  RestWhere mid_rest_where = RestWhere::Bottom;
  double mid_rest_min_s = 2, mid_rest_max_s = 5;
  // range
  double range_jitter = 0;  ///< ±fraction of range, rep to rep (0..0.05)
  double tissue_mm = 0;     ///< thigh compression at 1800 N contact (2..15 mm); linear in force
  // fatigue
  FatigueKind fatigue = FatigueKind::None;
  int fail_rep =
      0;  ///< rep (1-based, every rep it makes incl. calibration) where the fatigue event starts
  double sudden_factor = 0.5;  ///< Sudden: capacity × this from fail_rep (0.3..0.7)
  int half_reps = 3;           ///< HalfThenFull: this many half reps from fail_rep
  enum class FailMode { Stall, Sink, Collapse } fail_mode = FailMode::Stall;
  double collapse_fraction =
      0.4;  ///< Collapse: pushes with this fraction of the load felt when it fails (0..0.9)
  // control
  double tremor_n = 0;  ///< tremor amplitude, N, scaled by (1 + tremor_growth × fatigue)
  double tremor_hz = 6;
  double tremor_growth = 0;
  double sticking_fraction =
      0;                      ///< 0 = none; else the height (fraction of range) of a sticking point
  double sticking_depth = 0;  ///< capacity lost at the sticking point (0..0.5)
  double drop_p = 0;  ///< per rep, probability of an eccentric "drop" (gives way for 0.2-0.5 s)
  // leaving
  Leave leave = Leave::None;
  int leave_rep = 0;
  double sit_back_after_s = 3;  ///< SitBack: seconds away before sitting back down (1..10)
  // isometric hold (style isometric with traits on): times are seconds of holding
  double hold_fraction = 0.7;  ///< Track: holds with this fraction of its capacity (0.1..1)
  double hold_fail_s =
      20;  ///< Sudden / RangeFirst: the force drops; FailMidRise: gives up, after this long holding
  double hold_leave_s = 10;  ///< any `leave`: lets go / stands up after this long holding
};
using FailMode = AthleteTraits::FailMode;

const char* to_string(Effort e);  ///< track | follow | push_hard | grind
const char* to_string(
    FatigueKind f);  ///< none | gradual | sudden | range_first | half_then_full | fail_mid_rise
const char* to_string(
    Leave l);  ///< none | mid_rise | mid_lowering | at_top | at_bottom | stand_up | sit_back
const char* to_string(RestWhere w);  ///< top | bottom
const char* to_string(FailMode m);   ///< stall | sink | collapse
bool parse_effort(const std::string& text, Effort& out);
bool parse_fatigue(const std::string& text, FatigueKind& out);
bool parse_leave(const std::string& text, Leave& out);
bool parse_rest_where(const std::string& text, RestWhere& out);
bool parse_fail_mode(const std::string& text, FailMode& out);

struct AthleteSettings {
  AthleteStyle style = AthleteStyle::Tempo;
  double capacity_n = 1500;  ///< greatest force it can push with at the pad, N
  double fatigue_rate = 0;   ///< fraction of current capacity lost per rep (0..0.9)
  Tempo tempo{};
  double bottom_mm = 30;       ///< pad height with the heels lowest
  double top_mm = 130;         ///< highest pad height the calves reach
  double start_load_n = 5;     ///< "load on": the motor pushes down at least this (the calibration
                               ///< rep's light load is ~20 N of motor force)
  double start_delay_s = 0.5;  ///< load on for this long before the first rep
  int after_reps = 3;          ///< let_go / relax: reps before it lets go / relaxes
  double half_range_fraction = 0.5;
  double shrink_per_rep = 0.05;  ///< shrinking_range: fraction of range lost per rep
  double min_range_fraction = 0.3;
  Tempo bounce_tempo{0.5, 0, 0.5, 0};
  double iso_fraction = 0.7;  ///< isometric: fraction of capacity it pushes with
  double noise_n = 3;         ///< rms force noise
  double wobble_n = 0;        ///< amplitude of a force oscillation (loss of control)
  double wobble_hz = 4;
  std::uint64_t seed = 1;
  AthleteTraits traits{};  ///< issue 9's trait model (off by default)
};

enum class AthletePhase {
  Waiting,
  Concentric,
  TopPause,
  Eccentric,
  BottomPause,
  Stopping,
  Relaxed,
  LetGo,
  Holding
};
const char* to_string(AthletePhase p);

/// What the athlete feels in one step.
struct AthleteInput {
  double x_mm = 0;
  double v_mm_s = 0;
  double motor_force_n = 0;  ///< ideal screw force of the motor, N, positive down
  /// Ideal force of the host's torque command (clamped by the drive's limit):
  /// "load on" follows what the host asks, not the speed loop's momentary trims.
  double commanded_force_n = 0;
  bool drive_enabled = false;
};

/// Physical facts the athlete's feed-forward uses.
struct AthleteBody {
  double moving_mass_kg = 110;
  double pad_weight_n = 78.5;
  double efficiency = 0.9;
};

struct RepTruth {
  int index = 0;  ///< 1-based, in the order made
  bool full = false;
  double start_s = 0;         ///< simulation time when the concentric phase began
  double low_mm = 0;          ///< lowest pad height at the start of the rep
  double high_mm = 0;         ///< highest pad height reached
  double range_mm = 0;        ///< high − anatomical bottom
  double range_fraction = 0;  ///< range_mm / (top − bottom)
  double intended_fraction = 1;
  double peak_concentric_n = 0;
  double mean_concentric_n = 0;
  double concentric_s = 0, top_pause_s = 0, eccentric_s = 0, bottom_pause_s = 0;
  double capacity_n = 0;  ///< capacity during the rep
  // Issue 9 ground truth. The heel is the athlete's bone: pad height + thigh
  // compression (tissue_mm × contact / 1800 N). Rep fullness is judged on it.
  double heel_low_start_mm = 0, heel_high_mm = 0,
         heel_low_end_mm = 0;                   ///< heel extremes of this rep
  double heel_rise_mm = 0, heel_return_mm = 0;  ///< high − low_start, high − low_end
  double true_range_mm =
      0;  ///< anatomical range (top − bottom) at this rep, before any intended shrink
  double rise_fraction = 0,
         return_fraction = 0;  ///< heel_rise / true_range, heel_return / true_range
  double end_s = 0;            ///< time the rep ended (bottom reached or abandoned)
  double loaded_s = 0;  ///< time of this rep's four phases with the drive enabled and commanding ≥
                        ///< start load (TUT truth)
  bool wobbly = false;    ///< tremor or drop large enough to be a true loss of control in this rep
  bool stalled = false;   ///< this rep failed mid-rise (FailMidRise), or the athlete gave up rising
  bool mid_rest = false;  ///< a mid-set rest happened after this rep
};

struct AthleteEvents {
  std::optional<double>
      left_s;  ///< when it let go / stood up (contact 0 for good or for a sit-back)
  std::optional<double> returned_s;  ///< SitBack: when it sat back down
  Leave leave_kind = Leave::None;
  std::optional<double> stall_s;        ///< when a true stall began
  std::optional<int> range_shrink_rep;  ///< first rep whose intended range is < 0.9 × full
  std::optional<double> first_move_s;   ///< when it first moved after load came on
  std::vector<std::pair<double, double>> rests;  ///< mid-set rests [start, end)
};

/// Ground truth of an isometric hold (style isometric with traits on).
struct HoldTruth {
  bool hold = false;              ///< it was told to hold (the programme is a hold)
  std::optional<double> start_s;  ///< it first began pushing (after its reaction)
  std::optional<double>
      end_s;  ///< it stopped holding because the machine's hold ended (load faded, drive off)
  std::optional<double>
      fail_s;  ///< its force failed: sudden drop (Sudden, RangeFirst) or it gave up (FailMidRise)
  bool gave_up = false;  ///< FailMidRise: it gave the hold up at fail_s
  /// [start, end) of every time it pushed (a sit-back resumes), end < 0 while pushing.
  std::vector<std::pair<double, double>> bouts;
  /// Its true contact force on the pad (what an ideal load cell reads), mean
  /// per `bin_s` bin from `bins_from_s` (the drive's first enable in the hold).
  double bin_s = 0.1;
  double bins_from_s = 0;
  std::vector<float> force_n;
  /// Mean contact over [a, b) from the bins (partial bins weighted); nullopt without bins there.
  std::optional<double> mean_force(double a, double b) const;
  /// Seconds of pushing within [a, b).
  double held_within(double a, double b) const;
  /// The first time its force truly dropped: the end of the first window
  /// (length `window_s`, aligned to `from_s`) whose mean is below
  /// (100 − pct) % of the best window before it. nullopt when none did before `until_s`.
  std::optional<double> first_drop_s(double pct, double window_s, double from_s,
                                     double until_s) const;
};

class Athlete {
 public:
  Athlete(AthleteSettings s, AthleteBody body);

  /// Advances one millisecond; returns the contact force on the pad (N, ≥ 0, up).
  double step(const AthleteInput& in, std::int64_t now_ms);

  /// Replaces the settings. Capacity restarts at the new capacity_n when
  /// `reset_capacity`; the rep history stays unless reset() is called.
  void configure(const AthleteSettings& s, bool reset_capacity);
  /// Forgets all reps and fatigue and waits for load again.
  void reset();

  const AthleteSettings& settings() const { return s_; }
  AthletePhase phase() const { return phase_; }
  double capacity_n() const { return capacity_; }
  double contact_n() const { return contact_; }
  double muscle_n() const { return muscle_; }
  double heel_n() const { return heel_; }
  const std::vector<RepTruth>& reps() const { return reps_; }
  /// The rep in progress (not yet in reps()), with its fractions so far.
  std::optional<RepTruth> open_rep() const;
  int full_reps() const;
  int partial_reps() const;
  /// 1-based index of the first rep whose mean concentric force fell below
  /// (100 − pct) % of the best rep before it; nullopt when none did. The
  /// first `skip` reps (e.g. a controller's calibration rep) are ignored.
  std::optional<int> first_drop_rep(double pct, int skip = 0) const;
  double best_mean_concentric_n(int skip = 0) const;
  /// Height the current rep aims for.
  double rep_top_mm() const { return rep_top_; }
  /// Issue 9 truth: events of the set (leaving, stall, rests, first move).
  const AthleteEvents& events() const { return events_; }
  /// The heel (bone) height now: pad height + thigh compression.
  double heel_mm() const { return heel_mm_; }
  /// Thigh compression now, mm (tissue_mm × contact / 1800 N).
  double tissue_compression_mm() const { return compression_mm_; }
  /// Fraction of the initial capacity lost (0 = fresh).
  double fatigue() const;
  /// True while a mid-set rest is in progress.
  bool resting() const { return resting_; }
  /// True while it is off the machine (let go, stood up, or away before a sit-back).
  bool away() const { return away_; }
  /// Issue 9 truth of an isometric hold (style isometric, traits on).
  const HoldTruth& hold() const { return hold_; }

 private:
  struct Target {
    double x = 0, v = 0, a = 0;
  };
  void enter(AthletePhase p, double t_s, double x_mm);
  Target trajectory(double t_s) const;
  double intended_fraction(int rep_number) const;
  double feel_load(const AthleteInput& in, double v_dir) const;
  double capacity_at(double x_mm) const;
  void finish_rep(double t_s);
  const Tempo& tempo() const;
  // Trait mode (traits.enabled).
  double step_traits(const AthleteInput& in, double t);
  void start_rep(double t_s, double heel_mm);
  void go_away(double t_s);
  void end_rest(double t_s);
  void track_heel(double t_s, bool loaded);
  void refresh_rep(RepTruth& r) const;
  double uniform01();
  double fast_uniform();  ///< cheap uniform in [-1, 1) for per-step noise
  double trait_capacity_at(double heel_mm) const;
  void setup_tremor();
  // Isometric hold in trait mode (style isometric).
  double step_hold(const AthleteInput& in, double t);
  void end_bout(double t_s);

  AthleteSettings s_;
  AthleteBody body_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> gauss_{0.0, 1.0};
  double noise_state_ = 0;

  AthletePhase phase_ = AthletePhase::Waiting;
  double phase_start_s_ = 0;
  double from_mm_ = 0, to_mm_ = 0, duration_s_ = 1;  // current trajectory
  double capacity_;
  double contact_ = 0, muscle_ = 0, heel_ = 0;
  double loaded_s_ = 0, unloaded_s_ = 0;
  double holding_s_ = 0;
  double hold_peak_cmd_n_ = 0;  ///< largest commanded motor force during the hold
  bool held_once_ = false;      ///< the first hold starts on enable alone; later ones need load
  double rep_top_ = 0;
  bool in_rep_ = false;
  RepTruth cur_{};
  double conc_sum_ = 0;
  int conc_n_ = 0;
  std::vector<RepTruth> reps_;

  // Issue 9 state.
  AthleteEvents events_{};
  double heel_mm_ = 0, compression_mm_ = 0;
  bool resting_ = false;
  bool away_ = false;
  bool low_end_open_ =
      false;  ///< reps_.back()'s return is still being measured (until the next rise)
  // per-rep draws (trait mode), made when the rep starts
  double own_conc_s_ = 3, own_top_s_ = 1, own_ecc_s_ = 3, own_bottom_s_ = 1;
  double rest_len_s_ = 0;  ///< mid-set rest after this rep (0 = none)
  double drop_at_ = -1,
         drop_len_ = 0;      ///< drop window within the eccentric, s from its start (-1 = none)
  double event_frac_ = 0.5;  ///< where in the rise/lowering a fail or leave happens
  double pause_len_s_ = 0;   ///< current pause incl. rest
  double rest_from_s_ = -1;  ///< time the rest within the current pause starts (-1 = no rest)
  double rep_low_ = 0;       ///< heel height at the start of the rise
  bool failing_ = false, sinking_ = false, finished_ = false, left_once_ = false;
  bool sudden_done_ = false, range_failed_ = false, started_ = false;
  double fail_t_ = -1;
  double away_until_ = -1;
  double still_since_ = -1;
  double settle_until_ = -1;
  int stalled_in_row_ = 0;
  double follow_est_ = 0;  ///< Follow: its estimate of the load, N     ///< sitting back down:
                           ///< lifting the pad to its thighs until then
  double tremor_c_ = 1, tremor_s_ = 0, tremor_rc_ = 1, tremor_rs_ = 0, tremor_hz_ = -1;
  double tremor_amp_rep_ = 0;
  std::uint64_t fast_ = 0x9E3779B97F4A7C15ULL;
  // Isometric hold (trait mode).
  HoldTruth hold_{};
  double hold_time_ = 0;        ///< seconds of holding so far (all bouts)
  double bout_start_s_ = 0;     ///< start of the current bout
  double hold_target_n_ = 0;    ///< the force it means to hold with now
  double hold_heel0_ = 0;       ///< heel height when the bout began
  double hold_res_peak_n_ = 0;  ///< largest resistance felt (pad + command) in the bout
  double give_up_from_s_ = -1;  ///< FailMidRise: its force fades from here
  double release_from_s_ = -1;  ///< the machine's hold ended: it eases off from here
  bool hold_over_ = false;      ///< the machine's hold ended: no new hold until the drive was off
  double bin_sum_ = 0;
  int bin_n_ = 0;
};

}  // namespace soleus::sim
