#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Files as programs expect them (issue 15): owner and modes per mount, which
# ssh-keygen checks; mtime is the version's time and moves only with a new
# version; rm -r of a KV folder works and ls shows what cat reads; and
# replace by rename (sed -i, install, Python's os.replace, vim) is one step,
# each half checked by the ACL as the write and the delete it is.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
command -v ssh-keygen >/dev/null || { echo "SKIP: ssh-keygen missing (package openssh-client)"; exit 77; }

# libpq's PGPASSFILE check, against a throwaway PostgreSQL when there is one.
PG=""
if [ -x /usr/lib/postgresql/15/bin/initdb ] && command -v psql >/dev/null && id postgres >/dev/null 2>&1; then
  source "$(dirname "$0")/../pg/postgres.sh"
  PG=$WORK/pg
  trap 'pg_stop "$PG" || true; cleanup' EXIT
  pg_start "$PG" >/dev/null
fi
# psql_with PASSFILE [AS...] : select 1 through psql with PGPASSFILE set.
psql_with() {
  local file=$1
  shift
  "$@" env PGPASSFILE="$file" PGCONNECT_TIMEOUT=5 /usr/bin/psql -X -q -t \
    "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -c 'select 1'
}

M=$WORK/mnt
start_cofferd "$M" --dev --allow-other
S=$M/secret/app
mkdir -p "$S"

# --- owner and modes: the defaults -------------------------------------------------
echo 'a=1' > "$S/db"
expect_eq "$(stat -c '%a %u %g' "$S/db")" "640 $(id -u) $(id -g)" "default file mode and owner"
expect_eq "$(stat -c '%a' "$S")" "750" "default dir mode"
ssh-keygen -q -t ed25519 -N '' -C test -f "$WORK/id"
chmod 644 "$WORK/id"   # the other uid below reads it too
jq -Rs '{private: .}' "$WORK/id" > "$M/secret/web-keys"
expect_ok "the key is stored whole" cmp "$WORK/id" "$M/secret/web-keys#private"
expect_err "UNPROTECTED PRIVATE KEY FILE" "ssh-keygen refuses a 0640 key of its own uid" \
  ssh-keygen -y -f "$M/secret/web-keys#private"

if [ -n "$PG" ]; then
  jq -n --arg l "127.0.0.1:$PG_PORT:*:postgres:pw" '{line: $l}' > "$M/secret/pgpass"
  expect_ok "psql with PGPASSFILE on a 0640 mount" psql_with "$M/secret/pgpass#line"
  grep -q "has group or world access" "$WORK/err" || fail "libpq did not warn of a 0640 PGPASSFILE: $(cat "$WORK/err")"
fi

# --- mtime is the current version's created_time -----------------------------------
mtime() { stat -c '%.9Y' "$1"; }
created() { # created_time of NAME's current version, as seconds.nanoseconds
  local meta=$WORK/meta.json
  cat "$1@metadata" > "$meta"
  date -d "$(jq -r '.versions[(.current_version|tostring)].created_time' "$meta")" +%s.%N
}
first=$(mtime "$S/db")
expect_eq "$first" "$(created "$S/db")" "mtime is the version's created_time"
expect_eq "$(stat -c '%.9Z' "$S/db")" "$first" "ctime too"
cat "$S/db" >/dev/null
echo '{"max_versions":5}' > "$S/db@metadata"
sleep 1
expect_eq "$(mtime "$S/db")" "$first" "reads and metadata writes leave mtime alone"
expect_eq "$(mtime "$S/db#a")" "$first" "a field's mtime is its secret's"
echo 'a=2' > "$S/db"
second=$(mtime "$S/db")
expect_ok "a new version moves mtime" test "$second" != "$first"
expect_eq "$second" "$(created "$S/db")" "the new version's created_time"
expect_eq "$(mtime "$S/db@1")" "$first" "NAME@1 keeps version 1's time"
# A program reloading on mtime change (as nginx -s reload or a sidecar would)
# reloads once per new version and never for nothing.
python3 - "$S/db" <<'PY' > "$WORK/reloads" &
import os, sys, time
path, seen, reloads = sys.argv[1], None, 0
end = time.time() + 3
while time.time() < end:
    m = os.stat(path).st_mtime_ns
    if seen is not None and m != seen:
        reloads += 1
    seen = m
    time.sleep(0.05)
print(reloads)
PY
watcher=$!
sleep 1
cat "$S/db" >/dev/null
echo 'a=3' > "$S/db"
wait "$watcher"
expect_eq "$(cat "$WORK/reloads")" "1" "one reload for one new version"

# --- rm -r of a KV folder; ls shows what cat reads ---------------------------------
mkdir -p "$S/tree/sub"
echo 'k=1' > "$S/tree/sub/x"
echo 'k=2' > "$S/tree/y"
expect_ok "rm -r of a KV folder" rm -r "$S/tree"
expect_eq "$(ls "$S")" "db" "the folder is gone from ls"
expect_eq "$(ls -A "$S/tree")" "" "it lists nothing (it holds only deleted secrets)"
expect_eq "$(jq -r '.keys|join(",")' "$S/tree@list")" "sub/,y" "FOLDER@list is Vault's LIST, deleted names included"
expect_eq "$(jqr .current_version "$S/tree/y@metadata")" "1" "a deleted secret is reachable by name"
echo 'versions=1' > "$S/tree/y@undelete"
expect_eq "$(cat "$S/tree/y#k")" "2" "rmdir destroyed nothing: undelete brings it back"
expect_eq "$(ls "$S/tree")" "y" "and it is listed again"
echo 'versions=1' > "$S/tree/y@delete"
expect_eq "$(ls "$S")" "db" "a secret whose current version is deleted keeps no folder alive"
expect_err "No such file" "nor is it there to stat" stat "$S/tree/y"
rm "$S/tree/y@metadata"
expect_eq "$(jq -r '.keys|join(",")' "$S/tree@list")" "sub/" "rm NAME@metadata destroys it"

# --- replace by rename ---------------------------------------------------------------
expect_ok "sed -i" sed -i 's/"3"/"4"/' "$S/db"
expect_eq "$(cat "$S/db#a")" "4" "sed -i: the new content"
expect_eq "$(ls -A "$S")" "db" "sed -i leaves no temporary name"
expect_eq "$(jq -r '.keys|join(",")' "$S@list")" "db,tree/" "not even in Vault's LIST"
printf '{"user": "app", "password": "p1"}\n' > "$WORK/src.json"
expect_ok "install -m 0600" install -m 0600 "$WORK/src.json" "$S/installed"
expect_eq "$(cat "$S/installed#password")" "p1" "install: the content"
# A field's size, recorded at the write, is what a read gives, for a string
# and for any other value (compact JSON).
printf '{"password": "pässwörd", "port": 5432, "tags": ["a", {"b": null}]}\n' > "$S/sized"
for f in password port tags; do
  expect_eq "$(stat -c %s "$S/sized#$f")" "$(cat "$S/sized#$f" | wc -c)" "stat of sized#$f is its read's length"
done
expect_eq "$(cat "$S/sized#tags")" '["a",{"b":null}]' "a field that is no string reads as compact JSON"
rm "$S/sized@metadata"
expect_ok "install over an existing secret" install -m 0600 "$WORK/src.json" "$S/db"
expect_eq "$(cat "$S/db#user")" "app" "install replaced db"
v_before=$(jqr .current_version "$S/db@metadata")
echo "type=file file_path=$WORK/audit.log" > "$M/sys/audit/file"
expect_ok "python os.replace" python3 -c "
import os
tmp = '$S/.db.tmp'
with open(tmp, 'w') as f:
    f.write('{\"user\": \"app\", \"password\": \"p2\"}\n')
os.replace(tmp, '$S/db')"
expect_eq "$(cat "$S/db#password")" "p2" "os.replace: the content"
expect_eq "$(jqr .current_version "$S/db@metadata")" "$((v_before + 1))" "os.replace: one new version"
expect_eq "$(ls -A "$S")" "$(printf 'db\ninstalled')" "os.replace: the temporary name is gone"
# The rename's requests, audited as what they are: the read, the write, the delete.
jq -r 'select(.type == "request") | .request.operation + " " + .request.path' "$WORK/audit.log" > "$WORK/ops"
expect_ok "audited: the source read" grep -qx "read secret/data/app/.db.tmp" "$WORK/ops"
expect_ok "audited: the target write" grep -qx "update secret/data/app/db" "$WORK/ops"
expect_ok "audited: the source delete" grep -qx "delete secret/metadata/app/.db.tmp" "$WORK/ops"
rm "$M/sys/audit/file"
VIM=$(command -v vim || command -v vim.tiny || true)
if [ -n "$VIM" ]; then
  expect_ok "vim -u NONE with backupcopy=no" "$VIM" -u NONE -n -N -es -c 'set backupcopy=no' -c '%s/p2/p3/' -c 'wq' "$S/db"
  expect_eq "$(cat "$S/db#password")" "p3" "vim: the content"
  expect_eq "$(ls -A "$S")" "$(printf 'db\ninstalled')" "vim leaves no backup name"
fi
touch "$S/never-written"
exec 3>"$S/half"; printf '{"a": ' >&3; { exec 3>&-; } 2>/dev/null || true
expect_eq "$(ls -A "$S")" "$(printf 'db\ninstalled')" "names never given a whole request leave no trace"
expect_eq "$(jq -r '.keys|join(",")' "$S@list")" "db,installed,tree/" "not in Vault's LIST either"
# A listing's numbers and types are the ones stat gives, after renames moved
# inodes between names too (readdir's d_ino and stat's st_ino, for find and
# rsync): prints what differs, then how many entries and folders it compared.
inodes() {
  python3 -c 'import os, stat, sys
d = sys.argv[1]
entries = list(os.scandir(d))
for e in entries:
    st = os.stat(os.path.join(d, e.name))
    if e.inode() != st.st_ino or e.is_dir() != stat.S_ISDIR(st.st_mode):
        print("differs:", e.name)
print(len(entries), sum(e.is_dir() for e in entries))' "$1"
}
expect_eq "$(inodes "$S")" "2 0" "readdir numbers are stat's"
expect_eq "$(inodes "$M/secret" | sed 's/^[0-9]* /N /')" "N 1" "and at the top of a mount"
mkdir -p "$S/other"
echo 'o=1' > "$S/other/o"
expect_err "Invalid cross-device link" "rename across folders is EXDEV" python3 -c "import os; os.rename('$S/other/o', '$S/o')"
expect_eq "$(cat "$S/other/o#o")" "1" "a refused rename changes nothing"
echo 'path "secret/*" { capabilities = ["read"] }' > "$WORK/p.hcl"
cp "$WORK/p.hcl" "$M/sys/policies/acl/reader"
sed 's/read/list/' "$WORK/p.hcl" > "$M/sys/policies/acl/reader.new"
expect_ok "a policy replaced by rename" python3 -c "import os; os.replace('$M/sys/policies/acl/reader.new', '$M/sys/policies/acl/reader')"
expect_eq "$(cat "$M/sys/policies/acl/reader")" "$(sed 's/read/list/' "$WORK/p.hcl")" "the new policy text"
expect_err "No such file" "the source policy is gone" cat "$M/sys/policies/acl/reader.new"

# Each half is checked: as another uid, a token that may write but not
# delete, and one that may delete but not write; nothing changes on refusal.
cat > "$M/sys/policies/acl/nodelete" <<'HCL'
path "secret/data/app/*" { capabilities = ["create", "update", "read", "delete"] }
path "secret/metadata/app/*" { capabilities = ["read", "list"] }
HCL
cat > "$M/sys/policies/acl/nowrite" <<'HCL'
path "secret/data/app/*" { capabilities = ["read"] }
path "secret/metadata/app/*" { capabilities = ["read", "list", "delete"] }
HCL
token() {
  exec 3<>"$M/auth/token/create"
  echo "{\"policies\":[\"$1\"]}" >&3
  jq -r .auth.client_token <&3
  exec 3>&-
}
T_NODELETE=$(token nodelete)
T_NOWRITE=$(token nowrite)
echo 'password=p9' > "$S/staged"
v_before=$(jqr .current_version "$S/db@metadata")
for t in "$T_NODELETE" "$T_NOWRITE"; do
  expect_err "Permission denied" "rename refused by the ACL" \
    setpriv --reuid=65534 --regid=65534 --clear-groups -- env VAULT_TOKEN="$t" \
    /usr/bin/python3 -c "import os; os.replace('$S/staged', '$S/db')"
  expect_eq "$(cat "$S/db#password")" "p3" "the target is unchanged"
  expect_eq "$(jqr .current_version "$S/db@metadata")" "$v_before" "no new version"
  expect_eq "$(cat "$S/staged#password")" "p9" "the source is still there"
done
stop_cofferd "$M"

# --- owner and modes: a 0600 mount owned by the user who reads it ------------------
K=$WORK/keys
start_cofferd "$K" --dev --allow-other --uid 65534 --gid 65534 --file-mode 0600 --dir-mode 0700
jq -Rs '{private: .}' "$WORK/id" > "$K/secret/web-keys"
expect_eq "$(stat -c '%a %u %g' "$K/secret/web-keys#private")" "600 65534 65534" "file_mode and owner"
expect_eq "$(stat -c '%a' "$K/secret")" "700" "dir_mode"
expect_ok "ssh-keygen takes a 0600 key of its own uid" \
  setpriv --reuid=65534 --regid=65534 --clear-groups -- env VAULT_TOKEN=root \
  ssh-keygen -y -f "$K/secret/web-keys#private"
expect_eq "$(cut -d' ' -f1,2 "$WORK/out")" "$(cut -d' ' -f1,2 "$WORK/id.pub")" "the public key derived from the mount"
if [ -n "$PG" ]; then
  jq -n --arg l "127.0.0.1:$PG_PORT:*:postgres:pw" '{line: $l}' > "$K/secret/pgpass"
  expect_ok "psql with PGPASSFILE on a 0600 mount of its uid" \
    psql_with "$K/secret/pgpass#line" setpriv --reuid=65534 --regid=65534 --clear-groups -- env VAULT_TOKEN=root
  expect_eq "$(tr -d ' ' < "$WORK/out")" "1" "psql connected"
  ! grep -q "group or world access" "$WORK/err" || fail "libpq refused a 0600 PGPASSFILE: $(cat "$WORK/err")"
fi
stop_cofferd "$K"

# --- a bound mount whose kernel caches: rename and mtime through the caches -------
C=$WORK/cached
echo root > "$WORK/tok"
chmod 600 "$WORK/tok"
start_cofferd "$C" --dev --token-file "$WORK/tok" --cache
mkdir -p "$C/secret/app"
echo 'a=1' > "$C/secret/app/db"
cat "$C/secret/app/db" >/dev/null
m1=$(mtime "$C/secret/app/db")
expect_eq "$(mtime "$C/secret/app/db")" "$m1" "cached: mtime stays put"
expect_ok "cached: os.replace" python3 -c "
import os
with open('$C/secret/app/.t', 'w') as f:
    f.write('a=2\n')
os.replace('$C/secret/app/.t', '$C/secret/app/db')"
expect_eq "$(cat "$C/secret/app/db#a")" "2" "cached: the renamed content at once"
expect_ok "cached: mtime moved" test "$(mtime "$C/secret/app/db")" != "$m1"
expect_eq "$(mtime "$C/secret/app/db")" "$(created "$C/secret/app/db")" "cached: the new version's time"
expect_eq "$(ls -A "$C/secret/app")" "db" "cached: no temporary name"
stop_cofferd "$C"

# --- modes that are refused at load ------------------------------------------------
for bad in "--file-mode 0750" "--file-mode 4600" "--dir-mode 1777" "--file-mode rw"; do
  # shellcheck disable=SC2086
  expect_false "cofferd refuses $bad" "$COFFERD" --dev $bad "$WORK/never"
  grep -q "file_mode\|dir_mode" "$WORK/err" || fail "$bad: no clear error: $(cat "$WORK/err")"
done
cat > "$WORK/bad.hcl" <<HCL
storage "sqlite" { path = "$WORK/c.db" }
mount "$WORK/never" {
  file_mode = "0644"
  dir_mode  = "2750"
}
HCL
expect_false "a config with setgid dir_mode" "$COFFERD" --config "$WORK/bad.hcl"
grep -q "bad.hcl:4: dir_mode 2750" "$WORK/err" || fail "config: no FILE:LINE error: $(cat "$WORK/err")"

pass
