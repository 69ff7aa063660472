import TraceModel

/// torch_npu's text export (`ASCEND_PROFILER_OUTPUT/trace_view.json`, docs/ascend-comparison.md):
/// host events as in Kineto (`cpu_op`, `python_function`, `enqueue`/`dequeue`), and device-side
/// events without a category whose meaning comes from their process's `process_name` (`Ascend
/// Hardware` streams, `CANN` calls, `HCCL` groups and planes, `Overlap Analysis`, `NPU MEM`
/// counters), known only once the whole file is read. `async_npu` flows link each device task to the
/// torch operator that launched it; `connection_id` links it to its CANN call.
final class NPUTraceDecoder: SplittableDecoder {
    let events: ChromeEvents
    private let npu: NPUKeys
    private var rank: RankTrace { builder.rank }
    /// Slices without a category (device side), with their `Task Type` text (0: none), classified
    /// by `finish` from their process.
    private var deviceSide: [(slice: Int, taskType: UInt32)] = []
    /// `async_npu` flow ends by (category, id text): the start and the end point.
    private var flows: [FlowKey: (start: Point?, end: Point?)] = [:]
    /// Stream ids that HCCL tasks name (`stream id`): communication streams.
    private var communicationStreams = Set<Int64>()
    /// Per-event caches, by string id: whether a name is an HCCL op, a `Task Type` text's
    /// unquoted name, and `Input Dims` / `Input type` texts in Kineto's form.
    private var collectiveName: [UInt32: Bool] = [:]
    private var taskTypes: [UInt32: UInt32] = [:]
    private var listTexts: [UInt64: UInt32] = [:]  // by key << 32 | text

    private struct FlowKey: Hashable { let cat: UInt32, id: UInt32 }
    private struct Point { let track: UInt32, ts: Int64 }

    /// `argKeys` (when given) are the args a lean load keeps besides those read here.
    init(builder: TimelineBuilder, argKeys: Set<String>? = nil) {
        events = ChromeEvents(builder: builder, argKeys: argKeys, readArgs: NPUKeys.readArgs)
        npu = NPUKeys(builder.rank.strings)
    }

    // MARK: - Skip rules of lean loads

    /// Flows link device tasks here, so no phase is skipped unread.
    func skipsAfterPhase(_ ph: UInt8) -> Bool { false }

    /// torch_npu writes no top-level members beyond the events.
    func topLevel(_ name: String, _ text: [UInt8]) throws {}


    // MARK: - Events

    func consume(_ e: inout RawEvent) {
        events.count(e.ph)
        switch e.ph {
        case 0x58:  // X
            guard timestamped(e) else { return }
            if e.dur < 0 {
                rank.warnings.add("negative-duration", "\(describe(e)) has dur \(e.dur) ns")
                builder.discardArgs(from: e.argStart)
                return
            }
            let track = builder.thread(pid: e.pid, tid: e.tid)
            if e.cat != 0 {
                if e.cat == npu.cpuOp { listArgs(from: e.argStart) }
                builder.appendSlice(start: e.ts, dur: e.hasDur ? e.dur : 0, name: e.name, category: e.cat, kind: kind(ofCategory: e.cat),
                                    track: track, correlation: e.correlation, externalID: e.externalID, argStart: e.argStart)
                return
            }
            let a = e.argStart
            if let stream = builder.argInteger(from: a, npu.streamID) { communicationStreams.insert(stream) }
            let taskType = builder.argValue(from: a, npu.taskType).map { taskTypeName($0) } ?? 0
            if isCollective(e.name) { addCollectiveArgs(e) }
            deviceSide.append((builder.slices.count, taskType))
            builder.appendSlice(start: e.ts, dur: e.hasDur ? e.dur : 0, name: e.name, category: e.cat, kind: .other, track: track,
                                correlation: builder.argInteger(from: a, npu.connectionID) ?? -1, externalID: -1, argStart: a)
        case 0x42:  // B
            events.begin(e)
        case 0x45:  // E
            events.end(e)
        case 0x69, 0x49:  // i, I
            guard timestamped(e) else { return }
            events.instant(e)
        case 0x43:  // C
            events.counter(e)
        case 0x4D:  // M
            events.metadata(e)
        case 0x73, 0x66, 0x74:  // s, f, t
            builder.discardArgs(from: e.argStart)
            guard timestamped(e), e.cat == npu.asyncNPU, e.ph != 0x74 else { return }
            let key = FlowKey(cat: e.cat, id: e.id), point = Point(track: builder.thread(pid: e.pid, tid: e.tid), ts: e.ts)
            if e.ph == 0x73 { flows[key, default: (nil, nil)].start = point } else { flows[key, default: (nil, nil)].end = point }
        default:
            events.unknown(e)
        }
    }

    private func isCollective(_ name: UInt32) -> Bool {
        if let known = collectiveName[name] { return known }
        let c = rank.strings[name].hasPrefix("hcom_")
        collectiveName[name] = c
        return c
    }

    private func taskTypeName(_ v: ArgValue) -> UInt32 {
        guard !v.isInteger else { return 0 }
        if let known = taskTypes[v.text] { return known }
        let id = rank.strings.intern(rank.argString(v))
        taskTypes[v.text] = id
        return id
    }

    private func kind(ofCategory cat: UInt32) -> SliceKind { events.kind(ofCategory: cat) }
    private func timestamped(_ e: RawEvent) -> Bool { events.timestamped(e) }
    private func describe(_ e: RawEvent) -> String { events.describe(e) }

    /// `Input Dims` and `Input type` as Kineto writes them (`[[8, 512], []]`, `["float", ""]`):
    /// torch_npu joins one entry per input with `;\r\n` (`"8,512;\r\n"`).
    private func listArgs(from mark: Int) {
        for a in mark..<builder.argMark {
            let key = builder.args.key[a]
            guard key == npu.inputDims || key == npu.inputType else { continue }
            let v = builder.args.value[a]
            guard !v.isInteger else { continue }
            let cacheKey = UInt64(key) << 32 | UInt64(v.text)
            if let known = listTexts[cacheKey] {
                builder.args.value[a] = ArgValue(text: known)
                continue
            }
            guard rank.strings.withBytes(v.text, { $0.first == 0x22 }) else { continue }
            let parts = rank.argString(v).split(separator: ";", omittingEmptySubsequences: false)
                .map { String(String.UnicodeScalarView($0.unicodeScalars.filter { $0 != "\r" && $0 != "\n" })) }
            let text: String
            if key == npu.inputDims {
                text = "[" + parts.map { "[" + $0.split(separator: ",").map { $0.filter { $0 != " " } }.joined(separator: ", ") + "]" }
                    .joined(separator: ", ") + "]"
            } else {
                text = "[" + parts.map { JSONText.quote(String($0)) }.joined(separator: ", ") + "]"
            }
            let id = rank.strings.intern(text)
            listTexts[cacheKey] = id
            builder.args.value[a] = ArgValue(text: id)
        }
    }

    /// An HCCL op (`hcom_allReduce__586_0_1`, args `data_type`, `count`) gets the args collectives
    /// read on NCCL kernels: `Collective name` (`allreduce`), `dtype` and `In msg nelems`.
    private func addCollectiveArgs(_ e: RawEvent) {
        let op = rank.strings[e.name].dropFirst(5).prefix { $0 != "_" }
        let strings = rank.strings
        builder.appendArg(key: npu.collectiveName, value: ArgValue(text: strings.intern(JSONText.quote(op.lowercased()))))
        if let t = builder.argValue(from: e.argStart, npu.dataType), let dtype = NPUKeys.dtypeName(rank.argString(t)) {
            builder.appendArg(key: npu.dtype, value: ArgValue(text: strings.intern(JSONText.quote(dtype))))
        }
        if let n = builder.argInteger(from: e.argStart, npu.count) { builder.appendArg(key: npu.inNelems, value: ArgValue(integer: n)) }
    }

    // MARK: - Merging a split file

    /// Takes in the second part of a split file: its rows (`TimelineBuilder.absorb`), and its
    /// device-side slices, flow ends and HCCL streams in this part's strings, tracks and slices.
    func absorb(_ part: NPUTraceDecoder) {
        let (remap, sliceBase) = builder.absorb(part.builder)
        events.absorb(part.events)
        deviceSide += part.deviceSide.map { ($0.slice + sliceBase, remap.strings[Int($0.taskType)]) }
        communicationStreams.formUnion(part.communicationStreams)
        func moved(_ p: Point?) -> Point? { p.map { Point(track: remap.tracks[Int($0.track)], ts: $0.ts) } }
        for (key, flow) in part.flows {
            let mine = FlowKey(cat: remap.strings[Int(key.cat)], id: remap.strings[Int(key.id)])
            if let s = moved(flow.start) { flows[mine, default: (nil, nil)].start = s }
            if let f = moved(flow.end) { flows[mine, default: (nil, nil)].end = f }
        }
    }

    // MARK: - The end

    /// Classifies the device-side slices by process, turns flows into links and `NPU MEM`
    /// counters into memory rows, then lets the builder finish the model.
    func finish() throws(ImportError) {
        events.recordCounts()
        let role = processRoles()
        let hardwarePid = role.first { $0.value == .hardware }?.key
        let tracks = rank.tracks
        var movedTracks = Set<Int>()
        for (i, taskType) in deviceSide {
            let t = Int(builder.slices.track[i])
            let kind: SliceKind
            switch role[tracks.pid[t]] ?? .host {
            case .hardware: kind = taskKind(name: builder.slices.name[i], taskType: taskType, stream: tracks.tid[t])
            case .communication:
                // Ops on `Group ... Communication` threads are the collectives, drawn with the
                // device; the planes below repeat the device's HCCL tasks.
                if rank.strings[tracks.name[t]].hasPrefix("Group") {
                    kind = .gpuUserAnnotation
                    movedTracks.insert(t)
                } else {
                    kind = .trace
                }
            case .overlap: kind = .trace
            case .host: kind = .runtime
            case .counters: kind = .other
            }
            builder.slices.kind[i] = kind
        }
        if let hardwarePid { for t in movedTracks { rank.tracks.pid[t] = hardwarePid } }
        for (_, flow) in flows {
            guard let s = flow.start, let f = flow.end else { continue }
            builder.linkByFlow(fromTrack: s.track, fromTs: s.ts, toTrack: f.track, toTs: f.ts)
        }
        flows = [:]
        memoryFromCounters(role)
        if hardwarePid != nil { rank.metadata.deviceKind = .npu }
        if rank.metadata.distributed == nil, hardwarePid != nil {
            var d = DistributedInfo()
            d.backend = "hccl"
            rank.metadata.distributed = d
        }
        try builder.finish()
    }

    private enum Role { case hardware, communication, overlap, counters, host }

    /// What each process is, from its `process_name`; unnamed ones (CANN in some exports) are host.
    private func processRoles() -> [UInt32: Role] {
        var roles: [UInt32: Role] = [:]
        for p in rank.processes where p.name != 0 {
            switch rank.strings[p.name] {
            case "Ascend Hardware": roles[p.pid] = .hardware
            case "HCCL", "Communication": roles[p.pid] = .communication
            case "Overlap Analysis": roles[p.pid] = .overlap
            case "NPU MEM", "HBM", "LLC", "AI Core Freq", "Acc PMU", "QoS", "Stars Soc Info", "Stars Chip Trans", "DDR": roles[p.pid] = .counters
            default: break
            }
        }
        return roles
    }

    /// A task on an `Ascend Hardware` stream: memcpy (`MEMCPY_ASYNC`), communication (an HCCL task
    /// type, or any task on a stream HCCL names), stream bookkeeping (events, place holders,
    /// profiling marks: no activity), else compute.
    private func taskKind(name: UInt32, taskType: UInt32, stream: UInt32) -> SliceKind {
        let n = rank.strings[name], type = taskType == 0 ? "" : rank.strings[taskType]
        if n.hasPrefix("EVENT_") || n.hasPrefix("PROFILING_") || type.hasPrefix("EVENT_") || type.hasPrefix("PLACE_HOLDER")
            || n == "STREAM_WAIT" || n == "NOTIFY_WAIT" && type.isEmpty {
            return .other
        }
        if n == "MEMCPY_ASYNC" { return .memcpy }
        if NPUKeys.hcclTaskTypes.contains(type) || NPUKeys.hcclTaskTypes.contains(n) { return .communication }
        if let s = Int64(rank.strings[stream]), communicationStreams.contains(s) { return .communication }
        return .kernel
    }

    /// `NPU MEM`'s `APP/HBM` counter (KB the application holds on the device) as memory rows: the
    /// value as allocated and reserved bytes, the change as the event's bytes.
    private func memoryFromCounters(_ role: [UInt32: Role]) {
        guard let series = rank.strings.lookup("APP/HBM") else { return }
        let c = rank.counters
        var last: Int64 = 0
        var rows: [(ts: Int64, pid: UInt32, bytes: Int64)] = []
        for i in 0..<c.count where c.name[i] == series && role[c.pid[i]] == .counters {
            rows.append((c.ts[i], c.pid[i], Int64(c.value[i] * 1024)))
        }
        rows.sort { $0.ts < $1.ts }
        for r in rows {
            builder.appendMemory(ts: r.ts, track: builder.thread(pid: r.pid, tid: rank.strings.intern("0")), bytes: r.bytes - last,
                                 totalAllocated: r.bytes, totalReserved: r.bytes, addr: 0, deviceType: NPUKeys.privateUse1, deviceID: 0)
            last = r.bytes
        }
    }
}

/// Arg names and values of torch_npu's export.
struct NPUKeys {
    let taskType, connectionID, streamID, asyncNPU, dataType, count: UInt32
    let collectiveName, dtype, inNelems: UInt32
    let cpuOp, inputDims, inputType: UInt32

    init(_ s: StringTable) {
        taskType = s.intern("Task Type")
        connectionID = s.intern("connection_id")
        streamID = s.intern("stream id")
        asyncNPU = s.intern("async_npu")
        dataType = s.intern("data_type")
        count = s.intern("count")
        collectiveName = s.intern("Collective name")
        dtype = s.intern("dtype")
        inNelems = s.intern("In msg nelems")
        cpuOp = s.intern("cpu_op")
        inputDims = s.intern("Input Dims")
        inputType = s.intern("Input type")
    }

    /// Args this decoder reads, kept by lean loads.
    static let readArgs: Set<String> = ["Task Type", "connection_id", "stream id", "data_type", "count"]

    /// PyTorch's device type number of NPUs (`PrivateUse1`).
    static let privateUse1: Int8 = 20

    /// Task types of HCCL's device tasks.
    static let hcclTaskTypes: Set<String> = [
        "Notify Wait", "Notify Record", "Write Value", "SDMA", "RDMA", "Reduce Inline", "Reduce TBE", "Local Copy",
        "Memcpy", "Inline Reduce", "Notify_Wait", "Notify_Record", "Reduce_Inline",
    ]

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
