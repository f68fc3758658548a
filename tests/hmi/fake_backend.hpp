#pragma once
// An in-memory Backend for the HMI server's tests: a pretend machine whose
// state the test sets, and records of every call that reached it (so that a
// test can prove an invalid request never did).
#include <atomic>
#include <map>
#include <mutex>

#include <boost/json.hpp>
#include <ranges>

#include "soleus/hmi/backend.hpp"

namespace soleus::hmi::test {

class FakeBackend : public Backend {
 public:
  std::mutex mutex;
  StatusView status_view;
  std::optional<LiveFrame> frame;
  std::atomic<int> stop_calls{0};
  std::atomic<int> start_calls{0};
  std::optional<StopCause> last_stop;
  std::optional<SetRequest> last_start;
  std::map<std::int64_t, SetView> sets;
  std::int64_t next_set_id = 1;
  std::map<std::string, MemberCredential> credentials;  ///< by member number
  std::map<std::int64_t, boost::json::object> members, programmes;
  std::int64_t next_id = 100;
  std::vector<EventView> event_log;
  std::optional<EventQuery> last_query;
  std::optional<MaintenanceAction> last_maintenance;
  boost::json::object last_args;
  std::optional<std::pair<std::int64_t, SessionAction>> last_session;
  std::atomic<int> calls{0};                      ///< every call except status/latest_frame
  std::map<std::int64_t, StaffCredential> staff;  ///< named staff accounts by id
  std::vector<Caller> audited_callers;            ///< current_caller() at each staff change

  std::optional<StaffCredential> staff_credential(std::int64_t id) override {
    std::lock_guard l(mutex);
    ++calls;
    auto it = staff.find(id);
    if (it == staff.end()) return std::nullopt;
    return it->second;
  }
  Result staff_list() override {
    std::lock_guard l(mutex);
    ++calls;
    boost::json::array a;
    for (const auto& [id, s] : staff)
      a.push_back(boost::json::object{
          {"id", id}, {"name", s.name}, {"admin", s.admin}, {"active", s.active}});
    return Result::ok(std::move(a));
  }
  Result staff_update(std::int64_t id, const boost::json::object& f) override {
    std::lock_guard l(mutex);
    ++calls;
    audited_callers.push_back(current_caller());
    auto it = staff.find(id);
    if (it == staff.end()) return Result::not_found("no such account");
    if (auto a = f.find("active"); a != f.end()) it->second.active = a->value().as_bool();
    if (auto h = f.find("pin_hash"); h != f.end())
      it->second.pin_hash = std::string(h->value().as_string());
    return Result::ok();
  }

  StatusView status() override {
    std::lock_guard l(mutex);
    return status_view;
  }
  std::optional<LiveFrame> latest_frame() override {
    std::lock_guard l(mutex);
    return frame;
  }
  bool stop_current(StopCause cause) override {
    std::lock_guard l(mutex);
    ++calls;
    ++stop_calls;
    last_stop = cause;
    if (!status_view.set_id) return false;
    sets[*status_view.set_id].state = "done";
    sets[*status_view.set_id].stop_reason = cause == StopCause::Pain ? "pain" : "user_stop";
    status_view.set_id.reset();
    status_view.state = "rest";
    return true;
  }
  Result start_set(const SetRequest& r) override {
    std::lock_guard l(mutex);
    ++calls;
    ++start_calls;
    last_start = r;
    if (status_view.state == "fault" || status_view.state == "estop")
      return Result::conflict("a " + status_view.state + " is latched: reset it first");
    if (status_view.set_id) return Result::conflict("a set is running");
    SetView v;
    v.id = next_set_id++;
    v.state = "calibrating";
    v.mode = r.mode;
    v.load_n = r.load_n;
    v.tempo = r.tempo;
    v.member_id = r.member_id;
    v.target_reps = r.target_reps;
    v.hold_s = r.hold_s;
    sets[v.id] = v;
    status_view.set_id = v.id;
    status_view.state = "calibrating";
    return Result::created(v.id);
  }
  std::optional<SetView> get_set(std::int64_t id) override {
    std::lock_guard l(mutex);
    ++calls;
    auto it = sets.find(id);
    if (it == sets.end()) return std::nullopt;
    return it->second;
  }
  EventPage events(const EventQuery& q) override {
    std::lock_guard l(mutex);
    ++calls;
    last_query = q;
    EventPage p;
    for (auto& it : std::ranges::reverse_view(event_log))
      if (static_cast<int>(p.events.size()) < q.limit) p.events.push_back(it);
    return p;
  }
  std::map<std::int64_t, boost::json::object>& coll(Collection c) {
    return c == Collection::Members ? members : programmes;
  }
  Result list(Collection c) override {
    std::lock_guard l(mutex);
    ++calls;
    boost::json::array a;
    for (auto& [id, o] : coll(c)) {
      auto x = o;
      x["id"] = id;
      a.push_back(x);
    }
    return Result::ok(a);
  }
  Result get(Collection c, std::int64_t id) override {
    std::lock_guard l(mutex);
    ++calls;
    auto it = coll(c).find(id);
    if (it == coll(c).end()) return Result::not_found("no such id");
    auto x = it->second;
    x["id"] = id;
    return Result::ok(x);
  }
  Result create(Collection c, const boost::json::object& f) override {
    std::lock_guard l(mutex);
    ++calls;
    if (c == Collection::Members) {
      const std::string number(f.at("number").as_string());
      if (credentials.count(number)) return Result::conflict("member number taken", "number");
      const std::int64_t id = next_id++;
      credentials[number] = {
          id, f.contains("pin_hash") ? std::string(f.at("pin_hash").as_string()) : ""};
      members[id] = f;
      return Result::created(id);
    }
    const std::int64_t id = next_id++;
    programmes[id] = f;
    return Result::created(id);
  }
  Result update(Collection c, std::int64_t id, const boost::json::object& f) override {
    std::lock_guard l(mutex);
    ++calls;
    auto it = coll(c).find(id);
    if (it == coll(c).end()) return Result::not_found("no such id");
    for (auto& kv : f) it->second[kv.key()] = kv.value();
    return Result::ok();
  }
  Result remove(Collection c, std::int64_t id) override {
    std::lock_guard l(mutex);
    ++calls;
    return coll(c).erase(id) ? Result::ok() : Result::not_found("no such id");
  }
  Result assign_programme(std::int64_t member_id, std::optional<std::int64_t> pid) override {
    std::lock_guard l(mutex);
    ++calls;
    auto it = members.find(member_id);
    if (it == members.end()) return Result::not_found("no such member");
    if (pid && !programmes.count(*pid)) return Result::invalid("programme_id", "no such programme");
    it->second["programme_id"] = pid ? boost::json::value(*pid) : boost::json::value(nullptr);
    return Result::ok();
  }
  Result member_history(std::int64_t, int) override {
    ++calls;
    return Result::ok(boost::json::array{});
  }
  Result member_schedule(std::int64_t) override {
    ++calls;
    return Result::ok(to_json(ScheduleView{}));
  }
  Result member_progression(std::int64_t, int) override {
    ++calls;
    return Result::ok(boost::json::array{});
  }
  Result set_trace(std::int64_t id) override {
    ++calls;
    return Result::ok(boost::json::object{{"set_id", id}, {"reps", boost::json::array{}}});
  }
  Result member_stop_events(std::int64_t) override {
    ++calls;
    return Result::ok(boost::json::object{{"events", boost::json::array{}}});
  }
  std::optional<MemberCredential> member_credential(const std::string& number) override {
    std::lock_guard l(mutex);
    ++calls;
    auto it = credentials.find(number);
    if (it == credentials.end()) return std::nullopt;
    return it->second;
  }
  Result assessment(std::int64_t member_id, AssessmentAction) override {
    std::lock_guard l(mutex);
    ++calls;
    return Result::ok(boost::json::object{{"member_id", member_id}, {"step", "none"}});
  }
  Result member_assessments(std::int64_t) override {
    ++calls;
    return Result::ok(boost::json::object{{"assessments", boost::json::array{}}});
  }
  Result assign_assessment(std::int64_t member_id, bool assign) override {
    ++calls;
    return Result::ok(boost::json::object{{"member_id", member_id}, {"assigned", assign}});
  }
  Result session(std::int64_t member_id, SessionAction a) override {
    std::lock_guard l(mutex);
    ++calls;
    last_session = {member_id, a};
    if (a == SessionAction::NextSet) return Result::created(next_set_id++);
    return Result::ok(boost::json::object{{"step", nullptr}});
  }
  Result maintenance(MaintenanceAction a, const boost::json::object& args) override {
    std::lock_guard l(mutex);
    ++calls;
    last_maintenance = a;
    last_args = args;
    return Result::ok();
  }
  boost::json::value diagnostics() override {
    ++calls;
    return boost::json::object{{"bus", boost::json::object{{"transactions", 10}}}};
  }
};

}  // namespace soleus::hmi::test
