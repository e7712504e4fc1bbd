#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# A fleet through a database failover: a PostgreSQL 15 primary with a
# synchronous streaming standby (tests/pg/postgres.sh), two cofferd whose
# URL names both servers with target_session_attrs=read-write (host A with
# --storage, host B with a storage "postgresql" block). A writer
# streams numbered KV secrets through host A and records each write that was
# acknowledged; the primary's postmaster is killed with SIGKILL, the standby
# promoted. During the outage writes fail with EIO within a bound (none
# hangs) and both hosts fail closed; after the promotion both hosts follow
# the new primary by themselves (no restart) within RECOVERY_BOUND seconds;
# every acknowledged write is then readable on A and B with its exact value,
# a write on B is seen on A, and both logs say "store not current" and then
# "store current again". The measured recovery times are printed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../pg/postgres.sh"

command -v jq >/dev/null || fail "jq is missing"
[ -x /usr/lib/postgresql/15/bin/pg_basebackup ] || { echo "SKIP: no PostgreSQL 15 (package postgresql-15)"; exit 77; }

RECOVERY_BOUND=30   # seconds from the promotion until both hosts serve again
WRITE_BOUND=20      # no single write may take longer, outage or not

PIDS=()
WRITER=""
PRIMARY_KILLED=0
failover_cleanup() {
  local p mp
  [ -z "$WRITER" ] || kill -KILL "$WRITER" 2>/dev/null || true
  for mp in "${MOUNTS[@]}"; do fusermount3 -u "$mp" 2>/dev/null || fusermount3 -uz "$mp" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  pg_stop "$WORK/standby" >/dev/null 2>&1 || true
  # Once killed, its stale pid file must not make pg_stop signal a reused pid.
  [ "$PRIMARY_KILLED" = 1 ] || pg_stop "$WORK/primary" >/dev/null 2>&1 || true
  cleanup
}
trap failover_cleanup EXIT

A=$WORK/a
B=$WORK/b
LOG_A=$WORK/a.log
LOG_B=$WORK/b.log

fail_logs() {
  local f
  for f in "$LOG_A" "$LOG_B" "$WORK/primary/server.log" "$WORK/standby/server.log"; do
    [ -f "$f" ] || continue
    echo "--- $f (last 15 lines) ---" >&2
    tail -n 15 "$f" >&2
  done
  fail "$@"
}

# within SECONDS WHAT CMD... : CMD succeeds within SECONDS (polled every 50 ms).
within() {
  local limit=$1 what=$2 i
  shift 2
  CHECKS=$((CHECKS + 1))
  for i in $(seq 1 $((limit * 20))); do
    if "$@" >"$WORK/out" 2>"$WORK/err"; then return 0; fi
    sleep 0.05
  done
  fail_logs "$what: [$*] did not succeed within ${limit}s: $(cat "$WORK/err")"
}

# --- the database: a primary and a synchronous streaming standby ----------------
pg_start "$WORK/primary" >/dev/null
P1=$PG_PORT
PRIMARY_PID=$PG_PID
pg_standby "$WORK/primary" "$WORK/standby" >/dev/null
P2=$PG_PORT
# Set after the base backup, so the standby, once promoted, waits for no one.
pg_psql "$WORK/primary" -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'" \
  -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
sync_standby() {
  [ "$(pg_psql "$WORK/primary" -At -c \
    "SELECT state || '/' || sync_state FROM pg_stat_replication WHERE application_name = 'standby'")" = streaming/sync ]
}
within 30 "the standby streams as the synchronous one" sync_standby
expect_eq "$(pg_psql "$WORK/standby" -At -c 'SELECT pg_is_in_recovery()')" "t" "the standby is in recovery"

URL="postgresql://postgres@127.0.0.1:$P1,127.0.0.1:$P2/postgres?target_session_attrs=read-write&connect_timeout=5&application_name=cofferd-failover"

# start_host MOUNT LOG ARGS... : a cofferd on the shared store (ARGS name it
# and MOUNT); pid in HOST_PID.
start_host() {
  local mp=$1 log=$2
  shift 2
  mkdir -p "$mp"
  "$COFFERD" "$@" >>"$log" 2>&1 &
  HOST_PID=$!
  PIDS+=("$HOST_PID")
  DAEMON_PID=$HOST_PID
  wait_mounted "$mp"
  DAEMON_PID=""
}

# Host A names the store on the command line, host B in a config file.
start_host "$A" "$LOG_A" --storage "$URL" --allow-other --init "$A"
cat > "$WORK/b.hcl" <<EOF
storage "postgresql" {
  connection_url = "$URL"
}
mount "$B" {
  allow_other = true
}
EOF
init_store "$A"
ROOT=$(jqr .root_token "$WORK/init.json")
KEY=$(jqr '.keys[0]' "$WORK/init.json")
echo "$KEY" > "$A/sys/unseal"
start_host "$B" "$LOG_B" -f --config "$WORK/b.hcl"
echo "$KEY" > "$B/sys/unseal"
expect_eq "$(jqr .sealed "$B/sys/seal-status")" "false" "host B unsealed"

# put FILE TEXT : write TEXT to FILE with the root token (cofferd reads the
# caller's environment, so a child writes), never for longer than WRITE_BOUND.
put() { VAULT_TOKEN=$ROOT timeout "$WRITE_BOUND" bash -c 'printf "%s\n" "$2" > "$1"' _ "$1" "$2"; }
# get FILE : read FILE as root's token, bounded like put.
get() { VAULT_TOKEN=$ROOT timeout "$WRITE_BOUND" cat "$1"; }

put "$A/sys/mounts/kv" 'type=kv-v2'
put "$A/kv/before" 'v=written-before-the-failover'
within 5 "a secret written on A, read on B" bash -c '[ "$(VAULT_TOKEN=$1 cat "$2")" = written-before-the-failover ]' _ "$ROOT" "$B/kv/before#v"

# --- the writer: numbered secrets through A, each acknowledged one recorded ------
# One line per attempt: "ok I SECONDS END" or "err I SECONDS END MESSAGE"
# (SECONDS: how long the write took; END: when it returned, epoch seconds). It runs until $WORK/stop exists.
: > "$WORK/attempts"
(
  i=0
  while [ ! -e "$WORK/stop" ]; do
    i=$((i + 1))
    t0=$(date +%s.%N)
    if out=$(VAULT_TOKEN=$ROOT timeout "$WRITE_BOUND" bash -c 'printf "v=failover-%s-value\n" "$2" > "$1"' _ "$A/kv/s-$i" "$i" 2>&1); then
      t1=$(date +%s.%N)
      echo "ok $i $(awk -v a="$t1" -v b="$t0" "BEGIN { printf \"%.3f\", a - b }") $t1" >> "$WORK/attempts"
    else
      t1=$(date +%s.%N)
      echo "err $i $(awk -v a="$t1" -v b="$t0" "BEGIN { printf \"%.3f\", a - b }") $t1 ${out##*: }" >> "$WORK/attempts"
      sleep 0.1
    fi
  done
) &
WRITER=$!
acked() { grep -c '^ok ' "$WORK/attempts" || true; }
enough_acked() { [ "$(acked)" -ge 30 ]; }
within 30 "30 writes acknowledged before the failover" enough_acked

# --- the primary killed -------------------------------------------------------------
ACKED_BEFORE=$(acked)
ATTEMPTS_BEFORE=$(wc -l < "$WORK/attempts")
T_KILL=$(date +%s.%N)
PRIMARY_KILLED=1
pg_kill "$WORK/primary"   # SIGKILL to the postmaster (postmaster.pid); waits until it and its port are gone
kill -0 "$PRIMARY_PID" 2>/dev/null && fail "the primary's postmaster $PRIMARY_PID survived SIGKILL"
# Writes fail, with EIO, and none hangs: a failed attempt after the kill.
failed_since_kill() { tail -n +$((ATTEMPTS_BEFORE + 1)) "$WORK/attempts" | grep -q '^err '; }
within 15 "writes fail once the primary is dead" failed_since_kill
expect_err "Input/output error" "a write with the primary dead" put "$A/kv/during" 'v=during-the-outage'
eio_on() { ! get "$1/kv/before#v" >/dev/null 2>"$WORK/eio" && grep -q "Input/output error" "$WORK/eio"; }
within 10 "host B fails closed with no primary" eio_on "$B"
within 10 "host A fails closed with no primary" eio_on "$A"
within 10 "host A says in its log that it is not current" grep -q "store not current" "$LOG_A"
within 10 "host B says in its log that it is not current" grep -q "store not current" "$LOG_B"
sleep 2   # a few more failed attempts while there is no primary

# --- the standby promoted -------------------------------------------------------------
ACKED_AT_PROMOTE=$(acked)
pg_promote "$WORK/standby"
T_PROMOTE=$(date +%s.%N)
expect_eq "$(pg_psql "$WORK/standby" -At -c 'SELECT pg_is_in_recovery()')" "f" "the standby was promoted"
# Both hosts follow by themselves: reads on B and A, then a write on A.
reads_on() { [ "$(get "$1/kv/before#v")" = written-before-the-failover ]; }
within "$RECOVERY_BOUND" "host B reads again after the promotion (no restart)" reads_on "$B"
T_B=$(date +%s.%N)
within "$RECOVERY_BOUND" "host A reads again after the promotion (no restart)" reads_on "$A"
T_A=$(date +%s.%N)
writes_again() { [ "$(acked)" -gt "$ACKED_AT_PROMOTE" ]; }
within "$RECOVERY_BOUND" "the writer's writes through A are acknowledged again after the promotion" writes_again
sleep 1   # a few more acknowledged writes on the new primary
touch "$WORK/stop"
timeout $((WRITE_BOUND + 5)) tail --pid="$WRITER" -f /dev/null || fail "the writer did not stop"
wait "$WRITER" 2>/dev/null || true
WRITER=""

# --- what the attempts say --------------------------------------------------------------
ACKED=$(acked)
# When the writer's first write after the promotion returned success.
T_W=$(awk -v p="$T_PROMOTE" '$1 == "ok" && $4 > p { print $4; exit }' "$WORK/attempts")
[ -n "$T_W" ] || fail "no write acknowledged after the promotion"
FAILED=$(grep -c '^err ' "$WORK/attempts" || true)
SLOWEST=$(awk 'BEGIN { m = 0 } $3 > m { m = $3 } END { printf "%.2f", m }' "$WORK/attempts")
CHECKS=$((CHECKS + 1))
[ "$FAILED" -gt 0 ] || fail "no write failed during the outage"
CHECKS=$((CHECKS + 1))
head -n "$ATTEMPTS_BEFORE" "$WORK/attempts" | grep -q '^err ' && fail "a write failed before the primary was killed"
CHECKS=$((CHECKS + 1))
# Every failed attempt said EIO (a bounded write killed by timeout would say nothing).
bad=$(awk '$1 == "err" && $0 !~ /Input\/output error/' "$WORK/attempts" | head -n 3)
[ -z "$bad" ] || fail "failed writes that were not EIO: $bad"
CHECKS=$((CHECKS + 1))
awk -v b="$WRITE_BOUND" '$3 >= b - 1 { exit 1 }' "$WORK/attempts" || fail "a write took about the ${WRITE_BOUND}s bound (hung)"
CHECKS=$((CHECKS + 1))
[ "$ACKED" -gt "$ACKED_AT_PROMOTE" ] || fail "no write acknowledged after the promotion"

# --- no acknowledged write lost, on either host -----------------------------------------
# lost MOUNT : the acknowledged writes MOUNT does not serve with their exact value.
lost() {
  VAULT_TOKEN=$ROOT bash -c '
    n=0
    while read -r s i _; do
      [ "$s" = ok ] || continue
      v=$(timeout 10 cat "$1/kv/s-$i#v" 2>/dev/null) || v=""
      [ "$v" = "failover-$i-value" ] || { n=$((n + 1)); echo "s-$i: [$v]" >&2; }
    done < "$2"
    echo "$n"' _ "$1" "$WORK/attempts" 2>>"$WORK/lost.txt"
}
expect_eq "$(lost "$B")" "0" "acknowledged writes lost on B ($ACKED acknowledged; see lost.txt)"
expect_eq "$(lost "$A")" "0" "acknowledged writes lost on A ($ACKED acknowledged)"

# --- the fleet goes on, on the new primary ---------------------------------------------
expect_ok "a write on B after the failover" put "$B/kv/from-b" 'v=written-on-b-after-the-failover'
within 5 "B's write on A" bash -c '[ "$(VAULT_TOKEN=$1 cat "$2")" = written-on-b-after-the-failover ]' _ "$ROOT" "$A/kv/from-b#v"
# Each host holds at least its change feed's connection there (LISTEN).
expect_eq "$(pg_psql "$WORK/standby" -At -c "SELECT count(*) >= 2 FROM pg_stat_activity WHERE application_name = 'cofferd-failover'")" "t" \
  "the hosts are connected to the promoted standby"
within 5 "host A says in its log that it is current again" grep -q "store current again" "$LOG_A"
within 5 "host B says in its log that it is current again" grep -q "store current again" "$LOG_B"
# Not current, then current again: in this order, in both logs.
for log in "$LOG_A" "$LOG_B"; do
  CHECKS=$((CHECKS + 1))
  awk '/store not current/ && !s { s = NR } /store current again/ && s { ok = 1 } END { exit !ok }' "$log" ||
    fail_logs "$log does not say not current, then current again"
done
# Both hosts are the same daemons that started (none restarted).
for p in "${PIDS[@]}"; do
  CHECKS=$((CHECKS + 1))
  kill -0 "$p" 2>/dev/null || fail "cofferd $p exited"
done

printf 'failover: %d writes acknowledged (%d before the kill), %d failed with EIO (slowest attempt %ss); after the promotion B read again in %.1fs, A in %.1fs, the writer through A wrote again in %.1fs (bound %ss); kill to the first write again %.1fs (with the waits of the test in the outage)\n' \
  "$ACKED" "$ACKED_BEFORE" "$FAILED" "$SLOWEST" \
  "$(echo "$T_B - $T_PROMOTE" | bc)" "$(echo "$T_A - $T_PROMOTE" | bc)" "$(echo "$T_W - $T_PROMOTE" | bc)" \
  "$RECOVERY_BOUND" "$(echo "$T_W - $T_KILL" | bc)"

for p in "${PIDS[@]}"; do
  kill -TERM "$p"
  wait "$p" || fail "cofferd $p did not exit cleanly"
done
PIDS=()
pass
