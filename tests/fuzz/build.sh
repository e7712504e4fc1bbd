#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Builds the policy fuzz target with clang + libFuzzer (apt-get install clang).
# Not part of the CMake build. Usage:
#   tests/fuzz/build.sh [outdir] && <outdir>/policy_fuzz -max_total_time=60 <outdir>/corpus
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/build-fuzz}
mkdir -p "$out/corpus"
clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I"$root" \
  "$root/tests/fuzz/policy_fuzz.cpp" "$root"/engine/policy/*.cpp \
  "$root/engine/common/secure.cpp" "$root/engine/common/error.cpp" "$root/engine/common/request.cpp" \
  $(pkg-config --cflags --libs libsodium) -o "$out/policy_fuzz"
# Seed corpus: the unit tests' policy shapes.
printf 'path "secret/+/x*" { capabilities = ["read"] allowed_parameters = { "a" = ["b*", 1] } }\n' > "$out/corpus/hcl"
printf '{"path": {"a": {"capabilities": ["list"], "max_wrapping_ttl": "1h"}}}\n' > "$out/corpus/json"
printf 'path "k/{{identity.entity.metadata.team}}/*" {\n policy = "write"\n comment = <<EOF\nx\nEOF\n}\n' > "$out/corpus/tpl"
echo "built $out/policy_fuzz"
