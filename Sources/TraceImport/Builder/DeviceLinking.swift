import TraceModel

// Linking device activity to the host call that launched it, shared by every source: by a flow
// (`FlowLinking`), else by `correlation` (runtime and driver launches), else by `External id` (the
// operator).
extension TimelineBuilder {
    /// Sets `launcher` for every device activity; `originalIndex` maps sorted slices to input order
    /// (the earliest, outermost operator of an External id wins).
    func link(originalIndex: [Int32]) {
        let s = rank.slices, trackKinds = rank.tracks.kind
        let n = s.count
        var steps = StepNames(rank.strings)
        var hasGPU = false
        // The launches (by correlation) and ops (by External id) GPU activity can link to.
        var launches: [Int32] = [], ops: [Int32] = []
        for i in 0..<n {
            let k = s.kind[i]
            if k.isGPUActivity { hasGPU = true; continue }
            guard trackKinds[Int(s.track[i])] == .cpuThread else { continue }
            if k.isLaunch, s.correlation[i] >= 0 { launches.append(Int32(i)) }
            if s.externalID[i] >= 0, k == .cpuOp || k.isLaunch || k == .userAnnotation, !steps.contains(s.name[i]) {
                ops.append(Int32(i))
            }
        }
        var byCorrelation = IDIndex(launches.lazy.map { s.correlation[Int($0)] })
        for i in launches { _ = byCorrelation.value(for: s.correlation[Int(i)], inserting: i) }
        var byExternalID = IDIndex(ops.lazy.map { s.externalID[Int($0)] })
        for i32 in ops {
            let i = Int(i32), ext = s.externalID[i]
            let o = Int(byExternalID.value(for: ext, inserting: i32))
            if o != i, (s.start[i], -s.dur[i], originalIndex[i]) < (s.start[o], -s.dur[o], originalIndex[o]) {
                byExternalID.set(ext, i32)
            }
        }
        var launcher = flowLaunchers()
        guard hasGPU else { rank.slices.launcher = PackedColumn(launcher); return }
        var pending: [Int] = []
        for i in 0..<n where s.kind[i].isGPUActivity && launcher[i] < 0 {
            if let l = byCorrelation[s.correlation[i]] {
                launcher[i] = l
            } else if let l = byExternalID[s.externalID[i]] {
                launcher[i] = l
            } else {
                pending.append(i)
            }
        }
        let unlinked = pending.isEmpty ? 0 : inheritFromAnnotations(&launcher, pending)
        if unlinked > 0 {
            rank.warnings.add("unlinked-gpu-activity", count: unlinked, "GPU activity with no launching call in the trace")
        }
        rank.slices.launcher = PackedColumn(launcher)
    }
}

extension TimelineBuilder {
    /// Gives each activity of `pending` the launcher of the latest-starting device annotation of
    /// the same device (pid) that contains its start and has a launcher (an HCCL op, linked by a
    /// flow, drawn beside the tasks it runs); returns how many stay unlinked.
    func inheritFromAnnotations(_ launcher: inout [Int32], _ pending: [Int]) -> Int {
        let s = rank.slices, pids = rank.tracks.pid
        var byDevice: [UInt32: [Int]] = [:]
        for i in 0..<s.count where s.kind[i] == .gpuUserAnnotation && launcher[i] >= 0 {
            byDevice[pids[Int(s.track[i])], default: []].append(i)
        }
        guard !byDevice.isEmpty else { return pending.count }
        for k in byDevice.keys { byDevice[k]!.sort { s.start[$0] < s.start[$1] } }
        var unlinked = 0
        for i in pending {
            guard let list = byDevice[pids[Int(s.track[i])]] else { unlinked += 1; continue }
            var lo = 0, hi = list.count  // the first annotation starting after the activity
            while lo < hi {
                let mid = (lo + hi) / 2
                if s.start[list[mid]] <= s.start[i] { lo = mid + 1 } else { hi = mid }
            }
            let k = lo
            if k > 0, s.start[list[k - 1]] + s.dur[list[k - 1]] >= s.start[i] {
                launcher[i] = launcher[list[k - 1]]
            } else {
                unlinked += 1
            }
        }
        return unlinked
    }
}

/// Slice indices by a non-negative id (a correlation or External id): a flat array over the ids'
/// range when they are dense, as Kineto numbers them, else an `IntMap`.
struct IDIndex {
    private var low: Int64 = 0
    private var table: [Int32] = []  // index by id - low; -1: none
    private var map: IntMap?

    /// An empty index sized for `ids` (not negative).
    init(_ ids: some Sequence<Int64>) {
        var low = Int64.max, high = Int64.min, count = 0
        for id in ids {
            low = min(low, id)
            high = max(high, id)
            count += 1
        }
        guard count > 0 else { return }
        if high - low < 4 * Int64(count) + 4096 {
            self.low = low
            table = [Int32](repeating: -1, count: Int(high - low) + 1)
        } else {
            map = IntMap(capacity: count)
        }
    }

    /// The index of `id`, if present (nil for negative ids).
    subscript(id: Int64) -> Int32? {
        if let map { return id >= 0 ? map[UInt64(id)] : nil }
        let k = id &- low
        guard k >= 0, k < table.count, table[Int(k)] >= 0 else { return nil }
        return table[Int(k)]
    }

    /// The index of `id` (one of the ids given at creation); when absent, `value` is added first.
    mutating func value(for id: Int64, inserting value: Int32) -> Int32 {
        if map != nil { return map!.value(for: UInt64(id), inserting: value) }
        let k = Int(id - low)
        if table[k] < 0 { table[k] = value }
        return table[k]
    }

    /// Sets the index of `id` (one of the ids given at creation).
    mutating func set(_ id: Int64, _ value: Int32) {
        if map != nil { map!.set(UInt64(id), value) } else { table[Int(id - low)] = value }
    }
}
