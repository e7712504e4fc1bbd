#!/usr/bin/env bash
# SPDX-License-Identifier: MPL-2.0
# Runs every test from nothing: installs the packages, builds twice — once
# with warnings as errors, once with AddressSanitizer and UBSan — and runs
# the unit tests, the end-to-end tests on real mounts and the examples in both;
# then fuzzes every parser of outside input for FUZZ_SECONDS (30) a target.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
jobs=$(nproc)

run_suite() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCOFFER_WERROR=ON "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
  ctest --test-dir "$dir" --output-on-failure -j "$jobs"
  # A CI machine keeps nothing after the run and its disk may be small: once a
  # suite has passed, its objects and static libraries (about 1.4 GB a build)
  # go, so the three builds never sit on the disk at once. The binaries and
  # ctest's logs stay. A developer's build tree is left whole.
  if [[ -n ${CI:-} ]]; then
    find "$dir" \( -name '*.o' -o -name '*.a' \) -delete
  fi
}

echo "== build and test (RelWithDebInfo, -Werror)"
run_suite build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== build and test (AddressSanitizer + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build/asan -DCMAKE_BUILD_TYPE=Debug -DCOFFER_SANITIZE=address,undefined -DCOFFER_BUILD_BENCH=OFF
echo "== fuzz (libFuzzer + ASan/UBSan, ${FUZZ_SECONDS:-30} s a target)"
bash scripts/fuzz.sh
