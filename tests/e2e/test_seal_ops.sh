#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# The seal lifecycle on a real mount: sys/rotate adds a key term
# (sys/key-status counts it), old secrets stay readable, and the same shares
# unseal a restarted daemon; a token without sudo is refused; sys/rekey to
# 5 shares / threshold 3, after which the old shares no longer unseal and the
# new ones do; sys/generate-root, its token decoded with python3 and used;
# and no share, OTP or token in the audit log.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }

M=$WORK/mnt
DB=$WORK/coffer.db
LOG=$WORK/audit/audit.log
mkdir -p "$WORK/audit"

# ask TOKEN FILE BODY : writes BODY to FILE as a caller holding TOKEN ("" for
# none) and prints the reply, read back on the same fd.
ask() {
  env -u VAULT_TOKEN ${1:+VAULT_TOKEN=$1} bash -c 'exec 3<>"$1"; printf "%s\n" "$2" >&3; cat <&3' _ "$2" "$3"
}
# put TOKEN FILE BODY : the same write, reply not read: a refused write
# fails here (at close).
put() {
  env -u VAULT_TOKEN ${1:+VAULT_TOKEN=$1} bash -c 'printf "%s\n" "$2" > "$1"' _ "$2" "$3"
}
# as TOKEN CMD... : CMD with VAULT_TOKEN=TOKEN in its environment.
as() {
  local token=$1
  shift
  env VAULT_TOKEN="$token" "$@"
}
# unseal_with SHARE... : each share to sys/unseal; the store must end unsealed.
unseal_with() {
  local k
  for k in "$@"; do echo "$k" > "$M/sys/unseal"; done
  expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "unsealed"
}

start_cofferd "$M" --init --storage "$DB" --allow-other
init_store "$M" '{"secret_shares":3,"secret_threshold":2}'
ROOT=$(jqr .root_token "$WORK/init.json")
mapfile -t OLD < <(jq -r '.keys[]' "$WORK/init.json")
mapfile -t OLD_B64 < <(jq -r '.keys_base64[]' "$WORK/init.json")
unseal_with "${OLD[0]}" "${OLD[1]}"

as "$ROOT" bash -c "echo 'type=file file_path=$LOG' > '$M/sys/audit/f'"
as "$ROOT" bash -c "echo type=kv-v2 > '$M/sys/mounts/kv'"
as "$ROOT" bash -c "echo pw=before-rotate > '$M/kv/app'"

# --- rotate ----------------------------------------------------------------------
expect_eq "$(as "$ROOT" jq -r .term "$M/sys/key-status")" "1" "a new store's key term"
INSTALLED=$(as "$ROOT" jq -r .install_time "$M/sys/key-status")
[[ "$INSTALLED" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T.*Z$ ]] || fail "install_time is not RFC 3339: $INSTALLED"
expect_ok "rotate" as "$ROOT" bash -c "echo > '$M/sys/rotate'"
expect_eq "$(as "$ROOT" jq -r .term "$M/sys/key-status")" "2" "term after one rotation"
expect_ok "rotate again" as "$ROOT" bash -c "printf '{}' > '$M/sys/rotate'"
expect_eq "$(as "$ROOT" jq -r .term "$M/sys/key-status")" "3" "term after two rotations"
as "$ROOT" bash -c "echo pw=after-rotate > '$M/kv/app2'"
expect_eq "$(as "$ROOT" cat "$M/kv/app#pw")" "before-rotate" "a secret written under term 1"
expect_eq "$(as "$ROOT" cat "$M/kv/app2#pw")" "after-rotate" "a secret written under term 3"
expect_err "Invalid argument" "rotate takes no parameters" as "$ROOT" bash -c "echo x=1 > '$M/sys/rotate'"

# A token without sudo on sys/rotate and without read on sys/key-status.
printf 'path "sys/rotate" {\n  capabilities = ["update", "create"]\n}\npath "kv/*" {\n  capabilities = ["read"]\n}\n' |
  as "$ROOT" bash -c "cat > '$M/sys/policies/acl/operator'"
LIMITED=$(ask "$ROOT" "$M/auth/token/create" 'policies=operator' | jq -r .auth.client_token)
[ -n "$LIMITED" ] && [ "$LIMITED" != null ] || fail "no limited token"
expect_eq "$(as "$LIMITED" cat "$M/kv/app#pw")" "before-rotate" "the limited token reads secrets"
expect_err "Permission denied" "rotate without sudo" as "$LIMITED" bash -c "echo > '$M/sys/rotate'"
expect_err "Permission denied" "key-status without read" as "$LIMITED" cat "$M/sys/key-status"
expect_err "Permission denied" "key-status with no token" as_user 65534 cat "$M/sys/key-status"
expect_err "Permission denied" "rotate with no token" as_user 65534 bash -c "echo > '$M/sys/rotate'"
expect_eq "$(as "$ROOT" jq -r .term "$M/sys/key-status")" "3" "the refused rotations changed nothing"

# --- restart: the same shares unseal after the rotations -----------------------------
stop_cofferd "$M"
start_cofferd "$M" --storage "$DB" --allow-other
unseal_with "${OLD_B64[2]}" "${OLD[0]}"
expect_eq "$(as "$ROOT" jq -r .term "$M/sys/key-status")" "3" "term after a restart"
expect_eq "$(as "$ROOT" cat "$M/kv/app#pw")" "before-rotate" "term-1 secret after a restart"
expect_eq "$(as "$ROOT" cat "$M/kv/app2#pw")" "after-rotate" "term-3 secret after a restart"

# --- rekey to 5 shares, threshold 3 (no token: the shares are the credential) --------
expect_eq "$(ls "$M/sys/rekey" | tr '\n' ' ')" "init update " "ls sys/rekey"
expect_eq "$(jqr .started "$M/sys/rekey/init")" "false" "no rekey yet"
expect_err "Invalid argument" "pgp_keys refused" put "" "$M/sys/rekey/init" \
  '{"secret_shares":5,"secret_threshold":3,"pgp_keys":["abc"]}'
expect_err "Invalid argument" "threshold above shares" put "" "$M/sys/rekey/init" 'secret_shares=2 secret_threshold=3'
ask "" "$M/sys/rekey/init" 'secret_shares=5 secret_threshold=3' > "$WORK/rekey.json"
NONCE=$(jqr .nonce "$WORK/rekey.json")
expect_eq "$(jqr '[.started, .n, .t, .required] | map(tostring) | join(" ")' "$WORK/rekey.json")" "true 5 3 2" \
  "rekey started"
expect_err "Invalid argument" "wrong nonce" put "" "$M/sys/rekey/update" "key=${OLD[0]} nonce=wrong"
ask "" "$M/sys/rekey/update" "key=${OLD[1]} nonce=$NONCE" > "$WORK/r1.json"
expect_eq "$(jqr .progress "$WORK/r1.json")" "1" "rekey progress"
expect_eq "$(jqr .progress "$M/sys/rekey/init")" "1" "cat sys/rekey/init: progress"
expect_err "Invalid argument" "the same share twice" put "" "$M/sys/rekey/update" "key=${OLD[1]} nonce=$NONCE"
ask "" "$M/sys/rekey/update" "key=${OLD_B64[2]} nonce=$NONCE" > "$WORK/rekeyed.json"
expect_eq "$(jqr .complete "$WORK/rekeyed.json")" "true" "rekey complete"
expect_eq "$(jqr '.keys | length' "$WORK/rekeyed.json")" "5" "five new shares"
mapfile -t NEW < <(jq -r '.keys[]' "$WORK/rekeyed.json")
mapfile -t NEW_B64 < <(jq -r '.keys_base64[]' "$WORK/rekeyed.json")
expect_eq "$(jqr '[.n, .t] | map(tostring) | join("/")' "$M/sys/seal-status")" "5/3" "seal-status after rekey"
expect_eq "$(jqr .started "$M/sys/rekey/init")" "false" "the rekey is over"

# A cancelled attempt leaves nothing.
ask "" "$M/sys/rekey/init" 'secret_shares=1 secret_threshold=1' > "$WORK/rk2.json"
ask "" "$M/sys/rekey/update" "key=${NEW[0]} nonce=$(jqr .nonce "$WORK/rk2.json")" > /dev/null
expect_ok "cancel a rekey" rm "$M/sys/rekey/init"
expect_eq "$(jqr .started "$M/sys/rekey/init")" "false" "cancelled"

stop_cofferd "$M"
start_cofferd "$M" --storage "$DB" --allow-other
# The new threshold is 3: all three old shares, and they combine into a key
# that no longer opens the store.
echo "${OLD[0]}" > "$M/sys/unseal"
echo "${OLD[1]}" > "$M/sys/unseal"
expect_err "Invalid argument" "the old shares after the rekey" bash -c "echo '${OLD[2]}' > '$M/sys/unseal'"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "true" "still sealed with the old shares"
unseal_with "${NEW[4]}" "${NEW_B64[0]}" "${NEW[2]}"
expect_eq "$(as "$ROOT" cat "$M/kv/app#pw")" "before-rotate" "data after the rekey"
expect_eq "$(as "$ROOT" jq -r .term "$M/sys/key-status")" "3" "the keyring is untouched by a rekey"

# --- generate-root ---------------------------------------------------------------
ask "" "$M/sys/generate-root/attempt" "" > "$WORK/gr.json"
OTP=$(jqr .otp "$WORK/gr.json")
GNONCE=$(jqr .nonce "$WORK/gr.json")
expect_eq "${#OTP}" "28" "a 28-character OTP"
expect_eq "$(jqr .otp "$M/sys/generate-root/attempt")" "" "the OTP is told once"
expect_eq "$(jqr .required "$M/sys/generate-root/attempt")" "3" "generate-root needs the new threshold"
ask "" "$M/sys/generate-root/update" "key=${NEW[1]} nonce=$GNONCE" > /dev/null
ask "" "$M/sys/generate-root/update" "key=${NEW[3]} nonce=$GNONCE" > /dev/null
ask "" "$M/sys/generate-root/update" "key=${NEW[0]} nonce=$GNONCE" > "$WORK/gr-done.json"
expect_eq "$(jqr .complete "$WORK/gr-done.json")" "true" "generate-root complete"
ENCODED=$(jqr .encoded_token "$WORK/gr-done.json")
# The README's one-liner.
NEWROOT=$(python3 -c 'import base64,sys; e,o=sys.argv[1:]; print(bytes(a^b for a,b in zip(base64.b64decode(e+"="*(-len(e)%4)),o.encode())).decode())' "$ENCODED" "$OTP")
[[ "$NEWROOT" == hvs.* ]] || fail "decoded token: $NEWROOT"
[ "$NEWROOT" != "$ROOT" ] || fail "generate-root gave the old root token"
expect_eq "$(as "$NEWROOT" cat "$M/kv/app2#pw")" "after-rotate" "the generated root token reads"
expect_eq "$(as "$NEWROOT" jq -r '.policies[0]' "$M/auth/token/lookup-self")" "root" "it is a root token"
expect_ok "the generated root token rotates" as "$NEWROOT" bash -c "echo > '$M/sys/rotate'"
expect_eq "$(as "$NEWROOT" jq -r .term "$M/sys/key-status")" "4" "term after the new root's rotation"
expect_err "Invalid argument" "generate-root without an attempt" \
  put "" "$M/sys/generate-root/update" "key=${NEW[1]} nonce=$GNONCE"
expect_err "No such file or directory" "rekey is root-namespace only" as "$ROOT" bash -c \
  "mkdir '$M/team' && ls '$M/team/sys/rekey'"

# --- the audit log has the requests, and no share, OTP or token ---------------------
grep -q '"sys/rekey/update"' "$LOG" || fail "rekey updates are not in the audit log"
grep -q '"sys/generate-root/update"' "$LOG" || fail "generate-root updates are not in the audit log"
for secret in "${OLD[@]}" "${OLD_B64[@]}" "${NEW[@]}" "${NEW_B64[@]}" "$OTP" "$ENCODED" "$NEWROOT" "$ROOT"; do
  CHECKS=$((CHECKS + 1))
  if grep -qF -- "$secret" "$LOG"; then fail "the audit log holds a share, OTP or token in clear: $secret"; fi
  if grep -qF -- "$secret" "$WORK/cofferd.log"; then fail "the daemon log holds a share, OTP or token: $secret"; fi
done

stop_cofferd "$M"
pass
