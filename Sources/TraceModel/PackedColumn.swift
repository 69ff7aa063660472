/// An immutable column of integers in blocks of 1,024: each block stores its values as offsets
/// from the block's minimum in the fewest whole bytes that hold them (0 for a constant block, 1,
/// 2, 4 or 8), so a column of -1s, of ids that repeat or of nearby indices costs a byte or two a
/// value instead of four or eight (docs/performance.md, "Nsight Systems export"). Reading a value
/// is a block lookup, one load and an add.
public struct PackedColumn<Element: FixedWidthInteger & Sendable>: RandomAccessCollection, Sendable {
    @usableFromInline static var blockShift: Int { 10 }
    @usableFromInline static var blockSize: Int { 1 << blockShift }

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
        let shape = layout[b]
        let base = bases[b]
        let at = Int(truncatingIfNeeded: shape &>> 8)
        let j = i & (Self.blockSize - 1)
        let p = storage.bytes
        let offset: UInt64
        switch shape & 0xFF {
        case 0: offset = 0
        case 1: offset = UInt64(p.load(fromByteOffset: at &+ j, as: UInt8.self))
        case 2: offset = UInt64(p.load(fromByteOffset: at &+ j &* 2, as: UInt16.self))
        case 3: offset = UInt64(p.load(fromByteOffset: at &+ j &* 4, as: UInt32.self))
        default: offset = p.load(fromByteOffset: at &+ j &* 8, as: UInt64.self)
        }
        return Element(truncatingIfNeeded: base &+ Int64(bitPattern: offset))
    }

    /// Packs values appended one at a time, a block at a time: no full-width copy of the column
    /// is ever held.
    public final class Builder {
        @usableFromInline var count = 0
        private var bases: [Int64] = []
        private var layout: [UInt64] = []
        private var bytes: UnsafeMutableRawPointer
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
            let code: UInt64 = range == 0 ? 0 : range <= 0xFF ? 1 : range <= 0xFFFF ? 2 : range <= 0xFFFF_FFFF ? 3 : 4
            let width = code == 0 ? 0 : 1 << (code - 1)
            let at = (byteCount + 7) & ~7
            let need = at + filled * width
            if need > byteCapacity {
                let grown = Swift.max(need, byteCapacity * 2)
                let q = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 8)
                q.copyMemory(from: bytes, byteCount: byteCount)
                bytes.deallocate()
                (bytes, byteCapacity) = (q, grown)
            }
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
