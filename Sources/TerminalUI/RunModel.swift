import Analysis
import Formatting
import TraceModel

/// Everything the views show about one run, computed once when the UI opens.
public final class RunModel: @unchecked Sendable {
    public let run: TraceRun
    public let report: RunReport
    public let ranks: [RankModel]
    /// Earliest start and latest end over all ranks (0..<1 when the run is empty).
    public let bounds: Range<Int64>

    /// Builds the per-rank models (flame trees, timeline lanes, operator details) in parallel.
    public init(run: TraceRun, report: RunReport) {
        self.run = run
        self.report = report
        ranks = concurrentMap(run.ranks.count) { r in RankModel(trace: run.ranks[r], report: report.ranks[r]) }
        var lo = Int64.max, hi = Int64.min
        for t in run.ranks {
            if let b = t.timeBounds {
                lo = min(lo, b.start)
                hi = max(hi, b.end)
            }
        }
        bounds = lo < hi ? lo..<hi : 0..<1
    }
}

/// One rank's precomputed view data.
public final class RankModel: @unchecked Sendable {
    public let trace: RankTrace
    public let report: RankReport
    public var analysis: RankAnalysis { report.analysis }
    /// What the rank's device is called: "GPU", "NPU" or "MTIA" (`DeviceKind.label`).
    public var deviceLabel: String { (report.metadata.deviceKind ?? .cuda).label }
    /// The flame tree with Python frames nested with the operators (where the trace has both).
    public let flame: FlameTree
    /// True when the flame tree holds Python frames and operators (a `with_stack` trace), so the
    /// frames can be hidden.
    public let hasPythonFrames: Bool
    private var operatorFlame: FlameTree?
    public let lanes: [Lane]
    /// Allocated and reserved memory per device (from the `[memory]` events, accelerators first),
    /// then one lane per counter series (`C` events: memory, RSS of a recording, ...).
    public let counterLanes: [CounterLane]
    /// Instant events per track, ordered by time: (time, name id).
    let instants: [Int: [(ts: Int64, name: UInt32)]]
    /// GPU activities launched by each slice: `launched[launchedStart[i] ..< launchedStart[i + 1]]`.
    let launchedStart: [Int32]
    let launched: [Int32]
    /// Per operator name id: its callers (nearest operator ancestor) and the kernels it launched.
    let callers: [UInt32: [UInt32: Int]]
    let kernelsOf: [UInt32: [UInt32: Int64]]

    init(trace: RankTrace, report: RankReport) {
        self.trace = trace
        self.report = report
        flame = FlameTree(trace: trace, analysis: report.analysis, python: true)
        hasPythonFrames = flame.kind.dropFirst().contains(.pythonFunction) && flame.kind.dropFirst().contains { $0 != .pythonFunction }
        lanes = Lane.lanes(of: trace)
        counterLanes = CounterLane.memoryLanes(report.memory, rank: trace.rank) + CounterLane.lanes(of: trace)
        var instants: [Int: [(ts: Int64, name: UInt32)]] = [:]
        for k in 0..<trace.instants.count { instants[Int(trace.instants.track[k]), default: []].append((trace.instants.ts[k], trace.instants.name[k])) }
        for t in instants.keys { instants[t]!.sort { $0.ts < $1.ts } }
        self.instants = instants
        let s = trace.slices
        var counts = [Int32](repeating: 0, count: s.count + 1)
        if !s.launcher.isEmpty {
            for i in 0..<s.count where s.launcher[i] >= 0 { counts[Int(s.launcher[i]) + 1] += 1 }
        }
        for i in 0..<s.count { counts[i + 1] += counts[i] }
        var fill = counts
        var list = [Int32](repeating: 0, count: Int(counts[s.count]))
        if !s.launcher.isEmpty {
            for i in 0..<s.count where s.launcher[i] >= 0 {
                let l = Int(s.launcher[i])
                list[Int(fill[l])] = Int32(i)
                fill[l] += 1
            }
        }
        launchedStart = counts
        launched = list
        // Callers: the nearest operator ancestor; kernels: every operator on the launcher's chain
        // (each name once per kernel).
        var callers: [UInt32: [UInt32: Int]] = [:]
        var kernels: [UInt32: [UInt32: Int64]] = [:]
        let ops = report.analysis.attribution
        for i in 0..<s.count {
            if ops.key[i] != .max {
                let c = ops.caller(of: i, in: trace)
                callers[s.name[i], default: [:]][c >= 0 ? s.name[c] : UInt32.max, default: 0] += 1
            } else if s.kind[i].isGPUActivity, !s.launcher.isEmpty, s.launcher[i] >= 0 {
                var p = Int(ops.owner[Int(s.launcher[i])])
                var seen: [UInt32] = []
                while p >= 0 {
                    if !seen.contains(s.name[p]) {
                        seen.append(s.name[p])
                        kernels[s.name[p], default: [:]][s.name[i], default: 0] += s.dur[i]
                    }
                    p = ops.caller(of: p, in: trace)
                }
            }
        }
        self.callers = callers
        kernelsOf = kernels
    }

    /// The flame tree with or without Python frames; the operator-only one is built on first use
    /// (UI thread).
    public func flame(python: Bool) -> FlameTree {
        guard hasPythonFrames, !python else { return flame }
        if let f = operatorFlame { return f }
        let f = FlameTree(trace: trace, analysis: analysis)
        operatorFlame = f
        return f
    }

    /// GPU activities launched by slice `i`.
    public func launchedActivities(_ i: Int) -> ArraySlice<Int32> {
        launched[Int(launchedStart[i])..<Int(launchedStart[i + 1])]
    }

    /// Callers of operator `name` (nearest operator ancestor; `(top level)` for none), most calls first.
    public func callSites(of name: String) -> [(name: String, count: Int)] {
        guard let id = trace.strings.lookup(name), let c = callers[id] else { return [] }
        return c.map { (name: $0.key == .max ? "(top level)" : safe(trace.strings[$0.key]), count: $0.value) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
    }

    /// Instants of track `track` at times in `range`.
    public func instants(on track: Int, in range: Range<Int64>) -> ArraySlice<(ts: Int64, name: UInt32)> {
        guard let list = instants[track] else { return [] }
        let lo = list.partitionPoint { $0.ts >= range.lowerBound }, hi = list.partitionPoint { $0.ts >= range.upperBound }
        return list[lo..<max(lo, hi)]
    }

    /// The process name of track `track` (from the metadata), or nil.
    public func processName(of track: Int) -> String? {
        let pid = trace.tracks.pid[track]
        guard let p = trace.processes.first(where: { $0.pid == pid }), p.name != 0 else { return nil }
        return trace.strings[p.name]
    }

    /// Kernels launched inside operator `name`, most GPU time first.
    public func kernels(of name: String) -> [(name: String, ns: Int64)] {
        guard let id = trace.strings.lookup(name), let k = kernelsOf[id] else { return [] }
        return k.map { (name: safe(trace.strings[$0.key]), ns: $0.value) }
            .sorted { $0.ns != $1.ns ? $0.ns > $1.ns : $0.name < $1.name }
    }
}

/// One timeline row of a counter series: its samples by time and their range.
public struct CounterLane: Sendable {
    public var rank: Int
    /// Terminal-safe `counter name: series` (`device allocated`, `device reserved` for memory).
    public var name: String
    public var ts: [Int64]
    public var values: [Double]
    public var low: Double
    public var high: Double
    /// Values are bytes (shown as KiB, MiB, ...).
    public var bytes = false

    /// Lanes of a rank's counters, one per (process, counter, series), in first-seen order.
    static func lanes(of trace: RankTrace) -> [CounterLane] {
        let c = trace.counters
        var index: [[UInt32]: Int] = [:]
        var out: [CounterLane] = []
        for k in 0..<c.count {
            let key = [c.pid[k], c.name[k], c.series[k]]
            let i: Int
            if let found = index[key] { i = found } else {
                i = out.count
                index[key] = i
                out.append(CounterLane(rank: trace.rank, name: safe(trace.strings[c.name[k]] + ": " + trace.strings[c.series[k]]),
                                       ts: [], values: [], low: .infinity, high: -.infinity))
            }
            out[i].ts.append(c.ts[k])
            out[i].values.append(c.value[k])
            out[i].low = min(out[i].low, c.value[k])
            out[i].high = max(out[i].high, c.value[k])
        }
        for i in out.indices where zip(out[i].ts, out[i].ts.dropFirst()).contains(where: { $0 > $1 }) {
            let order = out[i].ts.indices.sorted { out[i].ts[$0] < out[i].ts[$1] }
            out[i].ts = order.map { out[i].ts[$0] }
            out[i].values = order.map { out[i].values[$0] }
        }
        return out
    }

    /// Allocated and reserved bytes over time of each device, accelerators before the CPU.
    static func memoryLanes(_ devices: [DeviceMemory], rank: Int) -> [CounterLane] {
        devices.enumerated().sorted { ($0.element.deviceType == 0 ? 1 : 0, $0.offset) < ($1.element.deviceType == 0 ? 1 : 0, $1.offset) }
            .flatMap { _, d -> [CounterLane] in
                [("allocated", d.samples.allocated), ("reserved", d.samples.reserved)].map { what, values in
                    let v = values.map(Double.init)
                    return CounterLane(rank: rank, name: safe("\(d.name) \(what)"), ts: d.samples.ts, values: v,
                                       low: v.min() ?? 0, high: v.max() ?? 0, bytes: true)
                }
            }
    }

    /// A value as the details show it: bytes in binary units, else two decimals.
    public func format(_ v: Double) -> String { bytes ? formatBytes(Int64(v)) : formatFixed(v, 2) }

    /// The value in force at `t` (the last sample at or before it), or nil before the first.
    public func value(at t: Int64) -> Double? {
        let k = ts.partitionPoint { $0 > t }
        return k > 0 ? values[k - 1] : nil
    }

    /// The row label in `width` columns.
    public func label(width: Int) -> String {
        let head = "r\(rank) "
        return head + clipped(name, width - displayWidth(head))
    }
}

/// One timeline row: the slices of one track at one nesting depth, with search columns.
public struct Lane: Sendable {
    public var track: Int
    public var depth: Int
    public var rank: Int
    /// Terminal-safe track name.
    public var name: String
    public var isGPU: Bool
    /// Slice indices, ordered by start.
    public var slices: [Int32]
    public var starts: [Int64]
    /// Running maximum of the slices' ends, so "first slice ending after t" is a binary search.
    public var maxEnds: [Int64]

    /// Lanes of a rank: per CPU thread the three shallowest depths that hold something other than
    /// Python frames (the operators under a deep Python stack), then per GPU stream the shallowest
    /// depth with kernels, memcpys or memsets (under any GPU annotations); empty ones left out.
    /// Threads and streams are ordered as the trace's sort indexes say (process, then thread),
    /// else in trace order.
    static func lanes(of trace: RankTrace) -> [Lane] {
        orderedTracks(of: trace).flatMap { lanes(of: trace, track: $0, allDepths: false) }
    }

    /// The CPU threads, then the GPU streams, in the order of the trace's sort indexes.
    static func orderedTracks(of trace: RankTrace) -> [Int] {
        var processOrder: [UInt32: Int64] = [:]
        for p in trace.processes { processOrder[p.pid] = p.sortIndex }
        func ordered(_ tracks: [Int]) -> [Int] {
            tracks.sorted { a, b in
                let ka = (processOrder[trace.tracks.pid[a]] ?? 0, trace.tracks.sortIndex[a], a)
                let kb = (processOrder[trace.tracks.pid[b]] ?? 0, trace.tracks.sortIndex[b], b)
                return ka < kb
            }
        }
        return ordered(trace.cpuTracks) + ordered(trace.gpuTracks)
    }

    /// Lanes of one track: its chosen depths (see `lanes(of:)`), or with `allDepths` every depth
    /// that holds a slice (Python frames included), shallowest first.
    public static func lanes(of trace: RankTrace, track t: Int, allDepths: Bool) -> [Lane] {
        let s = trace.slices
        let gpu = trace.tracks.kind[t] == .gpuStream
        var depths = Set<Int>()
        for i in trace.tracks.sliceRange[t] where allDepths || (gpu ? s.kind[i].isGPUActivity : s.kind[i] != .pythonFunction) {
            depths.insert(Int(s.depth[i]))
        }
        let sorted = depths.sorted()
        let chosen = depths.isEmpty ? [0] : allDepths ? sorted : Array(sorted.prefix(gpu ? 1 : 3))
        var slot = [Int](repeating: -1, count: (sorted.last ?? 0) + 1)
        for (k, d) in chosen.enumerated() { slot[d] = k }
        var perDepth = [[Int32]](repeating: [], count: chosen.count)
        for i in trace.tracks.sliceRange[t] {
            let d = Int(s.depth[i])
            if d < slot.count, slot[d] >= 0 { perDepth[slot[d]].append(Int32(i)) }
        }
        let name = trackLabel(trace, t)
        var out: [Lane] = []
        for (k, list) in perDepth.enumerated() where !list.isEmpty {
            var starts = [Int64](), ends = [Int64]()
            starts.reserveCapacity(list.count)
            ends.reserveCapacity(list.count)
            var m = Int64.min
            for i in list {
                starts.append(s.start[Int(i)])
                m = max(m, s.start[Int(i)] + s.dur[Int(i)])
                ends.append(m)
            }
            out.append(Lane(track: t, depth: chosen[k], rank: trace.rank, name: name, isGPU: gpu, slices: list, starts: starts, maxEnds: ends))
        }
        return out
    }

    /// A track's terminal-safe name. CUPTI writes its own overhead activities ("Lazy Function
    /// Loading", "Activity Buffer Request") on pid -1, tid 0, which would read `-1/0`.
    static func trackLabel(_ trace: RankTrace, _ t: Int) -> String {
        if trace.tracks.name[t] == 0, trace.strings[trace.tracks.pid[t]] == "-1" { return "profiler overhead" }
        return safe(trace.trackName(t))
    }

    /// Index (into `slices`) of slice `i`, or nil when the lane does not hold it.
    public func position(of i: Int, start: Int64) -> Int? {
        var k = starts.partitionPoint { $0 >= start }
        while k < slices.count && starts[k] == start {
            if slices[k] == Int32(i) { return k }
            k += 1
        }
        return nil
    }

    /// The row label in `width` columns: rank, GPU mark, track name (clipped) and nesting depth.
    public func label(width: Int) -> String {
        let head = "r\(rank) " + (isGPU ? "gpu " : ""), tail = depth > 0 ? " ·\(depth)" : ""
        return head + clipped(name, width - displayWidth(head) - displayWidth(tail)) + tail
    }

    /// Index (into `slices`) of the first slice that ends after `t`.
    public func firstEnding(after t: Int64) -> Int {
        maxEnds.partitionPoint { $0 > t }
    }
}
