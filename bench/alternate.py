#!/usr/bin/env python3
"""Two stepscope binaries (before and after a change) alternated round by round on one command.

  python3 bench/alternate.py --old OLD_BIN --new NEW_BIN [--rounds 8] -- report F --format json

Each round runs the old binary, then the new one (the order flips every round, so the machine's
drift hits both alike), with stdout to /dev/null. Prints, per binary, the best and median wall
seconds, the least CPU seconds (user + system, all threads) and the largest peak RSS, and the
median of each round's own new/old wall ratio. Both outputs are checked byte-identical once.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def run(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = p.communicate()
    wall = time.perf_counter() - start
    # ru_maxrss of the children is the largest any child reached so far; read it per child via wait4.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)} exited {p.returncode}: {err.decode()[-400:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def rss_of(cmd):
    """Peak RSS (MiB) of one run, measured in a fresh Python child so earlier runs do not count."""
    code = ("import resource,subprocess,sys;subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code] + cmd, capture_output=True, text=True, check=True).stdout
    return int(out.strip()) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    bins = {"old": a.old, "new": a.new}
    outs = {k: subprocess.run([b] + args, capture_output=True).stdout for k, b in bins.items()}
    print("outputs identical:", outs["old"] == outs["new"])
    walls = {"old": [], "new": []}
    cpus = {"old": [], "new": []}
    for r in range(a.rounds):
        order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
        for k in order:
            w, c = run([bins[k]] + args)
            walls[k].append(w)
            cpus[k].append(c)
    rss = {k: max(rss_of([b] + args) for _ in range(2)) for k, b in bins.items()}
    print(f"command: stepscope {' '.join(args)}   rounds: {a.rounds}")
    print(f"{'binary':6} {'best wall s':>11} {'median wall s':>13} {'least CPU s':>11} {'peak RSS MiB':>12}")
    for k in ("old", "new"):
        print(f"{k:6} {min(walls[k]):11.3f} {statistics.median(walls[k]):13.3f} {min(cpus[k]):11.3f} {rss[k]:12.1f}")
    ratios = [n / o for n, o in zip(walls["new"], walls["old"])]
    print(f"median per-round new/old wall ratio: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
