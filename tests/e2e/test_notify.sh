#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Word of every change, on two mounts of one daemon (A for writers, B for
# watchers, `inotify = true`):
# - change events: `cat B/sys/events/subscribe/kv-v2/data-write` streams a
#   write made through A in Vault's JSON shape, with coffer_path and no
#   secret value; a type glob; the first write's filter; no token is
#   refused; a token without `subscribe` sees nothing; a revoked token's
#   stream stops at once; a slow reader gets the events-lost line;
# - poll(2): a process blocked in poll() on an open secret wakes (POLLPRI)
#   within a second of a write made through A, and sleeps without one; a
#   stream fd is POLLIN when an event is queued;
# - inotify: inotifywait on B sees IN_MODIFY/IN_CLOSE_WRITE, IN_CREATE and
#   IN_DELETE for changes made through A; the replay changes neither the
#   secret's version nor the audit log; a "replay" forged by another process
#   is an ordinary request (denied without a token).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
command -v inotifywait >/dev/null || { echo "SKIP: inotifywait missing (inotify-tools)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to other uids)"; exit 77; }
# Watchers and streams started in the background end with the test, even a
# failed one, before lib.sh unmounts.
trap 'kill $(jobs -p) 2>/dev/null || true; cleanup' EXIT

DB=$WORK/coffer.db
A=$WORK/a
B=$WORK/b
AUDIT=$WORK/audit.log
U1=61011
U2=61012
U3=61013

# as_user UID TOKEN CMD... : CMD as UID with only PATH and (if TOKEN is not
# empty) VAULT_TOKEN in its environment.
as_user() {
  local uid=$1 tok=$2
  shift 2
  if [ -n "$tok" ]; then
    setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i PATH="$PATH" VAULT_TOKEN="$tok" "$@"
  else
    setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i PATH="$PATH" "$@"
  fi
}

# mktoken BODY : a token made through A/auth/token/create; prints it.
mktoken() {
  local out
  out=$(exec 3<>"$A/auth/token/create"; echo "$1" >&3; cat <&3)
  jq -r .auth.client_token <<<"$out"
}

# version NAME : the current version of secret/NAME (through A).
version() { jqr .current_version "$A/secret/$1@metadata"; }

cat > "$WORK/coffer.hcl" <<EOF
storage "sqlite" {
  path = "$DB"
  init = true
}
mount "$A" { allow_other = true }
mount "$B" {
  allow_other = true
  inotify     = true
}
disable_mlock = true
EOF
mkdir -p "$A" "$B"
"$COFFERD" --config "$WORK/coffer.hcl" >>"$WORK/cofferd.log" 2>&1 &
DAEMON_PID=$!
wait_mounted "$A"
wait_mounted "$B"
init_store "$A"
jqr '.keys[0]' "$WORK/init.json" > "$A/sys/unseal"
ROOT=$(jqr .root_token "$WORK/init.json")
echo "$ROOT" > "$A/auth/token/session"
echo "$ROOT" > "$B/auth/token/session"
echo 'type=kv-v2' > "$A/sys/mounts/secret"
mkdir "$A/secret/app"
echo 'pw=first-S3CRET' > "$A/secret/app/db"

# --- events: a write through A reaches a stream on B ---------------------------------
EV=$B/sys/events/subscribe
expect_eq "$(ls "$EV/kv-v2" | grep -cx data-write)" "1" "ls shows the KV v2 types"
timeout 2 cat "$EV/kv-v2/data-write" > "$WORK/ev1" 2>/dev/null &
CAT=$!
sleep 0.5
echo 'pw=second-S3CRET' > "$A/secret/app/db"
wait "$CAT" || true
expect_eq "$(jq -s length "$WORK/ev1")" "1" "one event for one write"
expect_eq "$(jq -r .data.event_type "$WORK/ev1")" "kv-v2/data-write" "event_type"
expect_eq "$(jq -r .data.event.metadata.operation "$WORK/ev1")" "data-write" "operation"
expect_eq "$(jq -r .data.event.metadata.data_path "$WORK/ev1")" "secret/data/app/db" "data_path"
expect_eq "$(jq -r .data.event.metadata.path "$WORK/ev1")" "secret/data/app/db" "path"
expect_eq "$(jq -r .data.event.metadata.current_version "$WORK/ev1")" "2" "current_version"
expect_eq "$(jq -r .data.event.metadata.coffer_path "$WORK/ev1")" "secret/app/db" "coffer_path"
expect_eq "$(jq -r .data.plugin_info.mount_path "$WORK/ev1")" "secret/" "plugin_info.mount_path"
expect_eq "$(jq -r .specversion "$WORK/ev1")" "1.0" "CloudEvents specversion"
expect_eq "$(jq -r '.id == .data.event.id' "$WORK/ev1")" "true" "one id"
expect_eq "$(grep -c S3CRET "$WORK/ev1" || true)" "0" "no secret value in the event"
expect_eq "$(cat "$B/secret/app/db#pw")" "second-S3CRET" "the file coffer_path names has the new value"

# A glob, and a filter given as the first write on the same fd.
timeout 2 cat "$EV/kv*" > "$WORK/ev2" 2>/dev/null &
CAT=$!
(
  exec 3<>"$EV/kv*"
  echo 'filter=operation != "data-write"' >&3
  timeout 2 cat <&3 > "$WORK/ev3" 2>/dev/null || true
) &
SUB=$!
sleep 0.5
echo 'pw=third' > "$A/secret/app/db"
rm "$A/secret/app/db"
wait "$CAT" "$SUB" || true
expect_eq "$(jq -r .data.event_type "$WORK/ev2" | tr '\n' ' ')" "kv-v2/data-write kv-v2/data-delete " "kv* sees write and delete"
expect_eq "$(jq -r .data.event_type "$WORK/ev3" | tr '\n' ' ')" "kv-v2/data-delete " "the filter drops the write"
expect_err "Invalid argument" "a bad filter is refused" bash -c "exec 3<>'$EV/kv*'; echo 'filter=operation ~ 1' >&3"
echo 'pw=fourth' > "$A/secret/app/db"

# --- events: who may subscribe ----------------------------------------------------
cat > "$A/sys/policies/acl/open-only" <<'HCL'
path "sys/events/subscribe/*" {
  capabilities = ["read"]
}
path "secret/data/*" {
  capabilities = ["read"]
}
HCL
cat > "$A/sys/policies/acl/subscriber" <<'HCL'
path "sys/events/subscribe/*" {
  capabilities = ["read"]
}
path "secret/data/app/*" {
  capabilities = ["read", "subscribe"]
  subscribe_event_types = ["kv*"]
}
HCL
T1=$(mktoken 'policies=open-only')
T2=$(mktoken 'policies=subscriber')
expect_err "Permission denied" "no token: the stream is refused" as_user "$U3" "" cat "$EV/kv-v2/data-write"
as_user "$U1" "$T1" timeout 2 cat "$EV/kv-v2/data-write" > "$WORK/ev4" 2>/dev/null &
C1=$!
as_user "$U2" "$T2" timeout 2 cat "$EV/kv-v2/data-write" > "$WORK/ev5" 2>/dev/null &
C2=$!
sleep 0.5
echo 'pw=fifth' > "$A/secret/app/db"
echo 'pw=other' > "$A/secret/outside"
wait "$C1" "$C2" || true
expect_eq "$(wc -c < "$WORK/ev4")" "0" "read without subscribe: no events"
expect_eq "$(jq -r .data.event.metadata.coffer_path "$WORK/ev5" | tr '\n' ' ')" "secret/app/db " \
  "subscribe on secret/data/app/*: that event only"

# A revoked token's stream stops at once (Vault allows it 5 minutes).
as_user "$U2" "$T2" timeout 20 cat "$EV/kv-v2/data-write" > "$WORK/ev6" 2>"$WORK/ev6.err" &
C2=$!
sleep 0.5
START=$(date +%s%N)
echo "{\"token\":\"$T2\"}" > "$A/auth/token/revoke"
RC=0
wait "$C2" || RC=$?
ELAPSED_MS=$((($(date +%s%N) - START) / 1000000))
CHECKS=$((CHECKS + 1))
[ "$RC" != 0 ] && [ "$RC" != 124 ] || fail "revoked stream: cat exited $RC (124 = still streaming at the timeout)"
CHECKS=$((CHECKS + 1))
[ "$ELAPSED_MS" -lt 3000 ] || fail "revoked stream took ${ELAPSED_MS} ms to stop"
grep -q "Permission denied" "$WORK/ev6.err" || fail "revoked stream: $(cat "$WORK/ev6.err")"

# A slow reader loses the oldest events and is told how many.
exec 4<"$EV/*"
python3 - "$A/secret/app/flood" <<'PY'
import sys
for i in range(1100):
    with open(sys.argv[1], "w") as f:
        f.write("n=%d\n" % i)
PY
timeout 1 cat <&4 > "$WORK/ev7" 2>/dev/null || true
exec 4<&-
expect_eq "$(head -n 1 "$WORK/ev7" | jq -r .type)" "coffer/events-lost" "the lost-count line comes first"
CHECKS=$((CHECKS + 1))
[ "$(head -n 1 "$WORK/ev7" | jq -r .count)" -ge 1 ] || fail "events-lost count: $(head -n 1 "$WORK/ev7")"
expect_eq "$(tail -n +2 "$WORK/ev7" | wc -l)" "1024" "then the newest 1024 events"

# --- poll(2) -------------------------------------------------------------------
cat > "$WORK/poll.py" <<'PY'
import os, select, sys, time
path, wait_s, write = sys.argv[1], float(sys.argv[2]), sys.argv[3]
fd = os.open(path, os.O_RDONLY)
os.read(fd, 4096)
if write != "-":
    if os.fork() == 0:
        time.sleep(0.3)
        with open(write, "w") as f:
            f.write("pw=polled\n")
        os._exit(0)
p = select.poll()
p.register(fd, select.POLLPRI)
start = time.monotonic()
events = p.poll(wait_s * 1000)
took = time.monotonic() - start
pri = bool(events and events[0][1] & select.POLLPRI)
os.lseek(fd, 0, os.SEEK_SET)
content = os.read(fd, 4096).decode()
print("%s %.3f %s" % ("woke" if pri else "slept", took, content.strip()))
PY
read -r STATE TOOK CONTENT < <(python3 "$WORK/poll.py" "$B/secret/app/db#pw" 3 "$A/secret/app/db")
expect_eq "$STATE" "woke" "poll() on B wakes for a write through A"
CHECKS=$((CHECKS + 1))
python3 -c "import sys; sys.exit(0 if float('$TOOK') < 1.0 else 1)" || fail "poll woke after ${TOOK}s"
expect_eq "$CONTENT" "polled" "read from offset 0 after the wake-up: the new content"
( sleep 0.3; mktoken 'policies=default' > /dev/null ) &  # a login-like change, no write to the secret
MAKER=$!
read -r STATE TOOK CONTENT < <(python3 "$WORK/poll.py" "$B/secret/app/db" 1 -)
# The token maker, by its own pid: $! is now the process substitution's
# (bash sets it for those too), whose exit status is not this check's.
wait "$MAKER"
expect_eq "$STATE" "slept" "no write (a token made meanwhile): poll() sleeps"

# A stream fd is POLLIN once an event is queued.
OUT=$(python3 - "$EV/kv-v2/data-write" "$A/secret/app/db" <<'PY'
import os, select, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
try:
    os.read(fd, 65536)
    print("read-without-event")
except BlockingIOError:
    pass
p = select.poll()
p.register(fd, select.POLLIN)
if p.poll(300):
    print("ready-too-soon")
if os.fork() == 0:
    with open(sys.argv[2], "w") as f:
        f.write("pw=stream\n")
    os._exit(0)
start = time.monotonic()
ev = p.poll(3000)
print("pollin" if ev and ev[0][1] & select.POLLIN else "no-pollin", "%.3f" % (time.monotonic() - start))
PY
)
expect_eq "${OUT%% *}" "pollin" "a stream fd is POLLIN when an event comes"

# --- inotify by replay ----------------------------------------------------------
expect_ok "enable a file audit device" bash -c "echo 'type=file file_path=$AUDIT' > '$A/sys/audit/f'"
stat "$B/secret/app/db" > /dev/null
inotifywait -q -m -e modify,close_write,create,delete --format '%e %f' "$B/secret/app" > "$WORK/ino" 2>"$WORK/ino.err" &
WATCH=$!
sleep 0.5
V0=$(version app/db)
sleep 0.3
AUDIT0=$(wc -l < "$AUDIT")
echo 'pw=watched' > "$A/secret/app/db"
sleep 0.8
AUDIT1=$(wc -l < "$AUDIT")
grep -q "^MODIFY db$" "$WORK/ino" || fail "no IN_MODIFY on B for a write through A: $(cat "$WORK/ino")"
grep -q "^CLOSE_WRITE,CLOSE db$" "$WORK/ino" || fail "no IN_CLOSE_WRITE: $(cat "$WORK/ino")"
CHECKS=$((CHECKS + 2))
expect_eq "$(version app/db)" "$((V0 + 1))" "the write made one version, the replay none"
expect_eq "$(cat "$B/secret/app/db#pw")" "watched" "the replay left the bytes alone"
# The same write made with nobody watching B costs the same audit lines.
kill "$WATCH"
wait "$WATCH" 2>/dev/null || true
sleep 0.3
AUDIT2=$(wc -l < "$AUDIT")
echo 'pw=unwatched' > "$A/secret/app/db"
sleep 0.8
AUDIT3=$(wc -l < "$AUDIT")
expect_eq "$((AUDIT1 - AUDIT0))" "$((AUDIT3 - AUDIT2))" "a replay writes no audit entry"
CHECKS=$((CHECKS + 1))
grep -q '"path":"secret/data/app/db"' "$AUDIT" || fail "the audit log has the writes"

inotifywait -q -m -e modify,create,delete --format '%e %f' "$B/secret/app" > "$WORK/ino2" 2>/dev/null &
WATCH=$!
sleep 0.5
echo 'k=new' > "$A/secret/app/fresh"
rm "$A/secret/app/fresh"
sleep 0.8
kill "$WATCH"
wait "$WATCH" 2>/dev/null || true
grep -q "^CREATE fresh$" "$WORK/ino2" || fail "no IN_CREATE for a secret made through A: $(cat "$WORK/ino2")"
grep -q "^DELETE fresh$" "$WORK/ino2" || fail "no IN_DELETE for a secret deleted through A: $(cat "$WORK/ino2")"
CHECKS=$((CHECKS + 2))

# Writes through B itself raise real events and are not replayed again: as
# many as the same write through A (no inotify) raises on A.
inotifywait -q -m -e modify --format '%e %f' "$A/secret/app" > "$WORK/ino3a" 2>/dev/null &
WATCH=$!
sleep 0.5
echo 'pw=through-a' > "$A/secret/app/db"
sleep 0.8
kill "$WATCH"
wait "$WATCH" 2>/dev/null || true
inotifywait -q -m -e modify --format '%e %f' "$B/secret/app" > "$WORK/ino3" 2>/dev/null &
WATCH=$!
sleep 0.5
echo 'pw=through-b' > "$B/secret/app/db"
sleep 0.8
kill "$WATCH"
wait "$WATCH" 2>/dev/null || true
expect_eq "$(grep -c "^MODIFY db$" "$WORK/ino3")" "$(grep -c "^MODIFY db$" "$WORK/ino3a")" \
  "a write through B: its own IN_MODIFYs only, no replay"

# A forged replay (open O_WRONLY + ftruncate + close from another process)
# is an ordinary request: without a token it is denied.
expect_err "Permission denied" "a forged replay is an ordinary request" as_user "$U3" "" python3 -c "
import os
fd = os.open('$B/secret/app/db', os.O_WRONLY)
os.ftruncate(fd, os.fstat(fd).st_size)
os.close(fd)"
expect_eq "$(cat "$B/secret/app/db#pw")" "through-b" "nothing changed by the forged replay"

# Opening a stream is one audited request, as Vault's subscribe is.
timeout 0.5 cat "$EV/kv-v2/data-write" > /dev/null 2>&1 || true
CHECKS=$((CHECKS + 1))
grep -q '"path":"sys/events/subscribe/kv-v2/data-write"' "$AUDIT" || fail "the stream's open is not in the audit log"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || fail "cofferd exited with $? on SIGTERM"
DAEMON_PID=""
pass
