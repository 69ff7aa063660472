import TraceModel

/// Slices as the parser appends them, in columns sharing one count. Times, durations and kinds
/// stay full width (`finish` shifts times, an open begin's end sets its duration, a decoder may
/// reclassify a kind); the other columns are packed as they are appended, a block of 1,024 at a
/// time, since a staged slice otherwise costs 51 bytes until it is gathered (docs/performance.md).
/// `gather` hands them to the model as `SliceTable` columns in the order `TimelineBuilder.finish`
/// sorts them.
final class SliceStaging {
    private(set) var count = 0
    private var capacity = 0
    private(set) var start: UnsafeMutablePointer<Int64>
    private(set) var dur: UnsafeMutablePointer<Int64>
    private(set) var kind: UnsafeMutablePointer<SliceKind>
    private(set) var track: PackedColumn<UInt32>.Builder
    private(set) var name: PackedColumn<UInt32>.Builder
    private var category: PackedColumn<UInt32>.Builder
    private var correlation: PackedColumn<Int64>.Builder
    private var externalID: PackedColumn<Int64>.Builder
    private var argStart: PackedColumn<UInt32>.Builder
    private var argCount: PackedColumn<UInt16>.Builder

    /// Room for `capacity` slices up front (untouched room costs no memory).
    init(capacity: Int) {
        self.capacity = max(capacity, 256)
        (start, dur) = (.allocate(capacity: self.capacity), .allocate(capacity: self.capacity))
        kind = .allocate(capacity: self.capacity)
        (track, name, category) = (.init(capacity: self.capacity), .init(capacity: self.capacity), .init(capacity: self.capacity))
        (correlation, externalID) = (.init(capacity: self.capacity), .init(capacity: self.capacity))
        (argStart, argCount) = (.init(capacity: self.capacity), .init(capacity: self.capacity))
    }

    deinit {
        start.deallocate(); dur.deallocate(); kind.deallocate()
    }

    /// Appends one slice.
    @inline(__always)
    func append(start s: Int64, dur d: Int64, name n: UInt32, category c: UInt32, kind k: SliceKind, track t: UInt32,
                correlation corr: Int64, externalID ext: Int64, argStart a: UInt32, argCount ac: UInt16) {
        if count == capacity { grow(to: capacity * 2) }
        let i = count
        start[i] = s; dur[i] = d; kind[i] = k
        name.append(n); category.append(c); track.append(t)
        correlation.append(corr); externalID.append(ext); argStart.append(a); argCount.append(ac)
        count = i + 1
    }

    /// Sets the duration of slice `i` (an open begin, closed by its end at `end`).
    func close(_ i: Int, at end: Int64) { dur[i] = max(0, end - start[i]) }

    /// Appends `other`'s slices with their string ids, tracks and arg positions mapped into this
    /// trace's (the second part of a split file); `other` is emptied.
    func append(_ other: SliceStaging, remap: RowRemap) {
        let map = remap.strings, trackMap = remap.tracks, argBase = remap.argBase
        if count + other.count > capacity { grow(to: count + other.count) }
        for j in 0..<other.count {
            append(start: other.start[j], dur: other.dur[j], name: map[Int(other.name[j])], category: map[Int(other.category[j])],
                   kind: other.kind[j], track: trackMap[Int(other.track[j])], correlation: other.correlation[j],
                   externalID: other.externalID[j], argStart: other.argStart[j] + argBase, argCount: other.argCount[j])
        }
        other.empty()
    }

    private func grow(to newCapacity: Int) {
        func moved<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> {
            let q = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
            q.moveInitialize(from: p, count: count)
            p.deallocate()
            return q
        }
        (start, dur, kind) = (moved(start), moved(dur), moved(kind))
        capacity = newCapacity
    }

    /// Frees every column.
    private func empty() {
        start.deallocate(); dur.deallocate(); kind.deallocate()
        (start, dur, kind) = (.allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
        (track, name, category) = (.init(), .init(), .init())
        (correlation, externalID, argStart, argCount) = (.init(), .init(), .init(), .init())
        (count, capacity) = (0, 1)
    }

    /// The slices at `order` (indices) as model columns; each column is freed once gathered (and
    /// packed as it is gathered), so the old and new copies of the table never coexist whole.
    /// This staging is left empty.
    func gather(_ order: [Int32]) -> SliceTable {
        func column<T>(_ p: inout UnsafeMutablePointer<T>) -> [T] {
            let gathered = order.map { [p] in p[Int($0)] }
            p.deallocate()
            p = .allocate(capacity: 1)
            return gathered
        }
        func packedTimes(_ p: inout UnsafeMutablePointer<Int64>) -> PackedColumn<Int64> {
            let gathered = PackedColumn(order.lazy.map { [p] in p[Int($0)] })
            p.deallocate()
            p = .allocate(capacity: 1)
            return gathered
        }
        func packed<T: FixedWidthInteger & Sendable>(_ b: inout PackedColumn<T>.Builder) -> PackedColumn<T> {
            let source = b
            b = .init()
            return PackedColumn(order.lazy.map { source[Int($0)] })
        }
        var t = SliceTable()
        t.start = packedTimes(&start); t.dur = packedTimes(&dur); t.kind = column(&kind)
        t.name = packed(&name); t.category = packed(&category); t.track = packed(&track); t.correlation = packed(&correlation)
        t.externalID = packed(&externalID)
        // Where the args of a slice without any begin does not matter: the previous slice's
        // position keeps the column's blocks narrow (a memcpy among kernels would widen them).
        let starts = argStart, counts = argCount
        var previous: UInt32 = 0
        t.argStart = PackedColumn(order.lazy.map { i in
            if counts[Int(i)] > 0 { previous = starts[Int(i)] }
            return previous
        })
        t.argCount = packed(&argCount)
        empty()
        return t
    }
}
