#!/usr/bin/env bash
# Checks the third-party files kept in the tree (hmi/web/vendor/*/VENDOR).
#   scripts/check-vendor.sh            offline: each vendored file has the sha256
#                                      its VENDOR file records (the test command
#                                      runs this: a hand-edited library fails)
#   scripts/check-vendor.sh --registry also downloads the released tarball, checks
#                                      it against the recorded npm integrity
#                                      (sha512) and compares every vendored file
#                                      with the tarball's copy (needs network)
#   scripts/check-vendor.sh --update   after changing version/tarball/integrity in
#                                      a VENDOR file: fetch, verify, copy the files
#                                      in and rewrite their sha256 lines
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
mode=offline
case "${1:-}" in
  "") ;;
  --registry) mode=registry ;;
  --update) mode=update ;;
  *) echo "usage: $0 [--registry|--update]" >&2; exit 2 ;;
esac
fail=0
for vendor in "$here"/hmi/web/vendor/*/VENDOR; do
  dir=$(dirname "$vendor")
  name=$(sed -n 's/^name=//p' "$vendor")
  version=$(sed -n 's/^version=//p' "$vendor")
  if [[ $mode != offline ]]; then
    tarball=$(sed -n 's/^tarball=//p' "$vendor")
    integrity=$(sed -n 's/^integrity=//p' "$vendor")
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    curl -sSfL -o "$tmp/pkg.tgz" "$tarball"
    got="sha512-$(openssl dgst -sha512 -binary "$tmp/pkg.tgz" | base64 -w0)"
    if [[ $got != "$integrity" ]]; then
      echo "check-vendor: $name $version: the tarball's integrity is $got, VENDOR records $integrity" >&2
      exit 1
    fi
    tar -xzf "$tmp/pkg.tgz" -C "$tmp"
    echo "check-vendor: $name $version: tarball $tarball matches the recorded integrity"
  fi
  while read -r file src sum; do
    if [[ $mode == update ]]; then
      cp "$tmp/$src" "$dir/$file"
      new=$(sha256sum "$dir/$file" | cut -d' ' -f1)
      sed -i "s|^file=$file $src .*|file=$file $src $new|" "$vendor"
      echo "check-vendor: $name: $file <- $src ($new)"
      continue
    fi
    if [[ ! -f $dir/$file ]]; then
      echo "check-vendor: $name: $dir/$file is missing" >&2; fail=1; continue
    fi
    have=$(sha256sum "$dir/$file" | cut -d' ' -f1)
    if [[ $have != "$sum" ]]; then
      echo "check-vendor: $name: $dir/$file has sha256 $have, VENDOR records $sum (edited by hand?)" >&2
      fail=1
    fi
    if [[ $mode == registry ]] && ! cmp -s "$tmp/$src" "$dir/$file"; then
      echo "check-vendor: $name: $file differs from $src in the released tarball" >&2
      fail=1
    fi
  done < <(sed -n 's/^file=//p' "$vendor")
  [[ $fail == 0 && $mode != update ]] && echo "check-vendor: $name $version: vendored files OK ($mode)"
done
exit $fail
