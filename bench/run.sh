#!/usr/bin/env bash
# Benchmarks against soleus-sim. Prints figures; asserts nothing.
#   bash bench/run.sh            (builds first; BUILD_DIR to reuse a build)
# 1. bus cost of one control cycle, reference map, TCP and RTU (socat pty);
# 2. RTU with the simulator's wire-time emulation at 115 200 baud: the cycle's
#    duration and the highest loop rate it allows, against the ICD's ~73 Hz;
# 3. soleusd's loop period p50/p99/max and overruns at 100, 250 and 500 Hz over
#    TCP during a set, with its CPU % of one core and RSS;
# 4. the real `soleusctl events` on a database of 1 000 000 events: wall time
#    per run (median, max) for the usual filters and a deep page.
# 5. soleusd's loop period with a normal and with a saturated (stalled) storage
#    writer, and the writer's throughput (bench/loop_vs_writer.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
if [[ -z "${BUILD_DIR:-}" ]]; then BUILD_DIR=$build bash "$here/scripts/build.sh" >/dev/null; fi
sim=$build/sim/soleus-sim
daemon=$build/app/soleusd
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

start_sim() {  # args...; sets SIM_PORT SIM_CTL SIM_PID
  "$sim" --config "$here/config/sim.toml" --control-port 0 "$@" > "$tmp/sim.out" 2>&1 &
  SIM_PID=$!; pids+=($SIM_PID)
  for _ in $(seq 100); do grep -q "control" "$tmp/sim.out" 2>/dev/null && break; sleep 0.05; done
  SIM_PORT=$(sed -n 's/^soleus-sim: modbus tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/sim.out")
  SIM_CTL=$(sed -n 's/^soleus-sim: control 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/sim.out")
}
stop_sim() { kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; }

rtu_config() {  # device -> prints an RTU config for the pty, 8N1
  python3 - "$here/config/sim.toml" "$1" <<'PY'
import sys, re
t = open(sys.argv[1]).read()
t = re.sub(r'kind = "tcp".*?\n\n', 'kind = "rtu"\ndevice = "%s"\nbaud = 115200\nparity = "none"\nresponse_timeout_ms = 15\nretries = 0\n\n' % sys.argv[2], t, count=1, flags=re.S)
t = t.replace("loop_hz = 100", "loop_hz = 50")
print(t)
PY
}

echo "== 1. bus cost of one control cycle (reference map)"
start_sim --tcp 127.0.0.1:0
echo "-- TCP"
"$build/bench/bench_bus" --config "$here/config/sim.toml" --port "$SIM_PORT" --cycles 3000
stop_sim

echo "-- RTU, socat pty pair, 115200 8N1, with wire-time emulation"
socat -d -d pty,raw,echo=0,link="$tmp/ptyA" pty,raw,echo=0,link="$tmp/ptyB" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do [[ -e $tmp/ptyA && -e $tmp/ptyB ]] && break; sleep 0.05; done
start_sim --rtu "$tmp/ptyB" --baud 115200 --parity N --wire-time
rtu_config "$tmp/ptyA" > "$tmp/rtu.toml"
out=$("$build/bench/bench_bus" --config "$tmp/rtu.toml" --cycles 500)
echo "$out"
p99=$(echo "$out" | sed -n 's/.*p99 \([0-9.]*\).*/\1/p')
python3 -c "p99=$p99; print('RTU budget: cycle p99 %.2f ms -> %.1f Hz = %.2f x the ICD budget of 73 Hz (13.6 ms)' % (p99, 1000/p99, 1000/p99/73.5))"
stop_sim

echo
echo "== 3. soleusd loop timing during a set (TCP, tempo athlete)"
printf "%-8s %-8s %-8s %-8s %-10s %-8s %-8s %-10s\n" rate_hz p50_ms p99_ms max_ms overruns cpu_pct rss_mb set_result
for hz in 100 250 500; do
  start_sim --tcp 127.0.0.1:0 --athlete-style tempo --tempo 1.5-0.5-1.5-0.5
  period_ms=$(python3 -c "print(1000/$hz)")
  timeout_ms=$(python3 -c "print(round(min(4, 0.8*$period_ms), 2))")
  window_ms=$(python3 -c "print(max(60, 3*$period_ms))")
  sed -e "s/^port = 1502/port = $SIM_PORT/" -e "s/^loop_hz = 100 .*/loop_hz = $hz/" \
      -e "s/^response_timeout_ms = 4 .*/response_timeout_ms = $timeout_ms/" -e "s/^retries = 1 .*/retries = 0/" \
      "$here/config/sim.toml" > "$tmp/d.toml"
  "$daemon" --config "$tmp/d.toml" --json-lines \
    --run-set '{"mode":"isotonic","load_n":500,"tempo":"1.5-0.5-1.5-0.5","target_reps":5}' \
    > "$tmp/d.out" 2> "$tmp/d.err" &
  dpid=$!
  sleep 1
  t0=$(awk '{print $14+$15}' /proc/$dpid/stat); s0=$(date +%s.%N)
  rss=0
  while kill -0 $dpid 2>/dev/null; do
    r=$(awk '/VmRSS/{print $2}' /proc/$dpid/status 2>/dev/null || echo 0); [[ ${r:-0} -gt $rss ]] && rss=$r
    t1=$(awk '{print $14+$15}' /proc/$dpid/stat 2>/dev/null || echo $t1); s1=$(date +%s.%N)
    sleep 0.2
  done
  wait $dpid || true
  python3 - "$tmp/d.out" "$hz" "$t0" "${t1:-$t0}" "$s0" "${s1:-$s0}" "$rss" <<'PY'
import sys, json
lines=[json.loads(l) for l in open(sys.argv[1]) if l.startswith('{')]
ex=[l for l in lines if l['type']=='exit'][-1]
loop=ex['loop']
hz, t0, t1, s0, s1, rss = sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
tick=100.0
cpu = (t1-t0)/tick/(s1-s0)*100 if s1 > s0 else 0
res=[l for l in lines if l['type']=='result']
print("%-8s %-8.3f %-8.3f %-8.3f %-10d %-8.1f %-8.1f %s" % (hz, loop['p50_ms'], loop['p99_ms'], loop['max_ms'], loop['overruns'], cpu, rss/1024, (res[0]['stop_reason'] if res else 'no set result')))
PY
  stop_sim
done

echo
echo "== 4. soleusctl events on 1 000 000 events (wall time of the real binary)"
"$build/bench/bench_ctl_events" "$tmp" 1000000 10
BUILD_DIR=$build bash "$here/bench/loop_vs_writer.sh"
