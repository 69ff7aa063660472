import TraceModel

/// Slices as the parser appends them: raw columns sharing one count, so appending a slice is ten
/// stores (a Swift array held by a class checks its uniqueness on every append). `gather` hands
/// them to the model as `SliceTable` columns in the order `TimelineBuilder.finish` sorts them.
final class SliceStaging {
    private(set) var count = 0
    private var capacity = 0
    // Columns `finish` reads (and shifts, for `start`) before gathering; a decoder may reclassify `kind`.
    private(set) var start: UnsafeMutablePointer<Int64>
    private(set) var dur: UnsafeMutablePointer<Int64>
    private(set) var kind: UnsafeMutablePointer<SliceKind>
    private(set) var track: UnsafeMutablePointer<UInt32>
    private(set) var name: UnsafeMutablePointer<UInt32>
    private var category: UnsafeMutablePointer<UInt32>
    private var correlation: UnsafeMutablePointer<Int64>
    private var externalID: UnsafeMutablePointer<Int64>
    private var argStart: UnsafeMutablePointer<UInt32>
    private var argCount: UnsafeMutablePointer<UInt16>

    /// Room for `capacity` slices up front (untouched room costs no memory).
    init(capacity: Int) {
        self.capacity = max(capacity, 256)
        (start, dur) = (.allocate(capacity: self.capacity), .allocate(capacity: self.capacity))
        (name, category, track) = (.allocate(capacity: self.capacity), .allocate(capacity: self.capacity), .allocate(capacity: self.capacity))
        kind = .allocate(capacity: self.capacity)
        (correlation, externalID) = (.allocate(capacity: self.capacity), .allocate(capacity: self.capacity))
        (argStart, argCount) = (.allocate(capacity: self.capacity), .allocate(capacity: self.capacity))
    }

    deinit {
        start.deallocate(); dur.deallocate(); name.deallocate(); category.deallocate(); kind.deallocate()
        track.deallocate(); correlation.deallocate(); externalID.deallocate(); argStart.deallocate(); argCount.deallocate()
    }

    /// Appends one slice.
    @inline(__always)
    func append(start s: Int64, dur d: Int64, name n: UInt32, category c: UInt32, kind k: SliceKind, track t: UInt32,
                correlation corr: Int64, externalID ext: Int64, argStart a: UInt32, argCount ac: UInt16) {
        if count == capacity { grow(to: capacity * 2) }
        let i = count
        start[i] = s; dur[i] = d; name[i] = n; category[i] = c; kind[i] = k; track[i] = t
        correlation[i] = corr; externalID[i] = ext; argStart[i] = a; argCount[i] = ac
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
            let i = count + j
            start[i] = other.start[j]; dur[i] = other.dur[j]
            name[i] = map[Int(other.name[j])]; category[i] = map[Int(other.category[j])]
            kind[i] = other.kind[j]; track[i] = trackMap[Int(other.track[j])]
            correlation[i] = other.correlation[j]; externalID[i] = other.externalID[j]
            argStart[i] = other.argStart[j] + argBase; argCount[i] = other.argCount[j]
        }
        count += other.count
        other.count = 0
    }

    private func grow(to newCapacity: Int) {
        func moved<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<T> {
            let q = UnsafeMutablePointer<T>.allocate(capacity: newCapacity)
            q.moveInitialize(from: p, count: count)
            p.deallocate()
            return q
        }
        (start, dur, name, category, kind) = (moved(start), moved(dur), moved(name), moved(category), moved(kind))
        (track, correlation, externalID, argStart, argCount) = (moved(track), moved(correlation), moved(externalID), moved(argStart), moved(argCount))
        capacity = newCapacity
    }

    /// The slices at `order` (indices) as model columns; each column is freed once gathered (and
    /// packed as it is gathered), so the old and new copies of the table never coexist whole.
    /// This staging is left empty.
    func gather(_ order: [Int32]) -> SliceTable {
        func column<T>(_ p: inout UnsafeMutablePointer<T>) -> [T] {
            let source = p
            let gathered = order.map { source[Int($0)] }
            p.deallocate()
            p = .allocate(capacity: 1)
            return gathered
        }
        func packed<T: FixedWidthInteger & Sendable>(_ p: inout UnsafeMutablePointer<T>) -> PackedColumn<T> {
            let source = p
            let gathered = PackedColumn(order.lazy.map { source[Int($0)] })
            p.deallocate()
            p = .allocate(capacity: 1)
            return gathered
        }
        var t = SliceTable()
        t.start = column(&start); t.dur = column(&dur); t.name = packed(&name); t.category = packed(&category)
        t.kind = column(&kind); t.track = packed(&track); t.correlation = packed(&correlation)
        t.externalID = packed(&externalID); t.argStart = packed(&argStart); t.argCount = packed(&argCount)
        (count, capacity) = (0, 1)
        return t
    }
}
