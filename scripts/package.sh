#!/usr/bin/env bash
# Builds Soleus's Debian package (debian/, debhelper + CMake) from this
# checkout, then runs lintian on it. docs/packaging.md.
#   scripts/package.sh [--arch arm64] [--nocheck] [--no-lintian] [--out DIR]
#   --arch arm64  cross-build for the machine's board (scripts/cross-arm64.sh
#                 installs the cross toolchain and :arm64 libraries first)
#   --nocheck     skip the unit tests of the package build (a cross build
#                 skips them anyway: scripts/cross-arm64.sh runs them under qemu)
# The .deb (and its -dbgsym) go to DIR (default out/deb). The build works
# offline: the HMI's chart library is vendored (hmi/web/vendor).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
arch="" nocheck=0 lintian=1 out="$here/out/deb"
while (($#)); do
  case $1 in
    --arch) arch=$2; shift 2 ;;
    --nocheck) nocheck=1; shift ;;
    --no-lintian) lintian=0; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--arch ARCH] [--nocheck] [--no-lintian] [--out DIR]" >&2; exit 2 ;;
  esac
done
version=$(sed -n '1s/^soleus (\([^)]*\)).*/\1/p' "$here/debian/changelog")
stage=$(mktemp -d "${TMPDIR:-/tmp}/soleus-pkg.XXXXXX")
trap 'rm -rf "$stage"' EXIT
src="$stage/soleus-$version"
mkdir -p "$src" "$out"
# The checkout's files (tracked and new, not ignored): no build trees, no node_modules.
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$here" && git ls-files -z --cached --others --exclude-standard | grep -zv '^tests/browser/' |
     xargs -0 -I{} sh -c 'test -e "{}" && printf "%s\0" "{}"' | tar --null -T - -cf -) | tar -xf - -C "$src"
else
  tar -C "$here" --exclude='./build*' --exclude=./out --exclude=node_modules --exclude=./.git -cf - . | tar -xf - -C "$src"
fi
opts=(-b -us -uc)
[[ -n $arch ]] && opts+=(-a "$arch")
profiles=()
if ((nocheck)); then
  export DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}"
  profiles+=(nocheck)
fi
[[ -n $arch ]] && profiles+=(cross)
((${#profiles[@]})) && opts+=("-P$(IFS=,; echo "${profiles[*]}")")
jobs=$(nproc)
export DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}"
echo "package: building soleus $version ${arch:-$(dpkg --print-architecture)} in $src"
start=$(date +%s)
(cd "$src" && dpkg-buildpackage "${opts[@]}") > "$out/build-${arch:-native}.log" 2>&1 || {
  tail -40 "$out/build-${arch:-native}.log" >&2
  echo "package: dpkg-buildpackage failed (log: $out/build-${arch:-native}.log)" >&2
  exit 1
}
a=${arch:-$(dpkg --print-architecture)}
mv "$stage"/soleus*_"$version"_"$a".deb "$stage"/soleus_"$version"_"$a".buildinfo "$stage"/soleus_"$version"_"$a".changes "$out"/ 2>/dev/null || true
deb="$out/soleus_${version}_$a.deb"
[[ -f $deb ]] || { echo "package: no $deb" >&2; exit 1; }
echo "package: $deb ($(du -k "$deb" | cut -f1) KiB, installed size $(dpkg-deb -f "$deb" Installed-Size) KiB) in $(($(date +%s) - start)) s"
echo "package: Depends: $(dpkg-deb -f "$deb" Depends)"
if ((lintian)); then
  echo "package: lintian $(lintian --version | cut -d' ' -f2)"
  # Errors fail; warnings are fixed or overridden with a reason (debian/soleus.lintian-overrides).
  lintian --fail-on error,warning --display-info "$out/soleus_${version}_$a.changes"
  echo "package: lintian: no errors, no warnings"
fi
