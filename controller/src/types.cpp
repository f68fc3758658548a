#include "soleus/controller/types.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "soleus/common/tempo.hpp"

namespace soleus::controller {

const char* to_string(SetState s) {
  switch (s) {
    case SetState::Idle: return "idle";
    case SetState::Ready: return "ready";
    case SetState::Calibrating: return "calibrating";
    case SetState::Active: return "active";
    case SetState::Unloading: return "unloading";
    case SetState::Rest: return "rest";
    case SetState::Fault: return "fault";
    case SetState::Estop: return "estop";
  }
  return "?";
}

const char* to_string(StopReason r) {
  switch (r) {
    case StopReason::None: return "none";
    case StopReason::TargetReached: return "target_reached";
    case StopReason::HoldComplete: return "hold_complete";
    case StopReason::ForceDrop: return "force_drop";
    case StopReason::RangeLoss: return "range_loss";
    case StopReason::PaceLoss: return "pace_loss";
    case StopReason::Stall: return "stall";
    case StopReason::LossOfControl: return "loss_of_control";
    case StopReason::UserStop: return "user_stop";
    case StopReason::Pain: return "pain";
    case StopReason::UserLeft: return "user_left";
    case StopReason::Estop: return "estop";
    case StopReason::DriveFault: return "drive_fault";
    case StopReason::CommLoss: return "comm_loss";
    case StopReason::SensorFault: return "sensor_fault";
    case StopReason::Overspeed: return "overspeed";
    case StopReason::TravelLimit: return "travel_limit";
    case StopReason::StorageFault: return "storage_fault";
    case StopReason::Shutdown: return "shutdown";
  }
  return "?";
}

const char* to_string(Mode m) {
  switch (m) {
    case Mode::Isotonic: return "isotonic";
    case Mode::Eccentric: return "eccentric";
    case Mode::Isometric: return "isometric";
  }
  return "?";
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::None: return "none";
    case Phase::Concentric: return "concentric";
    case Phase::TopPause: return "top";
    case Phase::Eccentric: return "eccentric";
    case Phase::BottomPause: return "bottom";
    case Phase::Hold: return "hold";
  }
  return "?";
}

bool parse_mode(std::string_view text, Mode& out) {
  for (Mode m : {Mode::Isotonic, Mode::Eccentric, Mode::Isometric}) {
    if (text == to_string(m)) {
      out = m;
      return true;
    }
  }
  return false;
}

bool parse_stop_reason(std::string_view text, StopReason& out) {
  for (int i = 0; i <= static_cast<int>(StopReason::Shutdown); ++i) {
    auto r = static_cast<StopReason>(i);
    if (text == to_string(r)) {
      out = r;
      return true;
    }
  }
  return false;
}

bool is_immediate(StopReason r) { return r == StopReason::Estop || r == StopReason::DriveFault; }

std::optional<Tempo> Tempo::parse(std::string_view text) {
  const auto r = common::parse_tempo(text);
  if (!r) return std::nullopt;
  return Tempo{r.seconds.eccentric_s, r.seconds.bottom_s, r.seconds.concentric_s, r.seconds.top_s};
}

std::string Tempo::to_string() const {
  std::ostringstream os;
  os << eccentric_s << '-' << bottom_s << '-' << concentric_s << '-' << top_s;
  return os.str();
}

const char* to_string(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "?";
}

const char* to_string(EventCode c) {
  switch (c) {
    case EventCode::Boot: return "boot";
    case EventCode::Armed: return "armed";
    case EventCode::ArmFailed: return "arm_failed";
    case EventCode::Reset: return "reset";
    case EventCode::ResetRefused: return "reset_refused";
    case EventCode::SetStarted: return "set_started";
    case EventCode::SetRefused: return "set_refused";
    case EventCode::Calibrated: return "calibrated";
    case EventCode::CalibrationRetry: return "calibration_retry";
    case EventCode::StopRequested: return "stop_requested";
    case EventCode::SetEnded: return "set_ended";
    case EventCode::Unloaded: return "unloaded";
    case EventCode::Sto: return "sto";
    case EventCode::DriveFault: return "drive_fault";
    case EventCode::CommLoss: return "comm_loss";
    case EventCode::CommGlitch: return "comm_glitch";
    case EventCode::StaleLoadCell: return "stale_load_cell";
    case EventCode::AdcError: return "adc_error";
    case EventCode::Overload: return "load_cell_overload";
    case EventCode::Implausible: return "implausible_reading";
    case EventCode::Overspeed: return "overspeed";
    case EventCode::TravelLimit: return "travel_limit";
    case EventCode::CrossCheck: return "sensor_cross_check";
    case EventCode::UserLeft: return "user_left";
    case EventCode::Tared: return "tared";
    case EventCode::TareFailed: return "tare_failed";
    case EventCode::CommandRefused: return "command_refused";
    case EventCode::MoveStarted: return "move_started";
    case EventCode::MoveEnded: return "move_ended";
    case EventCode::QueueOverflow: return "queue_overflow";
    case EventCode::Overrun: return "loop_overrun";
    case EventCode::Disarmed: return "disarmed";
    case EventCode::SensorRecovered: return "sensor_recovered";
    case EventCode::OverForce: return "over_force";
    case EventCode::InternalError: return "internal_error";
    case EventCode::FloorCatch: return "floor_catch";
    case EventCode::ProcedureStarted: return "procedure_started";
    case EventCode::ProcedureEnded: return "procedure_ended";
    case EventCode::StoredRange: return "stored_range";
  }
  return "?";
}

const char* to_string(RangeNote n) {
  switch (n) {
    case RangeNote::None: return "";
    case RangeNote::Checking: return "checking";
    case RangeNote::Confirmed: return "confirmed";
    case RangeNote::NoStoredRange: return "no_stored_range";
    case RangeNote::Stale: return "stale";
    case RangeNote::OutsideLimits: return "outside_limits";
    case RangeNote::NotConfirmed: return "not_confirmed";
  }
  return "";
}

void Event::set_text(std::string_view s) {
  std::size_t n = std::min(s.size(), text.size() - 1);
  std::memcpy(text.data(), s.data(), n);
  text[n] = '\0';
}

std::string_view Event::text_view() const { return std::string_view(text.data()); }

}  // namespace soleus::controller
