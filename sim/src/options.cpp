#include "soleus/sim/options.hpp"

#include <stdexcept>

#include "soleus/sim/athlete_json.hpp"

namespace soleus::sim {

namespace json = boost::json;

std::string usage() {
  return R"(usage: soleus-sim --config FILE [options]
       soleus-sim --ctl PORT '<json>'

The simulated reference machine: servo drive (unit 1), load-cell transmitter
(unit 2), knee-pad mechanics and a virtual athlete, behind Modbus TCP and/or
Modbus RTU. The register map comes from FILE (the daemon's machine TOML).

Endpoints (one line each is printed on stdout when ready):
  --config FILE          machine configuration (required); only [transport],
                         [units], [drive], [load_cell], [mechanics], [limits] are read
  --tcp [HOST:]PORT      Modbus TCP server (port 0 = choose a free one; host
                         defaults to 127.0.0.1). Without --tcp and --rtu, a tcp
                         [transport] of FILE gives host and port.
  --rtu PATH             Modbus RTU on a serial device, e.g. one end of
                         socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B
  --baud N               RTU baud rate and wire-time baud (default: the config's, else 115200)
  --parity N|E|O         RTU parity (default: the config's); 8 data bits, 1 stop bit
  --wire-time            delay each reply by its RS-485 time at --baud
                         ((request + reply bytes) x 11 bits + 2 x t3.5 + 0.5 ms),
                         one transaction at a time; on either transport
  --control-port PORT    JSON control channel on 127.0.0.1 (0 = choose)
  --ctl PORT JSON        send one control request to a running simulator, print
                         the reply; exit 0 when it says "ok": true

Athlete (see docs/simulator.md; also settable at run time):
  --athlete-style S      tempo | push_hard | half_range | bounce | let_go |
                         shrinking_range | relax | isometric | assessment
                         (default tempo)
  --capacity-n N         greatest force it pushes with, N (default 1500)
  --fatigue-rate R       fraction of current capacity lost per rep (default 0)
  --tempo E-B-C-T        eccentric, bottom pause, concentric, top pause, s (default 3-1-3-1)
  --bottom-mm X          pad height with the heels lowest (default 30)
  --top-mm X             highest pad height the calves reach (default 130)
  --after-reps N         let_go / relax: reps before letting go / relaxing;
                         assessment: warm-up reps before the pushes (default 3)
  --half-range-fraction F  half_range: range of the reps after the first (default 0.5)
  --shrink-per-rep F     shrinking_range: range lost per rep (default 0.05)
  --iso-fraction F       isometric, assessment: fraction of capacity pushed (default 0.7)
  --noise-n N            rms force noise (default 3)
  --wobble-n N           force oscillation amplitude (default 0)
  --wobble-hz F          force oscillation frequency (default 4)
  --start-delay-s S      load on this long before the first rep (default 0.5)
  --start-load-n N       motor force that counts as load on (default 5)
  --athlete JSON         any athlete settings as a JSON object, e.g.
                         '{"capacity_n":900,"traits":{"effort":"follow","reaction_s":2}}'
  --trait KEY=VALUE      one athlete trait (repeatable; turns the trait model on
                         unless enabled=false is given), e.g. --trait effort=grind
                         --trait tissue_mm=8 --trait leave=sit_back --trait leave_rep=4.
                         Keys: enabled reaction_s first_bottom_pause effort
                         follow_surplus_n tempo_scale tempo_jitter pause_scale
                         mid_rest_p mid_rest_where mid_rest_min_s mid_rest_max_s
                         range_jitter tissue_mm fatigue fail_rep sudden_factor
                         half_reps fail_mode collapse_fraction tremor_n tremor_hz tremor_growth
                         sticking_fraction sticking_depth drop_p leave leave_rep
                         sit_back_after_s (docs/simulator.md, "Athlete traits")
  --seed N               random seed (athlete and noise; default 1)

Machine noise (also at run time: {"cmd":"noise",...}):
  --cell-noise-n N       load-cell rms noise per sample, N (default 0.4)
  --cell-drift-n-per-s R load-cell zero drift, rate within ±R N/s (default 0; ICD ≤ 0.5)
  --cell-drift-max-n N   bound of that drift, N (default 10)
  --ripple-v V           drive supply ripple amplitude, V at 100 Hz (default 0)

Faults (repeatable; also at run time through the control channel):
  --fault sto | drive_fault:CODE | cell_freeze | cell_value_freeze |
          adc_error | overload | nan_force | drop:P | outage:SECONDS |
          bad_crc:N | wrong_unit:N | wrong_tid:N | exception:N
          (the odd replies also at a rate: bad_crc:p=P etc., P 0..1 per reply)

Other:
  --log-level L          error | warning | notice | info | debug (default info)
  --help                 this text
  --version              print the program's name and version and exit

See also: man 1 soleus-sim, /usr/share/doc/soleus/simulator.md
)";
}

void split_host_port(const std::string& text, std::string& host, int& port) {
  std::string p = text;
  host = "127.0.0.1";
  if (auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (host.empty()) host = "127.0.0.1";
  }
  std::size_t used = 0;
  int v = -1;
  try {
    v = std::stoi(p, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != p.size() || p.empty() || v < 0 || v > 65535)
    throw std::invalid_argument("\"" + text + "\" is not [HOST:]PORT with a port 0..65535");
  port = v;
}

namespace {
double to_number(const std::string& opt, const std::string& v) {
  std::size_t used = 0;
  double d = 0;
  try {
    d = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || v.empty())
    throw std::invalid_argument(opt + ": \"" + v + "\" is not a number");
  return d;
}

json::object fault_request(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  json::object r{{"cmd", "fault"}, {"kind", kind}};
  auto need = [&](const char* what) {
    if (arg.empty()) throw std::invalid_argument("--fault " + kind + " needs :" + what);
    return to_number("--fault " + kind, arg);
  };
  if (kind == "sto" || kind == "cell_freeze" || kind == "cell_value_freeze" ||
      kind == "adc_error" || kind == "nan_force" || kind == "overload") {
    if (!arg.empty()) throw std::invalid_argument("--fault " + kind + " takes no value");
  } else if (kind == "drive_fault") {
    r["code"] = need("CODE");
  } else if (kind == "drop") {
    r["p"] = need("P");
  } else if (kind == "outage") {
    r["seconds"] = need("SECONDS");
  } else if (kind == "bad_crc" || kind == "wrong_unit" || kind == "wrong_tid" ||
             kind == "exception") {
    if (arg.rfind("p=", 0) == 0) r["p"] = to_number("--fault " + kind, arg.substr(2));
    else r["count"] = arg.empty() ? 1.0 : to_number("--fault " + kind, arg);
  } else {
    throw std::invalid_argument("--fault: unknown kind \"" + kind + "\"");
  }
  return r;
}
}  // namespace

SimOptions parse_options(int argc, const char* const* argv) {
  SimOptions o;
  json::object athlete{{"cmd", "athlete"}};
  json::object traits;
  json::object noise{{"cmd", "noise"}};
  std::vector<json::object> faults;
  auto value = [&](int& i, const std::string& opt) -> std::string {
    if (i + 1 >= argc) throw std::invalid_argument(opt + " needs a value");
    return argv[++i];
  };
  const std::pair<const char*, const char*> numeric_athlete[] = {
      {"--capacity-n", "capacity_n"},
      {"--fatigue-rate", "fatigue_rate"},
      {"--bottom-mm", "bottom_mm"},
      {"--top-mm", "top_mm"},
      {"--after-reps", "after_reps"},
      {"--half-range-fraction", "half_range_fraction"},
      {"--shrink-per-rep", "shrink_per_rep"},
      {"--iso-fraction", "iso_fraction"},
      {"--noise-n", "noise_n"},
      {"--wobble-n", "wobble_n"},
      {"--wobble-hz", "wobble_hz"},
      {"--start-delay-s", "start_delay_s"},
      {"--start-load-n", "start_load_n"}};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    bool done = false;
    for (auto [flag, key] : numeric_athlete) {
      if (a == flag) {
        athlete[key] = to_number(a, value(i, a));
        done = true;
        break;
      }
    }
    if (done) continue;
    const std::pair<const char*, const char*> numeric_noise[] = {
        {"--cell-noise-n", "cell_noise_n"},
        {"--cell-drift-n-per-s", "cell_drift_n_per_s"},
        {"--cell-drift-max-n", "cell_drift_max_n"},
        {"--ripple-v", "drive_ripple_v"}};
    for (auto [flag, key] : numeric_noise) {
      if (a == flag) {
        noise[key] = to_number(a, value(i, a));
        done = true;
        break;
      }
    }
    if (done) continue;
    if (a == "--help" || a == "-h") o.help = true;
    else if (a == "--version") o.version = true;
    else if (a == "--trait") {
      auto [key, val] = trait_assignment(value(i, a));
      traits[key] = std::move(val);
    } else if (a == "--config") o.config_path = value(i, a);
    else if (a == "--tcp") o.tcp = value(i, a);
    else if (a == "--rtu") o.rtu = value(i, a);
    else if (a == "--baud") {
      const double b = to_number(a, value(i, a));
      if (b < 1200 || b > 921600) throw std::invalid_argument("--baud must be 1200..921600");
      o.baud = static_cast<int>(b);
    } else if (a == "--parity") {
      const std::string p = value(i, a);
      if (p != "N" && p != "E" && p != "O")
        throw std::invalid_argument("--parity must be N, E or O");
      o.parity = p[0];
    } else if (a == "--wire-time") o.wire_time = true;
    else if (a == "--control-port") {
      std::string h;
      int port = 0;
      split_host_port(value(i, a), h, port);
      o.control_port = port;
    } else if (a == "--ctl") {
      std::string h;
      int port = 0;
      split_host_port(value(i, a), h, port);
      o.ctl_port = port;
      o.ctl_json = value(i, a);
    } else if (a == "--seed") {
      const double s = to_number(a, value(i, a));
      if (s < 0) throw std::invalid_argument("--seed must be ≥ 0");
      o.seed = static_cast<std::uint64_t>(s);
    } else if (a == "--log-level") o.log_level = value(i, a);
    else if (a == "--athlete-style") athlete["style"] = value(i, a);
    else if (a == "--tempo") athlete["tempo"] = value(i, a);
    else if (a == "--athlete") {
      const std::string text = value(i, a);
      json::value v;
      try {
        v = json::parse(text);
      } catch (const std::exception& e) {
        throw std::invalid_argument("--athlete: not JSON: " + std::string(e.what()));
      }
      if (!v.is_object()) throw std::invalid_argument("--athlete takes a JSON object");
      for (const auto& kv : v.as_object()) athlete[kv.key()] = kv.value();
    } else if (a == "--fault") faults.push_back(fault_request(value(i, a)));
    else throw std::invalid_argument("unknown option \"" + a + "\" (see --help)");
  }
  if (o.help || o.version || o.ctl_port) return o;
  if (o.config_path.empty()) throw std::invalid_argument("--config FILE is required (see --help)");
  if (!traits.empty()) {
    // --trait overlays the traits of --athlete (one "traits" object: a given
    // "enabled" is kept, else the trait model is on).
    json::object merged;
    if (auto* t = athlete.if_contains("traits"); t && t->is_object()) merged = t->as_object();
    for (auto& kv : traits) merged[kv.key()] = kv.value();
    athlete["traits"] = std::move(merged);
  }
  if (athlete.size() > 1) o.setup.push_back(athlete);
  if (noise.size() > 1) o.setup.push_back(noise);
  for (auto& f : faults) o.setup.push_back(std::move(f));
  return o;
}

}  // namespace soleus::sim
