#!/usr/bin/env bash
# Copies the HMI's static assets into an output directory, with uPlot taken
# from node_modules (installed with `npm ci` from package-lock.json when
# missing). Usage: hmi/web/build.sh OUT_DIR
# Nothing is fetched at run time: the page only loads files from OUT_DIR.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
uplot="$here/node_modules/uplot/dist"
if [ ! -f "$uplot/uPlot.iife.min.js" ]; then
  echo "build.sh: installing uPlot (npm ci) in $here" >&2
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p "$out/css" "$out/js/screens" "$out/vendor"
cp "$here/index.html" "$here/favicon.svg" "$out/"
cp "$here"/css/*.css "$out/css/"
cp "$here"/js/*.js "$out/js/"
cp "$here"/js/screens/*.js "$out/js/screens/"
cp "$uplot/uPlot.iife.min.js" "$uplot/uPlot.min.css" "$out/vendor/"
cp "$here/node_modules/uplot/LICENSE" "$out/vendor/uPlot.LICENSE" 2>/dev/null || true
bytes=$(find "$out" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "build.sh: HMI assets in $out ($bytes bytes)"
