#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
# A flood of failed logins must not hold up another caller's login (issue 13,
# item 3): WRITERS looping anonymous writers send a wrong password to
# auth/userpass/login/bob while one caller logs in correctly, as bob (the
# same file) and as alice (another file), LOGINS times each. Prints the
# correct logins' latency without and with the flood.
#
#   tests/bench/login_flood.py build/release/mountd/cofferd [--writers 30] [--logins 10]
#
# Starts its own `cofferd --dev --allow-other` in a temporary directory. As
# root, the flood runs as uid 65534 (no token: anonymous).
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def login(path, password, flags=os.O_RDWR):
    """One login through PATH; returns (seconds, ok). The reply is read
    through the same fd when it is open for reading."""
    start = time.monotonic()
    ok = True
    try:
        fd = os.open(path, flags)
        try:
            os.write(fd, ("password=%s\n" % password).encode())
            if flags & os.O_ACCMODE == os.O_RDWR:
                os.read(fd, 65536)
        finally:
            os.close(fd)
    except OSError:
        ok = False
    return time.monotonic() - start, ok


def flood(path, writers, stop_file):
    """WRITERS threads sending wrong passwords until stop_file exists."""
    done = threading.Event()
    counts = [0] * writers

    def run(i):
        while not done.is_set():
            login(path, "wrong-%d" % i, os.O_WRONLY | os.O_TRUNC)  # as `echo ... > FILE`
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(writers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    while not os.path.exists(stop_file):
        time.sleep(0.05)
    done.set()
    # What completed while the flood ran (the writes in flight end later).
    print("%d %.3f" % (sum(counts), time.monotonic() - started))
    sys.stdout.flush()
    for t in threads:
        t.join(timeout=120)


def figures(label, samples):
    ms = sorted(s * 1000 for s in samples)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
    print("%-34s n=%-3d median %7.0f ms   p90 %7.0f ms   max %7.0f ms" %
          (label, len(ms), statistics.median(ms), p(0.9), ms[-1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cofferd", nargs="?")
    ap.add_argument("--writers", type=int, default=30)
    ap.add_argument("--logins", type=int, default=10)
    ap.add_argument("--flood-child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.flood_child:
        flood(a.flood_child[0], int(a.flood_child[1]), a.flood_child[2])
        return 0
    if not a.cofferd:
        ap.error("the cofferd binary is needed")

    work = tempfile.mkdtemp(prefix="coffer-flood.")
    os.chmod(work, 0o755)
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    log = open(os.path.join(work, "cofferd.log"), "w")
    daemon = subprocess.Popen([a.cofferd, "--dev", "--allow-other", mnt], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if os.path.ismount(mnt):
                break
            time.sleep(0.05)
        else:
            raise SystemExit("cofferd did not mount")
        with open(os.path.join(mnt, "sys/auth/userpass"), "w") as f:
            f.write("type=userpass\n")
        for user in ("bob", "alice"):
            with open(os.path.join(mnt, "auth/userpass/users", user), "w") as f:
                f.write("password=right-%s\n" % user)
        bob = os.path.join(mnt, "auth/userpass/login/bob")
        alice = os.path.join(mnt, "auth/userpass/login/alice")

        def measure(label, path, user):
            samples = []
            for _ in range(a.logins):
                t, ok = login(path, "right-" + user)
                if not ok:
                    raise SystemExit("%s: a correct login failed" % label)
                samples.append(t)
            figures(label, samples)

        measure("bob, no flood", bob, "bob")
        measure("alice, no flood", alice, "alice")

        stop = os.path.join(work, "stop")
        cmd = [sys.executable, os.path.abspath(__file__), "--flood-child", bob, str(a.writers), stop]
        if os.getuid() == 0 and shutil.which("setpriv"):
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + cmd
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)  # let the flood fill the queue
        measure("bob, %d bad writers on bob" % a.writers, bob, "bob")
        measure("alice, %d bad writers on bob" % a.writers, alice, "alice")
        open(stop, "w").close()
        out, _ = child.communicate(timeout=300)
        bad, elapsed = out.split()
        bad, elapsed = int(bad), float(elapsed)
        print("failed logins by the flood: %d in %.1f s (%.1f/s)" % (bad, elapsed, bad / elapsed))
    finally:
        if os.path.ismount(mnt):
            daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            subprocess.run(["fusermount3", "-uz", mnt], check=False)
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
