#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# No page of a file on a mount shared by several identities is ever served
# to another caller (SPEC §4), by any way into the page cache that direct I/O
# leaves open: MAP_PRIVATE mmap, posix_fadvise(WILLNEED), readahead(2),
# sendfile(2) (splice reads through the page cache). Two
# uids: B maps a file first (without touching it), A then fills the inode's
# pages its way, and B reads its mapping: B must find no resident page and
# none of A's bytes. On every kind of caller-dependent file: lookup-self (A's
# token), and KV v1 and v2 secrets, a #field and an @view that B may no
# longer read (its token revoked after it mapped) and that A reads with new
# content. The same for a template file (rendered per opener). read(2)
# still works, and a bound mount keeps its page cache.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to other uids)"; exit 77; }

PROBE=$(dirname "$0")/page_cache_probe.py
cp "$PROBE" "$WORK/probe.py"
chmod 755 "$WORK/probe.py"
PROBE=$WORK/probe.py
M=$WORK/mnt
SYNC=$WORK/sync
mkdir -p "$SYNC"
chmod 777 "$SYNC"
UA=61101
UB=61102

# as_tok UID TOKEN CMD... : CMD as UID with only PATH and VAULT_TOKEN.
as_tok() {
  local uid=$1 tok=$2
  shift 2
  setpriv --reuid="$uid" --regid="$uid" --clear-groups -- env -i PATH="$PATH" VAULT_TOKEN="$tok" "$@"
}

# mktoken BODY : a child of the dev root token (this shell is the daemon's
# uid); prints the client token.
mktoken() {
  local out
  out=$(exec 3<>"$M/auth/token/create"; echo "$1" >&3; cat <&3)
  jq -r .auth.client_token <<<"$out"
}

start_cofferd "$M" --dev --allow-other
echo 'type=kv' > "$M/sys/mounts/kv1"
cat > "$M/sys/policies/acl/reader" <<'HCL'
path "secret/data/*" {
  capabilities = ["read"]
}
path "secret/metadata/*" {
  capabilities = ["read"]
}
path "kv1/*" {
  capabilities = ["read"]
}
HCL
TA=$(mktoken '{"policies":["reader"]}')
[ -n "$TA" ] && [ "$TA" != null ] || fail "no token for A"

# write_file FILE MARK : gives FILE content that holds MARK.
write_file() {
  case $1 in
    secret/app@metadata) echo "{\"custom_metadata\":{\"tag\":\"$2\"}}" > "$M/$1" ;;
    *#password) echo "password=$2" > "$M/${1%#password}" ;;
    app.env) echo "password=$2" > "$M/secret/app" ;;  # the template's dependency
    *) echo "password=$2" > "$M/$1" ;;
  esac
}

round=0
# probe FILE MODE : one round (see the header).
probe() {
  local file=$1 mode=$2 mark tb
  round=$((round + 1))
  rm -f "$SYNC/ready" "$SYNC/go"
  if [ "$file" = auth/token/lookup-self ]; then
    tb=$(mktoken '{"policies":["reader"]}')
    mark=$TA  # A's lookup-self shows A's token
  else
    write_file "$file" "before-$round"
    tb=$(mktoken '{"policies":["reader"]}')
    mark="only-for-A-$round-$RANDOM$RANDOM"
  fi
  as_tok "$UB" "$tb" python3 "$PROBE" hold "$M/$file" "$SYNC/ready" "$SYNC/go" > "$SYNC/b.out" 2>&1 &
  local holder=$! i
  for i in $(seq 1 200); do
    [ -e "$SYNC/ready" ] && break
    kill -0 "$holder" 2>/dev/null || break
    sleep 0.02
  done
  [ -e "$SYNC/ready" ] || fail "$file/$mode: B could not map the file: $(cat "$SYNC/b.out")"
  if [ "$file" != auth/token/lookup-self ]; then
    # B may read no more; the file gets content only A may see.
    echo "token=$tb" > "$M/auth/token/revoke"
    write_file "$file" "$mark"
  fi
  as_tok "$UA" "$TA" python3 "$PROBE" fill "$mode" "$M/$file" > "$SYNC/a.out" 2>&1 ||
    fail "$file/$mode: A's $mode failed: $(cat "$SYNC/a.out")"
  touch "$SYNC/go"
  wait "$holder" || fail "$file/$mode: B's probe failed: $(cat "$SYNC/b.out")"
  CHECKS=$((CHECKS + 1))
  if grep -qF -- "$mark" "$SYNC/b.out"; then
    fail "$file/$mode: uid $UB read uid $UA's bytes through the page cache: $(head -c 300 "$SYNC/b.out")"
  fi
  expect_eq "$(head -n 1 "$SYNC/b.out")" "resident=0" "$file/$mode: no page of the file in the page cache"
  # A's own read(2) is not affected.
  as_tok "$UA" "$TA" cat "$M/$file" > "$SYNC/a.cat" || fail "$file: A's cat failed"
  CHECKS=$((CHECKS + 1))
  grep -qF -- "$mark" "$SYNC/a.cat" || fail "$file: A's cat does not show its content: $(head -c 300 "$SYNC/a.cat")"
}

for file in auth/token/lookup-self secret/app kv1/app "secret/app#password" secret/app@metadata; do
  for mode in mmap fadvise readahead sendfile; do
    probe "$file" "$mode"
  done
done
# A mapping of a shared mount's file has nothing to show: the fills are refused.
expect_eq "$(as_tok "$UA" "$TA" python3 "$PROBE" fill mmap "$M/secret/app")" "SIGBUS" "mmap on a shared mount"
grep -q "page-cache fill .* refused" "$WORK/cofferd.log" || fail "the refused fills are not logged"
stop_cofferd "$M"

# --- a template file (README: Templates) on a shared mount: the same rounds -----------
# Each opener's render is its own: B renders with its token, A with its own
# after B's token was revoked and the dependency changed.
T=$WORK/tmpl
mkdir -p "$T"
cat > "$WORK/tmpl.hcl" <<HCL
storage "sqlite" {
  path = "$WORK/tmpl.db"
  init = true
}
disable_mlock = true
mount "$T" {
  allow_other = true
  template "app.env" { contents = "{{ with secret \"secret/data/app\" }}PASSWORD={{ .Data.data.password }}\n{{ end }}" }
}
HCL
start_store_config "$WORK/tmpl.hcl" "$T"
M=$T
echo 'type=kv-v2' > "$M/sys/mounts/secret"
printf 'path "secret/data/*" {\n  capabilities = ["read"]\n}\n' > "$M/sys/policies/acl/reader"
TA=$(mktoken '{"policies":["reader"]}')
[ -n "$TA" ] && [ "$TA" != null ] || fail "no token for A (template mount)"
for mode in mmap fadvise readahead sendfile; do
  probe app.env "$mode"
done
expect_eq "$(as_tok "$UA" "$TA" python3 "$PROBE" fill mmap "$M/app.env")" "SIGBUS" "mmap of a template on a shared mount"
stop_cofferd "$T"

# --- a bound mount (one token for everyone) keeps its page cache ---------------------
B=$WORK/bound
echo root > "$WORK/root.token"
start_cofferd "$B" --dev --token-file "$WORK/root.token" --cache
echo 'password=bound-value' > "$B/secret/app"
out=$(python3 "$PROBE" fill mmap "$B/secret/app")
CHECKS=$((CHECKS + 1))
grep -q bound-value <<<"$out" || fail "mmap on a bound mount: $out"
stop_cofferd "$B"
pass
