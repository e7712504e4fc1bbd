#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# KV v1 and v2 through the file views, in namespaces three deep, on a real
# mount driven with cat, ls, echo, rm, mkdir and rmdir.
source "$(dirname "$0")/lib.sh"

M=$WORK/mnt
start_cofferd "$M" --dev

# --- namespaces three deep, made with mkdir and with sys/namespaces -----------
expect_ok "mkdir namespace" mkdir "$M/education"
expect_ok "mkdir nested namespace" mkdir "$M/education/training"
echo '{"custom_metadata":{"owner":"team-a"}}' > "$M/education/training/sys/namespaces/certs"
expect_eq "$(ls "$M/education/training")" "$(printf 'auth\ncerts\nidentity\nsys')" "ls of a namespace"
expect_eq "$(jqr .path "$M/education/training/sys/namespaces/certs")" "education/training/certs/" "namespace path"
expect_eq "$(cat "$M/education/training/sys/namespaces/certs#custom_metadata")" '{"owner":"team-a"}' "#field of JSON"
echo '{"custom_metadata":{"owner":null,"tier":"1"}}' >> "$M/education/training/sys/namespaces/certs"
expect_eq "$(cat "$M/education/training/sys/namespaces/certs#custom_metadata")" '{"tier":"1"}' ">> merge-patches metadata"
expect_eq "$(ls "$M/education/sys/namespaces")" "training" "ls sys/namespaces"

NS=$M/education/training/certs
echo 'type=kv-v2' > "$NS/sys/mounts/kv"
echo '{"type":"kv","description":"legacy"}' > "$NS/sys/mounts/old"
expect_eq "$(jqr .options.version "$NS/sys/mounts/kv")" "2" "kv-v2 mount"
expect_eq "$(jqr .options.version "$NS/sys/mounts/old")" "1" "kv mount defaults to v1"
expect_eq "$(ls "$NS")" "$(printf 'auth\nidentity\nkv\nold\nsys')" "mounts show as directories"

# --- KV v2 -----------------------------------------------------------------
mkdir -p "$NS/kv/app"   # folders come from mkdir (or from secrets below them)
echo '{"username":"app","password":"s3cr3t"}' > "$NS/kv/app/db"
expect_eq "$(cat "$NS/kv/app/db#password")" "s3cr3t" "#field is raw"
expect_eq "$(cat "$NS/kv/app/db")" "$(printf '{\n  "password": "s3cr3t",\n  "username": "app"\n}')" "pretty JSON"
expect_eq "$(stat -c %s "$NS/kv/app/db")" "$(cat "$NS/kv/app/db" | wc -c)" "stat size is the real size"
mtime1=$(stat -c %Y "$NS/kv/app/db")
echo 'password=rotated username=app' > "$NS/kv/app/db"
expect_eq "$(cat "$NS/kv/app/db#password")" "rotated" "key=value write"
expect_eq "$(cat "$NS/kv/app/db@1#password")" "s3cr3t" "@1 is version 1"
expect_eq "$(jqr .current_version "$NS/kv/app/db@metadata")" "2" "@metadata"
echo '{"password":null,"port":"5432"}' >> "$NS/kv/app/db"
expect_eq "$(cat "$NS/kv/app/db")" "$(printf '{\n  "port": "5432",\n  "username": "app"\n}')" ">> patches"
expect_eq "$(ls "$NS/kv")" "app" "ls mount"
expect_eq "$(ls "$NS/kv/app")" "db" "ls folder"
expect_eq "$(jqr '.views | join(",")' "$NS/kv/app/db@")" "1,2,3,data,delete,destroy,metadata,subkeys,undelete" "cat NAME@"
[ "$(stat -c %Y "$NS/kv/app/db")" -ge "$mtime1" ] || fail "mtime went backwards"

# A PEM block with newlines comes back byte for byte.
cat > "$WORK/cert.pem" <<'PEM'
-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUQ0lXhn0vKmGz3Z2p5s1oTtQXmQ8wCgYIKoZIzj0EAwIw
Dz/+==
-----END CERTIFICATE-----
PEM
jq -Rs '{cert: .}' "$WORK/cert.pem" > "$NS/kv/tls"
expect_ok "PEM round trip" cmp "$WORK/cert.pem" "$NS/kv/tls#cert"

# Replies are readable on the same open file.
exec 3<>"$NS/kv/reply"
echo 'a=1' >&3
cat <&3 > "$WORK/reply"
expect_eq "$(jqr .version "$WORK/reply")" "1" "write reply on the same fd"
exec 3>&-

# Delete, undelete, destroy, metadata delete.
rm "$NS/kv/app/db"
expect_err "No such file" "read of a soft-deleted secret" cat "$NS/kv/app/db"
expect_eq "$(ls "$NS/kv/app")" "" "a soft-deleted secret is not listed (ls shows what cat reads)"
expect_eq "$(jq -r '.keys[]' "$NS/kv/app@list")" "db" "Vault's LIST still names it"
echo 'versions=3' > "$NS/kv/app/db@undelete"
expect_eq "$(cat "$NS/kv/app/db#port")" "5432" "undelete"
echo '{"versions":[1]}' > "$NS/kv/app/db@destroy"
expect_err "No such file" "destroyed version" cat "$NS/kv/app/db@1"
rm "$NS/kv/app/db@2"
expect_err "No such file" "rm NAME@N soft-deletes version N" cat "$NS/kv/app/db@2"
expect_eq "$(jqr '.versions."2".deletion_time != ""' "$NS/kv/app/db@metadata")" "true" "version 2 deleted"
echo '{"max_versions":2,"custom_metadata":{"team":"db"}}' > "$NS/kv/app/db@metadata"
expect_eq "$(jqr .custom_metadata.team "$NS/kv/app/db@metadata")" "db" "metadata write"
rm "$NS/kv/app/db@metadata"
expect_err "No such file" "metadata delete removes the secret" cat "$NS/kv/app/db@metadata"
expect_eq "$(ls "$NS/kv")" "$(printf 'reply\ntls')" "removed secret leaves no empty folder"

# Check-and-set.
echo '{"cas_required":true}' > "$NS/kv/cas@metadata"
expect_err "Device or resource busy" "cas=1 on a new key" bash -c "echo '{\"data\":{\"v\":\"1\"},\"options\":{\"cas\":1}}' > '$NS/kv/cas'"
echo '{"data":{"v":"1"},"options":{"cas":0}}' > "$NS/kv/cas"
expect_err "Invalid argument" "cas_required without cas" bash -c "echo v=2 > '$NS/kv/cas'"
expect_eq "$(cat "$NS/kv/cas#v")" "1" "failed writes change nothing"

# A secret and a folder with the same name. The kernel refuses mkdir over an
# existing file by itself (EEXIST), so the folder comes first and the secret
# is written as NAME@data.
echo 'k=lone' > "$NS/kv/lone"
expect_err "File exists" "mkdir over a secret" mkdir "$NS/kv/lone"
mkdir "$NS/kv/both"
echo 'k=child' > "$NS/kv/both/child"
echo 'k=secret' > "$NS/kv/both@data"
[ -d "$NS/kv/both" ] || fail "the folder wins the name"
expect_eq "$(cat "$NS/kv/both@data#k")" "secret" "NAME@data is the secret"
expect_eq "$(cat "$NS/kv/both/child#k")" "child" "the folder's secret"
expect_eq "$(ls "$NS/kv" | grep -c '^both$')" "1" "ls shows the name once"

# mkdir in a kv mount: a folder that exists until something is written below.
expect_ok "mkdir in kv" mkdir "$NS/kv/empty"
[ -d "$NS/kv/empty" ] || fail "mkdir'd folder is a directory"
echo 'x=1' > "$NS/kv/empty/s"
expect_err "not empty" "rmdir of a folder with secrets" rmdir "$NS/kv/empty"

# --- KV v1 -----------------------------------------------------------------
echo 'a=1 b=2' > "$NS/old/cfg"
echo 'a=3' > "$NS/old/cfg"
expect_eq "$(cat "$NS/old/cfg")" "$(printf '{\n  "a": "3"\n}')" "v1 write replaces"
expect_err "not supported" "v1 has no patch" bash -c "echo c=1 >> '$NS/old/cfg'"
rm "$NS/old/cfg"
expect_err "No such file" "v1 delete is permanent" cat "$NS/old/cfg"

# --- tuning and disabling mounts, removing namespaces --------------------------
echo '{"max_lease_ttl":"2h"}' > "$NS/sys/mounts/kv@tune"
expect_eq "$(jqr .max_lease_ttl "$NS/sys/mounts/kv@tune")" "7200" "tune"
expect_err "not empty" "rmdir of a namespace with a child" rmdir "$M/education"
expect_err "not empty" "rmdir of a namespace with mounts" rmdir "$NS"
rm "$NS/sys/mounts/old" "$NS/sys/mounts/kv"
expect_ok "rmdir of an empty namespace" rmdir "$NS"
expect_ok "rm of a namespace record" rm "$M/education/sys/namespaces/training"
expect_eq "$(ls "$M/education")" "$(printf 'auth\nidentity\nsys')" "namespaces removed"

stop_cofferd "$M"
pass
