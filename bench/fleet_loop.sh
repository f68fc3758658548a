#!/usr/bin/env bash
# The control loop's period with and without the fleet, side by side in one
# run (issue 14, docs/fleet.md "Figures"), while the broker is down, slow or
# flooded.
#   BUILD_DIR=build DURATION=20 bash bench/fleet_loop.sh
# For each condition two soleusd-test run AT THE SAME TIME, each with its own
# soleus-sim (config/sim.toml, 100 Hz over TCP) and database, each running one
# long set started over its API: "without" has no [fleet] section, "with" has
# one (a mosquitto on loopback started here, status every 1 s, telemetry
# every 1 s: ten and sixty times the defaults). The loop's p50/p99/max and
# overruns come from each daemon's "exit" JSON line, as in loop_vs_writer.sh.
#  * up:    the broker runs;
#  * down:  no broker (the link retries with its backoff);
#  * slow:  the broker stopped with SIGSTOP (TCP connects, nothing answers:
#           the link's socket and keep-alive see a dead peer);
#  * flood: a mosquitto_pub floods the broker with 200-byte messages on
#           soleus/gym/shared/programme/flood: "with" has the site's pepper
#           (pin_pepper_file), so its shared records' participant subscribes
#           to shared/# and receives, parses and refuses every one (its log
#           line at most once a second).
# Prints figures; asserts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
duration=${DURATION:-20}
sim=$build/sim/soleus-sim
daemon=$build/tests/support/soleusd-test
[[ -x $daemon ]] || { echo "fleet_loop: $daemon not built" >&2; exit 2; }
command -v mosquitto_pub > /dev/null || { echo "fleet_loop: mosquitto_pub missing (mosquitto-clients)" >&2; exit 2; }
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
  [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$tmp"
}
trap cleanup EXIT
head -c 32 /dev/urandom | base64 > "$tmp/pepper"
chmod 600 "$tmp/pepper"
bport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$bport" > "$tmp/m.conf"
bpid=""
broker_start() { /usr/sbin/mosquitto -c "$tmp/m.conf" > "$tmp/m.log" 2>&1 & bpid=$!; pids+=($bpid); sleep 0.3; }
broker_stop() {
  if [[ -n $bpid ]]; then
    kill -CONT "$bpid" 2>/dev/null || true
    kill "$bpid" 2>/dev/null || true
    wait "$bpid" 2>/dev/null || true
    bpid=""
  fi
}

start_one() {  # name fleet(0|1) -> starts sim + daemon in $tmp/$name
  local name=$1 fleet=$2 d=$tmp/$1
  mkdir -p "$d"
  "$sim" --config "$here/config/sim.toml" --tcp 127.0.0.1:0 --control-port 0 \
    --athlete-style tempo --tempo 1.5-0.5-1.5-0.5 > "$d/sim.out" 2>&1 &
  pids+=($!); echo $! > "$d/sim.pid"
  for _ in $(seq 100); do grep -q "control" "$d/sim.out" 2>/dev/null && break; sleep 0.05; done
  local port; port=$(sed -n 's/^soleus-sim: modbus tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$d/sim.out")
  sed -e "s/^port = 1502/port = $port/" -e "s/^port = 8080/port = 0/" \
      -e "s|^db_path = .*|db_path = \"$d/soleus.db\"|" \
      -e "s/^watchdog_ms = 100.0/watchdog_ms = 250.0/" \
      -e "s/^\[control\]/[control]\ncomm_loss_cycles = 10\ncomm_loss_window_ms = 200\nstale_cell_ms = 150/" \
      "$here/config/sim.toml" > "$d/d.toml"
  if [[ $fleet == 1 ]]; then
    printf '\n[fleet]\nbroker = "mqtt://127.0.0.1:%s"\nmachine = "m1"\nsite = "gym"\nstatus_period_s = 1\nmetrics_period_s = 1\npin_pepper_file = "%s"\n' \
      "$bport" "$tmp/pepper" >> "$d/d.toml"
  fi
  "$daemon" --config "$d/d.toml" --json-lines > "$d/d.out" 2> "$d/d.err" &
  pids+=($!); echo $! > "$d/d.pid"
}

start_set() {  # name
  local d=$tmp/$1
  for _ in $(seq 200); do grep -q '^{"type":"ready"' "$d/d.out" 2>/dev/null && break; sleep 0.05; done
  local api; api=$(sed -n 's|^soleusd: HMI at \(http://[0-9.:]*\)/.*|\1|p' "$d/d.out")
  local token; token=$(curl -s -X POST "$api/api/v1/login" -d '{"role":"guest"}' |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
  local reply=""
  for _ in $(seq 50); do
    reply=$(curl -s -w ' %{http_code}' -X POST -H "Authorization: Bearer $token" "$api/api/v1/sets" \
      -d '{"mode":"isotonic","load_n":500,"tempo":"1.5-0.5-1.5-0.5","target_reps":100}')
    [[ $reply == *" 201" ]] && break
    if [[ $reply == *"fault is latched"* ]]; then
      local mt; mt=$(curl -s -X POST "$api/api/v1/login" -d '{"role":"maintenance","pin":"4321"}' |
        python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
      curl -s -X POST -H "Authorization: Bearer $mt" "$api/api/v1/maintenance/fault-reset" > /dev/null
    fi
    sleep 0.2
  done
  [[ $reply == *" 201" ]] || echo "   ($1: the set was refused: $reply)"
}

report() {  # condition name
  local d=$tmp/$2
  kill -TERM "$(cat "$d/d.pid")" 2>/dev/null || true
  while kill -0 "$(cat "$d/d.pid")" 2>/dev/null; do sleep 0.1; done
  kill "$(cat "$d/sim.pid")" 2>/dev/null || true
  python3 - "$d/d.out" "$1" "$2" <<'PY'
import sys, json
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
ex = [l for l in lines if l['type'] == 'exit'][-1]
lp = ex['loop']
reps = sum(1 for l in lines if l['type'] == 'rep')
print("%-6s %-8s %-7.3f %-7.3f %-7.3f %-9d %-8d %d" % (sys.argv[2], sys.argv[3], lp['p50_ms'],
      lp['p99_ms'], lp['max_ms'], lp['overruns'], lp['cycles'], reps))
PY
}

run_condition() {  # name
  local c=$1 fpid=""
  rm -rf "$tmp/without" "$tmp/with"
  case $c in
    up|flood|slow) broker_start ;;
    down) broker_stop ;;
  esac
  start_one without 0
  start_one with 1
  start_set without
  start_set with
  case $c in
    slow) kill -STOP "$bpid" ;;
    flood)
      yes "$(head -c 200 /dev/zero | tr '\0' x)" | mosquitto_pub -h 127.0.0.1 -p "$bport" \
        -t soleus/gym/shared/programme/flood -l -q 0 > /dev/null 2>&1 &
      fpid=$!; pids+=($fpid) ;;
  esac
  sleep "$duration"
  report "$c" without
  report "$c" with
  if [[ -n $fpid ]]; then kill "$fpid" 2>/dev/null || true; fi  # yes(1) ends on SIGPIPE
  broker_stop
}

echo "== the control loop with and without [fleet], side by side: soleusd 100 Hz over TCP, ${duration} s"
printf "%-6s %-8s %-7s %-7s %-7s %-9s %-8s %s\n" broker fleet p50_ms p99_ms max_ms overruns cycles reps
for c in ${CONDITIONS:-up down slow flood}; do run_condition "$c"; done
