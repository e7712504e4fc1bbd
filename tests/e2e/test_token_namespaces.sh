#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Tokens across namespaces through the mount (issue 13): a namespace admin's
# token store does not reach a parent namespace's token by accessor (looks
# exactly like an unknown accessor; nothing revoked); Vault's warnings come
# back in the reply on the same fd and in the log; a period over the max TTL
# is capped with Vault's warning; Vault's errors for child-namespace creates.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }

M=$WORK/mnt
start_cofferd "$M" --dev --dev-root-token-id root
export VAULT_TOKEN=root

# request_as TOKEN FILE BODY : a process whose VAULT_TOKEN is TOKEN writes
# BODY to FILE on one fd and prints the reply (read from the same fd); the
# write's exit status is its own. (The daemon reads VAULT_TOKEN from the
# caller's /proc environ, so each token needs its own process.)
request_as() {
  env VAULT_TOKEN="$1" bash -c 'exec 3<>"$1"; rc=0; printf "%s\n" "$2" >&3 2>/dev/null || rc=$?; cat <&3; exit $rc' \
    _ "$2" "$3"
}
request() { request_as root "$@"; }

# --- a namespace admin and a root-namespace token ---------------------------------------
mkdir "$M/education"
printf 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n' \
  > "$M/education/sys/policies/acl/admin"
request "$M/education/auth/token/create" '{"policies":["admin"]}' > "$WORK/admin.json"
ADMIN=$(jqr .auth.client_token "$WORK/admin.json")
request "$M/auth/token/create" '{"policies":["default"]}' > "$WORK/victim.json"
VICTIM=$(jqr .auth.client_token "$WORK/victim.json")
VICTIM_ACCESSOR=$(jqr .auth.accessor "$WORK/victim.json")

# The admin's lookup-accessor and revoke-accessor: as for an unknown accessor.
expect_false "lookup-accessor of a parent's token" \
  env VAULT_TOKEN="$ADMIN" bash -c "echo accessor=$VICTIM_ACCESSOR > '$M/education/auth/token/lookup-accessor'"
grep -q "Invalid argument" "$WORK/err" || fail "lookup-accessor: expected EINVAL, got $(cat "$WORK/err")"
reply_known=$(request_as "$ADMIN" "$M/education/auth/token/lookup-accessor" "accessor=$VICTIM_ACCESSOR" || true)
reply_unknown=$(request_as "$ADMIN" "$M/education/auth/token/lookup-accessor" "accessor=nosuchaccessor000000000000" || true)
expect_eq "$reply_known" "$reply_unknown" "a parent's accessor reads as an unknown one"
expect_eq "$reply_known" "invalid request: invalid accessor" "Vault's text"
request_as "$ADMIN" "$M/education/auth/token/revoke-accessor" "accessor=$VICTIM_ACCESSOR" > "$WORK/revoke.json"
expect_eq "$(jqr '.warnings[0]' "$WORK/revoke.json")" "No token found with this accessor" "revoke-accessor warns"
expect_ok "the parent's token lives on" env VAULT_TOKEN="$VICTIM" cat "$M/auth/token/lookup-self"
expect_false "lookup of a parent's token" \
  env VAULT_TOKEN="$ADMIN" bash -c "echo token=$VICTIM > '$M/education/auth/token/lookup'"
grep -q "Permission denied" "$WORK/err" || fail "lookup: expected EACCES (Vault's 403 bad token), got $(cat "$WORK/err")"
# Its own namespace's tokens it does reach.
ADMIN_ACCESSOR=$(jqr .auth.accessor "$WORK/admin.json")
expect_eq "$(request_as "$ADMIN" "$M/education/auth/token/lookup-accessor" "accessor=$ADMIN_ACCESSOR" | jq -r .namespace_path)" \
  "education/" "own namespace's accessor"

# --- warnings on the same fd and in the log ----------------------------------------------
request "$M/auth/token/create" '{"policies":["nope"]}' > "$WORK/nope.json"
expect_eq "$(jqr '.warnings[0]' "$WORK/nope.json")" 'Policy "nope" does not exist' "create warns of a missing policy"
expect_eq "$(jqr '.auth.policies | join(",")' "$WORK/nope.json")" "default,nope" "the token is made anyway"
CHECKS=$((CHECKS + 1))
grep -q 'INFO: write /auth/token/create: warning: Policy "nope" does not exist' "$WORK/cofferd.log" ||
  fail "the warning is logged at info"

# --- a period over the max TTL: capped, with Vault's warning -----------------------------
request "$M/auth/token/create" '{"period":"800h","policies":["default"]}' > "$WORK/period.json"
expect_eq "$(jqr .auth.lease_duration "$WORK/period.json")" "2764800" "period capped at 768h"
expect_eq "$(jqr '.warnings[0]' "$WORK/period.json")" \
  'period of "800h0m0s" exceeded the effective max_ttl of "768h0m0s"; period value is capped accordingly' "period warning"
request "$M/auth/token/create" '{"period":"9000000000000000000","policies":["default"]}' > "$WORK/huge.json"
HUGE=$(jqr .auth.client_token "$WORK/huge.json")
expect_eq "$(jqr .auth.lease_duration "$WORK/huge.json")" "2764800" "a huge period is capped too"
expect_ok "the huge-period token is alive" env VAULT_TOKEN="$HUGE" cat "$M/auth/token/lookup-self"

# --- Vault's errors for creating in a child namespace ------------------------------------
printf 'path "education/auth/token/create" {\n  capabilities = ["update"]\n}\n' > "$M/sys/policies/acl/maker"
request "$M/auth/token/create" '{"policies":["maker"]}' > "$WORK/maker.json"
MAKER=$(jqr .auth.client_token "$WORK/maker.json")
expect_err "Invalid argument" "no sudo: EINVAL (Vault's 400)" \
  env VAULT_TOKEN="$MAKER" bash -c "echo '{}' > '$M/education/auth/token/create'"
expect_eq "$(request_as "$MAKER" "$M/education/auth/token/create" '{}' || true)" \
  "invalid request: root or sudo privileges required to directly generate a token in a child namespace" "Vault's text"
expect_eq "$(request "$M/education/auth/token/create" '{"policies":["root"]}' || true)" \
  "invalid request: root tokens may not be created from a parent namespace" "no root from a parent namespace"

stop_cofferd "$M"
pass
