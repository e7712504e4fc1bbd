#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Sets everything up and runs cofferd on an in-memory dev store with the
# example scenario loaded: installs packages, builds, mounts at MOUNT
# (default /run/coffer), loads examples/dev-data.sh, and serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
MOUNT=${1:-/run/coffer}

bash scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build/release cofferd

mkdir -p "$MOUNT"
mountpoint -q "$MOUNT" && { echo "dev: $MOUNT is already mounted" >&2; exit 1; }
build/release/mountd/cofferd --dev --dev-root-token-id root --allow-other "$MOUNT" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID' INT TERM EXIT
for _ in $(seq 100); do mountpoint -q "$MOUNT" && break; sleep 0.05; done
mountpoint -q "$MOUNT" || { echo "dev: cofferd did not mount $MOUNT" >&2; exit 1; }
bash examples/dev-data.sh "$MOUNT"

cat <<MSG

Coffer dev store mounted at $MOUNT (in memory; root token: root). Try:
  ls $MOUNT/education
  cat $MOUNT/education/training/team-secrets/app/db
  cat $MOUNT/education/training/team-secrets/app/db#password
  echo 'api_key=xyz' > $MOUNT/secret/demo/api
Ctrl-C unmounts and stops.
MSG
wait $PID
