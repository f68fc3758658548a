#!/usr/bin/env bash
# Configures and builds Soleus into BUILD_DIR (default ./build).
# Extra arguments go to cmake's configure step, e.g. -DSOLEUS_SANITIZE=ON.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
jobs=${JOBS:-$(nproc)}
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build" -j"$jobs" ${TARGETS:+--target $TARGETS}
