// DaemonBackend: named staff accounts, the audit trail with names, a member's CSV export
#include "backend_internal.hpp"

namespace soleus::app {

namespace {
json::object staff_json(const storage::StaffRow& s) {
  return json::object{{"id", s.id},
                      {"name", s.name},
                      {"admin", s.admin},
                      {"active", s.active},
                      {"created_ms", s.created_ms}};
}
std::optional<bool> opt_bool(const json::object& o, const char* k) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_bool()) return std::nullopt;
  return it->value().get_bool();
}
}  // namespace

std::optional<hmi::StaffCredential> DaemonBackend::staff_credential(std::int64_t id) {
  try {
    auto c = connect();
    auto s = storage::get_staff(c.db, id);
    if (!s) return std::nullopt;
    return hmi::StaffCredential{s->id, s->name, s->pin_hash, s->admin, s->active};
  } catch (const std::exception& e) {
    log::warn("api: staff lookup: ", e.what());
    return std::nullopt;
  }
}

Result DaemonBackend::staff_list() {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        json::array a;
        for (const auto& s : storage::list_staff(c.db)) a.push_back(staff_json(s));
        return Result::ok(std::move(a));
      },
      "staff");
}

Result DaemonBackend::staff_create(const json::object& f) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        const std::string name = opt_string(f, "name").value_or("");
        if (storage::staff_name_taken(c.db, name))
          return Result::conflict("an active staff account is named " + name, "name");
        return Result::created(storage::add_staff(c.db, name,
                                                  opt_string(f, "pin_hash").value_or(""),
                                                  opt_bool(f, "admin").value_or(false), kStaff));
      },
      "staff");
}

Result DaemonBackend::staff_update(std::int64_t id, const json::object& f) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        const auto before = storage::get_staff(c.db, id);
        if (!before) return Result::not_found("no staff account " + std::to_string(id));
        storage::StaffUpdate u;
        u.name = opt_string(f, "name");
        u.pin_hash = opt_string(f, "pin_hash");
        u.admin = opt_bool(f, "admin");
        u.active = opt_bool(f, "active");
        const bool active_after = u.active.value_or(before->active);
        const std::string name_after = u.name.value_or(before->name);
        if (active_after && storage::staff_name_taken(c.db, name_after, id))
          return Result::conflict("an active staff account is named " + name_after, "name");
        storage::update_staff(c.db, id, u, kStaff);
        return Result::ok();
      },
      "staff");
}

Result DaemonBackend::audit(const hmi::AuditQuery& q) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        storage::AuditFilter f;
        f.member_id = q.member_id;
        f.staff_id = q.staff_id;
        f.before_id = q.before_id;
        f.limit = q.limit + 1;  // one more: is there a next page?
        auto rows = storage::query_audit_named(c.db, f);
        json::value next = nullptr;
        if (static_cast<int>(rows.size()) > q.limit) {
          rows.pop_back();
          next = rows.back().row.id;
        }
        json::array a;
        for (const auto& n : rows) {
          const auto& r = n.row;
          auto opt_s = [](const std::optional<std::string>& v) {
            return v ? json::value(*v) : json::value(nullptr);
          };
          auto opt_i = [](const std::optional<std::int64_t>& v) {
            return v ? json::value(*v) : json::value(nullptr);
          };
          a.push_back(json::object{{"id", r.id},
                                   {"t_ms", r.t_ms},
                                   {"actor_role", r.actor_role},
                                   {"actor_id", opt_i(r.actor_id)},
                                   {"actor_name", n.actor_name},
                                   {"entity", r.entity},
                                   {"entity_id", opt_i(r.entity_id)},
                                   {"member_id", opt_i(n.member_id)},
                                   {"field", r.field},
                                   {"before", opt_s(r.before)},
                                   {"after", opt_s(r.after)}});
        }
        return Result::ok(json::object{{"audit", std::move(a)}, {"next_before", next}});
      },
      "audit");
}

Result DaemonBackend::member_csv(std::int64_t member_id, std::optional<std::int64_t> from_ms,
                                 std::optional<std::int64_t> to_ms) {
  return with_db(
      [&]() -> Result {
        auto c = connect();
        auto ex = storage::export_member(c.db, member_id);
        if (!ex) return Result::not_found("no member " + std::to_string(member_id));
        return Result::ok(json::value(app::member_csv(*ex, from_ms, to_ms)));
      },
      "export");
}

}  // namespace soleus::app
