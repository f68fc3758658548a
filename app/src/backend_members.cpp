// DaemonBackend: members and programmes
#include "backend_internal.hpp"
#include "soleus/storage/sessions.hpp"

namespace soleus::app {

// ---- members and programmes ---------------------------------------------------------------

hmi::Result DaemonBackend::list(hmi::Collection col) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          std::vector<hmi::MemberView> members;
          for (const auto& m : storage::list_members(c.db)) members.push_back(member_of(c.db, m));
          return Result::ok(hmi::to_json(members));
        }
        std::vector<hmi::ProgrammeView> programmes;
        for (const auto& p : storage::list_programmes(c.db))
          programmes.push_back(programme_of(c.db, p));
        return Result::ok(hmi::to_json(programmes));
      },
      "list");
}

hmi::Result DaemonBackend::get(hmi::Collection col, std::int64_t id) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          auto m = storage::get_member(c.db, id);
          if (!m) return Result::not_found("no member " + std::to_string(id));
          return Result::ok(hmi::to_json(member_of(c.db, *m)));
        }
        auto p = programme_of(c.db, id);
        if (!p) return Result::not_found("no programme " + std::to_string(id));
        return Result::ok(hmi::to_json(*p));
      },
      "get");
}

namespace {
std::optional<Result> member_update(const json::object& f, storage::MemberUpdate& u) {
  if (auto it = f.find("notes");
      it != f.end() && it->value().is_string() && !it->value().get_string().empty())
    return Result::invalid("notes", "member notes are not stored by this release");
  if (auto n = opt_string(f, "name")) u.name = *n;
  if (auto h = opt_string(f, "pin_hash"))
    u.pin_hash = h->empty() ? std::optional<std::string>() : std::optional<std::string>(*h);
  if (f.contains("assessed_max_n")) u.assessed_max_n = opt_number(f, "assessed_max_n");
  return std::nullopt;
}
}  // namespace

hmi::Result DaemonBackend::create(hmi::Collection col, const json::object& f) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          storage::MemberUpdate u;
          if (auto bad = member_update(f, u)) return *bad;
          const std::string number = opt_string(f, "number").value_or("");
          if (storage::find_member_by_number(c.db, number))
            return Result::conflict("member number " + number + " is taken", "number");
          const std::int64_t id = storage::add_member(c.db, number, u.name.value_or(""), kStaff);
          u.name.reset();
          if (u.pin_hash || u.assessed_max_n) storage::update_member(c.db, id, u, kStaff);
          return Result::created(id);
        }
        storage::ProgrammeSpec p;
        p.name = opt_string(f, "name").value_or("");
        p.notes = opt_string(f, "description").value_or("");
        if (auto n = opt_number(f, "sessions_per_week")) p.sessions_per_week = static_cast<int>(*n);
        if (auto n = opt_number(f, "block_weeks")) p.block_weeks = static_cast<int>(*n);
        if (auto n = opt_number(f, "after_block_sessions_per_week"))
          p.after_block_sessions_per_week = static_cast<int>(*n);
        if (auto it = f.find("block_every_other_day"); it != f.end() && it->value().is_bool())
          p.block_every_other_day = it->value().get_bool();
        if (auto it = f.find("steps"); it != f.end() && it->value().is_array()) {
          const auto& a = it->value().get_array();
          for (std::size_t i = 0; i < a.size(); ++i) {
            storage::StepSpec s;
            if (auto bad = to_step(a[i].as_object(), i, s)) return *bad;
            p.steps.push_back(std::move(s));
          }
        }
        return Result::created(storage::add_programme(c.db, p, kStaff));
      },
      "create");
}

hmi::Result DaemonBackend::update(hmi::Collection col, std::int64_t id, const json::object& f) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          storage::MemberUpdate u;
          if (auto bad = member_update(f, u)) return *bad;
          auto m = storage::get_member(c.db, id);
          if (!m) return Result::not_found("no member " + std::to_string(id));
          if (auto n = opt_string(f, "number"); n && *n != m->number) {
            if (storage::find_member_by_number(c.db, *n))
              return Result::conflict("member number " + *n + " is taken", "number");
            storage::set_member_number(c.db, id, *n, kStaff);
          }
          storage::update_member(c.db, id, u, kStaff);
          if (auto it = f.find("flagged");
              it != f.end() && it->value().is_bool() && !it->value().get_bool()) {
            storage::Transaction tx(c.db);
            if (const auto flag = storage::member_flag(c.db, id)) {
              storage::clear_member_flag(c.db, id);
              storage::record_audit(c.db, kStaff, "member", id, "flagged", flag->reason,
                                    std::nullopt);
            }
            tx.commit();
          }
          return Result::ok();
        }
        const auto before_view = programme_of(c.db, id);
        if (!before_view) return Result::not_found("no programme " + std::to_string(id));
        const json::object before = hmi::to_json(*before_view).as_object();
        std::vector<storage::StepSpec> steps;
        const auto it = f.find("steps");
        if (it != f.end() && it->value().is_array()) {
          const auto& a = it->value().get_array();
          for (std::size_t i = 0; i < a.size(); ++i) {
            storage::StepSpec s;
            if (auto bad = to_step(a[i].as_object(), i, s)) return *bad;
            steps.push_back(std::move(s));
          }
        }
        storage::Transaction tx(c.db);
        const std::int64_t now = common::unix_ms_now();
        // Each changed field: the column, and the audit trail with before and after.
        auto set_field = [&](const char* api, storage::ProgrammeField field) {
          const auto v = f.find(api);
          if (v == f.end()) return;
          storage::FieldValue value;
          if (v->value().is_string()) value = std::string(v->value().get_string());
          else if (v->value().is_bool()) value = std::int64_t{v->value().get_bool() ? 1 : 0};
          else if (auto n = opt_number(f, api)) value = static_cast<std::int64_t>(*n);
          storage::set_programme_field(c.db, id, field, value, now);
          const json::value& old = before.at(api);
          storage::record_audit(c.db, kStaff, "programme", id, api,
                                old.is_null() ? std::nullopt
                                              : std::optional<std::string>(
                                                    old.is_string() ? std::string(old.get_string())
                                                                    : json::serialize(old)),
                                v->value().is_string() ? std::string(v->value().get_string())
                                                       : json::serialize(v->value()));
        };
        using F = storage::ProgrammeField;
        set_field("name", F::Name);
        set_field("description", F::Notes);
        set_field("sessions_per_week", F::SessionsPerWeek);
        set_field("block_weeks", F::BlockWeeks);
        set_field("after_block_sessions_per_week", F::AfterBlockSessionsPerWeek);
        set_field("block_every_other_day", F::BlockEveryOtherDay);
        if (!steps.empty()) {
          // Steps keep their ids (and so members' progression and open sessions) by position.
          storage::replace_steps(c.db, id, steps);
          const auto after = programme_of(c.db, id);
          storage::record_audit(
              c.db, kStaff, "programme", id, "steps", json::serialize(before.at("steps")),
              after ? json::serialize(hmi::to_json(after->steps)) : std::string());
        }
        tx.commit();
        return Result::ok();
      },
      "update");
}

hmi::Result DaemonBackend::remove(hmi::Collection col, std::int64_t id) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        if (col == hmi::Collection::Members) {
          // Erasure on request: the member and all their data; audited.
          const auto r = storage::erase_member(c.db, id, kStaff);
          if (!r.found) return Result::not_found("no member " + std::to_string(id));
          return Result::ok(
              json::object{{"ok", true}, {"sets_erased", r.sets}, {"reps_erased", r.reps}});
        }
        // Programmes are archived, never deleted: sets and assignments refer to them.
        if (!storage::get_programme(c.db, id))
          return Result::not_found("no programme " + std::to_string(id));
        storage::archive_programme(c.db, id, common::unix_ms_now(), kStaff);
        return Result::ok();
      },
      "remove");
}

hmi::Result DaemonBackend::assign_programme(std::int64_t member_id,
                                            std::optional<std::int64_t> programme_id) {
  return with_member(
      member_id,
      [&](Conn& c) -> Result {
        if (programme_id) {
          if (!storage::get_programme(c.db, *programme_id))
            return Result::not_found("no programme " + std::to_string(*programme_id));
          storage::assign_programme(c.db, member_id, *programme_id, common::unix_ms_now(), kStaff);
          return Result::ok();
        }
        storage::end_assignment(c.db, member_id, common::unix_ms_now(), kStaff);
        return Result::ok();
      },
      "assign");
}

hmi::Result DaemonBackend::member_history(std::int64_t member_id, int limit) {
  return with_member(
      member_id,
      [&](Conn& c) -> Result {
        storage::SetFilter f;
        f.member_id = member_id;
        f.limit = std::clamp(limit, 1, 100) * 20;
        const auto sets = storage::query_sets(c.db, f);  // newest first
        std::vector<hmi::HistoryEntryView> out;
        std::vector<std::vector<std::vector<storage::RepRow>>> reps;  // per entry, per set
        // One entry per session; sets outside a session (free training) are an entry each.
        std::optional<std::int64_t> open_session;
        for (const auto& s : sets) {
          if (s.session_id && open_session == s.session_id && !out.empty()) {
            reps.back().push_back(storage::get_reps(c.db, s.id));
            out.back().sets.push_back(history_set_view(s, reps.back().back()));
            continue;
          }
          if (static_cast<int>(out.size()) >= limit) break;
          open_session = s.session_id;
          // A programme session names its programme (0 in the row: none recorded).
          std::optional<std::int64_t> programme_id;
          std::optional<std::string> programme;
          if (s.session_id)
            if (auto session = storage::get_session(c.db, *s.session_id);
                session && session->programme_id > 0) {
              programme_id = session->programme_id;
              if (auto p = storage::get_programme(c.db, session->programme_id)) programme = p->name;
            }
          reps.push_back({storage::get_reps(c.db, s.id)});
          hmi::HistoryEntryView e;
          e.session_id = s.session_id;
          e.date_ms = s.started_ms;
          e.programme_id = programme_id;
          e.programme = programme;
          e.sets.push_back(history_set_view(s, reps.back().back()));
          out.push_back(std::move(e));
        }
        for (std::size_t i = 0; i < out.size(); ++i) summarise(out[i], reps[i]);
        return Result::ok(hmi::to_json(out));
      },
      "history");
}

hmi::Result DaemonBackend::member_schedule(std::int64_t member_id) {
  return with_member(
      member_id,
      [&](Conn& c) -> Result {
        hmi::ScheduleView v;
        if (const auto flag = storage::member_flag(c.db, member_id)) {
          v.flagged = true;
          v.flag_reason = flag->reason;
        }
        const auto plan = runner::load_plan(c.db, member_id);
        if (!plan) return Result::ok(hmi::to_json(v));
        const std::int64_t now = common::unix_ms_now();
        const programme::Schedule s = programme::schedule(runner::schedule_input(c.db, *plan), now);
        v.programme_id = plan->programme_id;
        v.programme = plan->programme_name;
        v.phase = s.phase;
        v.block_week = s.block_week;
        v.block_weeks = s.block_weeks;
        v.sessions_per_week = s.sessions_per_week;
        v.next_due_ms = s.next_due_ms;
        v.next_due_in_days =
            static_cast<int>(s.next_due_ms / programme::kDayMs - now / programme::kDayMs);
        v.this_week = {s.this_week.week_start_ms, s.this_week.planned, s.this_week.done};
        for (const auto& w : s.adherence)
          v.adherence.push_back({w.week_start_ms, w.planned, w.done});
        v.consecutive_day_note = s.consecutive_day_note;
        v.reassessment_due = s.reassessment_due;
        v.reassessment_due_ms = s.reassessment_due_ms;
        return Result::ok(hmi::to_json(v));
      },
      "schedule");
}

hmi::Result DaemonBackend::member_progression(std::int64_t member_id, int limit) {
  return with_member(
      member_id,
      [&](Conn& c) -> Result {
        std::vector<hmi::ProgressionChangeView> out;
        for (const auto& r : storage::member_changes(c.db, member_id, limit))
          out.push_back({r.id, r.t_ms, r.session_id, r.step_id, r.change, r.level_before,
                         r.level_after, r.target_before, r.target_after, r.reason});
        return Result::ok(hmi::to_json(out));
      },
      "progression");
}

hmi::Result DaemonBackend::member_stop_events(std::int64_t member_id) {
  return with_member(
      member_id,
      [&](Conn& c) -> Result {
        storage::SetFilter f;
        f.member_id = member_id;
        f.limit = 100000;
        f.stop_reasons = {"pain", "loss_of_control"};
        std::vector<hmi::MemberStopEventView> out;
        for (const auto& s : storage::query_sets(c.db, f)) {  // newest first
          const auto reps = storage::get_reps(c.db, s.id);
          hmi::MemberStopEventView v;
          v.t_ms = s.ended_ms.value_or(s.started_ms);
          v.set_id = s.id;
          v.reason = *s.stop_reason;
          v.rep = reps.empty() ? 0 : reps.back().seq;
          v.reps = s.reps;
          v.session_id = s.session_id;
          out.push_back(std::move(v));
        }
        return Result::ok(json::object{{"events", hmi::to_json(out)}});
      },
      "member events");
}

std::optional<hmi::MemberCredential> DaemonBackend::member_credential(const std::string& number) {
  try {
    auto c = connect();
    auto m = storage::find_member_by_number(c.db, number);
    if (!m) return std::nullopt;
    return hmi::MemberCredential{m->id, m->pin_hash.value_or("")};
  } catch (const std::exception& e) {
    log::warn("api: member lookup: ", e.what());
    return std::nullopt;
  }
}

}  // namespace soleus::app
