#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Bad input through the shell: each gets its errno (the one table in
# fs/errno_map.cpp) and changes nothing.
source "$(dirname "$0")/lib.sh"

M=$WORK/mnt
start_cofferd "$M" --dev
echo 'a=1' > "$M/secret/s"

expect_err "Invalid argument" "malformed JSON" bash -c "echo '{\"a\":' > '$M/secret/s'"
expect_err "Invalid argument" "JSON that is not an object" bash -c "echo '[1]' > '$M/secret/s'"
expect_err "Invalid argument" "not key=value" bash -c "echo 'garbage' > '$M/secret/s'"
expect_err "Invalid argument" "unknown field" bash -c "echo '{\"max_versions\":1,\"colour\":\"red\"}' > '$M/secret/s@metadata'"
expect_err "Invalid argument" "unknown mount option" bash -c "echo 'type=kv bogus=1' > '$M/sys/mounts/z'"
expect_err "File too large" "body over 1 MiB" bash -c "head -c 1100000 /dev/zero | tr '\\0' a | sed 's/^/k=/' > '$M/secret/s'"
expect_err "File name too long" "name over 255 bytes" bash -c "echo a=1 > '$M/secret/$(printf 'n%.0s' $(seq 1 256))'"
expect_err "Is a directory" "write to a directory" bash -c "echo a=1 > '$M/secret'"
expect_err "No such file" "rm of a missing secret" rm "$M/secret/missing"
expect_err "No such file" "patch of a missing secret" bash -c "echo a=1 >> '$M/secret/s2'"
expect_err "No such file" "read of a missing version" cat "$M/secret/s@7"
expect_err "File exists" "mkdir of an existing namespace" bash -c "mkdir '$M/ns1' && mkdir '$M/ns1'"
expect_err "Invalid argument" "reserved namespace name" mkdir "$M/ns1/cubbyhole"
expect_err "Invalid argument" "namespace named like a mount" bash -c "echo '{}' > '$M/sys/namespaces/secret'"
expect_err "Device or resource busy" "cas mismatch" bash -c "echo '{\"data\":{\"a\":\"2\"},\"options\":{\"cas\":5}}' > '$M/secret/s'"
expect_err "Operation not supported" "patch on kv v1" bash -c "echo type=kv > '$M/sys/mounts/v1' && echo a=1 > '$M/v1/x' && echo b=2 >> '$M/v1/x'"
expect_err "Directory not empty" "rmdir of a namespace with children" bash -c "mkdir '$M/ns1/child' && rmdir '$M/ns1'"
expect_err "Permission denied" "nothing is executable" bash -c "cp /bin/true '$M/secret/t' 2>/dev/null; '$M/secret/s'"
expect_eq "$(cat "$M/secret/s")" "$(printf '{\n  "a": "1"\n}')" "the secret is unchanged"
expect_eq "$(jqr .current_version "$M/secret/s@metadata")" "1" "no new version was written"

# The daemon logs each error with its reason, never the secret value.
echo '{"a":"TOPSECRET-VALUE","b":' > "$M/secret/leak" 2>/dev/null || true
grep -q "malformed JSON" "$WORK/cofferd.log" || fail "errors are logged with their reason"
! grep -q "TOPSECRET" "$WORK/cofferd.log" || fail "a secret value reached the log"

# Another uid on a mount without --allow-other is refused by the kernel.
expect_err "Permission denied" "other uid without allow_other" as_nobody ls "$M/secret"
stop_cofferd "$M"
pass
