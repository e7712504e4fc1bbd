# SPDX-License-Identifier: MPL-2.0
# shellcheck shell=bash
# A throwaway PostgreSQL 15 server for tests and benchmarks. Source this file
# from bash; it only defines functions:
#
#   pg_start DIR      make DIR, initdb a cluster in DIR/data (owned by the
#                     user `postgres`, as PostgreSQL refuses to run as root;
#                     trust authentication, loopback only), start it on a
#                     free loopback port and wait until it answers. Exports
#                     PG_URL (postgresql://postgres@127.0.0.1:PORT/postgres),
#                     PG_PORT, PG_DATA and PG_PID.
#   pg_stop DIR       fast shutdown (SIGKILL after 10 s); idempotent. The
#                     caller's EXIT trap must call it.
#   pg_kill DIR       SIGKILL the postmaster (a crash); pg_restart DIR starts
#                     the same cluster again on the same port.
#   pg_psql DIR ...   psql against it, as postgres, quiet, stopping on error.
#   pg_standby PRIMARY DIR
#                     a streaming standby of PRIMARY's cluster in DIR/data
#                     (pg_basebackup -R as postgres, application_name
#                     `standby`), started on another free loopback port; same
#                     exports as pg_start. pg_stop DIR stops it.
#   pg_promote DIR    promote the standby in DIR, wait until it takes writes.
#
# DIR's parents must be searchable by postgres (o+x). Nothing outside DIR is written; the system's clusters are never touched.
# Needs Debian 12's postgresql-15 (the binaries in /usr/lib/postgresql/15/bin).
# Works under set -euo pipefail.

PG__BIN=/usr/lib/postgresql/15/bin

pg__fail() {
  echo "postgres harness: $*" >&2
  return 1
}

# pg__as_owner CMD... : run as the cluster's owner (postgres when we are root).
pg__as_owner() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

pg__port() {
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
  done
  pg__fail "no free port found"
}

pg__env() {
  local d=$1
  [ -f "$d/env" ] || return 1
  # shellcheck disable=SC1091
  source "$d/env"
  export PG_URL PG_PORT PG_DATA PG_PID
}

# pg__launch DIR : start the cluster in DIR/data on $PG_PORT, wait for it.
pg__launch() {
  local d=$1
  pg__as_owner "$PG__BIN/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 30 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$d/sock" start >/dev/null \
    || { tail -n 20 "$d/server.log" >&2; pg__fail "the server did not start"; return 1; }
  PG_PID=$(head -n 1 "$d/data/postmaster.pid")
  printf 'PG_URL=%q\nPG_PORT=%q\nPG_DATA=%q\nPG_PID=%q\n' "$PG_URL" "$PG_PORT" "$d/data" "$PG_PID" >"$d/env"
  pg__env "$d"
}

pg_start() {
  [ $# = 1 ] || { pg__fail "usage: pg_start DIR"; return 1; }
  [ -x "$PG__BIN/initdb" ] || { pg__fail "no $PG__BIN/initdb (Debian package postgresql-15)"; return 1; }
  local d=$1
  mkdir -p "$d/sock"
  d=$(cd "$d" && pwd)
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$d"
  pg__as_owner test -w "$d" || { pg__fail "the user postgres cannot reach $d (make its parents o+x)"; return 1; }
  pg__as_owner "$PG__BIN/initdb" -D "$d/data" -U postgres --auth=trust --no-sync -E UTF8 >"$d/initdb.log" 2>&1 \
    || { cat "$d/initdb.log" >&2; pg__fail "initdb failed"; return 1; }
  pg__launch_free "$d"
}

# pg__launch_free DIR : starts the server of DIR on a free loopback port
# (three tries: another process may take the port first); sets PG_PORT and
# PG_URL.
pg__launch_free() {
  local d=$1 port tries
  for tries in 1 2 3; do
    port=$(pg__port) || return 1
    PG_PORT=$port
    PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    if pg__launch "$d" 2>"$d/start.err"; then return 0; fi
    [ "$tries" = 3 ] && { cat "$d/start.err" >&2; return 1; }
  done
}

pg_stop() {
  [ $# = 1 ] || { pg__fail "usage: pg_stop DIR"; return 1; }
  local d=$1 PG_URL PG_PORT PG_DATA PG_PID
  pg__env "$d" 2>/dev/null || return 0
  if [ -f "$PG_DATA/postmaster.pid" ]; then
    pg__as_owner "$PG__BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 10 stop >/dev/null 2>&1 \
      || kill -KILL "$PG_PID" 2>/dev/null || true
  fi
  return 0
}

pg_kill() {
  local d=$1 PG_URL PG_PORT PG_DATA PG_PID
  pg__env "$d" || return 1
  kill -KILL "$PG_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$PG_PID" 2>/dev/null || break
    sleep 0.05
  done
  # Its backends follow once they notice; the port is free when it is gone.
  for _ in $(seq 1 100); do
    ss -Hltn "sport = :$PG_PORT" 2>/dev/null | grep -q . || break
    sleep 0.05
  done
}

pg_restart() {
  local d=$1 PG_URL PG_PORT PG_DATA PG_PID
  pg__env "$d" || return 1
  pg__launch "$(cd "$d" && pwd)"
}

pg_psql() {
  local d=$1 PG_URL PG_PORT PG_DATA PG_PID
  shift
  pg__env "$d" || return 1
  psql "$PG_URL" -X -q -v ON_ERROR_STOP=1 "$@"
}

pg_standby() {
  [ $# = 2 ] || { pg__fail "usage: pg_standby PRIMARY DIR"; return 1; }
  local primary=$1 d=$2 from_port
  from_port=$(pg__env "$primary" && echo "$PG_PORT") || { pg__fail "no server in $primary"; return 1; }
  mkdir -p "$d/sock"
  d=$(cd "$d" && pwd)
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$d"
  pg__as_owner "$PG__BIN/pg_basebackup" -d "host=127.0.0.1 port=$from_port user=postgres application_name=standby" \
    -D "$d/data" -R -X stream --no-sync >"$d/basebackup.log" 2>&1 \
    || { cat "$d/basebackup.log" >&2; pg__fail "pg_basebackup failed"; return 1; }
  # Port, address and socket directory are launch options (pg__launch), not in the copied config.
  pg__launch_free "$d"
}

pg_promote() {
  local d=$1 PG_URL PG_PORT PG_DATA PG_PID
  pg__env "$d" || return 1
  pg__as_owner "$PG__BIN/pg_ctl" -D "$PG_DATA" -w -t 30 promote >/dev/null
}
