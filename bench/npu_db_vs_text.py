#!/usr/bin/env python3
"""`stepscope report` on a torch_npu db export and on the text export of the same rows, side by side.

  python3 bench/gen_npu_trace.py --size-mb 1200 /tmp/npu/text/rank0_ascend_pt/ASCEND_PROFILER_OUTPUT/trace_view.json
  python3 bench/gen_npu_db.py --size-mb 1200 /tmp/npu/db
  python3 bench/npu_db_vs_text.py --text /tmp/npu/text --db /tmp/npu/db [--rounds 3] [--bin .build/release/stepscope]

Each round runs `/usr/bin/time -v BIN report DIR --format json` on both inputs (the order flips
every round, so the machine's drift hits both alike) and reads wall, user and system seconds and
the peak RSS from GNU time. Prints per input the best and median wall, the least user and system
time, the largest peak RSS, the file size, MB/s of the best wall and of the least user time, and
peak RSS per MB; then checks that the two reports agree on what the same rows must give (the
steps, the device breakdown, the kernel table, the memory peaks).
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess
import sys


def measure(binary, path):
    p = subprocess.run(["/usr/bin/time", "-v", binary, "report", path, "--format", "json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("failed: %s on %s: %s" % (binary, path, p.stderr[-500:]))
    def field(name):
        return re.search(r"%s: (.+)" % re.escape(name), p.stderr).group(1)
    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    seconds = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall)))
    return {"wall": seconds, "user": float(field("User time (seconds)")), "sys": float(field("System time (seconds)")),
            "rss": int(field("Maximum resident set size (kbytes)")) / 1024}, p.stdout


def export_size(path):
    files = glob.glob(os.path.join(path, "**", "trace_view.json"), recursive=True) \
        + glob.glob(os.path.join(path, "**", "ascend_pytorch_profiler*.db"), recursive=True)
    return sum(os.path.getsize(f) for f in files) / 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--text", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--bin", default=".build/release/stepscope")
    a = p.parse_args()
    inputs = [("text", a.text), ("db", a.db)]
    runs = {name: [] for name, _ in inputs}
    reports = {}
    for r in range(a.rounds):
        for name, path in (inputs if r % 2 == 0 else inputs[::-1]):
            m, out = measure(a.bin, path)
            runs[name].append(m)
            reports[name] = out
            print("round %d %-4s wall %.2f s user %.2f s sys %.2f s rss %.0f MiB" % (r + 1, name, m["wall"], m["user"], m["sys"], m["rss"]),
                  file=sys.stderr)
    print("| export | file MB | best wall s | median wall s | least user s | least sys s | MB/s (wall) | MB/s (user) | peak RSS MiB | RSS MiB / MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, path in inputs:
        ms, size = runs[name], export_size(path)
        best, user = min(m["wall"] for m in ms), min(m["user"] for m in ms)
        rss = max(m["rss"] for m in ms)
        print("| %s | %.1f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %.2f |" % (
            name, size, best, statistics.median(m["wall"] for m in ms), user, min(m["sys"] for m in ms), size / best, size / user,
            rss, rss / size))
    t, d = (json.loads(reports[n])["ranks"][0] for n in ("text", "db"))
    for key in ["steps", "device", "kernels"]:
        print("%s: %s" % (key, "equal" if t[key] == d[key] else "DIFFERENT"))
    print("memory peaks: %s" % ("equal" if [m["peak_bytes"] for m in t["memory"]] == [m["peak_bytes"] for m in d["memory"]] else "DIFFERENT"))


if __name__ == "__main__":
    main()
