#!/usr/bin/env bash
# The release check on a pristine Debian 12 (docs/packaging.md, README "For
# release engineers"). It builds a debootstrap minbase root, copies this
# checkout in, and runs there, exactly as a new machine would:
#   1. bash scripts/demo.sh   until it prints the HMI's address; the page is
#                             fetched and rendered by headless Chromium at
#                             800x480 (screenshot: out/fresh/demo.png);
#   2. bash scripts/test.sh   every test;
#   3. scripts/package.sh     the .deb, built with the network cut off
#                             (offline build), with lintian;
#   4. in a second pristine root (plus the systemd package, as on any Debian
#      12 machine): apt install ./soleus_*.deb, soleusd --check-config,
#      systemd-analyze verify of the installed units, soleusctl --version,
#      then remove and purge, and a diff of the file system against before.
# Usage: scripts/check-fresh.sh [--steps demo,test,package,install] [--keep]
# Needs root, debootstrap and the Debian mirror. Takes about an hour on two
# cores: a release check, not part of the test command. Logs and the
# screenshot go to out/fresh/.
set -euo pipefail
here=${SOLEUS_CHECKOUT:-$(cd "$(dirname "$0")/.." && pwd)}
# Bash reads a script as it runs: run from a copy, so that editing the
# checkout during the hour this takes cannot disturb the run.
if [[ -z ${SOLEUS_CHECKOUT:-} ]]; then
  copy=$(mktemp -d)
  cp -r "$here/scripts" "$copy/"
  SOLEUS_CHECKOUT=$here exec bash "$copy/scripts/check-fresh.sh" "$@"
fi
steps=demo,test,package,install
keep=0
while (($#)); do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--steps demo,test,package,install] [--keep]" >&2; exit 2 ;;
  esac
done
has() { [[ ",$steps," == *",$1,"* ]]; }
[[ $(id -u) == 0 ]] || { echo "check-fresh: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || { apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
work=${SOLEUS_FRESH_DIR:-/var/tmp/soleus-fresh}
out=$here/out/fresh
mkdir -p "$work" "$out"
mirror=${SOLEUS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=$work/bookworm-minbase.tar
t0=$(date +%s)
say() { printf '[check-fresh %4ds] %s\n' $(($(date +%s) - t0)) "$*"; }

source "$here/scripts/lib-fresh-root.sh"

root=$work/root
result=()
if has demo || has test || has package; then
  new_root "$root"
  say "pristine root: $root ($(du -sh "$root" | cut -f1)); $(chroot "$root" dpkg-query -f '.' -W | wc -c) packages"
  copy_checkout "$root/root/soleus"
fi

if has demo; then
  say "1. bash scripts/demo.sh"
  in_root "$root" setsid bash -c 'cd /root/soleus && exec bash scripts/demo.sh' > "$out/demo.log" 2>&1 &
  demo=$!
  hmi=""
  for _ in $(seq 1800); do
    hmi=$(sed -n 's/^  HMI: *\(http[^ ]*\).*/\1/p' "$out/demo.log" | head -1)
    [[ -n $hmi ]] && break
    kill -0 $demo 2>/dev/null || break
    sleep 1
  done
  if [[ -z $hmi ]]; then
    tail -30 "$out/demo.log"; say "demo: no HMI address printed"; result+=("demo FAILED")
  else
    say "demo printed: HMI: $hmi"
    code=$(curl -s -o "$out/demo-index.html" -w '%{http_code}' "$hmi")
    # Headless Chromium of this (host) machine renders the root's page: the
    # root itself stays as the demo left it (the demo installs no browser).
    rm -f "$out/demo.png"
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$(mktemp -d)" --window-size=800,480 --virtual-time-budget=8000 \
      --screenshot="$out/demo.png" "$hmi" > "$out/demo-chromium.log" 2>&1 || true
    dom=$(chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$(mktemp -d)" --virtual-time-budget=8000 --dump-dom "$hmi" 2>/dev/null || true)
    if [[ $code == 200 && -s $out/demo.png ]] && grep -q 'id="screen' <<<"$dom" &&
       grep -q '<script' "$out/demo-index.html"; then
      say "demo: GET / 200, page rendered: $out/demo.png ($(stat -c %s "$out/demo.png") bytes), DOM $(wc -c <<<"$dom") bytes"
      result+=("demo ok: $hmi rendered")
    else
      say "demo: GET / $code, screenshot $(stat -c %s "$out/demo.png" 2>/dev/null || echo none)"
      result+=("demo FAILED: GET / $code")
    fi
  fi
  kill_root "$root" TERM
  for _ in $(seq 30); do kill -0 $demo 2>/dev/null || break; sleep 1; done
  kill_root "$root" KILL
  wait $demo 2>/dev/null || true
  say "demo stopped (log: $out/demo.log)"
fi

if has test; then
  say "2. bash scripts/test.sh"
  s=$(date +%s)
  if in_root "$root" bash -c 'cd /root/soleus && bash scripts/test.sh' > "$out/test.log" 2>&1; then
    say "test.sh passed in $(($(date +%s) - s)) s"
    result+=("test.sh ok in $(($(date +%s) - s)) s")
  else
    tail -40 "$out/test.log"
    say "test.sh FAILED after $(($(date +%s) - s)) s (log: $out/test.log)"
    result+=("test.sh FAILED")
  fi
  grep -E '^== |tests passed|tests failed' "$out/test.log" | sed 's/^/    /' || true
fi

if has package; then
  say "3. scripts/package.sh (build dependencies from apt, then the build with no network)"
  in_root "$root" bash -c 'cd /root/soleus && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpkg-dev debhelper fakeroot lintian >/dev/null && apt-get build-dep -y -qq ./ >/dev/null' \
    > "$out/package-deps.log" 2>&1
  if unshare --net -- bash -c "ip link set lo up; $(declare -f in_root); in_root '$root' bash -c 'cd /root/soleus && bash scripts/package.sh --out /root/deb'" > "$out/package.log" 2>&1; then
    cp "$root"/root/deb/*.deb "$out/"
    grep '^package:' "$out/package.log" | sed 's/^/    /'
    result+=("package ok (built offline; lintian clean)")
  else
    tail -30 "$out/package.log"; result+=("package FAILED")
  fi
fi

if has install; then
  deb=$(ls -t "$out"/soleus_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -1 || true)
  if [[ -z $deb ]]; then
    say "4. no .deb in $out: run with --steps package first"; result+=("install FAILED: no .deb")
  else
    say "4. install, verify, remove, purge $(basename "$deb") in a second pristine root"
    r2=$work/root-install
    new_root "$r2"
    cp "$deb" "$r2/root/"
    bash "$here/scripts/check-package-root.sh" "$r2" "/root/$(basename "$deb")" > "$out/install.log" 2>&1 \
      && result+=("install/verify/purge ok") || { tail -30 "$out/install.log"; result+=("install FAILED"); }
    sed 's/^/    /' "$out/install.log" | grep -E '^    (ok|FAIL|--)' || true
    ((keep)) || rm -rf "$r2"
  fi
fi

((keep)) || rm -rf "$root"
say "summary (logs in $out):"
for r in "${result[@]}"; do echo "  $r"; done
[[ "${result[*]}" != *FAIL* ]]
