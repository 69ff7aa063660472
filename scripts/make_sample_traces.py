#!/usr/bin/env python3
"""Generate stepscope's sample traces with the real PyTorch profiler (Kineto) on CPU.

Trains a tiny GPT-like language model on synthetic tokens and profiles a few
steps, writing gzipped Chrome-trace JSON exactly as torch.profiler exports it:

  <out>/single/single.pt.trace.json.gz            one process
  <out>/ddp2_straggler/rank0.pt.trace.json.gz     2-rank DDP (gloo, localhost),
  <out>/ddp2_straggler/rank1.pt.trace.json.gz     rank 1 sleeps in one step

Every training step is split into record_function phases `dataloader`,
`forward`, `backward`, `optimizer` (DDP runs add `loss_allreduce`).  Data comes
through a real torch DataLoader, so `enumerate(DataLoader)#...` markers appear.
The profiler runs with profile_memory, record_shapes and with_stack, on a
wait/warmup/active schedule, so the trace holds `ProfilerStep#N` slices for the
active steps only.

Usage:
  python3 scripts/make_sample_traces.py [--out sample-traces] [--only single|ddp]

Only torch (CPU build is fine) is needed.  Seeds are fixed, so the model,
data, shapes and op sequence are the same on every run; timings of course are not.
"""

import argparse
import gzip
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter

# ---------------------------------------------------------------------------
# Configuration shared by the single-process and the DDP run.
# ---------------------------------------------------------------------------
SEED = 1234
VOCAB = 512
SEQ_LEN = 64
D_MODEL = 192
N_HEADS = 4
N_LAYERS = 4
BATCH = 8
LR = 3e-4

WAIT, WARMUP, ACTIVE = 1, 1, 5          # -> ProfilerStep#2 .. ProfilerStep#6
FIRST_ACTIVE = WAIT + WARMUP
TOTAL_STEPS = WAIT + WARMUP + ACTIVE

STRAGGLER_RANK = 1
STRAGGLER_STEP = 4                       # ProfilerStep#4
STRAGGLER_SLEEP_S = 0.2

DDP_WORLD_SIZE = 2
DDP_BUCKET_MB = 2                        # small buckets -> several gradient allreduces per step


def build_model():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, d, h):
            super().__init__()
            self.h = h
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc1 = nn.Linear(d, 4 * d)
            self.fc2 = nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
            q = q.view(b, t, self.h, d // self.h).transpose(1, 2)
            k = k.view(b, t, self.h, d // self.h).transpose(1, 2)
            v = v.view(b, t, self.h, d // self.h).transpose(1, 2)
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            a = a.transpose(1, 2).contiguous().view(b, t, d)
            x = x + self.proj(a)
            x = x + self.fc2(F.gelu(self.fc1(self.ln2(x))))
            return x

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(VOCAB, D_MODEL)
            self.pos = nn.Embedding(SEQ_LEN, D_MODEL)
            self.blocks = nn.ModuleList(Block(D_MODEL, N_HEADS) for _ in range(N_LAYERS))
            self.ln_f = nn.LayerNorm(D_MODEL)
            self.head = nn.Linear(D_MODEL, VOCAB, bias=False)

        def forward(self, idx, targets):
            t = idx.shape[1]
            pos = torch.arange(t, device=idx.device)
            x = self.tok(idx) + self.pos(pos)
            for blk in self.blocks:
                x = blk(x)
            logits = self.head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))

    return TinyGPT()


def build_loader(rank=None, world_size=None):
    import torch
    from torch.utils.data import DataLoader, Dataset

    class TokenWindows(Dataset):
        """Fixed pseudo-random token stream cut into (input, target) windows."""

        def __init__(self, n_windows):
            g = torch.Generator().manual_seed(SEED)
            self.data = torch.randint(0, VOCAB, (n_windows * SEQ_LEN + 1,), generator=g)
            self.n = n_windows

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            s = i * SEQ_LEN
            chunk = self.data[s:s + SEQ_LEN + 1]
            return chunk[:-1], chunk[1:]

    ds = TokenWindows(n_windows=BATCH * (TOTAL_STEPS + 2) * (world_size or 1))
    if world_size:
        from torch.utils.data.distributed import DistributedSampler
        sampler = DistributedSampler(ds, num_replicas=world_size, rank=rank,
                                     shuffle=True, seed=SEED, drop_last=True)
        return DataLoader(ds, batch_size=BATCH, sampler=sampler, num_workers=0, drop_last=True)
    g = torch.Generator().manual_seed(SEED)
    return DataLoader(ds, batch_size=BATCH, shuffle=True, generator=g, num_workers=0, drop_last=True)


def write_gzip(src_json, dst_gz):
    """gzip with a zero mtime and no embedded file name so the bytes depend only on the trace."""
    os.makedirs(os.path.dirname(dst_gz), exist_ok=True)
    with open(src_json, "rb") as fin, open(dst_gz, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)


def make_trace_handler(dst_gz):
    def handler(prof):
        # Export next to the destination (so the trace's traceName is the file's own
        # path, relative to the working directory), gzip it, drop the plain JSON.
        os.makedirs(os.path.dirname(dst_gz), exist_ok=True)
        tmp = dst_gz[:-len(".gz")]
        try:
            prof.export_chrome_trace(os.path.relpath(tmp))
            write_gzip(tmp, dst_gz)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return handler


def train(dst_gz, rank=None, world_size=None):
    """Run TOTAL_STEPS training steps under the profiler; the trace goes to dst_gz."""
    import torch
    import torch.distributed as dist
    from torch.profiler import ProfilerActivity, profile, record_function, schedule

    torch.manual_seed(SEED)
    model = build_model()
    if world_size:
        from torch.nn.parallel import DistributedDataParallel as DDP
        model = DDP(model, bucket_cap_mb=DDP_BUCKET_MB)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    loader = build_loader(rank, world_size)
    if world_size:
        loader.sampler.set_epoch(0)
    it = iter(loader)

    step_ms = []
    with profile(
        activities=[ProfilerActivity.CPU],
        schedule=schedule(wait=WAIT, warmup=WARMUP, active=ACTIVE, repeat=1),
        on_trace_ready=make_trace_handler(dst_gz),
        profile_memory=True,
        record_shapes=True,
        with_stack=True,
    ) as prof:
        for _ in range(TOTAL_STEPS):
            step = prof.step_num
            t0 = time.perf_counter()
            with record_function("dataloader"):
                x, y = next(it)
            with record_function("forward"):
                if world_size and rank == STRAGGLER_RANK and step == STRAGGLER_STEP:
                    with record_function("straggler_sleep"):
                        time.sleep(STRAGGLER_SLEEP_S)
                loss = model(x, y)
            with record_function("backward"):
                loss.backward()
            with record_function("optimizer"):
                opt.step()
                opt.zero_grad(set_to_none=True)
            if world_size:
                with record_function("loss_allreduce"):
                    lsum = loss.detach().clone()
                    dist.all_reduce(lsum)
                    lsum /= world_size
            step_ms.append((step, (time.perf_counter() - t0) * 1e3, loss.detach().item()))
            prof.step()
    return step_ms


# ---------------------------------------------------------------------------
# Runs
# ---------------------------------------------------------------------------

def run_single(out):
    import torch
    dst = os.path.join(out, "single", "single.pt.trace.json.gz")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    n_params = sum(p.numel() for p in build_model().parameters())
    print(f"[single] TinyGPT {n_params / 1e6:.2f}M params, {TOTAL_STEPS} steps "
          f"(profiled ProfilerStep#{FIRST_ACTIVE}..#{TOTAL_STEPS - 1})", flush=True)
    for step, ms, loss in train(dst):
        print(f"[single]   step {step}: {ms:8.1f} ms  loss {loss:.4f}", flush=True)
    return [dst]


def ddp_worker(out, rank, world_size, port):
    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world_size))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    dst = os.path.join(out, "ddp2_straggler", f"rank{rank}.pt.trace.json.gz")
    try:
        for step, ms, loss in train(dst, rank, world_size):
            print(f"[ddp rank{rank}] step {step}: {ms:8.1f} ms  loss {loss:.4f}", flush=True)
    finally:
        dist.destroy_process_group()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_ddp(out):
    port = free_port()
    print(f"[ddp] {DDP_WORLD_SIZE} ranks, gloo on 127.0.0.1:{port}; rank {STRAGGLER_RANK} "
          f"sleeps {STRAGGLER_SLEEP_S:.1f} s in ProfilerStep#{STRAGGLER_STEP}", flush=True)
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--out", out,
                               "--_ddp-rank", str(r), "--_ddp-world-size", str(DDP_WORLD_SIZE),
                               "--_ddp-port", str(port)])
             for r in range(DDP_WORLD_SIZE)]
    rcs = [p.wait() for p in procs]
    if any(rcs):
        sys.exit(f"[ddp] worker exit codes {rcs}")
    return [os.path.join(out, "ddp2_straggler", f"rank{r}.pt.trace.json.gz")
            for r in range(DDP_WORLD_SIZE)]


# ---------------------------------------------------------------------------
# Summary of what was written
# ---------------------------------------------------------------------------

def summarize(path):
    with gzip.open(path, "rb") as f:
        doc = json.load(f)
    ev = doc["traceEvents"]
    by = Counter((e.get("ph"), e.get("cat")) for e in ev)
    steps = sorted(((e["name"], e["dur"] / 1e3) for e in ev
                    if e.get("cat") == "user_annotation" and e.get("name", "").startswith("ProfilerStep#")),
                   key=lambda s: int(s[0].split("#")[1]))
    print(f"  {path}: {os.path.getsize(path) / 1024:.0f} KiB gz, {len(ev)} events")
    print("    " + ", ".join(f"{ph}/{cat}={n}" for (ph, cat), n in sorted(by.items(), key=str)))
    print("    steps: " + ", ".join(f"{n} {ms:.0f} ms" for n, ms in steps))
    if "distributedInfo" in doc:
        di = doc["distributedInfo"]
        print(f"    distributedInfo: backend={di.get('backend')} rank={di.get('rank')} "
              f"world_size={di.get('world_size')}")
    return doc


def phase_ms(doc, phase):
    """{step number: duration ms} of a user_annotation phase on the ProfilerStep thread."""
    ev = doc["traceEvents"]
    steps = [e for e in ev if e.get("cat") == "user_annotation" and e.get("name", "").startswith("ProfilerStep#")]
    out = {}
    for e in ev:
        if e.get("cat") == "user_annotation" and e.get("name") == phase:
            for s in steps:
                if s["tid"] == e["tid"] and s["ts"] <= e["ts"] <= s["ts"] + s["dur"]:
                    out[int(s["name"].split("#")[1])] = e["dur"] / 1e3
    return out


def ddp_wait_report(docs):
    r0 = docs[0]
    bw = phase_ms(r0, "backward")
    others = [v for k, v in bw.items() if k != STRAGGLER_STEP]
    if STRAGGLER_STEP in bw and others:
        base = sorted(others)[len(others) // 2]
        print(f"  rank 0 backward (waits on gradient allreduce): ProfilerStep#{STRAGGLER_STEP} "
              f"{bw[STRAGGLER_STEP]:.0f} ms vs median {base:.0f} ms of other steps "
              f"-> ~{bw[STRAGGLER_STEP] - base:.0f} ms waiting for rank {STRAGGLER_RANK}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="sample-traces", help="output directory (default: sample-traces)")
    ap.add_argument("--only", choices=["single", "ddp"], help="generate only one of the two sets")
    ap.add_argument("--_ddp-rank", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_ddp-world-size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--_ddp-port", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    out = os.path.abspath(a.out)

    if a._ddp_rank is not None:
        ddp_worker(out, a._ddp_rank, a._ddp_world_size, a._ddp_port)
        return

    t0 = time.time()
    written = []
    if a.only in (None, "single"):
        written += run_single(out)
    ddp_files = []
    if a.only in (None, "ddp"):
        ddp_files = run_ddp(out)
        written += ddp_files
    print(f"wrote {len(written)} trace(s) in {time.time() - t0:.0f} s:")
    docs = [summarize(p) for p in written]
    if ddp_files:
        ddp_wait_report(docs[-len(ddp_files):])


if __name__ == "__main__":
    main()
