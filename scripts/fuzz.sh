#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang-16 under AddressSanitizer +
# UndefinedBehaviorSanitizer (build-fuzz/, -DSOLEUS_FUZZ=ON), then for each
# target replays its corpus and fuzzes it for SECONDS (default 5).
# Exits non-zero on any crash, sanitizer finding, leak, timeout or broken
# invariant, and prints per-target figures. docs/fuzzing.md tells more.
#
#   bash scripts/fuzz.sh            # 5 s per target
#   bash scripts/fuzz.sh 600        # 10 minutes per target
#   FUZZ_TARGETS="api config" bash scripts/fuzz.sh 60
#
# The committed seeds (fuzz/corpus/TARGET) are only read; what the fuzzer
# finds goes to build-fuzz/corpus/TARGET (kept between runs and replayed too,
# unless FUZZ_FRESH=1 empties it first, as the test command does so that its
# time stays bounded) and a failing input to build-fuzz/artifacts/TARGET/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
build=${FUZZ_BUILD_DIR:-$here/build-fuzz}
jobs=${JOBS:-2}
read -r -a targets <<< "${FUZZ_TARGETS:-devices codec config api}"
[[ "$secs" =~ ^[0-9]+$ && "$secs" -ge 1 ]] || { echo "fuzz.sh: SECONDS must be a whole number >= 1" >&2; exit 2; }

for tool in clang-16 clang++-16; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool missing (bash scripts/install-deps.sh)" >&2; exit 2; }
done

t0=$(date +%s)
# -O1: quick to build and fast enough to fuzz; debug line tables for stacks.
# -Wconversion is judged by GCC in the test build; clang's wider one (sign
# conversions) would only add noise here.
CC=clang-16 CXX=clang++-16 cmake -S "$here" -B "$build" -DSOLEUS_FUZZ=ON -DSOLEUS_TESTS=OFF \
  -DSOLEUS_WCONVERSION=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1" >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz-targets
t1=$(date +%s)
echo "fuzz.sh: build $((t1 - t0)) s"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
rows=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz_$t"
  seeds="$here/fuzz/corpus/$t"
  work="$build/corpus/$t"
  art="$build/artifacts/$t"
  log="$build/logs/$t.log"
  [[ -x "$bin" && -d "$seeds" ]] || { echo "fuzz.sh: no target $t ($bin, $seeds)" >&2; exit 2; }
  [[ "${FUZZ_FRESH:-0}" == 1 ]] && rm -rf "$work"
  mkdir -p "$work" "$art" "$(dirname "$log")"
  s0=$(date +%s.%N)
  rc=0
  # New inputs go to the first directory (work); both are replayed first.
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$art/" "$work" "$seeds" >"$log" 2>&1 || rc=$?
  s1=$(date +%s.%N)
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  seeds_n=$(find "$seeds" -type f | wc -l)
  corp=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  rows+=("$(printf '%-8s %5s %9s %8s %7s %12s %6s %6.1f  %s' "$t" "$seeds_n" "$(stat number_of_executed_units)" \
    "$(stat average_exec_per_sec)" "$(stat new_units_added)" "${corp:-?}" "${cov:-?}" \
    "$(awk -v a="$s0" -v b="$s1" 'BEGIN{print b-a}')" "$([[ $rc == 0 ]] && echo ok || echo "FAILED rc=$rc")")")
  if [[ $rc != 0 ]]; then
    failed+=("$t")
    echo "== fuzz_$t FAILED (rc $rc); log: $log; input(s): $(ls "$art" 2>/dev/null | tr '\n' ' ')"
    grep -E 'FUZZ_CHECK|ERROR: |runtime error|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 || true
    tail -n 30 "$log"
  fi
done

echo
printf '%-8s %5s %9s %8s %7s %12s %6s %6s  %s\n' target seeds execs exec/s new corpus cov time result
printf '%s\n' "${rows[@]}"
echo "fuzz.sh: $(( $(date +%s) - t0 )) s in all (build $((t1 - t0)) s), ${secs} s per target"
if ((${#failed[@]})); then
  echo "fuzz.sh: FAILED: ${failed[*]} (replay: build-fuzz/fuzz/fuzz_TARGET INPUT)" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} passed, 0 failed"
