#!/usr/bin/env bash
# Multi-rank load: a directory of 8 rank files, loaded side by side (default) vs one by one.
#   bench/ranks_parallel.sh [SIZE_MB_PER_RANK (default 40)]
# Prints best-of-3 wall seconds and peak RSS for:
#   side by side   stepscope report DIR --format json            (one rank file per core)
#   one by one     stepscope report DIR --format json --jobs 1   (each file still uses 2 cores)
#   one core       taskset -c 0 ... --jobs 1                     (strictly one at a time)
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-40}"
dir="bench/.cache/ranks8_${size}mb"
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product stepscope >/dev/null
bin=.build/release/stepscope
[ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
if [ ! -d "$dir" ]; then
  python3 bench/gen_kineto.py --ranks-dir "$dir" --world-size 8 --size-mb "$size" --quiet
fi
best() {  # best-of-3 "seconds rss_mib" of a command
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
best = None
for _ in range(3):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    best = wall if best is None else min(best, wall)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{best:.3f} {rss:.1f}")
PY
}
read -r par par_rss < <(best "$bin" report "$dir" --format json)
read -r seq seq_rss < <(best "$bin" report "$dir" --format json --jobs 1)
read -r one one_rss < <(best taskset -c 0 "$bin" report "$dir" --format json --jobs 1)
python3 - "$dir" "$par" "$par_rss" "$seq" "$seq_rss" "$one" "$one_rss" <<'PY'
import glob, os, sys
d, par, par_rss, seq, seq_rss, one, one_rss = sys.argv[1], *map(float, sys.argv[2:])
total = sum(os.path.getsize(f) for f in glob.glob(d + "/*.json")) / 1e6
print(f"{d}: 8 ranks, {total:.1f} MB in all")
print(f"{'run':<14} {'wall s':>8} {'MB/s':>8} {'peak RSS MiB':>13}")
for name, wall, rss in [("side-by-side", par, par_rss), ("one-by-one", seq, seq_rss), ("one-core", one, one_rss)]:
    print(f"{name:<14} {wall:>8.3f} {total / wall:>8.1f} {rss:>13.1f}")
print(f"side by side vs one core, one by one: {one / par:.2f}x; vs one by one (2 cores per file): {seq / par:.2f}x")
PY
