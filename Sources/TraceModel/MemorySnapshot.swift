// A PyTorch memory snapshot (`torch.cuda.memory._dump_snapshot`): per device, the allocator's
// trace events and the state the segments imply at the start of the trace (docs/memory-snapshots.md).

/// What an allocator trace event does.
public enum SnapshotAction: UInt8, Sendable, CaseIterable {
    case alloc, freeRequested, freeCompleted, segmentAlloc, segmentFree, segmentMap, segmentUnmap, oom, snapshot

    /// The name PyTorch writes in `action`.
    public var name: String {
        switch self {
        case .alloc: return "alloc"
        case .freeRequested: return "free_requested"
        case .freeCompleted: return "free_completed"
        case .segmentAlloc: return "segment_alloc"
        case .segmentFree: return "segment_free"
        case .segmentMap: return "segment_map"
        case .segmentUnmap: return "segment_unmap"
        case .oom: return "oom"
        case .snapshot: return "snapshot"
        }
    }

    /// Whether the event changes allocated or reserved bytes (the replay's totals).
    public var changesTotals: Bool {
        switch self {
        case .alloc, .freeCompleted, .segmentAlloc, .segmentFree, .segmentMap, .segmentUnmap: return true
        case .freeRequested, .oom, .snapshot: return false
        }
    }

    /// The action named `name`, or nil for one this reader does not know.
    public init?(name: String) {
        guard let a = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = a
    }
}

/// One device's trace events, struct-of-arrays, in trace order.
public struct SnapshotEventTable: Sendable {
    public var action: [SnapshotAction] = []
    public var addr: [Int64] = []
    public var size: [Int64] = []
    /// Allocation stack (index into `MemorySnapshot.stacks`), -1 when the event has no frames.
    public var stack: [Int32] = []
    /// `time_us` in ns; empty when the snapshot records no times.
    public var ts: [Int64] = []
    /// `device_free` of `oom` events (bytes the device still had), by event index.
    public var deviceFree: [Int: Int64] = [:]
    public init() {}
    public var count: Int { action.count }
}

/// A block live when the trace began (derived from the segments at the end and the trace).
public struct SnapshotBlock: Sendable, Equatable {
    public var addr: Int64
    public var size: Int64
    /// Allocation stack, -1 when unknown (allocated before the trace began, no frames kept).
    public var stack: Int32
    public init(addr: Int64, size: Int64, stack: Int32) {
        self.addr = addr
        self.size = size
        self.stack = stack
    }
}

/// One device of a snapshot: its events and the state at the start of its trace.
public struct SnapshotDevice: Sendable {
    /// Device index (the position in `device_traces`, and `device` of its segments).
    public var device: Int
    public var events = SnapshotEventTable()
    /// Blocks allocated when the trace began, by address.
    public var initialBlocks: [SnapshotBlock] = []
    /// Reserved bytes (segments' sizes) when the trace began.
    public var initialReserved: Int64 = 0
    /// Reserved bytes at the end: the sum of the device's segments' `total_size`.
    public var finalReserved: Int64 = 0
    /// Number of segments at the end.
    public var segmentCount = 0
    public init(device: Int) { self.device = device }
}

/// A memory snapshot: devices with events, and the frames and stacks they refer to.
public final class MemorySnapshot: @unchecked Sendable {
    /// Frames (`name`, `filename`, `line`), names and files interned in the rank's string table.
    public var frames = FrameTable()
    /// Stacks as a prefix tree, outermost frame at the root.
    public var stacks = StackTable()
    /// Devices with a trace or with segments, by device index.
    public var devices: [SnapshotDevice] = []
    /// Whether the events carry `time_us` (else event times are their index in the trace).
    public var hasTimes = false
    public init() {}
}

/// Steps through one device's events from its initial state: allocated and reserved bytes after
/// each event, and the live blocks by address. The one replay every reader of a snapshot uses.
public struct SnapshotReplay {
    /// Live blocks: address -> (size, stack, index of the allocating event or -1 before the trace).
    public private(set) var live: [Int64: (size: Int64, stack: Int32, event: Int)] = [:]
    public private(set) var allocated: Int64 = 0
    public private(set) var reserved: Int64
    /// Frees of an address that is not live (none when the state was derived from the same trace).
    public private(set) var unmatchedFrees = 0
    let device: SnapshotDevice

    /// The state before the first event.
    public init(_ device: SnapshotDevice) {
        self.device = device
        reserved = device.initialReserved
        for b in device.initialBlocks {
            live[b.addr] = (b.size, b.stack, -1)
            allocated += b.size
        }
    }

    /// Applies event `i`: `alloc` adds a block, `free_completed` removes it (a block stays
    /// allocated while its free is only requested), segment events change reserved.
    public mutating func apply(_ i: Int) {
        let e = device.events
        switch e.action[i] {
        case .alloc:
            if let old = live.updateValue((e.size[i], e.stack[i], i), forKey: e.addr[i]) { allocated -= old.size }
            allocated += e.size[i]
        case .freeCompleted:
            if let old = live.removeValue(forKey: e.addr[i]) { allocated -= old.size } else { unmatchedFrees += 1 }
        case .segmentAlloc, .segmentMap: reserved += e.size[i]
        case .segmentFree, .segmentUnmap: reserved -= e.size[i]
        case .freeRequested, .oom, .snapshot: break
        }
    }
}
