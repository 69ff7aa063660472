/// Interned UTF-8 strings: each distinct byte string gets a dense `UInt32` id; id 0 is "".
///
/// Bytes live in one growing arena and the lookup is an open-addressing table over a 64-bit hash,
/// so interning from a parser's buffer allocates nothing per call.
public final class StringTable: @unchecked Sendable {
    private var arena: UnsafeMutablePointer<UInt8>
    private var arenaCapacity: Int
    private var arenaCount = 0
    private var offsets: [UInt32] = [0, 0]  // string i is arena[offsets[i] ..< offsets[i+1]]
    private var hashes: [UInt32] = [0]
    private var slots: UnsafeMutablePointer<UInt32>  // id, or UInt32.max when empty
    private var slotMask: Int

    public init() {
        arenaCapacity = 1 << 16
        arena = .allocate(capacity: arenaCapacity)
        slotMask = (1 << 12) - 1
        slots = .allocate(capacity: slotMask + 1)
        slots.initialize(repeating: .max, count: slotMask + 1)
        let emptyHash = UInt32(truncatingIfNeeded: Self.hash(UnsafeRawPointer(arena), 0))
        hashes[0] = emptyHash
        slots[Int(emptyHash) & slotMask] = 0
    }

    deinit {
        arena.deallocate()
        slots.deallocate()
        shortCache.deallocate()
        longCache.deallocate()
    }

    /// Number of distinct strings, including the empty string.
    public var count: Int { hashes.count }

    /// Bytes held by the table (arena and index), for memory accounting.
    public var byteSize: Int { arenaCapacity + (slotMask + 1) * 4 + offsets.capacity * 4 + hashes.capacity * 4 }

    /// Returns the id of `bytes`, adding it if new.
    @inline(__always)
    public func intern(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return 0 }
        return intern(base, bytes.count)
    }

    /// Like `intern(_:_:)`, for callers that guarantee 16 readable bytes at `base` whatever
    /// `count` is (a parser's padded buffer): strings of up to 16 bytes go through a small
    /// direct-mapped cache first, which skips hashing and probing for repeated short strings.
    @inlinable @inline(__always)
    public func internPadded(_ base: UnsafeRawPointer, _ count: Int) -> UInt32 {
        guard count <= 16 else { return internLong(base, count) }
        let w0 = base.loadUnaligned(as: UInt64.self) & Self.lowBytesMask(count)
        let w1 = count > 8 ? base.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & Self.lowBytesMask(count - 8) : 0
        let entry = shortCache + Int(truncatingIfNeeded: Self.cacheKey(w0, w1, count) >> 56)
        if entry.pointee.w0 == w0 && entry.pointee.w1 == w1 && entry.pointee.count == UInt32(count) { return entry.pointee.id }
        let id = intern(base, count)
        entry.pointee = ShortEntry(w0: w0, w1: w1, count: UInt32(count), id: id)
        return id
    }

    @usableFromInline
    struct ShortEntry {
        @usableFromInline var w0: UInt64, w1: UInt64, count: UInt32, id: UInt32
        @usableFromInline init(w0: UInt64, w1: UInt64, count: UInt32, id: UInt32) {
            self.w0 = w0
            self.w1 = w1
            self.count = count
            self.id = id
        }
    }

    /// `intern` for strings of more than 16 bytes through a direct-mapped cache keyed by their
    /// length and first and last words: a hit is confirmed by comparing the bytes, which skips
    /// hashing the whole string (kernel names run to hundreds of bytes) and probing the table.
    @usableFromInline
    func internLong(_ base: UnsafeRawPointer, _ count: Int) -> UInt32 {
        let first = base.loadUnaligned(as: UInt64.self), last = base.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
        let entry = longCache + Int(truncatingIfNeeded: Self.cacheKey(first, last, count) >> 52)
        let cached = Int(entry.pointee)
        if cached > 0, Int(offsets[cached + 1] - offsets[cached]) == count,
           Self.equal(UnsafeRawPointer(arena + Int(offsets[cached])), base, count) {
            return UInt32(cached)
        }
        let id = intern(base, count)
        entry.pointee = id
        return id
    }

    /// 4096 ids of the long-string cache (0: empty).
    private let longCache: UnsafeMutablePointer<UInt32> = {
        let p = UnsafeMutablePointer<UInt32>.allocate(capacity: 4096)
        p.initialize(repeating: 0, count: 4096)
        return p
    }()

    /// 256 entries of the short-string cache.
    @usableFromInline let shortCache: UnsafeMutablePointer<ShortEntry> = {
        let p = UnsafeMutablePointer<ShortEntry>.allocate(capacity: 256)
        p.initialize(repeating: ShortEntry(w0: 0, w1: 0, count: .max, id: 0), count: 256)
        return p
    }()

    /// A cache slot's hash (take its top bits) of two words of a string and its length.
    @inlinable @inline(__always)
    static func cacheKey(_ a: UInt64, _ b: UInt64, _ count: Int) -> UInt64 {
        (a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(count)) &* 0xBF58_476D_1CE4_E5B9
    }

    /// A mask of the low `n` bytes of a little-endian word (all of them from 8 on).
    @inlinable @inline(__always)
    public static func lowBytesMask(_ n: Int) -> UInt64 {
        n >= 8 ? .max : (UInt64(1) << UInt64(n * 8)) &- 1
    }

    /// Returns the id of the `count` bytes at `base`, adding them if new.
    public func intern(_ base: UnsafeRawPointer, _ count: Int) -> UInt32 {
        let h = Self.hash(base, count)
        let h32 = UInt32(truncatingIfNeeded: h)
        var slot = Int(truncatingIfNeeded: h) & slotMask
        while true {
            let id = slots[slot]
            if id == .max { break }
            if hashes[Int(id)] == h32 {
                let start = Int(offsets[Int(id)])
                let length = Int(offsets[Int(id) + 1]) - start
                if length == count && Self.equal(UnsafeRawPointer(arena + start), base, count) { return id }
            }
            slot = (slot + 1) & slotMask
        }
        let id = UInt32(hashes.count)
        appendBytes(base, count)
        hashes.append(h32)
        offsets.append(UInt32(arenaCount))
        slots[slot] = id
        if hashes.count * 2 > slotMask + 1 { growSlots() }
        return id
    }

    /// Returns the id of `string`, adding it if new.
    public func intern(_ string: String) -> UInt32 {
        var s = string
        return s.withUTF8 { intern(UnsafeRawBufferPointer($0)) }
    }

    /// Returns the id of `string` if it was interned, without adding it.
    public func lookup(_ string: String) -> UInt32? {
        var s = string
        return s.withUTF8 { buf -> UInt32? in
            guard let base = buf.baseAddress, buf.count > 0 else { return 0 }
            let h = Self.hash(UnsafeRawPointer(base), buf.count)
            var slot = Int(truncatingIfNeeded: h) & slotMask
            while true {
                let id = slots[slot]
                if id == .max { return nil }
                let start = Int(offsets[Int(id)])
                let length = Int(offsets[Int(id) + 1]) - start
                if length == buf.count && memcmp(arena + start, base, length) == 0 { return id }
                slot = (slot + 1) & slotMask
            }
        }
    }

    /// The string with id `id`.
    public subscript(id: UInt32) -> String {
        let start = Int(offsets[Int(id)])
        let end = Int(offsets[Int(id) + 1])
        return String(decoding: UnsafeBufferPointer(start: arena + start, count: end - start), as: UTF8.self)
    }

    /// Calls `body` with the bytes of string `id` (valid only during the call).
    public func withBytes<R>(_ id: UInt32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let start = Int(offsets[Int(id)])
        let end = Int(offsets[Int(id) + 1])
        return try body(UnsafeBufferPointer(start: arena + start, count: end - start))
    }

    /// Byte length of string `id`.
    public func length(_ id: UInt32) -> Int { Int(offsets[Int(id) + 1]) - Int(offsets[Int(id)]) }

    /// True when string `id` begins with `prefix`.
    public func hasPrefix(_ id: UInt32, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard length(id) >= n else { return false }
        return memcmp(arena + Int(offsets[Int(id)]), prefix.utf8Start, n) == 0
    }

    private func appendBytes(_ base: UnsafeRawPointer, _ count: Int) {
        if arenaCount + count > arenaCapacity {
            var newCapacity = arenaCapacity * 2
            while newCapacity < arenaCount + count { newCapacity *= 2 }
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
            grown.update(from: arena, count: arenaCount)
            arena.deallocate()
            arena = grown
            arenaCapacity = newCapacity
        }
        (arena + arenaCount).update(from: base.assumingMemoryBound(to: UInt8.self), count: count)
        arenaCount += count
    }

    private func growSlots() {
        let newMask = (slotMask + 1) * 2 - 1
        let grown = UnsafeMutablePointer<UInt32>.allocate(capacity: newMask + 1)
        grown.initialize(repeating: .max, count: newMask + 1)
        for id in 0..<hashes.count {
            let start = Int(offsets[id])
            let h = Self.hash(UnsafeRawPointer(arena + start), Int(offsets[id + 1]) - start)
            var slot = Int(truncatingIfNeeded: h) & newMask
            while grown[slot] != .max { slot = (slot + 1) & newMask }
            grown[slot] = UInt32(id)
        }
        slots.deallocate()
        slots = grown
        slotMask = newMask
    }

    /// Byte equality, word by word (short strings dominate; a libc call costs more than the
    /// compare). From 8 bytes on, the last word is compared overlapping the one before.
    @inline(__always)
    static func equal(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
        if n >= 8 {
            var i = 0
            while i + 8 < n {
                if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i += 8
            }
            return a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        return tail(a, n) == tail(b, n)
    }

    /// The `n` (below 8) bytes at `p` as a little-endian word.
    @inline(__always)
    static func tail(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        var k = 0
        if n & 4 != 0 { v = UInt64(p.loadUnaligned(as: UInt32.self)); k = 4 }
        if n & 2 != 0 { v |= UInt64(p.loadUnaligned(fromByteOffset: k, as: UInt16.self)) << UInt64(k * 8); k += 2 }
        if n & 1 != 0 { v |= UInt64(p.load(fromByteOffset: k, as: UInt8.self)) << UInt64(k * 8) }
        return v
    }

    /// A fast 64-bit hash of a byte string (word-at-a-time multiply-xorshift; the last partial
    /// word as a little-endian value).
    @inline(__always)
    static func hash(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
        var i = 0
        while i + 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        let rest = n - i
        if rest > 0 {
            // From 8 bytes on, the tail is the top of the last (overlapping) word.
            let v = n >= 8 ? p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) >> UInt64((8 - rest) * 8) : tail(p, rest)
            h = (h ^ v) &* 0x94D0_49BB_1331_11EB
            h ^= h >> 29
        }
        return h ^ (h >> 32)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
