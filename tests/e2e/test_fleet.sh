#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Two hosts on one PostgreSQL store: two cofferd on two mountpoints over one
# database started here (tests/pg/postgres.sh). What one host makes (a
# namespace, a mount, a secret, a policy, a token) the other serves within
# the feed's bound; a token revoked on one is refused on the other; with the
# database down both fail with EIO and acknowledge no write, and both come
# back by themselves; a kill -9 during a write stream loses no acknowledged
# write; pg_dump holds no secret value and no token.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../pg/postgres.sh"

command -v jq >/dev/null || fail "jq is missing"

pg_start "$WORK/pg" >/dev/null
PIDS=()
fleet_cleanup() {
  local p mp
  for mp in "${MOUNTS[@]}"; do fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  pg_stop "$WORK/pg" >/dev/null 2>&1 || true
  cleanup
}
trap fleet_cleanup EXIT

A=$WORK/a
B=$WORK/b
LOG_A=$WORK/a.log
LOG_B=$WORK/b.log

# start_host MOUNT LOG ARGS... : a cofferd on the shared store; its pid is
# appended to PIDS and left in HOST_PID.
start_host() {
  local mp=$1 log=$2
  shift 2
  mkdir -p "$mp"
  "$COFFERD" --storage "$PG_URL" --allow-other "$@" "$mp" >>"$log" 2>&1 &
  HOST_PID=$!
  PIDS+=("$HOST_PID")
  DAEMON_PID=$HOST_PID
  wait_mounted "$mp"
  DAEMON_PID=""
}

# within SECONDS WHAT CMD... : CMD succeeds within SECONDS (polled every 50 ms).
within() {
  local limit=$1 what=$2 i
  shift 2
  CHECKS=$((CHECKS + 1))
  for i in $(seq 1 $((limit * 20))); do
    if "$@" >"$WORK/out" 2>"$WORK/err"; then return 0; fi
    sleep 0.05
  done
  fail "$what: [$*] did not succeed within ${limit}s: $(cat "$WORK/err")"
}

# put FILE TEXT : write TEXT to FILE with the root token. The token goes in
# the writer's environment (cofferd reads the caller's /proc/PID/environ),
# so the write is made by a child, not by this shell.
put() { VAULT_TOKEN=$ROOT bash -c 'printf "%s\n" "$2" > "$1"' _ "$1" "$2"; }

# --- a missing store needs --init; init once, unseal every host ----------------
mkdir -p "$A"
CHECKS=$((CHECKS + 1))
rc=0; timeout 20 "$COFFERD" --storage "$PG_URL" "$A" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "missing PostgreSQL store without --init: exit $rc"
grep -qF "pass --init to create a new one" "$WORK/err" || fail "missing store: $(cat "$WORK/err")"
expect_err "carries a password" "a password on the command line" \
  "$COFFERD" --storage "postgresql://postgres:hunter2@127.0.0.1:1/x" "$A"
grep -q hunter2 "$WORK/err" && fail "the refusal repeats the password"

start_host "$A" "$LOG_A" --init
PID_A=$HOST_PID
init_store "$A"
ROOT=$(jqr .root_token "$WORK/init.json")
KEY=$(jqr '.keys[0]' "$WORK/init.json")
echo "$KEY" > "$A/sys/unseal"
start_host "$B" "$LOG_B"
PID_B=$HOST_PID
expect_eq "$(jqr .initialized "$B/sys/seal-status")" "true" "host B sees the store initialised"
expect_eq "$(jqr .sealed "$B/sys/seal-status")" "true" "host B starts sealed"
expect_err "File exists" "init a second time from host B" bash -c "echo '{}' > '$B/sys/init'"
echo "$KEY" > "$B/sys/unseal"
expect_eq "$(jqr .sealed "$B/sys/seal-status")" "false" "host B unsealed with the same share"

# --- made on A, served by B -------------------------------------------------------
export VAULT_TOKEN=$ROOT
mkdir "$A/team"
put "$A/team/sys/mounts/kv" 'type=kv-v2'
put "$A/team/kv/app" 'password=fleet-s3cret-value-1'
within 5 "a secret written on A, read on B" grep -qx fleet-s3cret-value-1 "$B/team/kv/app#password"
put "$A/team/sys/policies/acl/reader" 'path "kv/data/*" { capabilities = ["read"] }'
TOK=$(bash -c 'exec 3<>"$1"; echo "{\"policies\":[\"reader\"]}" >&3; cat <&3' _ "$A/team/auth/token/create" |
  jq -r .auth.client_token)
[ -n "$TOK" ] && [ "$TOK" != null ] || fail "no token from A"
within 5 "a token made on A works on B" \
  setpriv --reuid=1000 --regid=1000 --clear-groups -- env -i VAULT_TOKEN="$TOK" cat "$B/team/kv/app#password"
expect_eq "$(cat "$WORK/out")" "fleet-s3cret-value-1" "other uid reads on B with A's token"
expect_err "Permission denied" "no token on B" as_user 1000 cat "$B/team/kv/app#password"

# A new version on B is the current one on A.
put "$B/team/kv/app" 'password=fleet-s3cret-value-2'
within 5 "B's new version on A" grep -qx fleet-s3cret-value-2 "$A/team/kv/app#password"

# --- revoked on A, refused on B ---------------------------------------------------
put "$A/team/auth/token/revoke" "{\"token\":\"$TOK\"}"
refused_on_b() {
  ! setpriv --reuid=1000 --regid=1000 --clear-groups -- env -i VAULT_TOKEN="$TOK" cat "$B/team/kv/app#password" 2>/dev/null
}
within 5 "a token revoked on A is refused on B" refused_on_b

# --- the database down: EIO on both, nothing acknowledged; back: both recover ------
export VAULT_TOKEN=$ROOT
pg_kill "$WORK/pg"
eio_on() { ! cat "$1/team/kv/app#password" 2>"$WORK/eio" && grep -q "Input/output error" "$WORK/eio"; }
within 10 "host B fails closed with the database down" eio_on "$B"
within 10 "host A fails closed with the database down" eio_on "$A"
expect_err "Input/output error" "a write with the database down" bash -c "echo 'password=lost' > '$A/team/kv/app'"
within 5 "host B says in its log that it is not current" grep -q "store not current" "$LOG_B"
pg_restart "$WORK/pg" >/dev/null 2>&1
within 15 "host B recovers by itself" grep -qx fleet-s3cret-value-2 "$B/team/kv/app#password"
within 15 "host A recovers by itself" grep -qx fleet-s3cret-value-2 "$A/team/kv/app#password"
within 5 "host B says in its log that it recovered" grep -q "store current again" "$LOG_B"
expect_ok "a write after the recovery" put "$A/team/kv/app" 'password=fleet-s3cret-value-3'
within 5 "the write after the recovery on B" grep -qx fleet-s3cret-value-3 "$B/team/kv/app#password"

# --- check-and-set raced from both hosts: every success is one new version ---------
put "$A/team/kv/counter" 'n=0'
within 5 "the counter on B" grep -qx 0 "$B/team/kv/counter#n"
# cas_loop MOUNT TAG OUT : 40 rounds of read the current version, write with
# cas = it; the number of writes that succeeded goes to OUT.
cas_loop() {
  local ok=0 i v
  for i in $(seq 1 40); do
    v=$(jq -r .current_version "$1/team/kv/counter@metadata")
    if printf '{"data":{"n":"%s-%s"},"options":{"cas":%s}}\n' "$2" "$i" "$v" > "$1/team/kv/counter" 2>/dev/null; then
      ok=$((ok + 1))
    fi
  done
  echo "$ok" > "$3"
}
export -f cas_loop
bash -c 'cas_loop "$@"' _ "$A" a "$WORK/cas-a" &
RA=$!
bash -c 'cas_loop "$@"' _ "$B" b "$WORK/cas-b" &
RB=$!
wait "$RA" "$RB"
WINS=$(( $(cat "$WORK/cas-a") + $(cat "$WORK/cas-b") ))
within 5 "both hosts at the same version" bash -c \
  '[ "$(jq -r .current_version "$1/team/kv/counter@metadata")" = "$(jq -r .current_version "$2/team/kv/counter@metadata")" ]' \
  _ "$A" "$B"
VERSIONS=$(jq -r .current_version "$A/team/kv/counter@metadata")
expect_eq "$WINS" "$((VERSIONS - 1))" "check-and-set wins across two hosts ($(cat "$WORK/cas-a") on A, $(cat "$WORK/cas-b") on B) against new versions"
[ "$(cat "$WORK/cas-a")" -gt 0 ] && [ "$(cat "$WORK/cas-b")" -gt 0 ] || echo "note: one host won every round" >&2

# --- a use-limited token raced from both hosts: never spent twice ------------------
# A cat of NAME#KEY costs this token two uses (its lookup and its read), so
# num_uses = 2 pays for one such cat on one host, never for one on each.
ONCE=$(bash -c 'exec 3<>"$1"; echo "{\"policies\":[\"reader\"],\"num_uses\":2}" >&3; cat <&3' _ "$A/team/auth/token/create" |
  jq -r .auth.client_token)
sleep 1  # the feed brings the token to B within milliseconds
use_once() { setpriv --reuid=1000 --regid=1000 --clear-groups -- env -i VAULT_TOKEN="$ONCE" cat "$1/team/kv/app#password" >/dev/null 2>&1 && echo ok > "$2" || true; }
rm -f "$WORK/use-a" "$WORK/use-b"
use_once "$A" "$WORK/use-a" &
U1=$!
use_once "$B" "$WORK/use-b" &
U2=$!
wait "$U1" "$U2"
USES=$({ cat "$WORK/use-a" "$WORK/use-b" 2>/dev/null || true; } | wc -l)
CHECKS=$((CHECKS + 1))
[ "$USES" -le 1 ] || fail "a token with uses for one read read on both hosts at once ($USES reads)"

# --- a cached bound mount on a third host: no stale read once the feed delivered ---
# The kernel keeps what C's cached mount served; a new version written on A
# reaches C through the feed, which drops those pages and entries.
C=$WORK/c
LOG_C=$WORK/c.log
put "$A/team/sys/policies/acl/cached" 'path "kv/data/*" { capabilities = ["read"] }'
bash -c 'exec 3<>"$1"; echo "{\"policies\":[\"cached\"]}" >&3; cat <&3' _ "$A/team/auth/token/create" |
  jq -r .auth.client_token > "$WORK/c.token"
chmod 0600 "$WORK/c.token"
start_host "$C" "$LOG_C" --token-file "$WORK/c.token" --cache
echo "$KEY" > "$C/sys/unseal"
within 10 "the cached bound mount on C serves A's secret" grep -qx fleet-s3cret-value-3 "$C/team/kv/app#password"
for _ in 1 2 3; do cat "$C/team/kv/app#password" >/dev/null; done   # in the kernel's cache now
put "$A/team/kv/app" 'password=fleet-s3cret-value-4'
within 5 "B has A's new version" grep -qx fleet-s3cret-value-4 "$B/team/kv/app#password"
within 5 "C's cached mount drops the old version" grep -qx fleet-s3cret-value-4 "$C/team/kv/app#password"
# Once it served the new version, never the old one again.
stale=0
for _ in $(seq 1 50); do
  [ "$(cat "$C/team/kv/app#password")" = fleet-s3cret-value-4 ] || stale=$((stale + 1))
done
expect_eq "$stale" "0" "reads of the old version on C after the feed delivered the new one"
# Revoked on A: C's bound token is refused there within the feed's bound.
C_TOK=$(cat "$WORK/c.token")
put "$A/team/auth/token/revoke" "{\"token\":\"$C_TOK\"}"
refused_on_c() { ! cat "$C/team/kv/app#password" >/dev/null 2>&1; }
within 5 "C's bound token, revoked on A, is refused on C" refused_on_c

# --- kill -9 of host A during a write stream: no acknowledged write lost -----------
: > "$WORK/acked"
(
  for i in $(seq 1 100000); do
    put "$A/team/kv/stream-$i" "n=$i" 2>/dev/null || exit 0
    echo "$i" >> "$WORK/acked"
  done
) &
WRITER=$!
sleep 1.5
kill -KILL "$PID_A"
wait "$WRITER" 2>/dev/null || true
fusermount3 -uz "$A" 2>/dev/null || true
ACKED=$(wc -l < "$WORK/acked")
[ "$ACKED" -gt 5 ] || fail "too few writes before the kill ($ACKED)"
LAST=$(tail -n 1 "$WORK/acked")
within 5 "the last acknowledged write on B" grep -qx "$LAST" "$B/team/kv/stream-$LAST#n"
# Checked by a child: the token is in its environment, not in this shell's.
missing=$(bash -c 'n=0; while read -r i; do [ -e "$1/stream-$i" ] || n=$((n + 1)); done < "$2"; echo $n' \
  _ "$B/team/kv" "$WORK/acked")
expect_eq "$missing" "0" "acknowledged writes missing on B after kill -9 of A ($ACKED acknowledged)"

# --- what the database holds -------------------------------------------------------
CHECKS=$((CHECKS + 1))
/usr/lib/postgresql/15/bin/pg_dump "$PG_URL" > "$WORK/dump.sql" ||
  fail "pg_dump failed"
[ -s "$WORK/dump.sql" ] || fail "empty dump"
for needle in fleet-s3cret-value "$ROOT" "$TOK" "$KEY"; do
  CHECKS=$((CHECKS + 1))
  ! grep -qF "$needle" "$WORK/dump.sql" || fail "pg_dump holds a secret ($needle)"
done
# Keys are bytea: a value would show hex-encoded, so look for that too.
HEX=$(printf 'fleet-s3cret-value' | od -An -tx1 | tr -d ' \n')
CHECKS=$((CHECKS + 1))
! grep -qi "$HEX" "$WORK/dump.sql" || fail "pg_dump holds a secret value (hex)"

unset VAULT_TOKEN
kill -TERM "$PID_B"
wait "$PID_B" || fail "host B did not exit cleanly"
PIDS=()
pass
