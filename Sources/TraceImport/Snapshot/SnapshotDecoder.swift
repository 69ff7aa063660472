import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// Turns a PyTorch memory snapshot pickle into the rank's `MemorySnapshot` (its memory over time
/// is the replay's, `MemorySnapshotAnalysis`; the rank has no `[memory]` rows).
final class SnapshotDecoder {
    let trace: RankTrace
    let name: String
    let snapshot = MemorySnapshot()
    /// Events taken from lists while they were read, by the list's tag.
    var eventLists: [SnapshotEventTable] = []
    var timedEvents = 0
    var untimedEvents = 0

    init(trace: RankTrace, name: String) {
        self.trace = trace
        self.name = name
    }

    /// True when `head` starts like a pickle of protocol 2 to 5.
    static func isPickle(_ head: UnsafeRawBufferPointer) -> Bool {
        head.count >= 2 && head[0] == 0x80 && (2...5).contains(head[1])
    }

    /// Why an input that starts like a pickle of another protocol, or is named like a pickle but
    /// is not one of protocol 2 to 5, is refused (rather than read as JSON); nil for other inputs.
    static func refusal(_ head: UnsafeRawBufferPointer, path: String) -> ImportError? {
        if head.count >= 2 && head[0] == 0x80 {
            return ImportError(file: path, offset: 1, message: "pickle protocol \(head[1]) is not read (protocols 2 to 5 are)")
        }
        let lower = path.lowercased()
        guard lower.hasSuffix(".pkl") || lower.hasSuffix(".pickle") else { return nil }
        return ImportError(file: path, offset: 0, message: "not a pickle of protocol 2 to 5, which torch.cuda.memory._dump_snapshot "
                           + "writes (protocols 0 and 1 are not read)")
    }

    /// Reads a snapshot file in two passes: the first finds the memo entries that are read back,
    /// so the second keeps only those.
    static func load(path: String, into trace: RankTrace) throws(ImportError) {
        let first = try FileSource(path: path)
        defer { first.close() }
        let referenced = try Unpickler.referencedMemo(source: first, name: path, size: first.size)
        let second = try FileSource(path: path)
        defer { second.close() }
        try decode(source: second, name: path, size: second.size, referenced: referenced, into: trace)
    }

    /// Reads a snapshot held in memory (both passes over the bytes).
    static func load(bytes: [UInt8], name: String, into trace: RankTrace) throws(ImportError) {
        let referenced = try Unpickler.referencedMemo(source: MemorySource(bytes), name: name, size: Int64(bytes.count))
        try decode(source: MemorySource(bytes), name: name, size: Int64(bytes.count), referenced: referenced, into: trace)
    }

    /// Decodes a snapshot from `source` (a pipe: `referenced` nil keeps the whole memo).
    static func decode(source: any ByteSource, name: String, size: Int64?, referenced: Bitset?, into trace: RankTrace) throws(ImportError) {
        let decoder = SnapshotDecoder(trace: trace, name: name)
        let unpickler = Unpickler(source: source, name: name, size: size, referenced: referenced)
        unpickler.onAppend = { [unowned unpickler] (list, items) throws(ImportError) in try decoder.take(list, items, at: unpickler.offset) }
        let root = try unpickler.run()
        try decoder.finish(root)
    }

    func fail(_ message: String, at offset: Int64? = nil) -> ImportError {
        ImportError(file: name, offset: offset, message: message)
    }

    /// Takes trace events (dicts with an `action`) appended to a list, as rows of that list's table.
    func take(_ list: PickleList, _ items: ArraySlice<PickleValue>, at offset: Int64) throws(ImportError) -> Int {
        if list.tag < 0 {
            guard case let .dict(first)? = items.first, first["action"]?.string != nil, first["size"] != nil else { return 0 }
            list.tag = eventLists.count
            eventLists.append(SnapshotEventTable())
        }
        for item in items {
            guard case let .dict(d) = item, let action = d["action"]?.string else {
                throw fail("device_traces: an entry is not a trace event (a dict with an action)", at: offset)
            }
            guard let a = SnapshotAction(name: action) else {
                trace.warnings.add("snapshot-unknown-action", "unknown trace action \(JSONText.terminalSafe(action)) skipped")
                continue
            }
            var row = (addr: d["addr"]?.int ?? 0, size: d["size"]?.int ?? 0)
            if row.size < 0 { row.size = 0 }
            let stack = try self.stack(d["frames"], at: offset)
            let t = list.tag
            eventLists[t].action.append(a)
            eventLists[t].addr.append(row.addr)
            eventLists[t].size.append(row.size)
            eventLists[t].stack.append(stack)
            if let us = d["time_us"]?.int {
                eventLists[t].ts.append(us &* 1000)
                timedEvents += 1
            } else {
                untimedEvents += 1
            }
            if a == .oom, let free = d["device_free"]?.int { eventLists[t].deviceFree[eventLists[t].count - 1] = free }
        }
        return items.count
    }

    /// The stack of a `frames` list (innermost first, as PyTorch writes it), interned outermost first.
    func stack(_ value: PickleValue?, at offset: Int64?) throws(ImportError) -> Int32 {
        guard let value else { return -1 }
        guard case let .list(frames) = value else { throw fail("frames: not a list", at: offset) }
        if frames.tag >= 0 { return Int32(frames.tag) }  // a shared frames list, seen before
        var s: Int32 = -1
        for f in frames.items.reversed() {
            guard case let .dict(d) = f else { throw fail("frames: an entry is not a dict", at: offset) }
            if d.tag < 0 {
                let name = trace.strings.intern(d["name"]?.string ?? "?")
                let file = trace.strings.intern(d["filename"]?.string ?? "?")
                let line = Int32(clamping: d["line"]?.int ?? 0)
                d.tag = snapshot.frames.intern(kind: .python, name: name, file: file, line: line)
            }
            s = snapshot.stacks.intern(parent: s, frame: d.tag)
        }
        frames.tag = Int(s)
        return s
    }

    /// Reads the top-level dict, derives each device's initial state and fills the memory table.
    func finish(_ root: PickleValue) throws(ImportError) {
        guard case let .dict(top) = root else { throw fail("not a memory snapshot: the pickle is not a dict") }
        guard let traces = top["device_traces"]?.items else {
            throw fail("not a memory snapshot: no device_traces list")
        }
        var devices: [SnapshotDevice] = []
        for (i, t) in traces.enumerated() {
            guard case let .list(l) = t else { throw fail("device_traces[\(i)]: not a list") }
            var d = SnapshotDevice(device: i)
            if l.tag >= 0 { d.events = eventLists[l.tag]; eventLists[l.tag] = SnapshotEventTable() }
            else if !l.items.isEmpty { throw fail("device_traces[\(i)]: entries are not trace events") }
            devices.append(d)
        }
        eventLists = []
        if timedEvents > 0 && untimedEvents > 0 {
            trace.warnings.add("snapshot-partial-times", count: untimedEvents, "some events have no time_us; events are ordered by index")
            for i in devices.indices { devices[i].events.ts = [] }
        }
        snapshot.hasTimes = timedEvents > 0 && untimedEvents == 0

        // End state from the segments: reserved bytes and the blocks still allocated.
        var endLive = [[Int64: (size: Int64, stack: Int32)]](repeating: [:], count: devices.count)
        for (k, seg) in (top["segments"]?.items ?? []).enumerated() {
            guard case let .dict(s) = seg, let device = s["device"]?.int, device >= 0, device < 1 << 16 else {
                throw fail("segments[\(k)]: not a segment with a device")
            }
            let dev = Int(device)
            while devices.count <= dev { devices.append(SnapshotDevice(device: devices.count)); endLive.append([:]) }
            devices[dev].finalReserved += s["total_size"]?.int ?? 0
            devices[dev].segmentCount += 1
            for b in s["blocks"]?.items ?? [] {
                guard case let .dict(block) = b else { throw fail("segments[\(k)].blocks: an entry is not a dict") }
                let state = block["state"]?.string ?? ""
                guard state == "active_allocated" || state == "active_pending_free",
                      let addr = block["address"]?.int, let size = block["size"]?.int else { continue }
                let stack = try self.stack(block["frames"], at: nil)
                endLive[dev][addr] = (size, stack)
            }
        }

        // Walk each trace backwards from the end state: before an alloc its block was not live,
        // before a free_completed it was (allocated before the trace began, or earlier in it).
        var inconsistent = 0
        for i in devices.indices {
            var live = endLive[i]
            var reserved = devices[i].finalReserved
            let e = devices[i].events
            for j in stride(from: e.count - 1, through: 0, by: -1) {
                switch e.action[j] {
                case .alloc: if live.removeValue(forKey: e.addr[j]) == nil { inconsistent += 1 }
                case .freeCompleted: if live.updateValue((e.size[j], -1), forKey: e.addr[j]) != nil { inconsistent += 1 }
                case .segmentAlloc, .segmentMap: reserved -= e.size[j]
                case .segmentFree, .segmentUnmap: reserved += e.size[j]
                case .freeRequested, .oom, .snapshot: break
                }
            }
            devices[i].initialBlocks = live.map { SnapshotBlock(addr: $0.key, size: $0.value.size, stack: $0.value.stack) }
                .sorted { $0.addr < $1.addr }
            devices[i].initialReserved = reserved
        }
        if inconsistent > 0 {
            trace.warnings.add("snapshot-inconsistent", count: inconsistent,
                               "trace events that disagree with the segments at the end (an alloc never freed but not allocated at the end, or a block freed twice)")
        }
        snapshot.devices = devices.filter { $0.events.count > 0 || $0.segmentCount > 0 }
        trace.memorySnapshot = snapshot
    }
}
