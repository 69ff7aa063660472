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

    /// `Input Dims` and `Input type` in Kineto's form (`NPUKeys.kinetoList`).
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
            let text = NPUKeys.kinetoList(rank.argString(v), dims: key == npu.inputDims)
            let id = rank.strings.intern(text)
            listTexts[cacheKey] = id
            builder.args.value[a] = ArgValue(text: id)
        }
    }

    /// An HCCL op gets the args collectives read (`NPUKeys.appendCollectiveArgs`).
    private func addCollectiveArgs(_ e: RawEvent) {
        npu.appendCollectiveArgs(builder, op: rank.strings[e.name], dataType: builder.argValue(from: e.argStart, npu.dataType).map { rank.argString($0) },
                                 count: builder.argInteger(from: e.argStart, npu.count))
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
    /// counters into memory rows, reads `operator_memory.csv` beside the file, then lets the
    /// builder finish the model.
    func finish() throws(ImportError) {
        events.recordCounts()
        let role = processRoles()
        let hardwarePid = role.first { $0.value == .hardware }?.key
        let tracks = rank.tracks
        var movedTracks = Set<Int>()
        // A task's kind depends on its name, Task Type and stream only: classify each once.
        struct TaskKey: Hashable { let name: UInt32, taskType: UInt32, stream: UInt32 }
        var taskKinds: [TaskKey: SliceKind] = [:]
        var groupTracks: [Int: Bool] = [:]
        for (i, taskType) in deviceSide {
            let t = Int(builder.slices.track[i])
            let kind: SliceKind
            switch role[tracks.pid[t]] ?? .host {
            case .hardware:
                let key = TaskKey(name: builder.slices.name[i], taskType: taskType, stream: tracks.tid[t])
                if let known = taskKinds[key] {
                    kind = known
                } else {
                    kind = taskKind(name: key.name, taskType: key.taskType, stream: key.stream)
                    taskKinds[key] = kind
                }
            case .communication:
                // Ops on `Group ... Communication` threads are the collectives, drawn with the
                // device; the planes below repeat the device's HCCL tasks.
                let group: Bool
                if let known = groupTracks[t] { group = known } else { group = rank.strings[tracks.name[t]].hasPrefix("Group"); groupTracks[t] = group }
                if group {
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
        // The text export names its device only in operator_memory.csv (`NPU:N`).
        try NPUExport.readOperatorMemory(besideTrace: rank.source, into: builder)
        NPUKeys.memoryFromCounters(builder, device: rank.operatorAllocations.deviceID.first ?? 0) { role[$0] == .counters }
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

    /// A task on an `Ascend Hardware` stream (`NPUKeys.taskKind`); a task on a stream that HCCL
    /// tasks name is HCCL's.
    private func taskKind(name: UInt32, taskType: UInt32, stream: UInt32) -> SliceKind {
        let onHCCLStream = Int64(rank.strings[stream]).map { communicationStreams.contains($0) } ?? false
        return NPUKeys.taskKind(name: rank.strings[name], type: taskType == 0 ? "" : rank.strings[taskType], hccl: onHCCLStream)
    }
}
