#!/usr/bin/env bash
# systemd-analyze verify on every unit, generated with the build tree's paths
# (verify checks that ExecStart binaries exist). The kiosk unit needs cage,
# which only the machine's image has; it is verified where cage is installed.
set -euo pipefail
src=$1 sbin=$2 bin=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
units=(soleusd.service soleus-sim.service)
[[ -x /usr/bin/cage ]] && units+=(soleus-kiosk.service) || echo "note: /usr/bin/cage not installed; soleus-kiosk.service not verified"
for u in "${units[@]}"; do
  sed -e "s|@SOLEUS_SBIN_DIR@|$sbin|g; s|@SOLEUS_BIN_DIR@|$bin|g; s|@SOLEUS_DOC_DIR@|$src/docs|g" \
    "$src/systemd/$u.in" > "$out/$u"
done
cd "$out"
systemd-analyze verify "${units[@]}"
echo "verified: ${units[*]}"
