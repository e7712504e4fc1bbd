#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# What a caller learns of the tree (SPEC §4), as other uids on one shared
# mount: with no token, and with a limited one, an existing namespace (at any
# depth), mount or mkdir folder it has no capability at or below answers
# stat, ls and cd exactly as an absent one does; the way to a login endpoint
# stays open to everyone. And Vault's write-only "drop box" policy (create
# without read or list) writes through files: the first write creates, the
# second is an update that create alone may not do.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to other uids)"; exit 77; }

M=$WORK/mnt
U=61021
start_cofferd "$M" --dev --allow-other   # uid 0 has the dev root token; other uids none

# as_tok TOKEN CMD... : CMD as uid $U, with VAULT_TOKEN=TOKEN unless TOKEN is empty.
as_tok() {
  local tok=$1
  shift
  if [ -n "$tok" ]; then
    setpriv --reuid=$U --regid=$U --clear-groups -- env -i PATH="$PATH" VAULT_TOKEN="$tok" "$@"
  else
    setpriv --reuid=$U --regid=$U --clear-groups -- env -i PATH="$PATH" "$@"
  fi
}

# outcome TOKEN CMD PATH : "ok", or the errno text CMD (stat, ls or cd) gives for PATH.
outcome() {
  local out
  if out=$(as_tok "$1" bash -c "$2 \"\$1\"" _ "$3" 2>&1 >/dev/null); then echo ok; else echo "${out##*: }"; fi
}

mktoken() {
  local out
  out=$(exec 3<>"$M/auth/token/create"; echo "$1" >&3; cat <&3)
  jq -r .auth.client_token <<<"$out"
}

# --- the tree, made by root ------------------------------------------------------
mkdir "$M/edu" "$M/edu/training" "$M/edu/hidden"
echo type=kv-v2 > "$M/edu/sys/mounts/kv"
echo type=kv-v2 > "$M/edu/hidden/sys/mounts/kv"
echo type=userpass > "$M/edu/sys/auth/userpass"
echo password=pw > "$M/edu/auth/userpass/users/bob"
mkdir "$M/secret/folder" "$M/secret/app" "$M/secret/app/folder"
echo k=v > "$M/secret/app/x"
mkdir "$M/edu/kv/app"
echo k=v > "$M/edu/kv/app/x"
cat > "$M/sys/policies/acl/app" <<'EOF'
path "secret/data/app/*" { capabilities = ["read"] }
path "edu/kv/data/app/*" { capabilities = ["read"] }
EOF
cat > "$M/sys/policies/acl/drop" <<'EOF'
path "secret/data/drop/*" { capabilities = ["create"] }
EOF
LIMITED=$(mktoken '{"policies":["app"]}')
DROP=$(mktoken '{"policies":["drop"]}')
[ -n "$LIMITED" ] && [ "$LIMITED" != null ] && [ -n "$DROP" ] && [ "$DROP" != null ] || fail "tokens not made"

# --- existing vs absent look the same to a caller with nothing there ---------------
# (pairs: existing, absent; each is at a depth the caller can walk to)
for who in none limited; do
  tok=""
  [ $who = none ] || tok=$LIMITED
  for pair in "edu/training edu/nope" "edu/hidden edu/nope" "edu/hidden/kv edu/nope/kv" \
              "identity/entity/name x/y/z" "secret/folder secret/nofolder"; do
    set -- $pair
    [ $who = limited ] || [ "$1" != secret/folder ] || continue  # no token: secret itself is hidden
    for cmd in stat ls cd; do
      there=$(outcome "$tok" $cmd "$M/$1")
      absent=$(outcome "$tok" $cmd "$M/$2")
      expect_eq "$there" "$absent" "$cmd of existing $1 vs absent $2 (token: $who)"
      expect_eq "$there" "Permission denied" "$cmd of existing $1 (token: $who)"
    done
  done
done
# Top level, with no token: a namespace without a login, a mount, a folder.
for pair in "secret nothing" "secret/folder nothing/folder"; do
  set -- $pair
  for cmd in stat ls; do
    expect_eq "$(outcome "" $cmd "$M/$1")" "$(outcome "" $cmd "$M/$2")" "$cmd of existing $1 vs absent $2 (no token)"
  done
done
# A namespace with a login method is on the way to it (Vault answers logins
# without a token): edu is a directory, and bob logs in through it.
expect_eq "$(outcome "" stat "$M/edu")" "ok" "the way to a login is open"
expect_eq "$(outcome "" cd "$M/edu/auth/userpass/login")" "ok" "the login directory"
expect_ok "an anonymous login through a namespace" as_tok "" bash -c "echo password=pw > '$M/edu/auth/userpass/login/bob'"
# What the limited token may reach stays visible, mkdir folders included.
expect_eq "$(outcome "$LIMITED" stat "$M/edu/kv/app")" "ok" "a folder below which the token may read"
expect_eq "$(outcome "$LIMITED" stat "$M/secret/app/folder")" "ok" "a mkdir folder the token may reach below"
expect_eq "$(as_tok "$LIMITED" cat "$M/secret/app/x#k")" "v" "the limited token reads its secret"
# Root is told the truth.
expect_err "No such file" "root: an absent namespace" stat "$M/nope"
expect_ok "root: a mkdir folder" test -d "$M/secret/folder"
# rmdir of a folder the caller may not list fails, and the folder stays.
expect_err "Permission denied" "rmdir by a caller who may not list" as_tok "$LIMITED" rmdir "$M/secret/app/folder"
expect_ok "the folder stays" test -d "$M/secret/app/folder"

# --- a drop box: create without read or list -------------------------------------
expect_ok "a first write into the drop box" as_tok "$DROP" bash -c "echo 'a=1' > '$M/secret/drop/x'"
expect_ok "another name" as_tok "$DROP" bash -c "printf '{\"b\":\"2\"}' > '$M/secret/drop/y'"
expect_eq "$(cat "$M/secret/drop/x#a")" "1" "the drop arrived"
expect_eq "$(cat "$M/secret/drop/y#b")" "2" "the other drop arrived"
expect_err "Permission denied" "a second write is an update" as_tok "$DROP" bash -c "echo 'a=2' > '$M/secret/drop/x'"
expect_eq "$(cat "$M/secret/drop/x#a")" "1" "the update changed nothing"
expect_err "Permission denied" "the drop box cannot be read" as_tok "$DROP" cat "$M/secret/drop/x"
expect_err "Permission denied" "nor listed" as_tok "$DROP" ls "$M/secret/drop"
expect_ok "a droppable name is a file" as_tok "$DROP" test -f "$M/secret/drop/z"
expect_ok "test -w says so" as_tok "$DROP" test -w "$M/secret/drop/z"
expect_false "test -r does not" as_tok "$DROP" test -r "$M/secret/drop/z"
expect_err "Permission denied" "outside the drop box" as_tok "$DROP" bash -c "echo 'a=1' > '$M/secret/other'"
expect_eq "$(jqr .current_version "$M/secret/drop/x@metadata")" "1" "one version only"

stop_cofferd "$M"
pass
