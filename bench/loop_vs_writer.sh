#!/usr/bin/env bash
# Control-loop period with a normal and with a saturated storage writer.
#   BUILD_DIR=build bash bench/loop_vs_writer.sh     (bench/run.sh section 5)
# soleusd-test (soleusd with the test hooks, built with the tests:
# tests/support/) runs one long set (started over its API) against soleus-sim over TCP
# (config/sim.toml, 100 Hz) for DURATION seconds, then SIGTERM; the loop's
# p50/p99/max/overruns and the writer's counters come from its "exit" JSON line.
#  * normal:    the writer commits every 100 ms as on the machine;
#  * saturated: once the drive is armed, the test hook parks every write of the
#    writer inside FaultVfs (SOLEUS_TEST_STORAGE_FAULT_FILE=stall): its record
#    queue fills and overflows to memory, the trace queue fills and drops, and
#    the daemon prints every trace sample as a JSON line (--trace-every 1).
# Each pair runs REPEAT times (default 2), alternately. Then bench_storage's
# writer throughput (records/s, samples/s) on this disk.
# Prints figures; asserts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
duration=${DURATION:-30}
sim=$build/sim/soleus-sim
daemon=$build/tests/support/soleusd-test  # soleusd has no test hooks (docs/storage.md)
[[ -x $daemon ]] || { echo "loop_vs_writer: $daemon not built (a build with -DSOLEUS_TESTS=ON)" >&2; exit 2; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; [[ -n "${KEEP_TMP:-}" ]] || rm -rf "$tmp"; }
trap cleanup EXIT

run_case() {  # name stall(0|1)
  local name=$1 stall=$2
  rm -f "$tmp"/soleus.db* "$tmp/sf"
  "$sim" --config "$here/config/sim.toml" --tcp 127.0.0.1:0 --control-port 0 \
    --athlete-style tempo --tempo 1.5-0.5-1.5-0.5 > "$tmp/sim.out" 2>&1 &
  local spid=$!; pids+=($spid)
  for _ in $(seq 100); do grep -q "control" "$tmp/sim.out" 2>/dev/null && break; sleep 0.05; done
  local port; port=$(sed -n 's/^soleus-sim: modbus tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/sim.out")
  # config/sim.toml, with: the writer's queues small (trace_queue 256 = 2.5 s,
  # record_queue 64) so that a stalled writer fills them within the run; the
  # bus timeout, drive watchdog and comm-loss window widened as in
  # tests/app/test_durability.cpp, so that a box busy with other work does not
  # end the set with comm_loss (the loop's timing is measured all the same).
  sed -e "s/^port = 1502/port = $port/" -e "s/^port = 8080/port = 0/" \
      -e "s|^db_path = .*|db_path = \"$tmp/soleus.db\"\ntrace_queue = 256\nrecord_queue = 64|" \
      -e "s/^response_timeout_ms = 4 /response_timeout_ms = 8 /" -e "s/^retries = 1 /retries = 0 /" \
      -e "s/^watchdog_ms = 100.0/watchdog_ms = 250.0/" \
      -e "s/^\[control\]/[control]\ncomm_loss_cycles = 10\ncomm_loss_window_ms = 200\nstale_cell_ms = 150/" \
      "$here/config/sim.toml" > "$tmp/d.toml"
  SOLEUS_TEST_HOOKS=1 SOLEUS_TEST_STORAGE_FAULT_FILE="$tmp/sf" \
    "$daemon" --config "$tmp/d.toml" --json-lines --trace-every $((stall ? 1 : 0)) \
    > "$tmp/d.out" 2> "$tmp/d.err" &
  local dpid=$!; pids+=($dpid)
  for _ in $(seq 200); do grep -q '^{"type":"ready"' "$tmp/d.out" 2>/dev/null && break; sleep 0.05; done
  # The set through the API (the daemon stays up for the whole run even if a
  # rule or the box ends the set early: the loop is measured all the same).
  local api; api=$(sed -n 's|^soleusd: HMI at \(http://[0-9.:]*\)/.*|\1|p' "$tmp/d.out")
  local token; token=$(curl -s -X POST "$api/api/v1/login" -d '{"role":"guest"}' |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
  local reply=""
  for _ in $(seq 50); do  # until the machine takes it (armed, boot reset done)
    reply=$(curl -s -w ' %{http_code}' -X POST -H "Authorization: Bearer $token" "$api/api/v1/sets" \
      -d '{"mode":"isotonic","load_n":500,"tempo":"1.5-0.5-1.5-0.5","target_reps":100}')
    [[ $reply == *" 201" ]] && break
    if [[ $reply == *"fault is latched"* ]]; then  # a comm loss while the box was busy: reset
      local mt; mt=$(curl -s -X POST "$api/api/v1/login" -d '{"role":"maintenance","pin":"4321"}' |
        python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
      curl -s -X POST -H "Authorization: Bearer $mt" "$api/api/v1/maintenance/fault-reset" > /dev/null
    fi
    sleep 0.2
  done
  [[ $reply == *" 201" ]] || echo "   ($name: the set was refused: $reply)"
  [[ $stall == 1 ]] && echo stall > "$tmp/sf"
  local waited=0
  while (( waited < duration * 10 )) && kill -0 $dpid 2>/dev/null; do sleep 0.1; waited=$((waited + 1)); done
  kill -TERM $dpid 2>/dev/null || true; wait $dpid || true
  kill $spid 2>/dev/null || true; wait $spid 2>/dev/null || true
  python3 - "$tmp/d.out" "$name" "$duration" <<'PY'
import sys, json
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
ex = [l for l in lines if l['type'] == 'exit'][-1]
lp, st = ex['loop'], ex['storage']
reps = sum(1 for l in lines if l['type'] == 'rep')
res = [l for l in lines if l['type'] == 'result']
print("%-10s %-7.3f %-7.3f %-7.3f %-9d %-8d %-5d %-9d %-10d %-9d %-9d %-5d %s" % (
    sys.argv[2], lp['p50_ms'], lp['p99_ms'], lp['max_ms'], lp['overruns'], lp['cycles'], reps,
    st['records_committed'], st['samples_committed'], st['pending_records'],
    st['traces_dropped'], st['records_lost'], res[0]['stop_reason'] if res else '-'))
PY
}

echo "== 5. control loop vs storage writer: soleusd 100 Hz over TCP, one set, ${duration} s each"
echo "   (pending/dropped/lost: the writer's state at SIGTERM, before the stall is released)"
printf "%-10s %-7s %-7s %-7s %-9s %-8s %-5s %-9s %-10s %-9s %-9s %-5s %s\n" \
  writer p50_ms p99_ms max_ms overruns cycles reps committed samples pending tr_drop lost set_end
for _ in $(seq "${REPEAT:-2}"); do  # alternately, to show the box's own variation
  [[ -z "${ONLY_SATURATED:-}" ]] && run_case normal 0
  run_case saturated 1
done

if [[ -x $build/storage/bench_storage ]]; then
  echo "-- writer throughput on this disk (bench_storage, synchronous=FULL per batch)"
  mkdir -p "$tmp/bs"
  "$build/storage/bench_storage" "$tmp/bs" 20000 | sed -n '/^2\. writer/,/^3\./p' | grep -v '^3\.' || true
fi
