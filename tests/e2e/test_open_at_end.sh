#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Files still open when a mount's session ends get no RELEASE from the
# kernel: the daemon releases their handles itself (each one's contents
# zeroed as it is freed) and says how many there were. Here two processes
# keep a secret open across a SIGTERM, and a cat before them opened and
# closed it (released the usual way, so not counted).
source "$(dirname "$0")/lib.sh"

M=$WORK/mnt
start_cofferd "$M" --dev
echo 'password=kept-open' > "$M/secret/app"
cat "$M/secret/app" >/dev/null                       # opened and released
sleep 1000 < "$M/secret/app" &
HOLD1=$!
sleep 1000 < "$M/secret/app" &
HOLD2=$!
# Both opens answered before the stop.
for i in $(seq 1 100); do
  [ "$(readlink /proc/$HOLD1/fd/0 /proc/$HOLD2/fd/0 2>/dev/null | grep -c secret/app)" = 2 ] && break
  sleep 0.05
done
expect_eq "$(readlink /proc/$HOLD1/fd/0 /proc/$HOLD2/fd/0 | grep -c secret/app)" 2 "both holders have the file open"

kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=""
kill "$HOLD1" "$HOLD2" 2>/dev/null || true
wait "$HOLD1" "$HOLD2" 2>/dev/null || true
expect_eq "$rc" 0 "cofferd's exit status on SIGTERM with files open"
grep -q "released 2 file(s) still open at the end of $M" "$WORK/cofferd.log" ||
  fail "the log does not say the two open files were released"
CHECKS=$((CHECKS + 1))
pass
