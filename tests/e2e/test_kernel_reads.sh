#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# A read-only caching bound mount (token_file, cache = true, read_only =
# true): after its first open the kernel serves reads alone (FUSE no-open),
# which the audit log proves (repeated cats of a cached secret reach the
# daemon no more; the same cats on the root mount are audited). And it is
# never stale or wider than the token: a write elsewhere, a narrowed policy,
# the token's revocation and the token's expiry are each seen by the very
# next read (also through an fd opened before the expiry); listings follow
# names written and deleted elsewhere; files that change
# by themselves (lookup-self) are read fresh; writes are EROFS; another uid
# let in by allow_other is held to the mount's modes. A mount bound
# to a use-limited token keeps its checked opens (and says so).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
umask 077

R=$WORK/root     # unbound: init, unseal, admin
K=$WORK/kernel   # bound to app.token, cached, read-only
U=$WORK/limited  # bound to limited.token (num_uses), cached, read-only
AUDIT=$WORK/audit.log
mkdir -p "$R" "$K" "$U"
echo 'hvs.placeholder' > "$WORK/app.token"
echo 'hvs.placeholder' > "$WORK/limited.token"
cat > "$WORK/coffer.hcl" <<EOF
storage "sqlite" {
  path = "$WORK/coffer.db"
  init = true
}
mount "$R" {}
mount "$K" {
  token_file  = "$WORK/app.token"
  cache       = true
  read_only   = true
  allow_other = true
  uid         = 4242
  file_mode   = "0600"
  dir_mode    = "0700"
}
mount "$U" {
  token_file = "$WORK/limited.token"
  cache      = true
  read_only  = true
}
disable_mlock = true
EOF
start_store_config "$WORK/coffer.hcl" "$R"
wait_mounted "$K"
wait_mounted "$U"

# create_token BODY FILE : auth/token/create through the root mount; the
# client token lands in FILE (written beside it and renamed over, as an
# agent rotates a token file).
create_token() {
  exec 3<>"$R/auth/token/create"
  echo "$1" >&3
  cat <&3 > "$WORK/created.json"
  exec 3>&-
  jqr .auth.client_token "$WORK/created.json" > "$2.new"
  mv "$2.new" "$2"
}

echo 'type=kv-v2' > "$R/sys/mounts/secret"
mkdir "$R/secret/app"
echo 'password=one' > "$R/secret/app/db"
printf 'path "secret/data/app/*" {\n  capabilities = ["read"]\n}\npath "secret/metadata/app/" {\n  capabilities = ["list"]\n}\n' \
  > "$WORK/app-read.hcl"
cp "$WORK/app-read.hcl" "$R/sys/policies/acl/app-read"
create_token '{"policies":["app-read"]}' "$WORK/app.token"

expect_eq "$(cat "$K/secret/app/db#password")" "one" "the read-only cached mount reads"
expect_ok "no-open logged" grep -q "reads are served from the kernel's cache alone" "$WORK/cofferd.log"
# The mount lends its token to whoever gets in, so the kernel holds other
# uids to its modes (default_permissions), the page cache included.
expect_eq "$(setpriv --reuid=4242 --regid=4242 --clear-groups cat "$K/secret/app/db#password")" "one" "the owner uid reads"
expect_err "Permission denied" "another uid is held to the modes" as_nobody cat "$K/secret/app/db#password"
expect_err "Permission denied" "another uid cannot list" as_nobody ls "$K/secret/app"
expect_err "Read-only file system" "writes are refused by the kernel" bash -c "echo 'password=no' > '$K/secret/app/db'"
expect_err "Read-only file system" "rm is refused" rm -f "$K/secret/app/db"
expect_err "Read-only file system" "touch is refused" touch "$K/secret/app/db"

# --- served by the kernel alone: the audit log sees none of the cats ---------------
echo "type=file file_path=$AUDIT" > "$R/sys/audit/f"
cat "$K/secret/app/db" > /dev/null
before=$(wc -l < "$AUDIT")
for _ in $(seq 1 50); do cat "$K/secret/app/db" > /dev/null; cat "$K/secret/app/db#password" > /dev/null; done
expect_eq "$(wc -l < "$AUDIT")" "$before" "100 cats on the kernel-served mount reach the daemon not once"
for _ in $(seq 1 5); do cat "$R/secret/app/db" > /dev/null; done
after=$(wc -l < "$AUDIT")
[ "$after" -ge $((before + 5)) ] || fail "the same cats on the root mount are audited ($before -> $after): the check above could not fail"

# --- never stale ------------------------------------------------------------------
for v in two three-is-longer 4; do
  echo "password=$v" > "$R/secret/app/db"
  expect_eq "$(cat "$K/secret/app/db#password")" "$v" "a write elsewhere is seen by the very next read"
  expect_eq "$(jqr .password "$K/secret/app/db")" "$v" "the whole file too"
done
printf 'path "secret/data/app/other" {\n  capabilities = ["read"]\n}\n' > "$WORK/narrow.hcl"
cp "$WORK/narrow.hcl" "$R/sys/policies/acl/app-read"
expect_err "Permission denied" "a narrowed policy denies what the kernel had" cat "$K/secret/app/db"
cp "$WORK/app-read.hcl" "$R/sys/policies/acl/app-read"
expect_eq "$(cat "$K/secret/app/db#password")" "4" "policy restored"

# Listings are kept by the kernel too (cache_readdir), and follow every name
# that comes or goes elsewhere.
expect_eq "$(ls "$K/secret/app" | tr '\n' ' ')" "db " "ls"
expect_eq "$(ls "$K/secret/app" | tr '\n' ' ')" "db " "ls again (the kept listing)"
echo 'password=x' > "$R/secret/app/extra"
expect_eq "$(ls "$K/secret/app" | tr '\n' ' ')" "db extra " "a secret written elsewhere is listed at once"
mkdir "$R/secret/app/deeper"
echo 'k=v' > "$R/secret/app/deeper/leaf"
expect_eq "$(ls "$K/secret/app" | tr '\n' ' ')" "db deeper extra " "a new folder below is listed at once"
rm "$R/secret/app/extra@metadata"
expect_eq "$(ls "$K/secret/app" | tr '\n' ' ')" "db deeper " "a secret deleted elsewhere leaves the listing at once"

# lookup-self changes by itself (its ttl): read fresh each time, never from pages.
create_token '{"policies":["app-read"],"ttl":"1h"}' "$WORK/app.token"
ttl1=$(jqr .ttl "$K/auth/token/lookup-self")
sleep 1.2
ttl2=$(jqr .ttl "$K/auth/token/lookup-self")
[ "$ttl2" -lt "$ttl1" ] || fail "lookup-self read fresh on the kernel-served mount: ttl $ttl1 then $ttl2"
CHECKS=$((CHECKS + 1))

# --- revocation: the very next read ------------------------------------------------
expect_eq "$(cat "$K/secret/app/db#password")" "4" "read before the revoke"
echo "token=$(cat "$WORK/app.token")" > "$R/auth/token/revoke"
expect_err "Permission denied" "a revoked token's cached data is not served" cat "$K/secret/app/db#password"

# --- expiry: the very next read, with no event to tell -----------------------------
create_token '{"policies":["app-read"],"ttl":"3s"}' "$WORK/app.token"
expect_eq "$(cat "$K/secret/app/db#password")" "4" "a fresh token in the file"
exec 4<"$K/secret/app/db"
expires=$(( $(date +%s%N) / 1000000 + 3000 ))
while [ $(( $(date +%s%N) / 1000000 )) -lt $((expires - 600)) ]; do
  cat "$K/secret/app/db#password" > "$WORK/got" || fail "read before the expiry failed: $(cat "$WORK/got")"
  sleep 0.1
done
sleep 0.8
expect_err "Permission denied" "the first read after the expiry is refused" cat "$K/secret/app/db#password"
expect_err "Permission denied" "an fd opened before the expiry reads nothing after it" cat <&4
exec 4<&-
expect_ok "expiry logged" grep -q "the mount token expired" "$WORK/cofferd.log"

# --- a use-limited token keeps its checked opens -----------------------------------
create_token '{"policies":["app-read"],"num_uses":50}' "$WORK/limited.token"
expect_eq "$(cat "$U/secret/app/db#password")" "4" "the use-limited mount reads"
expect_ok "use-limited logged" grep -q "the mount token is use-limited (num_uses): every open is checked" "$WORK/cofferd.log"
# Its opens still reach the daemon: each is checked (audited as a read of the
# secret's metadata or data), where the kernel-served mount's are not.
before=$(wc -l < "$AUDIT")
for _ in $(seq 1 3); do cat "$U/secret/app/db" > /dev/null; done
[ "$(wc -l < "$AUDIT")" -gt "$before" ] || fail "opens on the use-limited mount reach the daemon"
CHECKS=$((CHECKS + 1))

pass
