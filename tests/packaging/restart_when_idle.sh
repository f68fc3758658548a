#!/usr/bin/env bash
# debian/restart-when-idle's decisions (pure logic: systemctl, soleusctl,
# systemd-run and logger are stand-ins that record their calls). The real
# soleusctl wait-idle is tested against a running soleusd in tests/app.
set -euo pipefail
script=$(cd "$(dirname "$0")/../.." && pwd)/debian/restart-when-idle
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"
for cmd in systemctl soleusctl systemd-run logger; do
	cat > "$tmp/bin/$cmd" <<STUB
#!/bin/sh
echo "$cmd \$*" >> "$tmp/calls"
case "$cmd \$1" in
	"systemctl is-active") exit \${ACTIVE_RC:-0} ;;
	"soleusctl wait-idle") exit \${IDLE_RC:-0} ;;
	"systemctl restart") exit \${RESTART_RC:-0} ;;
esac
exit 0
STUB
	chmod +x "$tmp/bin/$cmd"
done
fail=0
# case NAME ENV... -- expect a line (grep -E) / forbid one (!regex)
check() {
	local name=$1; shift
	local envs=()
	while [[ $1 != -- ]]; do envs+=("$1"); shift; done
	shift
	: > "$tmp/calls"
	local out rc=0 bad=0
	out=$(env PATH="$tmp/bin:/usr/bin:/bin" SOLEUS_UPGRADE_WAIT_S=5 "${envs[@]}" sh "$script" 2>&1) || rc=$?
	for want in "$@"; do
		if [[ $want == !* ]]; then
			if grep -qE -- "${want#!}" "$tmp/calls"; then echo "FAIL $name: called '${want#!}'"; bad=1; fi
		elif [[ $want == rc=* ]]; then
			[[ $rc == "${want#rc=}" ]] || { echo "FAIL $name: exit $rc, want ${want#rc=}"; bad=1; }
		elif ! grep -qE -- "$want" "$tmp/calls"; then
			echo "FAIL $name: no call matching '$want'"; bad=1
		fi
	done
	if [[ $bad == 0 ]]; then echo "ok   $name"; else fail=1; fi
	{ echo "--- $name"; cat "$tmp/calls"; echo "$out"; } >> "$tmp/log"
}
check "not running: nothing restarted" ACTIVE_RC=3 -- '!restart' '!wait-idle' rc=0
check "idle: restarted at once" IDLE_RC=0 -- 'wait-idle --timeout 5' '^systemctl restart soleusd.service' '!systemd-run' rc=0
check "API not answering: restarted" IDLE_RC=3 -- '^systemctl restart soleusd.service' rc=0
check "busy at the timeout: deferred, logged, not restarted" IDLE_RC=1 -- \
	'systemd-run .*soleusctl wait-idle' 'logger .*deferred' '!^systemctl restart' rc=0
check "cannot ask (config error): not restarted, logged" IDLE_RC=2 -- '!^systemctl restart' \
	'!systemd-run' 'logger .*cannot ask' rc=0
check "restart fails: exit 1, logged" IDLE_RC=0 RESTART_RC=1 -- 'logger .*failed' rc=1
if [[ $fail != 0 ]]; then cat "$tmp/log"; exit 1; fi
