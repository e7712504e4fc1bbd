#!/usr/bin/env python3
# SPDX-License-Identifier: MPL-2.0
"""bench_lockout: does a flood of bad logins for one user delay another's?

Starts `cofferd --dev` on a temp mount, makes userpass users alice and bob,
then times alice's correct login (open login/alice, write the password,
read the reply, close) in three phases of the same run:

  alone       nothing else running;
  flood       FLOODERS processes each writing a wrong password to
              auth/userpass/login/bob in a loop (Vault's user lockout on,
              the defaults: bob is locked after 5 failures and each further
              attempt is refused at once);
  flood-nolock the same flood with the mount tuned lockout_disable=true:
              every attempt is tried (Argon2id) and slowed (failed-login
              delay), the daemon's state before user lockout existed;
  flood-unknown each flooder guesses at its own unknown name (never locked,
              as in Vault): a dummy Argon2id and the failed-login delay each.

Prints, per phase, alice's login p50/p90/p99/max in ms, the logins timed and
the flood's attempts per second; during each flood also how long bob's own
login (right password) takes to be answered, and what the answer was. The
flooders all write one file (login/bob), so the kernel's per-inode write
lock serialises them: without the lockout every attempt holds it for an
Argon2id check and the failed-login delay, and bob's own login waits behind
them. Figures, not a pass/fail test.

  sudo tests/bench/bench_lockout.py --cofferd build/release/mountd/cofferd \
       [--logins 40] [--flooders 30] [--warmup 2]
Needs root (/dev/fuse); re-executes itself with VAULT_TOKEN=root (the
daemon reads the caller's token from /proc/PID/environ).
"""
import argparse
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time


def write_file(path, body):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body.encode())
    finally:
        os.close(fd)


def login(path, password):
    """One login through the file: write, read the reply, close."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.write(fd, ("password=%s\n" % password).encode())
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def flooder(path, stop, counter):
    while not stop.is_set():
        try:
            login(path if not path.endswith("/") else path + "ghost-%d" % os.getpid(), "wrong")
        except OSError:
            pass
        with counter.get_lock():
            counter.value += 1


def pct(sorted_ms, p):
    if not sorted_ms:
        return float("nan")
    k = min(len(sorted_ms) - 1, max(0, int(round(p / 100.0 * (len(sorted_ms) - 1)))))
    return sorted_ms[k]


def time_logins(path, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        reply = login(path, "alices-pw")
        out.append((time.perf_counter() - t0) * 1000.0)
        if b"client_token" not in reply:
            raise RuntimeError("alice's login gave no token: %r" % reply[:200])
    return sorted(out)


def time_answers(path, password, n):
    """How long bob's own login takes to be answered, whatever the answer."""
    out, answers = [], {}
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            login(path, password)
            what = "token"
        except OSError as e:
            what = os.strerror(e.errno)
        out.append((time.perf_counter() - t0) * 1000.0)
        answers[what] = answers.get(what, 0) + 1
    return sorted(out), answers


def phase(name, mnt, args, flood, unknown=False):
    alice = os.path.join(mnt, "auth/userpass/login/alice")
    bob = os.path.join(mnt, "auth/userpass/login/bob")
    target = os.path.join(mnt, "auth/userpass/login/") if unknown else bob
    stop = multiprocessing.Event()
    counter = multiprocessing.Value("l", 0)
    procs = []
    if flood:
        for _ in range(args.flooders):
            p = multiprocessing.Process(target=flooder, args=(target, stop, counter))
            p.start()
            procs.append(p)
        time.sleep(args.warmup)
    start_count = counter.value
    t0 = time.perf_counter()
    try:
        ms = time_logins(alice, args.logins)
        elapsed = time.perf_counter() - t0
        flood_rate = (counter.value - start_count) / elapsed if flood else 0.0
        if flood and not unknown:
            bob_ms, answers = time_answers(bob, "bobs-pw", args.bob_logins)
    finally:
        stop.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
    print("%-13s %6d %9.1f %9.1f %9.1f %9.1f %12.1f" %
          (name, len(ms), pct(ms, 50), pct(ms, 90), pct(ms, 99), ms[-1], flood_rate))
    if flood and not unknown:
        print("  bob's own login (right password) during it: p50 %.1f ms, max %.1f ms over %d, answers %s"
              % (pct(bob_ms, 50), bob_ms[-1], len(bob_ms), answers))
    sys.stdout.flush()
    return ms


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cofferd", default=os.environ.get("COFFERD", "build/release/mountd/cofferd"))
    ap.add_argument("--logins", type=int, default=40, help="alice's timed logins per phase")
    ap.add_argument("--flooders", type=int, default=30, help="processes writing bad logins for bob")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of flood before timing")
    ap.add_argument("--bob-logins", type=int, default=5, help="bob's own timed logins during each flood")
    args = ap.parse_args()
    if os.environ.get("VAULT_TOKEN") != "root":
        os.execvpe(sys.executable, [sys.executable] + sys.argv, dict(os.environ, VAULT_TOKEN="root"))
    if os.geteuid() != 0:
        sys.exit("bench_lockout: needs root (/dev/fuse)")

    work = tempfile.mkdtemp(prefix="coffer-bench-lockout.")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    log = open(os.path.join(work, "cofferd.log"), "w")
    daemon = subprocess.Popen([args.cofferd, "--dev", "--dev-root-token-id", "root", mnt], stdout=log, stderr=log)
    try:
        for _ in range(200):
            if os.path.ismount(mnt):
                break
            if daemon.poll() is not None:
                sys.exit("cofferd exited: see " + log.name)
            time.sleep(0.05)
        write_file(os.path.join(mnt, "sys/auth/userpass"), "type=userpass\n")
        write_file(os.path.join(mnt, "auth/userpass/users/alice"), "password=alices-pw\n")
        write_file(os.path.join(mnt, "auth/userpass/users/bob"), "password=bobs-pw\n")
        la = os.getloadavg()[0]
        print("bench_lockout: %d alice logins per phase, %d flooders on login/bob, load %.2f at start"
              % (args.logins, args.flooders, la))
        print("%-13s %6s %9s %9s %9s %9s %12s" % ("phase", "logins", "p50 ms", "p90 ms", "p99 ms", "max ms",
                                                  "flood att/s"))
        phase("alone", mnt, args, flood=False)
        phase("flood", mnt, args, flood=True)
        report = json.load(open(os.path.join(mnt, "sys/locked-users@data")))
        print("  locked after the flood: total=%s (bob: %s)" % (
            report.get("total"),
            [a for ns in report.get("by_namespace", []) for m in ns["mount_accessors"] for a in m["alias_identifiers"]]))
        write_file(os.path.join(mnt, "sys/auth/userpass@tune"),
                   '{"user_lockout_config":{"lockout_disable":true}}\n')
        phase("flood-nolock", mnt, args, flood=True)
        phase("alone-again", mnt, args, flood=False)
        # Unknown names (one per flooder, so no shared inode): never locked,
        # each attempt costs a dummy Argon2id and the failed-login delay.
        phase("flood-unknown", mnt, args, flood=True, unknown=True)
        print("load %.2f at end" % os.getloadavg()[0])
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
                subprocess.call(["umount", "-l", mnt])
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
