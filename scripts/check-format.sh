#!/usr/bin/env bash
# Lists the C++ files of our folders that clang-format (the top-level
# .clang-format) would change, and exits 1 if there are any. With --fix, formats
# them in place instead. Build directories and node_modules are not looked at.
# CLANG_FORMAT picks the binary (default clang-format-14, else clang-format).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
cf=${CLANG_FORMAT:-$(command -v clang-format-14 || command -v clang-format || true)}
[[ -n $cf ]] || { echo "check-format: clang-format not found (apt-get install clang-format-14)" >&2; exit 2; }
folders=(common machine drivers controller storage hmi sim app proving bench fuzz tests ctl programme)
mapfile -t files < <(for d in "${folders[@]}"; do [[ -d $d ]] && echo "$d"; done |
  xargs -r -I{} find {} \( -name 'build*' -o -name node_modules \) -prune -o -type f \
    \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' -o -name '*.hh' -o -name '*.cxx' \) -print | sort)
if [[ ${1:-} == --fix ]]; then
  printf '%s\n' "${files[@]}" | xargs -r "$cf" -i --style=file
  exit 0
fi
bad=0 lines=0
for f in "${files[@]}"; do
  n=$("$cf" --style=file "$f" | diff "$f" - | grep -c '^[<>]' || true)
  if ((n)); then echo "$f ($n lines differ)"; bad=$((bad + 1)); lines=$((lines + n)); fi
done
if ((bad)); then
  echo "check-format: $bad of ${#files[@]} files not formatted ($lines diff lines); fix: bash scripts/check-format.sh --fix" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
