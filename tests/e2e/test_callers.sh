#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Who is asking (SPEC §3), on one --allow-other mount shared by three uids and
# several VAULT_TOKENs at once: each sees only what its policies allow; a
# token of ns1 is denied in ns2 and in the parent; a parent policy reaches a
# child; a uid without VAULT_TOKEN works through a session (session file);
# revoking a parent token stops its child at once, also on files already
# open; one identity's read is never served to another; a use-limited token
# spends one use per cat.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to other uids)"; exit 77; }

M=$WORK/mnt
DB=$WORK/coffer.db
SYNC=$WORK/sync
mkdir -p "$SYNC"
chmod 777 "$SYNC"
U1=61001
U2=61002
U3=61003

# as_user UID TOKEN CMD... : CMD as UID with only PATH and (if TOKEN is not
# empty) VAULT_TOKEN in its environment.
as_user() {
  local uid=$1 tok=$2
  shift 2
  if [ -n "$tok" ]; then
    setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i PATH="$PATH" VAULT_TOKEN="$tok" "$@"
  else
    setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i PATH="$PATH" "$@"
  fi
}

# expect_false WHAT CMD... : CMD must fail (test -w and the like say nothing).
expect_false() {
  local what=$1
  shift
  CHECKS=$((CHECKS + 1))
  if "$@" >/dev/null 2>&1; then fail "$what: [$*] succeeded"; fi
}

# mktoken NS_DIR BODY : a token made through NS_DIR/auth/token/create by the
# current (root session) caller; prints the client token.
mktoken() {
  local out
  out=$(exec 3<>"$M/$1auth/token/create"; echo "$2" >&3; cat <&3)
  jq -r .auth.client_token <<<"$out"
}

# --- init and unseal: no token needed --------------------------------------------
start_cofferd "$M" --init --storage "$DB" --allow-other
init_store "$M"
jqr '.keys[0]' "$WORK/init.json" > "$M/sys/unseal"
ROOT=$(jqr .root_token "$WORK/init.json")
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed"

# No token yet: this shell (uid 0) is anonymous.
expect_err "Permission denied" "anonymous caller" ls "$M/sys/mounts"
# The shell's own environ cannot change after it started, so it uses a
# session: the root token written to the session file.
expect_err "Permission denied" "a garbage token is refused" bash -c "echo not-a-token > '$M/auth/token/session'"
echo "$ROOT" > "$M/auth/token/session"
expect_eq "$(jqr '.policies | join(",")' "$M/auth/token/lookup-self")" "root" "root session"

# --- as root: namespaces, data, policies, tokens -----------------------------------
mkdir "$M/ns1" "$M/ns2" "$M/ns1/child"
for ns in "" ns1/ ns2/ ns1/child/; do
  echo 'type=kv-v2' > "$M/${ns}sys/mounts/kv"
  echo "v=app-${ns%/}" > "$M/${ns}kv/app"
  echo "v=other-${ns%/}" > "$M/${ns}kv/other"
done
cat > "$M/ns1/sys/policies/acl/app" <<'HCL'
path "kv/data/app" {
  capabilities = ["read"]
}
path "kv/metadata/" {
  capabilities = ["list"]
}
# a parent-namespace policy that reaches into the child
path "child/kv/data/*" {
  capabilities = ["read"]
}
HCL
printf 'path "kv/data/*" {\n  capabilities = ["read", "create", "update"]\n}\n' > "$M/sys/policies/acl/reader"
printf 'path "auth/token/create" {\n  capabilities = ["update"]\n}\npath "kv/data/*" {\n  capabilities = ["read"]\n}\n' \
  > "$M/ns1/sys/policies/acl/creator"

T1=$(mktoken ns1/ 'policies=app')
T2=$(mktoken "" 'policies=reader')
T3=$(mktoken ns1/ 'policies=app')
TUSES=$(mktoken ns1/ '{"policies":["app"],"num_uses":3}')
PARENT=$(mktoken ns1/ 'policies=creator')
# The child is made by the parent token itself (VAULT_TOKEN of that process).
CHILD=$(as_user "$U1" "$PARENT" bash -c 'exec 3<>"$1"; echo policies=creator >&3; cat <&3' _ \
  "$M/ns1/auth/token/create" | jq -r .auth.client_token)
[ -n "$CHILD" ] && [ "$CHILD" != null ] || fail "the parent token could not make a child"
expect_eq "$(as_user "$U1" "$CHILD" jq -r .orphan "$M/ns1/auth/token/lookup-self")" "false" "child is not an orphan"

# --- each identity sees only what its policies allow ---------------------------------
expect_eq "$(as_user "$U1" "$T1" cat "$M/ns1/kv/app#v")" "app-ns1" "T1 reads ns1 app"
expect_err "Permission denied" "T1 denied ns1 other" as_user "$U1" "$T1" cat "$M/ns1/kv/other"
expect_err "Permission denied" "T1 denied a missing secret (same error)" as_user "$U1" "$T1" cat "$M/ns1/kv/nothing-here"
expect_err "Permission denied" "T1 denied stat of a missing secret" as_user "$U1" "$T1" stat "$M/ns1/kv/nothing-here"
expect_err "Permission denied" "T1 (ns1) denied in sibling ns2" as_user "$U1" "$T1" cat "$M/ns2/kv/app"
expect_err "Permission denied" "T1 (ns1) denied in the parent" as_user "$U1" "$T1" cat "$M/kv/app"
expect_eq "$(as_user "$U1" "$T1" cat "$M/ns1/child/kv/app#v")" "app-ns1/child" "ns1 policy reaches ns1/child"
expect_eq "$(as_user "$U1" "$T1" ls "$M/ns1/kv" | tr '\n' ' ')" "app other " "T1 lists ns1 kv"
expect_eq "$(as_user "$U1" "$T1" ls "$M" | tr '\n' ' ')" "ns1 " "T1 sees only ns1 at the root"
expect_eq "$(as_user "$U2" "$T2" cat "$M/kv/app#v")" "app-" "T2 reads root app"
expect_err "Permission denied" "T2 (root ns, kv/data/*) denied in ns1" as_user "$U2" "$T2" cat "$M/ns1/kv/app"
as_user "$U2" "$T2" ls "$M" > "$WORK/ls2"
grep -qx kv "$WORK/ls2" || fail "T2 should see kv at the root: $(cat "$WORK/ls2")"
! grep -qx ns1 "$WORK/ls2" || fail "T2 should not see ns1: $(cat "$WORK/ls2")"
CHECKS=$((CHECKS + 2))
expect_err "Permission denied" "no token, no session" as_user "$U3" "" cat "$M/ns1/kv/app"

# access(2) answers per caller from the ACL.
expect_ok "T1 may read" as_user "$U1" "$T1" test -r "$M/ns1/kv/app"
expect_false "T1 may not write" as_user "$U1" "$T1" test -w "$M/ns1/kv/app"
expect_false "T1 may not read other" as_user "$U1" "$T1" test -r "$M/ns1/kv/other"
expect_ok "T2 may write" as_user "$U2" "$T2" test -w "$M/kv/app"
expect_ok "root session may write" test -w "$M/ns1/kv/other"

# Several VAULT_TOKENs at once, same uid and others: every answer is the
# caller's own.
JOBS=()
for i in $(seq 1 15); do
  as_user "$U1" "$T1" cat "$M/ns1/kv/app#v" > "$SYNC/a.$i" 2>&1 &
  JOBS+=($!)
  as_user "$U1" "$T2" cat "$M/kv/app#v" > "$SYNC/b.$i" 2>&1 &
  JOBS+=($!)
  as_user "$U2" "$T2" cat "$M/ns1/kv/app#v" > "$SYNC/c.$i" 2>&1 &
  JOBS+=($!)
done
for job in "${JOBS[@]}"; do wait "$job" || true; done
for i in $(seq 1 15); do
  expect_eq "$(cat "$SYNC/a.$i")" "app-ns1" "parallel T1 #$i"
  expect_eq "$(cat "$SYNC/b.$i")" "app-" "parallel T2 as uid $U1 #$i"
  grep -q "Permission denied" "$SYNC/c.$i" || fail "parallel T2 in ns1 #$i: $(cat "$SYNC/c.$i")"
done

# A cat by one identity is never served to another (no kernel cache).
for i in 1 2 3 4 5; do
  expect_eq "$(as_user "$U2" "$T2" cat "$M/kv/other#v")" "other-" "allowed read #$i"
  expect_err "Permission denied" "denied right after #$i" as_user "$U1" "$T1" cat "$M/kv/other"
  expect_err "Permission denied" "no token right after #$i" as_user "$U3" "" cat "$M/kv/other"
done

# --- a session for a uid without VAULT_TOKEN ----------------------------------------
as_user "$U3" "" bash -c "echo '$T3' > '$M/auth/token/session'"
expect_eq "$(as_user "$U3" "" cat "$M/ns1/kv/app#v")" "app-ns1" "U3 through its session"
expect_eq "$(as_user "$U3" "" jq -r .policies[0] "$M/ns1/auth/token/lookup-self")" "app" "lookup-self shows the session"
expect_err "Permission denied" "U2 does not share U3's session" as_user "$U2" "" cat "$M/ns1/kv/app"
# VAULT_TOKEN beats the session.
expect_err "Permission denied" "VAULT_TOKEN wins over the session" as_user "$U3" "$T2" cat "$M/ns1/kv/app"
# A bad token leaves the session as it was.
expect_err "Permission denied" "session file refuses garbage" as_user "$U3" "" bash -c "echo bogus > '$M/auth/token/session'"
expect_eq "$(as_user "$U3" "" cat "$M/ns1/kv/app#v")" "app-ns1" "session unchanged"
# revoke-self ends the session (and the token).
expect_ok "revoke-self" as_user "$U3" "" bash -c "echo > '$M/ns1/auth/token/revoke-self'"
expect_err "Permission denied" "session over after revoke-self" as_user "$U3" "" cat "$M/ns1/kv/app"
# rm of the session file ends one too.
as_user "$U3" "" bash -c "echo '$T1' > '$M/auth/token/session'"
expect_eq "$(as_user "$U3" "" cat "$M/ns1/kv/app#v")" "app-ns1" "new session"
expect_ok "rm session" as_user "$U3" "" rm "$M/auth/token/session"
expect_err "Permission denied" "session over after rm" as_user "$U3" "" cat "$M/ns1/kv/app"

# --- a use-limited token spends one use per cat -----------------------------------------
for i in 1 2 3; do
  expect_eq "$(as_user "$U1" "$TUSES" cat "$M/ns1/kv/app#v")" "app-ns1" "num_uses=3: cat #$i"
done
expect_err "Permission denied" "num_uses=3: the 4th cat" as_user "$U1" "$TUSES" cat "$M/ns1/kv/app"

# --- revoking a parent stops its child at once, open files included ----------------------
mkfifo "$SYNC/go1" "$SYNC/go2"
chmod 666 "$SYNC/go1" "$SYNC/go2"
# Opened, not read yet.
as_user "$U2" "$CHILD" bash -c 'exec 3<"$1"; : > "$2"; read x < "$3"; read -r line <&3 && echo "$line"' _ \
  "$M/ns1/kv/app" "$SYNC/ready1" "$SYNC/go1" > "$WORK/open1.out" 2> "$WORK/open1.err" &
P1=$!
# Opened and partly read (the rest comes from the handle's snapshot).
as_user "$U2" "$CHILD" bash -c 'exec 3<"$1"; dd bs=1 count=2 <&3 2>/dev/null; : > "$2"; read x < "$3"; read -r line <&3 && echo "$line"' _ \
  "$M/ns1/kv/app" "$SYNC/ready2" "$SYNC/go2" > "$WORK/open2.out" 2> "$WORK/open2.err" &
P2=$!
for _ in $(seq 1 100); do
  [ -e "$SYNC/ready1" ] && [ -e "$SYNC/ready2" ] && break
  sleep 0.05
done
[ -e "$SYNC/ready1" ] && [ -e "$SYNC/ready2" ] || fail "the readers did not open their files"
expect_eq "$(as_user "$U2" "$CHILD" cat "$M/ns1/kv/app#v")" "app-ns1" "child reads before the revoke"
echo "token=$PARENT" > "$M/ns1/auth/token/revoke"
echo go > "$SYNC/go1"
echo go > "$SYNC/go2"
rc1=0; wait "$P1" || rc1=$?
rc2=0; wait "$P2" || rc2=$?
CHECKS=$((CHECKS + 2))
[ "$rc1" != 0 ] && grep -q "Permission denied" "$WORK/open1.err" ||
  fail "open file read after the revoke: rc $rc1, out [$(cat "$WORK/open1.out")], err [$(cat "$WORK/open1.err")]"
[ "$rc2" != 0 ] && grep -q "Permission denied" "$WORK/open2.err" ||
  fail "half-read file after the revoke: rc $rc2, out [$(cat "$WORK/open2.out")], err [$(cat "$WORK/open2.err")]"
expect_eq "$(head -c 1 "$WORK/open2.out")" "{" "the part read before the revoke"
# Both failed in read(2) itself, on the handle opened before the revoke.
expect_eq "$(grep -c 'read /ns1/kv/app: permission denied' "$WORK/cofferd.log")" "2" "two reads refused"
expect_err "Permission denied" "child token dead" as_user "$U2" "$CHILD" cat "$M/ns1/kv/app"
expect_err "Permission denied" "parent token dead" as_user "$U1" "$PARENT" cat "$M/ns1/kv/app"
# Others are untouched.
expect_eq "$(as_user "$U1" "$T1" cat "$M/ns1/kv/app#v")" "app-ns1" "T1 unaffected"

# --- --no-env-token: VAULT_TOKEN is ignored, sessions still work -------------------------
stop_cofferd "$M"
start_cofferd "$M" --storage "$DB" --allow-other --no-env-token
jqr '.keys[0]' "$WORK/init.json" > "$M/sys/unseal"
expect_err "Permission denied" "--no-env-token ignores VAULT_TOKEN" as_user "$U1" "$T1" cat "$M/ns1/kv/app"
as_user "$U1" "" bash -c "echo '$T1' > '$M/auth/token/session'"
expect_eq "$(as_user "$U1" "$T2" cat "$M/ns1/kv/app#v")" "app-ns1" "--no-env-token: the session decides"
stop_cofferd "$M"
pass
