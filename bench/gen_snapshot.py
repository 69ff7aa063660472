#!/usr/bin/env python3
"""Writes a large synthetic PyTorch memory snapshot (pickle protocol 4) for the load benchmark.

Usage: gen_snapshot.py OUT [SIZE_MB] [DEVICES]   (default 1024 MB, 2 devices)

Stdlib only, and streamed: the opcodes are written as pickle.Pickler would write them (EMPTY_DICT,
MEMOIZE, MARK ... SETITEMS, APPENDS batches of exactly 1000 items, BINGET of shared frames and
strings), so the file is never held in memory. Shape: `device_traces` (alloc / free_requested / free_completed of
blocks from 512 B to 64 MiB, segment_alloc / segment_free as the cached bytes grow and shrink),
each event with 8 to 48 frames drawn from a pool of 4000 (Python and C++ frames, as with
`_record_memory_history(stacks="all")`), then `segments` consistent with the blocks still live.
`pickle.load` reads it back (checked on small sizes).
"""
import pickle
import random
import struct
import sys

out_path = sys.argv[1]
target = int(sys.argv[2]) * (1 << 20) if len(sys.argv) > 2 else 1 << 30
devices = int(sys.argv[3]) if len(sys.argv) > 3 else 2
rng = random.Random(14)
f = open(out_path, "wb")
buf = bytearray()
memo = {}  # shared value -> memo index
memo_count = 0
written = 0


def w(b):
    buf.extend(b)


def flush():
    global written
    f.write(buf)
    written += len(buf)
    buf.clear()


def size():
    return written + len(buf)


def memoize(key=None):
    """MEMOIZE the value on top; `key` names a value that is read back later (a GET)."""
    global memo_count
    if key is not None:
        memo[key] = memo_count
    memo_count += 1
    w(pickle.MEMOIZE)


def get(i):
    w(pickle.BINGET + bytes([i]) if i < 256 else pickle.LONG_BINGET + struct.pack("<I", i))


def string(s):
    """A shared string: written once, then read back from the memo."""
    key = ("s", s)
    if key in memo:
        get(memo[key])
        return
    b = s.encode()
    w(pickle.SHORT_BINUNICODE + bytes([len(b)]) + b if len(b) < 256 else pickle.BINUNICODE + struct.pack("<I", len(b)) + b)
    memoize(key)


def integer(v):
    if 0 <= v < 256:
        w(pickle.BININT1 + bytes([v]))
    elif -(1 << 31) <= v < (1 << 31):
        w(pickle.BININT + struct.pack("<i", v))
    else:
        w(pickle.LONG1 + bytes([8]) + struct.pack("<q", v))


files = [f"/home/user/project/model/layer{i}.py" for i in range(40)] + \
        [f"/opt/conda/lib/python3.11/site-packages/torch/nn/modules/m{i}.py" for i in range(60)] + \
        [f"/pytorch/c10/core/impl/alloc{i}.cpp" for i in range(30)]
pool = [(f"fn_{i}", files[rng.randrange(len(files))], rng.randrange(1, 2000)) for i in range(4000)]


def frame(i):
    key = ("f", i)
    if key in memo:
        get(memo[key])
        return
    name, filename, line = pool[i]
    w(pickle.EMPTY_DICT); memoize(key); w(pickle.MARK)
    string("name"); string(name); string("filename"); string(filename); string("line"); integer(line)
    w(pickle.SETITEMS)


cached = {}  # stack index -> the bytes of its frames list after the list's MEMOIZE


def frames(stack):
    """The frames list of stack `stack` (an index into `stacks`; -1: no frames)."""
    w(pickle.EMPTY_LIST); memoize()
    if stack < 0:
        return
    if stack in cached:
        w(cached[stack])
        return
    begin, memoized = len(buf), memo_count
    w(pickle.MARK)
    for i in stacks[stack]:
        frame(i)
    w(pickle.APPENDS)
    if memo_count == memoized:  # only GETs: the same bytes stand for this list every time
        cached[stack] = bytes(buf[begin:])


def event(action, addr, size, stack, time_us):
    """One trace event, appended to the current device's list (APPENDS every 1000, as pickle does)."""
    global batch
    w(pickle.EMPTY_DICT); memoize(); w(pickle.MARK)
    string("action"); string(action); string("addr"); integer(addr); string("size"); integer(size)
    string("stream"); integer(7); string("time_us"); integer(time_us); string("frames"); frames(stack)
    w(pickle.SETITEMS)
    batch += 1
    if batch == 1000:
        w(pickle.APPENDS); w(pickle.MARK); batch = 0
        if len(buf) > 1 << 22:
            flush()


stacks = [[rng.randrange(len(pool)) for _ in range(rng.randrange(8, 49))] for _ in range(3000)]
w(pickle.PROTO + bytes([4]))
w(pickle.EMPTY_DICT); memoize(); w(pickle.MARK)
string("device_traces")
w(pickle.EMPTY_LIST); memoize(); w(pickle.MARK)
live_at_end = []
per_device = (target - (1 << 20)) // devices
for d in range(devices):
    w(pickle.EMPTY_LIST); memoize()
    live = {}  # addr -> (size, stack)
    reserved, allocated = 0, 0
    segments = []  # (addr, size)
    next_addr = (d + 1) << 40
    t = 1_700_000_000_000_000  # time_us
    start = size()
    batch = 0
    w(pickle.MARK)
    while size() - start < per_device:
        t += rng.randrange(1, 200)
        if live and (len(live) > 2000 or rng.random() < 0.48):
            addr = rng.choice(list(live)) if len(live) < 64 else next(iter(live))
            size_, stack = live.pop(addr)
            event("free_requested", addr, size_, stack, t)
            event("free_completed", addr, size_, -1, t + 5)
            allocated -= size_
            if reserved - allocated > 1 << 33 and segments:
                a, s = segments.pop(0)
                event("segment_free", a, s, -1, t + 6)
                reserved -= s
            continue
        size_ = 512 << rng.randrange(0, 18)
        if allocated + size_ > reserved:
            seg = max(size_, 20 << 20)
            segments.append((next_addr, seg))
            event("segment_alloc", next_addr, seg, 0, t)
            reserved += seg
        stack = rng.randrange(len(stacks))
        addr = next_addr
        next_addr += size_
        live[addr] = (size_, stack)
        allocated += size_
        event("alloc", addr, size_, stack, t + 1)
    w(pickle.APPENDS)
    live_at_end.append((d, live, reserved))
w(pickle.APPENDS)
string("segments")
w(pickle.EMPTY_LIST); memoize(); w(pickle.MARK)
for d, live, reserved in live_at_end:
    # One segment per device holding the live blocks, sized to the reserved bytes at the end.
    w(pickle.EMPTY_DICT); memoize(); w(pickle.MARK)
    string("device"); integer(d); string("address"); integer((d + 1) << 40); string("total_size"); integer(reserved)
    string("is_expandable"); w(pickle.NEWFALSE); string("stream"); integer(7)
    string("blocks"); w(pickle.EMPTY_LIST); memoize()
    for k, (addr, (size_, stack)) in enumerate(live.items()):
        if k % 1000 == 0:
            if k: w(pickle.APPENDS)
            w(pickle.MARK)
        w(pickle.EMPTY_DICT); memoize(); w(pickle.MARK)
        string("address"); integer(addr); string("size"); integer(size_); string("state"); string("active_allocated")
        string("frames"); frames(stack)
        w(pickle.SETITEMS)
    if live: w(pickle.APPENDS)
    w(pickle.SETITEMS)
w(pickle.APPENDS)
w(pickle.SETITEMS)
w(pickle.STOP)
flush()
f.close()
print(f"{out_path}: {written} bytes, {devices} devices")
