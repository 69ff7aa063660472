#!/usr/bin/env python3
"""Write an N-rank data-parallel run (one Kineto trace per rank) for the map/reduce benchmark and
the scheduler test (docs/scale.md).

Each rank's trace: `--steps` ProfilerStep#k on the main thread, each holding `forward`, `backward`
and `optimizer` annotations with cpu_op / cudaLaunchKernel pairs and the kernels they launch on
stream 7 (about `--ops` per step; the size per rank grows with it: ~0.45 MB per 100 ops and
step), then `--buckets` NCCL all-reduces of the whole world (group "0", Seq numbered) on stream
24, then one exchange with its neighbour (group "pp<k>" for ranks 2k and 2k+1, 2 ranks).

What it plants:
  slow ranks   `--slow-ranks` (default: one straggler, rank N*3//4 + 1) run their compute
               `--slow-factor` (1.3) times slower, so every other rank waits for them at the
               first all-reduce of each step: each is the straggler of the steps it is slowest in;
  slow link    the exchange of pair `--slow-link` (default N//2 - 2, i.e. ranks N-4 and N-3,
               group "pp<k>") takes `--link-factor` (8) times longer for the same bytes: its bus
               bandwidth is the outlier among the pairs';
  hosts        8 ranks per host (`host_name` node<h>), each host's clock skewed by h * 37 us, so
               the reduce aligns clocks on collective ends.

Usage:
  python3 bench/gen_cluster.py --ranks 64 --out /tmp/run64          # /tmp/run64/rank{r}.pt.trace.json
  python3 bench/gen_cluster.py --ranks 1024 --ops 600 --out /tmp/run1024
"""

import argparse
import os
import random

MS = 1_000_000  # ns


def us(ns):
    return "%d.%03d" % divmod(ns, 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranks", type=int, default=64)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--ops", type=int, default=600, help="operators per step")
    ap.add_argument("--buckets", type=int, default=4, help="all-reduce buckets per step")
    ap.add_argument("--slow-ranks", type=str, default=None, help="comma-separated ranks (default N*3//4+1)")
    ap.add_argument("--slow-factor", type=float, default=1.3)
    ap.add_argument("--slow-link", type=int, default=None, help="pair index k (ranks 2k, 2k+1); default N//2-2")
    ap.add_argument("--link-factor", type=float, default=8.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    n = a.ranks
    slow = {int(x) for x in a.slow_ranks.split(",")} if a.slow_ranks else {n * 3 // 4 + 1}
    link = a.slow_link if a.slow_link is not None else max(0, n // 2 - 2)
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)
    base = 1_795_000_000_000_000_000
    op_ns = 120_000  # one operator's CPU time
    kernel_ns = 100_000
    bucket_bytes = 25 << 20
    pair_bytes = 8 << 20
    # Per step and rank: compute time (the same schedule for every rank, jittered).
    compute = [[int(a.ops * op_ns * (a.slow_factor if r in slow else 1.0) * rng.gauss(1.0, 0.01)) for r in range(n)]
               for _ in range(a.steps)]
    step_start = [0] * n
    events = [[] for _ in range(n)]
    for s in range(a.steps):
        # Arrivals at the first bucket: each rank's compute end; every bucket ends together.
        arrive = [step_start[r] + compute[s][r] for r in range(n)]
        last = max(arrive)
        ends = []
        t = last
        for b in range(a.buckets):
            t += 2_000_000  # 2 ms per bucket once everyone is there
            ends.append(t)
        pair_start = t + 100_000
        pair_dur = [int(400_000 * (a.link_factor if r // 2 == link else 1.0)) for r in range(n)]
        step_end = [pair_start + max(pair_dur[r], pair_dur[r ^ 1] if (r ^ 1) < n else 0) + 200_000 for r in range(n)]
        for r in range(n):
            ev = events[r]
            st = step_start[r]
            ev.append(x("ProfilerStep#%d" % (s + 1), "user_annotation", st, step_end[r] - st, 1, 1))
            per = compute[s][r] // a.ops
            thirds = [("forward", 0, a.ops // 3), ("backward", a.ops // 3, 2 * a.ops // 3), ("optimizer", 2 * a.ops // 3, a.ops)]
            for phase, lo, hi in thirds:
                ev.append(x(phase, "user_annotation", st + lo * per + 1_000, (hi - lo) * per - 2_000, 1, 1))
                for k in range(lo, hi):
                    o = st + k * per + 2_000
                    corr = (s * a.ops + k) * 2 + 1
                    name = ("aten::mm", "aten::add", "aten::gelu", "aten::layer_norm")[k % 4]
                    ev.append(x(name, "cpu_op", o, per - 6_000, 1, 1, '"Input Dims": [[4, 2048], [2048, 2048]]'))
                    ev.append(x("cudaLaunchKernel", "cuda_runtime", o + 1_000, 3_000, 1, 1, '"correlation": %d' % corr))
                    ev.append(x("void gemm_kernel_%d<float>(float*)" % (k % 4), "kernel", o + 5_000, min(kernel_ns, per - 8_000), 0, 7,
                                '"correlation": %d' % corr))
            for b in range(a.buckets):
                start = arrive[r] if b == 0 else ends[b - 1]
                ev.append(x("ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevComm*, unsigned long, ncclWork*)", "kernel", start,
                            ends[b] - start, 0, 24,
                            '"Collective name": "allreduce", "Process Group Name": "0", "Group size": %d, "dtype": "Float", '
                            '"In msg nelems": %d, "Out msg nelems": %d, "Seq": %d' % (n, bucket_bytes // 4, bucket_bytes // 4, s * a.buckets + b + 1)))
            if (r ^ 1) < n:
                ev.append(x("ncclDevKernel_SendRecv(ncclDevComm*, unsigned long, ncclWork*)", "kernel", pair_start, pair_dur[r], 0, 24,
                            '"Collective name": "send_recv", "Process Group Name": "pp%d", "Group size": 2, "dtype": "Float", '
                            '"In msg nelems": %d, "Out msg nelems": %d, "Seq": %d' % (r // 2, pair_bytes // 4, pair_bytes // 4, s + 1)))
            step_start[r] = step_end[r] + 50_000
    for r in range(n):
        host = r // 8
        skew = host * 37_000
        body = ",\n".join(events[r])
        head = ('{"schemaVersion": 1, "distributedInfo": {"backend": "nccl", "rank": %d, "world_size": %d}, '
                '"host_name": "node%d", "baseTimeNanoseconds": %d, "traceEvents": [\n' % (r, n, host, base + skew))
        with open(os.path.join(a.out, "rank%d.pt.trace.json" % r), "w") as f:
            f.write(head + body + "\n]}\n")


def x(name, cat, ts, dur, pid, tid, args=""):
    return ('{"ph": "X", "cat": "%s", "name": "%s", "pid": %d, "tid": %d, "ts": %s, "dur": %s%s}'
            % (cat, name, pid, tid, us(ts), us(dur), (', "args": {%s}' % args) if args else ""))


if __name__ == "__main__":
    main()
