#include <boost/json.hpp>

#include <string>

#include "api_internal.hpp"

// A programme's fields and steps, for POST and PUT /programmes (the routes
// themselves are Api::Impl::crud, in api_members.cpp).

namespace soleus::hmi {
using namespace detail;

json::object Api::Impl::read_programme(const json::object& body, bool create) {
  Fields f(body);
  json::object out;
  if (auto name = f.string("name", 1, 64)) out["name"] = *name;
  if (auto d = f.string("description", 0, 500)) out["description"] = *d;
  if (auto n = f.integer("sessions_per_week", 1, 14)) out["sessions_per_week"] = *n;
  if (auto n = f.integer("block_weeks", 1, 52)) out["block_weeks"] = *n;
  if (auto n = f.integer("after_block_sessions_per_week", 1, 14))
    out["after_block_sessions_per_week"] = *n;
  // The block's frequency (issue 13): every other day, the articles' default
  // for a new programme with a block; else sessions_per_week.
  if (auto b = f.boolean("block_every_other_day")) out["block_every_other_day"] = *b;
  else if (create && out.contains("block_weeks")) out["block_every_other_day"] = true;
  if (const json::value* steps = f.raw("steps"); steps && !steps->is_null()) {
    if (!steps->is_array())
      fail(400, "steps", std::string("must be an array, not ") + kind_name(*steps));
    const json::array& a = steps->get_array();
    if (a.empty() || a.size() > 20) fail(422, "steps", "a programme has 1 to 20 steps");
    json::array norm;
    for (std::size_t i = 0; i < a.size(); ++i) {
      const std::string prefix = "steps[" + std::to_string(i) + "].";
      if (!a[i].is_object()) fail(400, prefix.substr(0, prefix.size() - 1), "must be an object");
      // A step with a rep range starts at its bottom: target_reps may be left out.
      json::object src = a[i].get_object();
      const bool isometric = src.contains("mode") && src.at("mode") == "isometric";
      if (!isometric && !src.contains("target_reps") && src.contains("rep_min") &&
          src.at("rep_min").is_int64())
        src["target_reps"] = src.at("rep_min");
      if (const auto pv = src.find("progression");
          pv != src.end() && pv->value().is_object() && pv->value().as_object().contains("rule") &&
          pv->value().at("rule") == "double" && !src.contains("rep_min"))
        fail(422, prefix + "rep_min", "double progression needs a rep range (rep_min, rep_max)");
      Fields sf(src, prefix);
      json::object step;
      const Prescription p = read_prescription(sf);
      write_prescription(p, step);
      step["sets"] = *[&] {
        auto v = sf.integer("sets", 1, 10);
        if (!v) fail(422, sf.name("sets"), "is required (1–10)");
        return v;
      }();
      const bool has_n = sf.present("load_n");
      const bool has_pct = sf.present("load_pct");
      if (has_n == has_pct)
        fail(422, sf.name("load_n"), "give exactly one of load_n and load_pct (% of assessed max)");
      if (has_n) step["load_n"] = *sf.number("load_n", 1, config.max_load_n);
      else step["load_pct"] = *sf.number("load_pct", 1, 150);
      sf.raw("load_n");
      sf.raw("load_pct");
      step["rest_s"] = sf.number("rest_s", 90, 0, 600);
      const auto rep_min = sf.integer("rep_min", 1, 100);
      const auto rep_max = sf.integer("rep_max", 1, 100);
      if (rep_min.has_value() != rep_max.has_value())
        fail(422, sf.name(rep_min ? "rep_max" : "rep_min"),
             "a rep range needs rep_min and rep_max");
      if (rep_min) {
        if (p.mode == "isometric")
          fail(422, sf.name("rep_min"), "an isometric step has no rep range (it holds)");
        if (*rep_max < *rep_min) fail(422, sf.name("rep_max"), "must be at least rep_min");
        if (p.target_reps && (*p.target_reps < *rep_min || *p.target_reps > *rep_max))
          fail(422, sf.name("target_reps"), "must lie within rep_min–rep_max");
        step["rep_min"] = *rep_min;
        step["rep_max"] = *rep_max;
      }
      json::object prog{{"rule", "none"}, {"amount", 0}, {"on_tempo", false}};
      if (const json::value* pv = sf.raw("progression"); pv && !pv->is_null()) {
        if (!pv->is_object()) fail(400, sf.name("progression"), "must be an object");
        Fields pf(pv->get_object(), prefix + "progression.");
        auto rule = pf.choice("rule", {"none", "load_n", "load_pct", "reps", "hold_s", "double"});
        if (!rule)
          fail(422, pf.name("rule"), "is required: none, load_n, load_pct, reps, hold_s or double");
        auto amount = pf.number("amount", 0.1, 1000);
        const bool on_tempo = pf.boolean("on_tempo").value_or(false);
        auto increment = pf.choice("increment", {"load_n", "load_pct"});
        pf.finish();
        if (*rule != "none" && !amount) fail(422, pf.name("amount"), "is required with a rule");
        if (*rule == "double") {
          if (!rep_min)
            fail(422, sf.name("rep_min"),
                 "double progression needs a rep range (rep_min, rep_max)");
          if (!increment)
            fail(422, pf.name("increment"),
                 "double progression needs the load increment's kind: load_n or load_pct");
          if (*increment == "load_pct" && !has_pct)
            fail(422, pf.name("increment"),
                 "a load_pct increment needs a step load given as load_pct");
          prog["increment"] = *increment;
        } else if (increment) {
          fail(422, pf.name("increment"), "only the double rule takes an increment");
        }
        if (*rule == "reps" && p.mode == "isometric")
          fail(422, pf.name("rule"), "an isometric step progresses by hold_s, not reps");
        if (*rule == "hold_s" && p.mode != "isometric")
          fail(422, pf.name("rule"), "only an isometric step progresses by hold_s");
        if (*rule == "load_pct" && !has_pct)
          fail(422, pf.name("rule"), "load_pct progression needs a step load given as load_pct");
        prog["rule"] = *rule;
        prog["amount"] = amount.value_or(0);
        prog["on_tempo"] = on_tempo;
      }
      step["progression"] = std::move(prog);
      sf.finish();
      norm.push_back(std::move(step));
    }
    out["steps"] = std::move(norm);
  }
  f.finish();
  if (create) {
    if (!out.contains("name")) fail(422, "name", "is required");
    if (!out.contains("steps")) fail(422, "steps", "is required");
  } else if (out.empty()) {
    fail(422, "", "nothing to update");
  }
  return out;
}

}  // namespace soleus::hmi
