#!/usr/bin/env bash
# Copies the HMI's static assets into an output directory, with the vendored
# uPlot (hmi/web/vendor/uplot, its release files and licence; see VENDOR there).
# Usage: hmi/web/build.sh OUT_DIR
# Needs no network and no Node.js, at build time or at run time: the page only
# loads files from OUT_DIR.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$1"
uplot="$here/vendor/uplot"
mkdir -p "$out/css" "$out/js/screens" "$out/js/lang" "$out/vendor"
cp "$here/index.html" "$here/favicon.svg" "$out/"
cp "$here"/css/*.css "$out/css/"
cp "$here"/js/*.js "$out/js/"
cp "$here"/js/screens/*.js "$out/js/screens/"
cp "$here"/js/lang/*.js "$out/js/lang/"
cp "$uplot/uPlot.iife.min.js" "$uplot/uPlot.min.css" "$out/vendor/"
cp "$uplot/LICENSE" "$out/vendor/uPlot.LICENSE"
bytes=$(find "$out" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
echo "build.sh: HMI assets in $out ($bytes bytes)"
