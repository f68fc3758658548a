#include "soleus/app/shared_sync.hpp"

#include <boost/json.hpp>

#include <sys/stat.h>
#include <algorithm>
#include <chrono>
#include <deque>
#include <fstream>
#include <set>
#include <stdexcept>

#include "soleus/app/pin_seal.hpp"
#include "soleus/common/log.hpp"
#include "soleus/common/time.hpp"
#include "soleus/fleet/config.hpp"
#include "soleus/fleet/hlc.hpp"
#include "soleus/storage/database.hpp"
#include "soleus/storage/open.hpp"
#include "soleus/storage/schema.hpp"
#include "soleus/storage/shared.hpp"

namespace soleus::app {

namespace json = boost::json;
namespace sh = storage::shared;

namespace {

// (No std::regex: GCC 12's <regex> trips -Wmaybe-uninitialized under the sanitizers.)
bool is_name(const std::string& s) { return fleet::valid_name(s); }
bool is_uid(const std::string& s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}
bool is_kind(const std::string& s) {
  for (const char* k : {"member", "programme", "assignment", "progression", "assessment", "staff"})
    if (s == k) return true;
  return false;
}

bool has_pin(const std::string& kind) { return kind == "member" || kind == "staff"; }

/// The machine that published on `<M>/…`: the broker's ACL lets a machine
/// write only under its own name, so this is who sent it.
std::string publisher(const std::string& topic) { return topic.substr(0, topic.find('/')); }

std::string quoted(const std::string& s) { return json::serialize(json::value(s)); }

class SharedSync final : public fleet::Participant {
 public:
  explicit SharedSync(const SharedSyncConfig& c)
      : cfg_(c), db_(storage::Database::open(c.db_path)) {
    storage::configure_connection(db_);  // WAL, as every connection of the daemon
    storage::migrate(db_);
    sh::set_machine(db_, cfg_.machine);
  }

  std::vector<std::string> subscriptions() const override {
    return {"shared/#", "+/sets", "+/catchup/request", "+/catchup/to/" + cfg_.machine};
  }

  void on_message(const fleet::Message& m) override {
    try {
      if (m.payload.size() > cfg_.max_payload) {
        refuse(m, "payload of " + std::to_string(m.payload.size()) + " bytes is over the limit");
        return;
      }
      if (m.topic.rfind("shared/", 0) == 0) on_record(m);
      else if (m.topic.ends_with("/sets")) on_set_message(m);
      else if (m.topic.ends_with("/catchup/request")) on_request(m);
      else if (m.topic.find("/catchup/to/") != std::string::npos) on_answer(m);
    } catch (const std::exception& e) {
      refuse(m, e.what());
    }
  }

  std::vector<fleet::Message> outgoing(std::size_t max) override {
    std::vector<fleet::Message> out;
    for (const auto& q : queue_) {
      if (out.size() >= max) return out;
      out.push_back(q);
    }
    for (auto& r : sh::pending_records(db_, max - out.size())) out.push_back(record_message(r));
    return out;
  }

  void acknowledged(const fleet::Message& m) override {
    if (m.topic.rfind("shared/", 0) == 0) {
      try {
        const auto v = json::parse(m.payload).as_object();
        const auto hlc = fleet::Hlc::parse(v.at("version").at("hlc").as_string());
        if (hlc)
          sh::mark_published(db_, std::string(v.at("kind").as_string()),
                             std::string(v.at("uid").as_string()),
                             static_cast<std::int64_t>(hlc->packed));
        // A local edit (e.g. a member renumbered) may let a parked record in.
        sh::retry_parked_records(db_, cfg_.set_ids);
      } catch (const std::exception& e) {
        log::warn("fleet: shared: acknowledged message not understood: ", e.what());
      }
      return;
    }
    for (auto it = queue_.begin(); it != queue_.end(); ++it)
      if (it->topic == m.topic && it->payload == m.payload) {
        queue_.erase(it);
        return;
      }
  }

  void on_connected() override {
    asking_.clear();  // answers to requests before the cut may never come
    sh::retry_parked_records(db_, cfg_.set_ids);
    request_catchup(std::nullopt);
  }

 private:
  // A refused message is logged, but at most one line a second: a peer (or
  // anyone the site's ACL lets write shared/...) that floods garbage must not
  // flood the journal. The lines left out are counted in the next one.
  void refuse(const fleet::Message& m, const std::string& why) {
    const auto now = std::chrono::steady_clock::now();
    if (now - last_refusal_log_ < std::chrono::seconds(1)) {
      ++refusals_unlogged_;
      return;
    }
    last_refusal_log_ = now;
    const std::string more = refusals_unlogged_
                                 ? " (and " + std::to_string(refusals_unlogged_) +
                                       " more refused since the last such line, not logged)"
                                 : std::string();
    refusals_unlogged_ = 0;
    log::warn("fleet: shared: refused a message on ", m.topic, " (", m.payload.size(),
              " bytes): ", why, more);
  }

  // ---- records ----------------------------------------------------------------

  fleet::Message record_message(const sh::Record& r) {
    std::string data = r.data;
    if (!r.deleted && has_pin(r.kind)) {
      const auto hash = sh::json_get(db_, data, "$.pin_hash");
      std::optional<std::string> sealed;
      if (hash) {
        sealed = seal_pin_hash(cfg_.pepper, r.uid, *hash);
        if (!sealed)
          log::warn("fleet: shared: ", r.kind, " ", r.uid,
                    ": its PIN hash is not a pbkdf2-sha256 hash; sent without it");
      }
      data = sh::json_put(db_, data, "$.pin_hash", sealed);
    }
    std::string base = "null";
    if (r.base_hlc && r.base_machine)
      base = "{\"hlc\":\"" + fleet::Hlc{static_cast<std::uint64_t>(*r.base_hlc)}.to_string() +
             "\",\"machine\":" + quoted(*r.base_machine) + "}";
    fleet::Message m;
    m.topic = "shared/" + r.kind + "/" + r.uid;
    m.payload = "{\"kind\":\"" + r.kind + "\",\"uid\":\"" + r.uid + "\",\"version\":{\"hlc\":\"" +
                fleet::Hlc{static_cast<std::uint64_t>(r.hlc)}.to_string() +
                "\",\"machine\":" + quoted(r.machine) + "},\"base\":" + base +
                ",\"deleted\":" + (r.deleted ? "true" : "false") +
                ",\"data\":" + (r.deleted ? std::string("{}") : data) + "}";
    m.qos = 1;
    m.retained = true;
    return m;
  }

  void on_record(const fleet::Message& m) {
    if (m.payload.empty()) return;  // a retained message cleared: nothing to apply
    const auto v = json::parse(m.payload).as_object();
    sh::Record r;
    r.kind = std::string(v.at("kind").as_string());
    r.uid = std::string(v.at("uid").as_string());
    if (!is_kind(r.kind)) throw std::runtime_error("unknown kind '" + r.kind + "'");
    if (!is_uid(r.uid)) throw std::runtime_error("malformed uid");
    if (m.topic != "shared/" + r.kind + "/" + r.uid)
      throw std::runtime_error("kind and uid do not match the topic");
    const auto& ver = v.at("version").as_object();
    const auto hlc = fleet::Hlc::parse(ver.at("hlc").as_string());
    r.machine = std::string(ver.at("machine").as_string());
    if (!hlc || !is_name(r.machine)) throw std::runtime_error("malformed version");
    r.hlc = static_cast<std::int64_t>(hlc->packed);
    if (const auto* b = v.if_contains("base"); b && b->is_object()) {
      const auto bh = fleet::Hlc::parse(b->at("hlc").as_string());
      if (!bh) throw std::runtime_error("malformed base version");
      r.base_hlc = static_cast<std::int64_t>(bh->packed);
      r.base_machine = std::string(b->at("machine").as_string());
    }
    r.deleted = v.if_contains("deleted") && v.at("deleted").as_bool();
    if (!v.at("data").is_object()) throw std::runtime_error("data is not an object");
    // The data as SQLite renders it (numbers as sent), so that equal data compare equal.
    r.data = sh::json_get(db_, m.payload, "$.data").value_or("{}");
    if (!r.deleted && has_pin(r.kind)) {
      std::optional<std::string> hash;
      if (const auto sealed = sh::json_get(db_, r.data, "$.pin_hash")) {
        hash = unseal_pin_hash(cfg_.pepper, r.uid, *sealed);
        if (!hash) throw std::runtime_error("malformed sealed PIN hash");
      }
      r.data = sh::json_put(db_, r.data, "$.pin_hash", hash);
    }
    fleet::HlcClock clk(fleet::Hlc{static_cast<std::uint64_t>(sh::clock(db_))});
    const auto after = clk.receive(*hlc, static_cast<std::uint64_t>(common::unix_ms_now()));
    const auto res =
        sh::apply_record(db_, r, static_cast<std::int64_t>(after.packed), cfg_.set_ids);
    if (res.outcome == sh::Outcome::Parked)
      log::info("fleet: shared: ", r.kind, " ", r.uid, " ", res.why);
    else if (res.outcome == sh::Outcome::Refused) refuse(m, res.why);
  }

  // ---- sets ---------------------------------------------------------------------

  // One set envelope {"id": "<M>/set/<n>", "machine", "kind": "set", "t_ms", "data"}.
  /// `sender`: the machine that published it; a set is taken only from its own machine.
  void import_envelope(const json::object& e, const std::string& sender) {
    const std::string id(e.at("id").as_string());
    const std::string machine(e.at("machine").as_string());
    if (machine != sender)
      throw std::runtime_error("a set of machine '" + machine + "' sent by '" + sender + "'");
    const auto slash = id.rfind('/');
    if (id.rfind(machine + "/set/", 0) != 0 || slash == std::string::npos)
      throw std::runtime_error("set id '" + id + "' is not <machine>/set/<n>");
    if (machine == cfg_.machine) return;  // our own
    const std::int64_t n = std::stoll(id.substr(slash + 1));
    const auto res = sh::import_set(db_, machine, n, json::serialize(e.at("data")), cfg_.set_ids);
    if (res.outcome == sh::Outcome::Refused) throw std::runtime_error(res.why);
  }

  // A live set: imported when it carries what an import needs (the member
  // by uid: the catch-up's form), and in any case a sign that the peer has
  // sets after our watermark: a catch-up from that peer (one at a time)
  // fills any gap, whatever the live message held.
  void on_set_message(const fleet::Message& m) {
    const auto e = json::parse(m.payload).as_object();
    const std::string machine(e.at("machine").as_string());
    if (!is_name(machine)) throw std::runtime_error("malformed machine name");
    if (machine == cfg_.machine) return;
    if (machine != publisher(m.topic))
      throw std::runtime_error("a set of machine '" + machine + "' on another machine's topic");
    const auto* data = e.if_contains("data");
    if (data && data->is_object() && data->as_object().contains("member") &&
        data->as_object().contains("set"))
      import_envelope(e, machine);
    if (!asking_.contains(machine)) request_catchup(machine);
  }

  void request_catchup(const std::optional<std::string>& only) {
    json::object since;
    for (const auto& [machine, upto] : sh::peer_watermarks(db_)) since[machine] = upto;
    json::object req{{"from", cfg_.machine}, {"since", since}};
    if (only) {
      req["only"] = *only;
      asking_.insert(*only);
    }
    queue_.push_back(
        fleet::Message{cfg_.machine + "/catchup/request", json::serialize(req), 1, false});
  }

  void on_request(const fleet::Message& m) {
    const auto v = json::parse(m.payload).as_object();
    const std::string from(v.at("from").as_string());
    if (from == cfg_.machine || !is_name(from)) return;
    if (from != publisher(m.topic)) throw std::runtime_error("a request in another's name");
    if (const auto* only = v.if_contains("only"); only && only->as_string() != cfg_.machine) return;
    std::int64_t since = 0;
    if (const auto* s = v.at("since").as_object().if_contains(cfg_.machine))
      since = s->to_number<std::int64_t>();
    const auto ids = sh::own_sets_after(db_, since, cfg_.catchup_batch);
    // Up to catchup_batch sets, and no more than half the largest payload a
    // peer takes (a set with many reps is large): the rest in the next page.
    std::string sets;
    std::int64_t upto = since;
    bool more = ids.size() == cfg_.catchup_batch;
    for (const auto id : ids) {
      if (!sets.empty() && sets.size() > cfg_.max_payload / 2) {
        more = true;
        break;
      }
      upto = id;
      const auto data = sh::set_data(db_, id);
      if (!data) continue;
      if (!sets.empty()) sets += ",";
      sets += "{\"id\":" + quoted(cfg_.machine + "/set/" + std::to_string(id)) +
              ",\"machine\":" + quoted(cfg_.machine) +
              ",\"kind\":\"set\",\"t_ms\":" + std::to_string(common::unix_ms_now()) +
              ",\"data\":" + *data + "}";
    }
    queue_.push_back(
        fleet::Message{cfg_.machine + "/catchup/to/" + from,
                       "{\"from\":" + quoted(cfg_.machine) + ",\"upto\":" + std::to_string(upto) +
                           ",\"more\":" + (more ? "true" : "false") + ",\"sets\":[" + sets + "]}",
                       1, false});
  }

  void on_answer(const fleet::Message& m) {
    const auto v = json::parse(m.payload).as_object();
    const std::string from(v.at("from").as_string());
    if (!is_name(from) || from == cfg_.machine) return;
    if (from != publisher(m.topic)) throw std::runtime_error("an answer in another's name");
    for (const auto& e : v.at("sets").as_array()) import_envelope(e.as_object(), from);
    sh::raise_peer_watermark(db_, from, v.at("upto").to_number<std::int64_t>());
    asking_.erase(from);
    if (v.at("more").as_bool()) request_catchup(from);
  }

  SharedSyncConfig cfg_;
  storage::Database db_;
  std::deque<fleet::Message> queue_;  ///< catch-up requests and answers until acknowledged
  std::set<std::string> asking_;      ///< peers asked for a catch-up, answer not yet here
  std::uint64_t refusals_unlogged_ = 0;
  std::chrono::steady_clock::time_point last_refusal_log_{};
};

}  // namespace

std::unique_ptr<fleet::Participant> make_shared_sync(const SharedSyncConfig& config) {
  if (!is_name(config.machine))
    throw std::invalid_argument("fleet: machine name '" + config.machine + "' is not valid");
  if (config.pepper.size() < 16)
    throw std::invalid_argument("fleet: pin_pepper_file must hold at least 16 bytes");
  return std::make_unique<SharedSync>(config);
}

std::unique_ptr<fleet::Participant> make_shared_sync(const fleet::FleetConfig& cfg,
                                                     const std::string& db_path,
                                                     storage::shared::SetIdSource set_ids) {
  if (cfg.pin_pepper_file.empty())
    throw std::invalid_argument(
        "fleet: the shared records need pin_pepper_file in [fleet] (the site's secret that "
        "seals PIN hashes, the same file on every machine of the site)");
  SharedSyncConfig c;
  c.db_path = db_path;
  c.machine = cfg.machine;
  c.pepper = read_pin_pepper(cfg.pin_pepper_file);
  c.set_ids = std::move(set_ids);
  return make_shared_sync(c);
}

std::string read_pin_pepper(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::invalid_argument("fleet: pin_pepper_file " + path + " cannot be read");
  if ((st.st_mode & 0077) != 0)
    throw std::invalid_argument("fleet: pin_pepper_file " + path +
                                " is readable by group or others (chmod 600)");
  std::ifstream in(path, std::ios::binary);
  std::string pepper((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!pepper.empty() && (pepper.back() == '\n' || pepper.back() == '\r')) pepper.pop_back();
  if (!in.good() && !in.eof())
    throw std::invalid_argument("fleet: pin_pepper_file " + path + " cannot be read");
  if (pepper.size() < 16)
    throw std::invalid_argument(
        "fleet: pin_pepper_file " + path +
        " must hold at least 16 bytes (e.g. head -c 32 /dev/urandom | base64)");
  return pepper;
}

}  // namespace soleus::app
