#!/usr/bin/env bash
# ThreadSanitizer run (issue 10, section 5): builds, into build-tsan/, only
# the tests whose code runs on several threads, and runs them under TSan.
# Any report fails the run.
#
#   test_controller           the control loop's thread and its queues (SpscRing,
#                             CommandQueue, Latest), the loop's real-thread test
#   test_storage_unit         the writer's lock-free queue with two producers
#   test_storage_integration  the writer thread: batching, stalls, faults, backup
#   test_storage_power_cut    the writer in a child process cut at the VFS
#   test_hmi_unit/_server     the Beast server's threads, live hub, lockouts
#   test_app_daemon_api       soleusd itself (loop, main thread, writer, HMI
#                             server, hmi::Backend in app/backend.cpp) built
#                             with TSan and driven over HTTP, with soleus-sim
#
# halt_on_error=1: a test process stops at its first report. Reports go to
# build-tsan/tsan-reports/ (log_path), also those of the soleusd and
# soleus-sim processes the tests start; the run fails if that folder holds
# anything, whatever the tests' own verdicts. Suppressions: tests/tsan.supp
# (each entry says why it is not a race of ours).
#
# -O1 -g: TSan's own advice (Debug's -O0 doubles the run time). Build type
# Debug, so assert() stays on.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$here/build-tsan}
jobs=${JOBS:-$(nproc)}
targets="test_controller test_storage_unit test_storage_integration test_storage_power_cut
  test_hmi_unit test_hmi_server test_app_daemon_api"

start=$(date +%s)
echo "== ThreadSanitizer build ($build)"
BUILD_DIR="$build" JOBS="$jobs" TARGETS="$(echo $targets)" bash "$here/scripts/build.sh" \
  -DSOLEUS_WERROR=ON -DSOLEUS_TSAN=ON -DSOLEUS_TESTS=ON -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g"
built=$(date +%s)

reports="$build/tsan-reports"
rm -rf "$reports"
mkdir -p "$reports"
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 history_size=4 \
suppressions=$here/tests/tsan.supp log_path=$reports/tsan"

echo "== tests under ThreadSanitizer"
# Only the targets built above carry a label: the others are placeholders
# (NOT_BUILT, no label). systemd-analyze-verify (integration) is not ours to run here.
# The real-time daemon tests get the second chance the test command gives
# them (a shared machine, and TSan's 5-15x slowdown); a report is caught by
# the reports folder either way.
status=0
ctest --test-dir "$build" -j"$jobs" -L 'unit|integration' -E 'systemd' \
  --output-on-failure --timeout 600 || status=1
ctest --test-dir "$build" -j"$jobs" -L 'realtime' --output-on-failure --timeout 600 \
  --repeat until-pass:2 || status=1

if compgen -G "$reports/tsan*" >/dev/null; then
  echo "ThreadSanitizer reports:"
  for f in "$reports"/tsan*; do
    echo "---- $f"
    cat "$f"
  done
  status=1
fi
end=$(date +%s)
echo "== ThreadSanitizer: build $((built - start)) s, tests $((end - built)) s," \
  "$( [ $status -eq 0 ] && echo 'no report' || echo 'FAILED' )"
exit $status
