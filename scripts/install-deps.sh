#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Installs what Coffer needs to build, test and run, from Debian 12 packages.
# Idempotent: does nothing when everything is there already. Needs root.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libfuse3-dev fuse3 libsqlite3-dev libsodium-dev libcereal-dev nlohmann-json3-dev
  libgfshare-dev catch2 libldap-dev libicu-dev
  sqlite3 jq util-linux procps iproute2 python3 inotify-tools
  slapd ldap-utils openssl
  libpq-dev postgresql-15
  openssh-client vim-tiny
  nginx-light curl
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
