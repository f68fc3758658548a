#!/usr/bin/env bash
# The format check (scripts/check-format.sh, a step of the test command) can
# fail: in a temporary tree with the project's .clang-format, a badly formatted
# file makes it exit 1 and name the file; after --fix it passes.
set -uo pipefail
root=${1:?usage: format_selftest.sh SOURCE_ROOT}
command -v clang-format-14 >/dev/null || command -v clang-format >/dev/null ||
  { echo "format_selftest: no clang-format"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/scripts" "$tmp/common/src"
cp "$root/scripts/check-format.sh" "$tmp/scripts/"
cp "$root/.clang-format" "$tmp/"
cp "$root/common/src/url.cpp" "$tmp/common/src/good.cpp"
printf 'int  f( int a ){return a+1 ;}\n' >"$tmp/common/src/bad.cpp"
out=$(bash "$tmp/scripts/check-format.sh" 2>&1); rc=$?
fails=0
if ((rc != 1)); then echo "FAIL: exit $rc on a badly formatted file, want 1"; fails=1; fi
if ! grep -q "common/src/bad.cpp" <<<"$out"; then echo "FAIL: bad.cpp not named:"; echo "$out"; fails=1; fi
if grep -q "common/src/good.cpp" <<<"$out"; then echo "FAIL: a formatted file was named"; fails=1; fi
bash "$tmp/scripts/check-format.sh" --fix >/dev/null 2>&1
if ! bash "$tmp/scripts/check-format.sh" >/dev/null 2>&1; then echo "FAIL: still failing after --fix"; fails=1; fi
((fails == 0)) && echo "format_selftest: the check fails on an unformatted file, names it, and --fix mends it"
exit $fails
