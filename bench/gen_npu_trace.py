#!/usr/bin/env python3
"""Write a synthetic torch_npu text export (ASCEND_PROFILER_OUTPUT/trace_view.json) of any size.

The output has the shape torch_npu 2.x writes for a data-parallel model on Ascend NPUs (checked
against ../shared/traces/ascend/torch_npu_text): a bare JSON list on one line (events joined by ", ", no newline), `ts` as a
string of microseconds with three decimals, `dur` a number, synthesised pids (some above 2^32),
process/thread metadata in the middle of the file, and per step:

  Python   ProfilerStep#N on the main thread; cpu_op trees (aten::linear > aten::addmm, ...)
           with `Input Dims` / `Input type` / `Call stack` joined by ";\\r\\n"; python_function
           frames; Enqueue (main thread) -> Dequeue@op (task-queue thread) with correlation_id
           and async_task_queue flows; async_npu flows (torch_to_npu, id = the task's ts in ns,
           above 2^53) from the op to its device task; fwdbwd flows
  CANN     AscendCL@aclnnX / Node@launch calls with connection_id, HostToDevice flows
  Hardware one thread per `Stream N`: AI_CORE / MIX_AIV tasks, MEMCPY_ASYNC, EVENT_RECORD, and
           on the HCCL stream Notify Wait / SDMA / Write Value tasks
  HCCL     hcom_allReduce__N_i_1 ops on `Group 0 Communication` (data_type, count, alg_type),
           their tasks repeated on `Plane 0`
  counters NPU MEM (APP/HBM in KB), HBM, AI Core Freq; Overlap Analysis spans

Usage: gen_npu_trace.py --size-mb 300 OUT.json
"""
import argparse
import random

PYTHON, CANN, HW, HCCL, MEM, HBM, OVERLAP = 3178231, 3254508768, 3254508960, 5254509024, 3254509152, 3254509088, 3254509280
MAIN, QUEUE, BWD = 3178231, 3181770, 3186523
COMPUTE_STREAM, COMM_STREAM = 2, 4

STACK = ";\\r\\n".join([
    "/home/user/.local/lib/python3.9/site-packages/torch/nn/modules/linear.py(114): forward",
    "/home/user/.local/lib/python3.9/site-packages/torch/nn/modules/module.py(1501): _call_impl",
    "/home/user/imagenet_script/main.py(345): train",
    "/home/user/imagenet_script/main.py(282): main_worker",
    "<string>(1): <module>",
])
OPS = [("aten::linear", "aten::addmm", "aclnnAddmm_MatMulCommon_MatMulV2", "AI_CORE"),
       ("aten::conv2d", "aten::convolution", "Conv2D4", "AI_CORE"),
       ("aten::add", "aten::add_", "aclnnAdd_AddAiCore_Add", "AI_CORE"),
       ("aten::sum", "aten::sum", "aclnnReduceSum_ReduceSumOpAiCore_ReduceSum", "MIX_AIV"),
       ("aten::relu", "aten::relu_", "aclnnInplaceRelu_Relu_Relu", "AI_CORE")]


def us(ns):
    return "%d.%03d" % (ns // 1000, ns % 1000)


class Writer:
    def __init__(self, out, target):
        self.out, self.target, self.bytes, self.first = out, target, 0, True
        self.connection, self.correlation, self.fwdbwd, self.hcom = 1000, 8000, 1, 0
        self.meta_written = False

    def emit(self, text):
        if not self.first:
            text = ", " + text
        self.first = False
        self.out.write(text)
        self.bytes += len(text)

    def x(self, name, pid, tid, ts, dur, cat=None, args=None):
        parts = ['{"ph": "X", "name": "%s", "pid": %d, "tid": %d, "ts": "%s", "dur": %.3f' % (name, pid, tid, us(ts), dur / 1000)]
        if cat:
            parts.append(', "cat": "%s"' % cat)
        if args:
            parts.append(', "args": {%s}' % args)
        self.emit("".join(parts) + "}")

    def flow(self, ph, cat, name, fid, pid, tid, ts, quoted=False):
        i = '"%s"' % fid if quoted else "%d" % fid
        bp = ', "bp": "e"' if ph == "f" else ""
        self.emit('{"ph": "%s", "cat": "%s", "name": "%s", "id": %s, "pid": %d, "tid": %d, "ts": "%s"%s}' % (ph, cat, name, i, pid, tid, us(ts), bp))

    def counter(self, name, pid, ts, key, value):
        self.emit('{"ph": "C", "name": "%s", "pid": %d, "tid": 0, "ts": "%s", "args": {"%s": %.1f}}' % (name, pid, us(ts), key, value))

    def metadata(self):
        for pid, name in [(PYTHON, "Python"), (CANN, "CANN"), (HW, "Ascend Hardware"), (HCCL, "HCCL"), (MEM, "NPU MEM"),
                          (HBM, "HBM"), (OVERLAP, "Overlap Analysis")]:
            self.emit('{"ph": "M", "name": "process_name", "pid": %d, "tid": 0, "args": {"name": "%s"}}' % (pid, name))
        for pid, tid, name in [(PYTHON, MAIN, "Thread %d" % MAIN), (PYTHON, QUEUE, "Thread %d" % QUEUE), (PYTHON, BWD, "Thread %d" % BWD),
                               (HW, COMPUTE_STREAM, "Stream 2"), (HW, COMM_STREAM, "Stream 4"), (HCCL, 0, "Group 0 Communication"),
                               (HCCL, 1, "Plane 0"), (OVERLAP, 0, "Computing"), (OVERLAP, 1, "Communication")]:
            self.emit('{"ph": "M", "name": "thread_name", "pid": %d, "tid": %d, "args": {"name": "%s"}}' % (pid, tid, name))

    def op(self, t, rng):
        """One operator launching one task; returns the time after it."""
        outer, inner, kernel, kind = OPS[rng.randrange(len(OPS))]
        dims = "32,512;\\r\\n512,512;\\r\\n"
        self.x("nn.Module: Linear_0", PYTHON, MAIN, t, 60_000, "python_function", '"Python id": 14, "Python parent id": 13')
        self.x(outer, PYTHON, MAIN, t + 1_000, 50_000, "cpu_op",
               '"Sequence number": %d, "Fwd thread id": 0, "Input Dims": "%s", "Input type": "float;\\r\\nfloat;\\r\\n", "Call stack": "%s"'
               % (self.correlation, dims, STACK))
        self.x(inner, PYTHON, MAIN, t + 3_000, 40_000, "cpu_op", '"Sequence number": -1, "Fwd thread id": 0, "Input Dims": "%s"' % dims)
        task_ts = t + 120_000 + rng.randrange(5_000)
        self.flow("s", "async_npu", "torch_to_npu", task_ts, PYTHON, MAIN, t + 5_000)
        self.correlation += 1
        self.x("Enqueue", PYTHON, MAIN, t + 6_000, 14_000, "enqueue", '"correlation_id": %d' % self.correlation)
        self.flow("s", "async_task_queue", "enqueue_to_dequeue", self.correlation, PYTHON, MAIN, t + 6_000)
        self.x("Dequeue@" + kernel.split("_")[0], PYTHON, QUEUE, t + 30_000, 70_000, "dequeue", '"correlation_id": %d' % self.correlation)
        self.flow("f", "async_task_queue", "enqueue_to_dequeue", self.correlation, PYTHON, QUEUE, t + 30_000)
        self.connection += 1
        self.x("AscendCL@" + kernel.split("_")[0], CANN, QUEUE, t + 35_000, 40_000, None,
               '"Thread Id": %d, "Mode": "ACL_OP", "level": "acl", "id": "%s", "item_id": "0", "connection_id": %d' % (QUEUE, kernel, self.connection))
        self.flow("s", "HostToDevice", "HostToDevice%d" % self.connection, self.connection, CANN, QUEUE, t + 36_000, quoted=True)
        self.x(kernel, HW, COMPUTE_STREAM, task_ts, 20_000 + rng.randrange(20_000), None,
               '"Model Id": 4294967295, "Task Type": "%s", "Physic Stream Id": 2, "Task Id": %d, "Batch Id": 0, "Subtask Id": 4294967295, "connection_id": %d'
               % (kind, self.connection % 65536, self.connection))
        self.flow("f", "HostToDevice", "HostToDevice%d" % self.connection, self.connection, HW, COMPUTE_STREAM, task_ts, quoted=True)
        self.flow("f", "async_npu", "torch_to_npu", task_ts, HW, COMPUTE_STREAM, task_ts)
        self.x("Computing", OVERLAP, 0, task_ts, 20_000)
        return t + 70_000

    def allreduce(self, t, rank_index):
        self.hcom += 1
        name = "hcom_allReduce__271_%d_1" % rank_index
        self.x(name, HCCL, 0, t, 900_000, None, '"connection_id": %d, "model id": 4294967295, "data_type": "FP32", "alg_type": "MESH-RING", "count": 4097000'
               % self.connection)
        for k in range(6):
            ts = t + k * 150_000
            for name2, dur in [("Notify Wait", 100_000), ("SDMA", 30_000), ("Write Value", 1_000)]:
                self.x(name2, HW, COMM_STREAM, ts, dur, None, '"Task Type": "%s", "Physic Stream Id": 4, "Task Id": %d, "connection_id": %d' % (name2, k, self.connection))
                self.x(name2.replace(" ", "_"), HCCL, 1, ts, dur, None, '"stream id": 4, "task id": %d, "task type": "%s"' % (k, name2))
                ts += dur + 500
        self.x("Communication", OVERLAP, 1, t, 900_000)


def generate(w, seed):
    """Every event, in order, through `w` until it has written `w.target` bytes of text (the
    rows bench/gen_npu_db.py writes as a db export are these, through its own Writer)."""
    rng = random.Random(seed)
    t = 1_736_412_474_712_651_500
    step = 1
    while w.bytes < w.target:
        start = t
        for k in range(200):
            t = w.op(t, rng)
            if k % 50 == 49:
                w.allreduce(t, k // 50)
                t += 10_000
            if k % 20 == 0:
                w.counter("APP/HBM", MEM, t, "KB", 2_160_000 + rng.randrange(10_000))
                w.counter("HBM 0/Read", HBM, t, "Read(MB/s)", rng.random() * 1000)
        t += 2_000_000
        w.x("ProfilerStep#%d" % step, PYTHON, MAIN, start - 500, t - start, "cpu_op", '"Sequence number": -1, "Fwd thread id": 0')
        if not w.meta_written and w.bytes >= w.target // 2:
            w.metadata()
            w.meta_written = True
        step += 1
    if not w.meta_written:
        w.metadata()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mb", type=float, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("out")
    a = p.parse_args()
    with open(a.out, "w") as out:
        out.write("[")
        generate(Writer(out, int(a.size_mb * 1e6)), a.seed)
        out.write("]")


if __name__ == "__main__":
    main()
