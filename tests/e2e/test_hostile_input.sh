#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Hostile input from a local user, most of it with no token at all: deeply
# nested JSON (which once overflowed a FUSE worker's stack and took every
# mount down), numbers past 64 bits, invalid UTF-8 in bodies and names, and
# names that mean something else to Vault (`*`, `%2F`). Each is refused with
# EINVAL, changes nothing, and the daemon stays up.
source "$(dirname "$0")/lib.sh"

M=$WORK/mnt
DB=$WORK/store.db
chmod 755 "$WORK"

# deep N : a JSON object whose one value is N nested arrays.
deep() { python3 -c 'import sys; n = int(sys.argv[1]); sys.stdout.write("{\"k\":" + "[" * n + "]" * n + "}\n")' "$1"; }
alive() {
  CHECKS=$((CHECKS + 1))
  kill -0 "$DAEMON_PID" 2>/dev/null || fail "cofferd died: $1"
  [ "$(jqr .sealed "$M/sys/seal-status")" != "" ] || fail "the mount stopped answering: $1"
}

start_cofferd "$M" --storage "$DB" --init --allow-other
deep 15000 > "$WORK/deep.json"
deep 100000 > "$WORK/deeper.json"

# --- no token, uninitialised and then sealed store ------------------------------
for f in sys/init sys/unseal; do
  expect_err "Invalid argument" "deep JSON to $f, anonymous" as_nobody bash -c "cat '$WORK/deep.json' > '$M/$f'"
  expect_err "Invalid argument" "100,000 levels on the command line to $f" \
    as_nobody bash -c "echo \"\$(cat '$WORK/deeper.json')\" > '$M/$f'"
  alive "deep JSON to $f"
done
grep -q "nested too deep" "$WORK/cofferd.log" || fail "the log gives the reason"
expect_eq "$(jqr .initialized "$M/sys/init")" "false" "a refused sys/init changed nothing"

init_store "$M"
jqr '.keys[0]' "$WORK/init.json" > "$M/sys/unseal"
ROOT=$(jqr .root_token "$WORK/init.json")
echo "$ROOT" > "$M/auth/token/session"
echo 'type=kv-v2' > "$M/sys/mounts/secret"
echo 'type=userpass' > "$M/sys/auth/userpass"
echo 'password=bob-pass-1' > "$M/auth/userpass/users/bob"

expect_err "Invalid argument" "deep JSON to a login file, anonymous" \
  as_nobody bash -c "cat '$WORK/deep.json' > '$M/auth/userpass/login/bob'"
alive "deep JSON to a login file"

# Just under the bound is fine, one level over is not (the body object is
# the first level).
deep 63 > "$WORK/63.json"
deep 64 > "$WORK/64.json"
expect_ok "63 nested arrays in a secret" bash -c "cat '$WORK/63.json' > '$M/secret/shallow'"
expect_err "Invalid argument" "64 nested arrays in a secret" bash -c "cat '$WORK/64.json' > '$M/secret/deep'"
expect_err "No such file" "a refused deep secret was not written" cat "$M/secret/deep"
# Within the depth bound but wide down there: 200,000 leaves 60 levels deep
# are a 400 KB body and 25 MB as a file, which every cat would render.
python3 -c 'import sys; sys.stdout.write("{\"k\":" + "[" * 60 + ",".join(["1"] * 200000) + "]" * 60 + "}\n")' \
  > "$WORK/wide.json"
echo 'a=before' > "$M/secret/wide"
expect_err "File too large" "a secret of 25 MB as a file" bash -c "cat '$WORK/wide.json' > '$M/secret/wide'"
expect_eq "$(cat "$M/secret/wide#a")" "before" "the refused write changed nothing"
grep -q "over the limit of 8 MiB" "$WORK/cofferd.log" || fail "the log gives the reason for EFBIG"
echo type=kv > "$M/sys/mounts/kv1"
expect_err "File too large" "the same in a KV v1 mount" bash -c "cat '$WORK/wide.json' > '$M/kv1/wide'"
expect_err "No such file" "and nothing was written there" cat "$M/kv1/wide"
rm "$M/sys/mounts/kv1"  # the checks below count what is at the top

# --- numbers past 64 bits are bad requests, not internal errors -----------------
echo 'a=1' > "$M/secret/s"
expect_err "Invalid argument" "a version past 64 bits" cat "$M/secret/s@99999999999999999999"
expect_err "Invalid argument" "versions= past 64 bits" bash -c "echo versions=99999999999999999999 > '$M/secret/s@delete'"
expect_err "Invalid argument" "a JSON version past 64 bits" bash -c "echo '{\"versions\":[18446744073709551615]}' > '$M/secret/s@destroy'"
expect_err "Invalid argument" "max_versions past 64 bits" bash -c "echo '{\"max_versions\":1e300}' > '$M/secret/s@metadata'"
expect_err "Invalid argument" "rm of a version past 64 bits" rm "$M/secret/s@99999999999999999999"

# --- invalid UTF-8 in bodies and names ------------------------------------------
expect_err "Invalid argument" "key=value body with invalid UTF-8" bash -c "printf 'a=\\xff\\xfe\\n' > '$M/secret/s'"
expect_err "Invalid argument" "JSON body with invalid UTF-8" bash -c "printf '{\"a\":\"\\xc3\\x28\"}\\n' > '$M/secret/s'"
expect_err "Invalid argument" "a secret named in invalid UTF-8" bash -c "echo a=1 > '$M/secret/'\$'\\xff'"
expect_err "Invalid argument" "a namespace named in invalid UTF-8" mkdir "$M/"$'\xff'
expect_err "Invalid argument" "a namespace named with *" mkdir "$M/a*b"
expect_err "Invalid argument" "a namespace named with %2F" mkdir "$M/a%2Fb"
expect_err "Invalid argument" "a mount named in invalid UTF-8" bash -c "echo type=kv > '$M/sys/mounts/'\$'\\xc0\\xaf'"
expect_err "Invalid argument" "a mount named with *" bash -c "echo type=kv > '$M/sys/mounts/m*'"
expect_err "Invalid argument" "a mount named with %2F" bash -c "echo type=kv > '$M/sys/mounts/a%2Fb'"
expect_err "Invalid argument" "an auth method named with %2F" bash -c "echo type=userpass > '$M/sys/auth/u%2Fp'"
expect_err "Invalid argument" "a policy named with *" bash -c "echo 'path \"x\" { capabilities = [\"read\"] }' > '$M/sys/policies/acl/p*'"
expect_err "Invalid argument" "a policy named with %2F" bash -c "echo 'path \"x\" { capabilities = [\"read\"] }' > '$M/sys/policies/acl/p%2Fq'"
expect_err "Invalid argument" "a policy named in invalid UTF-8" bash -c "echo 'path \"x\" { capabilities = [\"read\"] }' > '$M/sys/policies/acl/'\$'\\xff'"
expect_err "Invalid argument" "a user named in invalid UTF-8" bash -c "echo password=x > '$M/auth/userpass/users/'\$'\\xff'"

# Nothing was made, and everything still lists and reads.
expect_eq "$(cat "$M/secret/s#a")" "1" "the secret is unchanged"
expect_eq "$(ls "$M" | grep -c -v -E '^(auth|identity|secret|sys)$' || true)" "0" "no namespace was made"
expect_eq "$(ls "$M/sys/policies/acl" | sort | tr '\n' ' ')" "default root " "no policy was made"
expect_ok "the mount table lists" ls "$M/sys/mounts"
alive "after every bad name"
! grep -q "unexpected exception" "$WORK/cofferd.log" || fail "an input error surfaced as an internal error"
stop_cofferd "$M"
pass
