#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# A flood of failed logins does not hold up another caller's login (issue 13,
# item 3): each lookup of a login file on a shared mount is a new inode, so
# no two callers' writes (or O_TRUNC opens) wait on one inode's lock, and
# one uid's logins run one at a time on their own, so twenty
# looping anonymous writers of wrong passwords to auth/userpass/login/bob
# (each answered no sooner than the 250 ms failed-login delay) leave a
# correct login to the same file, by another uid, a fraction of a second.
# tests/bench/login_flood.py measures it.
source "$(dirname "$0")/lib.sh"
command -v setpriv >/dev/null || { echo "SKIP: setpriv missing (util-linux)"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (setpriv to another uid)"; exit 77; }

M=$WORK/mnt
start_cofferd "$M" --dev --allow-other
echo 'type=userpass' > "$M/sys/auth/userpass"
echo 'password=right' > "$M/auth/userpass/users/bob"
# This is about the kernel's and the daemon's queues, not user lockout
# (which would lock bob after five wrong passwords): lockout off here.
echo '{"user_lockout_config":{"lockout_disable":true}}' > "$M/sys/auth/userpass@tune"
i1=$(stat -c %i "$M/auth/userpass/login/bob")
i2=$(stat -c %i "$M/auth/userpass/login/bob")
CHECKS=$((CHECKS + 1))
[ "$i1" != "$i2" ] || fail "two lookups of a login file gave one inode ($i1)"
expect_eq "$(stat -c %s "$M/auth/userpass/login/bob")" "0" "a login file's size is its real size"
expect_eq "$(cat "$M/auth/userpass/login/bob" | wc -c)" "0" "it reads as empty"

# login : one correct login as bob through one fd; prints its milliseconds.
login() {
  local start end
  start=$(date +%s%N)
  exec 3<>"$M/auth/userpass/login/bob"
  echo 'password=right' >&3
  cat <&3 > "$WORK/reply"
  exec 3>&-
  end=$(date +%s%N)
  grep -q client_token "$WORK/reply" || fail "the correct login got no token: $(cat "$WORK/reply")"
  echo $(((end - start) / 1000000))
}

FLOOD=()
stop_flood() {
  local pid
  for pid in "${FLOOD[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${FLOOD[@]}"; do wait "$pid" 2>/dev/null || true; done
  FLOOD=()
}
trap 'stop_flood; cleanup' EXIT
for i in $(seq 1 20); do
  setpriv --reuid=65534 --regid=65534 --clear-groups -- env -i PATH="$PATH" bash -c \
    "while :; do echo password=wrong-$i > '$M/auth/userpass/login/bob' 2>/dev/null; done" &
  FLOOD+=($!)
done
sleep 1
worst=0
for i in 1 2 3; do
  ms=$(login)
  echo "correct login #$i during the flood: $ms ms"
  [ "$ms" -gt "$worst" ] && worst=$ms
done
CHECKS=$((CHECKS + 1))
# Behind twenty failed logins one at a time it would take 20 x 250 ms at least;
# alone it takes one Argon2id (~0.15 s). 3 s leaves room for a loaded machine.
[ "$worst" -lt 3000 ] || fail "a correct login took $worst ms during a flood of failed logins"
stop_flood
grep -q "too many logins" "$WORK/cofferd.log" && fail "the flood hit the per-uid limit"
pass
