import TraceImport
#if canImport(Glibc)
import Glibc
#endif

/// A small torch_npu profile of one rank as one set of rows, written as either export: the text
/// export's `trace_view.json` or the db export's `ascend_pytorch_profiler_N.db` (tables and
/// columns as torch_npu 2.1 writes them). Times are ns since the epoch.
public struct NPUSample {
    /// A torch operator (or `ProfilerStep#N`) on thread `tid`, launching the tasks and HCCL ops
    /// whose connection ids it lists.
    public struct Op {
        public var name: String, start: Int64, end: Int64, tid: Int64 = 11, launches: [Int64] = []
        public init(_ name: String, _ start: Int64, _ end: Int64, tid: Int64 = 11, launches: [Int64] = []) {
            (self.name, self.start, self.end, self.tid, self.launches) = (name, start, end, tid, launches)
        }
    }
    /// A device task. `name` nil: a kernel neither info table names (written to the db only, as
    /// torch_npu's text export leaves it out); `hccl`: listed in `COMMUNICATION_TASK_INFO`.
    public struct Task {
        public var name: String?, type: String, start: Int64, end: Int64, stream: Int64, connection: Int64, hccl: Bool
        public init(_ name: String?, type: String, _ start: Int64, _ end: Int64, stream: Int64, connection: Int64, hccl: Bool = false) {
            (self.name, self.type, self.start, self.end, self.stream, self.connection, self.hccl) = (name, type, start, end, stream, connection, hccl)
        }
    }
    /// A CANN call (`level`: acl, runtime, node, hccl).
    public struct CANNCall {
        public var name: String, level: String, start: Int64, end: Int64, connection: Int64
        public init(_ name: String, level: String, _ start: Int64, _ end: Int64, connection: Int64) {
            (self.name, self.level, self.start, self.end, self.connection) = (name, level, start, end, connection)
        }
    }
    /// An HCCL op of FP32 elements.
    public struct HCCLOp {
        public var name: String, start: Int64, end: Int64, count: Int64, connection: Int64
        public init(_ name: String, _ start: Int64, _ end: Int64, count: Int64, connection: Int64) {
            (self.name, self.start, self.end, self.count, self.connection) = (name, start, end, count, connection)
        }
    }

    public var rank: Int
    public var pid: Int64 = 4242
    public var ops: [Op] = []
    public var tasks: [Task] = []
    public var cann: [CANNCall] = []
    public var hccl: [HCCLOp] = []
    /// The application's HBM bytes over time (`NPU MEM`).
    public var memory: [(ts: Int64, bytes: Int64)] = []
    /// Allocations by operator (`operator_memory.csv`, `OP_MEMORY`): `released` nil when never;
    /// a negative size, allocated nil, is a release whose allocation came before the capture.
    public var allocations: [(name: String, bytes: Int64, allocated: Int64?, released: Int64?)] = []

    public init(rank: Int) { self.rank = rank }

    /// Rank `r` of a two-rank run with one step: operators launching a matmul, a copy and an
    /// all-reduce (FP32, 1M elements) through CANN calls; a kernel launched by CANN alone; HCCL
    /// tasks overlapped 5 ms by a second matmul; an unnamed kernel spanning the op (db only);
    /// stream events; HBM rising to 2 GiB + 4 KiB * r. Rank 1 arrives 3 ms later. With
    /// `gatherAndScatter`, two more HCCL ops without tasks follow the all-reduce: an all-gather of
    /// 250,000 elements per rank (HCCL's count: each rank's input) lasting 2 ms + 1 ms * r, and a
    /// reduce-scatter of 125,000 per rank (each rank's output) lasting 4 ms.
    public static func rank(_ r: Int, gatherAndScatter: Bool = false) -> NPUSample {
        let b: Int64 = 1_736_000_000_000_000_000, ms: Int64 = 1_000_000, d = Int64(r) * 3 * ms
        var s = NPUSample(rank: r)
        s.ops = [Op("ProfilerStep#7", b + 1 * ms, b + 200 * ms), Op("aten::mm", b + 2 * ms, b + 3 * ms, launches: [101]),
                 Op("aten::copy_", b + 4 * ms, b + 5 * ms, launches: [102]),
                 Op("HcclAllreduce", b + 20 * ms + d, b + 21 * ms + d, launches: [103]),
                 Op("aten::mm", b + 39 * ms, b + 39 * ms + ms / 2, launches: [105])]
        s.cann = [CANNCall("aclnnMm", level: "acl", b + 2 * ms + ms / 10, b + 2 * ms + ms * 9 / 10, connection: 101),
                  CANNCall("aclrtMemcpyAsync", level: "acl", b + 4 * ms + ms / 10, b + 4 * ms + ms * 9 / 10, connection: 102),
                  CANNCall("HcclAllreduce", level: "hccl", b + 20 * ms + d + ms / 10, b + 20 * ms + d + ms / 2, connection: 103),
                  CANNCall("launch", level: "node", b + 6 * ms, b + 6 * ms + ms / 10, connection: 104),
                  CANNCall("aclnnMm", level: "acl", b + 39 * ms + ms / 10, b + 39 * ms + ms * 4 / 10, connection: 105)]
        s.tasks = [Task("aclnnMm_MatMulCommon_MatMulV2", type: "AI_CORE", b + 5 * ms, b + 9 * ms, stream: 2, connection: 101),
                   Task("MEMCPY_ASYNC", type: "PCIE_DMA_SQE", b + 10 * ms, b + 11 * ms, stream: 2, connection: 102),
                   Task("Cast", type: "AI_VECTOR_CORE", b + 11 * ms + ms / 2, b + 12 * ms, stream: 2, connection: 104),
                   Task("EVENT_RECORD", type: "EVENT_RECORD_SQE", b + 19 * ms, b + 19 * ms + ms / 10, stream: 4, connection: 103),
                   Task(nil, type: "AI_CORE", b + 29 * ms + d, b + 59 * ms, stream: 4, connection: 103),
                   Task("Notify Wait", type: "Notify Wait", b + 30 * ms + d, b + 50 * ms, stream: 4, connection: 103, hccl: true),
                   Task("SDMA", type: "SDMA", b + 50 * ms, b + 58 * ms, stream: 4, connection: 103, hccl: true),
                   Task("aclnnMm_MatMulCommon_MatMulV2", type: "AI_CORE", b + 40 * ms, b + 45 * ms, stream: 2, connection: 105)]
        s.hccl = [HCCLOp("hcom_allReduce__123_0_1", b + 29 * ms + d, b + 59 * ms, count: 1_000_000, connection: 103)]
        if gatherAndScatter {
            s.hccl += [HCCLOp("hcom_allGather__123_1_1", b + 60 * ms, b + 62 * ms + Int64(r) * ms, count: 250_000, connection: 106),
                       HCCLOp("hcom_reduceScatter__123_2_1", b + 70 * ms, b + 74 * ms, count: 125_000, connection: 107)]
        }
        s.memory = [(b + ms / 2, 1 << 30), (b + 50 * ms, 2 << 30 + 4096 * Int64(r)), (b + 150 * ms, 3 << 29)]
        // The operators' allocations peak at 39.2 ms (9 MiB + 4 KiB * r): the copy's, never
        // released, and the second matmul's; the first matmul's is released at that very time.
        s.allocations = [("aten::mm", 4 << 20, b + 2 * ms + ms / 2, b + 39 * ms + ms / 5), ("aten::copy_", 1 << 20, b + 4 * ms + ms / 2, nil),
                         ("cann::Cast", 512 << 10, b + 11 * ms + ms * 6 / 10, b + 12 * ms),
                         ("aten::mm", 8 << 20 + 4096 * Int64(r), b + 39 * ms + ms / 5, b + 60 * ms), ("", -2048, nil, b + 50 * ms),
                         ("aten::empty", 2 << 20, b + 70 * ms + 3, b + 80 * ms)]
        return s
    }

    /// The same rows `ns` later (another profiler cycle of the same process).
    public func shifted(by ns: Int64) -> NPUSample {
        var s = self
        s.ops = ops.map { var o = $0; o.start += ns; o.end += ns; return o }
        s.tasks = tasks.map { var t = $0; t.start += ns; t.end += ns; return t }
        s.cann = cann.map { var c = $0; c.start += ns; c.end += ns; return c }
        s.hccl = hccl.map { var h = $0; h.start += ns; h.end += ns; return h }
        s.memory = memory.map { ($0.ts + ns, $0.bytes) }
        s.allocations = allocations.map { ($0.name, $0.bytes, $0.allocated.map { $0 + ns }, $0.released.map { $0 + ns }) }
        return s
    }

    /// `ns` as torch_npu writes µs: decimal text with three fractional digits.
    static func micros(_ ns: Int64) -> String {
        let frac = String(ns % 1000)
        return "\(ns / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }

    /// The rank directory `root/rankN_ascend_pt` with `profiler_info_N.json` and, in
    /// `ASCEND_PROFILER_OUTPUT/`, the text export (`db` false) or the db export; returns the
    /// export's path.
    @discardableResult
    public func write(root: String, db: Bool) throws -> String {
        let dir = root + "/rank\(rank)_ascend_pt", out = dir + "/ASCEND_PROFILER_OUTPUT"
        for d in [root, dir, out] { mkdir(d, 0o755) }
        TestSupport.writeFile(dir + "/profiler_info_\(rank).json", Array(#"{"rank_id": \#(rank)}"#.utf8))
        if db {
            let path = out + "/ascend_pytorch_profiler_\(rank).db"
            try SQLiteDatabase.create(path: path, script: NPUSample.schema + sql())
            return path
        }
        TestSupport.writeFile(out + "/trace_view.json", Array(json().utf8))
        TestSupport.writeFile(out + "/operator_memory.csv", Array(operatorMemoryCSV().utf8))
        return out + "/trace_view.json"
    }

    /// `operator_memory.csv` as torch_npu writes it: KB as a shortest decimal, µs times with a
    /// trailing tab, CRLF lines.
    public func operatorMemoryCSV() -> String {
        var lines = ["Name,Size(KB),Allocation Time(us),Release Time(us),Active Release Time(us),Duration(us),Active Duration(us),"
            + "Allocation Total Allocated(MB),Allocation Total Reserved(MB),Allocation Total Active(MB),Release Total Allocated(MB),"
            + "Release Total Reserved(MB),Release Total Active(MB),Stream Ptr,Device Type"]
        for a in allocations {
            let time = { (t: Int64?) in t.map { Self.micros($0) + "\t" } ?? "" }
            let duration = a.allocated.flatMap { s in a.released.map { Self.micros($0 - s) + "\t" } } ?? ""
            lines.append([a.name, "\(Double(a.bytes) / 1024)", time(a.allocated), time(a.released), time(a.released), duration, duration,
                          "954.37", "1452.0", "954.37", "", "", "", "1431569360", "NPU:0"].joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    // MARK: - Text export

    public func json() -> String {
        let hw = 3_254_508_960, hcclPid = 5_254_509_024, cannPid = 3_254_508_768, memPid = 3_254_509_152
        var events: [String] = []
        func x(_ name: String, pid: Int64, tid: Int64, _ start: Int64, _ end: Int64, cat: String? = nil, args: String = "{}") {
            let c = cat.map { #", "cat": "\#($0)""# } ?? ""
            events.append(#"{"ph": "X", "name": "\#(name)", "pid": \#(pid), "tid": \#(tid), "ts": "\#(Self.micros(start))", "dur": \#(Self.micros(end - start))\#(c), "args": \#(args)}"#)
        }
        func flow(_ id: Int64, fromTid: Int64, _ from: Int64, toPid: Int64, toTid: Int64, _ to: Int64) {
            events.append(#"{"ph": "s", "bp": "e", "name": "torch_to_npu", "id": \#(id), "pid": \#(pid), "tid": \#(fromTid), "ts": "\#(Self.micros(from))", "cat": "async_npu"}"#)
            events.append(#"{"ph": "f", "bp": "e", "name": "torch_to_npu", "id": \#(id), "pid": \#(toPid), "tid": \#(toTid), "ts": "\#(Self.micros(to))", "cat": "async_npu"}"#)
        }
        for op in ops { x(op.name, pid: pid, tid: op.tid, op.start, op.end, cat: "cpu_op") }
        for c in cann {
            let prefix = ["acl": "AscendCL", "runtime": "Runtime", "node": "Node", "hccl": "Hccl"][c.level]!
            x(prefix + "@" + c.name, pid: Int64(cannPid), tid: 12, c.start, c.end, args: #"{"connection_id": \#(c.connection)}"#)
        }
        for t in tasks {
            guard let name = t.name else { continue }
            x(name, pid: Int64(hw), tid: t.stream, t.start, t.end, args: #"{"Task Type": "\#(t.type)", "connection_id": \#(t.connection)}"#)
        }
        for h in hccl {
            x(h.name, pid: Int64(hcclPid), tid: 0, h.start, h.end,
              args: #"{"connection_id": \#(h.connection), "data_type": "FP32", "alg_type": "MESH-RING", "count": \#(h.count)}"#)
        }
        for op in ops {
            for c in op.launches {
                if let t = tasks.first(where: { $0.connection == c && $0.name != nil }) {
                    flow(t.start, fromTid: op.tid, op.start, toPid: Int64(hw), toTid: t.stream, t.start)
                }
                if let h = hccl.first(where: { $0.connection == c }) {
                    flow(h.start, fromTid: op.tid, op.start, toPid: Int64(hcclPid), toTid: 0, h.start)
                }
            }
        }
        for m in memory {
            events.append(#"{"ph": "C", "name": "APP/HBM", "pid": \#(memPid), "tid": 0, "ts": "\#(Self.micros(m.ts))", "args": {"KB": \#(Double(m.bytes) / 1024)}}"#)
        }
        let names = [(pid, "Python"), (Int64(cannPid), "CANN"), (Int64(hw), "Ascend Hardware"), (Int64(hcclPid), "HCCL"), (Int64(memPid), "NPU MEM")]
        for (p, n) in names { events.append(#"{"ph": "M", "name": "process_name", "pid": \#(p), "tid": 0, "args": {"name": "\#(n)"}}"#) }
        events.append(#"{"ph": "M", "name": "thread_name", "pid": \#(hcclPid), "tid": 0, "args": {"name": "Group 0 Communication"}}"#)
        return "[" + events.joined(separator: ",\n") + "]"
    }

    // MARK: - Db export

    /// The tables the db export writes (those the sample fills), with torch_npu's columns.
    public static let schema = """
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
        CREATE TABLE RANK_DEVICE_MAP (rankId INTEGER, deviceId INTEGER);
        CREATE TABLE STEP_TIME (id INTEGER, startNs INTEGER, endNs INTEGER);
        CREATE TABLE MEMORY_RECORD (component INTEGER, timestamp INTEGER, totalAllocated INTEGER, totalReserved INTEGER,
            totalActive INTEGER, streamPtr INTEGER, deviceId INTEGER);
        CREATE TABLE OP_MEMORY (name INTEGER, size INTEGER, allocationTime INTEGER, releaseTime INTEGER, activeReleaseTime INTEGER,
            duration INTEGER, activeDuration INTEGER, allocationTotalAllocated INTEGER, allocationTotalReserved INTEGER,
            allocationTotalActive INTEGER, releaseTotalAllocated INTEGER, releaseTotalReserved INTEGER, releaseTotalActive INTEGER,
            streamPtr INTEGER, deviceId INTEGER);
        CREATE TABLE META_DATA (name TEXT,value TEXT);
        INSERT INTO META_DATA VALUES ('SCHEMA_VERSION','1.0.0');

        """

    public func sql() -> String {
        var ids: [String: Int] = [:]
        var strings: [String] = []
        func id(_ s: String) -> Int {
            if let i = ids[s] { return i }
            ids[s] = ids.count
            strings.append("(\(ids.count - 1), '\(s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''"))')")
            return ids.count - 1
        }
        var lines: [String] = []
        let gtid = { (tid: Int64) in self.pid << 32 | tid }
        var connectionRow = 0
        for op in ops {
            var connection = "NULL"
            if !op.launches.isEmpty {
                connection = String(connectionRow)
                for c in op.launches { lines.append("INSERT INTO CONNECTION_IDS VALUES (\(connectionRow), \(c));") }
                connectionRow += 1
            }
            lines.append("INSERT INTO PYTORCH_API VALUES ('\(op.start)', '\(op.end)', \(gtid(op.tid)), \(connection), \(id(op.name)), -1, 0, NULL, NULL, NULL, 50001);")
        }
        let levels = ["acl": 20000, "runtime": 5000, "node": 10000, "hccl": 5500]
        for c in cann {
            lines.append("INSERT INTO CANN_API VALUES (\(c.start), \(c.end), \(levels[c.level]!), \(gtid(12)), \(c.connection), \(id(c.name)));")
        }
        for (i, t) in tasks.enumerated() {
            // TASK.taskType: the kernel's kind for compute tasks (their name and type in
            // COMPUTE_TASK_INFO), else the name the text export gives the task.
            let compute = t.name.map { !t.hccl && $0 != "MEMCPY_ASYNC" && !$0.hasPrefix("EVENT_") } ?? false
            let taskType = t.name == nil ? id(t.type) : compute ? id("KERNEL_AICORE") : id(t.name!)
            lines.append("INSERT INTO TASK VALUES (\(t.start), \(t.end), 0, \(t.connection), \(i), \(pid), \(taskType), 0, \(t.stream), \(i), 0);")
            if compute { lines.append("INSERT INTO COMPUTE_TASK_INFO (name, globalTaskId, taskType) VALUES (\(id(t.name!)), \(i), \(id(t.type)));") }
            if t.hccl { lines.append("INSERT INTO COMMUNICATION_TASK_INFO (name, globalTaskId, taskType) VALUES (\(id(t.name!)), \(i), \(id(t.type)));") }
        }
        for (i, h) in hccl.enumerated() {
            lines.append("INSERT INTO COMMUNICATION_OP VALUES (\(id(h.name)), \(h.start), \(h.end), \(h.connection), \(id("10.0.0.1%eth0_60000_0_1")), \(i), 0, 0, 4, \(id("MESH-RING")), \(h.count), \(id("N/A")));")
        }
        for m in memory { lines.append("INSERT INTO NPU_MEM VALUES (\(id("app")), 0, \(m.bytes), \(m.ts), 0);") }
        for a in allocations {
            let time = { (t: Int64?) in t.map(String.init) ?? "NULL" }
            lines.append("INSERT INTO OP_MEMORY (name, size, allocationTime, releaseTime, streamPtr, deviceId) VALUES "
                + "(\(id(a.name)), \(a.bytes), \(time(a.allocated)), \(time(a.released)), 572920208, 0);")
        }
        lines.append("INSERT INTO RANK_DEVICE_MAP VALUES (\(rank), 0);")
        return (strings.isEmpty ? "" : "INSERT INTO STRING_IDS VALUES " + strings.joined(separator: ", ") + ";\n") + lines.joined(separator: "\n")
    }
}
