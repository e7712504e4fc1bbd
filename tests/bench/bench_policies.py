#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""Secret reads through a real mount under tokens with 1, 100 and 10,000 policies.

Starts `cofferd --dev` on a temporary mount, writes 10,000 policies of 10 rules
each (100,000 rules in all, none matching the secret) plus one policy `app`
that grants the read, makes tokens holding app + 0, 99 and 9,999 of the others,
then times open+read+close of one secret from a reader process started with
each token as VAULT_TOKEN (the way a caller passes it, SPEC §3), beside the
root token. Prints ops/s per case and the ratio to the root-token read: the
ACL decision is O(path length), so the ratios should stay near 1.

usage: bench_policies.py --cofferd PATH [--duration S] [--policies N]
Needs root and /dev/fuse. A program that prints figures, not a timed test.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

READER = r"""
import os, sys, time
path, duration = sys.argv[1], float(sys.argv[2])
end = time.perf_counter() + 0.2
while time.perf_counter() < end:  # warm up (first request reads the environ)
    fd = os.open(path, os.O_RDONLY); os.read(fd, 65536); os.close(fd)
n = 0
start = time.perf_counter(); end = start + duration
while True:
    fd = os.open(path, os.O_RDONLY)
    data = os.read(fd, 65536)
    os.close(fd)
    if not data:
        sys.exit("empty read")
    n += 1
    if (n & 63) == 0 and time.perf_counter() >= end:
        break
print(n / (time.perf_counter() - start))
"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def exchange(path, body):
    """A write whose reply is read back on the same fd (SPEC §2)."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.write(fd, body.encode())
        out = b""
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            out += chunk
    finally:
        os.close(fd)
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cofferd", required=True)
    ap.add_argument("--duration", type=float, default=2.0)
    ap.add_argument("--policies", type=int, default=10000)
    ap.add_argument("--rules", type=int, default=10, help="rules per filler policy")
    o = ap.parse_args()

    work = tempfile.mkdtemp(prefix="coffer-bench-pol-")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    log = open(os.path.join(work, "cofferd.log"), "w")
    env = {k: v for k, v in os.environ.items() if k != "VAULT_TOKEN"}
    daemon = subprocess.Popen([o.cofferd, "--dev", "--log-level", "error", mnt], stdout=log, stderr=log, env=env)
    try:
        for _ in range(100):
            if os.path.ismount(mnt):
                break
            time.sleep(0.05)
        else:
            sys.exit("cofferd did not mount")
        # This process has no VAULT_TOKEN: the dev root token answers it.
        write(f"{mnt}/secret/app", "password=s3cr3t\n")
        write(f"{mnt}/sys/policies/acl/app", 'path "secret/data/app" {\n  capabilities = ["read"]\n}\n')
        t0 = time.perf_counter()
        for i in range(o.policies):
            rules = "".join(
                f'path "team{i}/data/x{j}/*" {{\n  capabilities = ["read", "list"]\n}}\n' for j in range(o.rules)
            )
            write(f"{mnt}/sys/policies/acl/p{i}", rules)
        print(f"# wrote {o.policies} policies x {o.rules} rules = {o.policies * o.rules} rules "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
        tokens = {"root": "root"}
        for n in (1, 100, o.policies):
            names = ["app"] + [f"p{i}" for i in range(n - 1)]
            reply = exchange(f"{mnt}/auth/token/create", json.dumps({"policies": names}) + "\n")
            tokens[f"{n} policies"] = reply["auth"]["client_token"]
        results = {}
        for case, token in tokens.items():
            out = subprocess.run(
                [sys.executable, "-c", READER, f"{mnt}/secret/app", str(o.duration)],
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VAULT_TOKEN": token},
                capture_output=True, text=True, check=True)
            results[case] = float(out.stdout.strip())
        base = results["root"]
        print(f"{'case':<22}{'ops/s':>10}{'vs root':>10}")
        for case, ops in results.items():
            print(f"{case:<22}{ops:>10.0f}{ops / base:>10.2f}")
    finally:
        subprocess.run(["fusermount3", "-u", mnt], check=False)
        daemon.wait(timeout=10)
        log.close()
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
