# SPDX-License-Identifier: MPL-2.0
# What the scenarios (examples/*/run.sh) share: a heading per step, one line
# per check, acting as a person, and a dev daemon with the scenario's own
# company directory (tests/ldap/slapd.sh loaded with directory.ldif next to
# the scenario). Sourced, after `set -euo pipefail`, by a run.sh that
# declares UID_OF (person → uid) and may fill TOKEN_OF.

SCENARIO=$(basename "$(cd "$(dirname "$0")" && pwd)")
HERE=$(cd "$(dirname "$0")" && pwd)
declare -A TOKEN_OF=()   # person → a token handed to them (VAULT_TOKEN in `as`)

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() {
  echo "$SCENARIO: FAILED: $*" >&2
  [ -f "${TMP:-}/cofferd.log" ] && { echo "--- cofferd log (last 20 lines) ---" >&2; tail -n 20 "$TMP/cofferd.log" >&2; }
  exit 1
}
# check WHAT ACTUAL EXPECTED
check() { [ "$2" == "$3" ] && echo "  ok: $1" || fail "$1: expected [$3], got [$2]"; }
# as PERSON COMMAND : run the shell line COMMAND as PERSON: their own uid, in
# the mount, with nothing from this environment but PATH (and VAULT_TOKEN
# when PERSON was handed one in TOKEN_OF).
as() {
  local who=$1 uid=${UID_OF[$1]}
  local envs=(PATH="$PATH")
  [ -n "${TOKEN_OF[$who]:-}" ] && envs+=(VAULT_TOKEN="${TOKEN_OF[$who]}")
  setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i "${envs[@]}" bash -c "cd '$MOUNT' && $2"
}
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
for tool in jq setpriv fusermount3 ldapmodify openssl; do
  command -v $tool >/dev/null || { echo "SKIP: $tool missing"; exit 77; }
done
command -v slapd >/dev/null || [ -x /usr/sbin/slapd ] || { echo "SKIP: slapd missing (Debian package slapd)"; exit 77; }
source "$HERE/../../tests/ldap/slapd.sh"   # ldap_start, ldap_modify, ldap_stop

# start_scenario : the scenario's directory and a dev daemon (--allow-other
# lets the other uids use the mount), both removed at exit; then cd MOUNT.
start_scenario() {
  COFFERD=${COFFERD:-$HERE/../../build/release/mountd/cofferd}
  TMP=$(mktemp -d)
  chmod 755 "$TMP"                      # the other uids must reach the mountpoint
  MOUNT=$TMP/mnt
  mkdir "$MOUNT"
  PID=
  trap scenario_cleanup EXIT
  ldap_start "$TMP/ldap" "$HERE/directory.ldif" || fail "the test directory did not start"
  "$COFFERD" --dev --dev-root-token-id root --allow-other "$MOUNT" >"$TMP/cofferd.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do mountpoint -q "$MOUNT" && break; sleep 0.05; done
  mountpoint -q "$MOUNT" || fail "cofferd did not mount $MOUNT"
  cd "$MOUNT"
}
scenario_cleanup() {
  cd /
  [ -n "$PID" ] && kill -TERM $PID 2>/dev/null && wait $PID 2>/dev/null
  mountpoint -q "$MOUNT" 2>/dev/null && fusermount3 -u "$MOUNT" 2>/dev/null
  ldap_stop "$TMP/ldap"
  rm -rf "$TMP"
}
