#!/usr/bin/env python3
"""Benchmark: `stepscope diff` of two traces against one `stepscope report` of the same trace.

  python3 bench/diff_vs_report.py [--size-mb 350] [--runs 5] [--bin .build/release/stepscope]

Uses bench/.cache/kineto_${SIZE}mb.json (generated with bench/gen_kineto.py when missing, as
bench/report_vs_orjson.sh does), puts a link to it in two temporary directories (two runs of one
rank each), writes a saved baseline with `stepscope summary`, then measures in rounds, so that
the machine's drift hits every command alike:

  report      stepscope report F --format json
  diff        stepscope diff DIR1 DIR2 --format json
  diff saved  stepscope diff BASE.samples.json DIR2 --format json

and prints, per command, the best wall time of all rounds, the CPU time (user + sys) of that
run, the peak RSS, and the wall time relative to the best report; then the median over rounds
of each round's own ratio to that round's report (robust when the machine's speed drifts
between rounds). Build the release binary first: swift build -c release --product stepscope.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd):
    """(wall s, cpu s, peak RSS KiB) of one run; exits on a failure (status 1, a regression, is fine)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit("diff_vs_report: %s exited %d: %s" % (" ".join(cmd), code, err[-2000:]))
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=350)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build", "release", "stepscope"))
    a = ap.parse_args()
    if not os.access(a.bin, os.X_OK):
        sys.exit("diff_vs_report: no binary at %s (swift build -c release --product stepscope)" % a.bin)
    trace = os.path.join(ROOT, "bench", ".cache", "kineto_%dmb.json" % a.size_mb)
    if not os.path.exists(trace):
        os.makedirs(os.path.dirname(trace), exist_ok=True)
        subprocess.check_call([sys.executable, os.path.join(ROOT, "bench", "gen_kineto.py"), "--size-mb", str(a.size_mb),
                               "--out", trace + ".partial", "--quiet"])
        os.rename(trace + ".partial", trace)
    tmp = tempfile.mkdtemp(prefix="stepscope-diffbench-")
    try:
        sides = []
        for name in ("base", "cand"):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            os.symlink(trace, os.path.join(d, "rank0.json"))
            sides.append(d)
        saved = os.path.join(tmp, "base.samples.json")
        subprocess.check_call([a.bin, "summary", sides[0], "-o", saved])
        commands = [
            ("report", [a.bin, "report", trace, "--format", "json"]),
            ("diff (two traces)", [a.bin, "diff", sides[0], sides[1], "--format", "json"]),
            ("diff (saved baseline)", [a.bin, "diff", saved, sides[1], "--format", "json"]),
        ]
        best = {}
        ratios = {label: [] for label, _ in commands}
        for r in range(a.runs):
            walls = {}
            for label, cmd in commands:
                wall, cpu, rss = timed(cmd)
                walls[label] = wall
                print("  round %d  %-22s %6.3f s wall  %6.3f s cpu  %7.1f MiB" % (r + 1, label, wall, cpu, rss / 1024))
                if label not in best or wall < best[label][0]:
                    best[label] = (wall, cpu, rss)
            for label in walls:
                ratios[label].append(walls[label] / walls["report"])
        size = os.path.getsize(trace) / 1e6
        print("\ntrace: %s (%.1f MB) on both sides; best of %d rounds" % (os.path.basename(trace), size, a.runs))
        print("%-22s %8s %8s %13s %14s" % ("", "wall s", "cpu s", "peak RSS MiB", "vs one report"))
        ref = best["report"][0]
        for label, _ in commands:
            wall, cpu, rss = best[label]
            print("%-22s %8.3f %8.3f %13.1f %13.2fx" % (label, wall, cpu, rss / 1024, wall / ref))
        print("median of the rounds' own ratios: " + ", ".join(
            "%s %.2fx" % (label, statistics.median(ratios[label])) for label, _ in commands[1:]))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
