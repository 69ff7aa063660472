#!/usr/bin/env python3
"""Map/reduce benchmark (docs/scale.md, docs/performance.md): for each N, a generated N-rank run
(bench/gen_cluster.py, in bench/.cache/cluster<N>/ unless there), mapped 2 rank files at a time
(`stepscope summary FILE -o S`), then reduced once as JSON and once as text from the folder of
summaries. Prints per N: trace MB per rank, map seconds per rank (mean and max of the single
runs) and the map's wall time, summary KB per rank and its ratio to the trace, the reduce's wall
seconds and peak RSS (each run's own, from wait4), and whether the text report names the planted
straggler and slow link.

  swift build -c release --product stepscope
  python3 bench/scale_map_reduce.py 64 256 1024
"""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, ".build/release/stepscope")


def timed(args, stdout=subprocess.DEVNULL):
    """Runs args; returns (wall seconds, peak RSS MiB)."""
    t = time.monotonic()
    p = subprocess.Popen(args, stdout=stdout)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    if status != 0:
        sys.exit("failed: %s" % " ".join(args))
    return wall, usage.ru_maxrss / 1024


def main():
    for n in [int(a) for a in sys.argv[1:]] or [64, 256, 1024]:
        run = os.path.join(ROOT, "bench/.cache/cluster%d" % n)
        if not os.path.isdir(run):
            subprocess.run([sys.executable, os.path.join(ROOT, "bench/gen_cluster.py"), "--ranks", str(n), "--out", run], check=True)
        out = os.path.join(ROOT, "bench/.cache/cluster%d-summaries" % n)
        os.makedirs(out, exist_ok=True)
        for f in os.listdir(out):
            os.unlink(os.path.join(out, f))
        files = sorted(os.path.join(run, f) for f in os.listdir(run))
        t = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            maps = list(pool.map(lambda i: timed([BIN, "summary", files[i], "-o", os.path.join(out, "%06d.summary.json" % i)]),
                                 range(len(files))))
        map_wall = time.monotonic() - t
        trace_mb = sum(os.path.getsize(f) for f in files) / 1e6 / n
        summary_kb = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)) / 1e3 / n
        json_wall, json_rss = timed([BIN, "report", out, "--format", "json", "-o", "/dev/null"])
        text_path = out + ".txt"
        text_wall, text_rss = timed([BIN, "report", out, "-o", text_path])
        text = open(text_path).read()
        straggler = n * 3 // 4 + 1
        pair = max(0, n // 2 - 2)
        found_straggler = ("rank %d late by" % straggler) in text
        found_link = ("group pp%d (ranks %d, %d)" % (pair, 2 * pair, 2 * pair + 1)) in text
        print("N=%d: trace %.2f MB/rank; map %.3f s/rank mean, %.3f s max, %.1f s wall (2 at a time); "
              "summary %.1f KB/rank (%.2f%% of the trace); reduce json %.2f s %.0f MiB, text %.2f s %.0f MiB; "
              "straggler %s, slow link %s"
              % (n, trace_mb, sum(m[0] for m in maps) / n, max(m[0] for m in maps), map_wall, summary_kb,
                 100 * summary_kb / 1e3 / trace_mb, json_wall, json_rss, text_wall, text_rss,
                 "found" if found_straggler else "MISSED", "found" if found_link else "MISSED"), flush=True)


if __name__ == "__main__":
    main()
