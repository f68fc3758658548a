#include "soleus/storage/config.hpp"

#include <stdexcept>

namespace soleus::storage {

StorageConfig StorageConfig::parse(const config::Section& s) {
  StorageConfig c;
  auto i32 = [&](std::string_view key, int def, int min, int max) {
    return static_cast<int>(s.integer(key, def, min, max));
  };
  c.db_path = s.string("db_path", c.db_path);
  if (c.db_path.empty()) s.fail("db_path", "must not be empty");
  c.trace_retention_days = i32("trace_retention_days", c.trace_retention_days, 0, 36500);
  c.trace_queue = i32("trace_queue", c.trace_queue, 64, 4'000'000);
  c.record_queue = i32("record_queue", c.record_queue, 64, 1'000'000);
  c.overflow_records = i32("overflow_records", c.overflow_records, 0, 10'000'000);
  c.flush_ms = i32("flush_ms", c.flush_ms, 5, 10'000);
  c.batch_items = i32("batch_items", c.batch_items, 1, 1'000'000);
  c.retry_ms = i32("retry_ms", c.retry_ms, 10, 600'000);
  c.busy_timeout_ms = i32("busy_timeout_ms", c.busy_timeout_ms, 0, 600'000);
  c.quick_check = s.boolean("quick_check", c.quick_check);
  s.finish();
  try {
    c.validate();
  } catch (const std::invalid_argument& e) {
    std::string what = e.what();
    auto colon = what.find(':');
    std::string key = colon == std::string::npos ? std::string() : what.substr(0, colon);
    std::string msg = colon == std::string::npos ? what : what.substr(colon + 2);
    s.fail(key, msg);
  }
  return c;
}

void StorageConfig::validate() const {
  auto fail = [](const std::string& key, const std::string& msg) {
    throw std::invalid_argument(key + ": " + msg);
  };
  if (db_path.empty()) fail("db_path", "must not be empty");
  if (trace_retention_days < 0) fail("trace_retention_days", "must be 0 (keep) or more");
  if (trace_queue < 64) fail("trace_queue", "must be at least 64");
  if (record_queue < 64) fail("record_queue", "must be at least 64");
  if (overflow_records < 0) fail("overflow_records", "must not be negative");
  if (flush_ms < 5) fail("flush_ms", "must be at least 5");
  if (batch_items < 1) fail("batch_items", "must be at least 1");
  if (batch_items > record_queue + overflow_records)
    fail("batch_items", "must not exceed record_queue + overflow_records");
  if (retry_ms < 10) fail("retry_ms", "must be at least 10");
  if (busy_timeout_ms < 0) fail("busy_timeout_ms", "must not be negative");
  // The writer wakes every flush_ms; a 100 Hz trace must not overflow the
  // queue between two wakes of a healthy writer.
  if (static_cast<long>(trace_queue) * 1000 < 100L * 4 * flush_ms)
    fail("trace_queue", "too small for flush_ms: hold at least 4 flush periods at 100 Hz");
}

}  // namespace soleus::storage
