#pragma once
/// The fault campaign (issue 10, section 4): complete sets on synthetic time
/// through the real controller stack and soleus-sim's models, each with a
/// random athlete, a random programme and 1 to 20 random faults at random
/// moments; an operator who resets and presses Start again as a person would.
/// Every set is judged from the models' truth only (never the controller's
/// belief) for the unsafe outcomes:
///  - force: the machine's force above max load + pad + 50 N (the supply's
///    ripple allowed), or the controller's command above the maximum;
///  - speed: the pad descending faster than the speed limit + 10 %;
///  - armed: the drive enabled with its watchdog off or caps above the armed;
///  - no_start: the drive enabled with no Start since the last stop;
///  - quick_stop: the drive still enabled 200 ms after a fault that takes
///    QUICK_STOP was reported;
///  - unload: the force rising during the (first) controlled unload.
/// Each case is drawn from its seed alone and replays exactly.
#include <cstdint>
#include <string>
#include <vector>

#include "soleus/proving/judges.hpp"
#include "soleus/proving/world.hpp"

namespace soleus::proving {

/// One seed's campaign case: a population case plus its faults.
Case draw_campaign_case(std::uint64_t seed);

/// Number of injections of a case (a fault that starts and ends counts once).
int injections(const Case& c);

struct CampaignVerdict {
  Verdict force, speed, armed, no_start, quick_stop, unload, end_of_range;
  bool unsafe() const {
    return !force.ok || !speed.ok || !armed.ok || !no_start.ok || !quick_stop.ok || !unload.ok ||
           !end_of_range.ok;
  }
  std::string why() const;
};

/// The drive enabled outside every window [Start, result + the unload's
/// time]: torque with no Start since the last stop.
Verdict judge_no_start(const Outcome& o, double unload_allow_s = 2.5);
/// For every fault event that takes QUICK_STOP (or category 0), reported
/// while the drive was enabled: the drive disabled within `within_s`.
Verdict judge_quick_stop(const Outcome& o, double within_s = 0.2);

CampaignVerdict judge_campaign(const Outcome& o);

}  // namespace soleus::proving
