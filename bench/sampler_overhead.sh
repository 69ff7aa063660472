#!/usr/bin/env bash
# Overhead of sampling on the target's own throughput: no sampler, stepscope record and py-spy
# record at the same rate and mode, interleaved in one run.
#   bench/sampler_overhead.sh [torch|python (default torch)] [ROUNDS (default 5)] [RATE (default 100)]
# Needs py-spy on PATH (pip install py-spy) and, for the torch workload, torch.
set -euo pipefail
cd "$(dirname "$0")/.."
workload="${1:-torch}"
rounds="${2:-5}"
rate="${3:-100}"
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release --product stepscope >/dev/null
bin=.build/release/stepscope
[ -x "$bin" ] || { echo "missing $bin" >&2; exit 1; }
command -v py-spy >/dev/null || { echo "py-spy not found: pip install py-spy" >&2; exit 1; }
# The real interpreter, not a pyenv shim (a shim is a bash process whose child is Python).
python=$(python3 -c 'import sys; print(sys.executable)')
python3 - "$bin" "$python" "$workload" "$rounds" "$rate" <<'PY'
import os, signal, statistics, subprocess, sys, time

binary, python, workload, rounds, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
WARMUP, MEASURE = 3.0, 10.0
target = os.path.join("bench", "sampler_target.py")
modes = {
    "baseline": None,
    "stepscope": [binary, "record", "--rate", rate, "-o", "/dev/null", "--pid"],
    "py-spy --nonblocking": ["py-spy", "record", "--nonblocking", "-r", rate, "-o", "/dev/null", "-f", "raw", "-p"],
    "py-spy": ["py-spy", "record", "-r", rate, "-o", "/dev/null", "-f", "raw", "-p"],
    "stepscope --native": [binary, "record", "--native", "--rate", rate, "-o", "/dev/null", "--pid"],
    "py-spy --native": ["py-spy", "record", "--native", "-r", rate, "-o", "/dev/null", "-f", "raw", "-p"],
}
results = {m: [] for m in modes}
for r in range(rounds):
    for mode, sampler in modes.items():
        t = subprocess.Popen([python, target, workload, str(WARMUP), str(MEASURE)], stdout=subprocess.PIPE, text=True)
        assert t.stdout.readline().strip() == "ready"
        s = None
        if sampler:
            s = subprocess.Popen(sampler + [str(t.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out = t.stdout.read()
        t.wait()
        if s:
            if s.poll() is None:
                s.send_signal(signal.SIGINT)
            try:
                s.wait(timeout=30)
            except subprocess.TimeoutExpired:
                s.kill()
        value = float(out.split()[-1])
        results[mode].append(value)
        print(f"round {r + 1} {mode:<22} {value:10.3f} steps/s", file=sys.stderr, flush=True)
base = statistics.mean(results["baseline"])
print(f"workload {workload}, {rounds} rounds interleaved, {rate} Hz, {MEASURE:.0f} s measured per run")
print(f"{'mode':<22} {'steps/s':>10} {'sd':>8} {'overhead':>9}")
for mode, values in results.items():
    mean = statistics.mean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    print(f"{mode:<22} {mean:10.3f} {sd:8.3f} {100 * (1 - mean / base):8.1f}%")
PY
