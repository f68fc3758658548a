#pragma once
/// Strength assessments (table assessments, migration 5; docs/assessment.md):
/// each one kept, newest first; a complete one becomes the member's assessed
/// max (with its date and method) in the same transaction, audited.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"
#include "soleus/storage/members.hpp"

namespace soleus::storage {

struct AssessmentRow {
  std::int64_t id = 0;
  std::int64_t member_id = 0;
  std::int64_t t_ms = 0;
  std::string method = "isometric";  ///< isometric | submaximal | manual
  bool complete = false;
  std::optional<double> max_n;  ///< null: incomplete or beyond range
  bool beyond_range = false;
  std::optional<double> spread_pct;
  std::string trials_json = "[]";  ///< [{pct_of_range, force_n, beyond_range}]
  std::string curve_json = "[]";
  std::string note;
};

/// Stores an assessment. When it is complete with a max, that becomes the
/// member's assessed max (assessed_ms = t_ms, assessed_method = method),
/// audited as field "assessed_max_n"; any assessment ends the member's
/// pending assignment. Returns the new id.
std::int64_t record_assessment(Database& db, const AssessmentRow& a, const Actor& who);
/// The member's assessments, newest first.
std::vector<AssessmentRow> member_assessments(Database& db, std::int64_t member_id);
/// Staff assign (true) or withdraw (false) an assessment. False: no such member.
bool assign_assessment(Database& db, std::int64_t member_id, bool assign, std::int64_t now_ms,
                       const Actor& who);
/// When the pending assessment was assigned (nullopt: none pending).
std::optional<std::int64_t> assessment_assigned_ms(Database& db, std::int64_t member_id);
/// How the member's current assessed max was found (nullopt: none).
std::optional<std::string> assessed_method(Database& db, std::int64_t member_id);

}  // namespace soleus::storage
