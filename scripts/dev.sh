#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Sets everything up and runs cofferd on an in-memory dev store with the
# example scenario loaded: installs packages, builds, starts the tutorial's
# test directory (a throwaway slapd on loopback, examples/delegated-admin/
# directory.ldif), mounts at MOUNT (default /run/coffer), loads
# examples/dev-data.sh, and serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
MOUNT=${1:-/run/coffer}

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build/release cofferd

mkdir -p "$MOUNT"
mountpoint -q "$MOUNT" && { echo "dev: $MOUNT is already mounted" >&2; exit 1; }
# The people: the tutorial's directory, for LDAP logins.
source tests/ldap/slapd.sh
LDAP_DIR=$(mktemp -d /tmp/coffer-dev-ldap.XXXXXX)
ldap_start "$LDAP_DIR/d" examples/delegated-admin/directory.ldif
build/release/mountd/cofferd --dev --dev-root-token-id root --allow-other "$MOUNT" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID; ldap_stop "$LDAP_DIR/d"; rm -rf "$LDAP_DIR"' INT TERM EXIT
for _ in $(seq 100); do mountpoint -q "$MOUNT" && break; sleep 0.05; done
mountpoint -q "$MOUNT" || { echo "dev: cofferd did not mount $MOUNT" >&2; exit 1; }
bash examples/dev-data.sh "$MOUNT"

cat <<MSG

Coffer dev store mounted at $MOUNT (in memory; root token: root). Try:
  ls $MOUNT/education
  cat $MOUNT/education/training/team-secrets/app/db
  cat $MOUNT/education/training/team-secrets/app/db#password
  echo 'api_key=xyz' > $MOUNT/secret/demo/api
People log in with LDAP (test directory at $LDAP_URL): alice is the training admin,
bob the education admin, carol nobody yet (passwords alice-ldap-pw, bob-ldap-pw, carol-ldap-pw):
  runuser -u nobody -- bash -c 'exec 3<>$MOUNT/auth/ldap/login/alice; echo password=alice-ldap-pw >&3; cat <&3'
  runuser -u nobody -- cat $MOUNT/auth/token/lookup-self   # nobody's session is now alice's
Ctrl-C unmounts and stops.
MSG
wait $PID
