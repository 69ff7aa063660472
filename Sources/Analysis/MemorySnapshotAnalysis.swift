import TraceModel

/// Live blocks that share one folded allocation stack.
public struct SnapshotStackGroup: Sendable, Equatable {
    /// The folded stack, outermost frame first (a run of library frames is one entry).
    public var frames: [String]
    /// Sum of the blocks' sizes.
    public var bytes: Int64
    /// Number of blocks.
    public var count: Int
    public init(frames: [String], bytes: Int64, count: Int) {
        self.frames = frames
        self.bytes = bytes
        self.count = count
    }
    /// The folded stack, innermost (top) frame first, as the report prints it.
    public var stack: [String] { frames.reversed() }
}

/// The first `oom` event of a device and the state just before it.
public struct SnapshotOOM: Sendable, Equatable {
    /// Index of the event in the device's trace.
    public var event: Int
    /// Its time (ns), or its index when the snapshot records no times.
    public var ts: Int64
    /// Bytes the failed allocation asked for.
    public var requested: Int64
    /// `device_free`: bytes the device still had, when recorded.
    public var deviceFree: Int64?
    public var allocated: Int64
    public var reserved: Int64
    /// Live blocks just before it, grouped by stack, by bytes descending.
    public var live: [SnapshotStackGroup]
}

/// The replay of one device of a memory snapshot (docs/memory-snapshots.md).
public struct SnapshotDeviceMemory: Sendable, Equatable {
    /// Device index in the snapshot.
    public var device: Int
    /// Display name (`cuda:N`).
    public var name: String
    /// Trace events of the device.
    public var events: Int
    /// Whether times are real (`time_us`); else a time is the event's index.
    public var timed: Bool
    /// Allocated and reserved bytes before the first event (from the segments).
    public var initialAllocated: Int64
    public var initialReserved: Int64
    /// Highest allocated bytes, the first event reaching it (-1: the state before the trace) and its time.
    public var peakAllocated: Int64
    public var peakEvent: Int
    public var peakTs: Int64
    public var reservedAtPeak: Int64
    /// Highest reserved bytes over the trace.
    public var peakReserved: Int64
    /// Live blocks at the peak, grouped by folded stack, by bytes descending.
    public var liveAtPeak: [SnapshotStackGroup]
    public var oom: SnapshotOOM?
    /// Frees of addresses that were not live.
    public var unmatchedFrees: Int
    /// Allocated and reserved after each event that changes either (at its time, or its index).
    public var samples: MemorySamples

    public var liveCountAtPeak: Int { liveAtPeak.reduce(0) { $0 + $1.count } }

    /// The device as the memory analysis describes one (chart, peak), for the views and the diff.
    public var deviceMemory: DeviceMemory {
        var m = DeviceMemory(deviceType: 1, deviceID: device, name: name)
        m.samples = samples
        m.initialAllocated = initialAllocated
        m.peakAllocated = peakAllocated
        m.peakTs = peakTs
        m.reservedAtPeak = reservedAtPeak
        m.unmatchedFrees = unmatchedFrees
        return m
    }
}

/// One stack whose live bytes at the peak differ between two snapshots.
public struct SnapshotStackChange: Sendable, Equatable {
    public var device: String
    /// Folded stack, innermost first.
    public var stack: [String]
    public var baseBytes: Int64
    public var newBytes: Int64
    public var growth: Int64 { newBytes - baseBytes }
}

/// Peaks, live blocks by stack and out-of-memory events of a rank read from a memory snapshot.
public enum MemorySnapshotAnalysis {
    /// Every device of the rank's snapshot (none when the rank is not a snapshot).
    public static func analyze(_ trace: RankTrace) -> [SnapshotDeviceMemory] {
        guard let snap = trace.memorySnapshot else { return [] }
        let folder = StackFolder(trace: trace, snapshot: snap)
        return snap.devices.map { device($0, snapshot: snap, folder: folder) }
    }

    static func device(_ d: SnapshotDevice, snapshot: MemorySnapshot, folder: StackFolder) -> SnapshotDeviceMemory {
        let e = d.events
        func time(_ i: Int) -> Int64 { i < 0 ? 0 : (snapshot.hasTimes ? e.ts[i] : Int64(i)) }
        var replay = SnapshotReplay(d)
        let initialAllocated = replay.allocated
        var peak = (allocated: replay.allocated, event: -1, reserved: replay.reserved)
        var peakReserved = replay.reserved
        var oomEvent = -1
        var samples = MemorySamples()
        samples.ts.reserveCapacity(e.count); samples.allocated.reserveCapacity(e.count); samples.reserved.reserveCapacity(e.count)
        for i in 0..<e.count {
            if e.action[i] == .oom && oomEvent < 0 { oomEvent = i }
            replay.apply(i)
            if replay.allocated > peak.allocated { peak = (replay.allocated, i, replay.reserved) }
            peakReserved = max(peakReserved, replay.reserved)
            if e.action[i].changesTotals {
                samples.ts.append(time(i))
                samples.allocated.append(replay.allocated)
                samples.reserved.append(replay.reserved)
            }
        }
        let unmatched = replay.unmatchedFrees
        // Replay again up to the peak (and to just before the oom) for the live blocks there.
        var again = SnapshotReplay(d)
        var oom: SnapshotOOM?
        var liveAtPeak: [SnapshotStackGroup] = peak.event < 0 ? folder.groups(again) : []
        for i in 0..<e.count {
            if i == oomEvent {
                oom = SnapshotOOM(event: i, ts: time(i), requested: e.size[i], deviceFree: e.deviceFree[i],
                                  allocated: again.allocated, reserved: again.reserved, live: folder.groups(again))
            }
            if i > max(peak.event, oomEvent) { break }
            again.apply(i)
            if i == peak.event { liveAtPeak = folder.groups(again) }
        }
        return SnapshotDeviceMemory(device: d.device, name: DeviceMemory.deviceName(type: 1, id: d.device), events: e.count, timed: snapshot.hasTimes,
                                    initialAllocated: initialAllocated, initialReserved: d.initialReserved,
                                    peakAllocated: peak.allocated, peakEvent: peak.event, peakTs: time(peak.event),
                                    reservedAtPeak: peak.reserved, peakReserved: peakReserved, liveAtPeak: liveAtPeak,
                                    oom: oom, unmatchedFrees: unmatched, samples: samples)
    }

    /// Live bytes at the peak by device name and folded stack; a device name that several ranks
    /// share keeps each stack's largest bytes (and that group's count).
    public static func peakStacks(_ devices: [SnapshotDeviceMemory]) -> [String: [SnapshotStackGroup]] {
        var byDevice: [String: [[String]: SnapshotStackGroup]] = [:]
        for d in devices {
            for g in d.liveAtPeak where g.bytes > byDevice[d.name]?[g.frames]?.bytes ?? -1 { byDevice[d.name, default: [:]][g.frames] = g }
        }
        return byDevice.mapValues { groups in
            groups.values.sorted { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.frames.lexicographicallyPrecedes($1.frames) }
        }
    }

    /// Stacks whose live bytes at the peak grew from `base` to `new` (`peakStacks` of each run,
    /// matched by device name and folded stack), by growth descending.
    public static func grownStacks(base: [String: [SnapshotStackGroup]], new: [String: [SnapshotStackGroup]]) -> [SnapshotStackChange] {
        var out: [SnapshotStackChange] = []
        for (device, groups) in new {
            var before: [[String]: Int64] = [:]
            for g in base[device] ?? [] { before[g.frames, default: 0] += g.bytes }
            for g in groups where g.bytes > before[g.frames] ?? 0 {
                out.append(SnapshotStackChange(device: device, stack: g.stack, baseBytes: before[g.frames] ?? 0, newBytes: g.bytes))
            }
        }
        return out.sorted {
            if $0.growth != $1.growth { return $0.growth > $1.growth }
            if $0.device != $1.device { return $0.device < $1.device }
            return $0.stack.lexicographicallyPrecedes($1.stack)
        }
    }

    /// Whether a frame's file belongs to a library (installed packages, the standard library,
    /// the interpreter's own `<frozen ...>` modules, C++ sources) rather than the user's code.
    public static func isLibrary(file: String) -> Bool {
        file.contains("/site-packages/") || file.contains("/dist-packages/") || file.hasPrefix("<")
            || file.contains("/lib/python3") || file.hasSuffix(".cpp") || file.hasSuffix(".h") || file.hasSuffix(".cc")
            || file.hasSuffix(".cu") || file == "??" || file.isEmpty
    }

    /// A file as printed: the path inside its package for libraries, else its last component.
    public static func shortFile(_ file: String) -> String {
        for marker in ["/site-packages/", "/dist-packages/"] {
            let parts = file.split(separator: marker, maxSplits: 1)
            if parts.count == 2 { return String(parts[1]) }
        }
        return file.split(separator: "/").last.map(String.init) ?? file
    }
}

/// Folds snapshot stacks: user frames are kept, each run of library frames becomes its outermost
/// frame (where the user's code called in) with the number of frames folded.
struct StackFolder {
    let trace: RankTrace
    let snapshot: MemorySnapshot
    static let beforeTrace = "(allocated before the trace)"
    static let noFrames = "(no frames)"

    func frameText(_ f: Int32) -> String {
        let fr = snapshot.frames
        let file = trace.strings[fr.file[Int(f)]]
        return "\(trace.strings[fr.name[Int(f)]]) (\(MemorySnapshotAnalysis.shortFile(file)):\(fr.line[Int(f)]))"
    }

    func isLibrary(_ f: Int32) -> Bool {
        MemorySnapshotAnalysis.isLibrary(file: trace.strings[snapshot.frames.file[Int(f)]])
    }

    /// The folded frames of stack `s`, outermost first.
    func fold(_ s: Int32, beforeTrace: Bool) -> [String] {
        guard s >= 0 else { return [beforeTrace ? Self.beforeTrace : Self.noFrames] }
        let frames = snapshot.stacks.frames(s)
        var out: [String] = []
        var i = 0
        while i < frames.count {
            if !isLibrary(frames[i]) { out.append(frameText(frames[i])); i += 1; continue }
            var j = i + 1
            while j < frames.count && isLibrary(frames[j]) { j += 1 }
            let n = j - i
            out.append(frameText(frames[i]) + (n > 1 ? " +\(n - 1) library frames" : ""))
            i = j
        }
        return out
    }

    /// The replay's live blocks grouped by folded stack, by bytes descending.
    func groups(_ replay: SnapshotReplay) -> [SnapshotStackGroup] {
        var byStack: [Int64: (bytes: Int64, count: Int)] = [:]  // (stack, before the trace) -> totals
        for (_, b) in replay.live {
            let key = Int64(b.stack) << 1 | (b.event < 0 ? 1 : 0)
            byStack[key, default: (0, 0)].bytes += b.size
            byStack[key, default: (0, 0)].count += 1
        }
        var merged: [[String]: (bytes: Int64, count: Int)] = [:]
        for (key, v) in byStack {
            let frames = fold(Int32(truncatingIfNeeded: key >> 1), beforeTrace: key & 1 == 1)
            merged[frames, default: (0, 0)].bytes += v.bytes
            merged[frames, default: (0, 0)].count += v.count
        }
        return merged.map { SnapshotStackGroup(frames: $0.key, bytes: $0.value.bytes, count: $0.value.count) }.sorted {
            $0.bytes != $1.bytes ? $0.bytes > $1.bytes : ($0.count != $1.count ? $0.count > $1.count : $0.frames.lexicographicallyPrecedes($1.frames))
        }
    }
}
