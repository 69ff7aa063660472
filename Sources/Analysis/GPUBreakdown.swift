import TraceModel

/// Why a GPU sat idle (docs/definitions.md, "GPU time").
public enum IdleCause: Int, CaseIterable, Sendable {
    case kernelGap, sync, hostBound, other

    /// The name used in reports and JSON.
    public var name: String {
        switch self {
        case .kernelGap: return "kernel_gap"
        case .sync: return "sync"
        case .hostBound: return "host_bound"
        case .other: return "other"
        }
    }
}

/// GPU busy and idle time of a rank over a window, split by what ran and why it idled.
public struct GPUBreakdown: Sendable, Equatable {
    public var busy: Int64 = 0
    public var idle: Int64 = 0
    public var compute: Int64 = 0
    public var communication: Int64 = 0
    public var memcpy: Int64 = 0
    public var memset: Int64 = 0
    /// Communication activity overlapped by compute (counted under `compute`).
    public var overlappedCommunication: Int64 = 0
    public var idleByCause = [Int64](repeating: 0, count: IdleCause.allCases.count)
    public init() {}

    /// Communication kernel time not overlapped by compute (equal to `communication`).
    public var exposedCommunication: Int64 { communication }
    /// All communication activity (its union): exposed plus overlapped.
    public var totalCommunication: Int64 { communication + overlappedCommunication }

    public subscript(cause: IdleCause) -> Int64 {
        get { idleByCause[cause.rawValue] }
        set { idleByCause[cause.rawValue] = newValue }
    }

    public static func += (a: inout GPUBreakdown, b: GPUBreakdown) {
        a.busy += b.busy; a.idle += b.idle
        a.compute += b.compute; a.communication += b.communication
        a.memcpy += b.memcpy; a.memset += b.memset
        a.overlappedCommunication += b.overlappedCommunication
        for i in a.idleByCause.indices { a.idleByCause[i] += b.idleByCause[i] }
    }
}

/// Precomputed GPU facts of a rank, queried per step window.
struct GPUTimeline: Sendable {
    /// Activity class in precedence order: compute, communication, memcpy, memset.
    enum Kind: Int, Sendable { case compute, communication, memcpy, memset }

    /// One device's activities in start order, as slice indices (5 bytes an activity, not a copy
    /// of their times: a capture holds millions).
    struct Device: Sendable {
        var slices: [UInt32] = []
        var kinds: [Kind] = []
        /// Per block of `GPUTimeline.blockSize` activities, the latest end among the activities up
        /// to the block's end (so a window's first overlapping activity is found by binary search).
        var blockReach: [Int64] = []
        var count: Int { slices.count }
        var isEmpty: Bool { slices.isEmpty }
    }

    /// The clipped ends of the activities open during a sweep, earliest first (a binary min-heap:
    /// a window holds millions of activities, but only a few are open at once).
    struct OpenEnds {
        private var heap: [(t: Int64, kind: Kind)] = []
        var earliest: Int64? { heap.first?.t }

        mutating func push(_ t: Int64, _ kind: Kind) {
            heap.append((t, kind))
            var i = heap.count - 1
            while i > 0, heap[(i - 1) / 2].t > heap[i].t {
                heap.swapAt(i, (i - 1) / 2)
                i = (i - 1) / 2
            }
        }

        /// Removes the earliest end and returns its activity's kind.
        mutating func pop() -> Kind {
            let kind = heap[0].kind
            let last = heap.removeLast()
            guard !heap.isEmpty else { return kind }
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && heap[l].t < heap[m].t { m = l }
                if r < heap.count && heap[r].t < heap[m].t { m = r }
                if m == i { return kind }
                heap.swapAt(i, m)
                i = m
            }
        }
    }

    /// Activities per device, sorted by start.
    var devices: [Device] = []
    /// Device index by the pid of its stream tracks.
    var deviceIndex: [UInt32: Int] = [:]
    /// The trace's slice starts, durations and launch links, which the activities index (shared
    /// with the trace, not copied).
    let start: PackedColumn<Int64>
    let dur: PackedColumn<Int64>
    let launcher: PackedColumn<Int32>
    /// Merged intervals of synchronisation calls on the host.
    var syncs: [Range<Int64>] = []

    static let blockShift = 6
    static var blockSize: Int { 1 << blockShift }
    static let shortGap: Int64 = 10_000
    static let syncNames: Set<String> = [
        "cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize", "cudaStreamWaitEvent",
        "hipDeviceSynchronize", "hipStreamSynchronize", "hipEventSynchronize", "hipStreamWaitEvent",
    ]

    init(_ trace: RankTrace) {
        let s = trace.slices
        (start, dur, launcher) = (s.start, s.dur, s.launcher)
        var byDevice: [UInt32: Int] = [:]
        var communicationName: [UInt32: Bool] = [:]
        // Each device's room reserved once, for all its streams' slices (reserving per stream would
        // copy the list once per stream).
        var slicesOfDevice: [UInt32: Int] = [:]
        for t in trace.gpuTracks { slicesOfDevice[trace.tracks.pid[t], default: 0] += trace.tracks.sliceRange[t].count }
        for t in trace.gpuTracks {
            let pid = trace.tracks.pid[t]
            let d: Int
            if let found = byDevice[pid] { d = found } else {
                d = devices.count
                byDevice[pid] = d
                devices.append(Device())
                devices[d].slices.reserveCapacity(slicesOfDevice[pid]!)
            }
            for i in trace.tracks.sliceRange[t] where s.kind[i].isGPUActivity && s.dur[i] > 0 { devices[d].slices.append(UInt32(i)) }
        }
        for d in devices.indices {
            // Ties in start go by slice index, so the order does not depend on the sort.
            devices[d].slices.sort { a, b in
                let x = start[Int(a)], y = start[Int(b)]
                return x != y ? x < y : a < b
            }
            devices[d].kinds = devices[d].slices.map { k in
                let i = Int(k)
                switch s.kind[i] {
                case .memcpy: return .memcpy
                case .memset: return .memset
                case .communication: return .communication
                default:
                    if let known = communicationName[s.name[i]] { return known ? .communication : .compute }
                    let lower = trace.strings[s.name[i]].lowercased()
                    let comm = lower.hasPrefix("nccl") || lower.hasPrefix("rccl")
                    communicationName[s.name[i]] = comm
                    return comm ? .communication : .compute
                }
            }
            var reach = Int64.min
            var blocks: [Int64] = []
            blocks.reserveCapacity((devices[d].count >> Self.blockShift) + 1)
            for n in 0..<devices[d].count {
                reach = max(reach, end(devices[d], n))
                if n & (Self.blockSize - 1) == Self.blockSize - 1 || n == devices[d].count - 1 { blocks.append(reach) }
            }
            devices[d].blockReach = blocks
        }
        deviceIndex = byDevice
        var syncIntervals: [Range<Int64>] = []
        var syncNameIDs = Set<UInt32>()
        for name in Self.syncNames { if let id = trace.strings.lookup(name) { syncNameIDs.insert(id) } }
        if !syncNameIDs.isEmpty {
            for i in 0..<s.count where s.kind[i].isLaunch && syncNameIDs.contains(s.name[i]) && s.dur[i] > 0 {
                syncIntervals.append(s.start[i]..<s.start[i] + s.dur[i])
            }
        }
        syncs = Analyzer.mergeIntervals(syncIntervals)
    }

    @inline(__always) func start(_ device: Device, _ n: Int) -> Int64 { start[Int(device.slices[n])] }
    @inline(__always) func end(_ device: Device, _ n: Int) -> Int64 {
        let i = Int(device.slices[n])
        return start[i] + dur[i]
    }
    /// Start of the call that launched activity `n`, or `Int64.min` when unlinked.
    @inline(__always) func launchStart(_ device: Device, _ n: Int) -> Int64 {
        guard !launcher.isEmpty else { return .min }
        let l = Int(launcher[Int(device.slices[n])])
        return l >= 0 ? start[l] : .min
    }

    /// The first activity of `device` that ends after `t`, such that every one before it ends
    /// by `t` (the count when none).
    func firstEnding(after t: Int64, _ device: Device) -> Int {
        let b = device.blockReach.partitionPoint { $0 > t }
        guard b < device.blockReach.count else { return device.count }
        var n = b << Self.blockShift
        while end(device, n) <= t { n += 1 }
        return n
    }

    var isEmpty: Bool { devices.allSatisfy(\.isEmpty) }

    /// The breakdown over `window`, summed over devices.
    func breakdown(_ window: Range<Int64>) -> GPUBreakdown {
        var total = GPUBreakdown()
        for d in devices.indices where !devices[d].isEmpty { total += breakdown(device: d, window) }
        return total
    }

    /// The host-bound parts of the devices' idle gaps in `window` (merged over devices).
    func hostBoundIntervals(_ window: Range<Int64>) -> [Range<Int64>] {
        var parts: [Range<Int64>]? = []
        for d in devices.indices where !devices[d].isEmpty { _ = breakdown(device: d, window, hostBound: &parts) }
        return Analyzer.mergeIntervals(parts ?? [])
    }

    private func breakdown(device d: Int, _ window: Range<Int64>) -> GPUBreakdown {
        var ignored: [Range<Int64>]?
        return breakdown(device: d, window, hostBound: &ignored)
    }

    /// The breakdown of one device; the host-bound parts of its gaps go to `hostBound` when it is not nil.
    private func breakdown(device d: Int, _ window: Range<Int64>, hostBound: inout [Range<Int64>]?) -> GPUBreakdown {
        let device = devices[d]
        var b = GPUBreakdown()
        // A sweep over the window's boundaries in time order, ends before starts at the same
        // instant (so touching activities leave no zero-length gap): starts in activity order,
        // clipped to the window, and ends from the open activities. Every activity before the
        // binary search's index ends by the window's start; from the first that starts at the
        // window's end on, none overlaps it.
        var n = firstEnding(after: window.lowerBound, device)
        var open = OpenEnds()
        var active = [0, 0, 0, 0]
        var cursor = window.lowerBound
        var idleSince: Int64? = window.lowerBound
        while true {
            while n < device.count && start(device, n) < window.upperBound && end(device, n) <= window.lowerBound { n += 1 }
            let nextStart = n < device.count && start(device, n) < window.upperBound ? max(start(device, n), window.lowerBound) : nil
            let isEnd: Bool
            let t: Int64
            if let end = open.earliest, nextStart.map({ end <= $0 }) ?? true { (isEnd, t) = (true, end) }
            else if let start = nextStart { (isEnd, t) = (false, start) }
            else { break }
            if t > cursor {
                if let top = active.firstIndex(where: { $0 > 0 }) {
                    let span = t - cursor
                    b.busy += span
                    switch Kind(rawValue: top)! {
                    case .compute: b.compute += span
                    case .communication: b.communication += span
                    case .memcpy: b.memcpy += span
                    case .memset: b.memset += span
                    }
                    if top == Kind.compute.rawValue && active[Kind.communication.rawValue] > 0 { b.overlappedCommunication += span }
                }
                cursor = t
            }
            if isEnd {
                active[open.pop().rawValue] -= 1
                if active.allSatisfy({ $0 == 0 }) { idleSince = t }
                continue
            }
            if let since = idleSince {
                if t > since {
                    // Every activity starting at this instant ends the gap, whatever the file order
                    // (past the window's start, those are the next ones starting exactly then).
                    var last = n
                    while last < device.count && start(device, last) == t { last += 1 }
                    addGap(since..<t, endedBy: n..<last, of: device, into: &b, hostBound: &hostBound)
                }
                idleSince = nil
            }
            let kind = device.kinds[n]
            open.push(min(end(device, n), window.upperBound), kind)
            active[kind.rawValue] += 1
            n += 1
        }
        if let since = idleSince, since < window.upperBound { addGap(since..<window.upperBound, endedBy: 0..<0, of: device, into: &b, hostBound: &hostBound) }
        return b
    }

    /// Classifies an idle gap ended by the activities `enders` of `device` (none: the window's end).
    private func addGap(_ gap: Range<Int64>, endedBy enders: Range<Int>, of device: Device, into b: inout GPUBreakdown,
                        hostBound: inout [Range<Int64>]?) {
        let length = gap.upperBound - gap.lowerBound
        b.idle += length
        if !enders.isEmpty && length < Self.shortGap {
            b[.kernelGap] += length
            return
        }
        let synced = overlap(of: gap, with: syncs)
        b[.sync] += synced
        let late = enders.contains { launchStart(device, $0) > gap.lowerBound }
        b[late ? .hostBound : .other] += length - synced
        if late && hostBound != nil { hostBound! += Analyzer.subtractIntervals([gap], syncs) }
    }
}
