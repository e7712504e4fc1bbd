#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# ACL policies and tokens on a real mount: policies written with cp and read
# back with cat, tokens made through auth/token/create (reply on the same
# fd), then mounts bound to those tokens (--token-file) that see only what
# their policies allow. A dev store lives in one daemon's memory, so this
# uses a SQLite store shared by successive daemons (one at a time: flock).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }

M=$WORK/mnt
DB=$WORK/coffer.db
umask 077

# start_unsealed TOKEN_FILE : a daemon on $DB bound to that token, unsealed.
start_unsealed() {
  start_cofferd "$M" --storage "$DB" --token-file "$1"
  echo "$K1" > "$M/sys/unseal"
  expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed"
}

# --- init ------------------------------------------------------------------------
start_cofferd "$M" --init --storage "$DB"
init_store "$M"
K1=$(jqr '.keys[0]' "$WORK/init.json")
printf '%s\n' "$(jqr .root_token "$WORK/init.json")" > "$WORK/root.token"
stop_cofferd "$M"

# --- as root: namespaces, data, policies, tokens -----------------------------------
start_unsealed "$WORK/root.token"
mkdir "$M/ns1" "$M/ns2" "$M/ns1/child"
for ns in "" ns1/ ns2/ ns1/child/; do
  echo 'type=kv-v2' > "$M/${ns}sys/mounts/kv"
  echo 'v=1' > "$M/${ns}kv/app"
  echo 'v=2' > "$M/${ns}kv/other"
done

cat > "$WORK/app.hcl" <<'HCL'
# read the app secret of ns1, list the mount
path "kv/data/app" {
  capabilities = ["read"]
}
path "kv/metadata/" {
  capabilities = ["list"]
}
# and reach into the child namespace
path "child/kv/data/*" {
  capabilities = ["read", "create", "update"]
}
HCL
expect_ok "cp a policy" cp "$WORK/app.hcl" "$M/ns1/sys/policies/acl/app"
expect_eq "$(cat "$M/ns1/sys/policies/acl/app")" "$(cat "$WORK/app.hcl")" "cat shows the policy text"
expect_eq "$(ls "$M/ns1/sys/policies/acl")" "$(printf 'app\ndefault')" "ls policies"
echo '{"path":{"kv/data/*":{"capabilities":["read"]}}}' > "$M/sys/policies/acl/reader"
expect_eq "$(jq -c . "$M/sys/policies/acl/reader")" '{"path":{"kv/data/*":{"capabilities":["read"]}}}' "JSON policy"
# A bad policy is refused with EINVAL; the old text stays.
printf 'path "kv/*" { capabilities = ["banana"] }\n' > "$WORK/bad.hcl"
expect_err "Invalid argument" "bad policy refused" cp "$WORK/bad.hcl" "$M/ns1/sys/policies/acl/app"
expect_eq "$(cat "$M/ns1/sys/policies/acl/app")" "$(cat "$WORK/app.hcl")" "old policy kept"
expect_err "Invalid argument" "root policy is not writable" cp "$WORK/app.hcl" "$M/sys/policies/acl/root"
expect_err "Invalid argument" "default policy is not deletable" rm "$M/sys/policies/acl/default"

# Tokens: the create reply is read back on the same fd.
exec 3<>"$M/ns1/auth/token/create"
echo '{"policies":["app"],"display_name":"app"}' >&3
cat <&3 > "$WORK/app.json"
exec 3>&-
expect_eq "$(jqr '.auth.policies | join(",")' "$WORK/app.json")" "app,default" "token policies"
printf '%s\n' "$(jqr .auth.client_token "$WORK/app.json")" > "$WORK/app.token"
exec 3<>"$M/auth/token/create"
echo 'policies=reader' >&3
cat <&3 > "$WORK/reader.json"
exec 3>&-
printf '%s\n' "$(jqr .auth.client_token "$WORK/reader.json")" > "$WORK/reader.token"
# A token that may make children, to see revocation reach them.
printf 'path "auth/token/create" {\n  capabilities = ["update"]\n}\npath "kv/data/*" {\n  capabilities = ["read"]\n}\n' \
  > "$WORK/creator.hcl"
cp "$WORK/creator.hcl" "$M/sys/policies/acl/creator"
exec 3<>"$M/auth/token/create"
echo '{"policies":["creator"],"ttl":"1h"}' >&3
cat <&3 > "$WORK/parent.json"
exec 3>&-
expect_eq "$(jqr .auth.lease_duration "$WORK/parent.json")" "3600" "ttl"
printf '%s\n' "$(jqr .auth.client_token "$WORK/parent.json")" > "$WORK/parent.token"
stop_cofferd "$M"

# --- as the ns1 app token ------------------------------------------------------------
start_unsealed "$WORK/app.token"
expect_eq "$(cat "$M/ns1/kv/app#v")" "1" "allowed read"
expect_err "Permission denied" "other secret in ns1" cat "$M/ns1/kv/other"
expect_err "Permission denied" "sibling namespace" cat "$M/ns2/kv/app"
expect_err "Permission denied" "parent namespace" cat "$M/kv/app"
expect_err "Permission denied" "missing secret, denied all the same" cat "$M/ns2/kv/nothing"
expect_eq "$(cat "$M/ns1/child/kv/app#v")" "1" "parent policy reaches the child"
expect_ok "write in the child through the parent policy" bash -c "echo 'v=3' > '$M/ns1/child/kv/app'"
expect_err "Permission denied" "no write without the capability" bash -c "echo 'v=9' > '$M/ns1/kv/app'"
expect_eq "$(ls "$M")" "ns1" "ls of the root shows only the way to ns1"
expect_eq "$(ls "$M/ns1" | tr '\n' ' ')" "auth child identity kv sys " "ls of ns1"
expect_eq "$(ls "$M/ns1/kv" | tr '\n' ' ')" "app other " "list allowed"
expect_err "Permission denied" "ls of a denied folder" ls "$M/ns2/kv"
expect_eq "$(jqr .display_name "$M/ns1/auth/token/lookup-self")" "token-app" "lookup-self"
exec 3<>"$M/ns1/sys/capabilities-self"
echo '{"paths":["kv/data/app","kv/data/other"]}' >&3
cat <&3 > "$WORK/caps.json"
exec 3>&-
expect_eq "$(jqr '."kv/data/app" | join(",")' "$WORK/caps.json")" "read" "capabilities-self"
expect_eq "$(jqr '."kv/data/other" | join(",")' "$WORK/caps.json")" "deny" "capabilities-self deny"
expect_err "Permission denied" "policies are not readable" cat "$M/ns1/sys/policies/acl/app"
expect_err "Permission denied" "no token creation" bash -c "echo '{}' > '$M/ns1/auth/token/create'"
stop_cofferd "$M"

# --- as the root-namespace reader: kv data of every namespace is readable ---------
start_unsealed "$WORK/reader.token"
expect_eq "$(cat "$M/kv/other#v")" "2" "reader reads root kv"
expect_err "Permission denied" "reader cannot list" ls "$M/kv"
expect_err "Permission denied" "reader's policy does not reach ns1 kv data" cat "$M/ns1/kv/app"
stop_cofferd "$M"

# --- a parent token makes a child; revoking the parent kills the child -------------
start_unsealed "$WORK/parent.token"
exec 3<>"$M/auth/token/create"
echo '{"policies":["creator"]}' >&3
cat <&3 > "$WORK/child.json"
exec 3>&-
expect_eq "$(jqr .auth.orphan "$WORK/child.json")" "false" "a child token"
printf '%s\n' "$(jqr .auth.client_token "$WORK/child.json")" > "$WORK/child.token"
expect_err "Invalid argument" "child policies must be a subset" bash -c "echo policies=root-ish > '$M/auth/token/create'"
stop_cofferd "$M"
start_unsealed "$WORK/child.token"
expect_eq "$(cat "$M/kv/app#v")" "1" "child token works"
stop_cofferd "$M"
start_unsealed "$WORK/root.token"
echo "token=$(cat "$WORK/parent.token")" > "$M/auth/token/revoke"
stop_cofferd "$M"
start_unsealed "$WORK/child.token"
expect_err "Permission denied" "child of a revoked token" cat "$M/kv/app"
expect_err "Permission denied" "revoked child: lookup-self" cat "$M/auth/token/lookup-self"
stop_cofferd "$M"

pass
