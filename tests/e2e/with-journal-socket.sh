#!/bin/bash
# with-journal-socket.sh OUT CMD [ARG...]
# Runs CMD in a private mount namespace whose /run is a fresh tmpfs holding a
# journal socket (/run/systemd/journal/socket, the fixed path libsystemd sends
# to): socat receives the datagrams and appends them to OUT, as sent (the
# native journal protocol). CI has no journald; this stands in for it. Root
# only (unshare, mount). Exits with CMD's status; 77 when the namespace
# cannot be made.
set -uo pipefail
if [ "${1:-}" != --inside ]; then
  unshare --mount --propagation private true 2>/dev/null || exit 77
  exec unshare --mount --propagation private bash "$0" --inside "$@"
fi
shift
out=$1
shift
mount -t tmpfs -o mode=0755 tmpfs /run || exit 77
mkdir -p /run/systemd/journal
: >"$out"
socat -u UNIX-RECV:/run/systemd/journal/socket "OPEN:$out,append" &
recv=$!
for _ in $(seq 100); do
  [ -S /run/systemd/journal/socket ] && break
  sleep 0.02
done
"$@" &
cmd=$!
trap 'kill -TERM $cmd 2>/dev/null' TERM INT
wait $cmd
rc=$?
while kill -0 $cmd 2>/dev/null; do wait $cmd; rc=$?; done  # a trapped signal ends the first wait
sleep 0.2  # the last datagrams
kill $recv 2>/dev/null
exit $rc
