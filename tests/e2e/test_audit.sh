#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Audit devices and sys/monitor on a real mount (vault-semantics §11, §12):
# a file device enabled with echo, reads, writes, a denial and a login logged
# as JSON lines with no secret or token in clear, sys/audit-hash matching the
# log, the device reloaded after a restart, an unwritable audit file making
# requests fail with nothing changed, and sys/monitor streaming log lines
# while it is open (`timeout 2 cat`), refused outside the root and the
# administrative namespace (which also gets sys/audit-hash, not sys/audit).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }

M=$WORK/mnt
W=$WORK/weak
DB=$WORK/coffer.db
LOG=$WORK/auditdir/audit.log
SECRET='Xy7-s3cr3t-VALUE-91'
umask 077
mkdir -p "$WORK/auditdir"

# --- init, a bound root mount ------------------------------------------------
start_cofferd "$M" --init --storage "$DB"
init_store "$M"
K1=$(jqr '.keys[0]' "$WORK/init.json")
ROOT_TOKEN=$(jqr .root_token "$WORK/init.json")
printf '%s\n' "$ROOT_TOKEN" > "$WORK/root.token"
stop_cofferd "$M"

start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
echo "$K1" > "$M/sys/unseal"
echo 'type=kv-v2' > "$M/sys/mounts/secret"

# --- enable a device ---------------------------------------------------------
expect_ok "enable a file device" bash -c "echo 'type=file file_path=$LOG' > '$M/sys/audit/f'"
expect_eq "$(jqr .type "$M/sys/audit/f")" "file" "cat sys/audit/f: type"
expect_eq "$(jqr .options.file_path "$M/sys/audit/f")" "$LOG" "cat sys/audit/f: file_path"
expect_eq "$(ls "$M/sys/audit")" "f" "ls sys/audit"
expect_err "Invalid argument" "unknown device type" bash -c "echo type=syslog > '$M/sys/audit/s'"
expect_err "Invalid argument" "unknown option" bash -c "echo 'type=file file_path=$WORK/x.log colour=red' > '$M/sys/audit/x'"
expect_eq "$(ls "$M/sys/audit")" "f" "refused enables left nothing"
[ -e "$WORK/x.log" ] && fail "a refused enable created its file"

# --- reads, writes, a token ----------------------------------------------------
echo "password=$SECRET" > "$M/secret/app"
expect_eq "$(cat "$M/secret/app#password")" "$SECRET" "read back the secret"
# The weak token may read something else in secret/, so the mount is there
# for it (SPEC §4) and its read of secret/app is a denied request.
echo 'path "secret/data/other" { capabilities = ["read"] }' > "$M/sys/policies/acl/other"
exec 3<>"$M/auth/token/create"
echo '{"policies":["default","other"],"display_name":"weak"}' >&3
cat <&3 > "$WORK/weak.json"
exec 3>&-
WEAK_TOKEN=$(jqr .auth.client_token "$WORK/weak.json")
printf '%s\n' "$WEAK_TOKEN" > "$WORK/weak.token"
stop_cofferd "$M"

# --- a second daemon: the device comes back at unseal; a denied mount ------------
cat > "$WORK/coffer.hcl" <<EOF
storage "sqlite" { path = "$DB" }
mount "$M" { token_file = "$WORK/root.token" }
mount "$W" { token_file = "$WORK/weak.token" }
administrative_namespace_path = "admin/"
EOF
mkdir -p "$W"
MOUNTS+=("$W")
"$COFFERD" --config "$WORK/coffer.hcl" >>"$WORK/cofferd.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 100); do mountpoint -q "$M" && mountpoint -q "$W" && break; sleep 0.05; done
mountpoint -q "$W" || fail "the config's mounts did not come up"
echo "$K1" > "$M/sys/unseal"
expect_eq "$(ls "$M/sys/audit")" "f" "the device is back after a restart"
before=$(wc -l < "$LOG")
expect_eq "$(cat "$M/secret/app#password")" "$SECRET" "read after restart"
after=$(wc -l < "$LOG")
[ "$after" -gt "$before" ] || fail "the reloaded device logged nothing"
expect_err "Permission denied" "denied read" cat "$W/secret/app"

# --- a login (userpass) --------------------------------------------------------
# (Only where auth methods are served: sys/auth is a directory.)
if bash -c "echo type=userpass > '$M/sys/auth/userpass'" 2>/dev/null; then
  echo 'password=hunter2-long policies=default' > "$M/auth/userpass/users/bob"
  exec 3<>"$M/auth/userpass/login/bob"
  echo 'password=hunter2-long' >&3
  cat <&3 > "$WORK/login.json" || true
  exec 3>&-
  LOGIN_TOKEN=$(jqr .auth.client_token "$WORK/login.json")
  [ -n "$LOGIN_TOKEN" ] && [ "$LOGIN_TOKEN" != null ] || fail "userpass login gave no token"
fi

# --- what the log says -----------------------------------------------------------
jq -e . "$LOG" >/dev/null || fail "audit log is not JSON lines"
CHECKS=$((CHECKS + 1))
for clear in "$SECRET" "$ROOT_TOKEN" "$WEAK_TOKEN" ${LOGIN_TOKEN:+"$LOGIN_TOKEN"} hunter2-long; do
  CHECKS=$((CHECKS + 1))
  if grep -qF -- "$clear" "$LOG"; then fail "audit log holds a secret or token in clear: $clear"; fi
done
exec 3<>"$M/sys/audit-hash/f"
echo "input=$SECRET" >&3
SECRET_HASH=$(cat <&3 | jq -r .hash)
exec 3>&-
expect_eq "${SECRET_HASH:0:12}" "hmac-sha256:" "audit-hash form"
expect_eq "$(jq -r 'select(.type=="request" and .request.path=="secret/data/app" and .request.operation=="create") | .request.data.data.password' "$LOG" | head -1)" \
  "$SECRET_HASH" "the logged password is the audit-hash of the secret"
expect_eq "$(jq -r 'select(.type=="response" and .request.path=="secret/data/app" and .request.operation=="read" and (has("error") | not)) | .response.data.data.password' "$LOG" | head -1)" \
  "$SECRET_HASH" "the read's response carries the hashed password"
exec 3<>"$M/sys/audit-hash/f"
echo "input=$ROOT_TOKEN" >&3
ROOT_HASH=$(cat <&3 | jq -r .hash)
exec 3>&-
expect_eq "$(jq -r 'select(.type=="request" and .request.path=="secret/data/app") | .auth.client_token' "$LOG" | head -1)" \
  "$ROOT_HASH" "client_token is the token's HMAC"
denied=$(jq -c 'select(.type=="request" and .request.path=="secret/data/app" and .error=="permission denied")' "$LOG" | head -1)
[ -n "$denied" ] || fail "no denied request entry"
expect_eq "$(jq -r .auth.display_name <<<"$denied")" "token-weak" "denial: display name"
expect_eq "$(jq -c .auth.policies <<<"$denied")" '["default","other"]' "denial: policies"
expect_eq "$(jq -r .request.namespace.id <<<"$denied")" "root" "denial: namespace"
if [ -n "${LOGIN_TOKEN:-}" ]; then
  login=$(jq -c 'select(.type=="response" and .request.path=="auth/userpass/login/bob")' "$LOG" | head -1)
  [ -n "$login" ] || fail "no login response entry"
  expect_eq "$(jq -r '.response.data.auth.client_token[0:12]' <<<"$login")" "hmac-sha256:" "login: token hashed"
fi

# --- sys/monitor ----------------------------------------------------------------
( sleep 0.7; ln -s nowhere "$M/monitor-probe" 2>/dev/null || true ) &
probe=$!
timeout 2 cat "$M/sys/monitor" > "$WORK/monitor.out" || true
wait "$probe"
grep -q 'symlink monitor-probe' "$WORK/monitor.out" || fail "sys/monitor did not stream the line logged meanwhile: $(cat "$WORK/monitor.out")"
CHECKS=$((CHECKS + 1))
( sleep 0.7; getfattr -n user.x "$M/secret" >/dev/null 2>&1 || true; ln -s nowhere "$M/monitor-probe2" 2>/dev/null || true ) &
probe=$!
timeout 2 cat "$M/sys/monitor@error" > "$WORK/monitor-error.out" || true
wait "$probe"
if grep -q 'monitor-probe2' "$WORK/monitor-error.out"; then fail "sys/monitor@error showed an info line"; fi
CHECKS=$((CHECKS + 1))
mkdir "$M/other" "$M/admin"
expect_err "Operation not supported" "monitor outside root/admin" cat "$M/other/sys/monitor"
# The administrative namespace gets sys/monitor and sys/audit-hash, not sys/audit.
( sleep 0.7; ln -s nowhere "$M/monitor-probe3" 2>/dev/null || true ) &
probe=$!
timeout 2 cat "$M/admin/sys/monitor" > "$WORK/monitor-admin.out" || true
wait "$probe"
grep -q 'symlink monitor-probe3' "$WORK/monitor-admin.out" || fail "admin/sys/monitor did not stream: $(cat "$WORK/monitor-admin.out")"
CHECKS=$((CHECKS + 1))
exec 3<>"$M/admin/sys/audit-hash/f"
echo "input=$SECRET" >&3
expect_eq "$(cat <&3 | jq -r .hash)" "$SECRET_HASH" "admin/sys/audit-hash answers with the root device's hash"
exec 3>&-
expect_err "Operation not supported" "sys/audit stays root-only" cat "$M/admin/sys/audit/f"
expect_err "Permission denied" "monitor for a token without the policy" cat "$W/sys/monitor"

# --- an unwritable audit file: requests fail, nothing changes ----------------------
if chattr +i "$LOG" 2>/dev/null; then
  expect_err "Input/output error" "write while the audit log is unwritable" bash -c "echo password=changed > '$M/secret/app'"
  expect_err "Input/output error" "read while the audit log is unwritable" cat "$M/secret/app"
  chattr -i "$LOG"
  expect_eq "$(cat "$M/secret/app#password")" "$SECRET" "the refused write changed nothing"
  expect_eq "$(jq -r .current_version "$M/secret/app@metadata")" "1" "no new version"
else
  echo "note: chattr +i unsupported here; the unwritable-log check is in unit_core [audit]"
fi

# --- disable ---------------------------------------------------------------------
expect_ok "disable the device" rm "$M/sys/audit/f"
expect_eq "$(ls "$M/sys/audit")" "" "no device left"
lines=$(wc -l < "$LOG")
cat "$M/secret/app" >/dev/null
expect_eq "$(wc -l < "$LOG")" "$lines" "a disabled device logs nothing"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID" || fail "cofferd exited with an error on SIGTERM"
DAEMON_PID=""
pass
