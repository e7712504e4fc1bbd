#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Cross-namespace secret sharing, with ordinary shell commands on a mount.
#
# The story: two teams each have their own namespace, `devex` and `secm`,
# side by side under the root. The devex team owns a database password. The
# secm team's people (alice and bob, who log in with a username and password)
# and one of its machines (a scanner, which logs in with AppRole) need to read
# that one password. devex shares it without copying it and without handing
# secm any power over it: devex makes a group in its own namespace, gives the
# group a read-only policy, and puts the secm members it chooses into the
# group. devex can take someone out again, or change the password, at any
# time; the next read shows it, with no re-login on the secm side.
#
# Run it as root (it mounts FUSE and acts as several users with setpriv):
#
#   COFFERD=build/release/mountd/cofferd examples/cross-namespace-sharing/run.sh
#
# It starts its own in-memory dev daemon (root token "root") on a temporary
# mountpoint and removes it at the end. Every step checks its outcome and the
# script stops with an error at the first surprise, so CTest runs this file
# as a test. Semantics: Vault's (vault-semantics.md §8-§10).
set -euo pipefail

# ---------------------------------------------------------------------------
# Small helpers: a heading per step, one line per check.
# ---------------------------------------------------------------------------
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
  echo "cross-namespace-sharing: FAILED: $*" >&2
  [ -f "${TMP:-}/cofferd.log" ] && { echo "--- cofferd log (last 20 lines) ---" >&2; tail -n 20 "$TMP/cofferd.log" >&2; }
  exit 1
}
# check WHAT ACTUAL EXPECTED
check() { [ "$2" == "$3" ] && echo "  ok: $1" || fail "$1: expected [$3], got [$2]"; }
# refused WHAT PERSON COMMAND : PERSON running COMMAND must get "Permission denied".
refused() {
  local what=$1 err
  if err=$(as "$2" "$3" 2>&1 >/dev/null); then fail "$what: it was allowed"; fi
  [[ "$err" == *"Permission denied"* ]] || fail "$what: expected Permission denied, got: $err"
  echo "  ok: $what (Permission denied)"
}

[ "$(id -u)" = 0 ] || { echo "SKIP: run as root (mounts FUSE, acts as other uids)"; exit 77; }
[ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
for tool in jq setpriv fusermount3; do
  command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done

# ---------------------------------------------------------------------------
# A dev daemon. --allow-other lets the other users below use the mount.
# ---------------------------------------------------------------------------
COFFERD=${COFFERD:-$(dirname "$0")/../../build/release/mountd/cofferd}
TMP=$(mktemp -d)
chmod 755 "$TMP"                      # the other uids must reach the mountpoint
MOUNT=$TMP/mnt
mkdir "$MOUNT"
"$COFFERD" --dev --dev-root-token-id root --allow-other "$MOUNT" >"$TMP/cofferd.log" 2>&1 &
PID=$!
cleanup() {
  cd /
  kill -TERM $PID 2>/dev/null && wait $PID 2>/dev/null
  mountpoint -q "$MOUNT" 2>/dev/null && fusermount3 -u "$MOUNT" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
for _ in $(seq 100); do mountpoint -q "$MOUNT" && break; sleep 0.05; done
mountpoint -q "$MOUNT" || fail "cofferd did not mount $MOUNT"
cd "$MOUNT"
# The scenario needs two sys/ directories in the file view; a build without
# them skips (77) rather than failing half-way.
for dir in sys/config sys/auth; do
  [ -d "$dir" ] || { echo "SKIP: this file view does not show $dir as a directory yet"; exit 77; }
done

# Who is who. Coffer knows a caller by the VAULT_TOKEN in its environment,
# or else by the session its uid opened with a login through the mount.
# (In dev mode, the daemon owner's uid with neither acts with the dev root
# token, like `vault server -dev` leaving it in ~/.vault-token: that is how
# this script's own shell is the operator below. Any other uid with neither
# is anonymous, so everyone else logs in or is handed a token.)
declare -A UID_OF=([devex-admin]=62100 [secm-admin]=62200 [alice]=62201 [bob]=62202 [scanner]=62203)
declare -A TOKEN_OF=()
# as PERSON COMMAND : run the shell line COMMAND as PERSON: their own uid, in
# the mount, with nothing from this environment but PATH (and VAULT_TOKEN
# when PERSON was handed a token).
as() {
  local who=$1 uid=${UID_OF[$1]}
  local envs=(PATH="$PATH")
  [ -n "${TOKEN_OF[$who]:-}" ] && envs+=(VAULT_TOKEN="${TOKEN_OF[$who]}")
  setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i "${envs[@]}" bash -c "cd '$MOUNT' && $2"
}

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
# People: userpass. Machines: AppRole. Both auth methods live in secm; their
# users get no policy from secm for devex's secret (only "default").
as secm-admin 'echo type=userpass > secm/sys/auth/userpass'
as secm-admin 'echo type=approle > secm/sys/auth/approle'
as secm-admin 'ls secm/sys/auth'
as secm-admin 'echo password=alice-pw-1 > secm/auth/userpass/users/alice'
as secm-admin 'echo password=bob-pw-1 > secm/auth/userpass/users/bob'
as secm-admin 'echo "token_ttl=1h secret_id_ttl=24h" > secm/auth/approle/role/scanner'
check "users alice and bob exist" "$(as secm-admin 'ls secm/auth/userpass/users' | tr '\n' ' ')" "alice bob "

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
as alice 'exec 3<>secm/auth/userpass/login/alice; echo password=alice-pw-1 >&3; cat <&3' > "$TMP/alice.json"
as bob 'exec 3<>secm/auth/userpass/login/bob; echo password=bob-pw-1 >&3; cat <&3' > "$TMP/bob.json"
as scanner "exec 3<>secm/auth/approle/login; echo 'role_id=$SCANNER_ROLE_ID secret_id=$SCANNER_SECRET_ID' >&3; cat <&3" \
  > "$TMP/scanner.json"
# A machine usually gets its token in its environment: from now on the
# scanner's commands run with VAULT_TOKEN set to the token it just received.
TOKEN_OF[scanner]=$(jq -r .auth.client_token "$TMP/scanner.json")
check "alice's session is alice" "$(as alice 'cat secm/auth/token/lookup-self#display_name')" "userpass-alice"
check "bob's session is bob" "$(as bob 'cat secm/auth/token/lookup-self#display_name')" "userpass-bob"
check "the scanner's VAULT_TOKEN is the AppRole token" \
  "$(as scanner 'cat secm/auth/token/lookup-self#display_name')" "approle"

# Logged in, but nothing is shared yet.
refused "alice cannot read devex's password yet" alice 'cat devex/kv/db/postgres#password'
refused "the scanner cannot read it yet" scanner 'cat devex/kv/db/postgres#password'

# ===========================================================================
step "5. devex puts alice and the scanner (not bob) into db-readers"
# ===========================================================================
# devex needs their entity ids. Each person can read their own from
# lookup-self; secm's admin can also look an entity up by its login alias
# (mount accessor + alias name; for AppRole the alias name is the role id).
ALICE_ID=$(as alice 'cat secm/auth/token/lookup-self#entity_id')
BOB_ID=$(as bob 'cat secm/auth/token/lookup-self#entity_id')
APPROLE_ACCESSOR=$(as secm-admin 'cat secm/sys/auth/approle#accessor')
SCANNER_ID=$(as secm-admin "exec 3<>secm/identity/lookup/entity
  echo '{\"alias_name\":\"$SCANNER_ROLE_ID\",\"alias_mount_accessor\":\"$APPROLE_ACCESSOR\"}' >&3
  jq -r .id <&3")
check "the scanner's entity, by lookup and by its own token" \
  "$SCANNER_ID" "$(as scanner 'cat secm/auth/token/lookup-self#entity_id')"
check "the entities live in secm" "$(as secm-admin "jq -r .namespace_id secm/identity/entity/id/$ALICE_ID")" \
  "$(cat sys/namespaces/secm#id)"

# The full scenario brings secm's people in through an *external* group (fed
# by LDAP group membership at login). Until Coffer has an LDAP auth method,
# the userpass entities are named here directly, as members of devex's
# internal group; the scanner's entity is named the same way in both cases.
# Entities of another namespace may be members of a group (Vault allows it).
as devex-admin "echo '{\"member_entity_ids\":[\"$ALICE_ID\",\"$SCANNER_ID\"]}' > devex/identity/group/name/db-readers"
check "db-readers has alice and the scanner" \
  "$(as devex-admin 'jq -c ".member_entity_ids | length" devex/identity/group/name/db-readers')" "2"

# ===========================================================================
step "6. Who can read what now (nobody logged in again)"
# ===========================================================================
check "alice reads the password" "$(as alice 'cat devex/kv/db/postgres#password')" "first-pass-1"
check "the scanner reads the password" "$(as scanner 'cat devex/kv/db/postgres#password')" "first-pass-1"
refused "bob (not in the group) cannot" bob 'cat devex/kv/db/postgres#password'
refused "alice cannot change it" alice 'echo password=mine > devex/kv/db/postgres'
check "the password is unchanged" "$(as devex-admin 'cat devex/kv/db/postgres#password')" "first-pass-1"
refused "alice cannot read the secret next to it" alice 'cat devex/kv/db/mysql'
refused "alice cannot read devex's other secrets" alice 'cat devex/kv/payments/stripe'
refused "alice cannot add bob to the group" alice \
  "echo '{\"member_entity_ids\":[\"$ALICE_ID\",\"$BOB_ID\",\"$SCANNER_ID\"]}' > devex/identity/group/name/db-readers"
check "the group is unchanged" \
  "$(as devex-admin 'jq -c ".member_entity_ids | length" devex/identity/group/name/db-readers')" "2"
refused "secm's admin (no entity, not a member) cannot read it" secm-admin 'cat devex/kv/db/postgres'
refused "devex's admin cannot touch secm's users" devex-admin 'cat secm/auth/userpass/users/alice'

# Where alice's access comes from: her token's own policies are only
# "default"; devex's group adds read-db, listed under the devex namespace id.
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
step "7. devex stays in control: it takes alice out of the group"
# ===========================================================================
as devex-admin "echo '{\"member_entity_ids\":[\"$SCANNER_ID\"]}' > devex/identity/group/name/db-readers"
# Alice keeps her session and her token; her very next read is refused.
check "alice is still logged in" "$(as alice 'cat secm/auth/token/lookup-self#display_name')" "userpass-alice"
refused "alice's next read is refused" alice 'cat devex/kv/db/postgres#password'
check "the scanner still reads" "$(as scanner 'cat devex/kv/db/postgres#password')" "first-pass-1"

# ===========================================================================
step "8. devex rotates the password; the scanner reads the new one"
# ===========================================================================
# A write is a new version of the secret; readers get the latest.
as devex-admin 'echo "username=app password=second-pass-2" > devex/kv/db/postgres'
check "the scanner reads the new password" "$(as scanner 'cat devex/kv/db/postgres#password')" "second-pass-2"
refused "alice still cannot" alice 'cat devex/kv/db/postgres#password'
refused "bob still cannot" bob 'cat devex/kv/db/postgres#password'

echo
echo "Cross-namespace sharing: every check passed."
