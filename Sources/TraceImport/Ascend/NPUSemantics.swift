import TraceModel

/// Arg names and values of torch_npu's exports, and the rules its text export
/// (`NPUTraceDecoder`) and db export (`NPUDatabaseDecoder`) share: what a device task is, the args
/// of an HCCL op, Kineto's form of shape lists, `NPU MEM` counters as memory rows, and per-operator
/// allocations.
struct NPUKeys {
    let taskType, connectionID, streamID, asyncNPU, dataType, count, algType: UInt32
    let collectiveName, dtype, inNelems, outNelems: UInt32
    let cpuOp, inputDims, inputType: UInt32

    init(_ s: StringTable) {
        taskType = s.intern("Task Type")
        connectionID = s.intern("connection_id")
        streamID = s.intern("stream id")
        asyncNPU = s.intern("async_npu")
        dataType = s.intern("data_type")
        count = s.intern("count")
        algType = s.intern("alg_type")
        collectiveName = s.intern("Collective name")
        dtype = s.intern("dtype")
        inNelems = s.intern("In msg nelems")
        outNelems = s.intern("Out msg nelems")
        cpuOp = s.intern("cpu_op")
        inputDims = s.intern("Input Dims")
        inputType = s.intern("Input type")
    }

    /// Args the text decoder reads, kept by lean loads.
    static let readArgs: Set<String> = ["Task Type", "connection_id", "stream id", "data_type", "count", "alg_type"]

    /// PyTorch's device type number of NPUs (`PrivateUse1`).
    static let privateUse1: Int8 = 20

    /// Task types of HCCL's device tasks.
    static let hcclTaskTypes: Set<String> = [
        "Notify Wait", "Notify Record", "Write Value", "SDMA", "RDMA", "Reduce Inline", "Reduce TBE", "Local Copy",
        "Memcpy", "Inline Reduce", "Notify_Wait", "Notify_Record", "Reduce_Inline",
    ]

    /// A task on an `Ascend Hardware` stream, by its name and task type: stream bookkeeping
    /// (events, place holders, profiling marks: no activity), memcpy (`MEMCPY_ASYNC`),
    /// communication (an HCCL task type, or `hccl`: a task HCCL names or one on a stream it names),
    /// else compute.
    static func taskKind(name n: String, type: String, hccl: Bool) -> SliceKind {
        if n.hasPrefix("EVENT_") || n.hasPrefix("PROFILING_") || type.hasPrefix("EVENT_") || type.hasPrefix("PLACE_HOLDER")
            || n == "STREAM_WAIT" || n == "NOTIFY_WAIT" && type.isEmpty {
            return .other
        }
        if n == "MEMCPY_ASYNC" { return .memcpy }
        if hccl || hcclTaskTypes.contains(type) || hcclTaskTypes.contains(n) { return .communication }
        return .kernel
    }

    /// Appends to an HCCL op (`hcom_allReduce__586_0_1`, with HCCL's `data_type` and `count`) the
    /// args collectives read on NCCL kernels: `Collective name` (`allreduce`), `dtype` and the
    /// count as `In msg nelems`, but as `Out msg nelems` for a reduce-scatter, whose count is each
    /// rank's output (HCCL's `recvCount`); an all-gather's (`sendCount`) is its input, as for the
    /// other ops.
    func appendCollectiveArgs(_ b: TimelineBuilder, op: String, dataType: String?, count: Int64?) {
        let strings = b.rank.strings
        let name = op.dropFirst(5).prefix { $0 != "_" }.lowercased()
        b.appendArg(key: collectiveName, value: ArgValue(text: strings.intern(JSONText.quote(name))))
        if let dataType, let t = Self.dtypeName(dataType) {
            b.appendArg(key: dtype, value: ArgValue(text: strings.intern(JSONText.quote(t))))
        }
        if let count { b.appendArg(key: name.hasPrefix("reducescatter") ? outNelems : inNelems, value: ArgValue(integer: count)) }
    }

    /// `Input Dims` and `Input type` as Kineto writes them (`[[8, 512], []]`, `["float", ""]`) from
    /// torch_npu's text, one entry per input joined with `;\r\n` (`8,512;\r\n`).
    static func kinetoList(_ text: String, dims: Bool) -> String {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false)
            .map { String(String.UnicodeScalarView($0.unicodeScalars.filter { $0 != "\r" && $0 != "\n" })) }
        if dims {
            return "[" + parts.map { "[" + $0.split(separator: ",").map { $0.filter { $0 != " " } }.joined(separator: ", ") + "]" }
                .joined(separator: ", ") + "]"
        }
        return "[" + parts.map { JSONText.quote($0) }.joined(separator: ", ") + "]"
    }

    /// `NPU MEM`'s `APP/HBM` counter (KB the application holds on the device) of the processes
    /// `isMemoryProcess` accepts, as memory rows of NPU `device`: the value as allocated and
    /// reserved bytes, the change as the row's bytes.
    static func memoryFromCounters(_ b: TimelineBuilder, device: Int16, isMemoryProcess: (UInt32) -> Bool) {
        let rank = b.rank
        guard let series = rank.strings.lookup("APP/HBM") else { return }
        let c = rank.counters
        var last: Int64 = 0
        var rows: [(ts: Int64, pid: UInt32, bytes: Int64)] = []
        for i in 0..<c.count where c.name[i] == series && isMemoryProcess(c.pid[i]) {
            rows.append((c.ts[i], c.pid[i], Int64(c.value[i] * 1024)))
        }
        rows.sort { $0.ts < $1.ts }
        for r in rows {
            b.appendMemory(ts: r.ts, track: b.thread(pid: r.pid, tid: rank.strings.intern("0")), bytes: r.bytes - last,
                           totalAllocated: r.bytes, totalReserved: r.bytes, addr: 0, deviceType: privateUse1, deviceID: device)
            last = r.bytes
        }
    }

    /// One row of torch_npu's per-operator allocations (`operator_memory.csv`, `OP_MEMORY`) into
    /// the model. A row without a positive size (an allocation made before the capture, whose
    /// release torch_npu writes alone, as a negative size) or released before it was allocated is
    /// left out, counted (`npu-operator-memory-before-capture`, `npu-operator-memory-order`); one
    /// with a size but no allocation time is an error naming `file` and the row (`source`).
    static func appendOperatorAllocation(_ b: TimelineBuilder, name: UInt32, bytes: Int64, allocated: Int64?, released: Int64?,
                                         device: Int64, file: String, source: @autoclosure () -> String) throws(ImportError) {
        guard bytes > 0 else {
            b.rank.warnings.add("npu-operator-memory-before-capture", "\(source()): a release without its allocation (size \(bytes) bytes)")
            return
        }
        guard let allocated else { throw ImportError(file: file, message: "\(source()): an allocation without its time") }
        if let released, released < allocated {
            b.rank.warnings.add("npu-operator-memory-order", "\(source()): released before it was allocated")
            return
        }
        b.appendOperatorAllocation(name: name, bytes: bytes, allocated: allocated, released: released ?? OperatorAllocationTable.notReleased,
                                   deviceType: privateUse1, deviceID: Int16(clamping: device))
    }

    /// HCCL's `data_type` as the dtype names collectives know.
    static func dtypeName(_ t: String) -> String? {
        switch t.uppercased() {
        case "FP32", "FLOAT32", "FLOAT": return "float32"
        case "FP16", "FLOAT16", "HALF": return "float16"
        case "BFP16", "BF16", "BFLOAT16": return "bfloat16"
        case "FP64", "FLOAT64", "DOUBLE": return "float64"
        case "INT8": return "int8"
        case "UINT8": return "uint8"
        case "INT16": return "int16"
        case "INT32": return "int32"
        case "INT64": return "int64"
        case "UINT32": return "uint32"
        case "UINT64": return "uint64"
        default: return nil
        }
    }
}
