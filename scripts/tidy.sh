#!/usr/bin/env bash
# clang-tidy over our sources, with the checks of the top-level .clang-tidy,
# using BUILD_DIR's compile_commands.json (default ./build; configured here if
# missing). A long check, not in the test command. Prints every finding, then
# the number of findings per check; exits 1 if there are any.
# Usage: scripts/tidy.sh [regex of files, default: all of ours]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build}
jobs=${JOBS:-$(nproc)}
tidy=${CLANG_TIDY:-$(command -v clang-tidy-16 || true)}
runner=$(command -v run-clang-tidy-16 || true)
[[ -n $tidy && -n $runner ]] || { echo "tidy: clang-tidy-16 / run-clang-tidy-16 not found (apt-get install clang-tidy-16)" >&2; exit 2; }
if [[ ! -f $build/compile_commands.json ]]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# Ours only: the folders below, never build directories or third-party code.
filter=${1:-"^$here/(common|machine|drivers|controller|storage|programme|hmi|sim|app|proving|bench|tests)/.*\\.cpp\$"}
log="$build/tidy.log"
# -quiet: no per-file banner; GCC-only warning flags are ignored (-Wno-unknown-warning-option)
# and SOLEUS_WERROR's -Werror does not stop a file (-Wno-error). clang-tidy 16, not
# 14: clang 14 refuses C++20 lambda captures of structured bindings, which we use.
nice -n 10 "$runner" -clang-tidy-binary "$tidy" -p "$build" -j "$jobs" -quiet \
  -extra-arg=-Wno-unknown-warning-option -extra-arg=-Wno-error "$filter" >"$log" 2>&1 || true
# run-clang-tidy colours its output; the colour codes go before parsing.
sed -E 's/\x1b\[[0-9;]*m//g' "$log" | grep -E '^/.*: (warning|error): .*\[[a-zA-Z0-9.,-]+\]$' |
  sort -u >"$build/tidy.findings" || true
cat "$build/tidy.findings"
echo "== findings per check (unique locations; full log: $log)"
sed -E 's/.*\[([a-zA-Z0-9.,-]+)\]$/\1/' "$build/tidy.findings" | tr ',' '\n' | sort | uniq -c | sort -rn
n=$(wc -l <"$build/tidy.findings")
echo "tidy: $n findings"
((n == 0))
