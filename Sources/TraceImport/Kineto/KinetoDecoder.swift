import TraceModel

/// Kineto's Chrome-trace semantics: turns the parser's raw events and top-level members into
/// `TimelineBuilder` calls (phases, tracks by pid/tid, `[memory]` events, counters, thread and
/// process metadata, `distributedInfo`, `deviceProperties`), and decides which parts of an event a
/// lean load skips unread.
final class KinetoDecoder: SplittableDecoder {
    let events: ChromeEvents
    private var rank: RankTrace { builder.rank }
    /// For the second part of a split file: top-level members, replayed in the first part.
    private var topLevelSeen: [(String, [UInt8])] = []

    /// `argKeys` (when given) are the args a lean load keeps besides those read here.
    init(builder: TimelineBuilder, argKeys: Set<String>? = nil) {
        events = ChromeEvents(builder: builder, argKeys: argKeys, readArgs: WellKnownKeys.memoryArgs)
    }

    // MARK: - Skip rules of lean loads

    /// Whether a lean load reads nothing of an event after its phase: flow events (no analysis
    /// reads flows; device activity is linked by correlation and External id).
    @inline(__always)
    func skipsAfterPhase(_ ph: UInt8) -> Bool {
        events.argFilter != nil && (ph == 0x73 || ph == 0x74 || ph == 0x66)
    }

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

    /// Turns one parsed event (its args appended to the builder from `e.argStart`) into rows.
    @inline(__always)
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
            var k = kind(ofCategory: e.cat)
            if k == .kernel && e.name == keys.dmaRequest { k = .memcpy }  // MTIA's DMA transfers
            builder.appendSlice(start: e.ts, dur: e.hasDur ? e.dur : 0, name: e.name, category: e.cat, kind: k,
                                track: builder.thread(pid: e.pid, tid: e.tid), correlation: e.correlation,
                                externalID: e.externalID, argStart: e.argStart)
        case 0x42:  // B
            events.begin(e)
        case 0x45:  // E
            events.end(e)
        case 0x69, 0x49:  // i, I
            guard timestamped(e) else { return }
            if e.name == keys.memory { memoryEvent(e) } else { events.instant(e) }
        case 0x43:  // C
            events.counter(e)
        case 0x4D:  // M
            events.metadata(e)
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
            builder.endAsync(TimelineBuilder.AsyncKey(pid: e.pid, cat: e.cat, id: e.id), at: e.ts, offset: e.offset)
        case 0x6E:  // n: an async instant
            guard timestamped(e) else { return }
            builder.appendInstant(ts: e.ts, track: asyncTrack(pid: e.pid, cat: e.cat), name: e.name, scope: 0x74, argStart: e.argStart)
        default:
            events.unknown(e)
        }
    }

    @inline(__always) private func timestamped(_ e: RawEvent) -> Bool { events.timestamped(e) }
    @inline(__always) private func kind(ofCategory cat: UInt32) -> SliceKind { events.kind(ofCategory: cat) }
    private func describe(_ e: RawEvent) -> String { events.describe(e) }

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

    // MARK: - Split files and the end

    /// Appends what `part` (the continuation of this file, parsed on another core) read.
    func absorb(_ part: KinetoDecoder) throws {
        for (name, text) in part.topLevelSeen { try topLevel(name, text) }
        builder.absorb(part.builder)
        events.absorb(part.events)
    }

    /// Records the event counts and skipped phases, then lets the builder finish the model.
    func finish() throws(ImportError) {
        events.recordCounts()
        try builder.finish()
    }
}
