#!/usr/bin/env bash
# The arm64 build (the machine's board) on this amd64 machine, in a Debian 12
# root of its own so that this machine's packages stay as they are:
#   1. a pristine bookworm root (scripts/lib-fresh-root.sh) with multiarch
#      arm64, crossbuild-essential-arm64, qemu-user, and the package's build
#      dependencies for arm64 (apt-get build-dep -a arm64);
#   2. the arm64 .deb: scripts/package.sh --arch arm64 (dpkg-buildpackage
#      -a arm64, profile cross), with lintian;
#   3. the unit tests of an arm64 build (cmake/aarch64-linux-gnu.cmake), run
#      under qemu-aarch64 named as CMAKE_CROSSCOMPILING_EMULATOR (no
#      binfmt_misc): ctest -L unit. Tests that start processes are not
#      unit-labelled and are out of scope under emulation.
# Usage: scripts/cross-arm64.sh [--keep]   (root; about 40 min on two cores)
# Output: out/arm64/ (the .deb, logs, figures).
set -euo pipefail
here=${SOLEUS_CHECKOUT:-$(cd "$(dirname "$0")/.." && pwd)}
if [[ -z ${SOLEUS_CHECKOUT:-} ]]; then
  copy=$(mktemp -d)
  cp -r "$here/scripts" "$copy/"
  SOLEUS_CHECKOUT=$here exec bash "$copy/scripts/cross-arm64.sh" "$@"
fi
keep=0
[[ ${1:-} == --keep ]] && keep=1
[[ $(id -u) == 0 ]] || { echo "cross-arm64: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
work=${SOLEUS_FRESH_DIR:-/var/tmp/soleus-fresh}
out=$here/out/arm64
mkdir -p "$work" "$out"
mirror=${SOLEUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=$work/bookworm-minbase.tar
t0=$(date +%s)
say() { printf '[cross-arm64 %4ds] %s\n' $(($(date +%s) - t0)) "$*"; }
source "$here/scripts/lib-fresh-root.sh"

root=$work/root-arm64
new_root "$root"
copy_checkout "$root/root/soleus"
say "1. multiarch arm64, cross toolchain, qemu-user, build dependencies for arm64"
s=$(date +%s)
in_root "$root" bash -c '
  set -e
  dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    crossbuild-essential-arm64 qemu-user dpkg-dev debhelper fakeroot lintian cmake pkg-config >/dev/null
  cd /root/soleus && DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq -a arm64 ./ >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends doctest-dev >/dev/null' \
  > "$out/deps.log" 2>&1 || { tail -30 "$out/deps.log"; exit 1; }
say "   done in $(($(date +%s) - s)) s"

say "2. the arm64 package: scripts/package.sh --arch arm64"
s=$(date +%s)
in_root "$root" bash -c 'cd /root/soleus && bash scripts/package.sh --arch arm64 --out /root/deb' \
  > "$out/package.log" 2>&1 || { tail -40 "$out/package.log"; exit 1; }
cp "$root"/root/deb/soleus_*_arm64.deb "$out/"
grep '^package:' "$out/package.log"
deb=$(ls "$out"/soleus_*_arm64.deb | head -1)
say "   $(basename "$deb"): $(dpkg-deb -f "$deb" Architecture), $(du -k "$deb" | cut -f1) KiB; soleusd: $(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/sbin/soleusd > "$out/soleusd.arm64" && readelf -h "$out/soleusd.arm64" | sed -n 's/^ *Machine: *//p'; rm -f "$out/soleusd.arm64") ($(($(date +%s) - s)) s)"

say "3. the unit tests of an arm64 build under qemu-aarch64"
s=$(date +%s)
jobs=$(nproc)
in_root "$root" bash -c "cd /root/soleus && cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DSOLEUS_TESTS=ON -DSOLEUS_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO='-O2 -DNDEBUG' >/dev/null \
  && cmake --build build-arm64 -j$jobs --target unit-tests" > "$out/build-tests.log" 2>&1 \
  || { tail -40 "$out/build-tests.log"; exit 1; }
b=$(($(date +%s) - s))
s=$(date +%s)
set +e
in_root "$root" bash -c "cd /root/soleus/build-arm64 && ctest -L unit -j$jobs --timeout 900 --output-on-failure" \
  > "$out/ctest.log" 2>&1
rc=$?
set -e
grep -E 'tests passed|tests failed|Total Test time|\(Failed\)|\*\*\*' "$out/ctest.log" | head -20
say "   build of the unit tests $b s; ctest under qemu-aarch64 $(($(date +%s) - s)) s, exit $rc"
t=$(find "$root/root/soleus/build-arm64/tests" -type f -name 'test_*' -perm -u+x | head -1)
[[ -n $t ]] && echo "  a test binary: ${t#"$root"}: $(readelf -h "$t" | sed -n 's/^ *Machine: *//p')"
((keep)) || rm -rf "$root"
exit $rc
