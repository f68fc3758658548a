#!/usr/bin/env bash
# Installs, verifies, removes and purges the .deb in a pristine Debian 12 root
# (scripts/check-fresh.sh makes the root). Usage: check-package-root.sh ROOT DEB
# (DEB as a path inside ROOT). Prints "ok ..." / "FAIL ..." lines; exit 1 on a FAIL.
set -uo pipefail
root=$1 deb=$2
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
# in_root: the same private-mount chroot that check-fresh.sh uses.
source "$(dirname "$0")/lib-fresh-root.sh"
run() { in_root "$root" "$@"; }
# What a file-system diff looks at: everything but the kernel's, apt's and dpkg's own state.
snapshot() {
  run find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
    -o -path /var/cache -o -path /var/lib/apt -o -path /var/lib/dpkg -o -path /var/log \
    -o -path /root \) -prune -o -print | sort
}

echo "-- a Debian 12 system has systemd: installing it first (not part of the package's test)"
run bash -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd >/dev/null' \
  || bad "apt install systemd"
echo "-- the package's dependencies and recommends (cage, chromium) first: installed with the"
echo "   package, then the package alone purged, so that the file-system diff below is the package's own"
run bash -c "apt-get install -y -qq $deb >/dev/null 2>&1 && apt-get purge -y -qq soleus >/dev/null 2>&1" \
  || bad "apt install/purge of the dependencies"
run bash -c 'getent passwd soleus >/dev/null && userdel soleus; getent passwd soleus-kiosk >/dev/null && userdel soleus-kiosk; getent group soleus >/dev/null && groupdel soleus; getent group soleus-kiosk >/dev/null && groupdel soleus-kiosk; true'
before=$(snapshot)
echo "-- apt install $deb (as apt does by default, with its recommends: cage and chromium for the kiosk)"
if out=$(run apt-get install -y "$deb" 2>&1); then
  ok "apt install ./$(basename "$deb")"
  grep -A9 '^soleus: installed' <<<"$out" | sed 's/^/     | /'
else
  echo "$out" | tail -20; bad "apt install"
fi
run dpkg -s soleus | grep -E '^(Version|Depends|Installed-Size):' | sed 's/^/     /'
v=$(run dpkg-query -W -f '${Version}' soleus)
out=$(run soleusd --check-config /etc/soleus/soleus.toml 2>&1) && ok "soleusd --check-config /etc/soleus/soleus.toml: $out" \
  || bad "soleusd --check-config: $out"
out=$(run soleusctl --version 2>&1)
[[ $out == *"$v"* ]] && ok "soleusctl --version: $out (package $v)" || bad "soleusctl --version: '$out', package $v"
for b in soleusd soleus-sim; do
  out=$(run $b --version 2>&1); [[ $out == *"$v"* ]] && ok "$b --version: $out" || bad "$b --version: '$out'"
done
units=$(run bash -c 'ls /lib/systemd/system/soleus*' | tr '\n' ' ')
out=$(run systemd-analyze verify $units 2>&1)
if [[ -z $out ]]; then ok "systemd-analyze verify: clean ($units)"; else echo "$out" | sed 's/^/     /'; bad "systemd-analyze verify"; fi
out=$(run systemctl is-enabled soleusd.service 2>&1 || true)
[[ $out == disabled ]] && ok "soleusd.service installed disabled" || bad "soleusd.service is '$out' after install (want disabled)"
run getent passwd soleus >/dev/null && ok "system user soleus (sysusers)" || bad "no user soleus"
run test -d /var/lib/soleus && ok "/var/lib/soleus (tmpfiles)" || bad "no /var/lib/soleus"
run test -f /usr/share/soleus/hmi/index.html && ok "HMI in /usr/share/soleus/hmi" || bad "no HMI assets"
run test -f /usr/share/doc/soleus/copyright && ok "/usr/share/doc/soleus/copyright" || bad "no copyright file"
for m in man8/soleusd.8 man8/soleusctl.8 man1/soleus-sim.1 man5/soleus.toml.5; do
  run test -f /usr/share/man/$m.gz && ok "man page $m" || bad "no man page $m"
done
run bash -c 'ls /usr/lib/systemd/catalog/soleus.catalog /lib/systemd/catalog/soleus.catalog 2>/dev/null | grep -q .' \
  && ok "journal catalog" || bad "no journal catalog"
run bash -c 'ls /usr/share/bash-completion/completions/soleusctl 2>/dev/null | grep -q .' \
  && ok "bash completion" || bad "no bash completion"
run touch /var/lib/soleus/soleus.db
echo "-- apt remove soleus"
run apt-get remove -y -qq soleus >/dev/null 2>&1 || bad "apt remove"
run test -f /etc/soleus/soleus.toml && ok "remove keeps the conffile /etc/soleus/soleus.toml" || bad "remove deleted the conffile"
run test -f /var/lib/soleus/soleus.db && ok "remove keeps /var/lib/soleus (the database)" || bad "remove deleted /var/lib/soleus"
echo "-- apt purge soleus"
run apt-get purge -y -qq soleus >/dev/null 2>&1 || bad "apt purge"
after=$(snapshot)
extra=$(comm -13 <(echo "$before") <(echo "$after"))
# Policy (Debian Policy 9.2.2): a system user stays after purge, so the account files change.
left=$(grep -vE '^/etc/(passwd|group|shadow|gshadow)-?$' <<<"$extra" || true)
if [[ -z $left ]]; then ok "purge leaves nothing behind (the system user soleus stays, as policy says)"
else echo "$left" | sed 's/^/     left: /'; bad "purge left files behind"; fi
gone=$(comm -23 <(echo "$before") <(echo "$after"))
[[ -z $gone ]] || { echo "$gone" | sed 's/^/     gone: /'; bad "files of the base system vanished"; }
exit $fail
