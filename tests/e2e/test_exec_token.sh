#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# An exec is a new caller (SPEC §3): a process that used the mount with one
# VAULT_TOKEN and then execs with another, or with none, is asked about with
# the token of its new environment, though its thread id and start time stay
# the same (`exec env -u VAULT_TOKEN prog`, `exec env VAULT_TOKEN=$LIMITED
# prog`).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to another uid)"; exit 77; }

M=$WORK/mnt
U=61201

# as_tok TOKEN CMD... : CMD as uid U with only PATH and VAULT_TOKEN.
as_tok() {
  local tok=$1
  shift
  setpriv --reuid="$U" --regid="$U" --clear-groups -- env -i PATH="$PATH" VAULT_TOKEN="$tok" "$@"
}

mktoken() {
  local out
  out=$(exec 3<>"$M/auth/token/create"; echo "$1" >&3; cat <&3)
  jq -r .auth.client_token <<<"$out"
}

start_cofferd "$M" --dev --allow-other
# As root the kernel's word on execs comes through the eBPF ring (the
# in-place re-exec below is seen by nothing else).
grep -q "process events (through an eBPF ring)" "$WORK/cofferd.log" ||
  fail "cofferd takes process events without its eBPF ring: $(grep 'caller:' "$WORK/cofferd.log")"
echo 'password=broad-only' > "$M/secret/app"
echo 'password=for-everyone' > "$M/secret/limited"
cat > "$M/sys/policies/acl/broad" <<'HCL'
path "secret/data/*" {
  capabilities = ["read"]
}
HCL
cat > "$M/sys/policies/acl/limited" <<'HCL'
path "secret/data/limited" {
  capabilities = ["read"]
}
HCL
BROAD=$(mktoken '{"policies":["broad"]}')
LIMITED=$(mktoken '{"policies":["limited"]}')

# The shell itself (a builtin test: no fork) uses the mount with BROAD, then
# execs: the exec'd program is asked about with its own environment.
expect_eq "$(as_tok "$BROAD" bash -c "[ -e '$M/secret/app' ] && cat '$M/secret/app#password'")" \
  "broad-only" "BROAD reads secret/app"
expect_err "Permission denied" "exec env -u VAULT_TOKEN drops the token" \
  as_tok "$BROAD" bash -c "[ -e '$M/secret/app' ] || exit 9; exec env -u VAULT_TOKEN cat '$M/secret/app'"
expect_err "Permission denied" "exec env VAULT_TOKEN=LIMITED narrows it" \
  as_tok "$BROAD" bash -c "[ -e '$M/secret/app' ] || exit 9; exec env VAULT_TOKEN='$LIMITED' cat '$M/secret/app'"
out=$(as_tok "$BROAD" bash -c "[ -e '$M/auth/token/lookup-self' ] || exit 9; exec env VAULT_TOKEN='$LIMITED' cat '$M/auth/token/lookup-self'")
expect_eq "$(jq -r .id <<<"$out")" "$LIMITED" "lookup-self after exec shows the new token"
expect_eq "$(as_tok "$BROAD" bash -c "[ -e '$M/secret/limited' ] || exit 9; exec env VAULT_TOKEN='$LIMITED' cat '$M/secret/limited#password'")" \
  "for-everyone" "the new token works"
# An exec of the same program with the same sizes and no address
# randomisation (setarch -R) places the new image exactly where the old one
# was: /proc/TID/stat cannot tell them apart. The kernel's exec event can.
# python re-executes itself with LIMITED in place of BROAD (tokens of one
# length, argv of one length; LC_CTYPE set up front, else python adds it
# and the environ grows).
if setarch -R true 2>/dev/null; then
  cat > "$WORK/reexec.py" <<'PY'
import os, sys
mnt, phase, other = sys.argv[1], sys.argv[2], sys.argv[3]
if phase == "1":
    os.stat(mnt + "/secret/app")  # the mount sees this process with BROAD
    env = dict(os.environ)
    mine = env["VAULT_TOKEN"]
    env["VAULT_TOKEN"] = other
    os.execve(sys.executable, [sys.executable, sys.argv[0], mnt, "2", mine], env)
try:
    print(open(mnt + "/secret/app").read().strip())
except OSError as e:
    print("errno", e.errno)
PY
  chmod 755 "$WORK"
  chmod 644 "$WORK/reexec.py"
  [ "${#BROAD}" = "${#LIMITED}" ] || fail "tokens of different lengths: ${#BROAD} ${#LIMITED}"
  for i in 1 2 3; do
    expect_eq "$(as_tok "$BROAD" env LC_CTYPE=C.UTF-8 setarch -R /usr/bin/python3 "$WORK/reexec.py" "$M" 1 "$LIMITED")" \
      "errno 13" "re-exec in place with LIMITED ($i)"
  done
else
  echo "note: setarch -R refused here; the in-place re-exec is not tried"
fi
# And the other way: no token, then exec with one.
expect_eq "$(setpriv --reuid="$U" --regid="$U" --clear-groups -- env -i PATH="$PATH" bash -c \
  "[ -e '$M/secret/app' ] && exit 9; exec env VAULT_TOKEN='$BROAD' cat '$M/secret/app#password'")" \
  "broad-only" "exec env VAULT_TOKEN=BROAD after no token"
pass
