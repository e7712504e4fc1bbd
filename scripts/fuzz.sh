#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Builds the libFuzzer targets (tests/fuzz, clang with ASan+UBSan) and runs
# each for FUZZ_SECONDS (default 30) from its seed corpus in tests/fuzz/corpus.
# Prints execs per target; fails on any crash, leak, timeout or sanitizer
# report, leaving the input that caused it in build/fuzz/artifacts/.
#   scripts/fuzz.sh [TARGET...]        e.g. scripts/fuzz.sh body file_view
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
dir=build/fuzz
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOFFER_FUZZ=ON \
  -DCOFFER_SANITIZE=address,undefined >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(ls tests/fuzz/*_fuzz.cpp | sed 's|.*/||; s|_fuzz\.cpp$||')
fi
ninja -C "$dir" -j "$(nproc)" "${targets[@]/%/_fuzz}"

mkdir -p "$dir/artifacts"
failed=0
for t in "${targets[@]}"; do
  # New inputs go to a scratch corpus; the seeds in the tree stay as they are.
  work=$(mktemp -d)
  log="$dir/$t.log"
  rc=0
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$dir/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/$t-" "$work" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  rm -rf "$work"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if ((rc != 0)); then
    failed=$((failed + 1))
    echo "fuzz: $t FAILED after ${execs:-?} execs (exit $rc); input in $dir/artifacts/, log $log:"
    grep -E 'ERROR|SUMMARY|runtime error|deadly signal|Test unit written' "$log" | head -n 20
  else
    echo "fuzz: $t: ${execs:-?} execs in ${seconds} s, 0 crashes"
  fi
done
((failed == 0))
