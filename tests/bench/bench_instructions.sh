#!/bin/bash
# bench_instructions.sh: the daemon's own instructions per `ls`, per `cat` and
# per `cat NAME#KEY` (field)
# through a shared mount, counted by callgrind: exact where timings on a busy
# VM move by a third. Kernel work (the FUSE transport) is not counted; the
# timing benchmarks (bench_reads) cover it.
#
#   tests/bench/bench_instructions.sh [--ops N] [--secrets N] COFFERD [COFFERD...]
#
# For each binary: starts `COFFERD --dev` under valgrind, writes N secrets
# secret/app/sNNN as bench_reads does, does 30 untimed ops, zeroes the counters
# (callgrind_control -z), does --ops ops (default 300), dumps, and prints the
# instructions per op; every line after the first also as a ratio to the
# first binary's. KEEP_CALLGRIND=PREFIX keeps each dump as PREFIX.OP.BINARY.PID
# for callgrind_annotate. Needs root (/dev/fuse), valgrind, python3, fusermount3.
set -euo pipefail

ops=300
secrets=200
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ops) ops=$2; shift 2 ;;
    --secrets) secrets=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) bins+=("$1"); shift ;;
  esac
done
[ ${#bins[@]} -gt 0 ] || { echo "usage: $0 [--ops N] [--secrets N] COFFERD [COFFERD...]" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 2; }

work=$(mktemp -d /tmp/coffer-instr.XXXXXX)
daemon=""
cleanup() {
  [ -n "$daemon" ] && { fusermount3 -u "$work/m" 2>/dev/null || umount -l "$work/m" 2>/dev/null || true; }
  [ -n "$daemon" ] && { kill "$daemon" 2>/dev/null || true; wait "$daemon" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

# count BIN OP -> instructions per op
count() {
  local bin=$1 op=$2
  rm -rf "$work/m" "$work"/cg.out*
  keep=${KEEP_CALLGRIND:-}
  mkdir "$work/m"
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" --dump-instr=no \
    "$bin" --dev --dev-root-token-id root "$work/m" > "$work/log" 2>&1 &
  daemon=$!
  for _ in $(seq 600); do [ -d "$work/m/secret" ] && break; sleep 0.1; done
  [ -d "$work/m/secret" ] || { cat "$work/log" >&2; echo "cofferd did not mount" >&2; exit 1; }
  VAULT_TOKEN=root python3 - "$work" "$secrets" "$ops" "$op" <<'PY'
import os, subprocess, sys
work, secrets, ops, op = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
app = os.path.join(work, "m/secret/app")
os.makedirs(app, exist_ok=True)
for i in range(secrets):
    with open(f"{app}/s{i:03d}", "w") as f:
        f.write(f'{{"password":"p{i:019d}","user":"svc-s{i:03d}"}}')
def once(i):
    if op == "ls":
        os.listdir(app)
    else:
        with open(f"{app}/s{i % secrets:03d}" + ("#password" if op == "field" else "")) as f:
            f.read()
for i in range(30):
    once(i)
quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=work, check=True)
subprocess.run(["callgrind_control", "-z"], **quiet)
for i in range(ops):
    once(i)
subprocess.run(["callgrind_control", "-d"], **quiet)
PY
  fusermount3 -u "$work/m"
  wait "$daemon" || true
  daemon=""
  local dump
  dump=$(ls -t "$work"/cg.out.* | head -1)
  local total
  total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
  [ -n "$keep" ] && cp "$dump" "$keep.$op.$(basename "$bin").$$"
  echo $((total / ops))
}

printf '%-6s %12s %7s  %s\n' op "instr/op" ratio cofferd
for op in ls cat field; do
  first=""
  for bin in "${bins[@]}"; do
    n=$(count "$bin" "$op")
    if [ -z "$first" ]; then first=$n; ratio="1.00"; else ratio=$(awk -v a="$n" -v b="$first" 'BEGIN {printf "%.2f", a / b}'); fi
    printf '%-6s %12s %7s  %s\n' "$op" "$n" "$ratio" "$bin"
  done
done
