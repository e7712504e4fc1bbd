#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Delegated administration with namespaces, with ordinary shell commands on a
# mount (the scenario of Vault's "secure multi-tenancy with namespaces"
# tutorial, with its people coming from the company directory as the
# tutorial's LDAP section sets it up).
#
# The story: an `education` organisation has two teams, `training` and
# `certification`, each a namespace inside `education`. The operator (root
# token) sets up the organisation once and then steps back:
#   - bob is the organisation's admin: he manages everything in education
#     and in both teams;
#   - alice is the training team's admin: she manages education/training and
#     nothing else — not education itself, not certification.
# Nobody gets the root token, and nobody's power is written down person by
# person: people log in with their directory (LDAP) password through the
# `ldap` auth method of the root namespace, and what they may do follows the
# directory groups they are in. A directory group reaches Coffer through an
# *external* group in the root namespace whose group alias names it
# (edu_admins -> education_admin_root, ops_training -> training_admin_root);
# that external group is a member of an internal group in the namespace it
# administers ("Education Admin" in education, "Training Admin" in
# education/training), which carries the policy. When the directory changes,
# Coffer follows at each person's next login.
#
# Run it as root (it mounts FUSE, starts a throwaway OpenLDAP server on a
# loopback port, and acts as other uids with setpriv):
#
#   COFFERD=build/release/mountd/cofferd examples/delegated-admin/run.sh
#
# It starts its own in-memory dev daemon (root token "root") on a temporary
# mountpoint and its own directory (tests/ldap/slapd.sh, loaded with
# directory.ldif next to this file), and removes both at the end. Every step
# checks who can and who cannot, and the script stops at the first surprise,
# so CTest runs it as a test. Semantics: Vault's (vault-semantics.md §8-§10).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"   # step, check, as, allowed, refused, start_scenario
start_scenario

# Who is who. Coffer knows a caller by the VAULT_TOKEN in its environment,
# or else by the session its uid opened with a login through the mount. (In
# dev mode the daemon owner's uid, with neither, acts with the dev root
# token: that is how this script's own shell is the operator. Other uids
# with neither have no token at all.) bob, alice and carol are uids that
# log in through the mount; their logins bind their uid to their token.
declare -A UID_OF=([bob]=62301 [alice]=62302 [carol]=62303)

# ===========================================================================
step "1. The operator makes the organisation and its two teams"
# ===========================================================================
mkdir -p education/training education/certification
ls education
check "training is inside education" "$(cat education/sys/namespaces/training#path)" "education/training/"
EDU_NS_ID=$(cat sys/namespaces/education#id)
TRAINING_NS_ID=$(cat education/sys/namespaces/training#id)

# ===========================================================================
step "2. Two policies: one for the organisation admin, one for a team admin"
# ===========================================================================
# A policy lives in a namespace and its paths are relative to it. `path "*"`
# written in education covers education and every namespace below it;
# written in education/training, only training. `sudo` is needed to enable
# auth methods (sys/auth is a root-protected path).
printf 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n' \
  > education/sys/policies/acl/edu-admin
printf 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n' \
  > education/training/sys/policies/acl/training-admin
ls education/sys/policies/acl education/training/sys/policies/acl

# ===========================================================================
step "3. People log in with LDAP, enabled once in the root namespace"
# ===========================================================================
# The directory (directory.ldif): people under ou=people, groups under
# ou=groups. The ldap auth method finds a person by uid with its own search
# account, binds as them with the password they give (over StartTLS, trusting
# the directory's CA), and reads the cn of every group whose member they are.
echo 'type=ldap description=company-directory' > sys/auth/ldap || fail "the operator could not enable ldap"
jq -nc --arg url "$LDAP_URL" --rawfile ca "$LDAP_CA" '{
    url: $url, starttls: true, certificate: $ca,
    binddn: "cn=coffer,ou=services,dc=example,dc=org", bindpass: "coffer-search-pw",
    userdn: "ou=people,dc=example,dc=org", userattr: "uid",
    groupdn: "ou=groups,dc=example,dc=org", groupattr: "cn",
    groupfilter: "(&(objectClass=groupOfNames)(member={{.UserDN}}))"
  }' > auth/ldap/config
check "the config is stored, its password is never shown" \
  "$(jq -c '[.userattr, .groupattr, has("bindpass")]' auth/ldap/config)" '["uid","cn",false]'
LDAP_ACCESSOR=$(cat sys/auth/ldap#accessor)

# ===========================================================================
step "4. Directory groups become Coffer groups: external groups in the root namespace"
# ===========================================================================
# An external group has no members of its own: the auth method fills it at
# each login with the people the directory puts in the group its alias
# names. The alias is the directory group's name on this ldap mount.
# group_alias GROUP DIRECTORY-GROUP : gives the root external group GROUP the
# alias DIRECTORY-GROUP on the ldap mount (Vault's `vault write
# identity/group-alias name=... mount_accessor=... canonical_id=...`; the
# directory identity/group-alias lists aliases, so its create endpoint is
# the file identity/group-alias@data).
group_alias() {
  local id
  id=$(cat "identity/group/name/$1#id")
  exec 3<>identity/group-alias@data || fail "cannot open identity/group-alias@data to make a group alias"
  echo "{\"name\":\"$2\",\"mount_accessor\":\"$LDAP_ACCESSOR\",\"canonical_id\":\"$id\"}" >&3 \
    || fail "the group alias $2 was refused: $(cat <&3)"
  exec 3>&-
}
echo 'type=external' > identity/group/name/education_admin_root
echo 'type=external' > identity/group/name/training_admin_root
group_alias education_admin_root edu_admins
group_alias training_admin_root ops_training
check "training_admin_root is the directory's ops_training" \
  "$(jq -r '.alias.name + " on " + .alias.mount_accessor' identity/group/name/training_admin_root)" \
  "ops_training on $LDAP_ACCESSOR"
EDU_ROOT_ID=$(cat identity/group/name/education_admin_root#id)
TRAINING_ROOT_ID=$(cat identity/group/name/training_admin_root#id)

# ===========================================================================
step "5. Each external group joins the internal group that carries the power"
# ===========================================================================
# "Education Admin" lives in education, with edu-admin; "Training Admin"
# lives in education/training, with training-admin. Groups may hold groups
# of other namespaces: here each holds its root external group. The policies
# reach tokens of the root namespace, where the ldap logins happen, because
# education and training are below it (group_policy_application_mode
# within_namespace_hierarchy, the default); they still only grant paths in
# their own namespace.
echo "policies=edu-admin member_group_ids=$EDU_ROOT_ID" > "education/identity/group/name/Education Admin"
echo "policies=training-admin member_group_ids=$TRAINING_ROOT_ID" \
  > "education/training/identity/group/name/Training Admin"
check "Training Admin holds training_admin_root" \
  "$(jq -c .member_group_ids "education/training/identity/group/name/Training Admin")" "[\"$TRAINING_ROOT_ID\"]"

# ===========================================================================
step "6. bob, alice and carol log in with their directory passwords"
# ===========================================================================
# A login is a write to the login path; the reply (with the token) is read
# on the same fd. The first login makes each person's identity entity in
# the root namespace (alias: their uid on the ldap mount) and puts it into
# the external groups of their directory groups.
login() {  # login PERSON PASSWORD : logs PERSON in as their uid; prints the entity id
  as "$1" "exec 3<>auth/ldap/login/$1; echo password=$2 >&3; jq -r .auth.entity_id <&3"
}
BOB_ENTITY=$(login bob bob-ldap-pw)
ALICE_ENTITY=$(login alice alice-ldap-pw)
CAROL_ENTITY=$(login carol carol-ldap-pw)
check "bob's session is bob" "$(as bob 'cat auth/token/lookup-self#display_name')" "ldap-bob"
check "alice's session is alice" "$(as alice 'cat auth/token/lookup-self#display_name')" "ldap-alice"
check "the directory put alice into training_admin_root" \
  "$(jq -c .member_entity_ids identity/group/name/training_admin_root)" "[\"$ALICE_ENTITY\"]"
check "and bob into education_admin_root" \
  "$(jq -c .member_entity_ids identity/group/name/education_admin_root)" "[\"$BOB_ENTITY\"]"
# Their tokens carry only "default"; the rest comes from the groups, listed
# by the id of the namespace that grants it (as in the tutorial's output).
check "bob's token policies" "$(as bob 'jq -c .policies auth/token/lookup-self')" '["default"]'
check "bob gets edu-admin from education" \
  "$(as bob 'jq -c .external_namespace_policies auth/token/lookup-self')" "{\"$EDU_NS_ID\":[\"edu-admin\"]}"
check "alice gets training-admin from education/training" \
  "$(as alice 'jq -c .external_namespace_policies auth/token/lookup-self')" \
  "{\"$TRAINING_NS_ID\":[\"training-admin\"]}"
check "carol gets nothing more" \
  "$(as carol 'jq -c .external_namespace_policies auth/token/lookup-self')" "null"
# A wrong password gets only Vault's message, as EINVAL (Vault: HTTP 400).
wrong=$(as carol 'echo password=guess > auth/ldap/login/bob' 2>&1) && fail "a wrong password was accepted"
case "$wrong" in *"Invalid argument"*) ;; *) fail "a wrong password: expected Invalid argument, got: $wrong" ;; esac
echo "  ok: a wrong password is refused (Invalid argument)"

# ===========================================================================
step "7. What bob, the organisation admin, can do"
# ===========================================================================
allowed "bob makes a namespace for a new team" bob "mkdir education/marketing"
allowed "bob writes a policy in certification" bob \
  "printf 'path \"kv/*\" {\n  capabilities = [\"read\"]\n}\n' > education/certification/sys/policies/acl/reader"
allowed "bob enables a secrets engine in certification" bob "echo type=kv-v2 > education/certification/sys/mounts/kv"
allowed "bob enables an auth method in education" bob "echo type=approle > education/sys/auth/approle"
refused "bob cannot touch the root namespace's policies" bob "cat sys/policies/acl/default"
refused "bob cannot make namespaces beside education" bob "mkdir other-org"
refused "bob cannot read the root namespace's ldap config" bob "cat auth/ldap/config"

# ===========================================================================
step "8. What alice, the training admin, can and cannot do"
# ===========================================================================
allowed "alice enables a secrets engine in training" alice "echo type=kv-v2 > education/training/sys/mounts/team"
allowed "alice writes a training secret" alice "echo password=s3cret > education/training/team/db"
allowed "alice writes a training policy" alice \
  "printf 'path \"team/data/*\" {\n  capabilities = [\"read\"]\n}\n' > education/training/sys/policies/acl/student"
check "alice reads the training secret" "$(as alice 'cat education/training/team/db#password')" "s3cret"
refused "alice cannot read education's policies" alice "cat education/sys/policies/acl/edu-admin"
refused "alice cannot manage certification" alice "echo type=kv-v2 > education/certification/sys/mounts/x"
refused "alice cannot put herself into Education Admin" alice \
  "echo '{\"member_group_ids\":[\"$EDU_ROOT_ID\",\"$TRAINING_ROOT_ID\"]}' > 'education/identity/group/name/Education Admin'"
refused "alice cannot give her entity policies" alice "echo policies=edu-admin >> identity/entity/id/$ALICE_ENTITY"

# ===========================================================================
step "9. Carol, in no directory group, can do neither"
# ===========================================================================
refused "carol cannot read the training secret" carol "cat education/training/team/db"
refused "carol cannot write training policies" carol "echo 'path \"*\" { capabilities = [\"read\"] }' > education/training/sys/policies/acl/mine"

# ===========================================================================
step "10. The directory changes: carol takes over training from alice"
# ===========================================================================
# Only the directory decides who is in an external group: not even the
# operator can put carol into training_admin_root by hand (Vault's rule,
# EINVAL: HTTP 400).
err=$(echo "{\"member_entity_ids\":[\"$CAROL_ENTITY\"]}" 2>&1 > identity/group/name/training_admin_root) \
  && fail "an external group took a member by hand"
case "$err" in *"Invalid argument"*) ;; *) fail "an external group by hand: expected Invalid argument, got: $err" ;; esac
echo "  ok: an external group takes no members by hand (Invalid argument)"

# Whoever runs the directory moves carol into ops_training and alice out of
# it. Coffer learns a person's directory groups when they log in (and when
# their token is renewed), so each change shows at that person's next login.
ldap_modify "$TMP/ldap" <<'LDIF'
dn: cn=ops_training,ou=groups,dc=example,dc=org
changetype: modify
add: member
member: uid=carol,ou=people,dc=example,dc=org
-
delete: member
member: uid=alice,ou=people,dc=example,dc=org
LDIF
refused "until she logs in again, carol still cannot read the training secret" carol \
  "cat education/training/team/db"
check "and alice still can" "$(as alice 'cat education/training/team/db#password')" "s3cret"
check "carol logs in again (same entity)" "$(login carol carol-ldap-pw)" "$CAROL_ENTITY"
check "carol now reads the training secret" "$(as carol 'cat education/training/team/db#password')" "s3cret"
allowed "carol manages training" carol "echo password=n3w > education/training/team/db"
check "alice logs in again (same entity)" "$(login alice alice-ldap-pw)" "$ALICE_ENTITY"
refused "alice no longer reads the training secret" alice "cat education/training/team/db"
refused "alice no longer writes training policies" alice \
  "echo 'path \"*\" { capabilities = [\"read\"] }' > education/training/sys/policies/acl/mine"
check "training_admin_root now holds carol only" \
  "$(jq -c .member_entity_ids identity/group/name/training_admin_root)" "[\"$CAROL_ENTITY\"]"
check "bob, the organisation admin, reads carol's new password" \
  "$(as bob 'cat education/training/team/db#password')" "n3w"

echo
echo "delegated-admin: all checks passed"
