#pragma once
/// DaemonBackend's parts shared by its files (backend.cpp: the machine and
/// the sets; backend_members.cpp, backend_session.cpp, backend_maintenance.cpp):
/// the connection pool and the small helpers. Internal to app/.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <thread>
#include "soleus/app/backend.hpp"
#include "soleus/app/journal.hpp"
#include "soleus/app/session_runner.hpp"
#include "soleus/app/views_from_controller.hpp"
#include "soleus/app/views_from_storage.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/tempo.hpp"
#include "soleus/common/time.hpp"
#include "soleus/controller/set_controller.hpp"
#include "soleus/storage/calibrations.hpp"
#include "soleus/storage/maintenance.hpp"
#include "soleus/storage/members.hpp"
#include "soleus/storage/programmes.hpp"
#include "soleus/storage/progression.hpp"
#include "soleus/storage/queries.hpp"
#include "soleus/storage/staff.hpp"

namespace soleus::app {

namespace json = boost::json;
using namespace std::chrono_literals;
using controller::EventCode;
using controller::SetState;
using hmi::Result;

// ---- connection pool ---------------------------------------------------------------

class DaemonBackend::Pool {
 public:
  explicit Pool(const storage::StorageConfig& c) : cfg_(c) {}
  storage::Database take() {
    {
      std::lock_guard lk(mutex_);
      if (!free_.empty()) {
        storage::Database db = std::move(free_.back());
        free_.pop_back();
        return db;
      }
    }
    // Read-write: staff changes go through these too. The writer creates and
    // migrates the file; this never creates one.
    return storage::Database::open(cfg_.db_path, storage::Database::Access::ReadWrite, cfg_.vfs,
                                   cfg_.busy_timeout_ms);
  }
  void give(storage::Database db) {
    std::lock_guard lk(mutex_);
    if (free_.size() < 8) free_.push_back(std::move(db));
  }

 private:
  storage::StorageConfig cfg_;
  std::mutex mutex_;
  std::vector<storage::Database> free_;
};

struct DaemonBackend::Conn {
  Pool* pool;
  storage::Database db;
  bool keep = true;
  ~Conn() {
    if (keep && db.is_open()) pool->give(std::move(db));
  }
};

namespace detail {

/// Runs `fn` on a pooled connection, turning storage failures into results.
template <class F>
inline Result with_db(F&& fn, const char* what) {
  try {
    return fn();
  } catch (const storage::SqliteError& e) {
    if (e.code() == 19 /* SQLITE_CONSTRAINT */)
      return Result::invalid("", std::string(what) + ": refused by the store: " + e.what());
    return Result::conflict(std::string(what) + ": storage unavailable: " + e.what(), "storage");
  } catch (const std::exception& e) {
    return Result::conflict(std::string(what) + ": " + e.what(), "storage");
  }
}

}  // namespace detail

template <class F>
hmi::Result DaemonBackend::with_member(std::int64_t member_id, F&& fn, const char* what) {
  return detail::with_db(
      [&]() -> Result {
        auto c = connect();
        if (!storage::get_member(c.db, member_id))
          return Result::not_found("no member " + std::to_string(member_id));
        return fn(c);
      },
      what);
}

namespace detail {

inline std::optional<std::string> opt_string(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_string()) return std::nullopt;
  return std::string(it->value().get_string());
}
inline std::optional<double> opt_number(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end()) return std::nullopt;
  const auto& v = it->value();
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return std::nullopt;
}

inline hmi::MemberView member_of(storage::Database& db, const storage::MemberRow& m) {
  hmi::MemberView v = member_view(m, storage::current_programme_id(db, m.id));
  // Issue 13: staff see who is flagged (PAIN) and who is due for reassessment.
  if (const auto flag = storage::member_flag(db, m.id)) {
    v.flagged = true;
    v.flag_reason = flag->reason;
  }
  if (const auto plan = runner::load_plan(db, m.id))
    v.reassessment_due =
        programme::schedule(runner::schedule_input(db, *plan), common::unix_ms_now())
            .reassessment_due;
  return v;
}

inline hmi::ProgrammeView programme_of(storage::Database& db, const storage::ProgrammeRow& p) {
  return programme_view(p, storage::programme_steps(db, p.id));
}

inline std::optional<hmi::ProgrammeView> programme_of(storage::Database& db, std::int64_t id) {
  const auto p = storage::get_programme(db, id);
  if (!p) return std::nullopt;
  return programme_of(db, *p);
}

/// The API's step (normalised by the server) as the store's. Refuses the
/// progression rules the store cannot hold yet.
inline std::optional<Result> to_step(const json::object& st, std::size_t i,
                                     storage::StepSpec& out) {
  const std::string pre = "steps[" + std::to_string(i) + "].";
  out.mode = opt_string(st, "mode").value_or("isotonic");
  out.sets = static_cast<int>(opt_number(st, "sets").value_or(1));
  out.target_reps.reset();
  if (auto r = opt_number(st, "target_reps")) out.target_reps = static_cast<int>(*r);
  out.hold_s = opt_number(st, "hold_s");
  out.load_n = opt_number(st, "load_n");
  out.load_pct_max = opt_number(st, "load_pct");
  out.tempo = opt_string(st, "tempo").value_or("0-0-0-0");
  out.rest_s = opt_number(st, "rest_s").value_or(90);
  out.force_drop_pct = opt_number(st, "force_drop_pct").value_or(20);
  out.eccentric_pct = opt_number(st, "eccentric_pct").value_or(0);
  out.progress_when = "never";
  out.progress_load_pct = 0;
  out.progress_rule = "none";
  out.progress_amount = 0;
  out.progress_double = false;
  out.rep_min.reset();
  out.rep_max.reset();
  if (auto r = opt_number(st, "rep_min")) out.rep_min = static_cast<int>(*r);
  if (auto r = opt_number(st, "rep_max")) out.rep_max = static_cast<int>(*r);
  if (auto it = st.find("progression"); it != st.end() && it->value().is_object()) {
    const auto& pr = it->value().get_object();
    std::string rule = opt_string(pr, "rule").value_or("none");
    if (rule == "double") {  // stored as its increment's rule plus the flag (schema 4)
      out.progress_double = true;
      rule = opt_string(pr, "increment").value_or("load_n");
    }
    const double amount = opt_number(pr, "amount").value_or(0);
    bool on_tempo = false;
    if (auto t = pr.find("on_tempo"); t != pr.end() && t->value().is_bool())
      on_tempo = t->value().get_bool();
    if (rule == "load_pct" && amount > 50)
      return Result::invalid(pre + "progression.amount", "at most 50 % per session");
    if (rule != "none") {
      out.progress_rule = rule;
      out.progress_amount = amount;
      out.progress_when = on_tempo ? "all_sets_target_on_tempo" : "all_sets_target";
      if (rule == "load_pct") out.progress_load_pct = amount;
    }
  }
  return std::nullopt;
}

/// The audit's "who" for a change made through the API: the caller of the
/// request this thread handles (hmi::current_caller(), set by the API once
/// the token is checked): a named staff account's id, a member's own id, or
/// the role alone (staff with the shared PIN: no id). Read when it is passed
/// as a storage::Actor, so every `kStaff` names the person. Outside a
/// request (a test calling the backend directly): staff without an account.
struct ApiActor {
  operator storage::Actor() const {  // NOLINT(google-explicit-constructor): the point of it
    const hmi::Caller& c = hmi::current_caller();
    if (c.role == "staff") return {"staff", c.staff_id};
    if (c.role == "member") return {"member", c.member_id};
    if (c.role == "maintenance") return {"maintenance", std::nullopt};
    return {"staff", std::nullopt};
  }
};
inline constexpr ApiActor kStaff{};

}  // namespace detail
using namespace detail;  // internal to backend*.cpp

}  // namespace soleus::app
