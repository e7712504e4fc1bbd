#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Loads the example scenario into a mounted dev store: an `education`
# organisation with `training` and `certification` teams, each with its own
# kv-v2 engine and a few secrets. Usage: examples/dev-data.sh MOUNT
set -euo pipefail
M=${1:?usage: dev-data.sh MOUNT}

mkdir -p "$M/education/training" "$M/education/certification"
echo '{"custom_metadata":{"owner":"org-admin"}}' >> "$M/sys/namespaces/education"
for team in training certification; do
  echo 'type=kv-v2' > "$M/education/$team/sys/mounts/team-secrets"
  mkdir -p "$M/education/$team/team-secrets/app"
  echo "username=$team-app password=$(head -c 12 /dev/urandom | base64)" > "$M/education/$team/team-secrets/app/db"
done
echo 'type=kv description="org-wide settings"' > "$M/education/sys/mounts/config"
echo 'region=eu-west-1 support=org-admin@example.com' > "$M/education/config/defaults"
mkdir -p "$M/secret/demo"
echo '{"greeting":"hello from Coffer"}' > "$M/secret/demo/hello"
