#!/usr/bin/env bash
# Installs everything Soleus needs to build, run and test on Debian 12.
# Idempotent: packages already present are left alone; apt-get update runs
# only when something is missing.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libboost1.81-dev libboost-json1.81-dev
  libmodbus-dev libsqlite3-dev sqlite3 doctest-dev libtomlplusplus-dev libsystemd-dev libssl-dev
  socat mbpoll
  libmosquitto-dev  # issue 14's fleet link (MQTT client)
  mosquitto openssl  # the real broker of the fleet tests (tests/support/mosquitto_rig.hpp: mosquitto_passwd, the test CA); the package's own broker service on 1883 is not used
  mosquitto-clients  # mosquitto_sub/pub of docs/fleet/broker.md's checks
  clang-16 libfuzzer-16-dev libclang-rt-16-dev  # the fuzz targets (scripts/fuzz.sh): Debian's clang, libFuzzer and the sanitizer runtimes (not pulled in under --no-install-recommends)
  clang-format-14 clang-tidy-16  # scripts/check-format.sh (test command), scripts/tidy.sh (long check)
  curl ca-certificates procps
  groff-base  # tests/man: man_lint renders every man page with groff -ww
  python3 python3-prometheus-client python3-yaml  # GET /metrics read back by prometheus_client's parser; docs/fleet/ examples checked (tests/hmi, tests/app)
  systemd  # journalctl (the journal catalog test), systemd-analyze (the units tests), systemd.pc; not made PID 1
)
# Browser tests (HMI) need Chromium and Node.js; nodejs/npm come from Debian
# (Node.js 18 on Debian 12) when the image has none. Building the HMI needs
# neither: its chart library is vendored (hmi/web/vendor).
if [[ "${SOLEUS_WITH_BROWSER:-1}" == 1 ]]; then
  PKGS+=(chromium)
  # cage: the kiosk compositor of soleus-kiosk.service (verified by the tests;
  # the demo command shows the HMI in a normal browser instead).
  PKGS+=(cage)
  command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
  command -v npm  >/dev/null 2>&1 || PKGS+=(npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A Node.js older than the browser tests' lock file allows is refused here,
# with the package that needs more, rather than failing later mid-test.
if [[ "${SOLEUS_WITH_BROWSER:-1}" == 1 ]]; then
  node "$(cd "$(dirname "$0")/.." && pwd)/tests/browser/check-node.mjs"
fi
