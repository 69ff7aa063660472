/// What a slice is, from its trace category (both Kineto schemas map onto these; MTIA's device
/// events `mtia_ccp_events` are kernels, its `mtia_runtime` calls launches).
public enum SliceKind: UInt8, Sendable, CaseIterable {
    case cpuOp, userAnnotation, gpuUserAnnotation, kernel, memcpy, memset, runtime, driver
    case pythonFunction, cudaSync, trace, other
    /// A communication task on a device stream that is not a named collective kernel (HCCL's
    /// `Notify Wait`, `SDMA`, ... on an Ascend stream).
    case communication

    /// The kind for a category name as written in a trace.
    public init(category: String) {
        switch category {
        case "cpu_op", "Operator": self = .cpuOp
        case "user_annotation": self = .userAnnotation
        case "gpu_user_annotation": self = .gpuUserAnnotation
        case "kernel", "Kernel", "mtia_ccp_events": self = .kernel
        case "gpu_memcpy", "Memcpy": self = .memcpy
        case "gpu_memset", "Memset": self = .memset
        case "cuda_runtime", "Runtime", "mtia_runtime": self = .runtime
        case "cuda_driver": self = .driver
        case "python_function": self = .pythonFunction
        case "cuda_sync": self = .cudaSync
        case "Trace": self = .trace
        default: self = .other
        }
    }

    /// Work that runs on a GPU stream (not annotations).
    public var isGPUActivity: Bool { self == .kernel || self == .memcpy || self == .memset || self == .communication }
    /// Anything drawn on a GPU stream track.
    public var isGPU: Bool { isGPUActivity || self == .gpuUserAnnotation }
    /// A host call that can launch GPU work and carries a `correlation` id.
    public var isLaunch: Bool { self == .runtime || self == .driver }
}

/// What a track is.
public enum TrackKind: UInt8, Sendable {
    case cpuThread, gpuStream, async, spans
}

/// Tracks (threads, GPU streams, async lanes) of one rank, struct-of-arrays.
public struct TrackTable: Sendable {
    /// pid text (interned), as written in the trace.
    public var pid: [UInt32] = []
    /// tid text (interned), as written in the trace.
    public var tid: [UInt32] = []
    public var kind: [TrackKind] = []
    /// Thread name from `thread_name` metadata (0 when none).
    public var name: [UInt32] = []
    public var sortIndex: [Int64] = []
    /// Slices of track t are `sliceRange[t]` in the slice table (sorted by start) once finalized.
    public var sliceRange: [Range<Int>] = []

    public init() {}
    public var count: Int { pid.count }
}

/// Slices (X events and matched B/E pairs) of one rank, struct-of-arrays.
///
/// After import, the slices of each track are contiguous and ordered by start, then duration
/// descending, so `parent` always precedes its children.
public struct SliceTable: Sendable {
    /// Absolute start, ns (packed: a block of a track's slices spans a few bytes of time).
    public var start = PackedColumn<Int64>()
    /// Duration as written, ns.
    public var dur = PackedColumn<Int64>()
    /// How much nesting cut off the end: end as written minus `nestEnd(i)` (0 unless the slice
    /// outlived a slice that began inside it).
    public var clip = PackedColumn<Int64>()
    public var name = PackedColumn<UInt32>()
    public var category = PackedColumn<UInt32>()
    public var kind: [SliceKind] = []
    public var track = PackedColumn<UInt32>()
    public var depth = PackedColumn<UInt16>()
    /// Parent slice index, or -1.
    public var parent = ParentColumn()
    /// `correlation` arg, or -1.
    public var correlation = PackedColumn<Int64>()
    /// `External id` arg, or -1.
    public var externalID = PackedColumn<Int64>()
    /// Args of slice i are `args[argStart[i] ..< argStart[i] + argCount[i]]`.
    public var argStart = PackedColumn<UInt32>()
    public var argCount = PackedColumn<UInt16>()
    /// For GPU activity: the slice that launched it (runtime call or operator), or -1.
    public var launcher = PackedColumn<Int32>()

    public init() {}
    public var count: Int { start.count }

    /// End as written (start + dur).
    @inline(__always) public func end(_ i: Int) -> Int64 { start[i] + dur[i] }
    /// End used for nesting: the end clipped to the parent's nesting end.
    @inline(__always) public func nestEnd(_ i: Int) -> Int64 { start[i] + dur[i] - clip[i] }
}

/// Event args as (key, value) pairs, packed once imported (`PackedColumn`: an nsys kernel's two
/// args take ~3 bytes instead of 24). A value is an inline integer or the interned raw JSON text.
public struct ArgTable: Sendable {
    public private(set) var key = PackedColumn<UInt32>()
    public private(set) var value = ArgValues()
    public init() {}

    /// Packs the pairs of `keys` and `values` (as many of each).
    public init(keys: [UInt32], values: [ArgValue]) {
        key = PackedColumn(keys)
        value = ArgValues(bits: PackedColumn(values.lazy.map { $0.bits }))
    }

    public var count: Int { key.count }

    /// Appends `other`'s rows with keys and text values mapped by `remap`; `other` is emptied.
    public mutating func append(contentsOf other: inout ArgTable, remap: RowRemap) {
        let theirs = other
        other = ArgTable()
        self = ArgTable(keys: Array(key) + theirs.key.map { remap.strings[Int($0)] },
                        values: Array(value) + theirs.value.map { $0.remapped(remap) })
    }
}

/// The values of an `ArgTable`, packed.
public struct ArgValues: RandomAccessCollection, Sendable {
    @usableFromInline let bits: PackedColumn<UInt64>
    init(bits: PackedColumn<UInt64> = PackedColumn()) { self.bits = bits }
    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { bits.count }
    @inlinable public subscript(i: Int) -> ArgValue { ArgValue(bits: bits[i]) }
}

/// An arg value: an integer stored inline, or the id of its raw JSON text (strings keep their quotes).
public struct ArgValue: Sendable, Equatable {
    public let bits: UInt64
    @inline(__always) public init(integer: Int64) { bits = (UInt64(bitPattern: integer) << 1) | 1 }
    @inline(__always) public init(text: UInt32) { bits = UInt64(text) << 1 }
    @inlinable @inline(__always) init(bits: UInt64) { self.bits = bits }
    public var isInteger: Bool { bits & 1 == 1 }
    /// The integer, when `isInteger` (integers of up to 63 bits are inline).
    public var integer: Int64 { Int64(bitPattern: bits) >> 1 }
    /// The raw JSON text id, when not `isInteger`.
    public var text: UInt32 { UInt32(truncatingIfNeeded: bits >> 1) }
    /// This value with its text id mapped by `remap` (an integer is kept).
    public func remapped(_ remap: RowRemap) -> ArgValue { isInteger ? self : ArgValue(text: remap.strings[Int(text)]) }
}

/// Instant events (`i`/`I`) other than memory events.
public struct InstantTable: Sendable {
    public var ts: [Int64] = []
    public var track: [UInt32] = []
    public var name: [UInt32] = []
    /// Scope letter: t(hread), p(rocess) or g(lobal).
    public var scope: [UInt8] = []
    public var argStart: [UInt32] = []
    public var argCount: [UInt16] = []
    public init() {}
    public var count: Int { ts.count }

    /// Appends `other`'s rows with ids, tracks and arg positions mapped by `remap`; `other` is emptied.
    public mutating func append(contentsOf other: inout InstantTable, remap: RowRemap) {
        ts += other.ts
        track.append(contentsOf: other.track.lazy.map { remap.tracks[Int($0)] })
        name.append(contentsOf: other.name.lazy.map { remap.strings[Int($0)] })
        scope += other.scope
        argStart.append(contentsOf: other.argStart.lazy.map { $0 + remap.argBase })
        argCount += other.argCount
        other = InstantTable()
    }

    /// Applies `shift` to every time.
    public mutating func shiftTimes<E: Error>(_ shift: (Int64) throws(E) -> Int64) throws(E) {
        for i in ts.indices { ts[i] = try shift(ts[i]) }
    }
}

/// `[memory]` events: one allocation (bytes > 0) or free (bytes < 0) each.
public struct MemoryTable: Sendable {
    public var ts: [Int64] = []
    public var track: [UInt32] = []
    public var bytes: [Int64] = []
    public var totalAllocated: [Int64] = []
    public var totalReserved: [Int64] = []
    public var addr: [Int64] = []
    public var deviceType: [Int8] = []
    public var deviceID: [Int16] = []
    public init() {}
    public var count: Int { ts.count }

    /// Appends `other`'s rows with tracks mapped by `remap`; `other` is emptied.
    public mutating func append(contentsOf other: inout MemoryTable, remap: RowRemap) {
        ts += other.ts
        track.append(contentsOf: other.track.lazy.map { remap.tracks[Int($0)] })
        bytes += other.bytes
        totalAllocated += other.totalAllocated
        totalReserved += other.totalReserved
        addr += other.addr
        deviceType += other.deviceType
        deviceID += other.deviceID
        other = MemoryTable()
    }

    /// Applies `shift` to every time.
    public mutating func shiftTimes<E: Error>(_ shift: (Int64) throws(E) -> Int64) throws(E) {
        for i in ts.indices { ts[i] = try shift(ts[i]) }
    }
}

/// Device allocations with the operator that made them (torch_npu's `operator_memory.csv` and
/// `OP_MEMORY`): one row per allocation, sizes in bytes, times in ns.
public struct OperatorAllocationTable: Sendable {
    /// The operator's name (interned).
    public var name: [UInt32] = []
    public var bytes: [Int64] = []
    public var allocated: [Int64] = []
    /// When it was released, or `notReleased` when the capture holds no release.
    public var released: [Int64] = []
    public var deviceType: [Int8] = []
    public var deviceID: [Int16] = []
    public init() {}
    public var count: Int { name.count }
    /// `released` of an allocation still live when the capture ended.
    public static let notReleased = Int64.max

    /// Appends `other`'s rows with names mapped by `remap`; `other` is emptied.
    public mutating func append(contentsOf other: inout OperatorAllocationTable, remap: RowRemap) {
        name.append(contentsOf: other.name.lazy.map { remap.strings[Int($0)] })
        bytes += other.bytes
        allocated += other.allocated
        released += other.released
        deviceType += other.deviceType
        deviceID += other.deviceID
        other = OperatorAllocationTable()
    }

    /// Applies `shift` to every time.
    public mutating func shiftTimes<E: Error>(_ shift: (Int64) throws(E) -> Int64) throws(E) {
        for i in allocated.indices {
            allocated[i] = try shift(allocated[i])
            if released[i] != Self.notReleased { released[i] = try shift(released[i]) }
        }
    }
}

/// Counter samples (`C` events): one row per (event, series).
public struct CounterTable: Sendable {
    public var ts: [Int64] = []
    public var pid: [UInt32] = []
    /// Counter name and series key (interned).
    public var name: [UInt32] = []
    public var series: [UInt32] = []
    public var value: [Double] = []
    public init() {}
    public var count: Int { ts.count }

    /// Appends `other`'s rows with ids mapped by `remap`; `other` is emptied.
    public mutating func append(contentsOf other: inout CounterTable, remap: RowRemap) {
        ts += other.ts
        pid.append(contentsOf: other.pid.lazy.map { remap.strings[Int($0)] })
        name.append(contentsOf: other.name.lazy.map { remap.strings[Int($0)] })
        series.append(contentsOf: other.series.lazy.map { remap.strings[Int($0)] })
        value += other.value
        other = CounterTable()
    }

    /// Applies `shift` to every time.
    public mutating func shiftTimes<E: Error>(_ shift: (Int64) throws(E) -> Int64) throws(E) {
        for i in ts.indices { ts[i] = try shift(ts[i]) }
    }
}

/// How rows of one partial trace map into another when the two are merged (the halves of a split
/// parse): string ids, track ids and the offset of the appended args.
public struct RowRemap {
    /// New string id per old string id.
    public var strings: [UInt32]
    /// New track per old track.
    public var tracks: [UInt32]
    /// Where the appended args begin in the merged arg table.
    public var argBase: UInt32
    public init(strings: [UInt32], tracks: [UInt32], argBase: UInt32) {
        self.strings = strings
        self.tracks = tracks
        self.argBase = argBase
    }
}
