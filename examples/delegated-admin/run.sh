#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Delegated administration with namespaces, with ordinary shell commands on a
# mount (the scenario of Vault's "secure multi-tenancy with namespaces"
# tutorial).
#
# The story: an `education` organisation has two teams, `training` and
# `certification`, each a namespace inside `education`. The operator (root
# token) sets up the organisation once and then steps back:
#   - bob is the organisation's admin: he manages everything in education
#     and in both teams;
#   - alice is the training team's admin: she manages education/training and
#     nothing else — not education itself, not certification.
# Both log in with a username and password (userpass, enabled in
# education). Bob's power comes from a policy on his identity entity in
# education; alice's from a group in education/training whose member she
# is. Nobody gets the root token.
#
# Run it as root (it mounts FUSE and acts as other uids with setpriv):
#
#   COFFERD=build/release/mountd/cofferd examples/delegated-admin/run.sh
#
# It starts its own in-memory dev daemon (root token "root") on a temporary
# mountpoint and removes it at the end. Every step checks who can and who
# cannot, and the script stops at the first surprise, so CTest runs it as a
# test. Semantics: Vault's (vault-semantics.md §8-§10).
set -euo pipefail

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
  echo "delegated-admin: FAILED: $*" >&2
  [ -f "${TMP:-}/cofferd.log" ] && { echo "--- cofferd log (last 20 lines) ---" >&2; tail -n 20 "$TMP/cofferd.log" >&2; }
  exit 1
}
# check WHAT ACTUAL EXPECTED
check() { [ "$2" == "$3" ] && echo "  ok: $1" || fail "$1: expected [$3], got [$2]"; }
# allowed WHAT PERSON COMMAND : PERSON running COMMAND must succeed.
allowed() {
  local err
  err=$(as "$2" "$3" 2>&1 >/dev/null) || fail "$1: refused: $err"
  echo "  ok: $1"
}
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
[ -d sys/auth ] || { echo "SKIP: this file view does not show sys/auth as a directory yet"; exit 77; }

# Who is who. Coffer knows a caller by the VAULT_TOKEN in its environment,
# or else by the session its uid opened with a login through the mount. (In
# dev mode the daemon owner's uid, with neither, acts with the dev root
# token: that is how this script's own shell is the operator. Other uids
# with neither have no token at all.) bob and alice are uids that log
# in through the mount; their logins bind their uid to their token.
declare -A UID_OF=([bob]=62301 [alice]=62302 [carol]=62303)
# as PERSON COMMAND : the shell line COMMAND as PERSON (their uid, in the
# mount, with nothing from this environment but PATH).
as() {
  setpriv --reuid="${UID_OF[$1]}" --regid="${UID_OF[$1]}" --clear-groups -- env -i PATH="$PATH" \
    bash -c "cd '$MOUNT' && $2"
}

# ===========================================================================
step "1. The operator makes the organisation and its two teams"
# ===========================================================================
mkdir -p education/training education/certification
ls education
check "training is inside education" "$(cat education/sys/namespaces/training#path)" "education/training/"

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
step "3. People log in with userpass, enabled in education"
# ===========================================================================
echo 'type=userpass description=education-people' > education/sys/auth/userpass
ls education/sys/auth
echo 'password=bob-training-pw' > education/auth/userpass/users/bob
echo 'password=alice-training-pw' > education/auth/userpass/users/alice
echo 'password=carol-pw' > education/auth/userpass/users/carol
ls education/auth/userpass/users

# A first login makes each person's identity entity (named entity_<hex>),
# with an alias on this userpass mount. The reply is read on the same fd.
login() {  # login PERSON PASSWORD : logs PERSON in as their uid; prints the entity id
  as "$1" "exec 3<>education/auth/userpass/login/$1; echo password=$2 >&3; jq -r .auth.entity_id <&3"
}
BOB_ENTITY=$(login bob bob-training-pw)
ALICE_ENTITY=$(login alice alice-training-pw)
login carol carol-pw >/dev/null
check "bob's session is bob" "$(as bob 'cat education/auth/token/lookup-self#display_name')" "userpass-bob"
check "alice's session is alice" "$(as alice 'cat education/auth/token/lookup-self#display_name')" "userpass-alice"
# A wrong password gets only Vault's message, as EINVAL (Vault: HTTP 400).
wrong=$(as carol 'echo password=guess > education/auth/userpass/login/bob' 2>&1) && fail "a wrong password was accepted"
case "$wrong" in *"Invalid argument"*) ;; *) fail "a wrong password: expected Invalid argument, got: $wrong" ;; esac
echo "  ok: a wrong password is refused (Invalid argument)"

# ===========================================================================
step "4. Bob becomes the organisation admin: a policy on his entity"
# ===========================================================================
echo 'policies=edu-admin' >> education/identity/entity/id/$BOB_ENTITY   # >> patches: name and aliases stay
check "bob's entity carries edu-admin" "$(jq -c .policies education/identity/entity/id/$BOB_ENTITY)" '["edu-admin"]'

# ===========================================================================
step "5. Alice becomes the training admin: a group in education/training"
# ===========================================================================
# The group lives in the team's namespace and holds alice's entity from
# education. Its policy (training-admin, a training policy) reaches alice's
# token because training is below education, where her token lives
# (group_policy_application_mode within_namespace_hierarchy, the default).
echo "policies=training-admin member_entity_ids=$ALICE_ENTITY" \
  > education/training/identity/group/name/training-admins
check "the group holds alice" "$(jq -r '.member_entity_ids[0]' education/training/identity/group/name/training-admins)" "$ALICE_ENTITY"

# ===========================================================================
step "6. What bob, the organisation admin, can do (on his next request: no re-login)"
# ===========================================================================
allowed "bob makes a namespace for a new team" bob "mkdir education/marketing"
allowed "bob writes a policy in certification" bob \
  "printf 'path \"kv/*\" {\n  capabilities = [\"read\"]\n}\n' > education/certification/sys/policies/acl/reader"
allowed "bob enables a secrets engine in certification" bob "echo type=kv-v2 > education/certification/sys/mounts/kv"
allowed "bob adds a user to education's userpass" bob "echo password=dave-pw > education/auth/userpass/users/dave"
refused "bob cannot touch the root namespace's policies" bob "cat sys/policies/acl/default"
refused "bob cannot make namespaces beside education" bob "mkdir other-org"

# ===========================================================================
step "7. What alice, the training admin, can and cannot do"
# ===========================================================================
allowed "alice enables a secrets engine in training" alice "echo type=kv-v2 > education/training/sys/mounts/team"
allowed "alice writes a training secret" alice "echo password=s3cret > education/training/team/db"
allowed "alice writes a training policy" alice \
  "printf 'path \"team/data/*\" {\n  capabilities = [\"read\"]\n}\n' > education/training/sys/policies/acl/student"
check "alice reads the training secret" "$(as alice 'cat education/training/team/db#password')" "s3cret"
refused "alice cannot read education's policies" alice "cat education/sys/policies/acl/edu-admin"
refused "alice cannot manage certification" alice "echo type=kv-v2 > education/certification/sys/mounts/x"
refused "alice cannot give herself more in education" alice "echo policies=edu-admin >> education/identity/entity/id/$ALICE_ENTITY"

# ===========================================================================
step "8. Carol, with no admin role, can do neither"
# ===========================================================================
refused "carol cannot read the training secret" carol "cat education/training/team/db"
refused "carol cannot write training policies" carol "echo 'path \"*\" { capabilities = [\"read\"] }' > education/training/sys/policies/acl/mine"

# ===========================================================================
step "9. Bob takes alice out of the group: her power ends on her next request"
# ===========================================================================
# A write to a group by name updates the fields it names (Vault's upsert).
as bob "echo '{\"member_entity_ids\":[]}' > education/training/identity/group/name/training-admins"
refused "alice no longer reads the training secret" alice "cat education/training/team/db"
allowed "bob still can" bob "cat education/training/team/db"

echo
echo "delegated-admin: all checks passed"
