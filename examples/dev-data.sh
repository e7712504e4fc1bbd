#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Loads the example scenario into a mounted dev store: an `education`
# organisation with `training` and `certification` teams, each with its own
# kv-v2 engine and a few secrets. With a test directory running (LDAP_URL and
# LDAP_CA set by tests/ldap/slapd.sh's ldap_start on
# examples/delegated-admin/directory.ldif), also the tutorial's people: ldap
# in the root namespace, the external groups education_admin_root and
# training_admin_root fed by the directory's edu_admins and ops_training, and
# the internal groups Education Admin and Training Admin that hold them.
# Usage: examples/dev-data.sh MOUNT
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

[ -n "${LDAP_URL:-}" ] || exit 0
printf 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n' \
  > "$M/education/sys/policies/acl/edu-admin"
printf 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n' \
  > "$M/education/training/sys/policies/acl/training-admin"
echo 'type=ldap description=company-directory' > "$M/sys/auth/ldap"
jq -nc --arg url "$LDAP_URL" --rawfile ca "$LDAP_CA" '{
    url: $url, starttls: true, certificate: $ca,
    binddn: "cn=coffer,ou=services,dc=example,dc=org", bindpass: "coffer-search-pw",
    userdn: "ou=people,dc=example,dc=org", userattr: "uid",
    groupdn: "ou=groups,dc=example,dc=org", groupfilter: "(member={{.UserDN}})"
  }' > "$M/auth/ldap/config"
ACCESSOR=$(cat "$M/sys/auth/ldap#accessor")
for pair in education_admin_root:edu_admins training_admin_root:ops_training; do
  group=${pair%%:*} directory_group=${pair#*:}
  echo 'type=external' > "$M/identity/group/name/$group"
  echo "name=$directory_group mount_accessor=$ACCESSOR canonical_id=$(cat "$M/identity/group/name/$group#id")" \
    > "$M/identity/group-alias@data"
done
echo "policies=edu-admin member_group_ids=$(cat "$M/identity/group/name/education_admin_root#id")" \
  > "$M/education/identity/group/name/Education Admin"
echo "policies=training-admin member_group_ids=$(cat "$M/identity/group/name/training_admin_root#id")" \
  > "$M/education/training/identity/group/name/Training Admin"
