// Every event code soleusd can log is documented in docs/events.md and so has
// a journal MESSAGE_ID and a catalog entry (both generated from that file at
// build time): adding a code without documenting it fails here.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "soleus/app/backend.hpp"  // app::codes
#include "soleus/app/journal.hpp"
#include "soleus/controller/types.hpp"
#include "soleus/storage/records.hpp"

using namespace soleus;

namespace {

// Every EventCode the controller has: to_string names each one and answers
// "?" past the last (the enum is dense from 0).
std::vector<std::string> controller_codes() {
  std::vector<std::string> out;
  for (int i = 0; i < 1000; ++i) {
    const std::string s = controller::to_string(static_cast<controller::EventCode>(i));
    if (s == "?") break;
    out.push_back(s);
  }
  return out;
}

bool is_message_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

TEST_CASE("every controller event code has a MESSAGE_ID") {
  const auto codes = controller_codes();
  CHECK(codes.size() >= 38);  // the enum's size when this test was written
  for (const auto& c : codes) {
    INFO("controller code ", c, " is not in docs/events.md");
    CHECK(app::event_message_id(c) != nullptr);
  }
}

TEST_CASE("every daemon and store event code has a MESSAGE_ID") {
  for (std::string_view c :
       {storage::codes::kStorageOpened, storage::codes::kStorageMigrated,
        storage::codes::kStorageCorrupt, storage::codes::kStorageFault,
        storage::codes::kStorageRecovered, storage::codes::kStorageQueueOverflow,
        storage::codes::kStorageRecordsLost, storage::codes::kStorageRecordRejected,
        storage::codes::kStorageTracesDropped, storage::codes::kStorageRetention,
        storage::codes::kSetInterrupted, std::string_view(app::codes::kSpanCalibrated),
        std::string_view(app::codes::kRangeCheckOk),
        std::string_view(app::codes::kRangeCheckFailed)}) {
    INFO("code ", c, " is not in docs/events.md");
    CHECK(app::event_message_id(c) != nullptr);
  }
}

TEST_CASE("MESSAGE_IDs are 128-bit lowercase hex, one per code, and stable") {
  const auto codes = app::documented_event_codes();
  std::set<std::string_view> ids, names;
  for (auto c : codes) {
    const char* id = app::event_message_id(c);
    REQUIRE(id);
    CHECK(is_message_id(id));
    CHECK(ids.insert(id).second);
    CHECK(names.insert(c).second);
  }
  CHECK(app::event_message_id("no_such_code") == nullptr);
  // Derived from the code's name alone: these never change (journalctl
  // MESSAGE_ID=... filters, the catalog) while the code does not.
  CHECK(std::string(app::event_message_id("over_force")) == "8313f3be4f415918b14b9b3270d7ac9d");
  CHECK(std::string(app::event_message_id("boot")) == "29220c4738345763bd53cd42e9edc5cb");
}

TEST_CASE("an event's journal fields") {
  storage::EventRecord e;
  e.severity = storage::Severity::Warning;
  e.code.assign("range_check_failed");
  e.message.assign("range check failed: stuck at 40 mm");
  e.context.assign(R"({"why":"stuck"})");
  const auto f = app::journal_fields(e, 0);
  const std::set<std::string> got(f.begin(), f.end());
  CHECK(got.count("MESSAGE=[range_check_failed] range check failed: stuck at 40 mm") == 1);
  CHECK(got.count(std::string("MESSAGE_ID=") + app::event_message_id("range_check_failed")) == 1);
  CHECK(got.count("PRIORITY=4") == 1);
  CHECK(got.count("SOLEUS_EVENT=range_check_failed") == 1);
  CHECK(got.count(R"(SOLEUS_CONTEXT={"why":"stuck"})") == 1);
  for (const auto& s : f) {
    CHECK(s.rfind("SOLEUS_SET_ID=", 0) != 0);  // not about a set
    CHECK(s.rfind("SOLEUS_MEMBER_ID=", 0) != 0);
  }
  CHECK(app::journal_priority(storage::Severity::Info) == 6);
  CHECK(app::journal_priority(storage::Severity::Warning) == 4);
  CHECK(app::journal_priority(storage::Severity::Error) == 3);
}

// soleusd writes its events only as journal entries when its stderr is the
// journal's stream (systemd names it in JOURNAL_STREAM, "device:inode"). Each
// case runs in its own process under CTest (the answer is read once).
TEST_CASE("stderr is the journal when JOURNAL_STREAM names it") {
  struct stat st {};
  REQUIRE(::fstat(2, &st) == 0);
  const std::string v = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  ::setenv("JOURNAL_STREAM", v.c_str(), 1);
  CHECK(app::stderr_is_journal());
}

TEST_CASE("stderr is not the journal when JOURNAL_STREAM names another file") {
  struct stat st {};
  REQUIRE(::fstat(2, &st) == 0);
  const std::string v = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino + 1);
  ::setenv("JOURNAL_STREAM", v.c_str(), 1);
  CHECK_FALSE(app::stderr_is_journal());
}
