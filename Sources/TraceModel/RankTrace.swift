/// The timeline of one rank (one trace file or one sampled process): every table of the model.
public final class RankTrace: @unchecked Sendable {
    /// Where it came from (a path, or a description for sampled profiles).
    public var source: String
    /// Rank in the run: from `distributedInfo`, else the file name, else load order.
    public var rank: Int
    public let strings: StringTable
    public var tracks = TrackTable()
    public var slices = SliceTable()
    public var args = ArgTable()
    public var instants = InstantTable()
    public var memory = MemoryTable()
    public var operatorAllocations = OperatorAllocationTable()
    public var counters = CounterTable()
    public var processes: [ProcessInfo] = []
    public var metadata = TraceMetadata()
    public var warnings = Warnings()
    /// The memory snapshot this rank was read from (its memory table is the snapshot's replay).
    public var memorySnapshot: MemorySnapshot?
    /// Raw events seen per phase letter (all events, kept or not: flow events are only counted).
    public var eventCounts: [UInt8: Int] = [:]

    public init(source: String, rank: Int, strings: StringTable = StringTable()) {
        self.source = source
        self.rank = rank
        self.strings = strings
    }

    /// Name of slice `i`.
    public func name(ofSlice i: Int) -> String { strings[slices.name[i]] }

    /// Display name of track `t`: thread name, else `pid/tid`.
    public func trackName(_ t: Int) -> String {
        let n = tracks.name[t]
        if n != 0 { return strings[n] }
        return strings[tracks.pid[t]] + "/" + strings[tracks.tid[t]]
    }

    /// Args of slice `i` as (key, value) pairs, decoded to text.
    public func args(ofSlice i: Int) -> [(key: String, value: String)] {
        let start = Int(slices.argStart[i])
        return (start..<start + Int(slices.argCount[i])).map { a in
            (strings[args.key[a]], argText(args.value[a]))
        }
    }

    /// The value of arg `key` (an interned id) of slice `i`, if present.
    public func arg(ofSlice i: Int, key: UInt32) -> ArgValue? {
        let start = Int(slices.argStart[i])
        for a in start..<start + Int(slices.argCount[i]) where args.key[a] == key { return args.value[a] }
        return nil
    }

    /// An arg value as JSON text (integers printed, strings with their quotes).
    public func argText(_ v: ArgValue) -> String {
        v.isInteger ? String(v.integer) : strings[v.text]
    }

    /// An arg value as a plain string: JSON strings unquoted and unescaped, other values as JSON text.
    public func argString(_ v: ArgValue) -> String {
        if v.isInteger { return String(v.integer) }
        let raw = strings[v.text]
        guard raw.hasPrefix("\"") else { return raw }
        return JSONText.unquote(raw) ?? raw
    }

    /// An arg value as an integer, when it is one (integers, or numeric strings).
    public func argInteger(_ v: ArgValue) -> Int64? {
        if v.isInteger { return v.integer }
        return Int64(argString(v))
    }

    /// The CPU thread tracks, in track order.
    public var cpuTracks: [Int] { (0..<tracks.count).filter { tracks.kind[$0] == .cpuThread } }
    /// The GPU stream tracks, in track order.
    public var gpuTracks: [Int] { (0..<tracks.count).filter { tracks.kind[$0] == .gpuStream } }

    /// Earliest start and latest end over the slices of every track but async lanes (which can
    /// span a whole run), or nil when there are none.
    public var timeBounds: (start: Int64, end: Int64)? {
        var lo = Int64.max, hi = Int64.min
        for t in 0..<tracks.count where tracks.kind[t] != .async {
            for i in tracks.sliceRange[t] {
                lo = min(lo, slices.start[i])
                hi = max(hi, slices.start[i] + slices.dur[i])
            }
        }
        return lo <= hi ? (lo, hi) : nil
    }
}

/// A process from the metadata events.
public struct ProcessInfo: Sendable {
    public var pid: UInt32
    public var name: UInt32 = 0
    public var labels: UInt32 = 0
    public var sortIndex: Int64 = 0
    public init(pid: UInt32) { self.pid = pid }
}

/// Trace-level facts from the top-level object.
public struct TraceMetadata: Sendable {
    public var baseTimeNanoseconds: Int64 = 0
    public var displayTimeUnit: String?
    public var schemaVersion: Int?
    public var traceName: String?
    /// `host_name`: ranks on one host share a clock.
    public var hostName: String?
    public var distributed: DistributedInfo?
    public var devices: [DeviceInfo] = []
    /// What the devices are (set by the import when the rank has device activity).
    public var deviceKind: DeviceKind?
    public init() {}
}

/// `distributedInfo`: the rank, world size and process groups.
public struct DistributedInfo: Sendable, Equatable {
    public var backend: String?
    public var rank: Int?
    public var worldSize: Int?
    public var processGroups: [ProcessGroup] = []
    public init() {}
}

/// One entry of `distributedInfo.pg_config`.
public struct ProcessGroup: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var size: Int?
    public var ranks: [Int]
    public init(name: String, description: String?, size: Int?, ranks: [Int]) {
        self.name = name
        self.description = description
        self.size = size
        self.ranks = ranks
    }
}

/// One entry of `deviceProperties`.
public struct DeviceInfo: Sendable, Equatable {
    public var id: Int
    public var name: String
    public var totalGlobalMemory: Int64?
    public var smCount: Int?
    public init(id: Int, name: String, totalGlobalMemory: Int64?, smCount: Int?) {
        self.id = id
        self.name = name
        self.totalGlobalMemory = totalGlobalMemory
        self.smCount = smCount
    }
}

/// Recoverable oddities, counted per code with the first example.
public struct Warnings: Sendable {
    /// One warning code with its count and first example.
    public struct Entry: Sendable, Equatable {
        public var code: String
        public var count: Int
        public var example: String
    }
    public private(set) var entries: [Entry] = []
    public init() {}

    /// Counts one occurrence of `code`; `example` is evaluated only for the first.
    public mutating func add(_ code: String, count: Int = 1, _ example: @autoclosure () -> String) {
        if let i = entries.firstIndex(where: { $0.code == code }) {
            entries[i].count += count
        } else {
            entries.append(Entry(code: code, count: count, example: example()))
        }
    }

    /// The count for `code` (0 when absent).
    public func count(_ code: String) -> Int { entries.first { $0.code == code }?.count ?? 0 }
}

/// One run: the ranks loaded together (a file, several files, or a directory of per-rank files).
public final class TraceRun: @unchecked Sendable {
    /// Ranks ordered by rank number.
    public var ranks: [RankTrace]
    /// Oddities about the run as a whole (duplicate ranks, missing ranks).
    public var warnings = Warnings()

    public init(ranks: [RankTrace]) { self.ranks = ranks }
}
