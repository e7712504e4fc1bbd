#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Template files (README: Templates): MOUNT/NAME from a mount block's
# template blocks. cat renders as the caller; another uid without access
# gets EACCES and no byte; a missing secret is ENOENT, a missing key EIO; an
# fd keeps its bytes after the secret changes (a reopen sees the new value)
# and poll(2) wakes it with POLLPRI; mtime moves only when a dependency
# does; writes, rm, mv, touch and truncate are refused; a token_file mount
# renders as its token; a caching bound mount shows the change at once; a
# namespace made later with the template's name hides it (logged).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to other uids)"; exit 77; }

umask 077  # token files (the mountpoints are made world-reachable below)

R=$WORK/shared  # shared by every caller's own token
B=$WORK/bound   # bound to app.token (the reader's), no cache
C=$WORK/cached  # bound to root.token, cached
UA=61201        # may read secret/data/app
UB=61202        # may read secret/data/other only
mkdir -p "$R" "$B" "$C"
chmod 755 "$R" "$B" "$C"
echo placeholder > "$WORK/app.token"
echo placeholder > "$WORK/root.token"
chmod 600 "$WORK/app.token" "$WORK/root.token"
cat > "$WORK/app.env.ctmpl" <<'TPL'
{{ with secret "secret/data/app" -}}
DB_USER={{ .Data.data.user }}
DB_PASSWORD={{ .Data.data.password }}
{{ end -}}
TPL
TEMPLATES='
  template "app.env"   { source = "'$WORK'/app.env.ctmpl"  perms = "0444" }
  template "other.env" { contents = "{{ with secret \"secret/data/other\" }}OTHER={{ .Data.data.v }}{{ end }}\n" }
  template "gone.env"  { contents = "{{ with secret \"secret/data/absent\" }}{{ .Data.data.v }}{{ end }}" }
  template "key.env"   { contents = "{{ with secret \"secret/data/app\" }}{{ .Data.data.nokey }}{{ end }}" }
  template "short.env" { contents = "{{ with secret \"secret/app\" }}U={{ .Data.data.user }} V={{ .Data.metadata.version }}{{ end }}" }
  template "both.env"  { contents = "{{ with secret \"secret/data/app\" }}A={{ .Data.data.user }}{{ end }}\n{{ with secret \"secret/data/other\" }}B={{ .Data.data.v }}{{ end }}\n" }
'
cat > "$WORK/coffer.hcl" <<EOF
storage "sqlite" {
  path = "$WORK/coffer.db"
  init = true
}
disable_mlock = true
mount "$R" {
  allow_other = true
  $TEMPLATES
}
mount "$B" {
  allow_other = true
  token_file  = "$WORK/app.token"
  file_mode   = "0644"   # whoever gets in is held to the modes (default_permissions)
  dir_mode    = "0755"
  $TEMPLATES
}
mount "$C" {
  token_file = "$WORK/root.token"
  cache      = true
  $TEMPLATES
}
EOF
start_store_config "$WORK/coffer.hcl" "$R"
wait_mounted "$B"
wait_mounted "$C"
! grep -q "not served yet" "$WORK/cofferd.log" || fail "the old 'not served yet' warning is still there"

echo 'type=kv-v2' > "$R/sys/mounts/secret"
echo 'user=app password=first' > "$R/secret/app"
echo 'v=o1' > "$R/secret/other"
echo 'x=1' > "$R/secret/unrelated"
printf 'path "secret/data/app" {\n  capabilities = ["read"]\n}\n' > "$R/sys/policies/acl/app"
printf 'path "secret/data/other" {\n  capabilities = ["read"]\n}\n' > "$R/sys/policies/acl/other"
mktoken() {
  local out
  out=$(exec 3<>"$R/auth/token/create"; echo "{\"policies\":[\"$1\"]}" >&3; cat <&3)
  jq -r .auth.client_token <<<"$out"
}
TA=$(mktoken app)
TB=$(mktoken other)
[ -n "$TA" ] && [ "$TA" != null ] && [ -n "$TB" ] && [ "$TB" != null ] || fail "no tokens"
printf '%s\n' "$TA" > "$WORK/app.token.new" && mv "$WORK/app.token.new" "$WORK/app.token"
printf '%s\n' "$ROOT_TOKEN" > "$WORK/root.token.new" && mv "$WORK/root.token.new" "$WORK/root.token"

# as_tok UID TOKEN CMD... : CMD as UID with only PATH and VAULT_TOKEN.
as_tok() {
  local uid=$1 tok=$2
  shift 2
  setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i PATH="$PATH" VAULT_TOKEN="$tok" "$@"
}
EXPECTED=$'DB_USER=app\nDB_PASSWORD=first'

# --- cat renders as the caller --------------------------------------------------------
expect_eq "$(cat "$R/app.env")" "$EXPECTED" "root's cat"
expect_eq "$(as_tok $UA "$TA" cat "$R/app.env")" "$EXPECTED" "uid $UA's cat (its own token)"
ls "$R" > "$WORK/ls"
expect_ok "the root lists app.env" grep -qx app.env "$WORK/ls"
expect_eq "$(stat -c %a "$R/app.env")" "444" "perms from the block"
expect_eq "$(stat -c %a "$R/other.env")" "640" "perms default to the mount's file mode"
expect_eq "$(stat -c %s "$R/app.env")" "$(( ${#EXPECTED} + 1 ))" "stat size is the caller's render size"

# consul-template's KV v2 shim: secret "secret/app" reads secret/data/app.
expect_eq "$(cat "$R/short.env")" "U=app V=1" "the short KV v2 path"
expect_eq "$(as_tok $UA "$TA" cat "$R/short.env")" "U=app V=1" "the short path, ACL-checked on secret/data/app"

# --- another uid without access: EACCES and no byte ---------------------------------------
CHECKS=$((CHECKS + 1))
if as_tok $UB "$TB" cat "$R/app.env" > "$WORK/b.out" 2> "$WORK/b.err"; then fail "uid $UB read app.env"; fi
grep -q "Permission denied" "$WORK/b.err" || fail "uid $UB: expected EACCES, got: $(cat "$WORK/b.err")"
expect_eq "$(wc -c < "$WORK/b.out")" "0" "no partial bytes for uid $UB"
# A template with one readable and one denied dependency is all or nothing.
CHECKS=$((CHECKS + 1))
if as_tok $UA "$TA" cat "$R/both.env" > "$WORK/a.out" 2> "$WORK/a.err"; then fail "uid $UA read both.env"; fi
grep -q "Permission denied" "$WORK/a.err" || fail "both.env: expected EACCES, got: $(cat "$WORK/a.err")"
expect_eq "$(wc -c < "$WORK/a.out")" "0" "no partial bytes of both.env"
expect_eq "$(cat "$R/both.env")" $'A=app\nB=o1' "root reads both.env"
expect_err "Permission denied" "no token at all" setpriv --reuid=$UB --regid=$UB --clear-groups -- env -i cat "$R/app.env"

# --- missing secret ENOENT, missing key EIO -------------------------------------------------
expect_err "No such file or directory" "a missing secret" cat "$R/gone.env"
expect_err "Input/output error" "a missing key" cat "$R/key.env"
expect_ok "a failed render is logged without values" grep -q "key.env.*no entry for key" "$WORK/cofferd.log"
CHECKS=$((CHECKS + 1))
! grep -q "first" "$WORK/cofferd.log" || fail "a secret value reached the log"

# --- read-only ----------------------------------------------------------------------
expect_err "Permission denied" "write" sh -c "echo x > '$R/app.env'"
expect_err "Permission denied" "append" sh -c "echo x >> '$R/app.env'"
expect_err "Permission denied" "rm" rm -f "$R/app.env"
expect_err "Permission denied" "mv" mv "$R/app.env" "$R/moved.env"
expect_err "Permission denied" "truncate" truncate -s 0 "$R/app.env"
expect_err "Permission denied" "touch" touch "$R/app.env"
expect_err "Permission denied" "chmod" chmod 0600 "$R/app.env"
expect_eq "$(cat "$R/app.env")" "$EXPECTED" "still there, unchanged"
expect_eq "$(cat "$R/secret/app#password")" "first" "the secret is unchanged"

# --- mtime: only a dependency moves it -----------------------------------------------------
m1=$(stat -c %y "$R/app.env")
sleep 0.05
expect_eq "$(stat -c %y "$R/app.env")" "$m1" "mtime stable between stats"
echo 'x=2' > "$R/secret/unrelated"
expect_eq "$(stat -c %y "$R/app.env")" "$m1" "mtime unmoved by another secret"
expect_eq "$(date -d "$(stat -c %y "$R/app.env")" +%s)" \
  "$(date -d "$(jq -r '.versions[(.current_version|tostring)].created_time' "$R/secret/app@metadata")" +%s)" "mtime is the dependency's created_time"

# --- an fd keeps its bytes; poll wakes it; a reopen sees the new value --------------------------
cat > "$WORK/poll.py" <<'PY'
import os, select, sys, threading, time
path, secret = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_RDONLY)
first = os.read(fd, 65536)
p = select.poll()
p.register(fd, select.POLLPRI)
quiet = p.poll(0)
def rotate():
    time.sleep(0.4)
    with open(secret, "w") as f:
        f.write("user=app password=second\n")
threading.Thread(target=rotate).start()
t0 = time.monotonic()
ev = p.poll(5000)
waited = time.monotonic() - t0
os.lseek(fd, 0, os.SEEK_SET)
again = os.read(fd, 65536)
fd2 = os.open(path, os.O_RDONLY)
fresh = os.read(fd2, 65536)
print("quiet=%s" % any(e & select.POLLPRI for _, e in quiet))
print("woken=%s" % any(e & select.POLLPRI for _, e in ev))
print("waited=%s" % (0.3 < waited < 4.5))
print("kept=%s" % (again == first))
print("fresh=" + fresh.decode().replace("\n", "|"))
PY
VAULT_TOKEN=$ROOT_TOKEN python3 "$WORK/poll.py" "$R/app.env" "$R/secret/app" > "$WORK/poll.out" 2> "$WORK/poll.err" ||
  fail "poll.py: $(cat "$WORK/poll.err")"
expect_eq "$(sed -n 1p "$WORK/poll.out")" "quiet=False" "no POLLPRI before the change"
expect_eq "$(sed -n 2p "$WORK/poll.out")" "woken=True" "POLLPRI after the dependency was written"
expect_eq "$(sed -n 3p "$WORK/poll.out")" "waited=True" "woken by the write, not at once"
expect_eq "$(sed -n 4p "$WORK/poll.out")" "kept=True" "the fd keeps the bytes it rendered"
expect_eq "$(sed -n 5p "$WORK/poll.out")" "fresh=DB_USER=app|DB_PASSWORD=second|" "a reopen renders the new value"
m2=$(stat -c %y "$R/app.env")
CHECKS=$((CHECKS + 1))
[ "$m2" != "$m1" ] || fail "mtime did not move with the dependency"

# --- coffer/template-change: an event for each template whose dependency changed -------------
cat "$R/app.env" >/dev/null  # rendered: its dependencies are known
timeout 3 cat "$R/sys/events/subscribe/coffer/template-change" > "$WORK/tev.out" 2>/dev/null &
EV=$!
sleep 0.5
echo 'x=3' > "$R/secret/unrelated"
echo 'user=app password=second' > "$R/secret/app"  # a new version, same values
wait "$EV" || true
expect_ok "app.env's event" jq -e -s 'map(.data.event.metadata.coffer_path) | index("app.env") != null' "$WORK/tev.out"
expect_eq "$(jq -r -s 'map(.data.event_type) | unique | join(",")' "$WORK/tev.out")" "coffer/template-change" "only the template type"
expect_eq "$(jq -r -s 'map(.data.event.metadata.data_path) | unique | join(",")' "$WORK/tev.out")" "secret/data/app" \
  "only for the dependency that changed, on its data path"
CHECKS=$((CHECKS + 1))
! grep -q "second" "$WORK/tev.out" || fail "a secret value in a template event"

# --- a token_file mount renders as its token, whoever asks ------------------------------------
expect_eq "$(as_tok $UB "$TB" cat "$B/app.env")" $'DB_USER=app\nDB_PASSWORD=second' "uid $UB on the bound mount: the bound token's render"
expect_err "Permission denied" "the bound token may not read other" env VAULT_TOKEN="$ROOT_TOKEN" cat "$B/other.env"

# --- a caching bound mount sees a change after a write ---------------------------------------
expect_eq "$(cat "$C/app.env")" $'DB_USER=app\nDB_PASSWORD=second' "cached mount, first read"
expect_eq "$(cat "$C/app.env")" $'DB_USER=app\nDB_PASSWORD=second' "cached mount, again"
echo 'user=app password=third' > "$R/secret/app"
expect_eq "$(cat "$C/app.env")" $'DB_USER=app\nDB_PASSWORD=third' "cached mount after the write elsewhere"
expect_eq "$(stat -c %s "$C/app.env")" "$(( ${#EXPECTED} + 1 ))" "cached size follows the render"
echo 'user=app password=fourth!' > "$C/secret/app"
expect_eq "$(cat "$C/app.env")" $'DB_USER=app\nDB_PASSWORD=fourth!' "cached mount after its own write"
expect_eq "$(stat -c %s "$C/app.env")" "$(( ${#EXPECTED} + 3 ))" "cached size after its own write"
# A policy change drops what was kept: the bound token loses app.
expect_eq "$(cat "$B/app.env")" $'DB_USER=app\nDB_PASSWORD=fourth!' "bound mount before the policy change"
printf 'path "secret/data/other" {\n  capabilities = ["read"]\n}\n' > "$R/sys/policies/acl/app"
expect_err "Permission denied" "bound mount after its policy lost the path" cat "$B/app.env"

# --- a namespace made later of the same name hides the template --------------------------
echo '{}' > "$R/sys/namespaces/other.env"
CHECKS=$((CHECKS + 1))
[ -d "$R/other.env" ] || fail "the namespace other.env is not a directory on the mount"
expect_ok "the hiding is logged" grep -q "template /other.env: hidden by a namespace or mount" "$WORK/cofferd.log"
stat "$R/other.env" >/dev/null
ls "$R" >/dev/null
expect_eq "$(grep -c "template /other.env: hidden" "$WORK/cofferd.log")" "1" "logged once"

kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
[ "$rc" = 0 ] || fail "cofferd exited with $rc on SIGTERM"
DAEMON_PID=""
pass
