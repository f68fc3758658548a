#!/usr/bin/env bash
# systemd-analyze verify on every unit, generated with the build tree's paths
# (verify checks that ExecStart binaries exist). The kiosk unit needs cage and
# chromium (scripts/install-deps.sh installs both); without them it is skipped
# with a note, for a build box set up by hand.
set -euo pipefail
src=$1 sbin=$2 bin=$3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
units=(soleusd.service soleus-sim.service)
if [[ -x /usr/bin/cage && -x /usr/bin/chromium ]]; then
  units+=(soleus-kiosk.service)
else
  echo "note: cage or chromium not installed; soleus-kiosk.service not verified"
fi
for u in "${units[@]}"; do
  sed -e "s|@SOLEUS_SBIN_DIR@|$sbin|g; s|@SOLEUS_BIN_DIR@|$bin|g; s|@SOLEUS_DOC_DIR@|$src/docs|g" \
    "$src/systemd/$u.in" > "$out/$u"
done
cd "$out"
systemd-analyze verify "${units[@]}"
echo "verified: ${units[*]}"
