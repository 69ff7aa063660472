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

    struct Activity: Sendable {
        var start: Int64
        var end: Int64
        /// Start of the launching call, or `Int64.min` when unlinked.
        var launchStart: Int64
        var kind: Kind
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
    var devices: [[Activity]] = []
    /// Device index by the pid of its stream tracks.
    var deviceIndex: [UInt32: Int] = [:]
    /// Per device, the latest end among its activities up to each index (so a window's first
    /// overlapping activity is found by binary search).
    var endsSoFar: [[Int64]] = []
    /// Merged intervals of synchronisation calls on the host.
    var syncs: [Range<Int64>] = []

    static let shortGap: Int64 = 10_000
    static let syncNames: Set<String> = [
        "cudaDeviceSynchronize", "cudaStreamSynchronize", "cudaEventSynchronize", "cudaStreamWaitEvent",
        "hipDeviceSynchronize", "hipStreamSynchronize", "hipEventSynchronize", "hipStreamWaitEvent",
    ]

    init(_ trace: RankTrace) {
        let s = trace.slices
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
                devices.append([])
                devices[d].reserveCapacity(slicesOfDevice[pid]!)
            }
            for i in trace.tracks.sliceRange[t] where s.kind[i].isGPUActivity && s.dur[i] > 0 {
                let kind: Kind
                switch s.kind[i] {
                case .memcpy: kind = .memcpy
                case .memset: kind = .memset
                case .communication: kind = .communication
                default:
                    if let known = communicationName[s.name[i]] {
                        kind = known ? .communication : .compute
                    } else {
                        let lower = trace.strings[s.name[i]].lowercased()
                        let comm = lower.hasPrefix("nccl") || lower.hasPrefix("rccl")
                        communicationName[s.name[i]] = comm
                        kind = comm ? .communication : .compute
                    }
                }
                let l = s.launcher.isEmpty ? -1 : Int(s.launcher[i])
                devices[d].append(Activity(start: s.start[i], end: s.start[i] + s.dur[i], launchStart: l >= 0 ? s.start[l] : .min,
                                           kind: kind))
            }
        }
        for d in devices.indices { devices[d].sort { $0.start < $1.start } }
        endsSoFar = devices.map { list in
            var latest = Int64.min
            return list.map { a in
                latest = max(latest, a.end)
                return latest
            }
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
        let activities = devices[d]
        var b = GPUBreakdown()
        // A sweep over the window's boundaries in time order, ends before starts at the same
        // instant (so touching activities leave no zero-length gap): starts in activity order,
        // clipped to the window, and ends from the open activities. Every activity before the
        // binary search's index ends by the window's start; from the first that starts at the
        // window's end on, none overlaps it.
        var n = endsSoFar[d].partitionPoint { $0 > window.lowerBound }
        var open = OpenEnds()
        var active = [0, 0, 0, 0]
        var cursor = window.lowerBound
        var idleSince: Int64? = window.lowerBound
        while true {
            while n < activities.count && activities[n].start < window.upperBound && activities[n].end <= window.lowerBound { n += 1 }
            let nextStart = n < activities.count && activities[n].start < window.upperBound ? max(activities[n].start, window.lowerBound) : nil
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
                    let enders = activities[n...].prefix { $0.start == t }
                    addGap(since..<t, endedBy: enders, into: &b, hostBound: &hostBound)
                }
                idleSince = nil
            }
            let a = activities[n]
            open.push(min(a.end, window.upperBound), a.kind)
            active[a.kind.rawValue] += 1
            n += 1
        }
        if let since = idleSince, since < window.upperBound { addGap(since..<window.upperBound, endedBy: [], into: &b, hostBound: &hostBound) }
        return b
    }

    /// Classifies an idle gap ended by the activities `enders` (none: the window's end).
    private func addGap(_ gap: Range<Int64>, endedBy enders: ArraySlice<Activity>, into b: inout GPUBreakdown,
                        hostBound: inout [Range<Int64>]?) {
        let length = gap.upperBound - gap.lowerBound
        b.idle += length
        if !enders.isEmpty && length < Self.shortGap {
            b[.kernelGap] += length
            return
        }
        let synced = overlap(of: gap, with: syncs)
        b[.sync] += synced
        let late = enders.contains { $0.launchStart > gap.lowerBound }
        b[late ? .hostBound : .other] += length - synced
        if late && hostBound != nil { hostBound! += Analyzer.subtractIntervals([gap], syncs) }
    }
}
