#!/usr/bin/env bash
# Checks that a daemon binary holds no test code: no symbol of the fault VFS
# (FaultVfs, soleus::test_support) or of the test hooks (EnvTestHooks), and no
# string of theirs: the hooks' environment variables (SOLEUS_TEST_...), the
# VFS's name (soleus-fault). nm sees the symbols, strings -a also the debug
# information and the string literals (a getenv("SOLEUS_TEST_HOOKS") shows).
# Usage: check-no-test-code.sh [--expect-found] BINARY
#   exit 0: nothing found (with --expect-found: something found, the check's
#           own control on soleusd-test), 1: the opposite, 2: usage or no nm /
#           strings, 77: BINARY does not exist (not built; ctest: skipped).
set -euo pipefail
expect_found=0
if [[ ${1:-} == --expect-found ]]; then expect_found=1; shift; fi
[[ $# -eq 1 ]] || { echo "usage: check-no-test-code.sh [--expect-found] BINARY" >&2; exit 2; }
bin=$1
[[ -f $bin ]] || { echo "check-no-test-code: $bin not built: skipped" >&2; exit 77; }
for tool in nm strings; do
  command -v "$tool" >/dev/null || { echo "check-no-test-code: $tool not found (binutils)" >&2; exit 2; }
done
symbols='FaultVfs|soleus::test_support::|EnvTestHooks'
texts='SOLEUS_TEST_|soleus-fault|FaultVfs'
found=$( { nm -C "$bin" 2>/dev/null || true; } | grep -E "$symbols" | sed 's/^/symbol: /' | head -20 || true)
found+=$'\n'$( { strings -a "$bin" || true; } | grep -E "$texts" | sort -u | sed 's/^/string: /' | head -20 || true)
found=$(sed '/^$/d' <<<"$found")
if [[ -n $found ]]; then
  echo "check-no-test-code: test code in $bin:"
  echo "$found"
  if ((expect_found)); then echo "check-no-test-code: found, as expected"; exit 0; fi
  exit 1
fi
echo "check-no-test-code: $bin: no fault VFS, no test hooks"
if ((expect_found)); then echo "check-no-test-code: expected to find test code in $bin" >&2; exit 1; fi
exit 0
