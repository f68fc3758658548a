#pragma once
/// JSON form of the athlete's traits (the control channel's "traits" object,
/// soleus-sim's --athlete '{"traits":{…}}' and --trait KEY=VALUE).
/// Keys are the AthleteTraits field names; enums by their names
/// (effort track|follow|push_hard|grind, fatigue none|gradual|sudden|
/// range_first|half_then_full|fail_mid_rise, fail_mode stall|sink, leave
/// none|mid_rise|mid_lowering|at_top|at_bottom|stand_up|sit_back,
/// mid_rest_where top|bottom). "enabled" defaults to true once any other
/// key is given in a request that does not mention it.
#include <boost/json.hpp>
#include <string>

#include "soleus/sim/athlete.hpp"

namespace soleus::sim {

/// Every trait as a JSON object.
boost::json::object traits_json(const AthleteTraits& t);
/// Applies the keys of `o` to `t` (others unchanged). Throws
/// std::invalid_argument naming a bad key or value; `t` is then unchanged.
void apply_traits_json(const boost::json::object& o, AthleteTraits& t);
/// Every athlete setting in the form the control channel's `athlete` command
/// and soleus-sim's --athlete take (tempo as "E-B-C-T", style by name, the
/// traits object), so a proving-ground case can be replayed with
/// `soleus-sim --athlete '<this>'`. Applying it reproduces the settings.
boost::json::object athlete_request_json(const AthleteSettings& s);
/// "KEY=VALUE" → one JSON member (number, true/false, or a string), for --trait.
/// Throws std::invalid_argument when there is no '='.
std::pair<std::string, boost::json::value> trait_assignment(const std::string& text);

}  // namespace soleus::sim
