#!/usr/bin/env python3
"""Independent reference implementation of docs/definitions.md (stdlib only).

What it computes
----------------
For every Kineto / Chrome-trace file (`*.json.gz` or `*.json`) under --traces, it writes
`<out>/<name>.expected.json`, where <name> is the path under --traces with '/' replaced by '__'
and the `.json.gz` (or `.json`) suffix dropped. For every such file under --synthetic (default:
the `Synthetic` folder next to this script) it writes `<out>/synthetic__<name>.expected.json`
the same way. Each file holds (sorted keys, indent 1):

  file                  path relative to --traces (synthetic: "synthetic/" + path under --synthetic)
  rank                  distributedInfo.rank, or null
  event_counts          {ph letter: number of events}, all events as written (missing ph -> "")
  memory_events         instant events (ph i or I) named "[memory]"
  slices                X slices kept + matched B/E pairs
  dropped_negative_dur  X events whose dur, converted to ns, is negative
  unmatched_begin       B never closed
  unmatched_end         E with nothing open on its track
  overlapping_slices    nesting clips (step 2 of the nesting walk), all tracks
  unlinked_gpu_activity GPU activities (kernel/memcpy/memset, both namings) with no launching call
  tracks                [{pid, tid, kind: "cpu"|"gpu"|"spans", slices}] in track order; pid/tid
                        are the key texts (null when the event has no such field)
  step_thread           {pid, tid} of the step thread, or null
  steps                 [{name, start_ns, dur_ns}], start_ns absolute (baseTimeNanoseconds + ts)
  step_phases           [{phase: ns}] per step, all 7 phases, each adds up to the step's dur_ns
  phases                {phase: ns} summed over steps
  ops                   {name: {count, total_ns, self_ns, gpu_ns}} for every operator name
  gpu_activity_ns       summed dur of all GPU activities

How it computes it (literal reading of docs/definitions.md; choices where the text is open are
marked "CHOICE")
  * Numbers are parsed with parse_float/parse_int hooks into a Decimal subclass that keeps the
    number's text as written (never float). ts/dur are scaled by 1000 and quantized to an integer
    with ROUND_HALF_UP (= halves away from zero, also for negatives). A slice's end is
    ns(ts) + ns(dur) (each converted on its own).
  * An X is dropped (dropped_negative_dur) when ns(dur) < 0, i.e. judged after conversion:
    dur -0.0004 -> 0 ns is kept, -0.0005 -> -1 ns is dropped. X without dur: dur 0.
    CHOICE: an event without ts gets ts 0. CHOICE: a B/E pair whose E lies before its B gets
    dur 0 (the spec says nothing; the synthetic traces do not exercise it).
  * Track key = (text of pid, text of tid): a JSON string -> its content, a JSON number -> its
    text exactly as written in the file (so 7 and "7" are the same key, 7 and 7.0 are not, and
    1e3 stays "1e3"). CHOICE: a missing/null pid or tid is its own key (null), distinct from "".
  * Track order ("order of first appearance in the file"): by the file position of the first
    event of ANY phase (metadata, instants, flows, E... included) whose (pid, tid) key text is the
    track's key (CHOICE: the spec does not define it; on ddp rank1 this differs from ordering by
    first slice because thread_name metadata come first). Only tracks with at least one slice
    exist for the analysis and are listed in `tracks`.
  * B/E are matched per track in file order with a stack. A pair takes name/cat/args and the file
    position of the B; the E's args are ignored.
  * Track kind: "spans" when every slice has category `Trace`; else "gpu" when ANY slice has a
    GPU category (kernel, gpu_memcpy, gpu_memset, gpu_user_annotation, Kernel, Memcpy, Memset)
    (CHOICE: any, not all; alexnet has cuda_sync slices on its GPU streams); else "cpu".
  * Thread names: the last `thread_name` metadata (M) of the track's key wins.
  * Nesting per track: order (start asc, dur desc, file index asc); each slice's nesting end
    starts at start + dur. For each new slice: (1) remove every open slice whose nesting end
    <= new start; (2) while the top's nesting end < new end, set the top's nesting end to the new
    start, count one overlapping_slices, pop it; (3) the top is the parent.
  * Self time = nesting duration - sum over direct children of their nesting duration (never
    negative, asserted).
  * Operator slice: on a "cpu" track, cat in {cpu_op, Operator, user_annotation, cuda_runtime,
    Runtime, cuda_driver}, name not starting with "ProfilerStep#".
  * total_ns: raw dur over op slices that have no ancestor (on the track) that is an operator
    slice with the same name (CHOICE: a non-operator ancestor of the same name does not count).
    gpu_ns: per op slice, the dur of GPU activities whose launching call is the slice or a
    descendant of it; summed over the same slices as total_ns.
  * Integer arg (correlation, External id): a JSON number whose value is an integer (compared by
    value; CHOICE: 5.0 and 5 are both the integer 5). Strings, booleans, null: not integers, they
    never match.
  * Linking: activity integer `correlation` -> the cuda_runtime/cuda_driver/Runtime slice on a
    "cpu" track with the same integer `correlation`; when several, the first in track order
    (tracks in track order, slices in nesting order within a track). Else the activity's
    `External id` (when that key is absent or null: `external id`) as an integer -> the operator
    slice with the same integer `External id` (same fallback to `external id`) that is smallest
    by (start, -dur, file index).
  * Steps: "cpu"-track slices whose name starts with "ProfilerStep#" (CHOICE: no check that N is
    a number). Step thread = track with most of them, ties: the track whose earliest step
    (start, -dur, file index) comes first (CHOICE). Steps ordered by (start, -dur, file index).
    Without any: one step "trace" = [min start, max end) over all slices (every track, GPU and
    "spans" ones included, raw ends); step thread = "cpu" track with the largest sum of raw dur
    of depth-0 slices, ties: first in track order; every slice on it is a candidate. If the trace
    has no slices there is no step; if it has no "cpu" track the trace step is all idle and
    step_thread is null.
  * Autograd thread: a "cpu" track other than the step thread whose last thread_name contains
    "autograd" (case-sensitive), or that has a depth-0 slice whose name starts with
    "autograd::engine::evaluate_function:".
  * Own phase: (user rules, --phase-rules) then communication, optimizer, backward, forward, data,
    per the spec; "ProfilerStep#*" never has one; lower-casing is Python str.lower().
    Effective phase: own, else parent's effective, else (depth 0) backward on an autograd thread,
    else other.
  * Phase time of a step [S, E) (raw dur): each slice's self segments (its nesting interval minus
    its direct children's nesting intervals) partition the covered part of the track by innermost
    slice. Segments inside [S, E) count toward the slice's effective phase, except segments of
    the step slice and of its ancestors, which count as idle; the rest of [S, E) is idle. Then
    the parts counted other/idle that lie inside the union of nesting intervals of slices (any
    depth) with effective phase backward on autograd threads become backward.

Regenerate (from the repository root):
    python3 Tests/ConformanceTests/reference.py --traces ../shared/traces \
        --out Tests/ConformanceTests/Fixtures
Optional: --synthetic DIR (default: Synthetic next to this script; "" to skip),
--only SUBSTRING (restrict files), --phase-rules FILE.
"""

import argparse
import bisect
import decimal
import gzip
import json
import os
import re
import sys
from decimal import Decimal, ROUND_HALF_UP

decimal.getcontext().prec = 100
decimal.getcontext().Emax = 999999
decimal.getcontext().Emin = -999999

PHASES = ["data", "forward", "backward", "optimizer", "communication", "other", "idle"]
GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset", "gpu_user_annotation", "Kernel", "Memcpy", "Memset"}
ACTIVITY_CATS = {"kernel", "gpu_memcpy", "gpu_memset", "Kernel", "Memcpy", "Memset"}
RUNTIME_CATS = {"cuda_runtime", "cuda_driver", "Runtime"}
OP_CATS = {"cpu_op", "Operator", "user_annotation", "cuda_runtime", "Runtime", "cuda_driver"}
COMM_PREFIXES = ("c10d::", "nccl:", "gloo:", "ncclKernel", "ncclDevKernel", "rcclKernel", "rccl")
STEP_PREFIX = "ProfilerStep#"
AUTOGRAD_FN_PREFIX = "autograd::engine::evaluate_function:"
ONE = Decimal(1)
THOUSAND = Decimal(1000)


class JNum(Decimal):
    """A JSON number: its Decimal value plus its text exactly as written in the file."""

    def __new__(cls, text):
        o = Decimal.__new__(cls, text)
        o.text = text
        return o


def dec(v):
    """JSON number or numeric string -> Decimal."""
    if isinstance(v, bool) or v is None:
        raise ValueError("not a number: %r" % (v,))
    if isinstance(v, Decimal):
        return v
    if isinstance(v, str):
        return Decimal(v.strip())
    return Decimal(v)


def us_to_ns(v):
    return int((dec(v) * THOUSAND).quantize(ONE, rounding=ROUND_HALF_UP))


def ns_value(v):
    return int(dec(v).quantize(ONE, rounding=ROUND_HALF_UP))


def key_text(v):
    """Track key part: the text of pid/tid (strings: content; numbers: text as written)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, JNum):
        return v.text
    if isinstance(v, bool):
        return "true" if v else "false"
    return json.dumps(v, sort_keys=True, default=str)


def int_arg(v):
    """Integer value of a correlation / External id arg, or None (strings never match)."""
    if isinstance(v, bool) or not isinstance(v, Decimal) or not v.is_finite():
        return None
    if v != v.to_integral_value():
        return None
    return int(v)


def ext_id(args):
    v = args.get("External id")
    if v is None:
        v = args.get("external id")
    return int_arg(v)


def load_trace(path):
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    text = raw.decode("utf-8")
    kw = dict(parse_float=JNum, parse_int=JNum)
    try:
        doc = json.loads(text, **kw)
    except json.JSONDecodeError:
        s = text.rstrip()
        if not s.lstrip().startswith("["):
            raise
        s = s.rstrip(",").rstrip()  # bare array lacking its closing ']'
        doc = json.loads(s + "]", **kw)
    if isinstance(doc, list):
        return {}, doc
    return doc, doc.get("traceEvents", [])


def glob_to_regex(g):
    out = []
    for ch in g:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.S)


def load_rules(path):
    rules = []
    if not path:
        return rules
    for line in open(path, encoding="utf-8"):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        phase, pat = line.split(":", 1)
        phase, pat = phase.strip(), pat.strip()
        if phase not in PHASES:
            raise ValueError("unknown phase %r" % phase)
        rules.append((phase, glob_to_regex(pat)))
    return rules


def own_phase(name, rules):
    if name.startswith(STEP_PREFIX):
        return None
    for phase, rx in rules:
        if rx.match(name):
            return phase
    low = name.lower()
    if name.startswith(COMM_PREFIXES) or name == "record_param_comms":
        return "communication"
    if name.startswith("Optimizer.") or "optimizer" in low:
        return "optimizer"
    if name.startswith(AUTOGRAD_FN_PREFIX) or "backward" in low:
        return "backward"
    if "forward" in low:
        return "forward"
    if name.startswith("enumerate(DataLoader)") or "dataloader" in low or "data_loader" in low \
            or "data loading" in low:
        return "data"
    return None


class Slice(object):
    __slots__ = ("idx", "track", "name", "cat", "start", "dur", "end", "nend", "args", "parent",
                 "depth", "children", "self_ns", "own", "eff", "is_op", "gpu_direct", "gpu_sub")

    def __init__(self, idx, track, name, cat, start, dur, args):
        self.idx = idx
        self.track = track
        self.name = name
        self.cat = cat
        self.start = start
        self.dur = dur
        self.end = start + dur
        self.nend = self.end  # nesting end
        self.args = args
        self.parent = None
        self.depth = 0
        self.children = []
        self.self_ns = 0
        self.own = None
        self.eff = None
        self.is_op = False
        self.gpu_direct = 0
        self.gpu_sub = 0

    def order(self):
        return (self.start, -self.dur, self.idx)


class Track(object):
    def __init__(self, key):
        self.key = key
        self.slices = []
        self.kind = None
        self.name = ""
        self.first = None


def str_or_empty(v):
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, JNum):
        return v.text
    return str(v)


def analyze(path, rel, rules):
    doc, events = load_trace(path)
    out = {"file": rel}
    di = doc.get("distributedInfo") if isinstance(doc, dict) else None
    rank = di.get("rank") if isinstance(di, dict) else None
    out["rank"] = int(rank) if isinstance(rank, Decimal) else rank
    base = doc.get("baseTimeNanoseconds") if isinstance(doc, dict) else None
    base_ns = ns_value(base) if base is not None else 0

    counts = {}
    slices = []
    dropped_neg = 0
    unmatched_end = 0
    memory_events = 0
    open_b = {}  # track key -> stack of (idx, event)
    thread_names = {}
    first_seen = {}  # track key -> file index of the first event (any phase) carrying it
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            counts[""] = counts.get("", 0) + 1
            continue
        ph = e.get("ph")
        phk = ph if isinstance(ph, str) else ""
        counts[phk] = counts.get(phk, 0) + 1
        key = (key_text(e.get("pid")), key_text(e.get("tid")))
        if key not in first_seen:
            first_seen[key] = i
        if ph == "M":
            if e.get("name") == "thread_name":
                a = e.get("args") or {}
                if a.get("name") is not None:
                    thread_names[key] = str_or_empty(a.get("name"))
            continue
        if ph in ("i", "I") and e.get("name") == "[memory]":
            memory_events += 1
            continue
        if ph not in ("X", "B", "E"):
            continue
        if ph == "X":
            d = e.get("dur")
            if d is None:
                dur = 0
            else:
                dur = us_to_ns(d)
                if dur < 0:
                    dropped_neg += 1
                    continue
            slices.append(Slice(i, key, str_or_empty(e.get("name")), str_or_empty(e.get("cat")),
                                us_to_ns(e.get("ts", Decimal(0))), dur, e.get("args") or {}))
        elif ph == "B":
            open_b.setdefault(key, []).append((i, e))
        else:  # E
            st = open_b.get(key)
            if not st:
                unmatched_end += 1
                continue
            bi, b = st.pop()
            start = us_to_ns(b.get("ts", Decimal(0)))
            end = us_to_ns(e.get("ts", Decimal(0)))
            slices.append(Slice(bi, key, str_or_empty(b.get("name")), str_or_empty(b.get("cat")),
                                start, max(0, end - start), b.get("args") or {}))
    unmatched_begin = sum(len(v) for v in open_b.values())
    out["event_counts"] = counts
    out["memory_events"] = memory_events
    out["slices"] = len(slices)
    out["dropped_negative_dur"] = dropped_neg
    out["unmatched_begin"] = unmatched_begin
    out["unmatched_end"] = unmatched_end

    # ---- tracks in order of the first event in the file carrying their key; kinds; names
    tracks = {}
    for s in slices:
        t = tracks.get(s.track)
        if t is None:
            t = tracks[s.track] = Track(s.track)
            t.first = first_seen[s.track]
        t.slices.append(s)
    track_list = sorted(tracks.values(), key=lambda t: t.first)
    for t in track_list:
        if all(s.cat == "Trace" for s in t.slices):
            t.kind = "spans"
        elif any(s.cat in GPU_CATS for s in t.slices):
            t.kind = "gpu"
        else:
            t.kind = "cpu"
        t.name = thread_names.get(t.key, "")
    out["tracks"] = [{"pid": t.key[0], "tid": t.key[1], "kind": t.kind, "slices": len(t.slices)}
                     for t in track_list]

    # ---- nesting, self time
    overlapping = 0
    for t in track_list:
        ss = t.slices
        ss.sort(key=Slice.order)
        stack = []
        for s in ss:
            # (1) every open slice whose nesting end <= new start
            if any(o.nend <= s.start for o in stack):
                kept = [o for o in stack if o.nend > s.start]
                # the open slices are properly nested, so only a top run can go
                assert kept == stack[:len(kept)], (rel, "step 1 removed a non-top slice")
                stack = kept
            # (2) clip and pop while the top does not contain the new slice
            while stack and stack[-1].nend < s.end:
                top = stack.pop()
                top.nend = s.start
                overlapping += 1
            # (3) parent
            if stack:
                p = stack[-1]
                s.parent = p
                s.depth = p.depth + 1
                p.children.append(s)
            stack.append(s)
        for s in ss:
            s.is_op = t.kind == "cpu" and s.cat in OP_CATS and not s.name.startswith(STEP_PREFIX)
            covered = 0
            for c in s.children:
                assert s.start <= c.start and c.nend <= s.nend, (rel, "child outside parent")
                covered += c.nend - c.start
            s.self_ns = (s.nend - s.start) - covered
            assert s.self_ns >= 0, (rel, s.name, s.self_ns)
    out["overlapping_slices"] = overlapping

    # ---- linking GPU activity
    corr_map = {}
    ext_map = {}
    for t in track_list:
        if t.kind != "cpu":
            continue
        for s in t.slices:  # nesting order within the track
            if s.cat in RUNTIME_CATS:
                k = int_arg(s.args.get("correlation"))
                if k is not None and k not in corr_map:
                    corr_map[k] = s
            if s.is_op:
                k = ext_id(s.args)
                if k is not None:
                    cur = ext_map.get(k)
                    if cur is None or s.order() < cur.order():
                        ext_map[k] = s
    unlinked = 0
    gpu_total = 0
    for s in slices:
        if s.cat not in ACTIVITY_CATS:
            continue
        gpu_total += s.dur
        call = None
        k = int_arg(s.args.get("correlation"))
        if k is not None:
            call = corr_map.get(k)
        if call is None:
            k = ext_id(s.args)
            if k is not None:
                call = ext_map.get(k)
        if call is None:
            unlinked += 1
        else:
            call.gpu_direct += s.dur
    out["unlinked_gpu_activity"] = unlinked
    out["gpu_activity_ns"] = gpu_total
    for t in track_list:
        for s in reversed(t.slices):  # children come after parents, so reversed is post-order safe
            s.gpu_sub += s.gpu_direct
            if s.parent is not None:
                s.parent.gpu_sub += s.gpu_sub

    # ---- operators
    ops = {}
    for s in slices:
        if not s.is_op:
            continue
        o = ops.get(s.name)
        if o is None:
            o = ops[s.name] = {"count": 0, "total_ns": 0, "self_ns": 0, "gpu_ns": 0}
        o["count"] += 1
        o["self_ns"] += s.self_ns
        a = s.parent
        dup = False
        while a is not None:
            if a.is_op and a.name == s.name:
                dup = True
                break
            a = a.parent
        if not dup:
            o["total_ns"] += s.dur
            o["gpu_ns"] += s.gpu_sub
    out["ops"] = ops

    # ---- steps and the step thread
    cpu_tracks = [t for t in track_list if t.kind == "cpu"]
    by_track = {}
    for t in cpu_tracks:
        st = [s for s in t.slices if s.name.startswith(STEP_PREFIX)]
        if st:
            by_track[t.key] = st
    steps = []  # (name, start, end, excluded-set or None)
    step_thread = None
    if by_track:
        best = min(by_track, key=lambda k: (-len(by_track[k]), min(x.order() for x in by_track[k])))
        step_thread = tracks[best]
        for s in sorted(by_track[best], key=Slice.order):
            excluded = set()
            a = s
            while a is not None:
                excluded.add(id(a))
                a = a.parent
            steps.append((s.name, s.start, s.end, excluded))
    elif slices:
        start = min(s.start for s in slices)
        end = max(s.end for s in slices)
        if cpu_tracks:
            def score(i_t):
                i, t = i_t
                return (-sum(s.dur for s in t.slices if s.parent is None), i)
            step_thread = min(enumerate(cpu_tracks), key=score)[1]
        steps.append(("trace", start, end, set()))
    out["step_thread"] = None if step_thread is None else {"pid": step_thread.key[0],
                                                           "tid": step_thread.key[1]}

    # ---- autograd threads, phases
    autograd = set()
    for t in cpu_tracks:
        if t is step_thread:
            continue
        if "autograd" in t.name or any(s.parent is None and s.name.startswith(AUTOGRAD_FN_PREFIX)
                                       for s in t.slices):
            autograd.add(t.key)
    for t in track_list:
        for s in t.slices:  # parents precede children in this order
            s.own = own_phase(s.name, rules)
            if s.own is not None:
                s.eff = s.own
            elif s.parent is not None:
                s.eff = s.parent.eff
            else:
                s.eff = "backward" if t.key in autograd else "other"

    # backward union (nesting intervals) on autograd threads
    bw = sorted((s.start, s.nend) for t in track_list if t.key in autograd
                for s in t.slices if s.eff == "backward" and s.nend > s.start)
    union = []
    for a, b in bw:
        if union and a <= union[-1][1]:
            if b > union[-1][1]:
                union[-1][1] = b
        else:
            union.append([a, b])
    ustarts = [u[0] for u in union]

    def backward_overlap(a, b):
        tot = 0
        j = max(0, bisect.bisect_right(ustarts, a) - 1)
        while j < len(union) and union[j][0] < b:
            lo = max(a, union[j][0])
            hi = min(b, union[j][1])
            if hi > lo:
                tot += hi - lo
            j += 1
        return tot

    # self segments of the step thread: disjoint, each labelled with its (innermost) slice
    segs = []
    if step_thread is not None:
        for s in step_thread.slices:
            cur = s.start
            mine = 0
            for c in s.children:
                if c.start > cur:
                    segs.append((cur, c.start, s))
                    mine += c.start - cur
                cur = max(cur, c.nend)
            if s.nend > cur:
                segs.append((cur, s.nend, s))
                mine += s.nend - cur
            assert mine == s.self_ns, (rel, s.name, mine, s.self_ns)
        segs.sort(key=lambda x: (x[0], x[1]))
        for j in range(1, len(segs)):
            assert segs[j - 1][1] <= segs[j][0], (rel, "self segments overlap")
    seg_starts = [x[0] for x in segs]

    out_steps = []
    out_phases = []
    totals = dict((p, 0) for p in PHASES)
    for name, S, E, excluded in steps:
        ph = dict((p, 0) for p in PHASES)
        parts = []  # (a, b, phase), covering [S, E) exactly
        cur = S
        j = max(0, bisect.bisect_right(seg_starts, S) - 1)
        while j < len(segs) and segs[j][0] < E:
            a, b, s = segs[j]
            j += 1
            a = max(a, S)
            b = min(b, E)
            if b <= a:
                continue
            if a > cur:
                parts.append((cur, a, "idle"))
            parts.append((a, b, "idle" if id(s) in excluded else s.eff))
            cur = b
        if E > cur:
            parts.append((cur, E, "idle"))
        for a, b, p in parts:
            ln = b - a
            if p in ("other", "idle") and union:
                moved = backward_overlap(a, b)
                ph[p] += ln - moved
                ph["backward"] += moved
            else:
                ph[p] += ln
        assert sum(ph.values()) == E - S, (rel, name, ph, E - S)
        out_steps.append({"name": name, "start_ns": base_ns + S, "dur_ns": E - S})
        out_phases.append(ph)
        for p in PHASES:
            totals[p] += ph[p]
    out["steps"] = out_steps
    out["step_phases"] = out_phases
    out["phases"] = totals
    return out


def collect(root):
    files = []
    for d, _dirs, names in os.walk(root):
        for n in names:
            if n.endswith(".json.gz") or n.endswith(".json"):
                files.append(os.path.join(d, n))
    files.sort()
    return files


def stem(rel):
    return rel[:-len(".json.gz")] if rel.endswith(".json.gz") else rel[:-len(".json")]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--traces", required=True)
    ap.add_argument("--synthetic", default=os.path.join(here, "Synthetic"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default=None)
    ap.add_argument("--phase-rules", default=None)
    args = ap.parse_args()
    rules = load_rules(args.phase_rules)
    jobs = []  # (path, rel as recorded, fixture name)
    for f in collect(args.traces):
        rel = os.path.relpath(f, args.traces).replace(os.sep, "/")
        jobs.append((f, rel, stem(rel).replace("/", "__")))
    if args.synthetic:
        for f in collect(args.synthetic):
            rel = os.path.relpath(f, args.synthetic).replace(os.sep, "/")
            jobs.append((f, "synthetic/" + rel, "synthetic__" + stem(rel).replace("/", "__")))
    os.makedirs(args.out, exist_ok=True)
    for f, rel, name in jobs:
        if args.only and args.only not in rel:
            continue
        res = analyze(f, rel, rules)
        dst = os.path.join(args.out, name + ".expected.json")
        with open(dst, "w", encoding="utf-8") as fh:
            json.dump(res, fh, sort_keys=True, indent=1, ensure_ascii=False)
            fh.write("\n")
        print("%-90s slices=%-7d steps=%d" % (rel, res["slices"], len(res["steps"])), file=sys.stderr)


if __name__ == "__main__":
    main()
