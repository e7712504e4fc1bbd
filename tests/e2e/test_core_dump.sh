#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Tokens and secrets stay out of core dumps and swap: the running daemon
# dumps no mapping (coredump_filter 0) and is not dumpable, so a daemon
# killed by SIGSEGV or SIGABRT with `ulimit -c unlimited` leaves no core
# (checked where the kernel writes cores to the crashing process's cwd);
# every mode locks its memory (VmLck), unless --disable-mlock.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (mlockall beyond the default RLIMIT_MEMLOCK)"; exit 77; }

M=$WORK/mnt
CRASH=$WORK/crash
mkdir -p "$CRASH"

# start_in_crash_dir MOUNTPOINT ARGS... : start_cofferd with cwd $CRASH and
# no core size limit.
start_in_crash_dir() {
  local mp=$1
  shift
  mkdir -p "$mp"
  (cd "$CRASH" && ulimit -c unlimited && exec "$COFFERD" "$@" "$mp") >>"$WORK/cofferd.log" 2>&1 &
  DAEMON_PID=$!
  wait_mounted "$mp"
}

# AddressSanitizer intercepts mlockall and makes it a no-op (its shadow
# memory could not be locked), so a sanitized build cannot show VmLck.
locks_memory=1
if ldd "$COFFERD" 2>/dev/null | grep -q 'libasan'; then
  locks_memory=0
  echo "note: $COFFERD is built with AddressSanitizer: the VmLck checks are skipped"
fi
# expect_locked WHAT : the running daemon holds locked memory.
expect_locked() {
  [ "$locks_memory" = 1 ] || return 0
  CHECKS=$((CHECKS + 1))
  local lck
  lck=$(awk '/^VmLck:/ {print $2}' /proc/$DAEMON_PID/status)
  [ "${lck:-0}" -gt 0 ] || fail "$1 locks no memory (VmLck $lck kB)"
}

# Cores go to the crashing process's cwd only with a plain core_pattern;
# otherwise (a pipe to systemd-coredump, an absolute path) only the /proc
# checks run.
pattern=$(cat /proc/sys/kernel/core_pattern)
local_cores=0
case $pattern in
  \|* | /*) echo "note: core_pattern is '$pattern': the crash checks are skipped" ;;
  *) local_cores=1 ;;
esac

for sig in SEGV ABRT; do
  secret="core-secret-$sig-$RANDOM$RANDOM"
  start_in_crash_dir "$M" --dev --dev-root-token-id "root-$sig-token"
  echo "password=$secret" > "$M/secret/app"
  grep -q "$secret" "$M/secret/app" || fail "the secret was not stored"
  expect_eq "$(cat /proc/$DAEMON_PID/coredump_filter)" "00000000" "no mapping is dumped"
  expect_locked "--dev"
  pid=$DAEMON_PID
  kill -"$sig" "$pid"
  wait "$pid" 2>/dev/null || true
  DAEMON_PID=""
  fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null || true
  if [ "$local_cores" = 1 ]; then
    CHECKS=$((CHECKS + 1))
    for core in "$CRASH"/core*; do
      [ -e "$core" ] || continue
      if grep -qa -e "$secret" -e "root-$sig-token" "$core"; then
        fail "SIG$sig left $core, with the secret or the root token in it"
      fi
      fail "SIG$sig left a core: $core"
    done
  fi
done

# --storage locks its memory too; --disable-mlock turns it off.
start_cofferd "$M" --storage "$WORK/coffer.db" --init
expect_locked "--storage"
stop_cofferd "$M"
start_cofferd "$M" --dev --disable-mlock
expect_eq "$(awk '/^VmLck:/ {print $2}' /proc/$DAEMON_PID/status)" "0" "--disable-mlock locks nothing"
stop_cofferd "$M"
pass
