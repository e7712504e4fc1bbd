#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Auto-unseal from a key file (seal "file" { path }): `cofferd unseal-file`
# writes the file from shares on stdin after checking them against the store;
# a start with the stanza comes up mounted and unsealed; a relative path is
# read under $CREDENTIALS_DIRECTORY (systemd LoadCredential=); and every bad
# file (group/world-readable, another owner, over 64 KiB, a symlink, too few,
# invalid, repeated or wrong shares) makes cofferd exit 1 with a clear
# message, mounting nothing and printing no share.
source "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || fail "jq is missing"

M=$WORK/m
DB=$WORK/coffer.db
KEYFILE=$WORK/unseal
LOG=$WORK/cofferd.log

# --- a store with 3 shares, threshold 2, and a secret ----------------------------
start_cofferd "$M" --storage "$DB" --init --disable-mlock
init_store "$M" '{"secret_shares":3,"secret_threshold":2}'
ROOT=$(jqr .root_token "$WORK/init.json")
K0=$(jqr '.keys[0]' "$WORK/init.json")
K1=$(jqr '.keys[1]' "$WORK/init.json")
K2=$(jqr '.keys[2]' "$WORK/init.json")
B1=$(jqr '.keys_base64[1]' "$WORK/init.json")
echo "$K0" > "$M/sys/unseal"
echo "$K1" > "$M/sys/unseal"
VAULT_TOKEN=$ROOT bash -c 'echo type=kv-v2 > "$1/sys/mounts/kv" && echo "pw=auto-unsealed-s3cret" > "$1/kv/app"' _ "$M"
stop_cofferd "$M"

# no_share FILE... : none of the shares (or the root token) in FILE.
no_share() {
  local f k
  for f in "$@"; do
    for k in "$K0" "$K1" "$K2" "$B1" "$ROOT"; do
      CHECKS=$((CHECKS + 1))
      ! grep -qF -- "$k" "$f" || fail "$f shows a share or the token"
    done
  done
}

# --- unseal-file: shares on stdin, checked, written 0600 ---------------------------
config() {  # config FILE SEAL_PATH
  printf 'storage "sqlite" { path = "%s" }\nseal "file" { path = "%s" }\nmount "%s" { allow_other = true }\ndisable_mlock = true\n' \
    "$DB" "$2" "$M" > "$1"
}
config "$WORK/coffer.hcl" "$KEYFILE"
printf '%s\n%s\n' "$K0" "$B1" | "$COFFERD" unseal-file --config "$WORK/coffer.hcl" "$KEYFILE" >"$WORK/out" 2>"$WORK/err" ||
  fail "unseal-file: $(cat "$WORK/err")"
grep -qF "wrote 2 share(s) to $KEYFILE (mode 0600)" "$WORK/out" || fail "unseal-file said: $(cat "$WORK/out")"
expect_eq "$(stat -c %a "$KEYFILE")" "600" "the key file's mode"
expect_eq "$(wc -l < "$KEYFILE")" "2" "two shares in the key file"
no_share "$WORK/out" "$WORK/err"
# Refused: too few, a wrong one; nothing written.
CHECKS=$((CHECKS + 1))
rc=0; echo "$K2" | "$COFFERD" unseal-file --storage "$DB" "$WORK/few" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -q "1 share(s) given; this store needs 2" "$WORK/err" || fail "unseal-file with one share: $rc $(cat "$WORK/err")"
[ ! -e "$WORK/few" ] || fail "unseal-file wrote a file with too few shares"
no_share "$WORK/out" "$WORK/err"
WRONG=$(printf '%s' "$K2" | sed 's/^./0/; t; s/^/0/')
[ "$WRONG" != "$K2" ] || WRONG=$(printf '%s' "$K2" | sed 's/^./1/')
CHECKS=$((CHECKS + 1))
rc=0; printf '%s\n%s\n' "$K0" "$WRONG" | "$COFFERD" unseal-file --storage "$DB" "$WORK/wrong" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -q "do not open this store" "$WORK/err" || fail "unseal-file with a wrong share: $rc $(cat "$WORK/err")"
[ ! -e "$WORK/wrong" ] || fail "unseal-file wrote a file with a wrong share"

# --- a start with seal "file": mounted and unsealed --------------------------------
"$COFFERD" --config "$WORK/coffer.hcl" >>"$LOG" 2>&1 &
DAEMON_PID=$!
wait_mounted "$M"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed at start from the key file"
grep -qF "unsealed with the key file $KEYFILE" "$LOG" || fail "the log does not say it unsealed"
expect_eq "$(VAULT_TOKEN=$ROOT bash -c 'cat "$1/kv/app#pw"' _ "$M")" "auto-unsealed-s3cret" "a secret read after auto-unseal"
expect_err "Permission denied" "no token, no secret" as_nobody cat "$M/kv/app#pw"
stop_cofferd "$M"
no_share "$LOG"

# The saved sys/init answer works as it is (JSON).
install -m 0600 "$WORK/init.json" "$WORK/init-copy.json"
config "$WORK/json.hcl" "$WORK/init-copy.json"
"$COFFERD" --config "$WORK/json.hcl" >>"$LOG" 2>&1 &
DAEMON_PID=$!
wait_mounted "$M"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed from sys/init's JSON"
stop_cofferd "$M"

# --- a relative path: under $CREDENTIALS_DIRECTORY --------------------------------
CREDS=$WORK/credentials
mkdir -m 0700 "$CREDS"
install -m 0400 "$KEYFILE" "$CREDS/coffer-unseal"
config "$WORK/creds.hcl" "coffer-unseal"
CREDENTIALS_DIRECTORY=$CREDS "$COFFERD" --config "$WORK/creds.hcl" >>"$LOG" 2>&1 &
DAEMON_PID=$!
wait_mounted "$M"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed from \$CREDENTIALS_DIRECTORY/coffer-unseal"
grep -qF "unsealed with the key file $CREDS/coffer-unseal" "$LOG" || fail "the log does not name the credential"
stop_cofferd "$M"

# --- refusals: exit 1, a clear message, nothing mounted, no share shown -----------
# refused WHAT MESSAGE [ENV...] : cofferd --config $WORK/bad.hcl must refuse.
refused() {
  local what=$1 message=$2 rc=0
  shift 2
  CHECKS=$((CHECKS + 1))
  env "$@" timeout 20 "$COFFERD" --config "$WORK/bad.hcl" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1: $(cat "$WORK/out" "$WORK/err")"
  grep -qF -- "$message" "$WORK/err" || fail "$what: expected \"$message\", got: $(cat "$WORK/err")"
  ! mountpoint -q "$M" || fail "$what: $M was mounted"
  no_share "$WORK/out" "$WORK/err"
}
BAD=$WORK/bad-unseal
config "$WORK/bad.hcl" "$BAD"
keyfile() {  # keyfile MODE LINE... : $BAD with these lines
  local mode=$1
  shift
  rm -f "$BAD"
  printf '%s\n' "$@" > "$BAD"
  chmod "$mode" "$BAD"
}
keyfile 0640 "$K0" "$K1"
refused "a group-readable file" "key file $BAD has mode 0640: group or others may use it"
keyfile 0604 "$K0" "$K1"
refused "a world-readable file" "has mode 0604"
keyfile 0600 "$K0" "$K1"
chown 65534:65534 "$BAD"
refused "another uid's file" "key file $BAD is owned by uid 65534, not by cofferd's (0)"
keyfile 0600 "$K0" "$K1"
head -c 70000 /dev/zero | tr '\0' '#' >> "$BAD"
refused "a file over 64 KiB" "key file $BAD is over 64 KiB"
keyfile 0600 "$K2"
refused "too few shares" "key file $BAD: 1 share(s) given; this store needs 2"
keyfile 0600 "$K0" "not-hex-or-base64!"
refused "an invalid share" "key file $BAD: line 2 is not a hex or base64 unseal key share"
keyfile 0600 "# the shares" "$K1" "$K1"
refused "a repeated share" "key file $BAD: line 3 repeats an earlier share (share 1)"
keyfile 0600 "$K1" "$B1"
refused "the same share as hex and base64" "share 2 repeats share 1"
keyfile 0600 "$K0" "$WRONG"
refused "a wrong share" "the shares do not open this store"
keyfile 0600 "$K0" "$K1"
mv "$BAD" "$WORK/real-unseal"
ln -s "$WORK/real-unseal" "$BAD"
refused "a symbolic link" "key file $BAD is a symbolic link (not followed)"
rm -f "$BAD"
refused "a missing file" "cannot open the key file $BAD: No such file or directory"
config "$WORK/bad.hcl" "coffer-unseal"
refused "a relative path without \$CREDENTIALS_DIRECTORY" "is relative, which means under \$CREDENTIALS_DIRECTORY" -u CREDENTIALS_DIRECTORY
refused "a relative path missing from \$CREDENTIALS_DIRECTORY" "cannot open the key file $WORK/m/coffer-unseal" CREDENTIALS_DIRECTORY="$WORK/m"
printf 'storage "sqlite" { path = "%s" }\nseal "transit" { address = "x" }\nmount "%s" {}\n' "$DB" "$M" > "$WORK/transit.hcl"
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" --config "$WORK/transit.hcl" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 2 ] && grep -qF 'seal "transit" is not supported (only "file")' "$WORK/err" || fail "seal transit: $rc $(cat "$WORK/err")"

# After all that, the good file still starts it.
"$COFFERD" --config "$WORK/coffer.hcl" >>"$LOG" 2>&1 &
DAEMON_PID=$!
wait_mounted "$M"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed again with the good file"
stop_cofferd "$M"
no_share "$LOG"
pass
