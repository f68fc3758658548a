#!/usr/bin/env bash
# Each program's --version prints "NAME VERSION" (NAME its file name, VERSION
# the project() version of the top CMakeLists.txt, given by CMake) and exits 0.
# Usage: version.sh VERSION PROGRAM...
# Exit: 0 all right, 1 a wrong line or exit code, 2 usage, 77 a program is not
# built (a build of some targets only; ctest: skipped).
set -uo pipefail
[[ $# -ge 2 ]] || { echo "usage: version.sh VERSION PROGRAM..." >&2; exit 2; }
version=$1
shift
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version.sh: '$version' is not x.y.z" >&2; exit 2; }
for exe in "$@"; do
  [[ -x $exe ]] || { echo "version.sh: $exe not built: skipped" >&2; exit 77; }
done
status=0
for exe in "$@"; do
  name=$(basename "$exe")
  out=$("$exe" --version 2>&1)
  rc=$?
  if [[ $rc -ne 0 || $out != "$name $version" ]]; then
    echo "$name --version: exit $rc, printed '$out'; expected exit 0 and '$name $version'"
    status=1
  else
    echo "$name --version: $out"
  fi
done
exit $status
