import TraceModel
#if canImport(Glibc)
import Glibc
#endif

// A restricted pickle reader: protocols 2 to 5, plain containers only. Every opcode that can name
// a Python object (GLOBAL, STACK_GLOBAL, INST, OBJ, NEWOBJ, NEWOBJ_EX, REDUCE, BUILD, PERSID,
// BINPERSID, EXT1/2/4, out-of-band buffers) is refused, so reading a file never runs its code.

/// A value built by `Unpickler`: the plain containers of a pickle.
public enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    /// An integer that does not fit 64 bits (only its sign is kept).
    case largeInt(negative: Bool)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// A list, or a set (read as a list of its items).
    case list(PickleList)
    case tuple([PickleValue])
    case dict(PickleDict)

    /// The integer, when this is one.
    public var int: Int64? { if case let .int(v) = self { return v }; return nil }
    /// The string, when this is one.
    public var string: String? { if case let .string(s) = self { return s }; return nil }
    /// The items of a list or tuple.
    public var items: [PickleValue]? {
        switch self {
        case let .list(l): return l.items
        case let .tuple(t): return t
        default: return nil
        }
    }
}

/// A list being built: items, plus a tag its consumer may set (items it took are not kept).
public final class PickleList {
    public var items: [PickleValue] = []
    /// Set by the consumer of `Unpickler.onAppend` when it takes items of this list for itself.
    public var tag: Int = -1
    init() {}
}

/// A dict: keys and values in insertion order (later duplicates replace earlier ones on lookup).
public final class PickleDict {
    public var keys: [PickleValue] = []
    public var values: [PickleValue] = []
    /// Free for the consumer (a frame dict remembers its interned frame here).
    public var tag: Int32 = -1
    init() {}

    /// The value under a string key.
    public subscript(key: String) -> PickleValue? {
        var i = keys.count - 1
        while i >= 0 {
            if case let .string(k) = keys[i], k == key { return values[i] }
            i -= 1
        }
        return nil
    }
}

/// Reads the opcodes of a pickle from a byte source, building plain values on a stack.
///
/// Memory is bounded by what the pickle really shares: the memo keeps only the entries that a
/// later GET reads (`referenced`, from a first pass), and `onAppend` lets a consumer take the
/// items appended to a list (a snapshot's trace events) instead of keeping them.
public final class Unpickler {
    let name: String
    var source: any ByteSource
    var buffer: [UInt8]
    var start = 0, end = 0
    /// Absolute offset of `buffer[0]`.
    var base: Int64 = 0
    /// Bytes the input may hold at most (the file's size when known): lengths are checked against it.
    let limit: Int64
    var stack: [PickleValue] = []
    var marks: [Int] = []
    var memo: [Int: PickleValue] = [:]
    var memoCount = 0
    /// Memo indices read by a GET, or nil to keep every entry.
    let referenced: Bitset?
    /// Called when items are appended to a list; returns how many of them (from the front) it
    /// took, which are then not kept.
    public var onAppend: ((PickleList, ArraySlice<PickleValue>) throws(ImportError) -> Int)?
    /// Deepest container nesting accepted on the stack.
    public static let maxMarks = 1 << 16

    /// Reads from `source`; `size` bounds every length field (nil: unknown, 1 TiB).
    public init(source: any ByteSource, name: String, size: Int64?, referenced: Bitset? = nil) {
        self.source = source
        self.name = name
        limit = size ?? (1 << 40)
        self.referenced = referenced
        buffer = [UInt8](repeating: 0, count: 1 << 20)
    }

    var offset: Int64 { base + Int64(start) }

    func fail(_ message: String, at position: Int64? = nil) -> ImportError {
        ImportError(file: name, offset: position ?? offset, message: message)
    }

    /// Makes at least `n` bytes available at `start` (n at most the buffer's size).
    @inline(__always) func need(_ n: Int) throws(ImportError) {
        if end - start >= n { return }
        try refill(n)
    }

    func refill(_ n: Int) throws(ImportError) {
        if start > 0 {
            let (from, count) = (start, end - start)
            buffer.withUnsafeMutableBytes { b in _ = memmove(b.baseAddress!, b.baseAddress! + from, count) }
            base += Int64(start)
            end -= start
            start = 0
        }
        if n > buffer.count { buffer += [UInt8](repeating: 0, count: n - buffer.count) }
        while end < n {
            var result: Result<Int, ImportError> = .success(0)
            let at = end
            buffer.withUnsafeMutableBytes { raw in
                do throws(ImportError) {
                    result = .success(try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[at...])))
                } catch { result = .failure(error) }
            }
            let got = try result.get()
            if got == 0 { throw fail("truncated pickle: the file ends inside an opcode (no STOP)", at: base + Int64(end)) }
            end += got
        }
    }

    @inline(__always) func byte() throws(ImportError) -> UInt8 {
        try need(1)
        defer { start += 1 }
        return buffer[start]
    }

    /// A little-endian unsigned integer of `n` bytes (n <= 8).
    @inline(__always) func uint(_ n: Int) throws(ImportError) -> UInt64 {
        try need(n)
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(buffer[start + i]) << (8 * UInt64(i)) }
        start += n
        return v
    }

    /// A length field, checked against what the input can still hold.
    func length(_ n: Int, at opOffset: Int64) throws(ImportError) -> Int {
        let v = try uint(n)
        guard v <= UInt64(max(0, limit - offset)) else {
            throw fail("length \(v) runs past the end of the file", at: opOffset)
        }
        return Int(v)
    }

    /// `n` raw bytes, read piecewise so a long string never needs a buffer of its size twice.
    func bytes(_ n: Int) throws(ImportError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(n)
        var left = n
        while left > 0 {
            try need(1)
            let take = min(left, end - start)
            out += buffer[start..<start + take]
            start += take
            left -= take
        }
        return out
    }

    func skip(_ n: Int) throws(ImportError) {
        var left = n
        while left > 0 {
            try need(1)
            let take = min(left, end - start)
            start += take
            left -= take
        }
    }

    func string(_ n: Int, at opOffset: Int64) throws(ImportError) -> String {
        let raw = try bytes(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("invalid UTF-8 in a string", at: opOffset) }
        return s
    }

    func pop(_ opOffset: Int64) throws(ImportError) -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else {
            throw fail("stack underflow", at: opOffset)
        }
        return v
    }

    /// The items above the topmost mark, removed from the stack along with the mark.
    func popMark(_ opOffset: Int64) throws(ImportError) -> ArraySlice<PickleValue> {
        guard let m = marks.popLast() else { throw fail("no MARK before this opcode", at: opOffset) }
        // Copied out first: a slice left sharing the stack's storage would make the removal copy
        // the whole stack (quadratic in an APPENDS batch of events).
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items[...]
    }

    func memoize(_ index: Int, _ v: PickleValue) {
        if referenced?.contains(index) ?? true { memo[index] = v }
    }

    func append(_ items: ArraySlice<PickleValue>, to target: PickleValue, _ opOffset: Int64) throws(ImportError) {
        guard case let .list(l) = target else { throw fail("APPEND to a value that is not a list", at: opOffset) }
        var rest = items
        if let onAppend, !items.isEmpty {
            let taken = try onAppend(l, items)
            rest = items.dropFirst(taken)
        }
        l.items += rest
    }

    func setItems(_ items: ArraySlice<PickleValue>, in target: PickleValue, _ opOffset: Int64) throws(ImportError) {
        guard case let .dict(d) = target else { throw fail("SETITEM on a value that is not a dict", at: opOffset) }
        guard items.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items", at: opOffset) }
        var i = items.startIndex
        while i < items.endIndex {
            d.keys.append(items[i])
            d.values.append(items[i + 1])
            i += 2
        }
    }

    /// The names of the opcodes refused because they can call into Python.
    static let refused: [UInt8: String] = [
        0x63: "GLOBAL", 0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x62: "BUILD", 0x69: "INST", 0x6F: "OBJ",
        0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x50: "PERSID", 0x51: "BINPERSID", 0x82: "EXT1", 0x83: "EXT2",
        0x84: "EXT4", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
    ]

    /// Runs to STOP and returns the pickled value.
    public func run() throws(ImportError) -> PickleValue {
        try need(2)
        guard buffer[start] == 0x80, (2...5).contains(buffer[start + 1]) else {
            throw fail("not a pickle of protocol 2 to 5 (it must start with PROTO 2..5)")
        }
        start += 2
        while true {
            let at = offset
            let op = try byte()
            switch op {
            case 0x80: _ = try byte()                                   // PROTO (again)
            case 0x95: _ = try uint(8)                                   // FRAME: a hint only
            case 0x2E:                                                   // STOP
                guard marks.isEmpty, stack.count == 1 else { throw fail("STOP with \(stack.count) values on the stack", at: at) }
                return stack[0]
            case 0x28:                                                   // MARK
                guard marks.count < Self.maxMarks else { throw fail("containers nested too deeply", at: at) }
                marks.append(stack.count)
            case 0x30: _ = try pop(at)                                   // POP
            case 0x31: _ = try popMark(at)                               // POP_MARK
            case 0x32:                                                   // DUP
                let v = try pop(at); stack.append(v); stack.append(v)
            case 0x4E: stack.append(.none)
            case 0x88: stack.append(.bool(true))
            case 0x89: stack.append(.bool(false))
            case 0x4A: stack.append(.int(Int64(Int32(truncatingIfNeeded: try uint(4)))))   // BININT
            case 0x4B: stack.append(.int(Int64(try uint(1))))                               // BININT1
            case 0x4D: stack.append(.int(Int64(try uint(2))))                               // BININT2
            case 0x8A: stack.append(try long(Int(try uint(1)), at))                         // LONG1
            case 0x8B: stack.append(try long(try length(4, at: at), at))                    // LONG4
            case 0x47: stack.append(.float(Double(bitPattern: (try uint(8)).byteSwapped)))  // BINFLOAT (big-endian)
            case 0x58: stack.append(.string(try string(try length(4, at: at), at: at)))     // BINUNICODE
            case 0x8C: stack.append(.string(try string(Int(try uint(1)), at: at)))          // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try string(try length(8, at: at), at: at)))     // BINUNICODE8
            case 0x42, 0x54: stack.append(.bytes(try bytes(try length(4, at: at))))         // BINBYTES, BINSTRING
            case 0x43, 0x55: stack.append(.bytes(try bytes(Int(try uint(1)))))              // SHORT_BINBYTES, SHORT_BINSTRING
            case 0x8E, 0x96: stack.append(.bytes(try bytes(try length(8, at: at))))         // BINBYTES8, BYTEARRAY8
            case 0x5D: stack.append(.list(PickleList()))                                    // EMPTY_LIST
            case 0x8F: stack.append(.list(PickleList()))                                    // EMPTY_SET
            case 0x6C, 0x91:                                                                // LIST, FROZENSET
                let l = PickleList(); l.items = Array(try popMark(at)); stack.append(.list(l))
            case 0x61:                                                                      // APPEND
                let v = try pop(at)
                guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow", at: at) }
                try append([v], to: target, at)
            case 0x65, 0x90:                                                                // APPENDS, ADDITEMS
                let items = try popMark(at)
                guard let target = stack.last else { throw fail("stack underflow", at: at) }
                try append(items, to: target, at)
            case 0x29: stack.append(.tuple([]))                                             // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(Array(try popMark(at))))                         // TUPLE
            case 0x85, 0x86, 0x87:                                                          // TUPLE1..3
                let n = Int(op - 0x84)
                guard stack.count - n >= (marks.last ?? 0) else { throw fail("stack underflow", at: at) }
                let t = Array(stack.suffix(n)); stack.removeLast(n); stack.append(.tuple(t))
            case 0x7D: stack.append(.dict(PickleDict()))                                    // EMPTY_DICT
            case 0x64:                                                                      // DICT
                let items = try popMark(at); let d = PickleDict()
                try setItems(items, in: .dict(d), at); stack.append(.dict(d))
            case 0x73:                                                                      // SETITEM
                let v = try pop(at), k = try pop(at)
                guard let target = stack.last, stack.count > (marks.last ?? 0) else { throw fail("stack underflow", at: at) }
                try setItems([k, v], in: target, at)
            case 0x75:                                                                      // SETITEMS
                let items = try popMark(at)
                guard let target = stack.last else { throw fail("stack underflow", at: at) }
                try setItems(items, in: target, at)
            case 0x68, 0x6A:                                                                // BINGET, LONG_BINGET
                let i = Int(try uint(op == 0x68 ? 1 : 4))
                guard let v = memo[i] else { throw fail("memo entry \(i) read before it was stored", at: at) }
                stack.append(v)
            case 0x71, 0x72:                                                                // BINPUT, LONG_BINPUT
                let i = Int(try uint(op == 0x71 ? 1 : 4))
                guard let v = stack.last else { throw fail("stack underflow", at: at) }
                memoize(i, v)
                memoCount = max(memoCount, i + 1)
            case 0x94:                                                                      // MEMOIZE
                guard let v = stack.last else { throw fail("stack underflow", at: at) }
                memoize(memoCount, v)
                memoCount += 1
            default:
                if let refusedName = Self.refused[op] {
                    throw fail("refused pickle opcode \(refusedName): a memory snapshot holds plain containers only, and this one would run code", at: at)
                }
                throw fail("unsupported pickle opcode 0x\(String(op, radix: 16))", at: at)
            }
        }
    }

    /// A little-endian two's-complement integer of `n` bytes.
    func long(_ n: Int, _ at: Int64) throws(ImportError) -> PickleValue {
        if n == 0 { return .int(0) }
        if n > 8 {
            let raw = try bytes(n)
            return .largeInt(negative: raw[n - 1] & 0x80 != 0)
        }
        let v = try uint(n)
        let shift = UInt64(64 - 8 * n)
        return .int(Int64(bitPattern: v << shift) >> Int64(shift))
    }

    /// Opcodes without an argument, by opcode.
    static let noArgument: [Bool] = (0..<256).map {
        [0x28, 0x30, 0x31, 0x32, 0x4E, 0x88, 0x89, 0x5D, 0x8F, 0x6C, 0x91, 0x61, 0x65, 0x90, 0x29, 0x74,
         0x85, 0x86, 0x87, 0x7D, 0x64, 0x73, 0x75, 0x94].contains($0)
    }

    /// First pass: the memo indices some GET reads, found by walking the opcodes without
    /// building values (so the second pass keeps only what is shared).
    public static func referencedMemo(source: any ByteSource, name: String, size: Int64?) throws(ImportError) -> Bitset {
        let u = Unpickler(source: source, name: name, size: size)
        var refs = Bitset()
        try u.need(2)
        u.start += 2
        while true {
            let at = u.offset
            let op = try u.byte()
            switch op {
            case 0x2E: return refs
            case 0x80, 0x4B, 0x71: _ = try u.byte()
            case 0x4D: try u.skip(2)
            case 0x4A, 0x72: try u.skip(4)
            case 0x95, 0x47: try u.skip(8)
            case 0x8A, 0x8C, 0x43, 0x55: try u.skip(Int(try u.byte()))
            case 0x8B, 0x58, 0x42, 0x54: try u.skip(try u.length(4, at: at))
            case 0x8D, 0x8E, 0x96: try u.skip(try u.length(8, at: at))
            case 0x68: refs.insert(Int(try u.byte()))
            case 0x6A: refs.insert(Int(try u.uint(4)))
            default:
                if let refusedName = refused[op] {
                    throw u.fail("refused pickle opcode \(refusedName): a memory snapshot holds plain containers only, and this one would run code", at: at)
                }
                // Opcodes without an argument; unknown ones are reported by the second pass.
                guard Self.noArgument[Int(op)] else {
                    throw u.fail("unsupported pickle opcode 0x\(String(op, radix: 16))", at: at)
                }
            }
        }
    }
}

/// A growable set of non-negative integers: a bit per number below `denseLimit`, a hash set
/// above (a pickle's memo indices count up from 0, but a hostile one may name any 32-bit index,
/// which must not cost a bit for every number below it).
public struct Bitset: Sendable {
    var words: [UInt64] = []
    var far: Set<Int> = []
    /// Numbers below this are bits (2 MiB at most).
    static let denseLimit = 1 << 24
    public init() {}
    public mutating func insert(_ i: Int) {
        guard i < Self.denseLimit else { far.insert(i); return }
        let w = i >> 6
        if w >= words.count { words += [UInt64](repeating: 0, count: max(w + 1 - words.count, words.count)) }
        words[w] |= 1 << UInt64(i & 63)
    }
    public func contains(_ i: Int) -> Bool {
        guard i < Self.denseLimit else { return far.contains(i) }
        let w = i >> 6
        return w < words.count && words[w] & (1 << UInt64(i & 63)) != 0
    }
}
