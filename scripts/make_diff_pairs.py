#!/usr/bin/env python3
"""Write pairs of runs for `stepscope diff`: realistic Kineto GPU traces (bench/gen_kineto.py).

  python3 scripts/make_diff_pairs.py --out DIR

writes one run per directory (a gzipped rank file each, ~0.75 MB of JSON per step), so that
`stepscope diff DIR/base DIR/<run>` exercises one case:

  base/         the reference: a 2-layer GPT-style model (seq 4096, batch 2) on one GPU, 12
                steps, 2% step-to-step jitter (seed 3)
  same/         the same configuration with another seed: noise only, should pass
  slow_op/      attention made SLOW_FACTOR (1.3) times slower: every op matching SLOW_OP
                (aten::scaled_dot_product_attention and its flash-attention forward and backward
                ops) with its child ops, runtime calls and GPU kernels; about 6-7% of a step
  more_steps/   the base configuration with 16 steps
  warmup/       the base configuration with 2 extra leading warm-up steps 3x slower (14 steps)
  batch4/       the base configuration with batch 4: every input shape changes, steps get longer
  ranks2_base/, ranks2_same/
                a 2-rank DDP run (rank 1 is a 1.25x straggler) twice, with different seeds
  base3/, same3/
                3 steps each (PyTorch's documented schedule wait=1, warmup=1, active=3), the
                base configuration with two seeds: noise only, should pass
  slow3/        3 steps, the matrix multiplications (MATMUL_OP) MATMUL_FACTOR (1.3) times
                slower with their GPU kernels: the step about 15% slower, should fail
  hidden3/      3 steps with hidden size (--d-model) 3072 instead of 2048: one structural change

DIR/manifest.json records each run's generator arguments and the slowed operators. Output is
deterministic (fixed seeds, gzip without timestamps) and takes a few seconds.
"""

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GEN = os.path.join(ROOT, "bench", "gen_kineto.py")

SLOW_OP = "scaled_dot_product"
SLOW_FACTOR = 1.3
WARMUP_STEPS = 2
MATMUL_OP = "aten::(mm|addmm|bmm|linear|matmul)"
MATMUL_FACTOR = 1.3

# Model and noise shared by every run. 2 layers keep the traces small; seq 4096 makes attention
# a visible share of the step (as in long-context training); jitter 0.02 = 2% per-step noise.
COMMON = ["--layers", "2", "--seq-len", "4096", "--batch", "2", "--jitter", "0.02", "--gzip", "--quiet"]

# Seeds are fixed for determinism; these give typical noise pairs in both directions. (Not every
# pair of seeds does at alpha = 0.05: seeds 1 vs 0, for one, differ by chance in the small "idle"
# phase, 0.5 vs 1.0 ms of a 34 ms step, which `stepscope diff` reports as a regression.)
RUNS = [
    # name, world size, steps, seed, extra arguments
    ("base", 1, 12, 3, []),
    ("same", 1, 12, 5, []),
    ("slow_op", 1, 12, 7, ["--slow-op", SLOW_OP, "--slow-factor", str(SLOW_FACTOR)]),
    ("more_steps", 1, 16, 6, []),
    ("warmup", 1, 12 + WARMUP_STEPS, 4, ["--warmup-steps", str(WARMUP_STEPS), "--warmup-factor", "3"]),
    ("batch4", 1, 12, 10, ["--batch", "4"]),
    ("ranks2_base", 2, 12, 8, []),
    ("ranks2_same", 2, 12, 9, []),
    ("base3", 1, 3, 3, []),
    ("same3", 1, 3, 5, []),
    ("slow3", 1, 3, 7, ["--slow-op", MATMUL_OP, "--slow-factor", str(MATMUL_FACTOR)]),
    ("hidden3", 1, 3, 11, ["--d-model", "3072"]),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory to write the runs into (created)")
    ap.add_argument("--only", nargs="*", help="write only these runs")
    a = ap.parse_args()

    t0 = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    manifest = {"generator": "bench/gen_kineto.py", "common": COMMON, "slow_op": SLOW_OP,
                "slow_factor": SLOW_FACTOR, "warmup_steps": WARMUP_STEPS, "runs": {}}
    procs = []
    for name, world, steps, seed, extra in RUNS:
        if a.only and name not in a.only:
            continue
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.endswith(".pt.trace.json.gz"):
                os.unlink(os.path.join(d, f))
        args = COMMON + ["--world-size", str(world), "--steps", str(steps), "--seed", str(seed)] + extra
        manifest["runs"][name] = {"world_size": world, "steps": steps, "seed": seed, "args": args + ["--ranks-dir", name]}
        args += ["--ranks-dir", d]
        procs.append((name, subprocess.Popen([sys.executable, GEN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)))
        # two at a time (the generator is single-threaded)
        if len(procs) >= 2:
            wait(procs.pop(0))
    for p in procs:
        wait(p)
    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    print("make_diff_pairs: %d run(s) in %s in %.1f s" % (len(manifest["runs"]), a.out, time.perf_counter() - t0),
          file=sys.stderr)


def wait(item):
    name, p = item
    out, err = p.communicate()
    if p.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        sys.exit("make_diff_pairs: generating %s failed (exit %d)" % (name, p.returncode))


if __name__ == "__main__":
    main()
