#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Cross-namespace secret sharing, with ordinary shell commands on a mount.
#
# The story: two teams each have their own namespace, `devex` and `secm`,
# side by side under the root. The devex team owns a database password. The
# secm team's application people and one of its machines (a scanner, which
# logs in with AppRole) need to read that one password. devex shares it
# without copying it and without handing secm any power over it: devex makes
# a group in its own namespace, gives the group a read-only policy, and puts
# into it what it chooses: the scanner, and secm's application team.
#
# Who is in that team is secm's business, kept where secm keeps its people:
# its company directory (LDAP). secm's people log in with their directory
# password through the `ldap` auth method of secm, and an *external* group
# in secm, whose group alias names the directory group secm-app-team, holds
# whoever the directory says is in it at their login. That external group is
# what devex puts into its own group. So the directory moves people in and
# out (it shows at their next login), and devex can take the whole team out,
# or change the password, at any time (it shows at the next read).
#
# Run it as root (it mounts FUSE, starts a throwaway OpenLDAP server on a
# loopback port, and acts as several users with setpriv):
#
#   COFFERD=build/release/mountd/cofferd examples/cross-namespace-sharing/run.sh
#
# It starts its own in-memory dev daemon (root token "root") on a temporary
# mountpoint and secm's directory (tests/ldap/slapd.sh, loaded with
# directory.ldif next to this file), and removes both at the end. Every step
# checks its outcome and the script stops with an error at the first
# surprise, so CTest runs this file as a test. Semantics: Vault's
# (vault-semantics.md §8-§10).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"   # step, check, as, allowed, refused, start_scenario
start_scenario

# Who is who. Coffer knows a caller by the VAULT_TOKEN in its environment,
# or else by the session its uid opened with a login through the mount.
# (In dev mode, the daemon owner's uid with neither acts with the dev root
# token, like `vault server -dev` leaving it in ~/.vault-token: that is how
# this script's own shell is the operator below. Any other uid with neither
# is anonymous, so everyone else logs in or is handed a token.)
declare -A UID_OF=([devex-admin]=62100 [secm-admin]=62200 [alice]=62201 [bob]=62202 [scanner]=62203)

# ===========================================================================
step "1. The operator (root token) makes the two team namespaces"
# ===========================================================================
# Namespaces are directories. devex and secm are siblings: neither is inside
# the other.
mkdir devex secm
ls
DEVEX_NS_ID=$(cat sys/namespaces/devex#id)
check "devex is a namespace" "$(cat sys/namespaces/devex#path)" "devex/"
check "secm is a namespace" "$(cat sys/namespaces/secm#path)" "secm/"

# A group's policies reach tokens of the group's own namespace and of the
# namespaces *above* it (mode within_namespace_hierarchy, the default). The
# group that grants the password will live in devex and the readers' tokens
# in secm, which is not above devex, so the operator switches the server to
# mode "any": a group then grants its policies to every member, whatever
# namespace the member's token comes from. The policies still only reach
# paths inside the group's namespace.
echo 'group_policy_application_mode=any' > sys/config/group-policy-application
check "group policies apply across namespaces" \
  "$(jq -r .group_policy_application_mode sys/config/group-policy-application)" "any"

# Each team gets an admin token that is all-powerful *inside its own
# namespace* and nothing outside it: a policy `path "*"` written in a
# namespace only covers that namespace (and any below it). `sudo` is for
# enabling auth methods (sys/auth is a root-protected path).
for ns in devex secm; do
  printf 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n' \
    > $ns/sys/policies/acl/admin
  exec 3<>$ns/auth/token/create        # the reply (the new token) is read on the same fd
  echo 'policies=admin display_name=admin' >&3
  TOKEN_OF[$ns-admin]=$(jq -r .auth.client_token <&3)
  exec 3>&-
done
check "the devex admin's token lives in devex" "$(as devex-admin 'cat devex/auth/token/lookup-self#namespace_path')" "devex/"
check "the secm admin's token lives in secm" "$(as secm-admin 'cat secm/auth/token/lookup-self#namespace_path')" "secm/"

# ===========================================================================
step "2. devex keeps its database credentials in a kv-v2 engine"
# ===========================================================================
as devex-admin 'echo type=kv-v2 > devex/sys/mounts/kv'
as devex-admin 'mkdir -p devex/kv/db devex/kv/payments'
as devex-admin 'echo "username=app password=first-pass-1" > devex/kv/db/postgres'
as devex-admin 'echo "username=legacy password=not-shared" > devex/kv/db/mysql'
as devex-admin 'echo "api_key=sk-not-for-secm" > devex/kv/payments/stripe'
check "devex reads its own secret" "$(as devex-admin 'cat devex/kv/db/postgres#password')" "first-pass-1"

# The policy that will be shared: read this one secret, nothing else. In a
# kv-v2 engine the secret's data is at kv/data/<path> (the file view's
# devex/kv/db/postgres is that path). It is written in devex, so it means
# devex/kv/data/db/postgres and can never reach anything outside devex.
as devex-admin 'printf "path \"kv/data/db/postgres\" {\n  capabilities = [\"read\"]\n}\n" > devex/sys/policies/acl/read-db'
as devex-admin 'cat devex/sys/policies/acl/read-db'

# The group that carries it, in devex, owned by devex. No members yet.
as devex-admin 'echo "policies=read-db" > devex/identity/group/name/db-readers'
check "group db-readers grants read-db" "$(as devex-admin 'jq -c .policies devex/identity/group/name/db-readers')" '["read-db"]'

# ===========================================================================
step "3. secm sets up how its people and machines log in (in secm)"
# ===========================================================================
# People: LDAP, against secm's directory (directory.ldif). The method finds
# a person by uid with its own search account, binds as them with the
# password they give (over StartTLS, trusting the directory's CA), and reads
# the cn of every group whose member they are. Machines: AppRole. Both auth
# methods live in secm; their logins get no policy from secm for devex's
# secret (only "default").
as secm-admin 'echo type=ldap > secm/sys/auth/ldap' || fail "secm could not enable ldap"
as secm-admin 'echo type=approle > secm/sys/auth/approle'
as secm-admin 'ls secm/sys/auth'
jq -nc --arg url "$LDAP_URL" --rawfile ca "$LDAP_CA" '{
    url: $url, starttls: true, certificate: $ca,
    binddn: "cn=coffer,ou=services,dc=example,dc=org", bindpass: "coffer-search-pw",
    userdn: "ou=people,dc=example,dc=org", userattr: "uid",
    groupdn: "ou=groups,dc=example,dc=org", groupattr: "cn",
    groupfilter: "(&(objectClass=groupOfNames)(member={{.UserDN}}))"
  }' | as secm-admin 'cat > secm/auth/ldap/config'
check "the directory is configured, its search password never shown" \
  "$(as secm-admin 'jq -c "[.url, has(\"bindpass\")]" secm/auth/ldap/config')" "[\"$LDAP_URL\",false]"
as secm-admin 'echo "token_ttl=1h secret_id_ttl=24h" > secm/auth/approle/role/scanner'

# The application team, as Coffer sees it: an external group in secm. It has
# no members of its own; at each login the ldap method puts the person into
# it when the directory has them in secm-app-team (the group alias's name on
# secm's ldap mount), and takes them out when it no longer does. (The alias
# is made as Vault's `vault write identity/group-alias ...`; the directory
# identity/group-alias lists aliases, so its create endpoint is the file
# identity/group-alias@data.)
as secm-admin 'echo type=external > secm/identity/group/name/app-team'
SECM_TEAM_ID=$(as secm-admin 'cat secm/identity/group/name/app-team#id')
LDAP_ACCESSOR=$(as secm-admin 'cat secm/sys/auth/ldap#accessor')
as secm-admin "exec 3<>secm/identity/group-alias@data &&
  echo '{\"name\":\"secm-app-team\",\"mount_accessor\":\"$LDAP_ACCESSOR\",\"canonical_id\":\"$SECM_TEAM_ID\"}' >&3" \
  || fail "secm could not give app-team its group alias"
check "app-team is the directory's secm-app-team" \
  "$(as secm-admin 'jq -r .alias.name secm/identity/group/name/app-team')" "secm-app-team"

# The machine's credentials: a role id (fixed) and a secret id (issued now;
# in real life delivered to the machine by the deployment pipeline).
SCANNER_ROLE_ID=$(as secm-admin 'cat secm/auth/approle/role/scanner@role-id#role_id')
SCANNER_SECRET_ID=$(as secm-admin 'exec 3<>secm/auth/approle/role/scanner@secret-id; echo "{}" >&3; jq -r .secret_id <&3')
[ -n "$SCANNER_ROLE_ID" ] && [ -n "$SCANNER_SECRET_ID" ] || fail "no AppRole credentials for the scanner"
echo "  ok: the scanner has a role id and a secret id"

# ===========================================================================
step "4. alice, bob and the scanner log in, each in secm, each as their own uid"
# ===========================================================================
# A login is a write to the login path; the reply (with the token) is read
# on the same fd, and the login also opens a session for the uid, so that
# uid's later commands need no VAULT_TOKEN. (The password is on a command
# line here only because this is a demo.) The first login of each creates
# their entity in secm: the identity that groups can name.
ldap_login() {  # ldap_login PERSON PASSWORD : PERSON logs in with LDAP, as their uid
  as "$1" "exec 3<>secm/auth/ldap/login/$1; echo password=$2 >&3; cat <&3"
}
ldap_login alice alice-ldap-pw > "$TMP/alice.json"
ldap_login bob bob-ldap-pw > "$TMP/bob.json"
as scanner "exec 3<>secm/auth/approle/login; echo 'role_id=$SCANNER_ROLE_ID secret_id=$SCANNER_SECRET_ID' >&3; cat <&3" \
  > "$TMP/scanner.json"
# A machine usually gets its token in its environment: from now on the
# scanner's commands run with VAULT_TOKEN set to the token it just received.
TOKEN_OF[scanner]=$(jq -r .auth.client_token "$TMP/scanner.json")
check "alice's session is alice" "$(as alice 'cat secm/auth/token/lookup-self#display_name')" "ldap-alice"
check "bob's session is bob" "$(as bob 'cat secm/auth/token/lookup-self#display_name')" "ldap-bob"
check "the scanner's VAULT_TOKEN is the AppRole token" \
  "$(as scanner 'cat secm/auth/token/lookup-self#display_name')" "approle"
ALICE_ID=$(jq -r .auth.entity_id "$TMP/alice.json")
BOB_ID=$(jq -r .auth.entity_id "$TMP/bob.json")
check "the directory put alice (not bob) into app-team" \
  "$(as secm-admin 'jq -c .member_entity_ids secm/identity/group/name/app-team')" "[\"$ALICE_ID\"]"
# A wrong password gets only Vault's message, as EINVAL (Vault: HTTP 400).
wrong=$(as bob 'echo password=guess > secm/auth/ldap/login/alice' 2>&1) && fail "a wrong password was accepted"
case "$wrong" in *"Invalid argument"*) ;; *) fail "a wrong password: expected Invalid argument, got: $wrong" ;; esac
echo "  ok: a wrong password is refused (Invalid argument)"

# Logged in, but nothing is shared yet.
refused "alice cannot read devex's password yet" alice 'cat devex/kv/db/postgres#password'
refused "the scanner cannot read it yet" scanner 'cat devex/kv/db/postgres#password'

# ===========================================================================
step "5. devex puts secm's application team and the scanner into db-readers"
# ===========================================================================
# devex needs two ids from secm: the team's group (secm's admin hands it
# over) and the scanner's entity. secm's admin can look an entity up by its
# login alias (mount accessor + alias name; for AppRole the alias name is
# the role id), and the scanner can read its own from lookup-self.
APPROLE_ACCESSOR=$(as secm-admin 'cat secm/sys/auth/approle#accessor')
SCANNER_ID=$(as secm-admin "exec 3<>secm/identity/lookup/entity
  echo '{\"alias_name\":\"$SCANNER_ROLE_ID\",\"alias_mount_accessor\":\"$APPROLE_ACCESSOR\"}' >&3
  jq -r .id <&3")
check "the scanner's entity, by lookup and by its own token" \
  "$SCANNER_ID" "$(as scanner 'cat secm/auth/token/lookup-self#entity_id')"
check "the team and the entities live in secm" \
  "$(as secm-admin "jq -r .namespace_id secm/identity/entity/id/$ALICE_ID secm/identity/group/id/$SECM_TEAM_ID" | sort -u)" \
  "$(cat sys/namespaces/secm#id)"

# Groups and entities of another namespace may be members of a group (Vault
# allows it). devex names secm's group, not secm's people: who is in the
# team stays secm's (and its directory's) business.
as devex-admin "echo '{\"member_group_ids\":[\"$SECM_TEAM_ID\"],\"member_entity_ids\":[\"$SCANNER_ID\"]}' \
  > devex/identity/group/name/db-readers"
check "db-readers has secm's team and the scanner" \
  "$(as devex-admin 'jq -c "[.member_group_ids, .member_entity_ids]" devex/identity/group/name/db-readers')" \
  "[[\"$SECM_TEAM_ID\"],[\"$SCANNER_ID\"]]"

# ===========================================================================
step "6. Who can read what now (nobody logged in again)"
# ===========================================================================
check "alice (in the team) reads the password" "$(as alice 'cat devex/kv/db/postgres#password')" "first-pass-1"
check "the scanner reads the password" "$(as scanner 'cat devex/kv/db/postgres#password')" "first-pass-1"
refused "bob (not in the team) cannot" bob 'cat devex/kv/db/postgres#password'
refused "alice cannot change it" alice 'echo password=mine > devex/kv/db/postgres'
check "the password is unchanged" "$(as devex-admin 'cat devex/kv/db/postgres#password')" "first-pass-1"
refused "alice cannot read the secret next to it" alice 'cat devex/kv/db/mysql'
refused "alice cannot read devex's other secrets" alice 'cat devex/kv/payments/stripe'
refused "alice cannot add bob to the group" alice \
  "echo '{\"member_entity_ids\":[\"$BOB_ID\",\"$SCANNER_ID\"]}' > devex/identity/group/name/db-readers"
check "the group is unchanged" \
  "$(as devex-admin 'jq -c .member_entity_ids devex/identity/group/name/db-readers')" "[\"$SCANNER_ID\"]"
refused "secm's admin (no entity, not a member) cannot read it" secm-admin 'cat devex/kv/db/postgres'
refused "devex's admin cannot touch secm's directory config" devex-admin 'cat secm/auth/ldap/config'

# Where alice's access comes from: her token's own policies are only
# "default"; devex's group adds read-db (through secm's app-team, a member
# of it), listed under the devex namespace id.
check "alice's token policies" "$(as alice 'jq -c .policies secm/auth/token/lookup-self')" '["default"]'
check "alice's policies from devex" \
  "$(as alice 'jq -c .external_namespace_policies secm/auth/token/lookup-self')" "{\"$DEVEX_NS_ID\":[\"read-db\"]}"

# Why the operator chose mode "any": in the default mode the devex group's
# policy does not reach secm tokens.
echo 'group_policy_application_mode=within_namespace_hierarchy' > sys/config/group-policy-application
refused "in the default mode alice is refused" alice 'cat devex/kv/db/postgres#password'
echo 'group_policy_application_mode=any' > sys/config/group-policy-application
check "back in mode any, alice reads again" "$(as alice 'cat devex/kv/db/postgres#password')" "first-pass-1"

# ===========================================================================
step "7. secm's directory changes: alice leaves the team, bob joins it"
# ===========================================================================
# Whoever runs secm's directory moves bob into secm-app-team and alice out
# of it. Coffer learns a person's directory groups when they log in and when
# their token is renewed (the ldap method asks the directory again), so each
# change shows at that person's next login or renewal; until then their
# tokens act with the groups of their last one.
ldap_modify "$TMP/ldap" <<'LDIF'
dn: cn=secm-app-team,ou=groups,dc=example,dc=org
changetype: modify
add: member
member: uid=bob,ou=people,dc=example,dc=org
-
delete: member
member: uid=alice,ou=people,dc=example,dc=org
LDIF
check "until her token is renewed, alice still reads" "$(as alice 'cat devex/kv/db/postgres#password')" "first-pass-1"
refused "until he logs in again, bob still cannot" bob 'cat devex/kv/db/postgres#password'
# alice renews her token (as a long-running session would); bob logs in again.
as alice 'echo > secm/auth/token/renew-self' || fail "alice's token was not renewed"
refused "renewed, alice is refused" alice 'cat devex/kv/db/postgres#password'
check "alice is still logged in (only the team is gone)" \
  "$(as alice 'cat secm/auth/token/lookup-self#display_name')" "ldap-alice"
ldap_login bob bob-ldap-pw > "$TMP/bob.json"
check "bob's new login is the same entity" "$(jq -r .auth.entity_id "$TMP/bob.json")" "$BOB_ID"
check "bob reads the password" "$(as bob 'cat devex/kv/db/postgres#password')" "first-pass-1"
check "app-team now holds bob only" \
  "$(as secm-admin 'jq -c .member_entity_ids secm/identity/group/name/app-team')" "[\"$BOB_ID\"]"

# ===========================================================================
step "8. devex rotates the password; the readers get the new one"
# ===========================================================================
# A write is a new version of the secret; readers get the latest.
as devex-admin 'echo "username=app password=second-pass-2" > devex/kv/db/postgres'
check "the scanner reads the new password" "$(as scanner 'cat devex/kv/db/postgres#password')" "second-pass-2"
check "bob reads the new password" "$(as bob 'cat devex/kv/db/postgres#password')" "second-pass-2"
refused "alice still cannot" alice 'cat devex/kv/db/postgres#password'

# ===========================================================================
step "9. devex stays in control: it takes secm's team out of db-readers"
# ===========================================================================
# A write to a group by name updates the fields it names (Vault's upsert).
as devex-admin "echo '{\"member_group_ids\":[]}' > devex/identity/group/name/db-readers"
# bob keeps his session and his token; his very next read is refused.
check "bob is still logged in" "$(as bob 'cat secm/auth/token/lookup-self#display_name')" "ldap-bob"
refused "bob's next read is refused" bob 'cat devex/kv/db/postgres#password'
check "the scanner still reads" "$(as scanner 'cat devex/kv/db/postgres#password')" "second-pass-2"

echo
echo "Cross-namespace sharing: every check passed."
