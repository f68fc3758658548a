#include "soleus/storage/outbox.hpp"

#include <algorithm>

namespace soleus::storage {

std::vector<OutboxRow> read_outbox(Database& db, std::int64_t after_seq, int limit) {
  auto st = db.prepare(
      "SELECT seq, kind, ref_id, payload, created_ms FROM outbox WHERE seq > ?1 "
      "ORDER BY seq LIMIT ?2");
  st.bind(1, after_seq).bind(2, std::max(limit, 1));
  std::vector<OutboxRow> out;
  while (st.step()) {
    OutboxRow r;
    r.seq = st.int64(0);
    r.kind = st.text(1);
    r.ref_id = st.opt_int64(2);
    r.payload = st.opt_text(3);
    r.created_ms = st.int64(4);
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<EventRow> get_event(Database& db, std::int64_t id) {
  auto st = db.prepare(
      "SELECT id, t_ms, severity, code, message, set_id, context FROM events WHERE id = ?1");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  EventRow e;
  e.id = st.int64(0);
  e.t_ms = st.int64(1);
  e.severity = static_cast<Severity>(std::clamp<std::int64_t>(st.int64(2), 0, 2));
  e.code = st.text(3);
  e.message = st.text(4);
  e.set_id = st.opt_int64(5);
  e.context = st.opt_text(6);
  return e;
}

}  // namespace soleus::storage
