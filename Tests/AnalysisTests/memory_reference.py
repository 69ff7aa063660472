#!/usr/bin/env python3
"""Independent reference for the memory analysis (docs/definitions.md, "Memory"), stdlib only.

Prints, per device of each trace given, the figures MemoryAnalysisTests checks on real traces:
samples, derived samples, allocated before the first event, peak allocated and its time,
reserved at the peak, unmatched frees, reused live addresses, unaddressed events, per-step peaks,
and the allocations live at the peak grouped by (operator, phase, module).

It shares only parsing helpers with Tests/ConformanceTests/reference.py (number parsing, track key
texts, the own-phase rules); nesting, steps, effective phases and the memory figures are redone
here. It differs from MemoryAnalysis.swift on purpose where it can: the enclosing operator is the
deepest operator slice whose nesting interval contains the event (a scan over the track, not a
binary search and a walk up the parents); step peaks are a scan, not a range-maximum tree.

Usage (from the repository root):
    python3 Tests/AnalysisTests/memory_reference.py \
        ../shared/traces/hta/df_index_resolver/df_index_resolver.json.gz \
        ../shared/traces/torch-cpu/single/single.pt.trace.json.gz
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ConformanceTests"))
from reference import (load_trace, us_to_ns, ns_value, key_text, own_phase, str_or_empty,  # noqa: E402
                       GPU_CATS, OP_CATS, PHASES, STEP_PREFIX, AUTOGRAD_FN_PREFIX)
from decimal import Decimal  # noqa: E402

MODULE_PREFIX = "nn.Module: "


class S(object):
    __slots__ = ("idx", "key", "name", "cat", "start", "dur", "nend", "parent", "depth", "eff", "is_op")

    def __init__(self, idx, key, name, cat, start, dur):
        self.idx, self.key, self.name, self.cat = idx, key, name, cat
        self.start, self.dur, self.nend = start, dur, start + dur
        self.parent, self.depth, self.eff, self.is_op = None, 0, None, False


def analyze(path):
    doc, events = load_trace(path)
    base = doc.get("baseTimeNanoseconds") if isinstance(doc, dict) else None
    base_ns = ns_value(base) if base is not None else 0
    slices, mem, names, first = [], [], {}, {}
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            continue
        key = (key_text(e.get("pid")), key_text(e.get("tid")))
        first.setdefault(key, i)
        ph = e.get("ph")
        assert ph not in ("B", "E"), "B/E slices are not handled by this script"
        if ph == "M" and e.get("name") == "thread_name":
            names[key] = str_or_empty((e.get("args") or {}).get("name"))
        elif ph in ("i", "I") and e.get("name") == "[memory]":
            mem.append((base_ns + us_to_ns(e.get("ts", Decimal(0))), i, key, e.get("args") or {}))
        elif ph == "X":
            dur = us_to_ns(e["dur"]) if e.get("dur") is not None else 0
            if dur >= 0:
                slices.append(S(i, key, str_or_empty(e.get("name")), str_or_empty(e.get("cat")),
                                base_ns + us_to_ns(e.get("ts", Decimal(0))), dur))

    # Tracks, kinds, nesting (docs/definitions.md, "Nesting").
    tracks = {}
    for s in slices:
        tracks.setdefault(s.key, []).append(s)
    kind = {}
    for k, ss in tracks.items():
        kind[k] = "spans" if all(s.cat == "Trace" for s in ss) else \
            "gpu" if any(s.cat in GPU_CATS for s in ss) else "cpu"
        ss.sort(key=lambda s: (s.start, -s.dur, s.idx))
        stack = []
        for s in ss:
            while stack and stack[-1].nend <= s.start:
                stack.pop()
            while stack and stack[-1].nend < s.start + s.dur:
                stack.pop().nend = s.start
            if stack:
                s.parent, s.depth = stack[-1], stack[-1].depth + 1
            stack.append(s)
            s.is_op = kind[k] == "cpu" and s.cat in OP_CATS and not s.name.startswith(STEP_PREFIX)
    order = sorted(tracks, key=lambda k: first[k])
    cpu = [k for k in order if kind[k] == "cpu"]

    # Steps and the step thread.
    per = {k: [s for s in tracks[k] if s.name.startswith(STEP_PREFIX)] for k in cpu}
    per = {k: v for k, v in per.items() if v}
    if per:
        step_key = min(per, key=lambda k: (-len(per[k]), min((s.start, -s.dur, s.idx) for s in per[k])))
        steps = [(s.name, s.start, s.start + s.dur) for s in per[step_key]]
    else:
        step_key = min(enumerate(cpu), key=lambda t: (-sum(s.dur for s in tracks[t[1]] if s.parent is None), t[0]))[1] \
            if cpu else None
        steps = [("trace", min(s.start for s in slices), max(s.start + s.dur for s in slices))] if slices else []

    # Effective phases.
    autograd = set(k for k in cpu if k != step_key and (
        "autograd" in names.get(k, "") or
        any(s.parent is None and s.name.startswith(AUTOGRAD_FN_PREFIX) for s in tracks[k])))
    for k in order:
        for s in tracks[k]:
            own = own_phase(s.name, [])
            s.eff = own or (s.parent.eff if s.parent else ("backward" if k in autograd else "other"))

    def enclosing(key, ts):
        inside = [s for s in tracks.get(key, []) if s.start <= ts < s.nend]
        ops = [s for s in inside if s.is_op]
        mods = [s for s in inside if s.cat == "python_function" and s.name.startswith(MODULE_PREFIX)]
        op = max(ops, key=lambda s: s.depth) if ops else None
        mod = max(mods, key=lambda s: s.depth) if mods else None
        return ((op.name, op.eff) if op else ("(no op)", "other"),
                mod.name[len(MODULE_PREFIX):] if mod else None)

    devices = {}
    for ts, i, key, a in mem:
        devices.setdefault((int(a.get("Device Type", 0)), int(a.get("Device Id", -1))), []).append((ts, i, key, a))
    out = []
    for dev in sorted(devices):
        ev = sorted(devices[dev], key=lambda e: (e[0], e[1]))
        alloc, reserved, derived, cur = [], [], 0, 0
        for ts, i, key, a in ev:
            if a.get("Total Allocated") is not None:
                cur = int(a["Total Allocated"])
            else:
                cur += int(a.get("Bytes", 0))
                derived += 1
            alloc.append(cur)
            reserved.append(int(a["Total Reserved"]) if a.get("Total Reserved") is not None else None)
        peak = alloc.index(max(alloc))
        initial = alloc[0] - int(ev[0][3].get("Bytes", 0))
        step_peaks = []
        for name, start, end in steps:
            before = [k for k in range(len(ev)) if ev[k][0] < start]
            best = (alloc[before[-1]] if before else initial, start)
            for k in range(len(ev)):
                if start <= ev[k][0] < end and alloc[k] > best[0]:
                    best = (alloc[k], ev[k][0])
            step_peaks.append((name, best[0], best[1]))
        live, unmatched, reused, unaddressed, at_peak = {}, 0, 0, 0, None
        for k, (ts, i, key, a) in enumerate(ev):
            b, addr = int(a.get("Bytes", 0)), int(a.get("Addr", 0))
            if addr == 0:
                unaddressed += 1
            elif b > 0:
                reused += addr in live
                live[addr] = (ts, key, b)
            elif b < 0:
                if live.pop(addr, None) is None:
                    unmatched += 1
            if k == peak:
                at_peak = list(live.values())
        groups = {}
        for ts, key, b in at_peak:
            (op, phase), mod = enclosing(key, ts)
            g = groups.setdefault((op, phase, mod), [0, 0])
            g[0] += b
            g[1] += 1
        ranked = sorted(groups.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0][0], PHASES.index(kv[0][1]),
                                                         kv[0][2] or ""))
        out.append(dict(device=dev, samples=len(ev), derived=derived, initial=initial, peak=alloc[peak], peak_ts=ev[peak][0],
                        reserved_at_peak=reserved[peak], unmatched=unmatched, reused=reused,
                        unaddressed=unaddressed, step_peaks=step_peaks,
                        live_count=sum(g[1] for g in groups.values()), live_bytes=sum(g[0] for g in groups.values()),
                        groups=ranked))
    return out


def main():
    for path in sys.argv[1:]:
        print("==", path)
        for d in analyze(path):
            print("device %s: samples %d derived %d initial %d peak %d at %d reserved %s unmatched %d reused %d unaddressed %d"
                  % (d["device"], d["samples"], d["derived"], d["initial"], d["peak"], d["peak_ts"], d["reserved_at_peak"],
                     d["unmatched"], d["reused"], d["unaddressed"]))
            for name, peak, ts in d["step_peaks"]:
                print("  step %s peak %d at %d" % (name, peak, ts))
            print("  live at peak: %d allocations, %d bytes, %d groups" % (d["live_count"], d["live_bytes"], len(d["groups"])))
            for (op, phase, mod), (b, c) in d["groups"]:
                print("    %-40s %-9s %-24s %12d %5d" % (op, phase, mod, b, c))


if __name__ == "__main__":
    main()
