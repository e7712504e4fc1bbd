#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The peer auth method on a real mount: processes log in by the kernel's
# word (uid, gid, pid; /proc for the executable and cgroup), with real uids
# through setpriv. A uid-bound role admits uid 1000 and refuses 1001; a
# gid-bound role; an executable-bound role for a copy of tee under a
# root-owned directory (the same copy under a world-writable one is refused
# at role write); --peer-login lets uid 1000 cat a secret with no login step
# and still refuses 1001; a deleted role and a disabled method revoke their
# tokens; a cgroup-bound role where the machine lets the test make (and
# remove) a cgroup of its own.
# This shell acts as root through VAULT_TOKEN (it comes before a session and
# before a peer login).
[ "${VAULT_TOKEN:-}" == root ] || exec env VAULT_TOKEN=root bash "$0" "$@"
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to other uids)"; exit 77; }

# A root-owned directory whose parents are root's only (not /tmp, which
# anyone may write): an executable binding under it means something.
BIN=$(mktemp -d /run/coffer-e2e-peer.XXXXXX)
chmod 755 "$BIN"
CG=""  # the cgroup this test makes, if it makes one
trap 'cleanup; rm -rf "$BIN"; [ -z "$CG" ] || rmdir "$CG" 2>/dev/null || true' EXIT

M=$WORK/mnt
start_cofferd "$M" --dev --dev-root-token-id root --allow-other --peer-login auth/peer

echo type=kv-v2 > "$M/sys/mounts/kv"
echo 'v=1' > "$M/kv/app"
printf 'path "kv/data/app" {\n  capabilities = ["read"]\n}\n' > "$M/sys/policies/acl/app"
expect_ok "enable peer" bash -c "echo type=peer > '$M/sys/auth/peer'"
expect_eq "$(ls "$M/auth/peer")" "$(printf 'login\nrole')" "ls auth/peer"

# --- role writes ----------------------------------------------------------------
expect_err "Invalid argument" "a role binding nothing" bash -c "echo token_policies=app > '$M/auth/peer/role/x'"
expect_err "Invalid argument" "a bad uid" bash -c "echo bound_uids=abc > '$M/auth/peer/role/x'"
expect_err "Invalid argument" "an unknown field" bash -c "echo 'bound_uids=1 colour=red' > '$M/auth/peer/role/x'"
expect_err "Invalid argument" "a relative executable" bash -c "echo bound_executables=bin/tee > '$M/auth/peer/role/x'"
expect_err "Invalid argument" "a relative cgroup" bash -c "echo bound_cgroups=system.slice > '$M/auth/peer/role/x'"
expect_ok "uid role" bash -c "echo 'bound_uids=1000 token_policies=app' > '$M/auth/peer/role/web'"
expect_eq "$(jq -c .bound_uids "$M/auth/peer/role/web")" '[1000]' "role read"

# --- login on first access (--peer-login) ---------------------------------------------
expect_ok "uid 1000 cats with no login step" as_user 1000 cat "$M/kv/app#v"
expect_eq "$(cat "$WORK/out")" "1" "the secret"
expect_err "Permission denied" "uid 1001 is still refused" as_user 1001 cat "$M/kv/app#v"
grep -q "uid 1001 not in bound_uids of role web" "$WORK/cofferd.log" || fail "the log does not say why 1001 was refused"
as_user 1000 cat "$M/auth/token/lookup-self" > "$WORK/self.json"
expect_eq "$(jqr .path "$WORK/self.json")" "auth/peer/login" "lookup-self path"
expect_eq "$(jqr .meta.uid "$WORK/self.json")" "1000" "lookup-self uid"
expect_eq "$(jqr .meta.role "$WORK/self.json")" "web" "lookup-self role"
jq -e '.meta | has("exe") and has("cgroup") and has("unit") and has("gid")' "$WORK/self.json" >/dev/null ||
  fail "lookup-self metadata: $(jq -c .meta "$WORK/self.json")"
FIRST=$(jqr .id "$WORK/self.json")

# --- an explicit login ---------------------------------------------------------------
login_as() {  # login_as SETPRIV-ARGS... -- BODY : the reply of a login on one fd
  local args=()
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  setpriv "${args[@]}" --clear-groups -- env -i PATH="$PATH" \
    bash -c 'exec 3<>"$1" && echo "$2" >&3 && cat <&3' _ "$M/auth/peer/login" "$1"
}
expect_ok "uid 1000 logs in through role web" login_as --reuid=1000 --regid=1000 -- role=web
cp "$WORK/out" "$WORK/web.json"
expect_eq "$(jqr .auth.metadata.uid "$WORK/web.json")" "1000" "login metadata"
expect_eq "$(jq -c .auth.token_policies "$WORK/web.json")" '["app","default"]' "login policies"
WEB=$(jqr .auth.client_token "$WORK/web.json")
[ -n "$WEB" ] && [ "$WEB" != null ] || fail "no token in the login reply: $(cat "$WORK/web.json")"
expect_err "Permission denied" "uid 1001 through role web" login_as --reuid=1001 --regid=1001 -- role=web
expect_ok "a bare login tries every role" login_as --reuid=1000 --regid=1000 -- ""

# --- a gid-bound role -------------------------------------------------------------------
expect_ok "gid role" bash -c "echo 'bound_gids=2000 token_policies=app' > '$M/auth/peer/role/group'"
expect_ok "gid 2000 logs in" login_as --reuid=1002 --regid=2000 -- role=group
GROUP=$(jqr .auth.client_token "$WORK/out")
expect_err "Permission denied" "gid 1002 is refused" login_as --reuid=1002 --regid=1002 -- role=group

# --- an executable-bound role --------------------------------------------------------------
cp "$(command -v tee)" "$BIN/tee"
chmod 755 "$BIN/tee"
mkdir -m 1777 "$WORK/open"
cp "$BIN/tee" "$WORK/open/tee"
expect_err "Invalid argument" "an executable under a world-writable directory" \
  bash -c "echo bound_executables=$WORK/open/tee > '$M/auth/peer/role/tool'"
grep -q "writable by someone other than root" "$WORK/cofferd.log" || fail "the log does not say why the role was refused"
expect_ok "exe role" bash -c "echo 'bound_executables=$BIN/tee token_policies=app' > '$M/auth/peer/role/tool'"
if as_user 1003 "$BIN/tee" /dev/null </dev/null; then
  expect_ok "the bound executable logs in" as_user 1003 bash -c "echo role=tool | '$BIN/tee' '$M/auth/peer/login' >/dev/null"
  expect_err "Permission denied" "another executable is refused" as_user 1003 bash -c "echo role=tool > '$M/auth/peer/login'"
  expect_err "Permission denied" "the copy under /tmp is refused" \
    as_user 1003 bash -c "echo role=tool | '$WORK/open/tee' '$M/auth/peer/login' >/dev/null"
else
  echo "note: $BIN is not executable here (noexec /run?); the exe login is not tried"
fi

# --- a role deleted, the method disabled: their tokens die ------------------------------------
expect_ok "the web token lives" env VAULT_TOKEN="$WEB" cat "$M/auth/token/lookup-self"
expect_ok "delete role web" rm "$M/auth/peer/role/web"
expect_false "the web token is revoked" env VAULT_TOKEN="$WEB" cat "$M/auth/token/lookup-self"
expect_false "the first-access token is revoked" env VAULT_TOKEN="$FIRST" cat "$M/auth/token/lookup-self"
expect_ok "the group token lives" env VAULT_TOKEN="$GROUP" cat "$M/auth/token/lookup-self"

# --- a cgroup-bound role (only with a cgroup of the test's own) -----------------------------------
CGROOT=""
if [ -f /sys/fs/cgroup/cgroup.procs ] && grep -q '^0::' /proc/self/cgroup; then
  CGROOT=/sys/fs/cgroup                      # cgroup v2
elif [ -f /sys/fs/cgroup/systemd/cgroup.procs ]; then
  CGROOT=/sys/fs/cgroup/systemd              # v1 name=systemd
fi
if [ -n "$CGROOT" ] && mkdir "$CGROOT/coffer-e2e-$$" 2>/dev/null; then
  CG=$CGROOT/coffer-e2e-$$
  expect_ok "cgroup role" bash -c "echo 'bound_cgroups=/coffer-e2e-$$ token_policies=app' > '$M/auth/peer/role/cg'"
  # The login runs in a child moved into the new cgroup; it exits before
  # the cgroup is removed.
  if as_user 1004 true && bash -c "echo \$\$ > '$CG/cgroup.procs'" 2>/dev/null; then
    inside=$(bash -c "echo \$BASHPID > '$CG/cgroup.procs' && grep -c 'coffer-e2e-$$' /proc/self/cgroup" || true)
    if [ "${inside:-0}" -ge 1 ]; then
      expect_ok "a process in the cgroup logs in" bash -c "echo \$BASHPID > '$CG/cgroup.procs' && exec setpriv --reuid=1004 --regid=1004 --clear-groups -- env -i bash -c 'echo role=cg > \"$M/auth/peer/login\"'"
      expect_err "Permission denied" "a process outside it is refused" as_user 1004 bash -c "echo role=cg > '$M/auth/peer/login'"
    else
      echo "note: /proc/PID/cgroup does not show the new cgroup here; the cgroup login is not tried"
    fi
  else
    echo "note: cannot move a process into $CG; the cgroup login is not tried"
  fi
  rmdir "$CG" 2>/dev/null && CG=""
else
  echo "note: SKIP the cgroup case: no cgroup hierarchy here lets this test make a cgroup of its own"
fi

expect_ok "disable the method" rm "$M/sys/auth/peer"
expect_false "the group token is revoked" env VAULT_TOKEN="$GROUP" cat "$M/auth/token/lookup-self"

stop_cofferd "$M"
pass
