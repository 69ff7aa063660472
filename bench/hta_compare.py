#!/usr/bin/env python3
"""Compare stepscope's GPU time breakdown with Holistic Trace Analysis (HTA).

Usage (needs HTA; see docs/hta-comparison.md for the set-up and for how to read the table):

    python -m venv /tmp/hta-venv
    /tmp/hta-venv/bin/pip install holistictraceanalysis psutil 'pandas<3'
    swift build -c release
    /tmp/hta-venv/bin/python bench/hta_compare.py TRACE.json.gz [TRACE ...]

Options: --stepscope PATH (default .build/release/stepscope), --json (raw numbers instead of
markdown), --keep (keep the temporary folders and print where they are).

For every trace file (one rank), four columns, all in microseconds:

  hta          HTA as a user runs it: TraceAnalysis(trace_dir) on a folder holding only this
               file; get_temporal_breakdown() and get_idle_time_breakdown(ranks=[rank]) with
               their defaults (ns timestamps rounded to whole us, consecutive_kernel_delay=30).
  hta-aligned  the same with HTA_DISABLE_NS_ROUNDING=1 and consecutive_kernel_delay=10, so that
               HTA's timestamps and kernel-wait threshold match stepscope's.
  ss@hta       stepscope over exactly HTA's window: the trace is copied with its ProfilerStep#
               slices renamed and one synthetic step, ProfilerStep#0, on a thread of its own,
               spanning first start to last end of the GPU rows hta-aligned used (the rows with
               a stream). Numbers are stepscope's, from `report --format json`.
  ss-steps     stepscope as a user runs it: ranks[0].gpu of `report --format json`, i.e. summed
               over the rank's ProfilerSteps (or over the whole trace without ProfilerSteps).

Only the Python standard library and HTA are used; stepscope runs as a subprocess.
"""

import argparse
import contextlib
import gzip
import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV_ROUNDING = "HTA_DISABLE_NS_ROUNDING"
# A tid no real trace uses, for the synthetic step thread.
WINDOW_TID = 2147483000


def read_text(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return f.read().decode("utf-8")


@contextlib.contextmanager
def quiet():
    """HTA logs and prints a lot; keep the table readable."""
    logging.disable(logging.WARNING)
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield
    finally:
        logging.disable(logging.NOTSET)


def run_hta(folder, disable_rounding, kernel_delay):
    """HTA's temporal and idle-time breakdowns of the one rank in `folder` (microseconds)."""
    from hta.trace_analysis import TraceAnalysis  # imported late: --help works without HTA

    old = os.environ.get(ENV_ROUNDING)
    os.environ[ENV_ROUNDING] = "1" if disable_rounding else "0"
    res = {}
    try:
        with quiet():
            analyzer = TraceAnalysis(trace_dir=folder)
            rank = sorted(analyzer.t.traces)[0]
            df = analyzer.t.get_trace(rank)
            gpu = df[df["stream"].ne(-1)]
            sym = analyzer.t.symbol_table.get_sym_table()
            res["rank"] = int(rank)
            res["gpu_rows"] = int(len(gpu))
            res["row_categories"] = {sym[c]: int(n) for c, n in gpu["cat"].value_counts().items()}
            res["streams"] = sorted(int(s) for s in gpu["stream"].unique())
            # The rows behind HTA's window, as positions in traceEvents (JSON parser backend).
            res["_gpu_event_index"] = [int(i) for i in gpu["index"]]
            try:
                tb = analyzer.get_temporal_breakdown(visualize=False).iloc[0]
                res["window"] = float(tb["kernel_time(us)"])
                res["idle"] = float(tb["idle_time(us)"])
                res["compute"] = float(tb["compute_time(us)"])
                res["non_compute"] = float(tb["non_compute_time(us)"])
            except Exception as e:  # HTA asserts on some traces
                res["temporal_error"] = type(e).__name__
            try:
                idle, _ = analyzer.get_idle_time_breakdown(
                    ranks=[rank], visualize=False, consecutive_kernel_delay=kernel_delay)
                by_cat = idle.groupby("idle_category")["idle_time"].sum()
                for cat in ("host_wait", "kernel_wait", "other"):
                    res["idle_" + cat] = float(by_cat.get(cat, 0.0))
                res["idle_streams_total"] = float(idle["idle_time"].sum())
            except Exception as e:
                res["idle_error"] = type(e).__name__
    finally:
        if old is None:
            os.environ.pop(ENV_ROUNDING, None)
        else:
            os.environ[ENV_ROUNDING] = old
    return res


def run_stepscope(binary, path):
    out = subprocess.run([binary, "report", path, "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    rank = json.loads(out)["ranks"][0]
    gpu = rank["gpu"] or {}
    steps = rank["steps"]
    us = lambda ns: ns / 1000.0
    res = {
        "rank": rank["rank"],
        "steps": len(steps),
        "step_names": [s["name"] for s in steps],
        "step_bounds_ns": [[s["start_ns"], s["start_ns"] + s["dur_ns"]] for s in steps],
        "window": us(sum(s["dur_ns"] for s in steps)),
    }
    if gpu:
        res.update({
            "busy": us(gpu["busy_ns"]), "idle": us(gpu["idle_ns"]),
            "compute": us(gpu["compute_ns"]),
            "non_compute": us(gpu["comm_ns"] + gpu["memcpy_ns"] + gpu["memset_ns"]),
            "comm": us(gpu["comm_ns"]), "memcpy": us(gpu["memcpy_ns"]),
            "memset": us(gpu["memset_ns"]),
        })
        for cause, ns in gpu["idle_by_cause"].items():
            res["idle_" + cause] = us(ns)
    return res


def window_of(path, event_index):
    """First start and last end, as exact decimal text in the trace's own us, of the given
    traceEvents positions."""
    doc = json.loads(read_text(path), parse_float=Decimal)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    lo = hi = None
    for i in event_index:
        e = events[i]
        ts, dur = Decimal(e["ts"]), Decimal(e.get("dur", 0))
        lo = ts if lo is None or ts < lo else lo
        hi = ts + dur if hi is None or ts + dur > hi else hi
    # A pid of the CPU side for the synthetic thread: the first cpu_op's or annotation's.
    pid = next((e["pid"] for e in events if e.get("ph") == "X"
                and e.get("cat") in ("cpu_op", "user_annotation", "Operator")), 0)
    return lo, hi, pid


def windowed_copy(src, dst, lo, hi, pid):
    """Copy of `src` whose only step is [lo, hi): ProfilerStep# slices renamed, one synthetic
    ProfilerStep#0 on a thread of its own. Text edits only, so every number keeps its digits."""
    text = read_text(src).replace('"ProfilerStep#', '"HiddenProfilerStep#')
    step = json.dumps({"ph": "X", "cat": "user_annotation", "name": "ProfilerStep#0",
                       "pid": pid, "tid": WINDOW_TID, "ts": "TS", "dur": "DUR"})
    step = step.replace('"TS"', format(lo, "f")).replace('"DUR"', format(hi - lo, "f"))
    meta = json.dumps({"ph": "M", "name": "thread_name", "pid": pid, "tid": WINDOW_TID,
                       "args": {"name": "hta window"}})
    m = re.search(r'"traceEvents"\s*:\s*\[', text) or re.match(r"\s*\[", text)
    if m is None:
        raise ValueError(f"{src}: no traceEvents array")
    text = text[:m.end()] + step + "," + meta + "," + text[m.end():]
    with open(dst, "w", encoding="utf-8") as f:
        f.write(text)


def compare(path, binary, keep):
    tmp = tempfile.mkdtemp(prefix="hta_compare_")
    try:
        folder = os.path.join(tmp, "rank")
        os.mkdir(folder)
        shutil.copy(path, folder)
        hta = run_hta(folder, disable_rounding=False, kernel_delay=30)
        aligned = run_hta(folder, disable_rounding=True, kernel_delay=10)
        steps = run_stepscope(binary, path)
        ss_hta = {}
        if aligned.get("_gpu_event_index"):
            lo, hi, pid = window_of(path, aligned["_gpu_event_index"])
            windowed = os.path.join(tmp, "windowed.json")
            windowed_copy(path, windowed, lo, hi, pid)
            ss_hta = run_stepscope(binary, windowed)
        for r in (hta, aligned):
            r.pop("_gpu_event_index", None)
        if keep:
            print(f"kept {tmp}", file=sys.stderr)
        return {"trace": path, "hta": hta, "hta-aligned": aligned, "ss@hta": ss_hta, "ss-steps": steps}
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


# Rows of the table: (label, key in HTA results, key in stepscope results).
ROWS = [
    ("window (HTA: first kernel start to last kernel end; ss: step durations)", "window", "window"),
    ("idle", "idle", "idle"),
    ("compute", "compute", "compute"),
    ("non-compute (ss: comm + memcpy + memset)", "non_compute", "non_compute"),
    ("  communication", None, "comm"),
    ("  memcpy", None, "memcpy"),
    ("  memset", None, "memset"),
    ("idle, HTA host_wait / ss host_bound", "idle_host_wait", "idle_host_bound"),
    ("idle, HTA kernel_wait / ss kernel_gap", "idle_kernel_wait", "idle_kernel_gap"),
    ("idle, ss sync", None, "idle_sync"),
    ("idle, HTA other / ss other", "idle_other", "idle_other"),
    ("idle-breakdown total (HTA: sum over streams)", "idle_streams_total", "idle"),
]
COLUMNS = ["hta", "hta-aligned", "ss@hta", "ss-steps"]


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    return f"{v:,.1f}"


def markdown(result):
    out = [f"### `{result['trace']}`", ""]
    h, a, s = result["hta"], result["hta-aligned"], result["ss-steps"]
    out.append(f"HTA rank {h.get('rank')}, streams {h.get('streams')}, GPU rows "
               f"{h.get('row_categories')}; stepscope steps: {s['steps']} "
               f"({', '.join(s['step_names'][:6])}{', ...' if s['steps'] > 6 else ''})")
    for r, name in ((h, "hta"), (a, "hta-aligned")):
        for k in ("temporal_error", "idle_error"):
            if k in r:
                out.append(f"{name}: {k.split('_')[0]} breakdown raised {r[k]}")
    out += ["", "| us | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    for label, hk, sk in ROWS:
        cells = []
        for col in COLUMNS:
            r = result[col]
            key = hk if col.startswith("hta") else sk
            cells.append(fmt(r.get(key)) if key else "")
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def pct(r, key):
    if r.get(key) is None or not r.get("window"):
        return "n/a"
    return f"{100.0 * r[key] / r['window']:.1f}%"


def summary(results):
    """One row per trace: idle share of each column's window, and compute/non-compute in ms."""
    out = ["| trace | idle: hta | hta-aligned | ss@hta | ss-steps "
           "| compute ms: hta-aligned / ss@hta | non-compute ms: hta-aligned / ss@hta |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    ms = lambda r, k: "n/a" if r.get(k) is None else f"{r[k] / 1000:,.2f}"
    for res in results:
        a, s = res["hta-aligned"], res["ss@hta"]
        base = os.path.basename(res["trace"])
        base = base if len(base) <= 24 else base[:21] + "..."
        name = os.path.basename(os.path.dirname(os.path.abspath(res["trace"]))) + "/" + base
        out.append(f"| {name} | {pct(res['hta'], 'idle')} | {pct(a, 'idle')} | {pct(s, 'idle')} "
                   f"| {pct(res['ss-steps'], 'idle')} | {ms(a, 'compute')} / {ms(s, 'compute')} "
                   f"| {ms(a, 'non_compute')} / {ms(s, 'non_compute')} |")
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("traces", nargs="+", help="trace files (.json or .json.gz), one rank each")
    p.add_argument("--stepscope", default=os.path.join(ROOT, ".build", "release", "stepscope"))
    p.add_argument("--json", action="store_true", help="print raw numbers as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders")
    args = p.parse_args()
    if not os.access(args.stepscope, os.X_OK):
        sys.exit(f"{args.stepscope}: not found; run `swift build -c release` or pass --stepscope")
    results = [compare(t, args.stepscope, args.keep) for t in args.traces]
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print("\n".join([summary(results)] + [markdown(r) for r in results]))


if __name__ == "__main__":
    main()
