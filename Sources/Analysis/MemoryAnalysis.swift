import TraceModel

/// Allocated and reserved bytes of one device over time, as columns (one row per `[memory]` event).
public struct MemorySamples: Sendable, Equatable {
    /// Absolute time, ns, ascending (ties in file order).
    public var ts: [Int64] = []
    /// Allocated bytes after the event: `Total Allocated`, else the running sum of `Bytes`.
    public var allocated: [Int64] = []
    /// Reserved bytes after the event (`Total Reserved`), or -1 when the event has none.
    public var reserved: [Int64] = []
    /// Creates empty columns.
    public init() {}
    /// Number of samples.
    public var count: Int { ts.count }
}

/// The highest allocated value of a device within one step.
public struct StepMemoryPeak: Sendable, Equatable {
    /// The step's name (`ProfilerStep#N` or `trace`).
    public var step: String
    /// Peak allocated bytes in the step, counting the value carried into it.
    public var peak: Int64
    /// When the peak is first reached (the step's start when it is the carried-in value).
    public var ts: Int64
    /// Creates a step peak.
    public init(step: String, peak: Int64, ts: Int64) {
        self.step = step
        self.peak = peak
        self.ts = ts
    }
}

/// Allocations live at a device's peak that share an allocating operator, phase and module.
public struct LiveAllocationGroup: Sendable, Equatable {
    /// Innermost enclosing operator's name, or "(no op)".
    public var op: String
    /// That operator's effective phase (`other` without an operator).
    public var phase: Phase
    /// Innermost enclosing `nn.Module: X` python_function's `X`, or nil when none encloses it.
    public var module: String?
    /// Sum of the live allocations' `Bytes`.
    public var bytes: Int64
    /// Number of live allocations.
    public var count: Int
    /// Creates a group.
    public init(op: String, phase: Phase, module: String?, bytes: Int64, count: Int) {
        self.op = op
        self.phase = phase
        self.module = module
        self.bytes = bytes
        self.count = count
    }
}

/// The peak of a device's per-operator allocations (torch_npu's `operator_memory.csv` /
/// `OP_MEMORY`): the largest sum of its allocations live at one time, when first reached.
public struct OperatorAllocationPeak: Sendable, Equatable {
    /// Bytes live at the peak.
    public var bytes: Int64
    /// The first time the sum reaches them.
    public var ts: Int64
    /// The device's allocations in the capture, and how many of them it never releases.
    public var allocations: Int
    public var unreleased: Int
    /// Creates a peak.
    public init(bytes: Int64, ts: Int64, allocations: Int, unreleased: Int) {
        (self.bytes, self.ts, self.allocations, self.unreleased) = (bytes, ts, allocations, unreleased)
    }
}

/// The memory analysis of one device of a rank (docs/definitions.md, "Memory").
public struct DeviceMemory: Sendable, Equatable {
    /// `Device Type`: 0 CPU, 1 CUDA, others as PyTorch numbers them.
    public var deviceType: Int
    /// `Device Id` (-1 for the CPU).
    public var deviceID: Int
    /// Display name: `cpu`, `cuda:0`, ....
    public var name: String
    /// Allocated and reserved over time.
    public var samples = MemorySamples()
    /// Samples whose allocated value was derived from `Bytes` because `Total Allocated` was missing.
    public var derivedSamples = 0
    /// Allocated before the first event (its allocated value minus its `Bytes`).
    public var initialAllocated: Int64 = 0
    /// Highest allocated value over the samples.
    public var peakAllocated: Int64 = 0
    /// Time of the first sample reaching `peakAllocated`.
    public var peakTs: Int64 = 0
    /// Reserved bytes at that sample, or nil when unknown.
    public var reservedAtPeak: Int64?
    /// Per-step peaks, in step order.
    public var stepPeaks: [StepMemoryPeak] = []
    /// Allocations live at the peak, grouped, by bytes descending: at `operatorPeak` when there is one.
    public var liveAtPeak: [LiveAllocationGroup] = []
    /// The peak of the device's per-operator allocations, when the trace has them (torch_npu).
    public var operatorPeak: OperatorAllocationPeak?
    /// Frees whose address matches no live allocation of the device.
    public var unmatchedFrees = 0
    /// Allocations at an address that was still live (its free was never seen); the older one is dropped.
    public var reusedLiveAddresses = 0
    /// Events without an address (`Addr` missing or 0), left out of alloc/free matching.
    public var unaddressedEvents = 0

    /// Creates an empty result for a device.
    public init(deviceType: Int, deviceID: Int, name: String) {
        self.deviceType = deviceType
        self.deviceID = deviceID
        self.name = name
    }

    /// Reserved minus allocated at the peak (cached but unused bytes), or nil when reserved is unknown.
    public var unusedReservedAtPeak: Int64? { reservedAtPeak.map { $0 - peakAllocated } }
    /// Total bytes of the allocations live at the peak.
    public var liveBytesAtPeak: Int64 { liveAtPeak.reduce(0) { $0 + $1.bytes } }
    /// Number of allocations live at the peak.
    public var liveCountAtPeak: Int { liveAtPeak.reduce(0) { $0 + $1.count } }

    /// The display name of a (`Device Type`, `Device Id`) pair.
    public static func deviceName(type: Int, id: Int) -> String {
        let kind: String
        switch type {
        case 0: kind = "cpu"
        case 1: kind = "cuda"
        case 6: kind = "hip"
        case 12: kind = "xpu"
        case 13: kind = "mps"
        case 15: kind = "hpu"
        case 19: kind = "mtia"
        case 20: kind = "npu"  // PrivateUse1, as torch_npu registers it
        default: kind = "device\(type)"
        }
        return id < 0 ? kind : "\(kind):\(id)"
    }
}

/// Memory over time, peaks and live allocations per device, from the `[memory]` events.
public enum MemoryAnalysis {
    /// Analyses every device that has `[memory]` events, ordered by (device type, device id).
    public static func analyze(_ trace: RankTrace, analysis: RankAnalysis) -> [DeviceMemory] {
        let m = trace.memory
        guard m.count > 0 else { return [] }
        // Group rows by device, then order each device's rows by (ts, file order).
        var byDevice: [Int32: [Int]] = [:]
        for i in 0..<m.count {
            byDevice[Int32(m.deviceType[i]) << 16 | Int32(UInt16(bitPattern: m.deviceID[i])), default: []].append(i)
        }
        let enclosing = Enclosing(trace)
        let a = trace.operatorAllocations
        var allocationsByDevice: [Int32: [Int]] = [:]
        for i in 0..<a.count {
            allocationsByDevice[Int32(a.deviceType[i]) << 16 | Int32(UInt16(bitPattern: a.deviceID[i])), default: []].append(i)
        }
        var result: [DeviceMemory] = []
        for key in byDevice.keys.sorted(by: { (a, b) in
            let ta = a >> 16, tb = b >> 16
            return ta != tb ? ta < tb : Int16(truncatingIfNeeded: a) < Int16(truncatingIfNeeded: b)
        }) {
            var rows = byDevice[key]!
            rows.sort { m.ts[$0] != m.ts[$1] ? m.ts[$0] < m.ts[$1] : $0 < $1 }
            var d = device(trace, analysis: analysis, rows: rows, enclosing: enclosing)
            if let allocations = allocationsByDevice[key] { operatorPeak(trace, analysis: analysis, allocations, enclosing: enclosing, into: &d) }
            result.append(d)
        }
        return result
    }

    /// The peak of a device's operator allocations (rows of `trace.operatorAllocations`) and the
    /// allocations live at it, which replace the `[memory]` events' (docs/definitions.md,
    /// "Memory": Operator allocations). An allocation is live over `[allocated, released)`; the
    /// sum of those live changes only at allocation and release times, so it is swept over them.
    static func operatorPeak(_ trace: RankTrace, analysis: RankAnalysis, _ rows: [Int], enclosing: Enclosing, into d: inout DeviceMemory) {
        let a = trace.operatorAllocations
        let allocations = rows.sorted { a.allocated[$0] < a.allocated[$1] }
        let releases = rows.filter { a.released[$0] != OperatorAllocationTable.notReleased }.sorted { a.released[$0] < a.released[$1] }
        var live: Int64 = 0, peak = OperatorAllocationPeak(bytes: 0, ts: a.allocated[allocations[0]], allocations: rows.count,
                                                           unreleased: rows.count - releases.count)
        var i = 0, j = 0
        while i < allocations.count {
            let t = a.allocated[allocations[i]]
            while j < releases.count && a.released[releases[j]] <= t { live -= a.bytes[releases[j]]; j += 1 }
            while i < allocations.count && a.allocated[allocations[i]] == t { live += a.bytes[allocations[i]]; i += 1 }
            if live > peak.bytes { (peak.bytes, peak.ts) = (live, t) }
        }
        d.operatorPeak = peak
        let atPeak = rows.filter { a.allocated[$0] <= peak.ts && a.released[$0] > peak.ts }
        d.liveAtPeak = liveGroups(trace, analysis: analysis, atPeak.map { r in
            let (op, module) = enclosing.lookup(named: a.name[r], ts: a.allocated[r])
            return (bytes: a.bytes[r], op: op, module: module, name: a.name[r])
        })
    }

    /// Live allocations grouped by (operator name, phase, module), ordered (docs/definitions.md,
    /// "Memory": Live at the peak): each allocation given by its bytes, its operator and module
    /// slices (-1: none) and, when its row names the operator itself (torch_npu's), that name.
    static func liveGroups(_ trace: RankTrace, analysis: RankAnalysis,
                           _ live: [(bytes: Int64, op: Int, module: Int, name: UInt32?)]) -> [LiveAllocationGroup] {
        struct GroupKey: Hashable { var op: Int; var module: Int; var name: UInt32? }
        var groups: [GroupKey: (bytes: Int64, count: Int)] = [:]
        for x in live {
            groups[GroupKey(op: x.op, module: x.module, name: x.name), default: (0, 0)].bytes += x.bytes
            groups[GroupKey(op: x.op, module: x.module, name: x.name), default: (0, 0)].count += 1
        }
        var merged: [String: LiveAllocationGroup] = [:]  // by name, phase and module text
        for (key, value) in groups {
            let name = key.name.map { trace.strings[$0] } ?? (key.op >= 0 ? trace.name(ofSlice: key.op) : "(no op)")
            let phase = key.op >= 0 ? analysis.facts.phase[key.op] : .other
            let module = key.module >= 0 ? String(trace.name(ofSlice: key.module).dropFirst(Enclosing.modulePrefix.count)) : nil
            let text = name + "\u{0}" + phase.name + "\u{0}" + (module.map { "1" + $0 } ?? "0")
            merged[text, default: LiveAllocationGroup(op: name, phase: phase, module: module, bytes: 0, count: 0)].bytes += value.bytes
            merged[text]!.count += value.count
        }
        return merged.values.sorted { a, b in
            if a.bytes != b.bytes { return a.bytes > b.bytes }
            if a.count != b.count { return a.count > b.count }
            if a.op != b.op { return a.op < b.op }
            if a.phase != b.phase { return a.phase < b.phase }
            return (a.module ?? "") < (b.module ?? "")
        }
    }

    /// The analysis of one device's rows (sorted by time).
    static func device(_ trace: RankTrace, analysis: RankAnalysis, rows: [Int], enclosing: Enclosing) -> DeviceMemory {
        let m = trace.memory
        let type = Int(m.deviceType[rows[0]]), id = Int(m.deviceID[rows[0]])
        var d = DeviceMemory(deviceType: type, deviceID: id, name: DeviceMemory.deviceName(type: type, id: id))
        let n = rows.count

        // Samples: Total Allocated when present, else the previous value plus Bytes.
        var s = MemorySamples()
        s.ts.reserveCapacity(n); s.allocated.reserveCapacity(n); s.reserved.reserveCapacity(n)
        var running: Int64 = 0
        var peak = 0
        for (k, r) in rows.enumerated() {
            if m.totalAllocated[r] >= 0 {
                running = m.totalAllocated[r]
            } else {
                running += m.bytes[r]
                d.derivedSamples += 1
            }
            s.ts.append(m.ts[r])
            s.allocated.append(running)
            s.reserved.append(m.totalReserved[r] >= 0 ? m.totalReserved[r] : -1)
            if running > s.allocated[peak] { peak = k }
        }
        d.peakAllocated = s.allocated[peak]
        d.peakTs = s.ts[peak]
        d.reservedAtPeak = s.reserved[peak] >= 0 ? s.reserved[peak] : nil

        // Per-step peaks: the value carried in (last sample before the start, else the value
        // before the first event) against the in-step samples, via a range-maximum tree.
        let initial = s.allocated[0] - m.bytes[rows[0]]
        d.initialAllocated = initial
        let tree = RangeMax(s.allocated)
        for step in analysis.steps {
            let lo = s.ts.partitionPoint { $0 >= step.start }
            let hi = s.ts.partitionPoint { $0 >= step.start + step.dur }
            var best = StepMemoryPeak(step: step.name, peak: lo > 0 ? s.allocated[lo - 1] : initial, ts: step.start)
            if lo < hi {
                let k = tree.query(lo, hi)
                if s.allocated[k] > best.peak { best.peak = s.allocated[k]; best.ts = s.ts[k] }
            }
            d.stepPeaks.append(best)
        }

        // Alloc/free matching by address, over the whole timeline for the counts; the
        // allocations open just after the peak sample are the live ones.
        var open: [Int64: Int] = [:]  // address -> row of its live allocation
        var liveAtPeak: [Int] = []
        for (k, r) in rows.enumerated() {
            let bytes = m.bytes[r], addr = m.addr[r]
            if addr == 0 {
                d.unaddressedEvents += 1
            } else if bytes > 0 {
                if open.updateValue(r, forKey: addr) != nil { d.reusedLiveAddresses += 1 }
            } else if bytes < 0 {
                if open.removeValue(forKey: addr) == nil { d.unmatchedFrees += 1 }
            }
            if k == peak { liveAtPeak = Array(open.values) }
        }
        d.samples = s

        d.liveAtPeak = liveGroups(trace, analysis: analysis, liveAtPeak.map { r in
            let (op, module) = enclosing.lookup(track: Int(m.track[r]), ts: m.ts[r])
            return (bytes: m.bytes[r], op: op, module: module, name: nil)
        })
        return d
    }
}

/// Finds the operator and `nn.Module` slices enclosing an instant on a track.
struct Enclosing {
    static let modulePrefix = "nn.Module: "
    let trace: RankTrace
    let hasModules: Bool

    /// CPU thread tracks, for allocations that name their operator but not its thread.
    let threads: [Int]

    init(_ trace: RankTrace) {
        self.trace = trace
        hasModules = trace.slices.kind.contains(.pythonFunction)
        threads = trace.operatorAllocations.count == 0 ? [] : trace.tracks.kind.indices.filter { trace.tracks.kind[$0] == .cpuThread }
    }

    /// For an allocation that names its operator but not its thread: the innermost operator slice
    /// named `name` whose nesting interval contains `ts`, on the first CPU thread that has one,
    /// else the innermost operator containing `ts` on the first CPU thread that has one; with the
    /// innermost `nn.Module: ` slice containing `ts` on that thread (-1 when none).
    func lookup(named name: UInt32, ts: Int64) -> (op: Int, module: Int) {
        let s = trace.slices
        var fallback: (op: Int, module: Int) = (-1, -1)
        for t in threads {
            let found = lookup(track: t, ts: ts)
            guard found.op >= 0 else { continue }
            var i = found.op
            while i >= 0 && !(s.name[i] == name && trace.isOperator(i)) { i = Int(s.parent[i]) }
            if i >= 0 { return (i, found.module) }
            if fallback.op < 0 { fallback = found }
        }
        return fallback
    }

    /// The innermost operator slice and innermost `nn.Module: ` python_function slice whose
    /// nesting interval `[start, nestEnd)` contains `ts` on `track` (-1 when none).
    func lookup(track: Int, ts: Int64) -> (op: Int, module: Int) {
        let s = trace.slices
        guard track < trace.tracks.sliceRange.count else { return (-1, -1) }
        let range = trace.tracks.sliceRange[track]
        // The last slice starting at or before ts; every slice containing ts is it or an ancestor.
        var i = partitionIndex(range) { s.start[$0] > ts } - 1
        while i >= range.lowerBound && s.nestEnd(i) <= ts { i = Int(s.parent[i]) }
        var op = -1, module = -1
        while i >= 0 && (op < 0 || (hasModules && module < 0)) {
            if op < 0 && trace.isOperator(i) { op = i }
            if hasModules && module < 0 && s.kind[i] == .pythonFunction && trace.strings.hasPrefix(s.name[i], "nn.Module: ") {
                module = i
            }
            i = Int(s.parent[i])
        }
        return (op, module)
    }
}

/// Leftmost index of the maximum over a half-open index range, in O(log n) per query.
struct RangeMax {
    let values: [Int64]
    var tree: [Int]
    let size: Int

    init(_ values: [Int64]) {
        self.values = values
        size = values.count
        tree = [Int](repeating: 0, count: 2 * max(size, 1))
        for i in 0..<size { tree[size + i] = i }
        var i = size - 1
        while i >= 1 {
            tree[i] = Self.better(values, tree[2 * i], tree[2 * i + 1])
            i -= 1
        }
    }

    static func better(_ v: [Int64], _ a: Int, _ b: Int) -> Int {
        v[a] != v[b] ? (v[a] > v[b] ? a : b) : min(a, b)
    }

    /// The leftmost index of the maximum in `lo..<hi` (`lo < hi`).
    func query(_ lo: Int, _ hi: Int) -> Int {
        var best = lo
        var l = lo + size, r = hi + size
        while l < r {
            if l & 1 == 1 { best = Self.better(values, best, tree[l]); l += 1 }
            if r & 1 == 1 { r -= 1; best = Self.better(values, best, tree[r]) }
            l >>= 1; r >>= 1
        }
        return best
    }
}
