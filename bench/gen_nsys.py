#!/usr/bin/env python3
"""Writes a large Nsight-Systems-like SQLite export for the import benchmark (docs/performance.md).

Usage: bench/gen_nsys.py OUT.sqlite [--mb 400] [--gpus 2]

The tables and columns are those of an `nsys export --type sqlite` of a PyTorch run (nsys 2026.2):
per GPU process, emit_nvtx ranges (`aten::mm, op_id = N`) enclosing cudaLaunchKernel calls, each
launching a kernel on one of a few streams, with a memcpy every 20 kernels and a synchronization
every 200. Rows are written in batches, so memory stays small whatever the size.
"""
import argparse
import os
import random
import sqlite3

SCHEMA = """
CREATE TABLE StringIds (id INTEGER NOT NULL PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
  contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL, correlationId INTEGER, globalPid INTEGER,
  demangledName INTEGER NOT NULL, shortName INTEGER NOT NULL, mangledName INTEGER, launchType INTEGER, cacheConfig INTEGER,
  registersPerThread INTEGER NOT NULL, gridX INTEGER NOT NULL, gridY INTEGER NOT NULL, gridZ INTEGER NOT NULL,
  blockX INTEGER NOT NULL, blockY INTEGER NOT NULL, blockZ INTEGER NOT NULL, staticSharedMemory INTEGER NOT NULL,
  dynamicSharedMemory INTEGER NOT NULL, localMemoryPerThread INTEGER NOT NULL, localMemoryTotal INTEGER NOT NULL,
  gridId INTEGER NOT NULL, sharedMemoryExecuted INTEGER, graphNodeId INTEGER);
CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
  contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL, correlationId INTEGER, globalPid INTEGER,
  bytes INTEGER NOT NULL, copyKind INTEGER NOT NULL, srcKind INTEGER, dstKind INTEGER);
CREATE TABLE CUPTI_ACTIVITY_KIND_SYNCHRONIZATION (start INTEGER NOT NULL, end INTEGER NOT NULL, deviceId INTEGER NOT NULL,
  contextId INTEGER NOT NULL, greenContextId INTEGER, streamId INTEGER NOT NULL, correlationId INTEGER, globalPid INTEGER,
  syncType INTEGER NOT NULL, eventId INTEGER NOT NULL);
CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER NOT NULL, end INTEGER NOT NULL, eventClass INTEGER NOT NULL,
  globalTid INTEGER, correlationId INTEGER, nameId INTEGER NOT NULL, returnValue INTEGER NOT NULL, callchainId INTEGER);
CREATE TABLE NVTX_EVENTS (start INTEGER NOT NULL, end INTEGER, eventType INTEGER NOT NULL, rangeId INTEGER,
  category INTEGER, color INTEGER, text TEXT, globalTid INTEGER, endGlobalTid INTEGER, textId INTEGER, domainId INTEGER);
CREATE TABLE ThreadNames (nameId INTEGER NOT NULL, priority INTEGER, globalTid INTEGER);
CREATE TABLE PROCESSES (globalPid INTEGER, pid INTEGER, name TEXT);
CREATE TABLE ENUM_CUDA_MEMCPY_OPER (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, label TEXT);
CREATE TABLE ENUM_CUPTI_SYNC_TYPE (id INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, label TEXT);
INSERT INTO ENUM_CUDA_MEMCPY_OPER VALUES (1, 'CUDA_MEMCPY_KIND_HTOD', 'Host-to-Device'), (8, 'CUDA_MEMCPY_KIND_DTOD', 'Device-to-Device');
INSERT INTO ENUM_CUPTI_SYNC_TYPE VALUES (3, 'CUPTI_ACTIVITY_SYNCHRONIZATION_TYPE_STREAM_SYNCHRONIZE', 'Stream sync');
"""

OPS = ["aten::mm", "aten::add", "aten::mul", "aten::copy_", "aten::softmax", "aten::layer_norm", "aten::bmm", "aten::gelu"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=400, help="approximate file size in MB")
    ap.add_argument("--gpus", type=int, default=2)
    args = ap.parse_args()
    if os.path.exists(args.out):
        os.unlink(args.out)
    db = sqlite3.connect(args.out)
    db.executescript(SCHEMA)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    strings = ["cudaLaunchKernel_v7000", "cudaMemcpyAsync_v3020", "cudaStreamSynchronize_v3020", "python3"]
    kernels = [f"void at::native::kernel_{i}<float, {i % 7}>(at::TensorIterator&, int)" for i in range(200)]
    db.executemany("INSERT INTO StringIds VALUES (?, ?)", enumerate(strings + kernels, start=1))
    kernel_base = len(strings) + 1
    rng = random.Random(7)
    # One op: an NVTX range, a runtime call and a kernel, ~160 bytes of rows in all.
    ops = args.mb * 1_000_000 // 160 // args.gpus
    for g in range(args.gpus):
        pid = 1000 + g
        gpid = (1 << 56) | (pid << 24)
        gtid = gpid | pid
        db.execute("INSERT INTO PROCESSES VALUES (?, ?, 'python3')", (gpid, pid))
        db.execute("INSERT INTO ThreadNames VALUES (4, 0, ?)", (gtid,))
        t = 1_000_000_000
        gpu_t = t
        batch_k, batch_r, batch_n, batch_m, batch_s = [], [], [], [], []
        for i in range(ops):
            corr = i + 1
            dur = rng.randint(2_000, 40_000)
            start = t
            launch = start + 1_000
            op = OPS[i % len(OPS)]
            batch_n.append((start, launch + 6_000, 59, f"{op}, op_id = {i}", gtid))
            batch_r.append((launch, launch + 4_000, 1, gtid, corr, 1, 0))
            gpu_t = max(gpu_t, launch + 5_000) + rng.randint(200, 3_000)
            k = kernel_base + (i * 7919) % len(kernels)
            batch_k.append((gpu_t, gpu_t + dur, g, 1, 7 + i % 3, corr, gpid, k, k, 64, 1, 1, 1, 256, 1, 1, 0, 0, 0, 0, i))
            gpu_t += dur
            if i % 20 == 0:
                batch_m.append((gpu_t, gpu_t + 3_000, g, 1, 7, None, gpid, 1 << 20, 1 if i % 40 == 0 else 8))
                gpu_t += 3_000
            if i % 200 == 199:
                batch_s.append((launch + 4_000, gpu_t, g, 1, 7, corr, gpid, 3, 0))
                batch_r.append((launch + 4_000, gpu_t + 500, 1, gtid, corr + 10 ** 9, 3, 0))
            t = launch + 7_000
            if i % 200 == 199:
                t = gpu_t + 1_000  # the host waited for the GPU
            if len(batch_k) >= 50_000 or i == ops - 1:
                db.executemany("INSERT INTO NVTX_EVENTS (start, end, eventType, text, globalTid) VALUES (?, ?, ?, ?, ?)", batch_n)
                db.executemany("INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME (start, end, eventClass, globalTid, correlationId, nameId, returnValue) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", batch_r)
                db.executemany("INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL (start, end, deviceId, contextId, streamId, correlationId, globalPid, "
                               "demangledName, shortName, registersPerThread, gridX, gridY, gridZ, blockX, blockY, blockZ, staticSharedMemory, "
                               "dynamicSharedMemory, localMemoryPerThread, localMemoryTotal, gridId) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_k)
                db.executemany("INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY (start, end, deviceId, contextId, streamId, correlationId, globalPid, "
                               "bytes, copyKind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_m)
                db.executemany("INSERT INTO CUPTI_ACTIVITY_KIND_SYNCHRONIZATION (start, end, deviceId, contextId, streamId, correlationId, "
                               "globalPid, syncType, eventId) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch_s)
                db.commit()
                batch_k, batch_r, batch_n, batch_m, batch_s = [], [], [], [], []
    db.commit()
    db.close()
    print(f"{args.out}: {os.path.getsize(args.out) / 1e6:.0f} MB, {ops * args.gpus} kernels")


if __name__ == "__main__":
    main()
