#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# cofferd migrate: a SQLite store (the example scenario of
# examples/dev-data.sh plus secrets of its own) copied into a PostgreSQL
# started here (tests/pg/postgres.sh) and back into a new SQLite file; after
# each copy a cofferd on the target, unsealed with the same shares, serves
# every secret; the count and BLAKE2b digest agree on both sides; no change
# row is copied; a non-empty target and a source a running cofferd holds are
# refused, writing nothing. MIGRATE_TIMES, if set, gets the timings.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/../pg/postgres.sh"

command -v jq >/dev/null || fail "jq is missing"
EXAMPLES=$(cd "$(dirname "$0")/../../examples" && pwd)

pg_start "$WORK/pg" >/dev/null
mig_cleanup() {
  pg_stop "$WORK/pg" >/dev/null 2>&1 || true
  cleanup
}
trap mig_cleanup EXIT

M=$WORK/m
A=$WORK/a.db
B=$WORK/b.db

# --- the source: a SQLite store with the example scenario ------------------------
start_cofferd "$M" --storage "$A" --init --disable-mlock
init_store "$M" '{"secret_shares":3,"secret_threshold":2}'
ROOT=$(jqr .root_token "$WORK/init.json")
K0=$(jqr '.keys[0]' "$WORK/init.json")
K2=$(jqr '.keys[2]' "$WORK/init.json")
echo "$K0" > "$M/sys/unseal"
echo "$K2" > "$M/sys/unseal"
# cofferd reads the caller's environment: the writes are made by children
# that have the token, not by this shell.
export VAULT_TOKEN=$ROOT
bash -c 'echo type=kv-v2 > "$1/sys/mounts/secret"' _ "$M"   # what --dev mounts by itself
bash "$EXAMPLES/dev-data.sh" "$M"
bash -c 'M=$1
  echo "pw=migrated-s3cret" > "$M/secret/demo/mine"
  mkdir "$M/education/training/team-secrets/app/many"
  for i in $(seq 1 50); do echo "n=$i" > "$M/education/training/team-secrets/app/many/s$i"; done' _ "$M"
TRAINING=$(cat "$M/education/training/team-secrets/app/db#password")
unset VAULT_TOKEN

# --- refused while a cofferd holds the source ----------------------------------
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" migrate --from "sqlite:$A" --to "$PG_URL" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] || fail "migrate of a held source: exit $rc"
grep -qF "is in use (a running cofferd holds its lock); stop that cofferd first" "$WORK/err" ||
  fail "migrate of a held source said: $(cat "$WORK/err")"
expect_eq "$(pg_psql "$WORK/pg" -tA -c "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'coffer%'")" "0" \
  "nothing made in the target when the source is held"
stop_cofferd "$M"

# --- SQLite -> PostgreSQL --------------------------------------------------------
expect_ok "migrate sqlite -> postgres" "$COFFERD" migrate --from "sqlite:$A" --to "$PG_URL"
cp "$WORK/out" "$WORK/to-pg.out"
N=$(sed -n 's/^keys: //p' "$WORK/to-pg.out")
D=$(sed -n 's/^blake2b-256: \([0-9a-f]*\) .*/\1/p' "$WORK/to-pg.out")
[ -n "$N" ] && [ "$N" -gt 60 ] && [ "${#D}" = 64 ] || fail "migrate printed: $(cat "$WORK/to-pg.out")"
T1=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$WORK/to-pg.out")
expect_eq "$(pg_psql "$WORK/pg" -tA -c 'SELECT count(*) FROM coffer_kv')" "$N" "keys in PostgreSQL"
expect_eq "$(pg_psql "$WORK/pg" -tA -c 'SELECT count(*) FROM coffer_changes')" "0" "no change rows in PostgreSQL"
# Ciphertext only, as before.
/usr/lib/postgresql/15/bin/pg_dump "$PG_URL" > "$WORK/dump.sql"
CHECKS=$((CHECKS + 1))
! grep -qF migrated-s3cret "$WORK/dump.sql" || fail "the dump holds a secret"

# A non-empty target is refused and left as it was.
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" migrate --from "sqlite:$A" --to "$PG_URL" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "is not empty; migrate only into a new or empty store (nothing was written)" "$WORK/err" ||
  fail "a second migrate into PostgreSQL: exit $rc: $(cat "$WORK/err")"
expect_eq "$(pg_psql "$WORK/pg" -tA -c 'SELECT count(*) FROM coffer_kv')" "$N" "the refused target is unchanged"

# A cofferd on PostgreSQL: the same shares, every secret.
start_cofferd "$M" --storage "$PG_URL" --disable-mlock
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "true" "the copy starts sealed"
echo "$K2" > "$M/sys/unseal"
echo "$K0" > "$M/sys/unseal"
expect_eq "$(jqr .sealed "$M/sys/seal-status")" "false" "the copy opens with the same shares"
export VAULT_TOKEN=$ROOT
expect_eq "$(cat "$M/secret/demo/mine#pw")" "migrated-s3cret" "a secret on PostgreSQL"
expect_eq "$(cat "$M/education/training/team-secrets/app/db#password")" "$TRAINING" "a scenario secret on PostgreSQL"
expect_eq "$(cat "$M/education/training/team-secrets/app/many/s50#n")" "50" "the 50th secret on PostgreSQL"
expect_eq "$(cat "$M/education/config/defaults#region")" "eu-west-1" "kv v1 on PostgreSQL"
unset VAULT_TOKEN
expect_err "Permission denied" "no token on the copy" as_nobody cat "$M/secret/demo/mine#pw"
stop_cofferd "$M"

# --- PostgreSQL -> SQLite ---------------------------------------------------------
expect_ok "migrate postgres -> sqlite" "$COFFERD" migrate --from "$PG_URL" --to "sqlite:$B"
cp "$WORK/out" "$WORK/to-sqlite.out"
expect_eq "$(sed -n 's/^keys: //p' "$WORK/to-sqlite.out")" "$N" "the count back in SQLite"
expect_eq "$(sed -n 's/^blake2b-256: \([0-9a-f]*\) .*/\1/p' "$WORK/to-sqlite.out")" "$D" "the digest back in SQLite"
T2=$(sed -n 's/.* in \([0-9.]*\) s$/\1/p' "$WORK/to-sqlite.out")
start_cofferd "$M" --storage "$B" --disable-mlock
echo "$K0" > "$M/sys/unseal"
echo "$K2" > "$M/sys/unseal"
export VAULT_TOKEN=$ROOT
expect_eq "$(cat "$M/secret/demo/mine#pw")" "migrated-s3cret" "a secret after the round trip"
expect_eq "$(cat "$M/education/training/team-secrets/app/db#password")" "$TRAINING" "a scenario secret after the round trip"
expect_eq "$(cat "$M/secret/demo/hello#greeting")" "hello from Coffer" "the demo secret after the round trip"
unset VAULT_TOKEN

# A SQLite target that is a store, and held: refused.
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" migrate --from "$PG_URL" --to "sqlite:$B" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "cannot open the target sqlite:$B" "$WORK/err" || fail "migrate into a held SQLite target: $rc $(cat "$WORK/err")"
stop_cofferd "$M"
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" migrate --from "$PG_URL" --to "sqlite:$B" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "the target sqlite:$B is not empty" "$WORK/err" || fail "migrate into a non-empty SQLite: $rc $(cat "$WORK/err")"

# Bad arguments: exit 2.
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" migrate --from "sqlite:$A" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 2 ] && grep -q "needs --from and --to" "$WORK/err" || fail "migrate without --to: $rc"
CHECKS=$((CHECKS + 1))
rc=0; "$COFFERD" migrate --from "sqlite:$A" --to "postgres://postgres:hunter2@127.0.0.1:1/x" >"$WORK/out" 2>"$WORK/err" || rc=$?
[ "$rc" = 2 ] && grep -q "carries a password" "$WORK/err" && ! grep -q hunter2 "$WORK/err" || fail "a password URL: $rc"

echo "migrate of $N keys: sqlite -> postgres ${T1}s, postgres -> sqlite ${T2}s"
[ -z "${MIGRATE_TIMES:-}" ] || echo "$N $T1 $T2" > "$MIGRATE_TIMES"
pass
