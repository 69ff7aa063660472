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
  step_phases           [{phase: ns}] per step, all 8 phases, each adds up to the step's dur_ns
  phases                {phase: ns} summed over steps
  ops                   {name: {count, total_ns, self_ns, gpu_ns}} for every operator name
  gpu_activity_ns       summed dur of all GPU activities
  step_gpu              per step: {busy_ns, idle_ns, compute_ns, comm_ns, memcpy_ns, memset_ns,
                        idle_by_cause: {kernel_gap, sync, host_bound, other}} summed over
                        devices, or null when the rank has no GPU activity ("GPU time")
  collectives           the rank's collective instances in order (start, -dur, file index):
                        [{name, group, seq, start_ns, dur_ns, bytes, algorithm, exposed_ns}]
                        (seq/bytes/algorithm/exposed_ns null when unknown; "Communication")

A folder holding two or more traces that all carry distinct distributedInfo.rank values is a run
(here: torch-cpu/ddp_ws2_straggler); it also gets `<out>/run__<folder, '/' -> '__'>.expected.json`:

  folder, files, ranks  the run
  unmatched             instances left without a partner
  matched               [{group, key, arrivals {rank: ns}, waits {rank: ns}, straggler, step}]
  waits                 [{step, rank, wait_ns, max_wait_ns, straggler_count}] for every step
                        that has a matched collective and every rank
  stragglers            [{step, rank, caused_wait_ns, window_start_ns, window_end_ns}] for the
                        steps where someone waited

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
  * GPU time of a step [S, E) (raw slice intervals): devices = pid key texts of the tracks
    holding activities (kernel/memcpy/memset, both namings). Per device, the unions of compute
    kernels (kernel/Kernel not named nccl*/rccl*, case-insensitive), communication kernels,
    memcpys and memsets are clipped to [S, E) and accumulated in that order of precedence; each
    kind gets what it adds to the union so far. Idle gaps: [S, E) minus busy, each idle stretch
    cut at every activity start inside it (CHOICE: a zero-duration activity ends a gap and the
    next gap starts at the same instant; on the shared traces this gives the same numbers as not
    cutting). A gap starting at S starts at S (CHOICE: not at the end of the last activity before
    the step; same numbers on the shared traces). A gap "ends with an activity" when some
    activity of the device starts at its end, also when that end is E (CHOICE; does not occur on
    the shared traces). Causes: kernel_gap when it ends with an activity and is < 10000 ns; else
    sync = its overlap with the union of [start, end) of the rank's slices (any track, CHOICE)
    named cuda{Device,Stream,Event}Synchronize / cudaStreamWaitEvent or the hip* twins; the rest
    host_bound when some activity starting at the gap's end has a launching call whose start is
    strictly after the gap's start, else other.
  * Collectives: source = the first non-empty of (0) kernel/Kernel slices on "gpu" tracks whose
    lower-cased name starts with nccl or rccl but not "nccl:", (1) "gloo:*", (2) "nccl:*",
    (3) "c10d::*", (4) "record_param_comms" (sources 1-4: slices on any track); a slice with an
    ancestor (on its track) of the same source is dropped. name = `Collective name` arg, else the
    slice name after its last ':'; group = `Process Group Name`, else "default"; seq = integer
    `Seq` (only that spelling); bytes = integer `Out msg nelems` for all-gathers (name with '_'
    removed, lower-cased, contains "allgather"), else `In msg nelems`, times the c10 ScalarType
    size of `dtype` (CHOICE: the definition has no size table; no fallback to the other count);
    algorithm (source 0 only) = ALGO_PROTO from the '_'-tokens of the name before '(' (ALGO in
    RING, TREE, COLLNET_DIRECT, COLLNET_CHAIN, NVLS, NVLS_TREE, PAT ..., PROTO in LL, LL128,
    SIMPLE); exposed (source 0 only) = dur minus the overlap of [start, end) with the union of
    compute kernels of the same device (not clipped to any step).
  * Matching (shared clock only; no clock offsets): per group, by Seq when every instance has
    one, else by position: reference = rank with most instances (ties: lowest rank); for every
    other rank the shift in [-64, 64] whose pairs all have equal names, then the smallest median
    |arrival difference| (CHOICE: even counts take the mean of the two middle values), then the
    smallest |shift|, then the smaller shift; key = the reference position. Wait = last arrival -
    own arrival; straggler = last arrival, lowest rank on ties; step = the step of the
    earliest-arriving rank (lowest on ties) containing its arrival (start <= t < end).
    A rank is "late" at a collective when it is the straggler and some wait there is > 0.
    Straggler of a step: the collective with the largest wait > 0 (CHOICE: the first in key order
    on ties); window = [max(its step's start on the straggler, end (start + dur) of the
    straggler's latest-arriving earlier matched collective at which it was not late), arrival).

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

PHASES = ["data", "forward", "backward", "optimizer", "communication", "startup", "other", "idle"]
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
    if name.startswith("[sampled] startup") or (name.startswith("<frozen importlib._bootstrap>")
                                                 and name.endswith("_find_and_load")):
        return "startup"
    return None


class Slice(object):
    __slots__ = ("idx", "track", "name", "cat", "start", "dur", "end", "nend", "args", "parent",
                 "depth", "children", "self_ns", "own", "eff", "is_op", "gpu_direct", "gpu_sub",
                 "call")

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
        self.call = None  # launching call of a GPU activity

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
            s.call = call
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

    # host-side collectives in flight outside the autograd overlay (communication overlay)
    waiting = subtract_union(host_comm_union(track_list), union)

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
                parts.append((cur, a, "idle", None))
            if id(s) in excluded:
                parts.append((a, b, "idle", None))
            else:
                parts.append((a, b, s.eff, s))
            cur = b
        if E > cur:
            parts.append((cur, E, "idle", None))
        for a, b, p, s in parts:
            ln = b - a
            if p in ("other", "idle") and union:
                moved = backward_overlap(a, b)
                ph["backward"] += moved
                ln -= moved
            # communication overlay: no operator running (only Python frames or annotations, or
            # nothing) while a host-side collective is in flight, outside the autograd overlay
            if p in ("backward", "other", "idle") and waiting and \
                    (s is None or s.cat in ("python_function", "user_annotation")):
                moved = covered_len(waiting, a, b)
                ph[p] += ln - moved
                ph["communication"] += moved
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

    # ---- GPU time per step
    timeline = gpu_timeline(track_list, slices)
    out["step_gpu"] = [None if timeline is None else gpu_breakdown(timeline, S, E)
                       for _name, S, E, _excluded in steps]

    # ---- collective instances
    insts = collectives(track_list, timeline)
    out["collectives"] = [{"name": c["name"], "group": c["group"], "seq": c["seq"],
                           "start_ns": base_ns + c["start"], "dur_ns": c["dur"],
                           "bytes": c["bytes"], "algorithm": c["algorithm"],
                           "exposed_ns": c["exposed"]} for c in insts]
    info = {"rank": out["rank"], "base_ns": base_ns,
            "steps": [(name, base_ns + S, base_ns + E) for name, S, E, _x in steps],
            "collectives": [dict(c, start=base_ns + c["start"]) for c in insts]}
    return out, info


# ---------------------------------------------------------------------------------------------
# GPU time (docs/definitions.md, "GPU time")

SYNC_NAMES = {"cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize",
              "cudaStreamWaitEvent", "hipDeviceSynchronize", "hipStreamSynchronize",
              "hipEventSynchronize", "hipStreamWaitEvent"}
KERNEL_CATS = {"kernel", "Kernel"}
MEMCPY_CATS = {"gpu_memcpy", "Memcpy"}
MEMSET_CATS = {"gpu_memset", "Memset"}
SHORT_GAP_NS = 10000
KINDS = ["compute", "communication", "memcpy", "memset"]


def is_comm_kernel_name(name):
    low = name.lower()
    return low.startswith("nccl") or low.startswith("rccl")


def union_of(intervals):
    """Sorted, disjoint, non-empty [a, b) intervals covering the given ones."""
    res = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if res and a <= res[-1][1]:
            if b > res[-1][1]:
                res[-1][1] = b
        else:
            res.append([a, b])
    return res


def covered_len(union, a, b):
    """Length of [a, b) covered by a union (sorted disjoint list)."""
    tot = 0
    for x, y in union:
        if y <= a:
            continue
        if x >= b:
            break
        lo, hi = max(a, x), min(b, y)
        if hi > lo:
            tot += hi - lo
    return tot


def clip(union, a, b):
    res = []
    for x, y in union:
        lo, hi = max(a, x), min(b, y)
        if hi > lo:
            res.append([lo, hi])
    return res


def total(union):
    return sum(b - a for a, b in union)


def gpu_timeline(track_list, slices):
    """Per device (pid key text of the GPU stream tracks): activities with their kind; plus the
    union of the rank's sync calls. None when the rank has no GPU activity."""
    devices = {}
    for t in track_list:
        for s in t.slices:
            if s.cat not in ACTIVITY_CATS:
                continue
            if s.cat in KERNEL_CATS:
                kind = "communication" if is_comm_kernel_name(s.name) else "compute"
            elif s.cat in MEMCPY_CATS:
                kind = "memcpy"
            else:
                kind = "memset"
            launch = s.call.start if s.call is not None else None
            devices.setdefault(t.key[0], []).append((s.start, s.end, kind, launch))
    if not devices:
        return None
    # CHOICE: a sync call is any slice of the rank (any track, any category) with one of the
    # names; it runs over [start, start + dur).
    syncs = union_of([s.start, s.end] for s in slices if s.name in SYNC_NAMES)
    dev = {}
    for pid, acts in devices.items():
        per_kind = dict((k, union_of([a, b] for a, b, kk, _l in acts if kk == k)) for k in KINDS)
        starts = {}
        for a, b, kind, launch in acts:
            starts.setdefault(a, []).append(launch)
        dev[pid] = {"acts": acts, "per_kind": per_kind, "starts": starts,
                    "start_list": sorted(starts)}
    return {"devices": dev, "syncs": syncs}


def gpu_breakdown(tl, S, E):
    res = {"busy_ns": 0, "idle_ns": 0, "compute_ns": 0, "comm_ns": 0, "memcpy_ns": 0,
           "memset_ns": 0, "idle_by_cause": {"kernel_gap": 0, "sync": 0, "host_bound": 0,
                                             "other": 0}}
    field = {"compute": "compute_ns", "communication": "comm_ns", "memcpy": "memcpy_ns",
             "memset": "memset_ns"}
    cause = res["idle_by_cause"]
    for pid in sorted(tl["devices"]):
        d = tl["devices"][pid]
        # precedence compute > communication > memcpy > memset: cumulative unions
        cum = []
        prev = 0
        for k in KINDS:
            cum = union_of(cum + clip(d["per_kind"][k], S, E))
            n = total(cum)
            res[field[k]] += n - prev
            prev = n
        busy = cum
        res["busy_ns"] += prev
        res["idle_ns"] += (E - S) - prev
        # idle stretches = [S, E) minus busy; each is cut at every activity start inside it
        # (CHOICE: a zero-duration activity inside an idle stretch ends a gap, and the next gap
        # starts at its end, the same instant)
        idle = []
        cur = S
        for a, b in busy:
            if a > cur:
                idle.append((cur, a))
            cur = max(cur, b)
        if E > cur:
            idle.append((cur, E))
        gaps = []
        sl = d["start_list"]
        for a, b in idle:
            j = bisect.bisect_right(sl, a)
            x = a
            while j < len(sl) and sl[j] < b:
                gaps.append((x, sl[j]))
                x = sl[j]
                j += 1
            gaps.append((x, b))
        for x, y in gaps:
            n = y - x
            assert n > 0
            enders = d["starts"].get(y)  # activities starting at the gap's end (also at E)
            if enders is not None and n < SHORT_GAP_NS:
                cause["kernel_gap"] += n
                continue
            synced = covered_len(tl["syncs"], x, y)
            cause["sync"] += synced
            rest = n - synced
            if enders is not None and any(l is not None and l > x for l in enders):
                cause["host_bound"] += rest
            else:
                cause["other"] += rest
    assert sum(cause.values()) == res["idle_ns"]
    assert res["compute_ns"] + res["comm_ns"] + res["memcpy_ns"] + res["memset_ns"] == res["busy_ns"]
    return res


# ---------------------------------------------------------------------------------------------
# Communication (docs/definitions.md, "Communication")

# c10 ScalarType names (the `dtype` arg) -> element size in bytes.
# CHOICE: docs/definitions.md gives no table; these are the sizes of PyTorch's scalar types.
DTYPE_SIZES = {
    "Byte": 1, "Char": 1, "Short": 2, "Int": 4, "Long": 8, "Half": 2, "Float": 4, "Double": 8,
    "ComplexHalf": 4, "ComplexFloat": 8, "ComplexDouble": 16, "Bool": 1, "QInt8": 1,
    "QUInt8": 1, "QInt32": 4, "BFloat16": 2, "QUInt4x2": 1, "QUInt2x4": 1,
    "Float8_e5m2": 1, "Float8_e4m3fn": 1, "Float8_e5m2fnuz": 1, "Float8_e4m3fnuz": 1,
    "UInt16": 2, "UInt32": 4, "UInt64": 8,
}
NCCL_ALGOS = ["COLLNET_DIRECT", "COLLNET_CHAIN", "NVLS_TREE", "COLLNETDIRECT", "COLLNETCHAIN",
              "NVLSTREE", "COLLNET", "RING", "TREE", "NVLS", "PAT"]
NCCL_PROTOS = ["LL128", "LL", "SIMPLE"]


def nccl_algorithm(name):
    """ALGO_PROTO from a kernel name such as ncclDevKernel_AllGather_RING_LL(...) or
    ncclKernel_AllReduce_RING_LL_Sum_float(...); None when absent."""
    toks = name.split("(", 1)[0].upper().split("_")
    for i in range(len(toks)):
        for algo in NCCL_ALGOS:
            at = algo.split("_")
            if toks[i:i + len(at)] == at and i + len(at) < len(toks) and toks[i + len(at)] in NCCL_PROTOS:
                return algo + "_" + toks[i + len(at)]
    return None


def comm_source(t, s):
    """Source class of a slice (0 best .. 4), or None."""
    n = s.name
    low = n.lower()
    if t.kind == "gpu" and s.cat in KERNEL_CATS and (low.startswith("nccl") or low.startswith("rccl")) \
            and not low.startswith("nccl:"):
        return 0
    if n.startswith("gloo:"):
        return 1
    if n.startswith("nccl:"):
        return 2
    if n.startswith("c10d::"):
        return 3
    if n == "record_param_comms":
        return 4
    return None


def chosen_collectives(track_list):
    """The (source, track, slice) of a rank's collective instances: its best source."""
    by_src = [[] for _ in range(5)]
    src_of = {}
    for t in track_list:
        for s in t.slices:
            k = comm_source(t, s)
            if k is not None:
                by_src[k].append((t, s))
                src_of[id(s)] = k
    chosen = []
    for k, found in enumerate(by_src):
        if found:
            for t, s in found:
                a = s.parent
                nested = False
                while a is not None:
                    if src_of.get(id(a)) == k:
                        nested = True
                        break
                    a = a.parent
                if not nested:
                    chosen.append((k, t, s))
            break
    return chosen


def host_comm_union(track_list):
    """Union of the in-flight intervals of host-side collective instances (not on GPU streams)."""
    return union_of([(s.start, s.end) for _k, t, s in chosen_collectives(track_list)
                     if t.kind != "gpu" and s.dur > 0])


def subtract_union(u, v):
    """Parts of the union u not covered by the union v."""
    res = []
    for a, b in u:
        lo = a
        for c, d in v:
            if d <= lo or c >= b:
                continue
            if c > lo:
                res.append([lo, c])
            lo = max(lo, d)
        if lo < b:
            res.append([lo, b])
    return res


def collectives(track_list, timeline):
    chosen = chosen_collectives(track_list)
    chosen.sort(key=lambda kts: kts[2].order())
    res = []
    for k, t, s in chosen:
        a = s.args
        cn = a.get("Collective name")
        name = str_or_empty(cn) if cn is not None else s.name.rsplit(":", 1)[-1]
        g = a.get("Process Group Name")
        group = str_or_empty(g) if g is not None else "default"
        seq = int_arg(a.get("Seq"))
        nbytes = None
        dt = a.get("dtype")
        size = DTYPE_SIZES.get(str_or_empty(dt)) if dt is not None else None
        allgather = "allgather" in name.lower().replace("_", "")
        n_el = int_arg(a.get("Out msg nelems" if allgather else "In msg nelems"))
        if size is not None and n_el is not None:
            nbytes = n_el * size
        exposed = None
        algorithm = None
        if k == 0:
            algorithm = nccl_algorithm(s.name)
            comp = timeline["devices"][t.key[0]]["per_kind"]["compute"]
            exposed = s.dur - covered_len(comp, s.start, s.end)
        res.append({"name": name, "group": group, "seq": seq, "start": s.start, "dur": s.dur,
                    "bytes": nbytes, "algorithm": algorithm, "exposed": exposed})
    return res


# ---------------------------------------------------------------------------------------------
# Matching across ranks (docs/definitions.md, "Communication"), one host (shared clock)

MAX_SHIFT = 64


def median(xs):
    """CHOICE: the median of an even count is the mean of the two middle values."""
    xs = sorted(xs)
    n = len(xs)
    if n % 2:
        return Decimal(xs[n // 2])
    return (Decimal(xs[n // 2 - 1]) + Decimal(xs[n // 2])) / 2


def step_of(info, t):
    for name, a, b in info["steps"]:
        if a <= t < b:
            return name
    return None


def union_len(intervals):
    return total(union_of([a, b] for a, b in intervals))


def match_run(infos):
    """infos: per-rank info from analyze(). Returns the run fixture."""
    infos = sorted(infos, key=lambda i: i["rank"])
    ranks = [i["rank"] for i in infos]
    by_rank = dict((i["rank"], i) for i in infos)
    groups = sorted(set(c["group"] for i in infos for c in i["collectives"]))
    matched = []
    unmatched = 0
    for g in groups:
        per = dict((r, [c for c in by_rank[r]["collectives"] if c["group"] == g]) for r in ranks)
        per = dict((r, v) for r, v in per.items() if v)
        everyone_seq = all(c["seq"] is not None for v in per.values() for c in v)
        rows = {}  # key -> {rank: instance}
        if everyone_seq:
            for r, v in per.items():
                for c in v:
                    rows.setdefault(c["seq"], {})[r] = c  # CHOICE: a repeated Seq keeps the last
        else:
            ref = min(per, key=lambda r: (-len(per[r]), r))
            for r, v in per.items():
                if r == ref:
                    continue
                best = None
                for shift in range(-MAX_SHIFT, MAX_SHIFT + 1):
                    pairs = [(k, k + shift) for k in range(len(v)) if 0 <= k + shift < len(per[ref])]
                    if not pairs or any(v[k]["name"] != per[ref][j]["name"] for k, j in pairs):
                        continue
                    score = (median([abs(v[k]["start"] - per[ref][j]["start"]) for k, j in pairs]),
                             abs(shift), shift)
                    if best is None or score < best[0]:
                        best = (score, shift)
                if best is None:
                    continue
                shift = best[1]
                for k in range(len(v)):
                    j = k + shift
                    if 0 <= j < len(per[ref]):
                        rows.setdefault(j, {})[r] = v[k]
            for j, c in enumerate(per[ref]):
                if j in rows:
                    rows[j][ref] = c
            paired = sum(len(m) for m in rows.values())
            unmatched += sum(len(v) for v in per.values()) - paired
            rows = dict((k, m) for k, m in rows.items())
        for key in sorted(rows):
            m = rows[key]
            if len(m) < 2:
                unmatched += len(m)
                continue
            arrivals = dict((r, c["start"]) for r, c in m.items())
            last = max(arrivals.values())
            waits = dict((r, last - a) for r, a in arrivals.items())
            straggler = min(r for r, a in arrivals.items() if a == last)
            first = min(arrivals.values())
            early = min(r for r, a in arrivals.items() if a == first)
            matched.append({"group": g, "key": key, "arrivals": arrivals, "waits": waits,
                            "straggler": straggler, "last": last,
                            "step": step_of(by_rank[early], arrivals[early]), "inst": m})
    # per step and rank
    step_names = []
    for m in matched:
        if m["step"] is not None and m["step"] not in step_names:
            step_names.append(m["step"])
    waits_out = []
    stragglers_out = []
    for st in step_names:
        ms = [m for m in matched if m["step"] == st]
        for r in ranks:
            mine = [m for m in ms if r in m["arrivals"]]
            waits_out.append({
                "step": st, "rank": r,
                "wait_ns": union_len((m["arrivals"][r], m["last"]) for m in mine),
                "max_wait_ns": max([m["waits"][r] for m in mine] or [0]),
                "straggler_count": sum(1 for m in mine if m["straggler"] == r
                                       and max(m["waits"].values()) > 0)})
        # straggler of the step: the collective with the largest wait (CHOICE: first on ties)
        worst = None
        for m in ms:
            w = max(m["waits"].values())
            if w > 0 and (worst is None or w > worst[0]):
                worst = (w, m)
        if worst is None:
            continue
        w, m = worst
        r = m["straggler"]
        arrival = m["arrivals"][r]
        # end of its last collective (before this arrival) at which it was not late
        prev_end = None
        for o in matched:
            if r not in o["arrivals"] or o["arrivals"][r] >= arrival:
                continue
            late = o["straggler"] == r and max(o["waits"].values()) > 0
            if late:
                continue
            c = o["inst"][r]
            e = c["start"] + c["dur"]
            if prev_end is None or o["arrivals"][r] > prev_end[0]:
                prev_end = (o["arrivals"][r], e)
        sst = [a for name, a, b in by_rank[r]["steps"] if name == st]
        start = sst[0] if sst else arrival
        if prev_end is not None and prev_end[1] > start:
            start = prev_end[1]
        stragglers_out.append({"step": st, "rank": r, "caused_wait_ns": w,
                               "window_start_ns": start, "window_end_ns": arrival})
    return {
        "ranks": ranks,
        "unmatched": unmatched,
        "matched": [{"group": m["group"], "key": m["key"],
                     "arrivals": dict((str(r), a) for r, a in m["arrivals"].items()),
                     "waits": dict((str(r), a) for r, a in m["waits"].items()),
                     "straggler": m["straggler"], "step": m["step"]} for m in matched],
        "waits": waits_out,
        "stragglers": stragglers_out,
    }


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
    runs = {}  # folder (relative) -> [(rel, info)]
    for f, rel, name in jobs:
        if args.only and args.only not in rel:
            continue
        res, info = analyze(f, rel, rules)
        dst = os.path.join(args.out, name + ".expected.json")
        write(dst, res)
        print("%-90s slices=%-7d steps=%d" % (rel, res["slices"], len(res["steps"])), file=sys.stderr)
        if not rel.startswith("synthetic/") and info["rank"] is not None:
            runs.setdefault(os.path.dirname(rel), []).append((rel, info))
    # A run: a folder holding two or more traces, all with distributedInfo.rank, ranks distinct.
    for folder, members in sorted(runs.items()):
        ranks = [i["rank"] for _rel, i in members]
        if len(members) < 2 or len(set(ranks)) != len(ranks):
            continue
        res = match_run([i for _rel, i in members])
        res["folder"] = folder
        res["files"] = sorted(rel for rel, _i in members)
        write(os.path.join(args.out, "run__" + folder.replace("/", "__") + ".expected.json"), res)
        print("run %-86s matched=%d" % (folder, len(res["matched"])), file=sys.stderr)


def write(dst, res):
    with open(dst, "w", encoding="utf-8") as fh:
        json.dump(res, fh, sort_keys=True, indent=1, ensure_ascii=False)
        fh.write("\n")


if __name__ == "__main__":
    main()
