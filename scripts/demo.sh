#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and starts the
# whole system on the simulated machine (soleus-sim over Modbus TCP on
# localhost), then shows live decoded signals read through the drivers.
# Ctrl-C stops everything.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
SOLEUS_WITH_BROWSER=0 bash scripts/install-deps.sh
SOLEUS_TESTS=OFF BUILD_DIR="$here/build" bash scripts/build.sh -DSOLEUS_TESTS=OFF
bin=$here/build

cfg=$here/config/sim.toml
modbus_port=1502
control_port=1503
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$bin/sim/soleus-sim" --config "$cfg" --tcp 127.0.0.1:$modbus_port --control-port $control_port \
  --athlete-style tempo --tempo 2-1-2-1 &
pids+=($!)
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$modbus_port) 2>/dev/null && break
  sleep 0.1
done

cat <<MSG

Soleus demo on the simulated machine
  simulator:  Modbus TCP 127.0.0.1:$modbus_port, control channel 127.0.0.1:$control_port
              (inject a fault: build/sim/soleus-sim --ctl $control_port '{"cmd":"fault","kind":"sto","on":true}')
  live signals read through the drivers (read-only probe); Ctrl-C stops.

MSG
"$bin/app/soleusctl" --config "$cfg" probe --interval-ms 500
