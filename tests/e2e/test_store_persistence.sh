#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The SQLite store on a real mount: init and unseal through files, data that
# survives a restart and a kill -9, a second daemon refused, tampered bytes
# refused with EIO.
source "$(dirname "$0")/lib.sh"

M=$WORK/mnt
DB=$WORK/coffer.db

# --- init and unseal through the mount (no token needed for these) ------------
start_cofferd "$M" --storage "$DB"
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
pass
