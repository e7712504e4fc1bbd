# SPDX-License-Identifier: MPL-2.0
# Shared helpers for the end-to-end tests: each test mounts a real cofferd in
# its own temporary directory, drives it with ordinary shell commands, and
# always unmounts and stops what it started (trap on EXIT).
# Exit codes: 0 pass, 1 fail, 77 skip (no /dev/fuse or fusermount3).
set -euo pipefail

: "${COFFERD:?set COFFERD to the cofferd binary}"
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
command -v fusermount3 >/dev/null || { echo "SKIP: fusermount3 missing (package fuse3)"; exit 77; }

WORK=$(mktemp -d /tmp/coffer-e2e.XXXXXX)
chmod 755 "$WORK"   # other uids (setpriv) must reach the mountpoint
DAEMON_PID=""
MOUNTS=()
CHECKS=0

cleanup() {
  local mp
  for mp in "${MOUNTS[@]}"; do
    if mountpoint -q "$mp" 2>/dev/null; then
      fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp" 2>/dev/null || true
    fi
  done
  if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
    kill -KILL "$DAEMON_PID" 2>/dev/null || true
  fi
  if [ "${KEEP_WORK:-0}" != 1 ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  if [ -f "$WORK/cofferd.log" ]; then
    echo "--- cofferd log (last 30 lines) ---" >&2
    tail -n 30 "$WORK/cofferd.log" >&2
  fi
  exit 1
}

# start_cofferd MOUNTPOINT ARGS... : runs cofferd in the background (log in
# $WORK/cofferd.log) and waits until MOUNTPOINT is mounted.
start_cofferd() {
  local mp=$1
  shift
  mkdir -p "$mp"
  "$COFFERD" "$@" "$mp" >>"$WORK/cofferd.log" 2>&1 &
  DAEMON_PID=$!
  wait_mounted "$mp"
}

# wait_mounted MOUNTPOINT : after starting cofferd (pid in DAEMON_PID) for
# MOUNTPOINT, records it for cleanup and waits until it is mounted.
wait_mounted() {
  local mp=$1 i
  MOUNTS+=("$mp")
  for i in $(seq 1 100); do
    mountpoint -q "$mp" && return 0
    kill -0 "$DAEMON_PID" 2>/dev/null || fail "cofferd exited before mounting $mp"
    sleep 0.05
  done
  fail "cofferd did not mount $mp within 5 s"
}

# stop_cofferd MOUNTPOINT : SIGTERM, which must unmount cleanly and exit 0.
stop_cofferd() {
  local mp=$1 rc=0
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID" || rc=$?
  [ "$rc" = 0 ] || fail "cofferd exited with $rc on SIGTERM"
  ! mountpoint -q "$mp" || fail "$mp still mounted after SIGTERM"
  DAEMON_PID=""
}

# kill9_cofferd MOUNTPOINT : crash the daemon, then clear the dead mount.
kill9_cofferd() {
  local mp=$1
  kill -KILL "$DAEMON_PID"
  wait "$DAEMON_PID" 2>/dev/null || true
  DAEMON_PID=""
  fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp" 2>/dev/null || true
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  CHECKS=$((CHECKS + 1))
  [ "$1" == "$2" ] || fail "$3: expected [$2], got [$1]"
}

# expect_ok WHAT CMD... : CMD must succeed.
expect_ok() {
  local what=$1
  shift
  CHECKS=$((CHECKS + 1))
  "$@" >"$WORK/out" 2>"$WORK/err" || fail "$what: [$*] failed: $(cat "$WORK/err")"
}

# expect_err MESSAGE WHAT CMD... : CMD must fail and say MESSAGE (the strerror
# text of the expected errno, e.g. "Invalid argument").
expect_err() {
  local message=$1 what=$2
  shift 2
  CHECKS=$((CHECKS + 1))
  if "$@" >"$WORK/out" 2>"$WORK/err"; then fail "$what: [$*] succeeded, expected \"$message\""; fi
  grep -q -- "$message" "$WORK/err" || fail "$what: expected \"$message\", got: $(cat "$WORK/err")"
}

# jqr FILTER FILE : one value from a JSON file, raw (jq -r).
jqr() { jq -r "$1" "$2"; }

# as_nobody CMD... : run CMD as uid/gid 65534 with no supplementary groups.
# init_store MOUNT [BODY] : sys/init through MOUNT (one share unless BODY
# says otherwise); the reply (keys, root_token) lands in $WORK/init.json.
init_store() {
  local body='{"secret_shares":1,"secret_threshold":1}'
  [ $# -lt 2 ] || body=$2
  exec 3<>"$1/sys/init"
  echo "$body" >&3
  cat <&3 > "$WORK/init.json"
  exec 3>&-
}

# start_store_config CONFIG MOUNTPOINT : cofferd --config CONFIG (a SQLite
# store with init = true, MOUNTPOINT one of its unbound mounts) in the
# background; then sys/init and sys/unseal through MOUNTPOINT, and the root
# token as this uid's session there (so this shell's own opens use it; other
# mounts are for other tests' purposes). ROOT_TOKEN is set.
start_store_config() {
  local config=$1 mp=$2
  "$COFFERD" -f --config "$config" >>"$WORK/cofferd.log" 2>&1 &
  DAEMON_PID=$!
  wait_mounted "$mp"
  init_store "$mp"
  jq -r '.keys[0]' "$WORK/init.json" > "$mp/sys/unseal"
  ROOT_TOKEN=$(jq -r .root_token "$WORK/init.json")
  echo "$ROOT_TOKEN" > "$mp/auth/token/session"
}

# as_user UID CMD... : CMD as UID with an empty environment (no VAULT_TOKEN:
# the uid's login session on the mount is its token).
as_user() {
  local uid=$1
  shift
  setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i PATH="$PATH" "$@"
}

# expect_false WHAT CMD... : CMD must fail (any error).
expect_false() {
  local what=$1
  shift
  CHECKS=$((CHECKS + 1))
  if "$@" >"$WORK/out" 2>"$WORK/err"; then fail "$what: expected a failure, got: $(cat "$WORK/out")"; fi
}

as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

pass() { echo "PASS: $(basename "$0") ($CHECKS checks)"; }
