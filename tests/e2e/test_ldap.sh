#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The ldap auth method against a real OpenLDAP slapd (tests/ldap/slapd.sh,
# people and nested groups from tests/ldap/directory.ldif): enabled in a
# namespace with echo; its config written as JSON and read back without the
# bind password; logins through the mount by several uids (setpriv), good and
# bad; directory groups mapped by a group alias onto an external group whose
# internal parent group lives in a child namespace (external_namespace_policies,
# a real secret read with it); local groups/ and users/ mappings; a directory
# change seen at the next login and at renew-self (and a renewal refused when
# the policies changed); a stopped server (SIGSTOP): other logins and reads go
# on while a login or a renewal waits on it, and a login times out
# (ETIMEDOUT); ldaps, StartTLS, a wrong CA, a certificate for another name,
# insecure_tls; usernames that try LDAP filter injection; the server down (a
# clear error, earlier tokens keep working); the method disabled (its tokens
# revoked).
# Skips (77) when slapd or the ldap-utils are not installed.
# This shell acts as root through VAULT_TOKEN (it opens files itself with
# exec, and the fs reads a process's environment as it started).
[ "${VAULT_TOKEN:-}" == root ] || exec env VAULT_TOKEN=root bash "$0" "$@"
source "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/tests/ldap/slapd.sh"
for tool in slapd slapadd; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "SKIP: $tool missing (package slapd)"; exit 77; }
done
for tool in ldapsearch ldapmodify; do
  command -v $tool >/dev/null || { echo "SKIP: $tool missing (package ldap-utils)"; exit 77; }
done
command -v jq >/dev/null || fail "jq missing"
command -v setpriv >/dev/null || fail "setpriv missing (util-linux)"
[ "$(id -u)" = 0 ] || fail "needs root (FUSE mounts, setpriv to other uids)"

LDIR=$WORK/ldap
trap 'ldap_stop "$LDIR"; cleanup' EXIT
ldap_start "$LDIR" "$ROOT/tests/ldap/directory.ldif" || fail "ldap_start failed"
PEOPLE=ou=people,$LDAP_BASE
GROUPS_DN=ou=groups,$LDAP_BASE

# expect_reply TEXT WHAT : the reply of the last expect_err'd login ($WORK/out)
# holds TEXT.
expect_reply() {
  CHECKS=$((CHECKS + 1))
  grep -qF -- "$1" "$WORK/out" || fail "$2: expected the reply to say \"$1\", got: $(cat "$WORK/out")"
}

# --- the harness itself: the directory answers as the tests below assume ----------
USER_SEARCH=(-x -D "$LDAP_ADMIN_DN" -w "$LDAP_ADMIN_PW" -b "$PEOPLE" -LLL)
expect_eq "$(LDAPTLS_CACERT=$LDAP_CA ldapsearch -H "$LDAPS_URL" "${USER_SEARCH[@]}" '(uid=alice)' dn)" \
  "dn: uid=alice,$PEOPLE" "ldapsearch over ldaps with the CA"
expect_eq "$(LDAPTLS_CACERT=$LDAP_CA ldapsearch -ZZ -H "$LDAP_URL" "${USER_SEARCH[@]}" '(uid=alice)' dn)" \
  "dn: uid=alice,$PEOPLE" "ldapsearch with StartTLS and the CA"
expect_false "ldapsearch over ldaps with the wrong CA" \
  env LDAPTLS_CACERT="$LDAP_WRONG_CA" ldapsearch -H "$LDAPS_URL" "${USER_SEARCH[@]}" '(uid=alice)' dn
expect_false "ldapsearch over ldaps to a name the certificate does not hold" \
  env LDAPTLS_CACERT="$LDAP_CA" ldapsearch -H "$LDAPS_MISMATCH_URL" "${USER_SEARCH[@]}" '(uid=alice)' dn
expect_eq "$(LDAPTLS_REQCERT=never ldapsearch -H "$LDAPS_MISMATCH_URL" "${USER_SEARCH[@]}" '(uid=alice)' dn)" \
  "dn: uid=alice,$PEOPLE" "the mismatching name answers when the certificate is not checked"
expect_eq "$(ldapsearch -H "$LDAP_URL" "${USER_SEARCH[@]}" '(uid=alice)' memberOf | grep '^memberOf' | sort | tr '\n' ' ')" \
  "memberOf: cn=dev,$GROUPS_DN memberOf: cn=engineering,$GROUPS_DN " "alice's nested memberOf"

# --- a daemon, a namespace org with a child org/team -------------------------------------
M=$WORK/mnt
start_cofferd "$M" --dev --dev-root-token-id root --allow-other
[ -d "$M/sys/auth" ] || fail "this file view does not show sys/auth as a directory"
NS=$M/org
TEAM=$NS/team
mkdir -p "$TEAM"
TEAM_NS_ID=$(cat "$M/org/sys/namespaces/team#id")
[ -n "$TEAM_NS_ID" ] || fail "no id for org/team"

U_ALICE=61201 U_BOB=61202 U_CAROL=61203 U_EVE=61204 U_DAVE=61205 U_NOBODY=61206

# Something to protect: org/kv/common (every ldap login token may read it,
# through the config's token_policies) and org/team/kv/app (only through the
# team group).
echo type=kv-v2 > "$NS/sys/mounts/kv"
echo 'v=common' > "$NS/kv/common"
printf 'path "kv/data/common" {\n  capabilities = ["read"]\n}\n' > "$NS/sys/policies/acl/base-read"
printf 'path "kv/data/none" {\n  capabilities = ["read"]\n}\n' > "$NS/sys/policies/acl/dev-pol"
echo type=kv-v2 > "$TEAM/sys/mounts/kv"
echo 'v=team-secret' > "$TEAM/kv/app"
printf 'path "kv/data/app" {\n  capabilities = ["read"]\n}\n' > "$TEAM/sys/policies/acl/team-read"

# --- enable --------------------------------------------------------------------------
expect_ok "enable ldap in org" bash -c "echo type=ldap > '$NS/sys/auth/ldap'"
expect_eq "$(ls "$NS/sys/auth" | tr '\n' ' ')" "ldap token " "ls org/sys/auth"
ACCESSOR=$(cat "$NS/sys/auth/ldap#accessor")
[[ "$ACCESSOR" =~ ^auth_ldap_[0-9a-f]{8}$ ]] || fail "ldap accessor: $ACCESSOR"
CHECKS=$((CHECKS + 1))
[ ! -e "$M/sys/auth/ldap" ] || fail "the root namespace sees org's ldap method"

# login UID USER PASSWORD : UID logs in through org's ldap mount; the reply
# (or, after a failed write, the error message) on stdout, the write's error
# on stderr, the write's status.
login() {
  as_user "$1" bash -c 'exec 3<>"$1" || exit 99; rc=0; printf "%s\n" "$2" >&3 || rc=$?; cat <&3; exit $rc' \
    _ "$NS/auth/ldap/login/$2" "password=$3"
}
# session_of UID : the display name of UID's session token in org (fails without one).
session_of() { as_user "$1" cat "$NS/auth/token/lookup-self#display_name"; }

expect_err "Invalid argument" "login before the config" login $U_EVE alice alice-pw
expect_reply "ldap backend not configured" "login before the config"

# --- config ----------------------------------------------------------------------------
# write_config [JSON] : the whole config (the base below, merged with JSON).
# A config write keeps the fields it does not name (as Vault), so the base
# names every field a test below changes.
BASE_CONFIG=$(jq -n --arg url "$LDAP_URL" --arg dn "$LDAP_ADMIN_DN" --arg pw "$LDAP_ADMIN_PW" \
  --arg people "$PEOPLE" --arg groups "$GROUPS_DN" \
  '{url: $url, binddn: $dn, bindpass: $pw, userdn: $people, userattr: "uid",
    groupdn: $groups, groupattr: "cn", groupfilter: "(member={{.UserDN}})",
    token_policies: "base-read", token_ttl: "1h", starttls: false, insecure_tls: false, certificate: "",
    request_timeout: 90, connection_timeout: 30}')
write_config() {
  local extra=${1:-'{}'}
  jq -c --argjson extra "$extra" '. + $extra' <<<"$BASE_CONFIG" > "$WORK/config.json"
  cp "$WORK/config.json" "$NS/auth/ldap/config"
}
expect_ok "write the config" write_config
expect_eq "$(jqr .url "$NS/auth/ldap/config")" "$LDAP_URL" "config url"
expect_eq "$(jqr .userdn "$NS/auth/ldap/config")" "$PEOPLE" "config userdn"
expect_eq "$(jqr .groupfilter "$NS/auth/ldap/config")" "(member={{.UserDN}})" "config groupfilter"
expect_eq "$(jqr .deny_null_bind "$NS/auth/ldap/config")" "true" "deny_null_bind defaults to true"
expect_eq "$(jq 'has("bindpass")' "$NS/auth/ldap/config")" "false" "bindpass never shown"
CHECKS=$((CHECKS + 1))
! grep -qF "$LDAP_ADMIN_PW" "$NS/auth/ldap/config" || fail "the bind password shows in the config"
expect_err "Invalid argument" "unknown config key" \
  bash -c "echo '{\"url\":\"ldap://127.0.0.1:1\",\"no_such_key\":1}' > '$NS/auth/ldap/config'"
expect_eq "$(jqr .url "$NS/auth/ldap/config")" "$LDAP_URL" "the refused config write changed nothing"
expect_err "Invalid argument" "use_token_groups (Active Directory) is refused" write_config '{"use_token_groups":true}'
expect_err "Invalid argument" "a url that is not ldap:// or ldaps://" write_config '{"url":"http://127.0.0.1:1"}'
expect_eq "$(jqr .url "$NS/auth/ldap/config")" "$LDAP_URL" "the refused config writes changed nothing"
CHECKS=$((CHECKS + 1))
! grep -qF "$LDAP_ADMIN_PW" "$WORK/cofferd.log" || fail "the bind password is in the daemon's log"

# --- local mappings: groups/ and users/ -------------------------------------------------------
expect_ok "groups/dev" bash -c "echo policies=dev-pol > '$NS/auth/ldap/groups/dev'"
printf 'path "kv/data/none" {\n  capabilities = ["read"]\n}\n' > "$NS/sys/policies/acl/admin-pol"
printf 'path "kv/data/none" {\n  capabilities = ["read"]\n}\n' > "$NS/sys/policies/acl/carol-pol"
printf 'path "kv/data/none" {\n  capabilities = ["read"]\n}\n' > "$NS/sys/policies/acl/eng-pol"
expect_ok "groups/admins" bash -c "echo policies=admin-pol > '$NS/auth/ldap/groups/admins'"
expect_ok "groups/engineering" bash -c "echo policies=eng-pol > '$NS/auth/ldap/groups/engineering'"
expect_ok "users/carol" bash -c "echo 'policies=carol-pol groups=admins' > '$NS/auth/ldap/users/carol'"
expect_eq "$(jq -c .policies "$NS/auth/ldap/groups/dev")" '["dev-pol"]' "groups/dev policies"
expect_ok "a mixed-case group name" bash -c "echo policies=x > '$NS/auth/ldap/groups/Ops'"
expect_eq "$(ls "$NS/auth/ldap/groups" | tr '\n' ' ')" "admins dev engineering ops " "group names are lower-cased"
expect_ok "rm groups/ops" rm "$NS/auth/ldap/groups/ops"
expect_eq "$(ls "$NS/auth/ldap/groups" | tr '\n' ' ')" "admins dev engineering " "ls groups after rm"
expect_eq "$(ls "$NS/auth/ldap/users")" "carol" "ls users"

# --- the directory group dev mapped onto org/team ----------------------------------------------
# An external group in org with the alias "dev" (the directory group's cn) on
# the ldap mount; an internal group in org/team holds it and grants
# team-read there.
echo 'type=external' > "$NS/identity/group/name/ldap-dev"
EXT_ID=$(cat "$NS/identity/group/name/ldap-dev#id")
# group_alias NS GROUP_ID NAME ACCESSOR : Vault's `vault write identity/group-alias
# name=NAME mount_accessor=ACCESSOR canonical_id=GROUP_ID` in NS; the reply
# (the alias id) on stdout. identity/group-alias is a directory (of id/), so
# its create endpoint is the file group-alias@data.
group_alias() {
  local body
  body=$(jq -cn --arg n "$3" --arg a "$4" --arg g "$2" '{name: $n, mount_accessor: $a, canonical_id: $g}')
  exec 4<>"$1/identity/group-alias@data" || fail "cannot open $1/identity/group-alias@data to make a group alias"
  echo "$body" >&4 || fail "group alias write refused: $(cat <&4)"
  cat <&4
  exec 4>&-
}
group_alias "$NS" "$EXT_ID" dev "$ACCESSOR" > "$WORK/alias.json"
[ "$(jqr .id "$WORK/alias.json")" != null ] || fail "no alias id in the reply: $(cat "$WORK/alias.json")"
expect_eq "$(jq -r '.alias.name + " on " + .alias.mount_accessor' "$NS/identity/group/name/ldap-dev")" \
  "dev on $ACCESSOR" "the external group's alias"
# ldap-admins: the directory group admins (bob) and carol, whose users/
# entry adds the group admins.
echo 'type=external' > "$NS/identity/group/name/ldap-admins"
ADMINS_ID=$(cat "$NS/identity/group/name/ldap-admins#id")
group_alias "$NS" "$ADMINS_ID" admins "$ACCESSOR" > /dev/null
echo "{\"policies\":\"team-read\",\"member_group_ids\":[\"$EXT_ID\"]}" > "$TEAM/identity/group/name/team-readers"
expect_eq "$(jq -c .member_group_ids "$TEAM/identity/group/name/team-readers")" "[\"$EXT_ID\"]" "team-readers holds ldap-dev"

# --- logins --------------------------------------------------------------------------------
expect_ok "alice logs in" login $U_ALICE alice alice-pw
cp "$WORK/out" "$WORK/alice.json"
[ "$(jqr .auth.client_token "$WORK/alice.json")" != null ] || fail "no token in alice's login reply: $(cat "$WORK/alice.json")"
expect_eq "$(jq -c .auth.token_policies "$WORK/alice.json")" '["base-read","default","dev-pol"]' "alice's token policies"
expect_eq "$(jqr .auth.metadata.username "$WORK/alice.json")" "alice" "login metadata"
expect_eq "$(jqr .auth.lease_duration "$WORK/alice.json")" "3600" "token_ttl of the config"
ALICE_EID=$(jqr .auth.entity_id "$WORK/alice.json")
[ -n "$ALICE_EID" ] && [ "$ALICE_EID" != null ] || fail "alice's login made no entity"
expect_eq "$(session_of $U_ALICE)" "ldap-alice" "alice's uid session is ldap-alice"
expect_eq "$(as_user $U_ALICE cat "$NS/auth/token/lookup-self#path")" "auth/ldap/login/alice" "token path"
expect_eq "$(jqr '.aliases[0].name + " " + .aliases[0].mount_accessor' "$NS/identity/entity/id/$ALICE_EID")" \
  "alice $ACCESSOR" "alice's entity alias"
expect_eq "$(jq -c .member_entity_ids "$NS/identity/group/name/ldap-dev")" "[\"$ALICE_EID\"]" \
  "the login put alice into the external group"
expect_eq "$(as_user $U_ALICE jq -c .external_namespace_policies "$NS/auth/token/lookup-self")" \
  "{\"$TEAM_NS_ID\":[\"team-read\"]}" "alice's external_namespace_policies"
expect_eq "$(as_user $U_ALICE cat "$TEAM/kv/app#v")" "team-secret" "alice reads the team secret through the groups"
expect_eq "$(as_user $U_ALICE cat "$NS/kv/common#v")" "common" "alice reads common (token_policies)"

expect_ok "bob logs in" login $U_BOB bob bob-pw
expect_eq "$(jq -c .auth.token_policies "$WORK/out")" '["admin-pol","base-read","default","dev-pol"]' "bob's token policies"
BOB_EID=$(jqr .auth.entity_id "$WORK/out")
expect_eq "$(as_user $U_BOB cat "$TEAM/kv/app#v")" "team-secret" "bob reads the team secret"

expect_ok "carol logs in" login $U_CAROL carol carol-pw
CAROL_EID=$(jqr .auth.entity_id "$WORK/out")
expect_eq "$(jq -c .auth.token_policies "$WORK/out")" '["admin-pol","base-read","carol-pol","default"]' \
  "carol's policies: users/carol and its local group"
expect_err "Permission denied" "carol (not in dev) cannot read the team secret" as_user $U_CAROL cat "$TEAM/kv/app"
expect_eq "$(as_user $U_CAROL jq -c .external_namespace_policies "$NS/auth/token/lookup-self")" "null" \
  "carol has no external_namespace_policies"
expect_eq "$(jq -c '.member_entity_ids | sort' "$NS/identity/group/name/ldap-admins")" \
  "$(jq -cn --arg b "$BOB_EID" --arg c "$CAROL_EID" '[$b, $c] | sort')" \
  "ldap-admins: bob from the directory, carol from users/carol"
# The alias is the entry's uid, whatever case was typed: ALICE is alice.
expect_ok "ALICE logs in" login $U_EVE ALICE alice-pw
expect_eq "$(jqr .auth.entity_id "$WORK/out")" "$ALICE_EID" "ALICE is alice's entity"
expect_ok "end eve's session" as_user $U_EVE bash -c "echo '{}' > '$NS/auth/token/revoke-self'"

# Nested groups through memberOf (the harness's dynlist overlay): alice is in
# dev directly and in engineering through dev.
expect_ok "memberOf config" write_config \
  "$(jq -n --arg people "$PEOPLE" '{groupdn: $people, groupattr: "memberOf",
     groupfilter: "(&(objectClass=inetOrgPerson)(uid={{.Username}}))"}')"
expect_ok "alice logs in (memberOf)" login $U_ALICE alice alice-pw
expect_eq "$(jq -c .auth.token_policies "$WORK/out")" '["base-read","default","dev-pol","eng-pol"]' \
  "memberOf gives alice the nested group engineering"
expect_ok "back to the member filter" write_config

# --- refused logins --------------------------------------------------------------------------
expect_err "Invalid argument" "wrong password" login $U_EVE alice wrong-pw
expect_reply "ldap operation failed: failed to bind as user" "wrong password"
expect_err "Invalid argument" "unknown user" login $U_EVE mallory alice-pw
expect_reply "ldap operation failed: failed to bind as user" "unknown user"
expect_err "Invalid argument" "empty password" login $U_EVE alice ""
expect_reply "password cannot be of zero length when passwordless binds are being denied" "empty password"
expect_err "Permission denied" "refused logins bound no session" session_of $U_EVE

# Filter injection: each name, put into (uid=NAME) unescaped, would match
# alice or several people, and "alice\2a" would match the user "alice*"
# (whose password is star-pw). Escaped, none names exactly one entry.
for name in '*' 'a*' 'alice)(uid=*' '*)(|(uid=*' '\' 'alice\2a' 'alice*)(uid=alice'; do
  for pw in alice-pw star-pw; do
    expect_err "Invalid argument" "injection [$name]/$pw" login $U_EVE "$name" "$pw"
    expect_reply "ldap operation failed: failed to bind as user" "injection [$name]/$pw"
  done
done
expect_err "Permission denied" "no injection attempt bound a session" session_of $U_EVE
expect_ok "the user alice* exists and logs in by her real name" login $U_DAVE 'alice*' star-pw
expect_eq "$(session_of $U_DAVE)" "ldap-alice*" "alice*'s session"

# --- another uid cannot read the config ------------------------------------------------------
expect_err "Permission denied" "a uid with no token reads the config" as_user $U_NOBODY cat "$NS/auth/ldap/config"
expect_err "Permission denied" "alice's token reads the config" as_user $U_ALICE cat "$NS/auth/ldap/config"
expect_err "Permission denied" "alice's token writes the config" \
  as_user $U_ALICE bash -c "echo '{\"url\":\"ldap://127.0.0.1:1\"}' > '$NS/auth/ldap/config'"
expect_err "Permission denied" "alice's token writes a group mapping" \
  as_user $U_ALICE bash -c "echo policies=root-ish > '$NS/auth/ldap/groups/dev'"

# --- directory changes ----------------------------------------------------------------------
# dev_member add|delete UID : the directory adds UID to the group dev, or takes it out.
dev_member() {
  printf 'dn: cn=dev,%s\nchangetype: modify\n%s: member\nmember: uid=%s,%s\n' "$GROUPS_DN" "$1" "$2" "$PEOPLE" |
    ldap_modify "$LDIR" || fail "ldap_modify failed ($1 $2)"
}
# bob leaves dev: his next login drops him from the external group and dev-pol.
dev_member delete bob
expect_ok "bob logs in again" login $U_BOB bob bob-pw
expect_eq "$(jq -c .auth.token_policies "$WORK/out")" '["admin-pol","base-read","default"]' "bob lost dev-pol at his next login"
expect_eq "$(jq -c .member_entity_ids "$NS/identity/group/name/ldap-dev")" "[\"$ALICE_EID\"]" \
  "bob's entity left the external group at his next login"
expect_err "Permission denied" "bob can no longer read the team secret" as_user $U_BOB cat "$TEAM/kv/app"
[ -n "$BOB_EID" ] || fail "no entity id for bob"

# Renewal logs in again (as Vault): policies that changed since the login
# refuse it. carol's users/ entry gets another policy: her renewal fails.
expect_ok "users/carol changes" bash -c "echo 'policies=carol-pol,eng-pol groups=admins' > '$NS/auth/ldap/users/carol'"
expect_err "Invalid argument" "carol's renewal with changed policies" \
  as_user $U_CAROL bash -c "exec 3<>'$NS/auth/token/renew-self'; echo '{}' >&3 || { cat <&3 >&2; exit 1; }"
grep -qF "policies have changed, not renewing" "$WORK/err" || fail "carol's renewal: expected Vault's message, got: $(cat "$WORK/err")"
expect_eq "$(session_of $U_CAROL)" "ldap-carol" "the refused renewal leaves carol's token"

# alice leaves dev: until her token is renewed she keeps the membership (as
# Vault: it is refreshed at login and renewal); renew-self drops it. The
# local groups/dev mapping goes first and alice logs in again, so that her
# policies stay the same at the renewal.
expect_ok "rm groups/dev" rm "$NS/auth/ldap/groups/dev"
expect_ok "alice logs in without groups/dev" login $U_ALICE alice alice-pw
expect_eq "$(jq -c .auth.token_policies "$WORK/out")" '["base-read","default"]' "alice's policies without groups/dev"
dev_member delete alice
expect_eq "$(as_user $U_ALICE cat "$TEAM/kv/app#v")" "team-secret" "before the renewal alice is still in the group"
expect_ok "alice renews her token" as_user $U_ALICE bash -c "echo '{}' > '$NS/auth/token/renew-self'"
expect_eq "$(jq '(.member_entity_ids // []) | index("'"$ALICE_EID"'") != null' "$NS/identity/group/name/ldap-dev")" \
  "false" "renew-self removed alice's entity from the external group"
expect_err "Permission denied" "after renew-self alice cannot read the team secret" as_user $U_ALICE cat "$TEAM/kv/app"
expect_eq "$(as_user $U_ALICE jq -c .external_namespace_policies "$NS/auth/token/lookup-self")" "null" \
  "alice's external_namespace_policies are gone"
expect_eq "$(as_user $U_ALICE cat "$NS/kv/common#v")" "common" "alice's token itself lives on"
# Back into dev: the next login restores the mapping.
dev_member add alice
expect_ok "alice logs in again" login $U_ALICE alice alice-pw
expect_eq "$(as_user $U_ALICE cat "$TEAM/kv/app#v")" "team-secret" "back in dev: the team secret again"

# --- a slow server: nobody else waits; the login times out --------------------------------------
# slapd stopped (SIGSTOP) still accepts connections (the kernel does) and never
# answers. First, with long timeouts, a login waits on it in the background
# while a userpass login and another uid's read complete; the login still
# waits after them (kill -0), then ends well when slapd goes on (SIGCONT).
# Then, with 2 s timeouts, a login to the stopped server ends with ETIMEDOUT.
echo type=userpass > "$NS/sys/auth/userpass"
echo 'password=dave-pw token_policies=base-read' > "$NS/auth/userpass/users/dave"
LDAP_PORT=${LDAP_URL##*:}
conns() { ss -Htn state established "( dport = :$LDAP_PORT )" | wc -l; }
# reached_server BEFORE PID WHAT ERRFILE : waits until the daemon holds more
# connections to slapd than BEFORE (PID, in the background, got that far).
reached_server() {
  for _ in $(seq 1 200); do
    [ "$(conns)" -gt "$1" ] && break
    kill -0 "$2" 2>/dev/null || break
    sleep 0.05
  done
  CHECKS=$((CHECKS + 1))
  [ "$(conns)" -gt "$1" ] || fail "the $3 never reached the server: $(cat "$4")"
}
# slow_login UID USER PASSWORD : starts the login in the background (SLOW is
# its pid) and returns once the daemon holds a new connection to slapd.
slow_login() {
  local before
  before=$(conns)
  login "$@" >"$WORK/slow.out" 2>"$WORK/slow.err" &
  SLOW=$!
  reached_server "$before" $SLOW "slow login" "$WORK/slow.err"
}
expect_ok "long timeouts" write_config '{"request_timeout":60,"connection_timeout":60}'
ldap_pause "$LDIR" || fail "ldap_pause failed"
slow_login $U_BOB bob bob-pw
as_user $U_DAVE bash -c "echo password=dave-pw > '$NS/auth/userpass/login/dave'" 2>"$WORK/err" ||
  fail "a userpass login during the slow ldap login: $(cat "$WORK/err")"
DAVE_SESSION=$(session_of $U_DAVE)
COMMON=$(as_user $U_ALICE cat "$NS/kv/common#v")
CHECKS=$((CHECKS + 1))
kill -0 $SLOW 2>/dev/null || fail "the slow ldap login ended before the other login and read were done: $(cat "$WORK/slow.err")"
expect_eq "$DAVE_SESSION" "userpass-dave" "a userpass login completed while the ldap login waited"
expect_eq "$COMMON" "common" "another uid read a secret while the ldap login waited"
ldap_resume "$LDIR" || fail "ldap_resume failed"
rc=0
wait $SLOW || rc=$?
expect_eq "$rc" "0" "the waiting login completes once slapd answers ($(cat "$WORK/slow.err"))"
expect_eq "$(jqr .auth.metadata.username "$WORK/slow.out")" "bob" "the waiting login's reply"

# A renewal binds again too: it waits on the stopped server the same way,
# and reads go on meanwhile.
ldap_pause "$LDIR" || fail "ldap_pause failed"
before=$(conns)
as_user $U_ALICE bash -c "echo '{}' > '$NS/auth/token/renew-self'" 2>"$WORK/renew.err" &
RENEW=$!
reached_server "$before" $RENEW renewal "$WORK/renew.err"
expect_eq "$(as_user $U_DAVE cat "$NS/kv/common#v")" "common" "a read while a renewal waits on the directory"
CHECKS=$((CHECKS + 1))
kill -0 $RENEW 2>/dev/null || fail "the renewal ended before the read was done: $(cat "$WORK/renew.err")"
ldap_resume "$LDIR" || fail "ldap_resume failed"
rc=0
wait $RENEW || rc=$?
expect_eq "$rc" "0" "the waiting renewal completes once slapd answers ($(cat "$WORK/renew.err"))"

expect_ok "short timeouts" write_config '{"request_timeout":2,"connection_timeout":2}'
expect_eq "$(jqr .request_timeout "$NS/auth/ldap/config")" "2" "request_timeout"
ldap_pause "$LDIR" || fail "ldap_pause failed"
slow_login $U_BOB bob bob-pw
expect_eq "$(as_user $U_ALICE cat "$NS/kv/common#v")" "common" "a read while the login waits"
rc=0
wait $SLOW || rc=$?
CHECKS=$((CHECKS + 1))
[ "$rc" != 0 ] || fail "the login against a stopped server succeeded: $(cat "$WORK/slow.out")"
grep -q "Connection timed out" "$WORK/slow.err" || fail "slow server: expected ETIMEDOUT, got: $(cat "$WORK/slow.err") $(cat "$WORK/slow.out")"
expect_eq "$(session_of $U_BOB)" "ldap-bob" "the timed-out login left bob's earlier session"
ldap_resume "$LDIR" || fail "ldap_resume failed"
expect_ok "after SIGCONT logins work again" login $U_BOB bob bob-pw

# --- TLS -------------------------------------------------------------------------------------
CA_JSON=$(jq -n --rawfile ca "$LDAP_CA" --arg url "$LDAPS_URL" '{url: $url, certificate: $ca}')
WRONG_JSON=$(jq -n --rawfile ca "$LDAP_WRONG_CA" --arg url "$LDAPS_URL" '{url: $url, certificate: $ca}')
expect_ok "ldaps with the CA: config" write_config "$CA_JSON"
expect_eq "$(jqr .certificate "$NS/auth/ldap/config")" "$(cat "$LDAP_CA")" "the certificate is shown back"
expect_ok "ldaps with the CA: login" login $U_EVE carol carol-pw
expect_eq "$(session_of $U_EVE)" "ldap-carol" "ldaps login session"
expect_ok "ldaps with the wrong CA: config" write_config "$WRONG_JSON"
expect_err "Connection refused" "ldaps with the wrong CA" login $U_DAVE carol carol-pw
expect_reply "error connecting to host" "ldaps with the wrong CA"
MISMATCH_JSON=$(jq -n --rawfile ca "$LDAP_CA" --arg url "$LDAPS_MISMATCH_URL" '{url: $url, certificate: $ca}')
expect_ok "ldaps to a name the certificate does not hold: config" write_config "$MISMATCH_JSON"
expect_err "Connection refused" "ldaps with a certificate for another name" login $U_DAVE carol carol-pw
expect_reply "error connecting to host" "ldaps with a certificate for another name"
expect_ok "ldaps without a CA: config" write_config "{\"url\":\"$LDAPS_URL\"}"
expect_err "Connection refused" "ldaps with the system CAs (unknown issuer)" login $U_DAVE carol carol-pw
expect_ok "insecure_tls: config" write_config "{\"url\":\"$LDAPS_URL\",\"insecure_tls\":true}"
expect_ok "insecure_tls: login" login $U_DAVE carol carol-pw
expect_eq "$(session_of $U_DAVE)" "ldap-carol" "insecure_tls login session"
STARTTLS_JSON=$(jq -n --rawfile ca "$LDAP_CA" --arg url "$LDAP_URL" '{url: $url, starttls: true, certificate: $ca}')
expect_ok "StartTLS: config" write_config "$STARTTLS_JSON"
expect_ok "StartTLS with the CA: login" login $U_BOB bob bob-pw
STARTTLS_WRONG=$(jq -n --rawfile ca "$LDAP_WRONG_CA" --arg url "$LDAP_URL" '{url: $url, starttls: true, certificate: $ca}')
expect_ok "StartTLS wrong CA: config" write_config "$STARTTLS_WRONG"
expect_err "Connection refused" "StartTLS with the wrong CA" login $U_BOB bob bob-pw
# A url list: the first server is down, the second answers.
expect_ok "url list: config" write_config "{\"url\":\"ldap://127.0.0.1:1,$LDAP_URL\"}"
expect_ok "url list: the second server answers" login $U_BOB bob bob-pw

# --- the server down ----------------------------------------------------------------------------
expect_ok "plain config" write_config
ldap_stop "$LDIR"
expect_err "Connection refused" "login with the server down" login $U_CAROL carol carol-pw
expect_reply "error connecting to host" "login with the server down"
expect_eq "$(as_user $U_ALICE cat "$NS/kv/common#v")" "common" "a token issued earlier still reads its secret"
expect_eq "$(as_user $U_ALICE cat "$TEAM/kv/app#v")" "team-secret" "and its group's secret"
expect_err "Connection refused" "renew-self fails with the server down" as_user $U_ALICE bash -c "echo '{}' > '$NS/auth/token/renew-self'"
expect_eq "$(as_user $U_ALICE cat "$NS/kv/common#v")" "common" "a failed renewal leaves the token working"
expect_eq "$(cat "$M/org/kv/common#v")" "common" "root still reads"
# Vault shows a users/ entry's groups as one comma-separated string.
expect_eq "$(jq -c .groups "$NS/auth/ldap/users/carol")" '"admins"' "users/carol groups"

# Disabling the method revokes the tokens its logins made.
U_DAVE2=61207
expect_ok "dave logs in with userpass" as_user $U_DAVE2 bash -c "echo password=dave-pw > '$NS/auth/userpass/login/dave'"
expect_ok "disable ldap" rm "$NS/sys/auth/ldap"
expect_err "Permission denied" "alice's token died with the method" as_user $U_ALICE cat "$NS/kv/common"
expect_eq "$(as_user $U_DAVE2 cat "$NS/kv/common#v")" "common" "other methods' tokens live on"

# The renewal now applies at write(2): a bare `echo >` reports its error too.
expect_err "Permission denied" "a dead token cannot renew" as_user $U_ALICE bash -c "echo > '$NS/auth/token/renew-self'"

stop_cofferd "$M"
# No user's password reached the daemon's log, whatever failed on the way.
for pw in alice-pw bob-pw carol-pw frank-pw star-pw; do
  ! grep -qF -- "$pw" "$WORK/cofferd.log" || fail "the password $pw is in the daemon's log"
done
pass
