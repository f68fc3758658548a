#include "soleus/app/journal.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "soleus/app/backend.hpp"            // SetBook
#include "soleus/app/event_message_ids.hpp"  // generated from docs/events.md
#include "soleus/storage/writer.hpp"

namespace soleus::app {

const char* event_message_id(std::string_view code) {
  for (const auto& e : generated::kEventMessageIds)
    if (code == e.code) return e.message_id;
  return nullptr;
}

std::vector<std::string_view> documented_event_codes() {
  std::vector<std::string_view> out;
  for (const auto& e : generated::kEventMessageIds) out.emplace_back(e.code);
  return out;
}

int journal_priority(storage::Severity s) {
  switch (s) {
    case storage::Severity::Error: return 3;    // LOG_ERR
    case storage::Severity::Warning: return 4;  // LOG_WARNING
    case storage::Severity::Info: return 6;     // LOG_INFO
  }
  return 6;
}

std::vector<std::string> journal_fields(const storage::EventRecord& e, std::int64_t member_id) {
  std::vector<std::string> f;
  const std::string code(e.code.view());
  f.push_back("MESSAGE=[" + code + "] " + std::string(e.message.view()));
  if (const char* id = event_message_id(code)) f.push_back(std::string("MESSAGE_ID=") + id);
  f.push_back("PRIORITY=" + std::to_string(journal_priority(e.severity)));
  f.push_back("SOLEUS_EVENT=" + code);
  if (e.set_id != 0) f.push_back("SOLEUS_SET_ID=" + std::to_string(e.set_id));
  if (member_id != 0) f.push_back("SOLEUS_MEMBER_ID=" + std::to_string(member_id));
  if (!e.context.view().empty()) f.push_back("SOLEUS_CONTEXT=" + std::string(e.context.view()));
  f.push_back(std::string("SYSLOG_IDENTIFIER=") + program_invocation_short_name);
  return f;
}

bool stderr_is_journal() {
  static const bool is = [] {
    const char* env = std::getenv("JOURNAL_STREAM");  // "DEVICE:INODE" of the stream
    if (!env) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st {};
    if (fstat(2, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
  }();
  return is;
}

int send_to_journal(const std::vector<std::string>& fields) {
  std::vector<iovec> iov(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    iov[i].iov_base = const_cast<char*>(fields[i].data());
    iov[i].iov_len = fields[i].size();
  }
  return sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
}

Journal::Journal(MemberOf member_of, std::size_t capacity, Send send)
    : member_of_(std::move(member_of)),
      send_(send ? std::move(send) : Send(send_to_journal)),
      capacity_(capacity == 0 ? 1 : capacity) {
  thread_ = std::thread([this] { run(); });
}

Journal::~Journal() { stop(); }

bool Journal::post(const storage::EventRecord& e) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    queue_.push_back(e);
    ++posted_;
  }
  wake_.notify_one();
  return true;
}

bool Journal::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = posted_;
  return idle_.wait_for(lock, timeout, [&] { return done_ >= target; });
}

void Journal::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Journal::run() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stopping, and everything was sent
    const storage::EventRecord e = queue_.front();
    queue_.pop_front();
    lock.unlock();
    const std::int64_t member = e.set_id != 0 && member_of_ ? member_of_(e.set_id) : 0;
    // Refused: counted (no journal at all is not refused: libsystemd drops it).
    if (send_(journal_fields(e, member)) >= 0) sent_.fetch_add(1, std::memory_order_relaxed);
    else failed_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    ++done_;
    idle_.notify_all();
  }
}

Journal::MemberOf members_from(const SetBook& book) {
  return [&book](std::int64_t set_id) -> std::int64_t {
    const auto start = book.start_record(set_id);
    return start ? start->member_id : 0;
  };
}

void copy_events_to_journal(storage::Writer& store, Journal& journal) {
  store.on_event([&journal](const storage::EventRecord& e) { journal.post(e); });
}

}  // namespace soleus::app
