#!/usr/bin/env bash
# Does scraping GET /metrics disturb the control loop? Two soleusd, each with
# its own soleus-sim over TCP (config/sim.toml, 100 Hz, armed and idle), run
# side by side for DURATION seconds (default 60): A is scraped every second
# (curl, as Prometheus would), B is not. Then both are scraped once and the
# loop's p50/p99/max period and overruns since start are printed, with A's
# scrape time (curl's time_total: connect, the odometer query, the rendering)
# and size.
#   BUILD_DIR=build bash bench/metrics_scrape.sh
# Prints figures; asserts nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
duration=${DURATION:-60}
sim=$build/sim/soleus-sim
daemon=$build/app/soleusd
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

start_pair() {  # name -> sets HMI_PORT
  local name=$1
  mkdir -p "$tmp/$name"
  "$sim" --config "$here/config/sim.toml" --tcp 127.0.0.1:0 --control-port 0 > "$tmp/$name/sim.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q "control" "$tmp/$name/sim.out" 2>/dev/null && break; sleep 0.05; done
  local port; port=$(sed -n 's/^soleus-sim: modbus tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/$name/sim.out")
  sed -e "s/^port = 1502/port = $port/" -e "s/^port = 8080/port = 0/" \
    "$here/config/sim.toml" > "$tmp/$name/soleus.toml"
  "$daemon" --config "$tmp/$name/soleus.toml" > "$tmp/$name/d.out" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do grep -q "HMI at http://127.0.0.1:" "$tmp/$name/d.out" 2>/dev/null && break; sleep 0.05; done
  HMI_PORT=$(sed -n 's/.*HMI at http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$tmp/$name/d.out" | head -1)
}

start_pair a; port_a=$HMI_PORT
start_pair b; port_b=$HMI_PORT
echo "metrics_scrape: A (scraped every 1 s) on :$port_a, B (not scraped) on :$port_b, ${duration} s"
: > "$tmp/times"
end=$((SECONDS + duration))
while ((SECONDS < end)); do
  curl -s -o "$tmp/last.txt" -w '%{time_total} %{size_download}\n' "http://127.0.0.1:$port_a/metrics" >> "$tmp/times"
  sleep 1
done

value() {  # file metric-line-prefix
  awk -v k="$2" 'index($0, k) == 1 { print $NF; exit }' "$1"
}
printf "%-22s %-8s %-8s %-8s %-9s %-8s\n" machine p50_ms p99_ms max_ms overruns cycles
for m in a b; do
  p=$port_a; [[ $m == b ]] && p=$port_b
  curl -s "http://127.0.0.1:$p/metrics" > "$tmp/$m.txt"
  label="A scraped every 1 s"; [[ $m == b ]] && label="B not scraped"
  python3 - "$tmp/$m.txt" "$label" <<'PY'
import sys
vals = {}
for line in open(sys.argv[1]):
    if line.startswith("#") or not line.strip():
        continue
    k, v = line.rsplit(" ", 1)
    vals[k] = float(v)
q = lambda x: vals['soleus_loop_period_quantile_seconds{quantile="%s"}' % x] * 1000
print("%-22s %-8.3f %-8.3f %-8.3f %-9d %-8d" % (sys.argv[2], q("0.5"), q("0.99"),
      vals["soleus_loop_period_max_seconds"] * 1000, vals["soleus_loop_overruns_total"],
      vals["soleus_loop_cycles_total"]))
PY
done
python3 - "$tmp/times" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
t = sorted(float(r[0]) * 1000 for r in rows)
b = [int(r[1]) for r in rows]
print("scrapes of A: %d, wall time p50 %.2f ms, max %.2f ms, %d bytes each" %
      (len(t), statistics.median(t), t[-1], b[-1]))
PY
