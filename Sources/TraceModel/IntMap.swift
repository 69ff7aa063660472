/// A hash map from 64-bit integer keys to non-negative 32-bit values: open addressing, linear
/// probing and a multiplicative hash, for hot loops where `Dictionary`'s seeded hashing of every
/// key costs more than the work around it.
public struct IntMap: Sendable {
    @usableFromInline var keys: [UInt64]
    @usableFromInline var values: [Int32]  // -1: empty slot
    @usableFromInline var shift: UInt64
    @usableFromInline var used = 0

    /// A map sized for `capacity` keys without growing.
    @inlinable
    public init(capacity: Int = 0) {
        var bits: UInt64 = 4
        while 1 << bits < capacity * 2 { bits += 1 }
        keys = [UInt64](repeating: 0, count: 1 << bits)
        values = [Int32](repeating: -1, count: 1 << bits)
        shift = 64 - bits
    }

    /// Number of keys.
    @inlinable
    public var count: Int { used }

    @inlinable
    func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The slot holding `key`, or the empty slot where it would go.
    @inlinable
    func find(_ key: UInt64) -> (slot: Int, found: Bool) {
        let mask = keys.count - 1
        var i = slot(key)
        while true {
            if values[i] < 0 { return (i, false) }
            if keys[i] == key { return (i, true) }
            i = (i + 1) & mask
        }
    }

    @inlinable
    mutating func insert(_ key: UInt64, _ value: Int32, at i: Int) {
        keys[i] = key
        values[i] = value
        used += 1
        if used * 2 > keys.count { grow() }
    }

    /// The value of `key`, if present.
    @inlinable
    public subscript(key: UInt64) -> Int32? {
        let (i, found) = find(key)
        return found ? values[i] : nil
    }

    /// The value of `key`; when absent, `value` (which must not be negative) is added first.
    @inlinable
    public mutating func value(for key: UInt64, inserting value: Int32) -> Int32 {
        let (i, found) = find(key)
        if found { return values[i] }
        insert(key, value, at: i)
        return value
    }

    /// Sets the value of `key` (not negative).
    @inlinable
    public mutating func set(_ key: UInt64, _ value: Int32) {
        let (i, found) = find(key)
        if found { values[i] = value } else { insert(key, value, at: i) }
    }

    @usableFromInline
    mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
        values = [Int32](repeating: -1, count: oldKeys.count * 2)
        shift -= 1
        let mask = keys.count - 1
        for j in oldKeys.indices where oldValues[j] >= 0 {
            var i = slot(oldKeys[j])
            while values[i] >= 0 { i = (i + 1) & mask }
            keys[i] = oldKeys[j]
            values[i] = oldValues[j]
        }
    }
}
