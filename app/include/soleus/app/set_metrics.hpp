#pragma once
/// What a set's summary says about fatigue, computed once here (pure) and
/// carried by the set view (SetView::fatigue_index_pct, decline_n_per_rep),
/// so the API, the exports and the screen agree. docs/api.md, "Fatigue".
#include <optional>
#include <string>
#include <vector>

namespace soleus::app {

struct FatigueMetrics {
  /// 100 × (first third's mean − last third's mean) / first third's mean: the
  /// drop of mean force from the first third of the counted reps to the last
  /// third (a third is ⌊n/3⌋ reps), as dynamometers report a fatigue index.
  /// Positive: the force fell. Null with fewer than 3 reps or a first third of 0 N.
  std::optional<double> fatigue_index_pct;
  /// The rep-to-rep decline: minus the least-squares slope of mean force
  /// against rep number, in N per rep (positive: the force fell rep by rep,
  /// as a positive fatigue index). Null with fewer than 3 reps.
  std::optional<double> decline_n_per_rep;
};

/// From the counted reps' mean forces, in rep order.
FatigueMetrics fatigue_metrics(const std::vector<double>& mean_force_n);

/// The per-rep tempo verdict from the controller's result: "on_tempo", or
/// "too_fast" / "too_slow" by the sign of tempo_deviation_s (the phase
/// deviation of largest magnitude, actual − prescribed: negative = quicker).
std::string tempo_verdict(bool on_tempo, double tempo_deviation_s);

}  // namespace soleus::app
