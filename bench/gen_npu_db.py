#!/usr/bin/env python3
"""Write a synthetic torch_npu db export (ascend_pytorch_profiler_0.db) holding the rows that
bench/gen_npu_trace.py writes as a text export, so the two exports of one run can be compared.

The events are gen_npu_trace.py's own (its `generate` with the same --size-mb and --seed: the size
is that of the text export the rows would make); each goes into the table torch_npu's db export
keeps it in (columns as in ../shared/traces/ascend/torch_npu_db and Tests/TestSupport/NPUSample.swift,
texts as ids into STRING_IDS):

  Python cpu_op / python_function / Enqueue, Dequeue@op  ->  PYTORCH_API (type op, trace, queue;
         startNs and endNs as text, globalTid = pid << 32 | tid, Input Dims and types as texts);
         an operator's async_npu flow and a queue row's correlation id  ->  CONNECTION_IDS
  CANN   AscendCL@x calls                     ->  CANN_API (type acl, connectionId)
  device tasks                                ->  TASK, with COMPUTE_TASK_INFO (kernels: name, type)
                                                  or COMMUNICATION_TASK_INFO (HCCL's tasks)
  HCCL   ops on `Group 0 Communication`       ->  COMMUNICATION_OP (FP32, MESH-RING, count)
  NPU MEM APP/HBM, HBM read counters          ->  NPU_MEM (bytes), HBM
  Overlap Analysis spans                      ->  OVERLAP_ANALYSIS
  and RANK_DEVICE_MAP, META_DATA, the ENUM tables, and torch_npu's two indexes.

The text export's flows other than async_npu (HostToDevice, async_task_queue: the db keeps
connection ids instead), its metadata events and its HCCL `Plane 0` rows (which repeat the
tasks) have no rows here.

Usage: gen_npu_db.py --size-mb 1200 OUT_DIR     # writes OUT_DIR/rank0_ascend_pt/ASCEND_PROFILER_OUTPUT/ascend_pytorch_profiler_0.db
"""
import argparse
import os
import re
import sqlite3

import gen_npu_trace as g

SCHEMA = """
CREATE TABLE STRING_IDS (id INTEGER PRIMARY KEY,value TEXT);
CREATE TABLE ENUM_API_TYPE (id INTEGER PRIMARY KEY,name TEXT);
INSERT INTO ENUM_API_TYPE VALUES (5000,'runtime'),(5500,'hccl'),(10000,'node'),(15000,'model'),(20000,'acl'),
    (50001,'op'),(50002,'queue'),(50003,'trace'),(50004,'mstx');
CREATE TABLE ENUM_HCCL_DATA_TYPE (id INTEGER PRIMARY KEY,name TEXT);
INSERT INTO ENUM_HCCL_DATA_TYPE VALUES (3,'FP16'),(4,'FP32'),(11,'BFP16');
CREATE TABLE PYTORCH_API (startNs TEXT, endNs TEXT, globalTid INTEGER, connectionId INTEGER, name INTEGER,
    sequenceNumber INTEGER, fwdThreadId INTEGER, inputDtypes INTEGER, inputShapes INTEGER, callchainId INTEGER, type INTEGER);
CREATE TABLE CONNECTION_IDS (id INTEGER, connectionId INTEGER);
CREATE TABLE CANN_API (startNs INTEGER,endNs INTEGER,type INTEGER,globalTid INTEGER,connectionId INTEGER PRIMARY KEY,name INTEGER);
CREATE TABLE TASK (startNs INTEGER,endNs INTEGER,deviceId INTEGER,connectionId INTEGER,globalTaskId INTEGER,globalPid INTEGER,
    taskType INTEGER,contextId INTEGER,streamId INTEGER,taskId INTEGER,modelId INTEGER);
CREATE TABLE COMPUTE_TASK_INFO (name INTEGER,globalTaskId INTEGER PRIMARY KEY,blockDim INTEGER,mixBlockDim INTEGER,
    taskType INTEGER,opType INTEGER,inputFormats INTEGER,inputDataTypes INTEGER,inputShapes INTEGER,outputFormats INTEGER,
    outputDataTypes INTEGER,outputShapes INTEGER,attrInfo INTEGER);
CREATE TABLE COMMUNICATION_TASK_INFO (name INTEGER,globalTaskId INTEGER,taskType INTEGER,planeId INTEGER,groupName INTEGER,
    notifyId INTEGER,rdmaType INTEGER,srcRank INTEGER,dstRank INTEGER,transportType INTEGER,size INTEGER,dataType INTEGER,
    linkType INTEGER,opId INTEGER);
CREATE TABLE COMMUNICATION_OP (opName INTEGER,startNs INTEGER,endNs INTEGER,connectionId INTEGER,groupName INTEGER,
    opId INTEGER PRIMARY KEY,relay INTEGER,retry INTEGER,dataType INTEGER,algType INTEGER,count NUMERIC,opType INTEGER);
CREATE TABLE NPU_MEM (type INTEGER,ddr NUMERIC,hbm NUMERIC,timestampNs INTEGER,deviceId INTEGER);
CREATE TABLE HBM (deviceId INTEGER, timestampNs INTEGER, bandwidth NUMERIC, hbmId INTEGER, type INTEGER);
CREATE TABLE OVERLAP_ANALYSIS (deviceId INTEGER, startNs INTEGER, endNs INTEGER, type INTEGER);
CREATE TABLE RANK_DEVICE_MAP (rankId INTEGER, deviceId INTEGER);
CREATE TABLE META_DATA (name TEXT,value TEXT);
INSERT INTO META_DATA VALUES ('SCHEMA_VERSION','1.0.0');
INSERT INTO RANK_DEVICE_MAP VALUES (0, 0);
"""

# The indexes torch_npu's export has (as in the shared runs), made once the rows are in.
INDEXES = """
CREATE INDEX CommunicationTaskIndex ON COMMUNICATION_TASK_INFO (globalTaskId);
CREATE INDEX TaskIndex ON TASK (startNs,globalTaskId);
"""

TYPES = {"cpu_op": 50001, "python_function": 50003, "enqueue": 50002, "dequeue": 50002}


def arg(args, key):
    """The value of `"key": value` in an args text, unescaped (\\r\\n as CR LF), or None."""
    m = re.search(r'"%s": ("(?:[^"\\]|\\.)*"|-?\d+)' % re.escape(key), args or "")
    if not m:
        return None
    v = m.group(1)
    return v[1:-1].replace("\\r", "\r").replace("\\n", "\n") if v.startswith('"') else int(v)


class DBWriter(g.Writer):
    """gen_npu_trace's Writer that counts the text it would write and puts each event into its table."""

    def __init__(self, db, target):
        super().__init__(None, target)
        self.db, self.ids, self.rows = db, {}, {}
        self.task_id = self.op_id = self.connection_row = 0
        self.last_main_op = None   # the latest cpu_op row on the main thread: an async_npu flow starts in it
        self.flow_rows = {}        # async_npu flow id -> CONNECTION_IDS id of the operator it starts in

    def emit(self, text):
        self.bytes += len(text) + (0 if self.first else 2)
        self.first = False

    def sid(self, text):
        if text not in self.ids:
            self.ids[text] = len(self.ids) + 1
            self.add("STRING_IDS", (self.ids[text], text))
        return self.ids[text]

    def add(self, table, row):
        rows = self.rows.setdefault(table, [])
        rows.append(row)
        if len(rows) >= 50_000:
            self.flush(table)

    def flush(self, table):
        rows = self.rows.pop(table, [])
        if rows:
            self.db.executemany("INSERT INTO %s VALUES (%s)" % (table, ",".join("?" * len(rows[0]))), rows)

    def link(self, target):
        """A new CONNECTION_IDS id naming `target`."""
        self.connection_row += 1
        self.add("CONNECTION_IDS", (self.connection_row, target))
        return self.connection_row

    def x(self, name, pid, tid, ts, dur, cat=None, args=None):
        super().x(name, pid, tid, ts, dur, cat, args)
        end = ts + dur
        if pid == g.PYTHON:
            connection = None
            if cat in ("enqueue", "dequeue"):
                connection = self.link(arg(args, "correlation_id"))
            dims, types = arg(args, "Input Dims"), arg(args, "Input type")
            row = [str(ts), str(end), pid << 32 | tid, connection, self.sid(name), arg(args, "Sequence number"),
                   arg(args, "Fwd thread id"), self.sid(types) if types else None, self.sid(dims) if dims else None, None, TYPES[cat]]
            self.add("PYTORCH_API", row)
            if cat == "cpu_op" and tid == g.MAIN:
                self.last_main_op = row
        elif pid == g.CANN:
            level, _, call = name.partition("@")
            self.add("CANN_API", (ts, end, 20000 if level == "AscendCL" else 10000, g.PYTHON << 32 | tid, arg(args, "connection_id"),
                                  self.sid(call)))
        elif pid == g.HW:
            self.task_id += 1
            kind = arg(args, "Task Type")
            connection = arg(args, "connection_id")
            compute = tid == g.COMPUTE_STREAM
            self.add("TASK", (ts, end, 0, connection, self.task_id, g.HW, self.sid("KERNEL_AICORE" if compute else name), 0, tid,
                              arg(args, "Task Id"), 4294967295))
            if compute:
                self.add("COMPUTE_TASK_INFO", (self.sid(name), self.task_id, 24, 0, self.sid(kind), None, None, None, None, None, None,
                                               None, None))
            else:
                self.add("COMMUNICATION_TASK_INFO", (self.sid(name), self.task_id, self.sid(kind), 0, self.sid("group0"), None, None,
                                                     0, 1, None, None, 4, None, self.op_id))
            row = self.flow_rows.pop(ts, None)
            if row is not None:
                self.add("CONNECTION_IDS", (row, connection))
        elif pid == g.HCCL and tid == 0:
            self.op_id += 1
            self.add("COMMUNICATION_OP", (self.sid(name), ts, end, arg(args, "connection_id"), self.sid("group0"), self.op_id, 0, 0, 4,
                                          self.sid(arg(args, "alg_type")), arg(args, "count"), self.sid("N/A")))
        elif pid == g.OVERLAP:
            self.add("OVERLAP_ANALYSIS", (0, ts, end, tid))

    def flow(self, ph, cat, name, fid, pid, tid, ts, quoted=False):
        super().flow(ph, cat, name, fid, pid, tid, ts, quoted)
        if ph == "s" and cat == "async_npu" and self.last_main_op is not None:
            # The operator the flow starts in launches the task the flow ends at (its ts is the id).
            if self.last_main_op[3] is None:
                self.connection_row += 1
                self.last_main_op[3] = self.connection_row
            self.flow_rows[fid] = self.last_main_op[3]

    def counter(self, name, pid, ts, key, value):
        super().counter(name, pid, ts, key, value)
        if name == "APP/HBM":
            self.add("NPU_MEM", (self.sid("app"), 0, int(round(value * 1024)), ts, 0))
        else:
            self.add("HBM", (0, ts, value, 0, self.sid("read")))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size-mb", type=float, default=300, help="the size of the text export of the same rows")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("out", help="a directory; the export goes to OUT/rank0_ascend_pt/ASCEND_PROFILER_OUTPUT/")
    a = p.parse_args()
    out = os.path.join(a.out, "rank0_ascend_pt", "ASCEND_PROFILER_OUTPUT")
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "ascend_pytorch_profiler_0.db")
    if os.path.exists(path):
        os.remove(path)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executescript(SCHEMA)
    w = DBWriter(db, int(a.size_mb * 1e6))
    g.generate(w, a.seed)
    for table in list(w.rows):
        w.flush(table)
    db.executescript(INDEXES)
    db.commit()
    db.close()


if __name__ == "__main__":
    main()
