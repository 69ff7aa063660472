"""Independent replay of a PyTorch memory snapshot, for SnapshotTests (stdlib only).

Usage: snapshot_reference.py FILE -> JSON: per device the peak allocated bytes, the index of the
first event reaching it (-1: the state before the trace), reserved there, and the live blocks at
the peak as sorted [address, size] pairs. Rules (docs/memory-snapshots.md): the state at the start
is the blocks allocated at the end (active_allocated / active_pending_free in `segments`), minus
those allocated in the trace, plus those whose free_completed is in the trace; allocated changes
at alloc and free_completed; reserved at segment_alloc/map and segment_free/unmap.
"""
import json, pickle, sys

snap = pickle.load(open(sys.argv[1], "rb"))
traces = snap["device_traces"]
out = []
ndev = max([len(traces)] + [s["device"] + 1 for s in snap["segments"]])
for dev in range(ndev):
    events = traces[dev] if dev < len(traces) else []
    segs = [s for s in snap["segments"] if s["device"] == dev]
    if not events and not segs:
        continue
    end_live = {b["address"]: b["size"] for s in segs for b in s["blocks"]
                if b["state"] in ("active_allocated", "active_pending_free")}
    # Which addresses does the trace touch first by a free (live at start) or by an alloc?
    first = {}
    for e in events:
        if e["action"] in ("alloc", "free_completed"):
            first.setdefault(e["addr"], e)
    live = {a: s for a, s in end_live.items() if a not in first}
    live.update({a: e["size"] for a, e in first.items() if e["action"] == "free_completed"})
    reserved = sum(s["total_size"] for s in segs)
    for e in events:
        if e["action"] in ("segment_alloc", "segment_map"): reserved -= e["size"]
        if e["action"] in ("segment_free", "segment_unmap"): reserved += e["size"]
    allocated = sum(live.values())
    best = (allocated, -1, reserved, sorted(live.items()))
    for i, e in enumerate(events):
        a = e["action"]
        if a == "alloc":
            live[e["addr"]] = e["size"]
        elif a == "free_completed":
            live.pop(e["addr"], None)
        elif a in ("segment_alloc", "segment_map"):
            reserved += e["size"]
        elif a in ("segment_free", "segment_unmap"):
            reserved -= e["size"]
        allocated = sum(live.values()) if a in ("alloc", "free_completed") else allocated
        if allocated > best[0]:
            best = (allocated, i, reserved, sorted(live.items()))
    out.append({"device": dev, "peak": best[0], "peak_event": best[1], "reserved_at_peak": best[2],
                "live": [list(p) for p in best[3]]})
print(json.dumps(out))
