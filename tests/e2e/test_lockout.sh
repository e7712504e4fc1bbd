#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Vault's user lockout on a real mount: a tune through sys/auth/PATH@tune,
# wrong passwords that lock a userpass user (EACCES then, the right password
# too) while another user logs in, sys/locked-users as folders (ls), its
# report (sys/locked-users@data), an unlock by `echo >`, a child namespace
# that sees and unlocks only its own, and the lock kept across a restart.
# This shell acts as root through VAULT_TOKEN (see test_auth_methods.sh).
[ "${VAULT_TOKEN:-}" == root ] || exec env VAULT_TOKEN=root bash "$0" "$@"
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }

M=$WORK/mnt
start_cofferd "$M" --dev --dev-root-token-id root
NS=$M/edu
mkdir -p "$NS/child"
echo type=userpass > "$NS/sys/auth/userpass"
echo type=userpass > "$NS/child/sys/auth/userpass"
echo 'password=bobs-pw' > "$NS/auth/userpass/users/bob"
echo 'password=alices-pw' > "$NS/auth/userpass/users/alice"
echo 'password=carols-pw' > "$NS/child/auth/userpass/users/carol"
ACC=$(cat "$NS/sys/auth/userpass#accessor")
CHILD_ACC=$(cat "$NS/child/sys/auth/userpass#accessor")

login() {  # login DIR USER PASSWORD
  echo "password=$3" > "$1/auth/userpass/login/$2"
}

# --- tune ------------------------------------------------------------------------
expect_ok "tune the lockout" bash -c \
  "echo '{\"user_lockout_config\":{\"lockout_threshold\":\"3\",\"lockout_duration\":\"10m\"}}' > '$NS/sys/auth/userpass@tune'"
expect_eq "$(jqr .user_lockout_threshold "$NS/sys/auth/userpass@tune")" "3" "tuned threshold"
expect_eq "$(jqr .user_lockout_duration "$NS/sys/auth/userpass@tune")" "600" "tuned duration"
expect_err "Invalid argument" "lockout tune of a kv mount" bash -c \
  "echo '{\"user_lockout_config\":{\"lockout_threshold\":\"3\"}}' > '$M/sys/mounts/secret@tune'"

# --- lock bob ---------------------------------------------------------------------
expect_eq "$(ls "$NS/sys/locked-users")" "" "nobody locked yet"
for i in 1 2 3; do
  expect_err "Invalid argument" "wrong password $i" login "$NS" bob wrong
done
expect_err "Permission denied" "bob is locked, the right password too" login "$NS" bob bobs-pw
expect_ok "alice logs in meanwhile" login "$NS" alice alices-pw
grep -q "permission denied" "$WORK/cofferd.log" || fail "the log does not say why the locked login failed"

expect_eq "$(ls "$NS/sys/locked-users")" "$ACC" "ls sys/locked-users"
expect_eq "$(ls "$NS/sys/locked-users/$ACC")" "unlock" "ls sys/locked-users/ACC"
expect_eq "$(ls "$NS/sys/locked-users/$ACC/unlock")" "bob" "ls the locked users"
expect_eq "$(jqr .total "$NS/sys/locked-users@data")" "1" "report total"
expect_eq "$(jqr '.by_namespace[0].namespace_path' "$NS/sys/locked-users@data")" "edu/" "report namespace"
expect_eq "$(jq -c '.by_namespace[0].mount_accessors[0].alias_identifiers' "$NS/sys/locked-users@data")" '["bob"]' \
  "report aliases"
expect_eq "$(jqr .total "$M/sys/locked-users@data")" "1" "the root namespace sees edu's"

# --- a child namespace: its own users only -----------------------------------------
for i in 1 2 3 4 5; do login "$NS/child" carol wrong 2>/dev/null || true; done
expect_err "Permission denied" "carol is locked" login "$NS/child" carol carols-pw
expect_eq "$(jqr .total "$NS/child/sys/locked-users@data")" "1" "the child sees its one user"
expect_eq "$(jqr .total "$NS/sys/locked-users@data")" "2" "edu sees its own and its child's"
expect_eq "$(ls "$NS/child/sys/locked-users")" "$CHILD_ACC" "the child lists only its mount"
# The child has no such folder (edu's mount is not its own): bob stays locked.
expect_err "No such file or directory" "the child's unlock of edu's bob" bash -c \
  "echo > '$NS/child/sys/locked-users/$ACC/unlock/bob'"
expect_err "Permission denied" "a child cannot unlock its parent's user" login "$NS" bob bobs-pw

# --- unlock by echo ---------------------------------------------------------------
expect_ok "unlock bob" bash -c "echo > '$NS/sys/locked-users/$ACC/unlock/bob'"
expect_ok "bob logs in again" login "$NS" bob bobs-pw
expect_eq "$(ls "$NS/sys/locked-users")" "" "nobody locked in edu's own mounts"
stop_cofferd "$M"

# --- the lock survives a restart ------------------------------------------------------
DB=$WORK/coffer.db
start_cofferd "$M" --storage "$DB" --init
init_store "$M"
ROOT=$(jqr .root_token "$WORK/init.json")
KEY=$(jqr '.keys[0]' "$WORK/init.json")
echo "$KEY" > "$M/sys/unseal"
stop_cofferd "$M"
umask 077
printf '%s\n' "$ROOT" > "$WORK/root.token"
start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
echo "$KEY" > "$M/sys/unseal"
echo type=userpass > "$M/sys/auth/userpass"
echo 'password=bobs-pw' > "$M/auth/userpass/users/bob"
for i in 1 2 3 4 5; do login "$M" bob wrong 2>/dev/null || true; done
expect_err "Permission denied" "bob is locked" login "$M" bob bobs-pw
stop_cofferd "$M"
start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
echo "$KEY" > "$M/sys/unseal"
expect_err "Permission denied" "bob is still locked after a restart" login "$M" bob bobs-pw
expect_eq "$(jqr .total "$M/sys/locked-users@data")" "1" "the report after a restart"
stop_cofferd "$M"
pass
