/// An immutable column of integers in blocks of 1,024: each block stores its values as offsets
/// from the block's minimum in the fewest whole bytes that hold them (0 for a constant block, 1,
/// 2, 4 or 8), so a column of -1s, of ids that repeat or of nearby indices costs a byte or two a
/// value instead of four or eight (docs/performance.md, "Nsight Systems export"); a block of ids
/// mixed with a far sentinel (-1) is split so the ids alone set the width. Reading a value is a
/// block lookup, one load and an add.
public struct PackedColumn<Element: FixedWidthInteger & Sendable>: RandomAccessCollection, Sendable {
    @inlinable static var blockShift: Int { 10 }
    @inlinable static var blockSize: Int { 1 << blockShift }

    public let count: Int
    /// Per block: its minimum.
    @usableFromInline let bases: [Int64]
    /// Per block: the byte offset of its values in `storage` << 8 | log2 of their width + 1 (0 for none).
    @usableFromInline let layout: [UInt64]
    @usableFromInline let storage: Storage

    /// The packed bytes (freed with the last column that shares them).
    @usableFromInline final class Storage: @unchecked Sendable {
        @usableFromInline let bytes: UnsafeMutableRawPointer
        init(byteCount: Int) { bytes = .allocate(byteCount: Swift.max(byteCount, 8), alignment: 8) }
        deinit { bytes.deallocate() }
    }

    public init() { self.init(EmptyCollection()) }

    /// Packs `values`, reading each once, in order.
    @inlinable public init<S: Sequence>(_ values: S) where S.Element == Element {
        let builder = Builder(capacity: values.underestimatedCount)
        for v in values { builder.append(v) }
        self = builder.finish()
    }

    @usableFromInline init(count: Int, bases: [Int64], layout: [UInt64], storage: UnsafeMutableRawPointer, byteCount: Int) {
        self.count = count
        self.bases = bases
        self.layout = layout
        let s = Storage(byteCount: byteCount)
        s.bytes.copyMemory(from: storage, byteCount: byteCount)
        self.storage = s
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { count }

    @inlinable @inline(__always)
    public subscript(i: Int) -> Element {
        precondition(i >= 0 && i < count, "PackedColumn index out of range")
        let b = i &>> Self.blockShift
        return Self.value(at: i & (Self.blockSize - 1), shape: layout[b], base: bases[b], in: storage.bytes)
    }

    /// Value `j` of a block laid out as `shape` with minimum `base` in `bytes`. A block whose
    /// values other than its minimum are close together but far from it (ids mixed with -1 for
    /// none) is stored split: the least of the others as 8 bytes, then per value 0 for the
    /// minimum or its offset from that least plus 1 (codes 5 to 7 for 1, 2 or 4 bytes).
    @inlinable @inline(__always)
    static func value(at j: Int, shape: UInt64, base: Int64, in p: UnsafeMutableRawPointer) -> Element {
        let at = Int(truncatingIfNeeded: shape &>> 8)
        let offset: UInt64
        switch shape & 0xFF {
        case 0: offset = 0
        case 1: offset = UInt64(p.load(fromByteOffset: at &+ j, as: UInt8.self))
        case 2: offset = UInt64(p.load(fromByteOffset: at &+ j &* 2, as: UInt16.self))
        case 3: offset = UInt64(p.load(fromByteOffset: at &+ j &* 4, as: UInt32.self))
        case 4: offset = p.load(fromByteOffset: at &+ j &* 8, as: UInt64.self)
        default:
            let code = shape & 0xFF
            let o: UInt64
            switch code {
            case 5: o = UInt64(p.load(fromByteOffset: at &+ 8 &+ j, as: UInt8.self))
            case 6: o = UInt64(p.load(fromByteOffset: at &+ 8 &+ j &* 2, as: UInt16.self))
            default: o = UInt64(p.load(fromByteOffset: at &+ 8 &+ j &* 4, as: UInt32.self))
            }
            if o == 0 { return Element(truncatingIfNeeded: base) }
            let least = p.load(fromByteOffset: at, as: Int64.self)
            return Element(truncatingIfNeeded: least &+ Int64(bitPattern: o &- 1))
        }
        return Element(truncatingIfNeeded: base &+ Int64(bitPattern: offset))
    }

    /// Packs values appended one at a time, a block at a time: no full-width copy of the column
    /// is ever held. The values appended so far can be read back (an import's staging columns).
    public final class Builder {
        @usableFromInline var count = 0
        @usableFromInline var bases: [Int64] = []
        @usableFromInline var layout: [UInt64] = []
        @usableFromInline var bytes: UnsafeMutableRawPointer
        private var byteCapacity: Int
        private var byteCount = 0
        /// The block being filled.
        @usableFromInline let block = UnsafeMutablePointer<Int64>.allocate(capacity: PackedColumn.blockSize)
        @usableFromInline var filled = 0

        /// Room for about `capacity` values of two bytes before the packed bytes grow.
        public init(capacity: Int = 0) {
            byteCapacity = Swift.max(64, capacity * 2)
            bytes = .allocate(byteCount: byteCapacity, alignment: 8)
            bases.reserveCapacity(capacity / PackedColumn.blockSize + 1)
            layout.reserveCapacity(capacity / PackedColumn.blockSize + 1)
        }

        deinit {
            bytes.deallocate()
            block.deallocate()
        }

        /// The number of values appended.
        @inlinable public var appended: Int { count }

        /// Value `i` of those appended.
        @inlinable @inline(__always)
        public subscript(i: Int) -> Element {
            precondition(i >= 0 && i < count, "PackedColumn.Builder index out of range")
            let packed = count &- filled
            if i >= packed { return Element(truncatingIfNeeded: block[i &- packed]) }
            let b = i &>> PackedColumn.blockShift
            return PackedColumn.value(at: i & (PackedColumn.blockSize - 1), shape: layout[b], base: bases[b], in: bytes)
        }

        @inlinable @inline(__always)
        public func append(_ v: Element) {
            block[filled] = Int64(truncatingIfNeeded: v)
            filled += 1
            count += 1
            if filled == PackedColumn.blockSize { flush() }
        }

        @usableFromInline func flush() {
            guard filled > 0 else { return }
            var lo = block[0], hi = block[0]
            for k in 1..<filled {
                lo = Swift.min(lo, block[k])
                hi = Swift.max(hi, block[k])
            }
            let range = UInt64(bitPattern: hi &- lo)
            func width(_ range: UInt64) -> UInt64 { range == 0 ? 0 : range <= 0xFF ? 1 : range <= 0xFFFF ? 2 : range <= 0xFFFF_FFFF ? 3 : 4 }
            var code = width(range)
            // The others than the minimum, when they fit in fewer bytes apart (a split block).
            var least = hi
            if code >= 2 {
                for k in 0..<filled where block[k] != lo { least = Swift.min(least, block[k]) }
                let rest = UInt64(bitPattern: hi &- least)
                if rest < 0xFFFF_FFFF, case let narrower = width(rest &+ 1), narrower < code { code = 4 + narrower }
            }
            let split = code > 4
            let width = code == 0 ? 0 : 1 << ((split ? code - 4 : code) - 1)
            let at = (byteCount + 7) & ~7
            let need = at + (split ? 8 : 0) + filled * width
            if need > byteCapacity {
                let grown = Swift.max(need, byteCapacity * 2)
                let q = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 8)
                q.copyMemory(from: bytes, byteCount: byteCount)
                bytes.deallocate()
                (bytes, byteCapacity) = (q, grown)
            }
            if split {
                bytes.storeBytes(of: least, toByteOffset: at, as: Int64.self)
                for k in 0..<filled {
                    let offset = block[k] == lo ? 0 : UInt64(bitPattern: block[k] &- least) &+ 1
                    switch code {
                    case 5: bytes.storeBytes(of: UInt8(truncatingIfNeeded: offset), toByteOffset: at + 8 + k, as: UInt8.self)
                    case 6: bytes.storeBytes(of: UInt16(truncatingIfNeeded: offset), toByteOffset: at + 8 + k * 2, as: UInt16.self)
                    default: bytes.storeBytes(of: UInt32(truncatingIfNeeded: offset), toByteOffset: at + 8 + k * 4, as: UInt32.self)
                    }
                }
            } else {
                for k in 0..<filled {
                    let offset = UInt64(bitPattern: block[k] &- lo)
                    switch code {
                    case 0: break
                    case 1: bytes.storeBytes(of: UInt8(truncatingIfNeeded: offset), toByteOffset: at + k, as: UInt8.self)
                    case 2: bytes.storeBytes(of: UInt16(truncatingIfNeeded: offset), toByteOffset: at + k * 2, as: UInt16.self)
                    case 3: bytes.storeBytes(of: UInt32(truncatingIfNeeded: offset), toByteOffset: at + k * 4, as: UInt32.self)
                    default: bytes.storeBytes(of: offset, toByteOffset: at + k * 8, as: UInt64.self)
                    }
                }
            }
            bases.append(lo)
            layout.append(UInt64(at) << 8 | code)
            byteCount = need
            filled = 0
        }

        /// The column of the values appended (the builder is spent).
        public func finish() -> PackedColumn {
            flush()
            let column = PackedColumn(count: count, bases: bases, layout: layout, storage: bytes, byteCount: byteCount)
            bytes.deallocate()
            bytes = .allocate(byteCount: 8, alignment: 8)
            (byteCapacity, byteCount, count, bases, layout) = (8, 0, 0, [], [])
            return column
        }
    }
}

extension PackedColumn: Equatable {
    public static func == (a: PackedColumn, b: PackedColumn) -> Bool { a.elementsEqual(b) }
}

extension PackedColumn: ExpressibleByArrayLiteral {
    public init(arrayLiteral values: Element...) { self.init(values) }
}

extension PackedColumn: CustomStringConvertible {
    public var description: String { Array(self).description }
}

/// Each slice's enclosing slice (-1 for none), stored packed as the distance back to it (0 for
/// none): a parent is usually a few slices before its child, so a block takes a byte or none
/// where absolute indices, mixed with -1 for top-level slices, take four.
public struct ParentColumn: RandomAccessCollection, Sendable, Equatable, ExpressibleByArrayLiteral, CustomStringConvertible {
    @usableFromInline let distance: PackedColumn<Int32>

    public init() { distance = PackedColumn() }

    /// Packs `parents` (slice indices, -1 for none), reading each once, in order.
    @inlinable public init<S: Sequence>(_ parents: S) where S.Element == Int32 {
        let builder = Builder()
        for p in parents { builder.append(p) }
        self = builder.finish()
    }

    @usableFromInline init(distance: PackedColumn<Int32>) { self.distance = distance }

    public init(arrayLiteral values: Int32...) { self.init(values) }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { distance.count }

    @inlinable @inline(__always)
    public subscript(i: Int) -> Int32 {
        let d = distance[i]
        return d == 0 ? -1 : Int32(truncatingIfNeeded: i &- Int(d))
    }

    public var description: String { Array(self).description }

    /// Packs parents appended in slice order.
    public final class Builder {
        @usableFromInline let distance: PackedColumn<Int32>.Builder
        public init(capacity: Int = 0) { distance = .init(capacity: capacity) }

        /// Appends the parent of the next slice (-1 for none).
        @inlinable @inline(__always)
        public func append(_ parent: Int32) {
            let i = distance.appended
            distance.append(parent < 0 ? 0 : Int32(truncatingIfNeeded: i - Int(parent)))
        }

        /// The column of the parents appended (the builder is spent).
        @inlinable public func finish() -> ParentColumn { ParentColumn(distance: distance.finish()) }
    }
}
