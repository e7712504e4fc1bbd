#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Crash loop: a writer streams secrets through the mount and logs each write
# only after it was acknowledged: `echo` returned success, i.e. its write(2)
# did (a whole request is applied at write(2), which returns its error, SPEC
# §2; close has nothing left to report). The daemon is kill -9'd
# mid-stream (odd rounds: from outside, at a random time; even rounds: by the
# writer, right after an acknowledgment), restarted and unsealed, ROUNDS
# times. Every acknowledged write must then be there with its exact value,
# after its own crash and after all the others. A write in flight at a kill may land or
# not, but whole: the one overwritten key holds its last acknowledged value
# or the one attempted after it, nothing else.
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || { echo "SKIP: jq missing"; exit 77; }

ROUNDS=${CRASH_ROUNDS:-6}
MIN_ACKED=20       # per round; fewer means the writer barely ran (test not meaningful)
BUDGET_S=60        # the whole test, so CI stays bounded

M=$WORK/mnt
DB=$WORK/coffer.db
umask 077
START=$SECONDS

start_cofferd "$M" --init --storage "$DB"
init_store "$M"
K1=$(jqr '.keys[0]' "$WORK/init.json")
printf '%s\n' "$(jqr .root_token "$WORK/init.json")" > "$WORK/root.token"
stop_cofferd "$M"

# start_unsealed : a daemon bound to the root token, unsealed.
start_unsealed() {
  start_cofferd "$M" --storage "$DB" --token-file "$WORK/root.token"
  echo "$K1" > "$M/sys/unseal"
  [ "$(jqr .sealed "$M/sys/seal-status")" = false ] || fail "not unsealed"
}

start_unsealed
echo 'type=kv-v2' > "$M/sys/mounts/kv"

# writer ROUND [KILL_AFTER] : writes kv/rROUND-I (a new secret each) and,
# every 4th, the shared kv/hot, until a write fails. The attempt is logged
# before the write, the acknowledgment only after it succeeded. With
# KILL_AFTER, the writer itself kill -9s the daemon right after that many
# acknowledgments: the moment a daemon that acknowledged before committing
# would lose the last write.
writer() {
  local round=$1 kill_after=${2:-0} i=0 value
  while :; do
    if ((kill_after > 0 && i == kill_after)); then kill -KILL "$DAEMON_PID"; fi
    i=$((i + 1))
    value="$round.$i.$RANDOM$RANDOM"
    if ((i % 4 == 0)); then
      echo "hot $value" >> "$WORK/attempts"
      { echo "v=$value" > "$M/kv/hot"; } 2>/dev/null || return 0
      echo "hot $value" >> "$WORK/acked"
    else
      echo "r$round-$i $value" >> "$WORK/attempts"
      { echo "v=$value" > "$M/kv/r$round-$i"; } 2>/dev/null || return 0
      echo "r$round-$i $value" >> "$WORK/acked"
    fi
  done
}

# check_acked FROM : every acknowledged write from line FROM of $WORK/acked
# on reads back with its exact value (the shared key: see below).
check_acked() {
  local key value got n=0
  while read -r key value; do
    [ "$key" = hot ] && continue
    got=""
    { IFS= read -r got < "$M/kv/$key#v"; } 2>/dev/null || true
    [ "$got" = "$value" ] || fail "acknowledged $key=$value, read back [$got]"
    n=$((n + 1))
  done < <(tail -n +"$1" "$WORK/acked")
  CHECKS=$((CHECKS + 1))
  CHECKED=$n
}

# check_hot : kv/hot holds its last acknowledged value, or a value whose
# write was attempted after it (in flight at the kill: applied, not
# acknowledged). Only the writer's last attempt of a round can be that.
check_hot() {
  local last got ok=0 candidate
  last=$(grep '^hot ' "$WORK/acked" | tail -n 1 | cut -d' ' -f2)
  [ -n "$last" ] || return 0
  { IFS= read -r got < "$M/kv/hot#v"; } 2>/dev/null || true
  [ "$got" = "$last" ] && ok=1
  if [ "$ok" = 0 ]; then
    # The attempt right after the last acknowledged one, if it was the
    # last of its round.
    candidate=$(grep '^hot ' "$WORK/attempts" | grep -A1 -Fx "hot $last" | tail -n 1 | cut -d' ' -f2)
    [ "$got" = "$candidate" ] && [ "$candidate" != "$last" ] && ok=1
  fi
  CHECKS=$((CHECKS + 1))
  [ "$ok" = 1 ] || fail "kv/hot: last acknowledged [$last], read back [$got]"
}

: > "$WORK/acked"
: > "$WORK/attempts"
total=0
for round in $(seq 1 "$ROUNDS"); do
  from=$(($(wc -l < "$WORK/acked") + 1))
  if ((round % 2)); then
    # Killed from outside, at a varying point 0.5 to 1.1 s into the
    # stream: most often with a write in flight.
    writer "$round" &
    WRITER=$!
    sleep "$(printf '0.%d' $((5 + RANDOM % 7)))"
    kill9_cofferd "$M"
    wait "$WRITER" || true
  else
    # Killed by the writer, just after an acknowledgment.
    writer "$round" $((MIN_ACKED + RANDOM % 100)) &
    WRITER=$!
    wait "$WRITER" || true
    wait "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=""
    fusermount3 -u "$M" 2>/dev/null || fusermount3 -uz "$M" 2>/dev/null || true
  fi
  acked=$(($(wc -l < "$WORK/acked") - from + 1))
  [ "$acked" -ge "$MIN_ACKED" ] || fail "round $round: only $acked writes acknowledged before the kill"
  total=$((total + acked))

  start_unsealed
  check_acked "$from"
  check_hot
  echo "    round $round: $acked writes acknowledged before kill -9, all $CHECKED new secrets read back exact"
  ((SECONDS - START < BUDGET_S)) || fail "over the ${BUDGET_S}s budget after round $round"
done

# After every crash: nothing acknowledged in an earlier round was lost later.
check_acked 1
check_hot
stop_cofferd "$M"
echo "    $total acknowledged writes across $ROUNDS kill -9 crashes, 0 lost, 0 wrong ($((SECONDS - START)) s)"
pass
