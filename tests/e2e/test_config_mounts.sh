#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# cofferd --config: bad files refused with the line; several mounts from one
# process and one SQLite store (a root mount, a chroot mount on usa-hq,
# mounts bound to token files, one of them caching); mounts that cannot
# start (token file missing, mountpoint not empty) are logged while the
# others serve; a caching mount never shows a secret rotated elsewhere
# stale; token file rotation; SIGHUP reloads the log level; a backup of the
# store while running; restart with the same config.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 missing"; exit 77; }
umask 077

DB=$WORK/coffer.db
R=$WORK/root      # unbound: init, unseal
A=$WORK/admin     # bound to the root token
H=$WORK/hq        # chroot usa-hq, bound to the root token
P=$WORK/app       # bound to app.token, cached
S=$WORK/stale     # bound to a token that does not exist
X=$WORK/missing   # token file missing: does not start
F=$WORK/full      # mountpoint not empty: does not start
LOG=$WORK/cofferd.log

# start_config CONFIG MOUNTPOINT... : cofferd --config in the background,
# waiting until every MOUNTPOINT given is mounted.
start_config() {
  local config=$1 mp i
  shift
  "$COFFERD" -f --config "$config" >>"$LOG" 2>&1 &
  DAEMON_PID=$!
  for mp in "$@"; do
    MOUNTS+=("$mp")
    for i in $(seq 1 100); do
      mountpoint -q "$mp" && break
      kill -0 "$DAEMON_PID" 2>/dev/null || fail "cofferd exited before mounting $mp"
      sleep 0.05
    done
    mountpoint -q "$mp" || fail "cofferd did not mount $mp within 5 s"
  done
}

# stop_config MOUNTPOINT... : SIGTERM unmounts every mount and exits 0.
stop_config() {
  local rc=0 mp
  kill -TERM "$DAEMON_PID"
  wait "$DAEMON_PID" || rc=$?
  [ "$rc" = 0 ] || fail "cofferd exited with $rc on SIGTERM"
  for mp in "$@"; do ! mountpoint -q "$mp" || fail "$mp still mounted after SIGTERM"; done
  DAEMON_PID=""
}

# bad_config NAME TEXT EXPECTED : cofferd refuses the file, exit 2, and says
# EXPECTED (which names the line).
bad_config() {
  local name=$1 text=$2 expected=$3 rc=0
  printf '%s\n' "$text" > "$WORK/$name"
  CHECKS=$((CHECKS + 1))
  "$COFFERD" --config "$WORK/$name" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" = 2 ] || fail "$name: exit $rc, expected 2"
  grep -qF -- "$expected" "$WORK/err" || fail "$name: expected [$expected], got: $(cat "$WORK/err")"
}

mkdir -p "$R" "$A" "$H" "$P" "$S" "$X" "$F"
touch "$F/occupied"

# --- bad files: nothing starts, the line is named ----------------------------------
STORE="storage \"sqlite\" { path = \"$DB\" }"
bad_config syntax.hcl "$STORE
mount \"$R\" {
  allow_other = 
}" "syntax.hcl:4:"
bad_config unknown.hcl "$STORE
mount \"$R\" {
  chroot = \"usa-hq\"
}" "unknown.hcl:3: unknown key \"chroot\" in mount \"$R\""
bad_config twice.hcl "$STORE
mount \"$R\" {}
mount \"$R/\" {}" "twice.hcl:3: mount \"$R\" is declared twice (also on line 2)"
bad_config type.hcl "$STORE
mount \"$R\" { allow_other = \"sometimes\" }" "type.hcl:2: \"allow_other\" in mount \"$R\" must be true or false"
bad_config level.hcl "$STORE
mount \"$R\" {}
log_level = \"chatty\"" "level.hcl:3: \"log_level\" must be error, warn, info or debug"
bad_config nostore.hcl "mount \"$R\" {}" "nostore.hcl: no storage block"
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" --config "$WORK/nope.hcl" 2>"$WORK/err" || rc=$?
[ "$rc" = 2 ] && grep -q "cannot read the config file $WORK/nope.hcl" "$WORK/err" || fail "missing config file: exit $rc: $(cat "$WORK/err")"
[ ! -e "$DB" ] || fail "a refused config created the store"
# A config whose every mount fails: exit 1, nothing left mounted.
printf '%s\nmount "%s" {}\ndisable_mlock = true\n' "$STORE" "$F" > "$WORK/none.hcl"
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" --init --config "$WORK/none.hcl" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "no mount started: exit $rc, expected 1"
grep -q "cannot mount $F: mountpoint $F is not empty" "$WORK/err" || fail "not-empty mountpoint: $(cat "$WORK/err")"
grep -q "no mount could be started" "$WORK/err" || fail "no mount: $(cat "$WORK/err")"

# --- first start: one root mount; init and unseal through it --------------------------
# A missing store is created only when asked (--init above, init = true here).
rm -f "$DB" "$DB-wal" "$DB-shm"
printf '%s\nmount "%s" {}\ndisable_mlock = true\n' "$STORE" "$R" > "$WORK/noinit.hcl"
CHECKS=$((CHECKS + 1))
rc=0; timeout 10 "$COFFERD" --config "$WORK/noinit.hcl" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "missing store without init: exit $rc, expected 1"
grep -qF "no store at $DB; pass --init (or set init = true in the storage block) to create a new one" "$WORK/err" ||
  fail "missing store without init: $(cat "$WORK/err")"
[ ! -e "$DB" ] || fail "a missing store was created without init"
cat > "$WORK/init.hcl" <<EOF
storage "sqlite" {
  path = "$DB"
  init = true
}
mount "$R" {}
disable_mlock = true
EOF
start_config "$WORK/init.hcl" "$R"
exec 3<>"$R/sys/init"
echo '{"secret_shares":1,"secret_threshold":1}' >&3
cat <&3 > "$WORK/init.json"
exec 3>&-
K1=$(jqr '.keys[0]' "$WORK/init.json")
printf '%s\n' "$(jqr .root_token "$WORK/init.json")" > "$WORK/root.token"
# The app mount starts with a copy of the root token; it is rotated below.
cp "$WORK/root.token" "$WORK/app.token"
echo 'hvs.not-a-token' > "$WORK/stale.token"
stop_config "$R"

# --- the real config: several mounts, two of which cannot start -----------------------
cat > "$WORK/coffer.hcl" <<EOF
# test config
$STORE

mount "$R" {}
mount "$A" { token_file = "$WORK/root.token" }
mount "$H" {
  chroot_namespace = "usa-hq"
  token_file       = "$WORK/root.token"
}
mount "$P" {
  token_file = "$WORK/app.token"
  cache      = true
}
mount "$S" { token_file = "$WORK/stale.token" }
mount "$X" { token_file = "$WORK/no-such.token" }
mount "$F" {}

log_level     = "info"
disable_mlock = true
EOF
start_config "$WORK/coffer.hcl" "$R" "$A" "$H" "$P" "$S"
expect_ok "missing token file logged" grep -q "cannot mount $X: token file $WORK/no-such.token: No such file or directory" "$LOG"
expect_ok "not-empty mountpoint logged" grep -q "cannot mount $F: mountpoint $F is not empty" "$LOG"
! mountpoint -q "$X" || fail "$X mounted without its token file"
! mountpoint -q "$F" || fail "$F mounted over a non-empty directory"

# Sealed: the bound mounts answer EIO until the unseal through the root mount.
expect_err "Input/output error" "sealed store" ls "$A/sys/policies/acl"
echo "$K1" > "$R/sys/unseal"
expect_eq "$(jqr .sealed "$R/sys/seal-status")" "false" "unsealed through the root mount"
# Now the checks that needed an open store ran: usa-hq is missing, the stale
# token is not a token.
expect_ok "missing chroot logged" grep -q "mount $H: chroot namespace usa-hq does not exist" "$LOG"
expect_ok "dead token logged" grep -q "mount $S: the token in $WORK/stale.token is not valid" "$LOG"
expect_err "Permission denied" "a dead token is refused" ls "$S/sys/policies/acl"

# --- chroot: the mount root is usa-hq ----------------------------------------------
echo 'type=kv-v2' > "$A/sys/mounts/secret"
echo 'where=root' > "$A/secret/top"
mkdir "$A/usa-hq" "$A/usa-hq/team_1" "$A/other"
echo 'type=kv-v2' > "$A/usa-hq/team_1/sys/mounts/secret"
echo 'type=kv-v2' > "$A/other/sys/mounts/secret"
echo 'where=other' > "$A/other/secret/x"
expect_ok "write through the chroot mount" sh -c "echo 'v=1' > '$H/team_1/secret/x'"
expect_eq "$(cat "$A/usa-hq/team_1/secret/x#v")" "1" "team_1/secret/x on the chroot mount is usa-hq/team_1/secret/x"
expect_eq "$(cat "$H/team_1/secret/x#v")" "1" "read back through the chroot mount"
expect_ok "ls the chroot root" ls "$H"
grep -qx team_1 "$WORK/out" || fail "ls $H shows team_1: $(cat "$WORK/out")"
! grep -qx usa-hq "$WORK/out" || fail "ls $H shows usa-hq itself"
! grep -qx other "$WORK/out" || fail "ls $H shows a namespace outside the chroot"
expect_err "No such file or directory" "the root's secret/ is not reachable" cat "$H/secret/top"
expect_err "No such file or directory" "a sibling namespace is not reachable" cat "$H/other/secret/x"
expect_err "No such file or directory" "usa-hq is not inside itself" ls "$H/usa-hq"
# '..' is resolved by the kernel and stops at the mount root.
expect_eq "$(cd "$H/team_1" && cd ../.. && pwd)" "$WORK" "'..' leaves the mount, never reaches outside the chroot through it"
expect_err "Operation not supported" "seal endpoints are the real root's (unsupported path)" sh -c "echo '$K1' > '$H/sys/unseal'"

# --- a caching bound mount never shows stale data ------------------------------------
mkdir "$A/secret/app" "$A/secret/other"
echo 'password=one' > "$A/secret/app/db"
echo 'k=visible' > "$A/secret/other/x"
expect_eq "$(cat "$P/secret/app/db#password")" "one" "cached mount reads"
expect_eq "$(cat "$P/secret/app/db#password")" "one" "cached mount reads again (from the cache)"
expect_eq "$(jqr .password "$P/secret/app/db")" "one" "whole file"
expect_eq "$(cat "$P/secret/other/x#k")" "visible" "root token reads everything"
for v in two three-is-longer-than-the-cached-file 4; do
  echo "password=$v" > "$A/secret/app/db"
  expect_eq "$(cat "$P/secret/app/db#password")" "$v" "rotated through another mount: no stale field"
  expect_eq "$(jqr .password "$P/secret/app/db")" "$v" "rotated through another mount: no stale file"
  expect_eq "$(stat -c %s "$P/secret/app/db")" "$(stat -c %s "$A/secret/app/db")" "size follows"
done
echo 'password=patched' >> "$A/secret/app/db"
expect_eq "$(cat "$P/secret/app/db#password")" "patched" "a patch is seen at once"
# A write through the caching mount itself is seen at once too.
echo 'password=self' > "$P/secret/app/db"
expect_eq "$(cat "$P/secret/app/db#password")" "self" "own write"
rm "$A/secret/app/db@metadata"
expect_err "No such file or directory" "a secret deleted elsewhere is gone" cat "$P/secret/app/db"
mkdir "$A/secret/app"   # its only secret is gone, and so is the folder
echo 'password=back' > "$A/secret/app/db"
expect_eq "$(cat "$P/secret/app/db#password")" "back" "and back"

# --- token file rotation ---------------------------------------------------------------
printf 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\npath "secret/metadata/app/" {\n  capabilities = ["list"]\n}\n' \
  > "$WORK/app-read.hcl"
cp "$WORK/app-read.hcl" "$A/sys/policies/acl/app-read"
exec 3<>"$A/auth/token/create"
echo '{"policies":["app-read"],"no_default_policy":true}' >&3
cat <&3 > "$WORK/app.json"
exec 3>&-
# An agent writes the new token beside the file and renames it over.
printf '%s\n' "$(jqr .auth.client_token "$WORK/app.json")" > "$WORK/app.token.new"
mv "$WORK/app.token.new" "$WORK/app.token"
expect_err "Permission denied" "the rotated token is used (other/x was cached with the old one)" cat "$P/secret/other/x"
expect_eq "$(cat "$P/secret/app/db#password")" "back" "the new token reads what its policy allows"
expect_err "Permission denied" "the new token may not write" bash -c "echo 'password=no' > '$P/secret/app/db'"
expect_ok "rotation logged" grep -q "token file $WORK/app.token changed" "$LOG"
# A policy change reaches the caching mount at once.
printf 'path "secret/data/app/other" {\n  capabilities = ["read"]\n}\npath "secret/metadata/app/" {\n  capabilities = ["list"]\n}\n' \
  > "$WORK/narrow.hcl"
cp "$WORK/narrow.hcl" "$A/sys/policies/acl/app-read"
expect_err "Permission denied" "a narrowed policy denies what was cached" cat "$P/secret/app/db"
cp "$WORK/app-read.hcl" "$A/sys/policies/acl/app-read"
expect_eq "$(cat "$P/secret/app/db#password")" "back" "policy restored"
# Revoking the mount's token stops cached reads at once; a new token in the
# file brings them back.
echo "token=$(cat "$WORK/app.token")" > "$A/auth/token/revoke"
expect_err "Permission denied" "cached data is not served with a revoked token" cat "$P/secret/app/db#password"
exec 3<>"$A/auth/token/create"
echo '{"policies":["app-read"],"no_default_policy":true}' >&3
cat <&3 > "$WORK/app2.json"
exec 3>&-
printf '%s\n' "$(jqr .auth.client_token "$WORK/app2.json")" > "$WORK/app.token.new"
mv "$WORK/app.token.new" "$WORK/app.token"
expect_eq "$(cat "$P/secret/app/db#password")" "back" "a fresh token in the file"

# --- SIGHUP reloads the log level; a backup while running ---------------------------
sed -i 's/log_level     = "info"/log_level     = "debug"/' "$WORK/coffer.hcl"
kill -HUP "$DAEMON_PID"
for i in $(seq 1 100); do grep -q "SIGHUP: log level is now DEBUG" "$LOG" && break; sleep 0.05; done
expect_ok "SIGHUP applied" grep -q "SIGHUP: log level is now DEBUG" "$LOG"
kill -0 "$DAEMON_PID" || fail "SIGHUP stopped the daemon"
expect_ok "mounts still up after SIGHUP" mountpoint -q "$P"
expect_ok "backup while running" sqlite3 "$DB" ".backup $WORK/backup.db"
expect_eq "$(sqlite3 "$WORK/backup.db" 'PRAGMA integrity_check')" "ok" "the backup is a sound SQLite file"
! grep -q "back" "$WORK/backup.db" || fail "a secret in clear in the backup"
stop_config "$R" "$A" "$H" "$P" "$S"

# --- restart with the same config ---------------------------------------------------
sed -i "/no-such.token/d; /mount \"${F//\//\\/}\"/d" "$WORK/coffer.hcl"
start_config "$WORK/coffer.hcl" "$R" "$A" "$H" "$P" "$S"
expect_err "Input/output error" "sealed again after a restart" cat "$P/secret/app/db"
echo "$K1" > "$R/sys/unseal"
expect_eq "$(cat "$H/team_1/secret/x#v")" "1" "chroot mount after restart"
expect_eq "$(grep -c "chroot namespace usa-hq does not exist" "$LOG")" "1" "after this unseal usa-hq exists: no new error"
expect_eq "$(cat "$P/secret/app/db#password")" "back" "bound caching mount after restart (rotated token kept)"
expect_eq "$(cat "$A/secret/top#where")" "root" "admin mount after restart"
stop_config "$R" "$A" "$H" "$P" "$S"

# The backup opens as a store: same shares, same data.
cat > "$WORK/restore.hcl" <<EOF
storage "sqlite" { path = "$WORK/backup.db" }
mount "$R" {}
mount "$A" { token_file = "$WORK/root.token" }
disable_mlock = true
EOF
start_config "$WORK/restore.hcl" "$R" "$A"
echo "$K1" > "$R/sys/unseal"
expect_eq "$(cat "$A/secret/app/db#password")" "back" "the backup restores"
stop_config "$R" "$A"

! grep -q "$(jqr .root_token "$WORK/init.json")" "$LOG" || fail "the root token reached the log"
pass
