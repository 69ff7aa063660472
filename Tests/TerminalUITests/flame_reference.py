#!/usr/bin/env python3
"""Independent reference for the flame graph's call paths (docs/tui.md "Flame"; stdlib only).

Usage: flame_reference.py TRACE.json[.gz]   prints JSON on stdout:

  {"python": [{"path": [...], "total_ns": N, "count": C}, ...],   # Python frames and operators
   "operators": [...same, Python frames left out...],
   "clipped": K}                                                     # slices cut by the nesting

Reading of the docs, written apart from the Swift code:
  * numbers are parsed as Decimal from their text; ns(x) = x * 1000 rounded half up; a slice's end
    is ns(ts) + ns(dur). Only complete events (ph X) are used; their track is (pid, tid) as text.
  * a track is a CPU thread unless it holds a GPU activity (kernel, gpu_memcpy, gpu_memset,
    gpu_user_annotation and the 2021 spellings Kernel, Memcpy, Memset).
  * nesting (docs/definitions.md): slices of a track by start ascending, duration descending, file
    order; pop open slices whose nesting end <= the new start; while the top does not contain the
    new slice (nesting end < new end), its nesting end becomes the new start and it is popped.
  * counted slices: operators (cpu_op, Operator, user_annotation, cuda_runtime, Runtime,
    cuda_driver, name not starting with ProfilerStep#) and, for "python", python_function. A
    counted slice's path is the names of its counted ancestors and itself, outermost first; a
    python_function name has its hexadecimal addresses replaced by 0x?.
  * a path's total_ns is the sum of nesting end - start of its slices.
"""
import decimal
import gzip
import json
import re
import sys

D = decimal.Decimal
GPU = {"kernel", "gpu_memcpy", "gpu_memset", "gpu_user_annotation", "Kernel", "Memcpy", "Memset"}
OPS = {"cpu_op", "Operator", "user_annotation", "cuda_runtime", "Runtime", "cuda_driver"}


def ns(v):
    return int((D(str(v)) * 1000).quantize(D(1), rounding=decimal.ROUND_HALF_UP))


def text(v):
    return v if isinstance(v, str) else str(v)


def main(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        doc = json.loads(f.read(), parse_float=D, parse_int=D)
    events = doc["traceEvents"] if isinstance(doc, dict) else doc
    tracks = {}
    gpu_tracks = set()
    for k, e in enumerate(events):
        if e.get("ph") != "X":
            continue
        key = (text(e.get("pid")), text(e.get("tid")))
        if e.get("cat") in GPU:
            gpu_tracks.add(key)
        start = ns(e.get("ts", 0))
        dur = ns(e.get("dur", 0))
        if dur < 0:
            continue
        tracks.setdefault(key, []).append([start, dur, k, e.get("cat"), e["name"]])
    out = {"python": {}, "operators": {}}
    clipped = 0
    for key, slices in tracks.items():
        if key in gpu_tracks:
            continue
        slices.sort(key=lambda s: (s[0], -s[1], s[2]))
        ends = [s[0] + s[1] for s in slices]
        parent = [-1] * len(slices)
        stack = []
        for i, (start, dur, _, _, _) in enumerate(slices):
            while stack and ends[stack[-1]] <= start:
                stack.pop()
            while stack and ends[stack[-1]] < start + dur:
                ends[stack[-1]] = start
                clipped += 1
                stack.pop()
            parent[i] = stack[-1] if stack else -1
            stack.append(i)
        for mode in ("python", "operators"):
            paths = [None] * len(slices)
            for i, (start, _, _, cat, name) in enumerate(slices):
                p = parent[i]
                above = paths[p] if p >= 0 else ()
                counted = (cat in OPS and not name.startswith("ProfilerStep#")) or (mode == "python" and cat == "python_function")
                if not counted:
                    paths[i] = above
                    continue
                if cat == "python_function":
                    name = re.sub(r"0x[0-9a-fA-F]+", "0x?", name)
                paths[i] = above + (name,)
                entry = out[mode].setdefault(paths[i], [0, 0])
                entry[0] += ends[i] - start
                entry[1] += 1
    result = {m: [{"path": list(p), "total_ns": v[0], "count": v[1]} for p, v in sorted(out[m].items())] for m in out}
    result["clipped"] = clipped
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
