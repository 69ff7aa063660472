import TraceModel

// Ordering and nesting, shared by every source: slices are grouped by track and ordered by start,
// then duration descending, then input order (so for exact ties the one read first encloses, as
// Kineto writes parents first); each slice's parent is the innermost open slice that contains it.
extension TimelineBuilder {
    /// Slice indices grouped by track, each group ordered by start, then duration descending, then
    /// file order. Unclosed begins (dur -1) are left out.
    func sortedOrder() -> [Int32] {
        let n = slices.count, start = slices.start, dur = slices.dur, track = slices.track
        var counts = [Int](repeating: 0, count: rank.tracks.count + 1)
        for i in 0..<n where dur[i] >= 0 { counts[Int(track[i]) + 1] += 1 }
        for t in 0..<rank.tracks.count { counts[t + 1] += counts[t] }
        var ranges: [Range<Int>] = (0..<rank.tracks.count).map { counts[$0]..<counts[$0 + 1] }
        var order = [Int32](repeating: 0, count: counts[rank.tracks.count])
        var next = counts
        for i in 0..<n where dur[i] >= 0 {
            let t = Int(track[i])
            order[next[t]] = Int32(i)
            next[t] += 1
        }
        @inline(__always) func before(_ a: Int32, _ b: Int32) -> Bool {
            let sa = start[Int(a)], sb = start[Int(b)]
            if sa != sb { return sa < sb }
            let da = dur[Int(a)], db = dur[Int(b)]
            if da != db { return da > db }
            return a < b
        }
        for t in 0..<ranges.count {
            let r = ranges[t]
            var sorted = true
            var k = r.lowerBound + 1
            while k < r.upperBound {
                if before(order[k], order[k - 1]) { sorted = false; break }
                k += 1
            }
            if !sorted { order[r].sort(by: before) }
        }
        ranges.removeAll()
        return order
    }

    func nest() {
        let n = rank.slices.count
        var depth = [UInt16](repeating: 0, count: n)
        var parent = [Int32](repeating: -1, count: n)
        var nestEnd = [Int64](repeating: 0, count: n)
        var ranges = [Range<Int>](repeating: 0..<0, count: rank.tracks.count)
        var overlapping = 0
        var stack: [Int] = []
        var i = 0
        let start = rank.slices.start, dur = rank.slices.dur, track = rank.slices.track
        while i < n {
            let t = track[i]
            let first = i
            stack.removeAll(keepingCapacity: true)
            while i < n && track[i] == t {
                let s = start[i]
                let end = s + dur[i]
                while let top = stack.last, nestEnd[top] <= s { stack.removeLast() }
                // An open slice that does not contain the new one is cut where the new one begins.
                while let top = stack.last, nestEnd[top] < end {
                    nestEnd[top] = s
                    overlapping += 1
                    stack.removeLast()
                }
                if let top = stack.last {
                    parent[i] = Int32(top)
                    depth[i] = depth[top] &+ 1
                }
                nestEnd[i] = end
                stack.append(i)
                i += 1
            }
            ranges[Int(t)] = first..<i
        }
        if overlapping > 0 {
            rank.warnings.add("overlapping-slices", count: overlapping, "a slice outlives a slice that began inside it; the outer one is cut where the inner one begins")
        }
        rank.slices.depth = PackedColumn(depth)
        depth = []
        rank.slices.parent = ParentColumn(parent)
        parent = []
        rank.slices.clip = PackedColumn((0..<n).lazy.map { start[$0] + dur[$0] - nestEnd[$0] })
        rank.tracks.sliceRange = ranges
    }
}
