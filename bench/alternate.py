#!/usr/bin/env python3
"""Two stepscope binaries (before and after a change) alternated round by round on one command.

  python3 bench/alternate.py --old OLD_BIN --new NEW_BIN [--rounds 8] -- report F --format json
  python3 bench/alternate.py --old OLD_BIN --new NEW_BIN --inputs F.json F.json.gz -- report {} --format json

Each round runs the old binary, then the new one (the order flips every round, so the machine's
drift hits both alike), with stdout to /dev/null. With --inputs, `{}` in the command stands for
each input in turn, and each round runs every binary on every input (the order of the pairs
rotates round by round). Prints, per binary (and input), the best and median wall seconds, the
least CPU seconds (user + system, all threads) and the largest peak RSS; the median of each
round's own new/old wall ratio; and with --inputs, per binary, the median of each round's wall
ratio of every input over the first. Outputs are checked byte-identical once: old against new,
and (with the input's path written `{}`) every input against the first.
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
    ap.add_argument("--inputs", nargs="+", help="files that {} in the command stands for, in turn")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    args = a.args[1:] if a.args[:1] == ["--"] else a.args
    inputs = a.inputs or [None]
    bins = {"old": a.old, "new": a.new}

    def command(k, inp):
        return [bins[k]] + ([x.replace("{}", inp) for x in args] if inp is not None else args)

    pairs = [(k, i) for i in inputs for k in ("old", "new")]
    outs = {}
    for k, i in pairs:
        out = subprocess.run(command(k, i), capture_output=True).stdout
        outs[(k, i)] = out.replace(i.encode(), b"{}") if i is not None else out
    for i in inputs:
        print(f"outputs identical old/new{'' if i is None else ' on ' + i}:", outs[("old", i)] == outs[("new", i)])
    for i in inputs[1:]:
        for k in ("old", "new"):
            print(f"outputs identical {k} {i} / {inputs[0]}:", outs[(k, i)] == outs[(k, inputs[0])])
    walls = {p: [] for p in pairs}
    cpus = {p: [] for p in pairs}
    for r in range(a.rounds):
        order = pairs[r % len(pairs):] + pairs[:r % len(pairs)]
        if r % 2 == 1:
            order.reverse()
        for p in order:
            w, c = run(command(*p))
            walls[p].append(w)
            cpus[p].append(c)
    rss = {p: max(rss_of(command(*p)) for _ in range(2)) for p in pairs}
    print(f"command: stepscope {' '.join(args)}   rounds: {a.rounds}")
    print(f"{'binary':6} {'input':40} {'best wall s':>11} {'median wall s':>13} {'least CPU s':>11} {'peak RSS MiB':>12}")
    for p in pairs:
        k, i = p
        print(f"{k:6} {(i or '')[-40:]:40} {min(walls[p]):11.3f} {statistics.median(walls[p]):13.3f} "
              f"{min(cpus[p]):11.3f} {rss[p]:12.1f}")
    for i in inputs:
        ratios = [n / o for n, o in zip(walls[("new", i)], walls[("old", i)])]
        print(f"median per-round new/old wall ratio{'' if i is None else ' on ' + i}: {statistics.median(ratios):.3f}")
    for i in inputs[1:]:
        for k in ("old", "new"):
            ratios = [x / y for x, y in zip(walls[(k, i)], walls[(k, inputs[0])])]
            print(f"median per-round {k} wall ratio {i} / {inputs[0]}: {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
