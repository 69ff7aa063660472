import TraceModel

// Links given as flows, for sources that write no correlation ids between a host call and the
// device work it launched (torch_npu's `async_npu` flows): each flow names a point on the
// launching thread and a point on the device stream, and the slices there become launcher and
// activity once slices are sorted and nested.
extension TimelineBuilder {
    /// A flow from (`fromTrack`, `fromTs`) to (`toTrack`, `toTs`), times as read (before the time base).
    struct FlowLink {
        var fromTrack: UInt32
        var fromTs: Int64
        var toTrack: UInt32
        var toTs: Int64
    }

    /// Records that the device activity (or annotation) at (`toTrack`, `toTs`) was launched by the innermost host
    /// slice at (`fromTrack`, `fromTs`).
    func linkByFlow(fromTrack: UInt32, fromTs: Int64, toTrack: UInt32, toTs: Int64) {
        flowLinks.append(FlowLink(fromTrack: fromTrack, fromTs: fromTs, toTrack: toTrack, toTs: toTs))
    }

    /// The launcher of each slice given by a flow (-1 elsewhere); needs sorted, nested slices. A
    /// flow whose ends fall in no suitable slice is counted as a warning; the first flow to an
    /// activity wins.
    func flowLaunchers() -> [Int32] {
        let s = rank.slices
        var launcher = [Int32](repeating: -1, count: s.count)
        guard !flowLinks.isEmpty else { return launcher }
        let base = rank.metadata.baseTimeNanoseconds
        var unresolved = 0
        for f in flowLinks {
            guard let to = enclosing(track: f.toTrack, at: f.toTs + base, { s.kind[$0].isGPU }),
                  let from = enclosing(track: f.fromTrack, at: f.fromTs + base, { !s.kind[$0].isGPU && s.kind[$0] != .pythonFunction })
            else {
                unresolved += 1
                continue
            }
            if launcher[to] < 0 { launcher[to] = Int32(from) }
        }
        flowLinks = []
        if unresolved > 0 {
            rank.warnings.add("unresolved-flow", count: unresolved, "flow whose start or end lies in no slice of its thread")
        }
        return launcher
    }

    /// The innermost slice of `track` that contains `ts` (start <= ts <= end) and satisfies `ok`.
    private func enclosing(track: UInt32, at ts: Int64, _ ok: (Int) -> Bool) -> Int? {
        guard Int(track) < rank.tracks.sliceRange.count else { return nil }
        let s = rank.slices, r = rank.tracks.sliceRange[Int(track)]
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi {
            let mid = (lo + hi) / 2
            if s.start[mid] <= ts { lo = mid + 1 } else { hi = mid }
        }
        // Every slice containing ts is the last slice starting at or before ts, or an ancestor of it.
        var i = lo - 1
        while i >= r.lowerBound {
            if s.start[i] + s.dur[i] >= ts && ok(i) { return i }
            i = Int(s.parent[i])
        }
        return nil
    }
}
