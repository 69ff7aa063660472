#!/usr/bin/env python3
"""Measure how often `stepscope diff` fails a noise pair (false alarms) and catches a slowdown,
with 3 steps per run (PyTorch's schedule wait=1, warmup=1, active=3), where the step time is
decided from the operator and kernel calls (docs/diff.md, Few steps).

  python3 scripts/diff_false_alarms.py [--stepscope BIN] [--pairs N] [--steps 3] [--keep DIR]

  noise pairs     N pairs of runs of the same configuration (bench/gen_kineto.py, the
                  make_diff_pairs.py model: 2 layers, seq 4096, 2% step-to-step jitter) with
                  seeds 1000 + 2i and 1001 + 2i: every exit 1 is a false alarm
  slow pairs      N pairs where the candidate's matrix multiplications (make_diff_pairs.py's
                  MATMUL_OP) are 1.3x slower (about +15% per step): every exit 1 is a detection
  shared traces   each run of ../shared/traces/{torch-cpu/*,hta/trace_compare/*} against itself
                  and the trace_compare pair both ways (when the folder is there)

Prints one line per group (pairs, exit 1, exit 0, other) and the verdicts' reasons. Output is
deterministic (fixed seeds); 20 pairs take about a minute on two cores.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "bench", "gen_kineto.py")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from make_diff_pairs import COMMON, MATMUL_OP, MATMUL_FACTOR  # noqa: E402


JITTER = [COMMON[COMMON.index("--jitter") + 1]]


def generate(out, steps, seed, extra):
    common = list(COMMON)
    common[common.index("--jitter") + 1] = JITTER[0]
    if not os.path.isdir(out):
        subprocess.run([sys.executable, GEN] + common + ["--world-size", "1", "--steps", str(steps), "--seed", str(seed),
                        "--ranks-dir", out] + extra, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return out


def diff(binary, base, cand):
    r = subprocess.run([binary, "diff", base, cand, "--format", "json"], capture_output=True, text=True)
    outcome = "-"
    try:
        doc = json.loads(r.stdout)
        outcome = doc.get("call_decision", {}).get("outcome", "steps")
    except ValueError:
        pass
    return r.returncode, outcome


def report(name, results):
    codes = [c for c, _ in results]
    reasons = {}
    for _, o in results:
        reasons[o] = reasons.get(o, 0) + 1
    print("%-14s %3d pairs: exit 1 %3d (%5.1f%%), exit 0 %3d, other %d; outcomes %s" % (
        name, len(results), codes.count(1), 100.0 * codes.count(1) / max(1, len(results)), codes.count(0),
        len(results) - codes.count(0) - codes.count(1), json.dumps(reasons, sort_keys=True)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stepscope", default=os.path.join(ROOT, ".build", "debug", "stepscope"))
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--jitter", default=JITTER[0], help="per-step noise of the runs (default: make_diff_pairs.py's)")
    ap.add_argument("--keep", help="write the runs here and keep them (else a temporary folder)")
    a = ap.parse_args()
    JITTER[0] = a.jitter
    work = a.keep or tempfile.mkdtemp(prefix="stepscope-false-alarms-")
    os.makedirs(work, exist_ok=True)
    with ThreadPoolExecutor(a.jobs) as pool:
        def run(seed, extra, tag):
            return pool.submit(generate, os.path.join(work, "%s%d_j%s_s%d" % (tag, a.steps, a.jitter, seed)), a.steps, seed, extra)
        slow = ["--slow-op", MATMUL_OP, "--slow-factor", str(MATMUL_FACTOR)]
        noise = [(run(1000 + 2 * i, [], "run"), run(1001 + 2 * i, [], "run")) for i in range(a.pairs)]
        slowed = [(run(1000 + 2 * i, [], "run"), run(3001 + 2 * i, slow, "slow")) for i in range(a.pairs)]
        noise = [(b.result(), c.result()) for b, c in noise]
        slowed = [(b.result(), c.result()) for b, c in slowed]
        report("noise", list(pool.map(lambda p: diff(a.stepscope, *p), noise)))
        report("slow x%.2g" % MATMUL_FACTOR, list(pool.map(lambda p: diff(a.stepscope, *p), slowed)))
    shared = os.path.join(ROOT, "..", "shared", "traces")
    runs = [os.path.join(shared, d) for d in ["torch-cpu/single", "torch-cpu/ddp_ws2_straggler",
                                              "hta/trace_compare/base", "hta/trace_compare/test"]]
    runs = [r for r in runs if os.path.isdir(r)]
    if runs:
        report("shared, self", [diff(a.stepscope, r, r) for r in runs])
        tc = [r for r in runs if "trace_compare" in r]
        if len(tc) == 2:
            report("trace_compare", [diff(a.stepscope, tc[0], tc[1]), diff(a.stepscope, tc[1], tc[0])])
    else:
        print("shared traces: ../shared/traces is absent, skipped")
    if not a.keep:
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
