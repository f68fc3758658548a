#!/usr/bin/env bash
# The installed units, as the build fills them in (with the build tree's
# binaries: verify checks that ExecStart's binaries exist), with the drop-ins
# soleus-generator writes for the reference RTU and TCP configurations:
#  1. soleus-generator exits 0 and writes its drop-ins; on a refused
#     configuration it exits 0, writes nothing and says why;
#  2. systemd-analyze verify prints nothing (a warning fails too);
#  3. systemd-analyze security --offline=true: soleusd.service's exposure is
#     at most 2.5 (--threshold is on a 0-100 scale: 25).
# The kiosk unit needs cage and chromium (scripts/install-deps.sh installs
# both); without them it is left out with a note.
# usage: check-units.sh SOURCE_DIR SOLEUSD_DIR SIM_DIR GENERATOR
set -euo pipefail
src=$1 sbin=$2 bin=$3 generator=$4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

units=(soleusd.service soleus-hmi.socket soleus-sim.service)
if [[ -x /usr/bin/cage && -x /usr/bin/chromium ]]; then
  units+=(soleus-kiosk.service)
else
  echo "note: cage or chromium not installed; soleus-kiosk.service not verified"
fi

fill() {  # fill DIR: the unit templates with the build tree's paths
  for u in soleusd.service soleus-hmi.socket soleus-sim.service soleus-kiosk.service; do
    sed -e "s|@SOLEUS_SBIN_DIR@|$sbin|g; s|@SOLEUS_BIN_DIR@|$bin|g; s|@SOLEUS_DOC_DIR@|$src/docs|g; s|@SOLEUS_CONFIG_FILE@|/etc/soleus/soleus.toml|g" \
      "$src/systemd/$u.in" > "$1/$u"
  done
}

check() {  # check DIR LABEL: verify and security in DIR (its drop-ins included)
  local dir=$1 label=$2 msgs score
  msgs=$(cd "$dir" && systemd-analyze verify "${units[@]}" 2>&1) || fail "$label: verify: $msgs"
  [[ -z $msgs ]] || fail "$label: systemd-analyze verify warned:"$'\n'"$msgs"
  score=$(cd "$dir" && systemd-analyze security --offline=true soleusd.service 2>&1 |
    sed -n 's/.*Overall exposure level for soleusd.service: \([0-9.]*\).*/\1/p')
  [[ -n $score ]] || fail "$label: no exposure level from systemd-analyze security"
  (cd "$dir" && systemd-analyze security --offline=true --threshold=25 soleusd.service > /dev/null) ||
    fail "$label: soleusd.service's exposure $score is above 2.5"
  echo "$label: verify clean (${units[*]}); soleusd.service exposure $score (at most 2.5)"
}

# The units alone: what runs when the generator wrote nothing.
mkdir "$out/plain"
fill "$out/plain"
check "$out/plain" "units alone"

for conf in reference-rtu reference-tcp; do
  d=$out/$conf
  mkdir "$d"
  fill "$d"
  msgs=$("$generator" --config "$src/config/$conf.toml" "$d" "$d/early" "$d/late" 2>&1) ||
    fail "$conf: soleus-generator exited $?: $msgs"
  [[ -z $msgs ]] || fail "$conf: soleus-generator: $msgs"
  [[ -f $d/soleusd.service.d/50-soleus-network.conf ]] || fail "$conf: no network drop-in"
  [[ -f $d/soleus-hmi.socket.d/50-soleus-listen.conf ]] || fail "$conf: no socket drop-in"
  if [[ $conf == reference-rtu ]]; then
    grep -qx 'After=dev-ttySOLEUS.device' "$d/soleusd.service.d/50-soleus-device.conf" ||
      fail "$conf: soleusd.service does not wait for the adapter"
  else
    [[ ! -e $d/soleusd.service.d/50-soleus-device.conf ]] || fail "$conf: a device drop-in for TCP"
    grep -qx 'IPAddressAllow=192.168.10.20' "$d/soleusd.service.d/50-soleus-network.conf" ||
      fail "$conf: the gateway is not allowed"
  fi
  check "$d" "$conf + generator"
done

# A configuration soleusd refuses: exit 0 (never fail the boot), nothing written.
bad=$out/bad.toml
sed 's/^port = 502/port = 70000/' "$src/config/reference-tcp.toml" > "$bad"
msgs=$("$generator" --config "$bad" "$out/bad" "$out/bad.early" "$out/bad.late" 2>&1) ||
  fail "refused configuration: soleus-generator exited $?"
[[ $msgs == *"soleus-generator: "*"transport.port"* ]] ||
  fail "refused configuration: the message does not name the key: $msgs"
[[ ! -e $out/bad ]] || fail "refused configuration: drop-ins were written"
echo "refused configuration: exit 0, nothing written, logged: $msgs"
