#!/usr/bin/env bash
# Overhead of sampling on the target's own throughput, measured inside one target process: the
# sampler is switched on and off in alternating windows and the target's steps per second are
# compared between the two (runs of the same program differ by more than the effect measured,
# windows of one run do not). stepscope record and py-spy record, same rate and mode, in one run.
#   bench/sampler_overhead.sh [torch|python (default torch)] [WINDOWS (default 5)] [RATE (default 100)]
# Needs py-spy on PATH (pip install py-spy) and, for the torch workload, torch.
set -euo pipefail
cd "$(dirname "$0")/.."
workload="${1:-torch}"
windows="${2:-5}"
rate="${3:-100}"
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product stepscope >/dev/null
bin=.build/release/stepscope
[ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
command -v py-spy >/dev/null || { echo "py-spy not found: pip install py-spy" >&2; exit 1; }
# The real interpreter, not a pyenv shim (a shim is a bash process whose child is Python).
python=$(python3 -c 'import sys; print(sys.executable)')
python3 - "$bin" "$python" "$workload" "$windows" "$rate" <<'PY'
import os, statistics, subprocess, sys, threading, time

binary, python, workload, windows, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
WINDOW = 4.0  # seconds on, then as long off
modes = {
    "stepscope": [binary, "record", "--rate", rate, "-o", "/dev/null", "--duration", str(WINDOW), "--pid"],
    "py-spy --nonblocking": ["py-spy", "record", "--nonblocking", "-r", rate, "-o", "/dev/null", "-f", "raw", "-d", str(int(WINDOW)), "-p"],
    "py-spy": ["py-spy", "record", "-r", rate, "-o", "/dev/null", "-f", "raw", "-d", str(int(WINDOW)), "-p"],
    "stepscope --native": [binary, "record", "--native", "--rate", rate, "-o", "/dev/null", "--duration", str(WINDOW), "--pid"],
    "py-spy --native": ["py-spy", "record", "--native", "-r", rate, "-o", "/dev/null", "-f", "raw", "-d", str(int(WINDOW)), "-p"],
}
target = subprocess.Popen([python, os.path.join("bench", "sampler_target.py"), workload],
                          stdout=subprocess.PIPE, text=True)
assert target.stdout.readline().strip() == "ready"
ticks = []  # (monotonic time, total steps) from the target, 10 a second

def read_ticks():
    for line in target.stdout:
        fields = line.split()
        if len(fields) == 2:
            ticks.append((float(fields[0]), float(fields[1])))

threading.Thread(target=read_ticks, daemon=True).start()
time.sleep(4)  # warm-up

def steps_between(t0, t1):
    inside = [(t, n) for t, n in ticks if t0 <= t <= t1]
    return (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]) if len(inside) > 2 else None

results = {}
for mode, command in modes.items():
    on, off = [], []
    for w in range(windows):
        # Both print a line once sampling starts, after attaching (py-spy on stdout, stepscope on stderr).
        sampler = subprocess.Popen(command + [str(target.pid)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sampler.stdout.readline()
        start = time.monotonic()
        sampler.communicate()
        end = time.monotonic()
        time.sleep(WINDOW + 0.5)
        # Leave 0.5 s at each edge out: attach and detach are not part of steady sampling.
        a, b = steps_between(start + 0.5, end - 0.5), steps_between(end + 0.5, time.monotonic() - 0.5)
        print(f"{mode:<22} window {w + 1}: on {a}  off {b} steps/s ({end - start:.1f} s on)", file=sys.stderr, flush=True)
        if a is not None and b is not None:
            on.append(a)
            off.append(b)
    results[mode] = (on, off)
target.kill()
print(f"workload {workload}, {rate} Hz, {windows} windows of {WINDOW:.0f} s on / {WINDOW:.0f} s off per mode, one target process")
# Per window pair: overhead = 1 - on/off. The median resists the machine's own swings (a busy
# neighbour can halve throughput for a few seconds); mean and sd are shown beside it.
print(f"{'mode':<22} {'on steps/s':>11} {'off steps/s':>12} {'median':>8} {'mean':>7} {'sd':>6}")
for mode, (on, off) in results.items():
    ratios = [100 * (1 - a / b) for a, b in zip(on, off)]
    sd = statistics.stdev(ratios) if len(ratios) > 1 else 0.0
    print(f"{mode:<22} {statistics.mean(on):11.2f} {statistics.mean(off):12.2f} {statistics.median(ratios):7.1f}% "
          f"{statistics.mean(ratios):6.1f}% {sd:5.1f}")
PY
