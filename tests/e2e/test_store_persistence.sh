#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The SQLite store on a real mount: a missing store created only with --init,
# init and unseal through files, data that survives a restart and a kill -9,
# a second daemon refused, tampered bytes refused with EIO, a damaged keyring
# called corrupt (not an invalid key), writes refused once the store file is
# renamed or deleted under the daemon, and no fresh store in its place after.
source "$(dirname "$0")/lib.sh"

M=$WORK/mnt
DB=$WORK/coffer.db

# --- a missing store is created only with --init ---------------------------------
mkdir -p "$M"
MOUNTS+=("$M")
CHECKS=$((CHECKS + 1))
rc=0; timeout 10 "$COFFERD" --storage "$DB" "$M" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "missing store without --init: exit $rc, expected 1"
grep -qF "cannot open storage $DB: no store at $DB; pass --init to create a new one" "$WORK/err" ||
  fail "missing store without --init: $(cat "$WORK/err")"
[ ! -e "$DB" ] || fail "a missing store was created without --init"
! mountpoint -q "$M" || fail "mounted without a store"

# --- init and unseal through the mount (no token needed for these) ------------
start_cofferd "$M" --init --storage "$DB"
grep -qF "cofferd: created a new store at $DB" "$WORK/cofferd.log" || fail "--init does not say it created the store"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "true" "a new store is sealed"
expect_eq "$(jqr .initialized "$M/sys/init")" "false" "not initialised"
expect_eq "$(ls "$M")" "sys" "a sealed store shows only sys/"
expect_err "Input/output error" "secrets while sealed" cat "$M/secret/x"

init_store "$M" '{"secret_shares":3,"secret_threshold":2}'
expect_eq "$(jqr '.keys | length' "$WORK/init.json")" "3" "three shares"
ROOT=$(jqr .root_token "$WORK/init.json")
K1=$(jqr '.keys[0]' "$WORK/init.json")
K2=$(jqr '.keys_base64[2]' "$WORK/init.json")
expect_err "File exists" "init twice" bash -c "echo '{}' > '$M/sys/init'"
echo "$K1" > "$M/sys/unseal"
expect_eq "$(jqr .progress "$M/sys/seal-status")" "1" "unseal progress"
echo "$K2" > "$M/sys/unseal"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed with a hex and a base64 share"
# This mount has no token: everything but the seal endpoints is refused.
expect_err "Permission denied" "no token" bash -c "echo type=kv-v2 > '$M/sys/mounts/kv'"
stop_cofferd "$M"

# --- restart with the root token bound to the mount ---------------------------
umask 077
printf '%s\n' "$ROOT" > "$WORK/root.token"
start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "true" "a restarted store is sealed"
echo "$K2" > "$M/sys/unseal"
echo "$K1" > "$M/sys/unseal"
mkdir "$M/team"
echo 'type=kv-v2' > "$M/team/sys/mounts/kv"
echo 'user=app password=p1' > "$M/team/kv/db"
echo 'password=p2' >> "$M/team/kv/db"

# A second daemon on the same store is refused while the first holds it.
mkdir -p "$WORK/m2"
CHECKS=$((CHECKS + 1))
if timeout 10 "$COFFERD" --storage "$DB" "$WORK/m2" >"$WORK/second.log" 2>&1; then
  fusermount3 -uz "$WORK/m2" 2>/dev/null || true
  fail "a second cofferd opened a store in use"
fi
grep -q "in use by another process" "$WORK/second.log" || fail "second daemon: $(cat "$WORK/second.log")"
! mountpoint -q "$WORK/m2" || fail "second daemon mounted"

# --- kill -9 during a stream of writes: every acknowledged write survives ------
: > "$WORK/acked"
(
  for i in $(seq 1 100000); do
    echo "n=$i" > "$M/team/kv/stream$((i % 50))" 2>/dev/null || exit 0
    echo "$((i % 50)) $i" >> "$WORK/acked"
  done
) &
WRITER=$!
sleep 1.5
kill9_cofferd "$M"
wait "$WRITER" 2>/dev/null || true
ACKED=$(wc -l < "$WORK/acked")
[ "$ACKED" -gt 20 ] || fail "only $ACKED writes before the kill; the stream did not run"

start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
echo "$K1" > "$M/sys/unseal"
echo "$K2" > "$M/sys/unseal"
expect_eq "$(cat "$M/team/kv/db#password")" "p2" "data after restart"
expect_eq "$(cat "$M/team/kv/db@1#user")" "app" "versions after restart"
# The last acknowledged value of each key is there (or a later one whose
# write was applied but not yet acknowledged when the daemon died).
declare -A last
while read -r key value; do last[$key]=$value; done < "$WORK/acked"
for key in "${!last[@]}"; do
  got=$(cat "$M/team/kv/stream$key#n")
  CHECKS=$((CHECKS + 1))
  [ "$got" -ge "${last[$key]}" ] || fail "stream$key: acknowledged n=${last[$key]}, found n=$got"
done
echo "    $ACKED writes acknowledged before kill -9, all present"

# --- sealing through the mount ------------------------------------------------
echo > "$M/sys/seal"
expect_err "Input/output error" "sealed again" cat "$M/team/kv/db"
stop_cofferd "$M"

# --- tampered bytes are refused, never returned --------------------------------
sqlite3 "$DB" "UPDATE kv SET value = zeroblob(length(value)) WHERE key LIKE 'logical/%/ver/%'"
start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
echo "$K1" > "$M/sys/unseal"
echo "$K2" > "$M/sys/unseal"
expect_err "Input/output error" "tampered secret" cat "$M/team/kv/db"
grep -q "authentic\|corrupt\|Corrupt" "$WORK/cofferd.log" || fail "tampering not logged"
stop_cofferd "$M"

# --- a damaged keyring or root key says corrupt; a wrong key says invalid key ------
cp "$DB" "$DB.good"   # the daemon is stopped: one file, checkpointed
for record in core/keyring core/root-key; do
  # One byte of the sealed record changed (never to itself).
  sqlite3 "$DB" "UPDATE kv SET value = substr(value, 1, 30) ||
    CASE WHEN substr(value, 31, 1) = X'00' THEN X'01' ELSE X'00' END || substr(value, 32)
    WHERE key = '$record'"
  : > "$WORK/cofferd.log"
  start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
  echo "$K1" > "$M/sys/unseal"
  expect_err "Input/output error" "unseal over a damaged $record" bash -c "echo '$K2' > '$M/sys/unseal'"
  grep -q "$record is corrupt" "$WORK/cofferd.log" || fail "a damaged $record is not called corrupt"
  ! grep -q "invalid key" "$WORK/cofferd.log" || fail "a damaged $record is called an invalid key"
  expect_eq "$(jqr .sealed "$M/sys/seal-status")" "true" "still sealed"
  echo "$K1" > "$M/sys/unseal"
  # The second share with its first hex digit changed: a share of the right
  # shape (and its own x-coordinate) that combines to a wrong key.
  K3=$(jqr '.keys[1]' "$WORK/init.json")
  if [ "${K3:0:1}" = 0 ]; then FORGED=1${K3:1}; else FORGED=0${K3:1}; fi
  expect_err "Invalid argument" "a wrong share" bash -c "echo $FORGED > '$M/sys/unseal'"
  grep -q "Unseal failed, invalid key" "$WORK/cofferd.log" || fail "a wrong key is not an invalid key"
  stop_cofferd "$M"
  cp "$DB.good" "$DB"
done
rm "$DB.good"

# --- the store renamed, then deleted, under the running daemon ------------------
# Writes are refused (EIO, the reason in the reply and the log) rather than
# acknowledged into a file the path no longer names; reads go on.
start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
echo "$K1" > "$M/sys/unseal"
echo "$K2" > "$M/sys/unseal"
echo 'v=1' > "$M/team/kv/moving"
mv "$DB" "$DB.moved"
expect_err "Input/output error" "write with the store renamed away" bash -c "echo v=2 > '$M/team/kv/moving'"
exec 3<>"$M/team/kv/moving"
CHECKS=$((CHECKS + 1))
if echo 'v=3' >&3 2>/dev/null; then fail "a write was acknowledged with the store renamed away"; fi
reply=$(cat <&3 || true)
exec 3>&-
[[ "$reply" == *"store $DB was deleted or renamed while in use: writes are refused until it is back at that path"* ]] ||
  fail "the reply does not say why: [$reply]"
grep -qF "store $DB was deleted or renamed while in use" "$WORK/cofferd.log" || fail "not logged"
expect_eq "$(cat "$M/team/kv/moving#v")" "1" "reads go on, and show no refused write"
mv "$DB.moved" "$DB"
expect_ok "writes again once it is back" bash -c "echo v=4 > '$M/team/kv/moving'"
expect_eq "$(cat "$M/team/kv/moving#v")" "4" "the write after the move back"

rm "$DB"
expect_err "Input/output error" "write with the store deleted" bash -c "echo v=5 > '$M/team/kv/moving'"
expect_eq "$(cat "$M/team/kv/moving#v")" "4" "reads go on from the open file"
kill9_cofferd "$M"
# The restart finds no store: never a fresh one in its place, not even with
# --init while the WAL of the lost one is there.
CHECKS=$((CHECKS + 1))
rc=0; timeout 10 "$COFFERD" --init --storage "$DB" "$M" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "store $DB is missing but its write-ahead log $DB-wal is there" "$WORK/err" ||
  fail "restart over a lone WAL: exit $rc: $(cat "$WORK/err")"
rm -f "$DB-wal" "$DB-shm"
CHECKS=$((CHECKS + 1))
rc=0; timeout 10 "$COFFERD" --storage "$DB" "$M" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "no store at $DB; pass --init" "$WORK/err" ||
  fail "restart with the store deleted: exit $rc: $(cat "$WORK/err")"
[ ! -e "$DB" ] || fail "a deleted store was recreated"
! mountpoint -q "$M" || fail "mounted without its store"
pass
