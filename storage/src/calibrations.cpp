#include "soleus/storage/calibrations.hpp"

#include <cstdio>
#include <string>
#include "soleus/common/format.hpp"

namespace soleus::storage {

namespace {
std::string fmt4(double v) { return common::format_fixed(v, 4); }
}  // namespace

void record_span_calibration(Database& db, const Actor& who, std::int64_t t_ms, double gain,
                             double previous_gain, std::string_view details_json) {
  Transaction tx(db);
  auto st = db.prepare(
      "INSERT INTO calibrations (t_ms, kind, ok, value, details) VALUES (?1, 'span', 1, ?2, ?3)");
  st.bind(1, t_ms).bind(2, gain).bind(3, details_json);
  st.run();
  record_audit(db, who, "calibration", std::nullopt, "load_cell.span", fmt4(previous_gain),
               fmt4(gain));
  tx.commit();
}

void record_range_check(Database& db, std::int64_t t_ms, bool ok, double travel_mm,
                        std::string_view details_json) {
  auto st = db.prepare(
      "INSERT INTO calibrations (t_ms, kind, ok, value, details) VALUES (?1, 'range_check', ?2, "
      "?3, ?4)");
  st.bind(1, t_ms).bind(2, ok).bind(3, travel_mm).bind(4, details_json);
  st.run();
}

std::optional<double> latest_span_gain(Database& db) {
  auto st = db.prepare(
      "SELECT value FROM calibrations WHERE kind = 'span' AND ok = 1 ORDER BY id DESC LIMIT 1");
  if (!st.step()) return std::nullopt;
  return st.real(0);
}

}  // namespace soleus::storage
