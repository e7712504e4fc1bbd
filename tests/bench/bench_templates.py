#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""A template file's cat against a plain secret's cat, on the same mount, in one run.

Starts `cofferd --config` on a new SQLite store (init and unseal through the
shared mount) with two mounts: a shared one (every caller's own token) and a
caching one bound to the root token, each with a template `app.env` that
renders two keys of `secret/app` (KV v2) and one that reads three secrets.
Then times open+read+close of `secret/app` and of the templates from a
reader process (VAULT_TOKEN = the root token, as a caller passes it), in
interleaved rounds, and prints ops/s per case and the ratio of each template
to the plain secret on the same mount.

usage: bench_templates.py --cofferd PATH [--duration S] [--rounds N]
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
while time.perf_counter() < end:  # warm up (the first request reads the environ)
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

ONE = '{{ with secret \\"secret/data/app\\" }}USER={{ .Data.data.user }}\\nPASSWORD={{ .Data.data.password }}\\n{{ end }}'
THREE = "".join(
    '{{ with secret \\"secret/data/%s\\" }}%s={{ .Data.data.v }}\\n{{ end }}' % (n, n.upper()) for n in ("a", "b", "c"))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def exchange(path, body):
    """A write whose reply is read back on the same fd."""
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


def wait_mounted(path, daemon):
    for _ in range(200):
        if os.path.ismount(path):
            return
        if daemon.poll() is not None:
            sys.exit("cofferd exited")
        time.sleep(0.05)
    sys.exit("cofferd did not mount " + path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cofferd", required=True)
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per case per round")
    ap.add_argument("--rounds", type=int, default=3)
    o = ap.parse_args()

    work = tempfile.mkdtemp(prefix="coffer-bench-tmpl-")
    shared = os.path.join(work, "shared")
    cached = os.path.join(work, "cached")
    os.mkdir(shared)
    os.mkdir(cached)
    token_file = os.path.join(work, "root.token")
    write(token_file, "placeholder\n")
    os.chmod(token_file, 0o600)
    templates = (f'  template "app.env"   {{ contents = "{ONE}" }}\n'
                 f'  template "three.env" {{ contents = "{THREE}" }}\n')
    write(os.path.join(work, "coffer.hcl"),
          f'storage "sqlite" {{\n  path = "{work}/coffer.db"\n  init = true\n}}\n'
          f'disable_mlock = true\nlog_level = "error"\n'
          f'mount "{shared}" {{\n{templates}}}\n'
          f'mount "{cached}" {{\n  token_file = "{token_file}"\n  cache = true\n{templates}}}\n')
    log = open(os.path.join(work, "cofferd.log"), "w")
    env = {k: v for k, v in os.environ.items() if k != "VAULT_TOKEN"}
    daemon = subprocess.Popen([o.cofferd, "-f", "--config", os.path.join(work, "coffer.hcl")], stdout=log,
                              stderr=log, env=env)
    try:
        wait_mounted(shared, daemon)
        wait_mounted(cached, daemon)
        init = exchange(f"{shared}/sys/init", '{"secret_shares":1,"secret_threshold":1}\n')
        write(f"{shared}/sys/unseal", init["keys"][0] + "\n")
        root = init["root_token"]
        write(f"{shared}/auth/token/session", root + "\n")  # this process's own requests
        tmp = token_file + ".new"
        write(tmp, root + "\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, token_file)
        write(f"{shared}/sys/mounts/secret", "type=kv-v2\n")
        write(f"{shared}/secret/app", "user=app password=s3cr3t\n")
        for n in ("a", "b", "c"):
            write(f"{shared}/secret/{n}", f"v={n}-value\n")
        cases = []
        for name, mnt in (("shared", shared), ("cached", cached)):
            cases += [(name, "secret", f"{mnt}/secret/app"), (name, "app.env (1 secret)", f"{mnt}/app.env"),
                      (name, "three.env (3 secrets)", f"{mnt}/three.env")]
        reader_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "VAULT_TOKEN": root}
        results = {c: [] for c in cases}
        for _ in range(o.rounds):
            for case in cases:
                out = subprocess.run([sys.executable, "-c", READER, case[2], str(o.duration)], env=reader_env,
                                     capture_output=True, text=True, check=True)
                results[case].append(float(out.stdout.strip()))
        print(f"{'mount':<8}{'file':<24}{'ops/s':>10}{'vs secret':>11}")
        for name in ("shared", "cached"):
            base = None
            for case in cases:
                if case[0] != name:
                    continue
                ops = sorted(results[case])[len(results[case]) // 2]  # the median round
                if base is None:
                    base = ops
                print(f"{name:<8}{case[1]:<24}{ops:>10.0f}{ops / base:>11.2f}")
    finally:
        for mnt in (shared, cached):
            subprocess.run(["fusermount3", "-u", mnt], check=False)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
