import TraceModel

/// The format-neutral half of every import: the rows of one rank (tracks, slices, args, instants,
/// memory, counters), open begins and their ends, the time base, and at the end sorting, nesting
/// and linking device activity to its launch (`finish`) or merging the second half of a split
/// parse (`absorb`). A decoder (`KinetoDecoder` for Chrome-trace JSON) turns its format into calls
/// here; nothing in this file knows a format.
final class TimelineBuilder {
    let rank: RankTrace
    private var trackIndex: [UInt64: UInt32] = [:]
    private var lastTrackKey: UInt64 = .max
    private var lastTrack: UInt32 = 0
    private var asyncTracks: [UInt64: UInt32] = [:]
    /// Open begins per thread track.
    private var openBegins: [UInt32: [Int]] = [:]
    /// Open async begins per (pid, category, id).
    private var openAsync: [AsyncKey: [Int]] = [:]
    struct AsyncKey: Hashable { let pid: UInt32, cat: UInt32, id: UInt32 }

    /// For the second part of a split file: ends that find nothing open are kept for the first
    /// part's open begins (see `absorb`).
    var isContinuation = false
    private var pendingEnds: [(track: UInt32, ts: Int64, offset: Int64)] = []
    private var pendingAsyncEnds: [(key: AsyncKey, ts: Int64, offset: Int64)] = []

    /// Slices read so far; `finish` gathers them into `rank.slices` in track order.
    let slices: SliceStaging
    /// Args read so far. An event's args are appended from `argMark`, then kept by the rows that
    /// point at them or dropped with `discardArgs`; `finish` hands the table to the model.
    var args = ArgStaging()
    /// Flows that link device activity to its launch (`linkByFlow`), resolved by `finish`.
    var flowLinks: [FlowLink] = []

    /// `expectedBytes` (the input size, when known) sizes the tables up front, so they are not
    /// copied while growing.
    init(rank: RankTrace, expectedBytes: Int64 = 0) {
        self.rank = rank
        slices = SliceStaging(capacity: Int(expectedBytes / 400))
        if expectedBytes > 0 {
            args.key.reserveCapacity(Int(expectedBytes / 180))
            args.value.reserveCapacity(Int(expectedBytes / 180))
        }
    }

    // MARK: - Tracks

    /// The thread track of (pid, tid), created on first use.
    @inline(__always)
    func thread(pid: UInt32, tid: UInt32) -> UInt32 {
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

    /// The async lane of (pid, lane name), created on first use.
    func asyncTrack(pid: UInt32, lane: UInt32) -> UInt32 {
        let key = UInt64(pid) << 32 | UInt64(lane)
        if let t = asyncTracks[key] { return t }
        let t = newTrack(pid: pid, tid: lane, kind: .async)
        asyncTracks[key] = t
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

    /// Names track `t`; a second, different name is counted as conflicting metadata.
    func nameTrack(_ t: Int, _ name: UInt32) {
        let old = rank.tracks.name[t]
        if old != 0 && old != name {
            rank.warnings.add("conflicting-metadata",
                              "thread \(rank.strings[rank.tracks.tid[t]]) named '\(JSONText.terminalSafe(rank.strings[old]))' then '\(JSONText.terminalSafe(rank.strings[name]))'")
        }
        rank.tracks.name[t] = name
    }

    /// The process entry of `pid`, created on first use.
    func process(_ pid: UInt32) -> Int {
        if let found = rank.processes.firstIndex(where: { $0.pid == pid }) { return found }
        rank.processes.append(ProcessInfo(pid: pid))
        return rank.processes.count - 1
    }

    /// Names process `p`; a second, different name is counted as conflicting metadata.
    func nameProcess(_ p: Int, _ name: UInt32) {
        let old = rank.processes[p].name
        if old != 0 && old != name {
            rank.warnings.add("conflicting-metadata", "process \(JSONText.terminalSafe(rank.strings[rank.processes[p].pid])) named twice")
        }
        rank.processes[p].name = name
    }

    // MARK: - Args

    /// Where the next event's args begin.
    @inline(__always) var argMark: Int { args.count }

    /// Appends one arg of the event being read.
    @inline(__always)
    func appendArg(key: UInt32, value: ArgValue) {
        args.key.append(key)
        args.value.append(value)
    }

    /// Drops the args appended since `mark` (an event that keeps none, or one that failed to parse).
    @inline(__always)
    func discardArgs(from mark: Int) {
        let n = args.count - mark
        if n > 0 {
            args.key.removeLast(n)
            args.value.removeLast(n)
        }
    }

    /// The value of arg `key` among those appended since `mark`.
    func argValue(from mark: Int, _ key: UInt32) -> ArgValue? {
        for a in mark..<args.count where args.key[a] == key { return args.value[a] }
        return nil
    }

    /// The integer value of arg `key` among those appended since `mark` (numeric strings too).
    func argInteger(from mark: Int, _ key: UInt32) -> Int64? {
        argValue(from: mark, key).flatMap { rank.argInteger($0) }
    }

    // MARK: - Rows

    /// Appends a complete slice whose args are those appended since `argStart`.
    @inline(__always)
    func appendSlice(start: Int64, dur: Int64, name: UInt32, category: UInt32, kind: SliceKind, track: UInt32,
                     correlation: Int64, externalID: Int64, argStart: Int) {
        slices.append(start: start, dur: dur, name: name, category: category, kind: kind, track: track,
                      correlation: correlation, externalID: externalID, argStart: UInt32(argStart),
                      argCount: UInt16(clamping: args.count - argStart))
    }

    /// Opens a slice on thread track `track`, to be closed by `end(track:at:)`.
    @inline(__always)
    func begin(start: Int64, name: UInt32, category: UInt32, kind: SliceKind, track: UInt32,
               correlation: Int64, externalID: Int64, argStart: Int) {
        openBegins[track, default: []].append(slices.count)
        appendSlice(start: start, dur: -1, name: name, category: category, kind: kind, track: track,
                    correlation: correlation, externalID: externalID, argStart: argStart)
    }

    /// Closes the innermost open slice of `track` at `ts`; when nothing is open, warns with the
    /// end's input byte `offset` (a continuation keeps such ends for the first part's begins).
    func end(track: UInt32, at ts: Int64, offset: Int64) {
        guard let open = openBegins[track]?.popLast() else {
            if isContinuation { pendingEnds.append((track, ts, offset)) } else { unmatchedEnd(async: false, offset) }
            return
        }
        slices.close(open, at: ts)
    }

    /// Opens an async slice of (pid, category, id) on `track`.
    func beginAsync(_ key: AsyncKey, start: Int64, name: UInt32, track: UInt32, kind: SliceKind,
                    correlation: Int64, externalID: Int64, argStart: Int) {
        openAsync[key, default: []].append(slices.count)
        appendSlice(start: start, dur: -1, name: name, category: key.cat, kind: kind, track: track,
                    correlation: correlation, externalID: externalID, argStart: argStart)
    }

    /// Closes the latest open async slice of `key`; when nothing is open, warns as `end` does.
    func endAsync(_ key: AsyncKey, at ts: Int64, offset: Int64) {
        guard let open = openAsync[key]?.popLast() else {
            if isContinuation { pendingAsyncEnds.append((key, ts, offset)) } else { unmatchedEnd(async: true, offset) }
            return
        }
        slices.close(open, at: ts)
    }

    /// The warning for an end at input byte `offset` that closes nothing.
    private func unmatchedEnd(async: Bool, _ offset: Int64) {
        rank.warnings.add("unmatched-end", "\(async ? "async end" : "E event") at byte \(offset) closes nothing")
    }

    /// Appends an instant whose args are those appended since `argStart`.
    func appendInstant(ts: Int64, track: UInt32, name: UInt32, scope: UInt8, argStart: Int) {
        rank.instants.ts.append(ts)
        rank.instants.track.append(track)
        rank.instants.name.append(name)
        rank.instants.scope.append(scope)
        rank.instants.argStart.append(UInt32(argStart))
        rank.instants.argCount.append(UInt16(clamping: args.count - argStart))
    }

    /// Appends one allocation (bytes > 0) or free (bytes < 0).
    func appendMemory(ts: Int64, track: UInt32, bytes: Int64, totalAllocated: Int64, totalReserved: Int64,
                      addr: Int64, deviceType: Int8, deviceID: Int16) {
        rank.memory.ts.append(ts)
        rank.memory.track.append(track)
        rank.memory.bytes.append(bytes)
        rank.memory.totalAllocated.append(totalAllocated)
        rank.memory.totalReserved.append(totalReserved)
        rank.memory.addr.append(addr)
        rank.memory.deviceType.append(deviceType)
        rank.memory.deviceID.append(deviceID)
    }

    /// Appends one allocation made by operator `name` (`released`: `OperatorAllocationTable.notReleased` when never).
    func appendOperatorAllocation(name: UInt32, bytes: Int64, allocated: Int64, released: Int64, deviceType: Int8, deviceID: Int16) {
        rank.operatorAllocations.name.append(name)
        rank.operatorAllocations.bytes.append(bytes)
        rank.operatorAllocations.allocated.append(allocated)
        rank.operatorAllocations.released.append(released)
        rank.operatorAllocations.deviceType.append(deviceType)
        rank.operatorAllocations.deviceID.append(deviceID)
    }

    /// Appends one counter sample.
    func appendCounter(ts: Int64, pid: UInt32, name: UInt32, series: UInt32, value: Double) {
        rank.counters.ts.append(ts)
        rank.counters.pid.append(pid)
        rank.counters.name.append(name)
        rank.counters.series.append(series)
        rank.counters.value.append(value)
    }

    // MARK: - Merging a split file

    /// Appends the rows `part` (the continuation of this input, read on another core) built, as
    /// if this builder had read them: strings and tracks remapped, its ends matched against the
    /// begins open here. Returns the remapping and where `part`'s slices begin here, for the
    /// decoder's own rows.
    @discardableResult
    func absorb(_ part: TimelineBuilder) -> (remap: RowRemap, sliceBase: Int) {
        let other = part.rank
        var strings = [UInt32](repeating: 0, count: other.strings.count)
        for id in 1..<other.strings.count {
            strings[id] = other.strings.withBytes(UInt32(id)) { rank.strings.intern(UnsafeRawPointer($0.baseAddress!), $0.count) }
        }
        var tracks = [UInt32](repeating: 0, count: other.tracks.count)
        for t in 0..<other.tracks.count {
            let pid = strings[Int(other.tracks.pid[t])], tid = strings[Int(other.tracks.tid[t])]
            let mine = other.tracks.kind[t] == .async ? asyncTrack(pid: pid, lane: tid) : thread(pid: pid, tid: tid)
            tracks[t] = mine
            if other.tracks.name[t] != 0 { nameTrack(Int(mine), strings[Int(other.tracks.name[t])]) }
            if other.tracks.sortIndex[t] != 0 { rank.tracks.sortIndex[Int(mine)] = other.tracks.sortIndex[t] }
        }
        for proc in other.processes {
            let p = process(strings[Int(proc.pid)])
            if proc.name != 0 { nameProcess(p, strings[Int(proc.name)]) }
            if proc.labels != 0 { rank.processes[p].labels = strings[Int(proc.labels)] }
            if proc.sortIndex != 0 { rank.processes[p].sortIndex = proc.sortIndex }
        }
        // Each table moves over and is released at once, so the second half's copy and ours never
        // coexist whole.
        let remap = RowRemap(strings: strings, tracks: tracks, argBase: UInt32(args.count))
        args.append(contentsOf: &part.args, remap: remap)
        let sliceBase = slices.count
        slices.append(part.slices, remap: remap)

        for end in part.pendingEnds {
            let t = tracks[Int(end.track)]
            if let open = openBegins[t]?.popLast() {
                slices.close(open, at: end.ts)
            } else {
                unmatchedEnd(async: false, end.offset)
            }
        }
        for (t, opens) in part.openBegins { openBegins[tracks[Int(t)], default: []] += opens.map { $0 + sliceBase } }
        func remapKey(_ k: AsyncKey) -> AsyncKey { AsyncKey(pid: strings[Int(k.pid)], cat: strings[Int(k.cat)], id: strings[Int(k.id)]) }
        for end in part.pendingAsyncEnds {
            if let open = openAsync[remapKey(end.key)]?.popLast() {
                slices.close(open, at: end.ts)
            } else {
                unmatchedEnd(async: true, end.offset)
            }
        }
        for (k, opens) in part.openAsync { openAsync[remapKey(k), default: []] += opens.map { $0 + sliceBase } }

        rank.instants.append(contentsOf: &other.instants, remap: remap)
        rank.memory.append(contentsOf: &other.memory, remap: remap)
        rank.counters.append(contentsOf: &other.counters, remap: remap)
        for w in other.warnings.entries { rank.warnings.add(w.code, count: w.count, w.example) }
        return (remap, sliceBase)
    }

    // MARK: - Finish

    /// Applies the time base, orders and nests slices per track, and links device activity to
    /// its launches.
    func finish() throws(ImportError) {
        let unclosed = openBegins.values.reduce(0) { $0 + $1.count } + openAsync.values.reduce(0) { $0 + $1.count }
        if unclosed > 0 { rank.warnings.add("unclosed-begin", count: unclosed, "B event never closed by an E") }
        try applyTimeBase()
        classifyTracks()
        let order = sortedOrder()
        rank.slices = slices.gather(order)
        rank.args = ArgTable(keys: args.key, values: args.value)
        args = ArgStaging()
        nest()
        link(originalIndex: order)
        if rank.metadata.deviceKind == nil, rank.tracks.kind.contains(.gpuStream) {
            rank.metadata.deviceKind = DeviceKind(detectingIn: rank)
        }
    }

    /// Adds `rank.metadata.baseTimeNanoseconds`; every resulting time must stay in `TimeRange`.
    /// (Times before the base were checked by the decoder, and both terms are within 2^62, so sums
    /// cannot wrap.)
    private func applyTimeBase() throws(ImportError) {
        let base = rank.metadata.baseTimeNanoseconds
        guard base != 0 else { return }
        guard TimeRange.contains(base) else {
            throw ImportError(file: rank.source, message: "baseTimeNanoseconds \(base) is out of range")
        }
        let source = rank.source
        /// `ts + base`, which (and whose end `dur` later) must stay in range.
        func shifted(_ ts: Int64, dur: Int64 = 0) throws(ImportError) -> Int64 {
            let t = ts + base
            guard TimeRange.contains(t), TimeRange.contains(t, plus: max(dur, 0)) else {
                throw ImportError(file: source, message: "baseTimeNanoseconds + ts is out of range (more than 146 years from the epoch)")
            }
            return t
        }
        for i in 0..<slices.count { slices.start[i] = try shifted(slices.start[i], dur: slices.dur[i]) }
        try rank.instants.shiftTimes { (t) throws(ImportError) in try shifted(t) }
        try rank.memory.shiftTimes { (t) throws(ImportError) in try shifted(t) }
        try rank.operatorAllocations.shiftTimes { (t) throws(ImportError) in try shifted(t) }
        try rank.counters.shiftTimes { (t) throws(ImportError) in try shifted(t) }
    }

    /// Thread tracks that hold device activity become device streams; those holding only the
    /// profiler's own spans become span tracks.
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
}
