#!/usr/bin/env bash
# Browser tests against the real system: soleusd with soleus-sim behind it,
# both started by the runner on free ports (tests/browser/real-system.mjs),
# with a fresh database and the freshly built HMI; both are always stopped.
# Usage: tests/browser/real.sh [BUILD_DIR] [name-filter]
#   BUILD_DIR: a CMake build tree with app/soleusd and sim/soleus-sim built
#   (default: $SOLEUS_BUILD_DIR, else the first of build-test, build-br, build).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${1:-${SOLEUS_BUILD_DIR:-}}
if [[ -z $build ]]; then
  for d in build-test build-br build; do
    if [[ -x $repo/$d/app/soleusd && -x $repo/$d/sim/soleus-sim ]]; then build=$repo/$d; break; fi
  done
fi
if [[ -z $build || ! -x $build/app/soleusd || ! -x $build/sim/soleus-sim ]]; then
  echo "real.sh: no build tree with app/soleusd and sim/soleus-sim (give BUILD_DIR)" >&2
  exit 2
fi
build=$(cd "$build" && pwd)
cd "$here"
unset SOLEUS_URL
[[ -d node_modules/playwright-core ]] || npm ci --no-audit --no-fund --loglevel=error
SOLEUS_BUILD_DIR=$build exec node run.mjs "${2:-}"
