#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Splits a perf profile of a FUSE daemon into transport and handler time, per FUSE op.

    perf script -i FILE.data -F comm,tid,ip,sym,dso | tests/bench/perf_split.py [--top N]

Each sample (a call stack, needs --call-graph dwarf) is put in one bucket:
  reply     under fuse_reply_* / writev: sending the answer to /dev/fuse (FUSE floor cost)
  receive   no op handler on the stack: reading /dev/fuse, libfuse dispatch, thread wake-ups
            (FUSE floor cost)
  handler   inside op_NAME (the daemon's own work for that request)
and, for handler samples, lists the functions most often on the stack under each op
(inclusive share of that op's handler samples). The floor (bench_floor_fs) has almost no
handler time, so handler time is roughly what the daemon adds beyond FUSE itself.
"""
import argparse
import collections
import re
import sys

OP_RE = re.compile(r"\bop_([a-z_]+)\b|\bfloor_([a-z_]+)\b")
NOISE_RE = re.compile(r"^(operator\(\)|guarded<|op_|\[unknown\]|std::|__|_M_|0x)")


def frames(block):
    out = []
    for line in block.strip().split("\n")[1:]:
        line = line.strip()
        if not line:
            continue
        name = re.sub(r"^[0-9a-f]+ ", "", line)
        name = re.sub(r"\s*\((?:inlined|/.*|\[.*\])\)$", "", name)
        out.append(name)
    return out


def short(name, width=100):
    name = re.sub(r"\[abi:cxx11\]", "", name)
    name = re.sub(r"<.*>", "<...>", name)
    return name[:width]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--top", type=int, default=12, help="functions listed per op")
    args = parser.parse_args()

    buckets = collections.Counter()
    per_op = collections.Counter()
    inclusive = collections.defaultdict(collections.Counter)
    total = 0
    for block in sys.stdin.read().split("\n\n"):
        stack = frames(block)
        if not stack:
            continue
        total += 1
        joined = "\n".join(stack)
        if "fuse_reply_" in joined or "__GI___writev" in joined:
            buckets["reply (writev of the answer to /dev/fuse)"] += 1
            continue
        op = None
        op_index = len(stack)
        for i, name in enumerate(stack):
            m = OP_RE.search(name)
            if m and not name.startswith("fuse_"):
                op = m.group(1) or m.group(2)
                op_index = i
                break
        if op is None:
            buckets["receive (read /dev/fuse, libfuse dispatch, thread wake-ups)"] += 1
            continue
        buckets["handler (the daemon's own work)"] += 1
        per_op[op] += 1
        seen = set()
        for name in stack[:op_index]:
            key = short(name)
            if key in seen or NOISE_RE.match(key):
                continue
            seen.add(key)
            inclusive[op][key] += 1

    if total == 0:
        print("no samples (record with --call-graph dwarf)", file=sys.stderr)
        return 1
    print(f"{total} samples")
    for name, n in buckets.most_common():
        print(f"{100.0 * n / total:5.1f}%  {name}")
    print("\nhandler time by FUSE op (share of all samples):")
    for op, n in per_op.most_common():
        print(f"{100.0 * n / total:5.1f}%  op_{op}")
    for op, n in per_op.most_common():
        print(f"\nop_{op}: functions on the stack (share of this op's handler samples)")
        for name, k in inclusive[op].most_common(args.top):
            print(f"  {100.0 * k / n:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
