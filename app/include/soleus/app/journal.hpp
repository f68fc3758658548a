#pragma once
/// soleusd's events in the systemd journal, as structured entries
/// (docs/events.md, "In the journal"): every event that goes to the store's
/// event log also goes to the journal through sd_journal_sendv, with
/// MESSAGE_ID (one per event code, generated from docs/events.md), PRIORITY,
/// SOLEUS_EVENT, SOLEUS_SET_ID, SOLEUS_MEMBER_ID and SOLEUS_CONTEXT.
///
/// Sending is a blocking datagram to journald: it happens on the Journal's own
/// thread, never on the caller's (the control loop never sees it anyway: its
/// events reach the store through the main thread). Without a journal (no
/// socket, as in CI) the sends fail quietly and are only counted.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "soleus/storage/records.hpp"

namespace soleus::storage {
class Writer;
}

namespace soleus::app {

class SetBook;

/// The journal MESSAGE_ID of an event code (32 lowercase hex digits), from
/// the table generated from docs/events.md; nullptr for a code not listed there.
const char* event_message_id(std::string_view code);
/// Every code docs/events.md lists, in its order.
std::vector<std::string_view> documented_event_codes();

/// journald's PRIORITY for a severity: info 6, warning 4, error 3.
int journal_priority(storage::Severity s);

/// The fields of an event's journal entry, "KEY=value" each: MESSAGE
/// ("[code] text", as the log line), MESSAGE_ID (when the code is documented),
/// PRIORITY, SOLEUS_EVENT, SOLEUS_SET_ID and SOLEUS_MEMBER_ID (when not 0),
/// SOLEUS_CONTEXT (the JSON details, when any), SYSLOG_IDENTIFIER.
std::vector<std::string> journal_fields(const storage::EventRecord& e, std::int64_t member_id);

/// sd_journal_sendv of the fields ("KEY=value" each): 0, or a negative errno
/// (-ENOENT, ...: no journal). Blocks while journald's socket is full.
int send_to_journal(const std::vector<std::string>& fields);

/// True when stderr is a stream to the journal (systemd's JOURNAL_STREAM names
/// it): soleusd then writes its events only as structured entries, not also as
/// plain log lines. Read once.
bool stderr_is_journal();

class Journal {
 public:
  /// The member of a set (0: none, a guest, unknown); called on the Journal's thread.
  using MemberOf = std::function<std::int64_t(std::int64_t set_id)>;
  /// Hands one entry's fields to the journal; a negative errno when refused.
  /// The default is sd_journal_sendv (a datagram to /run/systemd/journal/socket).
  using Send = std::function<int(const std::vector<std::string>& fields)>;
  explicit Journal(MemberOf member_of = {}, std::size_t capacity = 256, Send send = {});
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  /// Any thread; never waits on the journal: the entry is queued for the
  /// Journal's thread. False (counted in dropped()) when the queue is full.
  bool post(const storage::EventRecord& e);
  /// Waits until everything posted so far was handed to the journal (or the
  /// timeout passed: false).
  bool flush(std::chrono::milliseconds timeout);
  /// Sends what is queued, then joins. Idempotent.
  void stop();

  std::uint64_t sent() const { return sent_.load(); }
  /// Sends refused (a negative errno). No journal at all is not one: libsystemd
  /// then discards the entry quietly and answers 0.
  std::uint64_t failed() const { return failed_.load(); }
  std::uint64_t dropped() const { return dropped_.load(); }

 private:
  void run();

  MemberOf member_of_;
  Send send_;
  std::size_t capacity_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<storage::EventRecord> queue_;
  std::uint64_t posted_ = 0, done_ = 0;  // under mutex_
  bool stopping_ = false;
  std::atomic<std::uint64_t> sent_{0}, failed_{0}, dropped_{0};
  std::thread thread_;
};

/// soleusd's wiring: a set's member from the API's book (0 for a guest or a
/// set the book no longer holds) ...
Journal::MemberOf members_from(const SetBook& book);
/// ... and every event the store gets or raises itself (Writer::on_event)
/// posted to the journal. Before store.start(); `journal` outlives the store's thread.
void copy_events_to_journal(storage::Writer& store, Journal& journal);

}  // namespace soleus::app
