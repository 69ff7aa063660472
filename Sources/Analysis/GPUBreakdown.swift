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

    /// A start or end of an activity inside a window (16 bytes: a window can hold millions).
    struct Boundary {
        var t: Int64
        /// The activity's index for its start, its bitwise complement (negative) for its end.
        var ref: Int32
        var isStart: Bool { ref >= 0 }
        var activity: Int { Int(ref >= 0 ? ref : ~ref) }
    }

    /// Activities per device, sorted by start.
    var devices: [[Activity]] = []
    /// Device index by the pid of its stream tracks.
    var deviceIndex: [UInt32: Int] = [:]
    /// Per device, the latest end among its activities up to each index (so a window's first
    /// overlapping activity is found by binary search).
    var endsSoFar: [[Int64]] = []
    /// Merged intervals of compute kernels per device.
    var computeCover: [[Range<Int64>]] = []
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
        for t in trace.gpuTracks {
            let pid = trace.tracks.pid[t]
            let d: Int
            if let found = byDevice[pid] { d = found } else {
                d = devices.count
                byDevice[pid] = d
                devices.append([])
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
        computeCover = devices.map { list in Analyzer.mergeIntervals(list.filter { $0.kind == .compute }.map { $0.start..<$0.end }) }
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
        // Boundary events inside the window: +1/-1 per kind; starts carry their activity. Every
        // activity before the binary search's index ends by the window's start; from the first
        // that starts at the window's end on, none overlaps it.
        var events: [Boundary] = []
        var n = endsSoFar[d].partitionPoint { $0 > window.lowerBound }
        while n < activities.count && activities[n].start < window.upperBound {
            let a = activities[n]
            if a.end > window.lowerBound {
                events.append(Boundary(t: max(a.start, window.lowerBound), ref: Int32(n)))
                events.append(Boundary(t: min(a.end, window.upperBound), ref: ~Int32(n)))
            }
            n += 1
        }
        // Ends (negative refs) before starts at the same time, so touching activities leave no
        // zero-length gap.
        events.sort { $0.t != $1.t ? $0.t < $1.t : $0.ref < $1.ref }
        var active = [0, 0, 0, 0]
        var cursor = window.lowerBound
        var idleSince: Int64? = window.lowerBound
        for (k, e) in events.enumerated() {
            if e.t > cursor {
                if let top = active.firstIndex(where: { $0 > 0 }) {
                    let span = e.t - cursor
                    b.busy += span
                    switch Kind(rawValue: top)! {
                    case .compute: b.compute += span
                    case .communication: b.communication += span
                    case .memcpy: b.memcpy += span
                    case .memset: b.memset += span
                    }
                    if top == Kind.compute.rawValue && active[Kind.communication.rawValue] > 0 { b.overlappedCommunication += span }
                }
                cursor = e.t
            }
            if e.isStart, let since = idleSince {
                if e.t > since {
                    // Every activity starting at this instant ends the gap, whatever the file order.
                    let enders = events[k...].prefix { $0.t == e.t }.filter(\.isStart).map { activities[$0.activity] }
                    addGap(since..<e.t, endedBy: enders, into: &b, hostBound: &hostBound)
                }
                idleSince = nil
            }
            active[activities[e.activity].kind.rawValue] += e.isStart ? 1 : -1
            if !e.isStart && active.allSatisfy({ $0 == 0 }) { idleSince = e.t }
        }
        if let since = idleSince, since < window.upperBound { addGap(since..<window.upperBound, endedBy: [], into: &b, hostBound: &hostBound) }
        return b
    }

    /// Classifies an idle gap ended by the activities `enders` (none: the window's end).
    private func addGap(_ gap: Range<Int64>, endedBy enders: [Activity], into b: inout GPUBreakdown,
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
