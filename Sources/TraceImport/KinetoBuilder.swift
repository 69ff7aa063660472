import TraceModel

/// Arg and event names the importer recognises, interned first so they compare as small integers.
struct WellKnownKeys {
    let correlation, externalID, externalIDLower, evIdx, recordFunctionID: UInt32
    let lastSpecial: UInt32
    let memory, name, labels, sortIndex: UInt32
    let processName, threadName, processLabels, processSortIndex, threadSortIndex: UInt32
    let bytes, totalAllocated, totalReserved, addr, deviceType, deviceID: UInt32
    /// The `python_function` category.
    let pythonFunction: UInt32

    init(_ s: StringTable) {
        correlation = s.intern("correlation")
        externalID = s.intern("External id")
        externalIDLower = s.intern("external id")
        evIdx = s.intern("Ev Idx")
        recordFunctionID = s.intern("Record function id")
        lastSpecial = recordFunctionID
        memory = s.intern("[memory]")
        name = s.intern("name")
        labels = s.intern("labels")
        sortIndex = s.intern("sort_index")
        processName = s.intern("process_name")
        threadName = s.intern("thread_name")
        processLabels = s.intern("process_labels")
        processSortIndex = s.intern("process_sort_index")
        threadSortIndex = s.intern("thread_sort_index")
        let memoryKeys = Self.memoryArgs.map { s.intern($0) }
        (bytes, totalAllocated, totalReserved) = (memoryKeys[0], memoryKeys[1], memoryKeys[2])
        (addr, deviceType, deviceID) = (memoryKeys[3], memoryKeys[4], memoryKeys[5])
        pythonFunction = s.intern("python_function")
    }

    /// Arg keys of non-metadata events that the builder itself reads (`[memory]` events), in the
    /// order of the fields above.
    static let memoryArgs = ["Bytes", "Total Allocated", "Total Reserved", "Addr", "Device Type", "Device Id"]
}

/// Which args a filtered load keeps, decided once per key (an interned string).
struct ArgFilter {
    private let keep: Set<String>
    /// Per string id: -1 not decided yet, 0 drop, 1 keep.
    private var decided: [Int8] = []

    init(keep: Set<String>) {
        self.keep = keep
    }

    /// Whether args with key `key` (an id in `strings`) are kept.
    @inline(__always)
    mutating func keeps(_ key: UInt32, _ strings: StringTable) -> Bool {
        let i = Int(key)
        if i < decided.count, decided[i] >= 0 { return decided[i] == 1 }
        return decide(key, strings)
    }

    private mutating func decide(_ key: UInt32, _ strings: StringTable) -> Bool {
        let i = Int(key)
        if i >= decided.count { decided.append(contentsOf: repeatElement(-1, count: i + 1 - decided.count)) }
        decided[i] = keep.contains(strings[key]) ? 1 : 0
        return decided[i] == 1
    }
}

/// Kineto semantics: turns raw events into model rows, then sorts, nests and links them.
final class KinetoBuilder {
    let rank: RankTrace
    let keys: WellKnownKeys
    private var trackIndex: [UInt64: UInt32] = [:]
    private var lastTrackKey: UInt64 = .max
    private var lastTrack: UInt32 = 0
    private var kindByCategory: [Int8] = []
    /// Open `B` slices per track.
    private var openBegins: [UInt32: [Int]] = [:]
    /// Open async `b` slices per (pid, cat, id).
    private var openAsync: [AsyncKey: [Int]] = [:]
    private var asyncTracks: [UInt64: UInt32] = [:]
    private var unknownPhases: [UInt8: Int] = [:]
    private var phaseCounts = [Int](repeating: 0, count: 256)

    private struct AsyncKey: Hashable { let pid: UInt32, cat: UInt32, id: UInt32 }

    /// For the second part of a split file: ends that find nothing open are kept for the first
    /// part's open begins (see `absorb`), and top-level members are replayed there.
    var isContinuation = false
    private var pendingEnds: [(track: UInt32, ts: Int64)] = []
    private var pendingAsyncEnds: [(key: AsyncKey, ts: Int64)] = []
    private var topLevelSeen: [(String, [UInt8])] = []

    /// Which args the parser keeps (nil: all).
    let argFilter: ArgFilter?
    /// Slices read so far; `finish` gathers them into `rank.slices` in track order.
    private let slices: SliceStaging

    /// `expectedBytes` (the JSON size, when known) sizes the tables up front, so they are not
    /// copied while growing. `argKeys` (when given) are the args to keep besides the importer's own.
    init(rank: RankTrace, expectedBytes: Int64 = 0, argKeys: Set<String>? = nil) {
        self.rank = rank
        keys = WellKnownKeys(rank.strings)
        argFilter = argKeys.map { ArgFilter(keep: $0.union(WellKnownKeys.memoryArgs)) }
        slices = SliceStaging(capacity: Int(expectedBytes / 400))
        if expectedBytes > 0 {
            rank.args.key.reserveCapacity(Int(expectedBytes / 180))
            rank.args.value.reserveCapacity(Int(expectedBytes / 180))
        }
    }

    // MARK: - Top level

    /// A top-level member other than `traceEvents`, with its raw JSON text.
    func topLevel(_ name: String, _ text: [UInt8]) throws {
        if isContinuation { topLevelSeen.append((name, text)) }
        switch name {
        case "baseTimeNanoseconds":
            let v = try JSONValue.parse(text)
            guard case let .number(t) = v, let ns = Int64(t) else {
                throw JSONValueError(offset: 0, message: "baseTimeNanoseconds must be an integer")
            }
            rank.metadata.baseTimeNanoseconds = ns
        case "displayTimeUnit": rank.metadata.displayTimeUnit = try JSONValue.parse(text).string
        case "schemaVersion": rank.metadata.schemaVersion = try JSONValue.parse(text).int
        case "traceName": rank.metadata.traceName = try JSONValue.parse(text).string
        case "host_name": rank.metadata.hostName = try JSONValue.parse(text).string
        case "distributedInfo": rank.metadata.distributed = Self.distributed(try JSONValue.parse(text))
        case "deviceProperties": rank.metadata.devices = Self.devices(try JSONValue.parse(text))
        default: break
        }
    }

    static func distributed(_ v: JSONValue) -> DistributedInfo {
        var d = DistributedInfo()
        d.backend = v["backend"]?.string
        d.rank = v["rank"]?.int
        d.worldSize = v["world_size"]?.int
        for pg in v["pg_config"]?.array ?? [] {
            let ranks = (pg["ranks"]?.array ?? []).compactMap(\.int)
            d.processGroups.append(ProcessGroup(name: pg["pg_name"]?.string ?? "", description: pg["pg_desc"]?.string,
                                                size: pg["pg_size"]?.int, ranks: ranks))
        }
        return d
    }

    static func devices(_ v: JSONValue) -> [DeviceInfo] {
        (v.array ?? []).compactMap { d in
            guard let id = d["id"]?.int else { return nil }
            return DeviceInfo(id: id, name: d["name"]?.string ?? "", totalGlobalMemory: d["totalGlobalMem"]?.int.map(Int64.init),
                              smCount: d["numSms"]?.int)
        }
    }

    // MARK: - Events

    @inline(__always)
    private func track(pid: UInt32, tid: UInt32) -> UInt32 {
        let key = UInt64(pid) << 32 | UInt64(tid)
        if key == lastTrackKey { return lastTrack }
        let t: UInt32
        if let found = trackIndex[key] { t = found } else {
            t = newTrack(pid: pid, tid: tid, kind: .cpuThread)
            trackIndex[key] = t
        }
        lastTrackKey = key
        lastTrack = t
        return t
    }

    private func newTrack(pid: UInt32, tid: UInt32, kind: TrackKind) -> UInt32 {
        let t = UInt32(rank.tracks.count)
        rank.tracks.pid.append(pid)
        rank.tracks.tid.append(tid)
        rank.tracks.kind.append(kind)
        rank.tracks.name.append(0)
        rank.tracks.sortIndex.append(0)
        return t
    }

    @inline(__always)
    private func kind(ofCategory cat: UInt32) -> SliceKind {
        let c = Int(cat)
        if c < kindByCategory.count, kindByCategory[c] >= 0 { return SliceKind(rawValue: UInt8(kindByCategory[c]))! }
        if c >= kindByCategory.count { kindByCategory.append(contentsOf: repeatElement(-1, count: c + 64 - kindByCategory.count)) }
        let k = SliceKind(category: rank.strings[cat])
        kindByCategory[c] = Int8(k.rawValue)
        return k
    }

    /// Counts an event a lean load skipped unread (see `ImportOptions.argKeys`).
    func countSkipped(_ ph: UInt8) { phaseCounts[Int(ph)] += 1 }

    /// Adds one parsed event to the model.
    @inline(__always)
    func consume(_ e: inout RawEvent) {
        phaseCounts[Int(e.ph)] += 1
        switch e.ph {
        case 0x58:  // X
            guard timestamped(e) else { return }
            if e.dur < 0 {
                rank.warnings.add("negative-duration", "\(describe(e)) has dur \(e.dur) ns")
                dropArgs(e)
                return
            }
            appendSlice(e, track: track(pid: e.pid, tid: e.tid), dur: e.hasDur ? e.dur : 0)
        case 0x42:  // B
            guard timestamped(e) else { return }
            let t = track(pid: e.pid, tid: e.tid)
            openBegins[t, default: []].append(slices.count)
            appendSlice(e, track: t, dur: -1)
        case 0x45:  // E
            dropArgs(e)
            guard timestamped(e) else { return }
            let t = track(pid: e.pid, tid: e.tid)
            guard let open = openBegins[t]?.popLast() else {
                if isContinuation { pendingEnds.append((t, e.ts)); return }
                rank.warnings.add("unmatched-end", "E event at byte \(e.offset) closes nothing")
                return
            }
            slices.close(open, at: e.ts)
        case 0x69, 0x49:  // i, I
            guard timestamped(e) else { return }
            if e.name == keys.memory { memoryEvent(e) } else {
                rank.instants.ts.append(e.ts)
                rank.instants.track.append(track(pid: e.pid, tid: e.tid))
                rank.instants.name.append(e.name)
                rank.instants.scope.append(e.scope == 0 ? 0x74 : e.scope)
                rank.instants.argStart.append(UInt32(e.argStart))
                rank.instants.argCount.append(UInt16(clamping: rank.args.count - e.argStart))
            }
        case 0x43:  // C
            guard timestamped(e) else { return }
            counterEvent(e)
        case 0x4D:  // M
            metadataEvent(e)
        case 0x73, 0x74, 0x66:  // s, t, f
            dropArgs(e)
            guard timestamped(e) else { return }
            rank.flows.ts.append(e.ts)
            rank.flows.track.append(track(pid: e.pid, tid: e.tid))
            rank.flows.id.append(e.id)
            rank.flows.category.append(e.cat)
            rank.flows.phase.append(e.ph)
            rank.flows.bindingPoint.append(e.bp == 0 ? (e.ph == 0x66 ? 0x6E : 0x65) : e.bp)
        case 0x62:  // b
            guard timestamped(e) else { return }
            let t = asyncTrack(pid: e.pid, cat: e.cat)
            openAsync[AsyncKey(pid: e.pid, cat: e.cat, id: e.id), default: []].append(slices.count)
            appendSlice(e, track: t, dur: -1)
        case 0x65:  // e
            dropArgs(e)
            guard timestamped(e) else { return }
            let key = AsyncKey(pid: e.pid, cat: e.cat, id: e.id)
            guard let open = openAsync[key]?.popLast() else {
                if isContinuation { pendingAsyncEnds.append((key, e.ts)); return }
                rank.warnings.add("unmatched-end", "async end at byte \(e.offset) closes nothing")
                return
            }
            slices.close(open, at: e.ts)
        case 0x6E:  // n: an async instant
            guard timestamped(e) else { return }
            rank.instants.ts.append(e.ts)
            rank.instants.track.append(asyncTrack(pid: e.pid, cat: e.cat))
            rank.instants.name.append(e.name)
            rank.instants.scope.append(0x74)
            rank.instants.argStart.append(UInt32(e.argStart))
            rank.instants.argCount.append(UInt16(clamping: rank.args.count - e.argStart))
        default:
            dropArgs(e)
            unknownPhases[e.ph, default: 0] += 1
        }
    }

    @inline(__always)
    private func timestamped(_ e: RawEvent) -> Bool {
        if e.hasTs { return true }
        rank.warnings.add("missing-timestamp", "\(describe(e)) has no ts")
        dropArgs(e)
        return false
    }

    @inline(__always)
    private func dropArgs(_ e: RawEvent) {
        let n = rank.args.count - e.argStart
        if n > 0 { rank.args.removeLast(n) }
    }

    private func describe(_ e: RawEvent) -> String {
        "event '\(JSONText.terminalSafe(rank.strings[e.name]))' at byte \(e.offset)"
    }

    @inline(__always)
    private func appendSlice(_ e: RawEvent, track t: UInt32, dur: Int64) {
        slices.append(start: e.ts, dur: dur, name: e.name, category: e.cat, kind: kind(ofCategory: e.cat), track: t,
                      correlation: e.correlation, externalID: e.externalID, argStart: UInt32(e.argStart),
                      argCount: UInt16(clamping: rank.args.count - e.argStart))
    }

    private func asyncTrack(pid: UInt32, cat: UInt32) -> UInt32 {
        asyncTrack(pid: pid, tid: rank.strings.intern("async " + rank.strings[cat]))
    }

    private func asyncTrack(pid: UInt32, tid: UInt32) -> UInt32 {
        let key = UInt64(pid) << 32 | UInt64(tid)
        if let t = asyncTracks[key] { return t }
        let t = newTrack(pid: pid, tid: tid, kind: .async)
        asyncTracks[key] = t
        return t
    }

    private func argValue(_ e: RawEvent, _ key: UInt32) -> ArgValue? {
        for a in e.argStart..<rank.args.count where rank.args.key[a] == key { return rank.args.value[a] }
        return nil
    }

    private func argInt(_ e: RawEvent, _ key: UInt32) -> Int64? {
        argValue(e, key).flatMap { rank.argInteger($0) }
    }

    private func memoryEvent(_ e: RawEvent) {
        rank.memory.ts.append(e.ts)
        rank.memory.track.append(track(pid: e.pid, tid: e.tid))
        rank.memory.bytes.append(argInt(e, keys.bytes) ?? 0)
        rank.memory.totalAllocated.append(argInt(e, keys.totalAllocated) ?? -1)
        rank.memory.totalReserved.append(argInt(e, keys.totalReserved) ?? -1)
        rank.memory.addr.append(argInt(e, keys.addr) ?? 0)
        rank.memory.deviceType.append(Int8(clamping: argInt(e, keys.deviceType) ?? 0))
        rank.memory.deviceID.append(Int16(clamping: argInt(e, keys.deviceID) ?? -1))
        dropArgs(e)
    }

    private func counterEvent(_ e: RawEvent) {
        for a in e.argStart..<rank.args.count {
            let v = rank.args.value[a]
            let value: Double? = v.isInteger ? Double(v.integer) : Double(rank.argString(v))
            guard let value else { continue }
            rank.counters.ts.append(e.ts)
            rank.counters.pid.append(e.pid)
            rank.counters.name.append(e.name)
            rank.counters.series.append(rank.args.key[a])
            rank.counters.value.append(value)
        }
        dropArgs(e)
    }

    private func metadataEvent(_ e: RawEvent) {
        defer { dropArgs(e) }
        func text(_ key: UInt32) -> UInt32? {
            guard let v = argValue(e, key) else { return nil }
            return rank.strings.intern(rank.argString(v))
        }
        switch e.name {
        case keys.threadName:
            guard let name = text(keys.name) else { return }
            nameTrack(Int(track(pid: e.pid, tid: e.tid)), name)
        case keys.threadSortIndex:
            if let v = argInt(e, keys.sortIndex) { rank.tracks.sortIndex[Int(track(pid: e.pid, tid: e.tid))] = v }
        case keys.processName, keys.processLabels, keys.processSortIndex:
            let p = process(e.pid)
            if e.name == keys.processName, let n = text(keys.name) {
                nameProcess(p, n)
            } else if e.name == keys.processLabels, let l = text(keys.labels) {
                rank.processes[p].labels = l
            } else if e.name == keys.processSortIndex, let v = argInt(e, keys.sortIndex) {
                rank.processes[p].sortIndex = v
            }
        default:
            break
        }
    }

    private func nameTrack(_ t: Int, _ name: UInt32) {
        let old = rank.tracks.name[t]
        if old != 0 && old != name {
            rank.warnings.add("conflicting-metadata",
                              "thread \(rank.strings[rank.tracks.tid[t]]) named '\(JSONText.terminalSafe(rank.strings[old]))' then '\(JSONText.terminalSafe(rank.strings[name]))'")
        }
        rank.tracks.name[t] = name
    }

    private func process(_ pid: UInt32) -> Int {
        if let found = rank.processes.firstIndex(where: { $0.pid == pid }) { return found }
        rank.processes.append(ProcessInfo(pid: pid))
        return rank.processes.count - 1
    }

    private func nameProcess(_ p: Int, _ name: UInt32) {
        let old = rank.processes[p].name
        if old != 0 && old != name {
            rank.warnings.add("conflicting-metadata", "process \(rank.strings[rank.processes[p].pid]) named twice")
        }
        rank.processes[p].name = name
    }

    // MARK: - Merging a split file

    /// Appends what `part` (the continuation of this file, parsed on another core) read, as if this
    /// builder had read it: strings and tracks remapped, ends matched against open begins here.
    func absorb(_ part: KinetoBuilder) throws {
        let other = part.rank
        var map = [UInt32](repeating: 0, count: other.strings.count)
        for id in 1..<other.strings.count {
            map[id] = other.strings.withBytes(UInt32(id)) { rank.strings.intern(UnsafeRawPointer($0.baseAddress!), $0.count) }
        }
        for (name, text) in part.topLevelSeen { try topLevel(name, text) }
        var trackMap = [UInt32](repeating: 0, count: other.tracks.count)
        for t in 0..<other.tracks.count {
            let pid = map[Int(other.tracks.pid[t])], tid = map[Int(other.tracks.tid[t])]
            let mine = other.tracks.kind[t] == .async ? asyncTrack(pid: pid, tid: tid) : track(pid: pid, tid: tid)
            trackMap[t] = mine
            if other.tracks.name[t] != 0 { nameTrack(Int(mine), map[Int(other.tracks.name[t])]) }
            if other.tracks.sortIndex[t] != 0 { rank.tracks.sortIndex[Int(mine)] = other.tracks.sortIndex[t] }
        }
        for proc in other.processes {
            let p = process(map[Int(proc.pid)])
            if proc.name != 0 { nameProcess(p, map[Int(proc.name)]) }
            if proc.labels != 0 { rank.processes[p].labels = map[Int(proc.labels)] }
            if proc.sortIndex != 0 { rank.processes[p].sortIndex = proc.sortIndex }
        }
        // Columns move over one at a time and are released at once, so the second half's copy
        // and ours never coexist whole.
        func remap(_ v: ArgValue) -> ArgValue { v.isInteger ? v : ArgValue(text: map[Int(v.text)]) }
        let argBase = UInt32(rank.args.count)
        rank.args.key.append(contentsOf: other.args.key.lazy.map { map[Int($0)] }); other.args.key = []
        rank.args.value.append(contentsOf: other.args.value.lazy.map(remap)); other.args.value = []

        let sliceBase = slices.count
        slices.append(part.slices, strings: map, tracks: trackMap, argBase: argBase)

        for end in part.pendingEnds {
            let t = trackMap[Int(end.track)]
            if let open = openBegins[t]?.popLast() {
                slices.close(open, at: end.ts)
            } else {
                rank.warnings.add("unmatched-end", "E event closes nothing")
            }
        }
        for (t, opens) in part.openBegins { openBegins[trackMap[Int(t)], default: []] += opens.map { $0 + sliceBase } }
        func remapKey(_ k: AsyncKey) -> AsyncKey { AsyncKey(pid: map[Int(k.pid)], cat: map[Int(k.cat)], id: map[Int(k.id)]) }
        for end in part.pendingAsyncEnds {
            if let open = openAsync[remapKey(end.key)]?.popLast() {
                slices.close(open, at: end.ts)
            } else {
                rank.warnings.add("unmatched-end", "async end closes nothing")
            }
        }
        for (k, opens) in part.openAsync { openAsync[remapKey(k), default: []] += opens.map { $0 + sliceBase } }

        rank.instants.ts += other.instants.ts
        rank.instants.track.append(contentsOf: other.instants.track.lazy.map { trackMap[Int($0)] })
        rank.instants.name.append(contentsOf: other.instants.name.lazy.map { map[Int($0)] })
        rank.instants.scope += other.instants.scope
        rank.instants.argStart.append(contentsOf: other.instants.argStart.lazy.map { $0 + argBase })
        rank.instants.argCount += other.instants.argCount
        other.instants = InstantTable()
        rank.memory.ts += other.memory.ts
        rank.memory.track.append(contentsOf: other.memory.track.lazy.map { trackMap[Int($0)] })
        rank.memory.bytes += other.memory.bytes
        rank.memory.totalAllocated += other.memory.totalAllocated
        rank.memory.totalReserved += other.memory.totalReserved
        rank.memory.addr += other.memory.addr
        rank.memory.deviceType += other.memory.deviceType
        rank.memory.deviceID += other.memory.deviceID
        other.memory = MemoryTable()
        rank.counters.ts += other.counters.ts
        rank.counters.pid.append(contentsOf: other.counters.pid.lazy.map { map[Int($0)] })
        rank.counters.name.append(contentsOf: other.counters.name.lazy.map { map[Int($0)] })
        rank.counters.series.append(contentsOf: other.counters.series.lazy.map { map[Int($0)] })
        rank.counters.value += other.counters.value
        other.counters = CounterTable()
        rank.flows.ts += other.flows.ts
        rank.flows.track.append(contentsOf: other.flows.track.lazy.map { trackMap[Int($0)] })
        rank.flows.id.append(contentsOf: other.flows.id.lazy.map { map[Int($0)] })
        rank.flows.category.append(contentsOf: other.flows.category.lazy.map { map[Int($0)] })
        rank.flows.phase += other.flows.phase
        rank.flows.bindingPoint += other.flows.bindingPoint
        other.flows = FlowTable()

        for k in phaseCounts.indices { phaseCounts[k] += part.phaseCounts[k] }
        for (ph, n) in part.unknownPhases { unknownPhases[ph, default: 0] += n }
        for w in other.warnings.entries { rank.warnings.add(w.code, count: w.count, w.example) }
    }

    /// Events consumed so far (for progress reports: a sum over 256 counters, not a per-event cost).
    var eventsConsumed: Int { phaseCounts.reduce(0, +) }

    // MARK: - Finish

    /// Applies the time base, orders and nests slices per track, and links GPU activity to launches.
    func finish() throws(ImportError) {
        rank.eventCounts = [:]
        for (ph, n) in phaseCounts.enumerated() where n > 0 { rank.eventCounts[UInt8(ph)] = n }
        for (ph, n) in unknownPhases.sorted(by: { $0.key < $1.key }) {
            rank.warnings.add("unknown-phase", count: n, "phase '\(JSONText.terminalSafe(String(UnicodeScalar(ph))))' skipped")
        }
        let unclosed = openBegins.values.reduce(0) { $0 + $1.count } + openAsync.values.reduce(0) { $0 + $1.count }
        if unclosed > 0 { rank.warnings.add("unclosed-begin", count: unclosed, "B event never closed by an E") }
        try applyTimeBase()
        classifyTracks()
        let order = sortedOrder()
        rank.slices = slices.gather(order)
        nest()
        link(originalIndex: order)
    }

    /// Adds `baseTimeNanoseconds`; every resulting time must stay in `TimeRange`. (Times before
    /// the base were checked by the parser, and both terms are within 2^62, so sums cannot wrap.)
    private func applyTimeBase() throws(ImportError) {
        let base = rank.metadata.baseTimeNanoseconds
        guard base != 0 else { return }
        guard TimeRange.contains(base) else {
            throw ImportError(file: rank.source, message: "baseTimeNanoseconds \(base) is out of range")
        }
        /// `ts + base`, which (and whose end `dur` later) must stay in range.
        func shifted(_ ts: Int64, dur: Int64 = 0) throws(ImportError) -> Int64 {
            let t = ts + base
            guard TimeRange.contains(t), TimeRange.contains(t, plus: max(dur, 0)) else {
                throw ImportError(file: rank.source, message: "baseTimeNanoseconds + ts is out of range (more than 146 years from the epoch)")
            }
            return t
        }
        func shift(_ column: inout [Int64]) throws(ImportError) {
            for i in column.indices { column[i] = try shifted(column[i]) }
        }
        for i in 0..<slices.count { slices.start[i] = try shifted(slices.start[i], dur: slices.dur[i]) }
        try shift(&rank.instants.ts)
        try shift(&rank.memory.ts)
        try shift(&rank.counters.ts)
        try shift(&rank.flows.ts)
    }

    private func classifyTracks() {
        let n = rank.tracks.count
        var gpu = [Bool](repeating: false, count: n)
        var real = [Bool](repeating: false, count: n)
        var any = [Bool](repeating: false, count: n)
        for i in 0..<slices.count {
            let t = Int(slices.track[i])
            let k = slices.kind[i]
            any[t] = true
            if k.isGPU { gpu[t] = true }
            if k != .trace { real[t] = true }
        }
        for t in 0..<n where rank.tracks.kind[t] != .async {
            if gpu[t] { rank.tracks.kind[t] = .gpuStream } else if any[t] && !real[t] { rank.tracks.kind[t] = .spans }
        }
    }

    /// Slice indices grouped by track, each group ordered by start, then duration descending, then
    /// file order. Unclosed begins (dur -1) are left out.
    private func sortedOrder() -> [Int32] {
        let n = slices.count, start = slices.start, dur = slices.dur, track = slices.track
        var counts = [Int](repeating: 0, count: rank.tracks.count + 1)
        for i in 0..<n where dur[i] >= 0 { counts[Int(track[i]) + 1] += 1 }
        for t in 0..<rank.tracks.count { counts[t + 1] += counts[t] }
        var ranges: [Range<Int>] = (0..<rank.tracks.count).map { counts[$0]..<counts[$0 + 1] }
        var order = [Int32](repeating: 0, count: counts[rank.tracks.count])
        var next = counts
        for i in 0..<n where dur[i] >= 0 {
            let t = Int(track[i])
            order[next[t]] = Int32(i)
            next[t] += 1
        }
        @inline(__always) func before(_ a: Int32, _ b: Int32) -> Bool {
            let sa = start[Int(a)], sb = start[Int(b)]
            if sa != sb { return sa < sb }
            let da = dur[Int(a)], db = dur[Int(b)]
            if da != db { return da > db }
            return a < b
        }
        for t in 0..<ranges.count {
            let r = ranges[t]
            var sorted = true
            var k = r.lowerBound + 1
            while k < r.upperBound {
                if before(order[k], order[k - 1]) { sorted = false; break }
                k += 1
            }
            if !sorted { order[r].sort(by: before) }
        }
        ranges.removeAll()
        return order
    }

    private func nest() {
        let n = rank.slices.count
        var depth = [UInt16](repeating: 0, count: n)
        var parent = [Int32](repeating: -1, count: n)
        var nestEnd = [Int64](repeating: 0, count: n)
        var ranges = [Range<Int>](repeating: 0..<0, count: rank.tracks.count)
        var overlapping = 0
        var stack: [Int] = []
        var i = 0
        let start = rank.slices.start, dur = rank.slices.dur, track = rank.slices.track
        while i < n {
            let t = track[i]
            let first = i
            stack.removeAll(keepingCapacity: true)
            while i < n && track[i] == t {
                let s = start[i]
                let end = s + dur[i]
                while let top = stack.last, nestEnd[top] <= s { stack.removeLast() }
                // An open slice that does not contain the new one is cut where the new one begins.
                while let top = stack.last, nestEnd[top] < end {
                    nestEnd[top] = s
                    overlapping += 1
                    stack.removeLast()
                }
                if let top = stack.last {
                    parent[i] = Int32(top)
                    depth[i] = depth[top] &+ 1
                }
                nestEnd[i] = end
                stack.append(i)
                i += 1
            }
            ranges[Int(t)] = first..<i
        }
        if overlapping > 0 {
            rank.warnings.add("overlapping-slices", count: overlapping, "a slice outlives a slice that began inside it; the outer one is cut where the inner one begins")
        }
        rank.slices.depth = depth
        rank.slices.parent = parent
        rank.slices.nestEnd = nestEnd
        rank.tracks.sliceRange = ranges
    }

    private func link(originalIndex: [Int32]) {
        let s = rank.slices, trackKinds = rank.tracks.kind
        let n = s.count
        var steps = StepNames(rank.strings)
        var hasGPU = false
        // The launches (by correlation) and ops (by External id) GPU activity can link to.
        var launches: [Int32] = [], ops: [Int32] = []
        for i in 0..<n {
            let k = s.kind[i]
            if k.isGPUActivity { hasGPU = true; continue }
            guard trackKinds[Int(s.track[i])] == .cpuThread else { continue }
            if k.isLaunch, s.correlation[i] >= 0 { launches.append(Int32(i)) }
            if s.externalID[i] >= 0, k == .cpuOp || k.isLaunch || k == .userAnnotation, !steps.contains(s.name[i]) {
                ops.append(Int32(i))
            }
        }
        var byCorrelation = IDIndex(launches.lazy.map { s.correlation[Int($0)] })
        for i in launches { _ = byCorrelation.value(for: s.correlation[Int(i)], inserting: i) }
        var byExternalID = IDIndex(ops.lazy.map { s.externalID[Int($0)] })
        for i32 in ops {
            let i = Int(i32), ext = s.externalID[i]
            let o = Int(byExternalID.value(for: ext, inserting: i32))
            if o != i, (s.start[i], -s.dur[i], originalIndex[i]) < (s.start[o], -s.dur[o], originalIndex[o]) {
                byExternalID.set(ext, i32)
            }
        }
        var launcher = [Int32](repeating: -1, count: n)
        guard hasGPU else { rank.slices.launcher = launcher; return }
        var unlinked = 0
        for i in 0..<n where s.kind[i].isGPUActivity {
            if let l = byCorrelation[s.correlation[i]] {
                launcher[i] = l
            } else if let l = byExternalID[s.externalID[i]] {
                launcher[i] = l
            } else {
                unlinked += 1
            }
        }
        if unlinked > 0 {
            rank.warnings.add("unlinked-gpu-activity", count: unlinked, "GPU activity with no launching call in the trace")
        }
        rank.slices.launcher = launcher
    }
}

/// Slice indices by a non-negative id (a correlation or External id): a flat array over the ids'
/// range when they are dense, as Kineto numbers them, else an `IntMap`.
struct IDIndex {
    private var low: Int64 = 0
    private var table: [Int32] = []  // index by id - low; -1: none
    private var map: IntMap?

    /// An empty index sized for `ids` (not negative).
    init(_ ids: some Sequence<Int64>) {
        var low = Int64.max, high = Int64.min, count = 0
        for id in ids {
            low = min(low, id)
            high = max(high, id)
            count += 1
        }
        guard count > 0 else { return }
        if high - low < 4 * Int64(count) + 4096 {
            self.low = low
            table = [Int32](repeating: -1, count: Int(high - low) + 1)
        } else {
            map = IntMap(capacity: count)
        }
    }

    /// The index of `id`, if present (nil for negative ids).
    subscript(id: Int64) -> Int32? {
        if let map { return id >= 0 ? map[UInt64(id)] : nil }
        let k = id &- low
        guard k >= 0, k < table.count, table[Int(k)] >= 0 else { return nil }
        return table[Int(k)]
    }

    /// The index of `id` (one of the ids given at creation); when absent, `value` is added first.
    mutating func value(for id: Int64, inserting value: Int32) -> Int32 {
        if map != nil { return map!.value(for: UInt64(id), inserting: value) }
        let k = Int(id - low)
        if table[k] < 0 { table[k] = value }
        return table[k]
    }

    /// Sets the index of `id` (one of the ids given at creation).
    mutating func set(_ id: Int64, _ value: Int32) {
        if map != nil { map!.set(UInt64(id), value) } else { table[Int(id - low)] = value }
    }
}
