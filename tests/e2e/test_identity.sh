#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Identity through the mount (vault-semantics §9.3, §9.4): a userpass login
# creates alice's entity; a group made with `echo` gives her a policy; the
# membership removed → access gone on her next read, no re-login; a
# disabled entity's token is refused, enabled again it works; the identity/
# tree walks with ls; Vault's refusals come back as errno.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to another uid)"; exit 77; }

M=$WORK/mnt
U1=61011

start_cofferd "$M" --dev --dev-root-token-id root --allow-other
export VAULT_TOKEN=root
if [ ! -d "$M/identity/entity/name" ]; then
  stop_cofferd "$M"
  echo "SKIP: this file view does not show identity/ directories yet"
  exit 77
fi

# --- as root: a secret, a policy, userpass with alice ---------------------------------
echo 'type=kv-v2' > "$M/sys/mounts/kv"
mkdir "$M/kv/team"
echo 'password=s3cret' > "$M/kv/team/db"
printf 'path "kv/data/team/*" {\n  capabilities = ["read"]\n}\n' > "$M/sys/policies/acl/team"

# --- entities and groups by name, with echo; Vault's refusals ----------------------------
echo 'policies=team metadata=team=a' > "$M/identity/entity/name/bob"
expect_eq "$(jq -c .policies "$M/identity/entity/name/bob")" '["team"]' "entity upsert by name"
expect_eq "$(jqr .metadata.team "$M/identity/entity/name/bob")" "a" "entity metadata"
BOB=$(jqr .id "$M/identity/entity/name/bob")
expect_eq "$(jqr .name "$M/identity/entity/id/$BOB")" "bob" "entity by id"
echo "{\"member_entity_ids\":[\"$BOB\"]}" > "$M/identity/group/name/staff"
expect_eq "$(jq -c .direct_group_ids "$M/identity/entity/name/bob")" "[\"$(jqr .id "$M/identity/group/name/staff")\"]" "bob is in staff"
expect_err "Invalid argument" "root in entity policies" bash -c "echo policies=root > '$M/identity/entity/name/carol'"
expect_err "No such file or directory" "carol was not made" cat "$M/identity/entity/name/carol"
expect_err "Invalid argument" "root in group policies" bash -c "echo policies=root > '$M/identity/group/name/admins'"
echo 'type=external' > "$M/identity/group/name/ldap-devs"
expect_err "Invalid argument" "external groups take no members" \
  bash -c "echo '{\"member_entity_ids\":[\"$BOB\"]}' > '$M/identity/group/name/ldap-devs'"
expect_eq "$(ls "$M/identity" | tr '\n' ' ')" "entity entity-alias group group-alias lookup " "ls identity"
expect_eq "$(ls "$M/identity/group" | tr '\n' ' ')" "id name " "ls identity/group"
expect_eq "$(ls "$M/identity/group/name" | tr '\n' ' ')" "ldap-devs staff " "ls group names"
expect_eq "$(ls "$M/identity/entity/id")" "$BOB" "ls entity ids"
rm "$M/identity/entity/name/bob"
expect_err "No such file or directory" "entity deleted" cat "$M/identity/entity/name/bob"
expect_eq "$(jq -c .member_entity_ids "$M/identity/group/name/staff")" "null" "deleting an entity leaves its groups"
rm "$M/identity/group/name/staff" "$M/identity/group/name/ldap-devs"

# --- logins: needs auth methods on the mount (sys/auth) ---------------------------------------
if [ ! -d "$M/sys/auth" ]; then
  stop_cofferd "$M"
  echo "SKIP (login part): this file view does not show sys/auth as a directory yet ($CHECKS checks passed)"
  exit 77
fi

echo 'type=userpass' > "$M/sys/auth/userpass"
echo 'password=alice-pw' > "$M/auth/userpass/users/alice"

# --- alice logs in (her uid's session) and has no access yet --------------------------
as_user "$U1" bash -c "echo password=alice-pw > '$M/auth/userpass/login/alice'"
EID=$(as_user "$U1" cat "$M/auth/token/lookup-self#entity_id")
ALICE_TOKEN=$(as_user "$U1" cat "$M/auth/token/lookup-self#id")
[ -n "$EID" ] || fail "the login gave the token an entity"
expect_err "Permission denied" "no group yet: no access" as_user "$U1" cat "$M/kv/team/db"
expect_eq "$(jqr '.aliases[0].name' "$M/identity/entity/id/$EID")" "alice" "the entity's alias is the username"
expect_eq "$(jqr '.aliases[0].mount_path' "$M/identity/entity/id/$EID")" "auth/userpass/" "alias mount path"

# --- a group, made with echo, grants the policy ---------------------------------------
echo "{\"policies\":\"team\",\"member_entity_ids\":[\"$EID\"]}" > "$M/identity/group/name/team"
expect_eq "$(as_user "$U1" cat "$M/kv/team/db#password")" "s3cret" "group policy applies on the next read"
expect_eq "$(as_user "$U1" jq -c .identity_policies "$M/auth/token/lookup-self")" '["team"]' "lookup-self shows identity_policies"
expect_eq "$(as_user "$U1" jq -c .policies "$M/auth/token/lookup-self")" '["default"]' "token policies unchanged"
GID=$(jqr .id "$M/identity/group/name/team")
expect_eq "$(jq -c .member_entity_ids "$M/identity/group/id/$GID")" "[\"$EID\"]" "group by id"
expect_eq "$(jq -c .direct_group_ids "$M/identity/entity/id/$EID")" "[\"$GID\"]" "entity shows its group"

# Nested: alice in "inner", inner a member of "team"; she keeps access through it.
echo "{\"member_entity_ids\":[\"$EID\"]}" > "$M/identity/group/name/inner"
IID=$(jqr .id "$M/identity/group/name/inner")
echo "{\"member_entity_ids\":[],\"member_group_ids\":[\"$IID\"]}" > "$M/identity/group/name/team"
expect_eq "$(as_user "$U1" cat "$M/kv/team/db#password")" "s3cret" "inherited through a nested group"
# A cycle is refused (EINVAL) and changes nothing.
expect_err "Invalid argument" "cycle refused" bash -c "echo '{\"member_group_ids\":[\"$GID\"]}' > '$M/identity/group/name/inner'"
expect_eq "$(jq -c .member_group_ids "$M/identity/group/name/inner")" "null" "the refused write changed nothing"

# --- membership removed → access gone on the next read ---------------------------------
echo '{"member_group_ids":[]}' > "$M/identity/group/name/team"
expect_err "Permission denied" "membership removed: access gone" as_user "$U1" cat "$M/kv/team/db"
echo "{\"member_entity_ids\":[\"$EID\"]}" > "$M/identity/group/name/team"
expect_eq "$(as_user "$U1" cat "$M/kv/team/db#password")" "s3cret" "membership back"

# --- a disabled entity's tokens are refused ----------------------------------------------
echo 'disabled=true' > "$M/identity/entity/id/$EID"
expect_eq "$(jqr .disabled "$M/identity/entity/id/$EID")" "true" "entity disabled"
expect_err "Permission denied" "disabled entity: token refused" as_user "$U1" cat "$M/kv/team/db"
expect_err "Permission denied" "disabled entity: even lookup-self" as_user "$U1" cat "$M/auth/token/lookup-self"
echo 'disabled=false' >> "$M/identity/entity/id/$EID"
# The refusal ended alice's uid session (the mount forgets a token it saw
# refused); the token itself lives on, as in Vault.
expect_eq "$(as_user "$U1" env VAULT_TOKEN="$ALICE_TOKEN" cat "$M/kv/team/db#password")" "s3cret" \
  "enabled again: the same token works"

# --- the identity/ tree after logins ------------------------------------------------------
expect_eq "$(ls "$M/identity/group/name" | tr '\n' ' ')" "inner team " "ls group names"
expect_eq "$(ls "$M/identity/entity/id")" "$EID" "ls entity ids"
expect_eq "$(ls "$M/identity/entity-alias/id" | wc -l)" "1" "one alias"

# --- alice's entity deleted: her token keeps only its own policies --------------------------
rm "$M/identity/entity/id/$EID"
expect_err "Permission denied" "entity gone: group policy gone" as_user "$U1" cat "$M/kv/team/db"

stop_cofferd "$M"
pass
