#pragma once
/// Named staff accounts (issue 13) and the audit trail as the audit viewer
/// reads it: with the actor's name, filtered by member and by person, paged
/// newest first.
///
/// An account has a name, a PIN hash (made by the HMI's make_pin_hash: this
/// library never sees a PIN), an admin flag (admins manage the accounts) and
/// an active flag. Accounts are deactivated, never deleted: audit rows refer
/// to them (actor_role 'staff', actor_id = the account's id). Each change is
/// audited as entity "staff"; the audit holds "(set)" for a PIN, never a hash.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "soleus/storage/database.hpp"
#include "soleus/storage/members.hpp"

namespace soleus::storage {

struct StaffRow {
  std::int64_t id = 0;
  std::string name;
  std::string pin_hash;
  bool admin = false;
  bool active = true;
  std::int64_t created_ms = 0, updated_ms = 0;
};

/// Only the fields that are set change.
struct StaffUpdate {
  std::optional<std::string> name;
  std::optional<std::string> pin_hash;
  std::optional<bool> admin;
  std::optional<bool> active;
};

/// Creates an account (audited: entity "staff", field "*"). Throws SqliteError
/// (SQLITE_CONSTRAINT when an active account has the name, or a bad value).
std::int64_t add_staff(Database& db, const std::string& name, const std::string& pin_hash,
                       bool admin, const Actor& who);
/// Applies `u` in one transaction with one audit row per changed field. False
/// if no such account. Throws SqliteError as add_staff.
bool update_staff(Database& db, std::int64_t id, const StaffUpdate& u, const Actor& who);
std::optional<StaffRow> get_staff(Database& db, std::int64_t id);
/// Every account (active and not), by name.
std::vector<StaffRow> list_staff(Database& db);
/// True when an active account other than `except_id` is named `name` (case-insensitive).
bool staff_name_taken(Database& db, const std::string& name,
                      std::optional<std::int64_t> except_id = std::nullopt);

/// An audit row with the actor's name: a staff account's or a member's name,
/// "staff (shared PIN)" for staff without an account, else the role.
struct NamedAuditRow {
  AuditRow row;
  std::string actor_name;
  /// The member the row concerns, when it concerns one (entity member, or the
  /// member's assignment or session).
  std::optional<std::int64_t> member_id;
};

struct AuditFilter {
  /// Rows about this member: entity "member" with its id, or one of the
  /// member's assignments or sessions.
  std::optional<std::int64_t> member_id;
  /// Rows made by this staff account.
  std::optional<std::int64_t> staff_id;
  std::optional<std::int64_t> before_id;  ///< keyset paging: only rows with id < before_id
  int limit = 50;
};

/// Newest first (by id).
std::vector<NamedAuditRow> query_audit_named(Database& db, const AuditFilter& f);

/// The name the audit shows for a staff actor without an account.
inline constexpr const char* kSharedStaffName = "staff (shared PIN)";

}  // namespace soleus::storage
