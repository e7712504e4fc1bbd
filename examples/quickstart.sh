#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# A short tour of Coffer: namespaces, secrets engines and KV secrets, all with
# ordinary shell commands on a mounted tree. Run it as root:
#
#   COFFERD=build/release/mountd/cofferd examples/quickstart.sh
#
# It starts its own dev daemon (in memory, root token "root") on a temporary
# mountpoint, or uses an existing mount given as MOUNT=/path. Every step
# checks its outcome, so CTest runs this file as a test.
set -euo pipefail

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
check() { [ "$1" == "$2" ] || { echo "quickstart: expected [$2], got [$1]" >&2; exit 1; }; }

if [ -z "${MOUNT:-}" ]; then
  [ -c /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
  COFFERD=${COFFERD:-$(dirname "$0")/../build/release/mountd/cofferd}
  TMP=$(mktemp -d)
  MOUNT=$TMP/mnt
  mkdir "$MOUNT"
  "$COFFERD" --dev "$MOUNT" >"$TMP/cofferd.log" 2>&1 &
  PID=$!
  trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
  for _ in $(seq 100); do mountpoint -q "$MOUNT" && break; sleep 0.05; done
fi
cd "$MOUNT"

step "The mount root is the root namespace: its sys/, auth/, identity/ and a kv-v2 engine at secret/"
ls

step "Namespaces are directories: mkdir makes one, to any depth"
mkdir -p education/training
ls education
cat education/sys/namespaces/training          # its record: id, path, custom_metadata
check "$(cat education/sys/namespaces/training#path)" "education/training/"

step "Each namespace mounts its own secrets engines: write the config into sys/mounts"
echo 'type=kv-v2' > education/training/sys/mounts/team-secrets
ls education/training
cat education/training/sys/mounts/team-secrets#type; echo

step "A secret is a file. Write JSON or key=value pairs; read pretty JSON back"
mkdir -p education/training/team-secrets/app      # folders come from mkdir, or from secrets below them
echo 'username=trainer password=correct-horse' > education/training/team-secrets/app/db
cat education/training/team-secrets/app/db

step "NAME#KEY is one field, raw — what a config file points at"
check "$(cat education/training/team-secrets/app/db#password)" "correct-horse"
echo "password is: $(cat education/training/team-secrets/app/db#password)"

step "Every write is a new version; >> patches; @N reads an old one"
echo '{"password":"battery-staple"}' >> education/training/team-secrets/app/db
check "$(cat education/training/team-secrets/app/db#password)" "battery-staple"
check "$(cat education/training/team-secrets/app/db@1#password)" "correct-horse"
cat education/training/team-secrets/app/db@metadata

step "rm soft-deletes the latest version; @undelete brings it back"
rm education/training/team-secrets/app/db
if cat education/training/team-secrets/app/db 2>/dev/null; then echo "should be deleted" >&2; exit 1; fi
echo 'versions=2' > education/training/team-secrets/app/db@undelete
check "$(cat education/training/team-secrets/app/db#username)" "trainer"

step "Errors come back as errno: a bad body is 'Invalid argument' and changes nothing"
if echo '{"password":' > education/training/team-secrets/app/db 2>/dev/null; then
  echo "a broken body was accepted" >&2; exit 1
fi
check "$(cat education/training/team-secrets/app/db@metadata | grep -c '"current_version": 2')" "1"

step "Replies (created ids, init shares, login tokens) are read from the same open file"
exec 3<>education/training/team-secrets/app/api
echo 'key=abc123' >&3
cat <&3
exec 3>&-

echo
echo "Tour complete."
