#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and starts the
# whole system on the simulated machine: soleus-sim (Modbus TCP on localhost),
# soleusd with its touchscreen page, then shows live decoded signals read
# through the drivers. Ctrl-C stops everything (soleusd unloads first).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
SOLEUS_WITH_BROWSER=0 bash scripts/install-deps.sh
BUILD_DIR="$here/build" bash scripts/build.sh -DSOLEUS_TESTS=OFF
bin=$here/build

cfg=$here/config/sim.toml
modbus_port=1502
control_port=1503
pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; sleep 0.5; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$bin/sim/soleus-sim" --config "$cfg" --tcp 127.0.0.1:$modbus_port --control-port $control_port \
  --athlete-style tempo --tempo 2-1-2-1 > "$bin/soleus-sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$modbus_port) 2>/dev/null && break
  sleep 0.1
done

"$bin/app/soleusd" --config "$cfg" > "$bin/soleusd.log" 2>&1 &
pids+=($!)
hmi=""
for _ in $(seq 100); do
  hmi=$(sed -n 's/^soleusd: HMI at \(.*\)$/\1/p' "$bin/soleusd.log" | head -1)
  [[ -n $hmi ]] && break
  sleep 0.1
done

cat <<MSG

Soleus on the simulated machine
  HMI:        ${hmi:-(not up yet: see $bin/soleusd.log)}
              open it in a browser (800x480 is the machine's screen); demo PINs: staff 1234, maintenance 4321
  simulator:  Modbus TCP 127.0.0.1:$modbus_port, control channel 127.0.0.1:$control_port
              e-stop: build/sim/soleus-sim --ctl $control_port '{"cmd":"fault","kind":"sto","on":true}'
  daemon log: $bin/soleusd.log      status: build/ctl/soleusctl --config config/sim.toml status
  live signals below are read through the drivers (read-only probe); Ctrl-C stops everything.

MSG
"$bin/ctl/soleusctl" --config "$cfg" probe --interval-ms 500
