import TraceModel

/// Kineto's Chrome-trace semantics: turns the parser's raw events and top-level members into
/// `TimelineBuilder` calls (phases, tracks by pid/tid, `[memory]` events, counters, thread and
/// process metadata, `distributedInfo`, `deviceProperties`), and decides which parts of an event a
/// lean load skips unread.
final class KinetoDecoder: ChromeTraceDecoder {
    let builder: TimelineBuilder
    let keys: WellKnownKeys
    /// Which args a lean load keeps (nil: all).
    private(set) var argFilter: ArgFilter?
    private var rank: RankTrace { builder.rank }
    private var kindByCategory: [Int8] = []
    private var unknownPhases: [UInt8: Int] = [:]
    private var phaseCounts = [Int](repeating: 0, count: 256)
    /// For the second part of a split file: top-level members, replayed in the first part.
    private var topLevelSeen: [(String, [UInt8])] = []

    /// `argKeys` (when given) are the args a lean load keeps besides those read here.
    init(builder: TimelineBuilder, argKeys: Set<String>? = nil) {
        self.builder = builder
        keys = WellKnownKeys(builder.rank.strings)
        argFilter = argKeys.map { ArgFilter(keep: $0.union(WellKnownKeys.memoryArgs)) }
    }

    // MARK: - Skip rules of lean loads

    /// Whether a lean load reads nothing of an event after its phase: flow events (no analysis
    /// reads flows; device activity is linked by correlation and External id).
    @inline(__always)
    func skipsAfterPhase(_ ph: UInt8) -> Bool {
        argFilter != nil && (ph == 0x73 || ph == 0x74 || ph == 0x66)
    }

    /// Whether a lean load skips an event's args unread: `python_function` events (Kineto writes
    /// no correlation or External id there, and no lean consumer reads their args).
    @inline(__always)
    func skipsArgs(category: UInt32) -> Bool {
        argFilter != nil && category == keys.pythonFunction
    }

    /// Whether a lean load filters the args of an event with phase `ph` (`keepsInLeanLoad`): every
    /// phase but counters and metadata (whose args are their data), and events whose `ph` comes
    /// after their args (phase 0 while they are read).
    @inline(__always)
    func filtersArgs(ofPhase ph: UInt8) -> Bool {
        argFilter != nil && ph != 0x43 && ph != 0x4D && ph != 0
    }

    /// Whether a lean load keeps arg `key` of an event whose args it filters.
    @inline(__always)
    func keepsInLeanLoad(_ key: UInt32) -> Bool { argFilter!.keeps(key, rank.strings) }

    /// Whether arg `key` (one of the well-known keys) is the profiler's own bookkeeping, dropped
    /// by every load.
    @inline(__always)
    func isBookkeeping(_ key: UInt32) -> Bool { key == keys.evIdx || key == keys.recordFunctionID }

    // MARK: - Top level

    /// A top-level member other than `traceEvents`, with its raw JSON text.
    func topLevel(_ name: String, _ text: [UInt8]) throws {
        if builder.isContinuation { topLevelSeen.append((name, text)) }
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
        case "otherData":
            // A recording's notes on what it could not resolve (`stepscope record`: steps the sampling
            // rate could not separate) are the trace's own warnings.
            let other = try JSONValue.parse(text)
            for note in other["warnings"]?.array ?? [] {
                if let s = note.string { rank.warnings.add("recording", JSONText.terminalSafe(s)) }
            }
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
    private func kind(ofCategory cat: UInt32) -> SliceKind {
        let c = Int(cat)
        if c < kindByCategory.count, kindByCategory[c] >= 0 { return SliceKind(rawValue: UInt8(kindByCategory[c]))! }
        if c >= kindByCategory.count { kindByCategory.append(contentsOf: repeatElement(-1, count: c + 64 - kindByCategory.count)) }
        let k = SliceKind(category: rank.strings[cat])
        kindByCategory[c] = Int8(k.rawValue)
        return k
    }

    /// Counts an event a lean load skipped unread.
    func countSkipped(_ ph: UInt8) { phaseCounts[Int(ph)] += 1 }

    /// Turns one parsed event (its args appended to the builder from `e.argStart`) into rows.
    @inline(__always)
    func consume(_ e: inout RawEvent) {
        phaseCounts[Int(e.ph)] += 1
        switch e.ph {
        case 0x58:  // X
            guard timestamped(e) else { return }
            if e.dur < 0 {
                rank.warnings.add("negative-duration", "\(describe(e)) has dur \(e.dur) ns")
                builder.discardArgs(from: e.argStart)
                return
            }
            var k = kind(ofCategory: e.cat)
            if k == .kernel && e.name == keys.dmaRequest { k = .memcpy }  // MTIA's DMA transfers
            builder.appendSlice(start: e.ts, dur: e.hasDur ? e.dur : 0, name: e.name, category: e.cat, kind: k,
                                track: builder.thread(pid: e.pid, tid: e.tid), correlation: e.correlation,
                                externalID: e.externalID, argStart: e.argStart)
        case 0x42:  // B
            guard timestamped(e) else { return }
            builder.begin(start: e.ts, name: e.name, category: e.cat, kind: kind(ofCategory: e.cat),
                          track: builder.thread(pid: e.pid, tid: e.tid), correlation: e.correlation,
                          externalID: e.externalID, argStart: e.argStart)
        case 0x45:  // E
            builder.discardArgs(from: e.argStart)
            guard timestamped(e) else { return }
            if !builder.end(track: builder.thread(pid: e.pid, tid: e.tid), at: e.ts) {
                rank.warnings.add("unmatched-end", "E event at byte \(e.offset) closes nothing")
            }
        case 0x69, 0x49:  // i, I
            guard timestamped(e) else { return }
            if e.name == keys.memory { memoryEvent(e) } else {
                builder.appendInstant(ts: e.ts, track: builder.thread(pid: e.pid, tid: e.tid), name: e.name,
                                      scope: e.scope == 0 ? 0x74 : e.scope, argStart: e.argStart)
            }
        case 0x43:  // C
            guard timestamped(e) else { return }
            counterEvent(e)
        case 0x4D:  // M
            metadataEvent(e)
        case 0x73, 0x74, 0x66:  // s, t, f: counted only
            builder.discardArgs(from: e.argStart)
            _ = timestamped(e)
        case 0x62:  // b
            guard timestamped(e) else { return }
            builder.beginAsync(TimelineBuilder.AsyncKey(pid: e.pid, cat: e.cat, id: e.id), start: e.ts, name: e.name,
                               track: asyncTrack(pid: e.pid, cat: e.cat), kind: kind(ofCategory: e.cat),
                               correlation: e.correlation, externalID: e.externalID, argStart: e.argStart)
        case 0x65:  // e
            builder.discardArgs(from: e.argStart)
            guard timestamped(e) else { return }
            if !builder.endAsync(TimelineBuilder.AsyncKey(pid: e.pid, cat: e.cat, id: e.id), at: e.ts) {
                rank.warnings.add("unmatched-end", "async end at byte \(e.offset) closes nothing")
            }
        case 0x6E:  // n: an async instant
            guard timestamped(e) else { return }
            builder.appendInstant(ts: e.ts, track: asyncTrack(pid: e.pid, cat: e.cat), name: e.name, scope: 0x74, argStart: e.argStart)
        default:
            builder.discardArgs(from: e.argStart)
            unknownPhases[e.ph, default: 0] += 1
        }
    }

    @inline(__always)
    private func timestamped(_ e: RawEvent) -> Bool {
        if e.hasTs { return true }
        rank.warnings.add("missing-timestamp", "\(describe(e)) has no ts")
        builder.discardArgs(from: e.argStart)
        return false
    }

    private func describe(_ e: RawEvent) -> String {
        "event '\(JSONText.terminalSafe(rank.strings[e.name]))' at byte \(e.offset)"
    }

    /// Kineto draws async events of one category in one lane per process.
    private func asyncTrack(pid: UInt32, cat: UInt32) -> UInt32 {
        builder.asyncTrack(pid: pid, lane: rank.strings.intern("async " + rank.strings[cat]))
    }

    private func memoryEvent(_ e: RawEvent) {
        let a = e.argStart
        builder.appendMemory(ts: e.ts, track: builder.thread(pid: e.pid, tid: e.tid),
                             bytes: builder.argInteger(from: a, keys.bytes) ?? 0,
                             totalAllocated: builder.argInteger(from: a, keys.totalAllocated) ?? -1,
                             totalReserved: builder.argInteger(from: a, keys.totalReserved) ?? -1,
                             addr: builder.argInteger(from: a, keys.addr) ?? 0,
                             deviceType: Int8(clamping: builder.argInteger(from: a, keys.deviceType) ?? 0),
                             deviceID: Int16(clamping: builder.argInteger(from: a, keys.deviceID) ?? -1))
        builder.discardArgs(from: a)
    }

    private func counterEvent(_ e: RawEvent) {
        for a in e.argStart..<builder.argMark {
            let v = builder.args.value[a]
            let value: Double? = v.isInteger ? Double(v.integer) : Double(rank.argString(v))
            guard let value else { continue }
            builder.appendCounter(ts: e.ts, pid: e.pid, name: e.name, series: builder.args.key[a], value: value)
        }
        builder.discardArgs(from: e.argStart)
    }

    private func metadataEvent(_ e: RawEvent) {
        defer { builder.discardArgs(from: e.argStart) }
        func text(_ key: UInt32) -> UInt32? {
            guard let v = builder.argValue(from: e.argStart, key) else { return nil }
            return rank.strings.intern(rank.argString(v))
        }
        switch e.name {
        case keys.threadName:
            guard let name = text(keys.name) else { return }
            builder.nameTrack(Int(builder.thread(pid: e.pid, tid: e.tid)), name)
        case keys.threadSortIndex:
            if let v = builder.argInteger(from: e.argStart, keys.sortIndex) {
                rank.tracks.sortIndex[Int(builder.thread(pid: e.pid, tid: e.tid))] = v
            }
        case keys.processName, keys.processLabels, keys.processSortIndex:
            let p = builder.process(e.pid)
            if e.name == keys.processName, let n = text(keys.name) {
                builder.nameProcess(p, n)
            } else if e.name == keys.processLabels, let l = text(keys.labels) {
                rank.processes[p].labels = l
            } else if e.name == keys.processSortIndex, let v = builder.argInteger(from: e.argStart, keys.sortIndex) {
                rank.processes[p].sortIndex = v
            }
        default:
            break
        }
    }

    // MARK: - Split files and the end

    /// Appends what `part` (the continuation of this file, parsed on another core) read.
    func absorb(_ part: KinetoDecoder) throws {
        for (name, text) in part.topLevelSeen { try topLevel(name, text) }
        builder.absorb(part.builder)
        for k in phaseCounts.indices { phaseCounts[k] += part.phaseCounts[k] }
        for (ph, n) in part.unknownPhases { unknownPhases[ph, default: 0] += n }
    }

    /// Events consumed so far (for progress reports: a sum over 256 counters, not a per-event cost).
    var eventsConsumed: Int { phaseCounts.reduce(0, +) }

    /// Records the event counts and skipped phases, then lets the builder finish the model.
    func finish() throws(ImportError) {
        rank.eventCounts = [:]
        for (ph, n) in phaseCounts.enumerated() where n > 0 { rank.eventCounts[UInt8(ph)] = n }
        for (ph, n) in unknownPhases.sorted(by: { $0.key < $1.key }) {
            rank.warnings.add("unknown-phase", count: n, "phase '\(JSONText.terminalSafe(String(UnicodeScalar(ph))))' skipped")
        }
        try builder.finish()
    }
}
