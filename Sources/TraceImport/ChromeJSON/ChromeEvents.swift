import TraceModel

/// What every Chrome-trace dialect does alike with its events: counts them per phase, keeps the
/// lean-load arg filter, maps categories to slice kinds, and writes begin/end pairs, instants,
/// counters and thread/process metadata into the builder. A decoder (`KinetoDecoder`,
/// `NPUTraceDecoder`) keeps one and adds its own dialect's rules.
final class ChromeEvents {
    let builder: TimelineBuilder
    let keys: WellKnownKeys
    /// Which args a lean load keeps (nil: all).
    private(set) var argFilter: ArgFilter?
    private var rank: RankTrace { builder.rank }
    private var kindByCategory: [Int8] = []
    private var phaseCounts = [Int](repeating: 0, count: 256)
    private var unknownPhases: [UInt8: Int] = [:]

    /// `argKeys` (when given) are the args a lean load keeps, besides `readArgs` (those the
    /// dialect's decoder reads itself).
    init(builder: TimelineBuilder, argKeys: Set<String>?, readArgs: some Sequence<String>) {
        self.builder = builder
        keys = WellKnownKeys(builder.rank.strings)
        argFilter = argKeys.map { ArgFilter(keep: $0.union(readArgs)) }
    }

    // MARK: - Counting

    /// Counts one event of phase `ph` (read or skipped unread).
    @inline(__always) func count(_ ph: UInt8) { phaseCounts[Int(ph)] += 1 }

    /// Counts an event of a phase no rule reads; it is skipped.
    func unknown(_ e: RawEvent) {
        builder.discardArgs(from: e.argStart)
        unknownPhases[e.ph, default: 0] += 1
    }

    /// Events counted so far (for progress reports: a sum over 256 counters, not a per-event cost).
    var eventsConsumed: Int { phaseCounts.reduce(0, +) }

    /// Adds the counts of `other` (the second half of a split file).
    func absorb(_ other: ChromeEvents) {
        for k in phaseCounts.indices { phaseCounts[k] += other.phaseCounts[k] }
        for (ph, n) in other.unknownPhases { unknownPhases[ph, default: 0] += n }
    }

    /// Writes the event counts to the rank, and a warning per phase that was skipped.
    func recordCounts() {
        rank.eventCounts = [:]
        for (ph, n) in phaseCounts.enumerated() where n > 0 { rank.eventCounts[UInt8(ph)] = n }
        for (ph, n) in unknownPhases.sorted(by: { $0.key < $1.key }) {
            rank.warnings.add("unknown-phase", count: n, "phase '\(JSONText.terminalSafe(String(UnicodeScalar(ph))))' skipped")
        }
    }

    // MARK: - Lean loads

    /// Whether a lean load filters the args of an event with phase `ph` (`keepsInLeanLoad`): every
    /// phase but counters and metadata (whose args are their data), and events whose `ph` comes
    /// after their args (phase 0 while they are read).
    @inline(__always)
    func filtersArgs(ofPhase ph: UInt8) -> Bool { argFilter != nil && ph != 0x43 && ph != 0x4D && ph != 0 }

    /// Whether a lean load keeps arg `key` of an event whose args it filters.
    @inline(__always)
    func keepsInLeanLoad(_ key: UInt32) -> Bool { argFilter!.keeps(key, rank.strings) }

    /// Whether arg `key` (one of the well-known keys) is the profiler's own bookkeeping, dropped
    /// by every load.
    @inline(__always)
    func isBookkeeping(_ key: UInt32) -> Bool { key == keys.evIdx || key == keys.recordFunctionID }

    /// Whether a lean load skips an event's args unread: `python_function` events (no correlation
    /// or External id there, and no lean consumer reads their args).
    @inline(__always)
    func skipsArgs(category: UInt32) -> Bool { argFilter != nil && category == keys.pythonFunction }

    // MARK: - Rows

    /// The slice kind of a category (cached per category id).
    @inline(__always)
    func kind(ofCategory cat: UInt32) -> SliceKind {
        let c = Int(cat)
        if c < kindByCategory.count, kindByCategory[c] >= 0 { return SliceKind(rawValue: UInt8(kindByCategory[c]))! }
        if c >= kindByCategory.count { kindByCategory.append(contentsOf: repeatElement(-1, count: c + 64 - kindByCategory.count)) }
        let k = SliceKind(category: rank.strings[cat])
        kindByCategory[c] = Int8(k.rawValue)
        return k
    }

    /// True when the event has a `ts`; else counts a warning and drops its args.
    @inline(__always)
    func timestamped(_ e: RawEvent) -> Bool {
        if e.hasTs { return true }
        rank.warnings.add("missing-timestamp", "\(describe(e)) has no ts")
        builder.discardArgs(from: e.argStart)
        return false
    }

    /// The event's name and byte offset, terminal-safe, for warnings.
    func describe(_ e: RawEvent) -> String {
        "event '\(JSONText.terminalSafe(rank.strings[e.name]))' at byte \(e.offset)"
    }

    /// A `B` event: opens a slice on its thread.
    func begin(_ e: RawEvent) {
        guard timestamped(e) else { return }
        builder.begin(start: e.ts, name: e.name, category: e.cat, kind: kind(ofCategory: e.cat),
                      track: builder.thread(pid: e.pid, tid: e.tid), correlation: e.correlation,
                      externalID: e.externalID, argStart: e.argStart)
    }

    /// An `E` event: closes its thread's innermost open slice.
    func end(_ e: RawEvent) {
        builder.discardArgs(from: e.argStart)
        guard timestamped(e) else { return }
        builder.end(track: builder.thread(pid: e.pid, tid: e.tid), at: e.ts, offset: e.offset)
    }

    /// An instant on its thread (scope `t` unless written).
    func instant(_ e: RawEvent) {
        builder.appendInstant(ts: e.ts, track: builder.thread(pid: e.pid, tid: e.tid), name: e.name,
                              scope: e.scope == 0 ? 0x74 : e.scope, argStart: e.argStart)
    }

    /// A `C` event: one counter sample per numeric arg (numeric strings too).
    func counter(_ e: RawEvent) {
        guard timestamped(e) else { return }
        for a in e.argStart..<builder.argMark {
            let v = builder.args.value[a]
            guard let value = v.isInteger ? Double(v.integer) : Double(rank.argString(v)) else { continue }
            builder.appendCounter(ts: e.ts, pid: e.pid, name: e.name, series: builder.args.key[a], value: value)
        }
        builder.discardArgs(from: e.argStart)
    }

    /// An `M` event: thread and process names, labels and sort indexes.
    func metadata(_ e: RawEvent) {
        defer { builder.discardArgs(from: e.argStart) }
        func text(_ key: UInt32) -> UInt32? {
            builder.argValue(from: e.argStart, key).map { rank.strings.intern(rank.argString($0)) }
        }
        switch e.name {
        case keys.threadName:
            if let name = text(keys.name) { builder.nameTrack(Int(builder.thread(pid: e.pid, tid: e.tid)), name) }
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
}
