// soleusd's fault entry in the journal, end to end: the daemon that ships runs
// a set against soleus-sim inside a private mount namespace whose journal
// socket is socat's (with-journal-socket.sh: CI has no journald); STO is
// injected mid-set, and the entries soleusd sent are read back in the native
// journal protocol (docs/events.md, "In the journal").
#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "e2e.hpp"
#include "soleus/test_support/process.hpp"

using namespace soleus::e2e;
using namespace std::chrono_literals;

namespace {

using Fields = std::map<std::string, std::string>;

// The datagrams as socat appended them: every field "KEY=VALUE\n" (soleusd's
// values hold no newline, so none uses the binary form), each entry starting
// with its MESSAGE field.
std::vector<Fields> read_entries(const std::string& path, std::string& bad) {
  std::ifstream in(path);
  std::vector<Fields> out;
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) {
      bad = line;
      continue;
    }
    const std::string key = line.substr(0, eq);
    if (key == "MESSAGE" || out.empty()) out.emplace_back();
    out.back()[key] = line.substr(eq + 1);
  }
  return out;
}

// A code's MESSAGE_ID as the build generated it from docs/events.md.
std::string generated_id(const std::string& code) {
  std::ifstream in(std::string(SOLEUS_BINARY_DIR) +
                   "/app/generated/soleus/app/event_message_ids.hpp");
  const std::string key = "{\"" + code + "\", \"";
  std::string line;
  while (std::getline(in, line))
    if (auto p = line.find(key); p != std::string::npos) return line.substr(p + key.size(), 32);
  return "<not generated>";
}

std::string field(const Fields& f, const std::string& key) {
  auto it = f.find(key);
  return it == f.end() ? std::string("<missing>") : it->second;
}

}  // namespace

TEST_CASE("soleusd's fault entry in the journal carries its structured fields") {
  if (::geteuid() != 0) {
    std::printf("SKIPPED: not root: the journal socket's mount namespace needs root\n");
    return;
  }
  if (std::system("unshare --mount --propagation private true 2>/dev/null") != 0) {
    std::printf("SKIPPED: no private mount namespace here (unshare refused)\n");
    return;
  }
  soleus::test::TempDir dir;
  const std::string journal = dir.file("journal.bin");
  Scenario s;
  s.sim_args = {"--athlete-style", "tempo", "--tempo", "1.5-0.5-1.5-0.5"};
  s.set_json = R"({"mode":"isotonic","load_n":500,"tempo":"1.5-0.5-1.5-0.5","target_reps":20})";
  s.daemon_prefix = {"bash", std::string(SOLEUS_SOURCE_DIR) + "/tests/e2e/with-journal-socket.sh",
                     journal};
  Live live(s);
  REQUIRE(live.wait_for("rep", 1, 60s));
  live.sim_json(R"({"cmd":"fault","kind":"sto","on":true})");
  Run r = live.finish(30s);
  REQUIRE(r.result);
  REQUIRE(r.has_event("sto"));
  std::int64_t set_id = 0;
  for (const auto& e : r.events)
    if (e.at("code").as_string() == "set_started")
      set_id = e.at("set_id").to_number<std::int64_t>();
  REQUIRE(set_id > 0);

  std::string bad;
  const auto entries = read_entries(journal, bad);
  INFO("entries: ", entries.size(), "; daemon output:\n", r.daemon_output);
  CHECK(bad.empty());
  const Fields* sto = nullptr;
  for (const auto& e : entries)
    if (field(e, "SOLEUS_EVENT") == "sto") sto = &e;
  REQUIRE_MESSAGE(sto, "no journal entry with SOLEUS_EVENT=sto");
  // The id the build generated from docs/events.md for sto (stable: derived
  // from the code's name; tests/app/test_event_ids.cpp checks the table).
  CHECK(field(*sto, "MESSAGE_ID") == generated_id("sto"));
  CHECK(field(*sto, "PRIORITY") == "3");
  CHECK(field(*sto, "SOLEUS_SET_ID") == std::to_string(set_id));
  CHECK(field(*sto, "MESSAGE").rfind("[sto] ", 0) == 0);
  // Every event soleusd logged went to the journal too, each with its id.
  for (const auto& e : r.events) {
    const std::string code(e.at("code").as_string());
    bool found = false;
    for (const auto& j : entries)
      if (field(j, "SOLEUS_EVENT") == code && field(j, "MESSAGE_ID").size() == 32) found = true;
    CHECK_MESSAGE(found, "event ", code, " is not in the journal with a MESSAGE_ID");
  }
}
