#!/usr/bin/env bash
# Proves that scripts/check-layering.sh can fail: each case copies the ruled
# folders and docs/ into a temporary tree, plants one violation, and asserts
# that the checker exits 1 and names the planted file and line. The untouched
# copy must pass (so the harness itself is sound).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
check="$root/scripts/check-layering.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fresh() {   # a clean copy of the sources the rules look at
  rm -rf "$tmp/t"; mkdir -p "$tmp/t"
  (cd "$root" && tar --exclude=node_modules --exclude='build*' -cf - docs machine common drivers controller hmi storage sim app ctl programme) |
    tar -C "$tmp/t" -xf -
}
# expect NAME FILE LINE: the checker fails and its output names FILE:LINE
expect() {
  local name=$1 file=$2 line=$3 out rc=0
  out=$(bash "$check" "$tmp/t" 2>&1) || rc=$?
  if [[ $rc -eq 1 ]] && grep -q "^$file:$line: " <<<"$out"; then
    echo "ok: $name -> $(grep -m1 "^$file:$line: " <<<"$out")"
  else
    echo "FAIL: $name: expected exit 1 naming $file:$line, got exit $rc:"; echo "$out"; fails=$((fails + 1))
  fi
}
plant() {   # plant FILE TEXT: append TEXT as a new last line; prints its line number
  printf '%s\n' "$2" >>"$tmp/t/$1"; wc -l <"$tmp/t/$1"
}

fresh
if out=$(bash "$check" "$tmp/t" 2>&1); then echo "ok: the untouched copy passes"; else
  echo "FAIL: the untouched copy fails:"; echo "$out"; fails=$((fails + 1)); fi

fresh; f=controller/src/planted.cpp; l=$(plant $f '#include "soleus/drivers/devices.hpp"')
expect "controller includes a driver header" $f "$l"
fresh; f=hmi/src/api.cpp; l=$(plant $f '#include "soleus/storage/database.hpp"')
expect "hmi includes storage" $f "$l"
fresh; f=controller/CMakeLists.txt; l=$(plant $f 'target_link_libraries(soleus_controller PRIVATE soleus_drivers)')
expect "controller links soleus_drivers" $f "$l"
fresh; f=controller/CMakeLists.txt; printf 'target_link_libraries(soleus_controller\n  PRIVATE\n    soleus_common\n    soleus_storage)\n' >>"$tmp/t/$f"
expect "controller links soleus_storage over several lines" $f "$(wc -l <"$tmp/t/$f")"
fresh; f=storage/CMakeLists.txt; l=$(plant $f 'target_include_directories(soleus_storage PRIVATE ${PROJECT_SOURCE_DIR}/hmi/include)')
expect "storage adds hmi's include directory" $f "$l"
fresh; f=controller/src/supervisor.cpp; l=$(plant $f '#include "../../drivers/include/soleus/drivers/modbus_bus.hpp"')
expect "controller reaches drivers by a relative path" $f "$l"
fresh; f=sim/src/machine.cpp; l=$(plant $f '#include "soleus/drivers/modbus_bus.hpp"')
expect "sim includes a driver header beyond the codec" $f "$l"
fresh; f=machine/include/soleus/machine/units.hpp; l=$(plant $f '#include <boost/json.hpp>')
expect "machine includes a non-standard header" $f "$l"
fresh; f=machine/include/soleus/machine/units.hpp; l=$(plant $f '#include "soleus/common/log.hpp"')
expect "machine includes common" $f "$l"
fresh; f=common/src/log.cpp; l=$(plant $f '#include "soleus/machine/units.hpp"')
expect "common includes machine" $f "$l"
fresh; f=ctl/src/events.cpp; l=$(plant $f '#include "soleus/app/backend.hpp"')
expect "ctl includes the daemon's backend" $f "$l"
fresh; f=storage/src/sessions.cpp; l=$(plant $f '#include "soleus/programme/rules.hpp"')
expect "storage includes the programme rules" $f "$l"
fresh; f=programme/src/rules.cpp; l=$(plant $f '#include "soleus/storage/database.hpp"')
expect "programme includes storage" $f "$l"
fresh; f=programme/CMakeLists.txt; l=$(plant $f 'target_link_libraries(soleus_programme PRIVATE Boost::json soleus_hmi)')
expect "programme links the HTTP server" $f "$l"

# Granted: sim may include the codec's two headers; drivers may include machine.
fresh; printf '#include "soleus/drivers/register_map.hpp"\n#include "soleus/drivers/machine_config.hpp"\n' >>"$tmp/t/sim/src/plant.cpp"
printf '#include "soleus/machine/machine_io.hpp"\n' >>"$tmp/t/drivers/src/register_map.cpp"
if out=$(bash "$check" "$tmp/t" 2>&1); then echo "ok: granted reaches pass"; else
  echo "FAIL: granted reaches fail:"; echo "$out"; fails=$((fails + 1)); fi

# A missing rules block is an error (exit 2), not a pass.
fresh; sed -i 's/^```layering/```text/' "$tmp/t/docs/architecture.md"
rc=0; bash "$check" "$tmp/t" >/dev/null 2>&1 || rc=$?
if [[ $rc -eq 2 ]]; then echo "ok: no rules block -> exit 2"; else echo "FAIL: no rules block -> exit $rc"; fails=$((fails + 1)); fi

((fails == 0)) || { echo "layering self-test: $fails case(s) failed"; exit 1; }
echo "layering self-test: all cases ok"
