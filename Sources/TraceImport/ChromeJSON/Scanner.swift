import TraceModel

/// Why a scan step stopped: the buffer ran out mid-unit (refill and retry), or the input is invalid.
enum ScanError: Error {
    case underflow
    case syntax(position: Int, message: String)
}

/// The fields of one trace event as the tokenizer reads them; args go straight into the arg table.
struct RawEvent {
    var ph: UInt8 = 0
    var name: UInt32 = 0
    var cat: UInt32 = 0
    var pid: UInt32 = 0
    var tid: UInt32 = 0
    var id: UInt32 = 0
    var ts: Int64 = 0
    var hasTs = false
    var dur: Int64 = 0
    var hasDur = false
    var bp: UInt8 = 0
    var scope: UInt8 = 0
    var argStart = 0
    var correlation: Int64 = -1
    var externalID: Int64 = -1
    /// Set when a lean load skipped the event's members after `ph` (a flow event).
    var skipped = false
    /// Absolute byte offset of the event's `{`.
    var offset: Int64 = 0
}

/// A byte buffer over a `ByteSource`; `Cursor` scans it.
///
/// Positions are indices into `buf`; `base` is the absolute input offset of `buf[0]`. The byte at
/// `end` is always 0 and at least `padding` bytes past it are readable, so scans stop at `end`
/// without a bounds check per byte. Every scan throws `.underflow` instead of reading past `end`,
/// so a unit (one event, one top-level key) is parsed all-or-nothing and simply retried after
/// `refill(keepingFrom:)`.
final class ScanBuffer {
    private(set) var buf: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var end = 0
    private(set) var base: Int64 = 0
    private(set) var eof = false
    private var source: any ByteSource
    /// Scratch space for unescaping strings.
    private var scratch: [UInt8] = []
    /// Recently interned short strings and numbers (see `Cursor.internedString`, `internedScalar`).
    let quoted = QuotedCache(), numbers = QuotedCache()

    /// The most the window grows to: a unit (one event, one top-level member) must fit in it.
    let maxCapacity: Int
    /// The input's name in errors.
    private let file: String

    /// The default `maxCapacity`: far more than any real event takes, and a bound on the memory a
    /// hostile one (a string of gigabytes) can make the parser hold.
    static let unitLimit = 64 << 20

    /// `base` is the input offset of the first byte `source` yields; `file` names it in errors.
    init(source: any ByteSource, file: String = "", capacity: Int = 8 << 20, maxCapacity: Int = ScanBuffer.unitLimit, base: Int64 = 0) {
        self.source = source
        self.file = file
        self.capacity = capacity
        self.maxCapacity = max(maxCapacity, capacity)
        self.base = base
        buf = .allocate(capacity: capacity + Self.padding)
        buf[0] = 0
    }

    deinit { buf.deallocate() }

    /// Readable bytes past `end`, so short strings can be loaded as whole words (three words from
    /// the byte after a quote).
    static let padding = 32

    var bytesConsumed: Int64 { source.bytesConsumed }

    /// A cursor at `i` over the bytes read so far.
    @inline(__always)
    func cursor(_ i: Int) -> Cursor { Cursor(buf: buf, end: end, i: i) }

    /// Keeps `buf[keep..<end]`, moves it to the front, and reads more; grows the buffer when a
    /// single unit fills it, up to `maxCapacity` (then the unit is an error). Returns false at end
    /// of input with nothing new read.
    func refill(keepingFrom keep: Int) throws(ImportError) -> Bool {
        if keep == 0 && end == capacity {
            guard capacity < maxCapacity else { throw unitTooLong() }
            let newCapacity = min(capacity * 2, maxCapacity)
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity + Self.padding)
            grown.update(from: buf, count: end)
            buf.deallocate()
            buf = grown
            capacity = newCapacity
        } else if keep > 0 {
            let kept = end - keep
            if kept > 0 { buf.update(from: buf + keep, count: kept) }
            base += Int64(keep)
            end = kept
        }
        var readAny = false
        while end < capacity && !eof {
            let n = try source.read(into: UnsafeMutableRawBufferPointer(start: buf + end, count: capacity - end))
            if n == 0 { eof = true } else { end += n; readAny = true }
        }
        buf[end] = 0
        return readAny
    }

    /// The error for a unit that fills the whole window at its largest, naming what runs past the
    /// end when it takes most of the window: a string (from its quote), whitespace (from its first
    /// byte); else the unit.
    private func unitTooLong() -> ImportError {
        var string = -1, space = -1
        var i = 0
        while i < end {
            let c = buf[i]
            if string >= 0 {
                if c == 0x5C { i += 2; continue }
                if c == 0x22 { string = -1 }
            } else if c == 0x22 {
                string = i
            } else if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 {
                if space < 0 { space = i }
            } else {
                space = -1
            }
            i += 1
        }
        let most = end / 2
        let what = string >= 0 && end - string > most ? ("a string", string)
            : space >= 0 && end - space > most ? ("whitespace", space) : ("an event or member", 0)
        return ImportError(file: file, offset: base + Int64(what.1),
                           message: "\(what.0) longer than the \(maxCapacity >> 20) MiB one event or member may take")
    }

    /// Interns the escaped string body `buf[start..<stop]`, unescaped.
    func internEscaped(_ start: Int, _ stop: Int, _ strings: StringTable) throws(ScanError) -> UInt32 {
        scratch.removeAll(keepingCapacity: true)
        let body = UnsafeBufferPointer(start: buf + start, count: stop - start)
        let ok = Array(body).withUnsafeBufferPointer { b in JSONText.unescape(ArraySlice(b), into: &scratch) }
        guard ok else { throw .syntax(position: start, message: "invalid escape in string") }
        return scratch.withUnsafeBytes { strings.intern($0) }
    }
}

/// Short strings recently interned from a buffer, keyed by their first word: each entry holds the
/// bytes after the opening quote up to and including the closing one (at most 24), so a repeated
/// string (an arg key, a category, an operator name) is recognised with three word compares. A
/// cache of numbers holds their text and the byte that ends it instead.
final class QuotedCache {
    /// One string: its bytes and closing quote as three masked words, their length, and its id.
    struct Entry {
        var w0: UInt64 = .max, w1: UInt64 = 0, w2: UInt64 = 0  // .max under mask 0xFF never matches
        var m0: UInt64 = 0xFF, m1: UInt64 = 0, m2: UInt64 = 0
        var length = 1
        var id: UInt32 = 0

        init() {}

        /// The `length` bytes at `p` (a string's bytes and its closing quote), or an empty entry
        /// when they do not fit.
        init(_ p: UnsafeRawPointer, length: Int, id: UInt32) {
            guard length <= 24 else { return }
            self.length = length
            self.id = id
            m0 = StringTable.lowBytesMask(length)
            m1 = length > 8 ? StringTable.lowBytesMask(length - 8) : 0
            m2 = length > 16 ? StringTable.lowBytesMask(length - 16) : 0
            w0 = p.loadUnaligned(as: UInt64.self) & m0
            w1 = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & m1
            w2 = p.loadUnaligned(fromByteOffset: 16, as: UInt64.self) & m2
        }

        /// The id and length when the bytes at `p` (24 of them readable) start with this entry's.
        @inline(__always)
        func match(_ p: UnsafeRawPointer) -> (id: UInt32, length: Int)? {
            let a = (p.loadUnaligned(as: UInt64.self) & m0) ^ w0
            let b = (p.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & m1) ^ w1
            let c = (p.loadUnaligned(fromByteOffset: 16, as: UInt64.self) & m2) ^ w2
            return a | b | c == 0 ? (id, length) : nil
        }
    }

    static let slots = 512
    private let entries: UnsafeMutablePointer<Entry>

    init() {
        entries = .allocate(capacity: Self.slots)
        entries.initialize(repeating: Entry(), count: Self.slots)
    }

    deinit { entries.deallocate() }

    /// The entry for the string whose bytes start at `p`.
    @inline(__always)
    func entry(_ p: UnsafeRawPointer) -> UnsafeMutablePointer<Entry> {
        entries + Int(truncatingIfNeeded: (p.loadUnaligned(as: UInt64.self) &* 0x9E37_79B9_7F4A_7C15) >> 55)
    }
}

/// A position in a `ScanBuffer` with the JSON scanning primitives. Kept in a local variable, its
/// fields live in registers; a unit's parse copies it in and writes the position back only when
/// the unit is complete.
struct Cursor {
    let buf: UnsafeMutablePointer<UInt8>
    let end: Int
    var i: Int

    @inline(never)
    static func syntax(_ position: Int, _ message: String) -> ScanError { .syntax(position: position, message: message) }

    @inline(never)
    static func controlByte(_ buf: UnsafeMutablePointer<UInt8>, _ i: Int) -> ScanError {
        .syntax(position: i, message: "unexpected control byte 0x\(String(buf[i], radix: 16))")
    }

    /// Skips JSON whitespace; returns the next byte without consuming it.
    @inline(__always)
    mutating func skipSpace() throws(ScanError) -> UInt8 {
        while true {
            let c = buf[i]
            if c > 0x20 { return c }
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1; continue }
            if i >= end { throw .underflow }  // the 0 at `end`
            throw Self.controlByte(buf, i)
        }
    }

    /// Expects byte `c` (after whitespace) and consumes it.
    @inline(__always)
    mutating func expect(_ c: UInt8, _ what: StaticString) throws(ScanError) {
        if buf[i] == c { i += 1; return }
        let got = try skipSpace()
        guard got == c else { throw Self.syntax(i, "expected \(what)") }
        i += 1
    }

    /// Consumes the `:` after a member name and the whitespace after it; returns the value's first
    /// byte. `": "` and `":"` take a short path.
    @inline(__always)
    mutating func valueAfterColon() throws(ScanError) -> UInt8 {
        if buf[i] == 0x3A {  // so i < end, and the byte after it is readable
            let c = buf[i + 1]
            if c > 0x20 { i += 1; return c }
            if c == 0x20 {  // so i + 1 < end
                let d = buf[i + 2]
                if d > 0x20 { i += 2; return d }
            }
        }
        try expect(0x3A, "':'")
        return try skipSpace()
    }

    /// Scans a string starting at its opening quote. Returns the body range and whether it has
    /// escapes; `i` ends after the closing quote.
    @inline(__always)
    mutating func scanString() throws(ScanError) -> (start: Int, end: Int, escaped: Bool) {
        let start = i + 1
        var j = start
        var escaped = false
        while true {
            // Eight bytes at a time up to the first quote, backslash or control byte (the 0 at
            // `end` is one, so this stops there; the padding keeps the load in bounds).
            while true {
                let v = UnsafeRawPointer(buf + j).loadUnaligned(as: UInt64.self)
                let control = (v &- 0x2020_2020_2020_2020) & ~v & 0x8080_8080_8080_8080  // bytes below 0x20
                let special = Self.zeroBytes(v ^ 0x2222_2222_2222_2222) | Self.zeroBytes(v ^ 0x5C5C_5C5C_5C5C_5C5C) | control
                if special != 0 {
                    j += special.trailingZeroBitCount >> 3
                    break
                }
                j += 8
            }
            let c = buf[j]
            if c == 0x22 { i = j + 1; return (start, j, escaped) }
            if c == 0x5C {
                escaped = true
                j += 2
                if j > end { throw .underflow }
                continue
            }
            // A control byte: the 0 at `end`, or one inside the string.
            if j >= end { throw .underflow }
            throw Self.syntax(j, "control character in string")
        }
    }

    /// Interns the string at `i` (unescaped): its id and the position after its closing quote.
    /// By value, so that a caller's cursor stays in registers even when this is not inlined.
    ///
    /// A string seen recently is recognised without scanning for its end: the words after the
    /// quote are compared with a `QuotedCache` entry, which holds the string's bytes and its
    /// closing quote. A match cannot run past `end`: the byte there is 0, and no entry holds one.
    @inline(__always)
    func internedString(_ strings: StringTable, _ scan: ScanBuffer) throws(ScanError) -> (UInt32, Int) {
        guard buf[i] == 0x22 else { throw Self.syntax(i, "expected a string") }
        let p = UnsafeRawPointer(buf + i + 1)
        let entry = scan.quoted.entry(p)
        if let hit = entry.pointee.match(p) { return (hit.id, i + 1 + hit.length) }
        var c = self
        let s = try c.scanString()
        if s.escaped { return (try scan.internEscaped(s.start, s.end, strings), c.i) }
        let id = strings.internPadded(p, s.end - s.start)
        entry.pointee = QuotedCache.Entry(p, length: c.i - i - 1, id: id)
        return (id, c.i)
    }

    /// Interns a pid/tid/id value (a string's content or a number's text), as `internedString`.
    /// A number seen recently is recognised by its `QuotedCache` entry: its text and the byte
    /// after it (which ends it).
    @inline(__always)
    func internedScalar(_ strings: StringTable, _ scan: ScanBuffer) throws(ScanError) -> (UInt32, Int) {
        if buf[i] == 0x22 { return try internedString(strings, scan) }
        let p = UnsafeRawPointer(buf + i)
        let entry = scan.numbers.entry(p)
        if let hit = entry.pointee.match(p) { return (hit.id, i + hit.length - 1) }
        var c = self
        try c.scanNumberText()
        let id = strings.internPadded(p, c.i - i)
        if buf[c.i] >= 0x20 { entry.pointee = QuotedCache.Entry(p, length: c.i - i + 1, id: id) }
        return (id, c.i)
    }

    /// Scans a JSON number's text; `i` ends after it. Throws underflow when it touches `end`.
    @inline(__always)
    mutating func scanNumberText() throws(ScanError) {
        let start = i
        while true {
            let c = buf[i]
            if (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45 {
                i += 1
                continue
            }
            break
        }
        if i >= end { throw .underflow }
        if i == start { throw Self.syntax(start, "expected a value") }
    }

    /// `parseMicros` for a number written as a JSON string (`"1736408883731508.790"`, as torch_npu
    /// writes `ts`): the digits between the quotes, parsed the same way; `i` ends after the closing quote.
    /// `what` is the error when the string does not begin with a number.
    mutating func parseQuotedMicros(_ what: StaticString) throws(ScanError) -> Int64 {
        let quote = i
        i += 1
        let c = buf[i]
        guard c == 0x2D || (c >= 0x30 && c <= 0x39) else {
            if i >= end { throw .underflow }
            throw Self.syntax(quote, "\(what)")
        }
        let ns = try parseMicros()
        guard buf[i] == 0x22 else {
            if i >= end { throw .underflow }
            throw Self.syntax(i, "malformed number")
        }
        i += 1
        return ns
    }

    /// Parses microseconds written in decimal into integer nanoseconds, exactly.
    @inline(__always)
    mutating func parseMicros() throws(ScanError) -> Int64 {
        let start = i
        var negative = false
        if buf[i] == 0x2D { negative = true; i += 1 }
        var whole: UInt64 = 0
        var digits = 0
        while true {
            let d = buf[i] &- 0x30
            if d > 9 { break }
            whole = whole &* 10 &+ UInt64(d)
            digits += 1
            i += 1
        }
        var frac: UInt64 = 0
        var fracDigits = 0
        var roundUp = false
        if buf[i] == 0x2E {
            i += 1
            while true {
                let d = buf[i] &- 0x30
                if d > 9 { break }
                if fracDigits < 3 { frac = frac * 10 + UInt64(d) } else if fracDigits == 3 { roundUp = d >= 5 }
                fracDigits += 1
                i += 1
            }
            if i >= end { throw .underflow }
            if fracDigits == 0 { throw Self.syntax(i, "malformed number") }
        }
        if i >= end { throw .underflow }
        let c = buf[i]
        if c == 0x65 || c == 0x45 || digits == 0 || digits > 16 || whole > 9_223_372_036_854_774 {
            // Exponents and very large values take the general path.
            let (ns, next) = try microsGeneral(from: start)
            i = next
            return ns
        }
        while fracDigits < 3 { frac *= 10; fracDigits += 1 }
        let magnitude = Int64(whole * 1000 + frac + (roundUp ? 1 : 0))
        return negative ? -magnitude : magnitude
    }

    /// `parseMicros` for any number at `start`: the value and the position after it.
    @inline(never)
    private func microsGeneral(from start: Int) throws(ScanError) -> (Int64, Int) {
        var c = self
        c.i = start
        try c.scanNumberText()
        guard let ns = DecimalTime.nanoseconds(fromMicros: UnsafeBufferPointer(start: buf + start, count: c.i - start)) else {
            let text = String(decoding: UnsafeBufferPointer(start: buf + start, count: c.i - start), as: UTF8.self)
            throw Self.syntax(start, "number out of range or malformed: \(text)")
        }
        return (ns, c.i)
    }

    /// Parses an integer arg value when it is a plain integer of at most 18 digits; otherwise
    /// leaves `i` unchanged and returns nil.
    @inline(__always)
    mutating func parseSmallInteger() throws(ScanError) -> Int64? {
        var j = i
        var negative = false
        if buf[j] == 0x2D { negative = true; j += 1 }
        var v: Int64 = 0
        var digits = 0
        while true {
            let d = buf[j] &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ Int64(d)
            digits += 1
            j += 1
        }
        if j >= end { throw .underflow }
        let c = buf[j]
        if digits == 0 || digits > 18 || c == 0x2E || c == 0x65 || c == 0x45 { return nil }
        i = j
        return negative ? -v : v
    }

    /// Skips any JSON value; `i` ends after it.
    @inline(__always)
    mutating func skipValue() throws(ScanError) { i = try endOfValue() }

    /// The position after the JSON value at `i` (out of line, and by value, so that a caller's
    /// cursor stays in registers).
    @inline(never)
    func endOfValue() throws(ScanError) -> Int {
        var c = self
        let first = try c.skipSpace()
        switch first {
        case 0x22: _ = try c.scanString()
        case 0x7B, 0x5B:
            c.i += 1
            return try c.endOfContainer()
        case 0x74: try c.literal("true")
        case 0x66: try c.literal("false")
        case 0x6E: try c.literal("null")
        default:
            guard first == 0x2D || (first >= 0x30 && first <= 0x39) else { throw Self.syntax(c.i, "expected a value") }
            try c.scanNumberText()
        }
        return c.i
    }

    /// The high bit of each 0 byte of `v` (XOR a word with a repeated byte to find that byte). The
    /// lowest flagged byte is always a real one (borrows only carry upwards), so OR-ed terms stop
    /// at the first byte any of them flags.
    @inline(__always)
    static func zeroBytes(_ v: UInt64) -> UInt64 { (v &- 0x0101_0101_0101_0101) & ~v & 0x8080_8080_8080_8080 }

    /// The position after the `}` or `]` that closes the object or array `i` is inside. Strings
    /// are stepped over and brackets counted; nothing else is checked.
    @inline(__always)
    func endOfContainer() throws(ScanError) -> Int {
        var c = self
        var depth = 1
        while true {
            let b = buf[c.i]
            if b == 0x22 { _ = try c.scanString(); continue }
            if b == 0x7B || b == 0x5B { depth += 1 } else if b == 0x7D || b == 0x5D {
                depth -= 1
                if depth == 0 { return c.i + 1 }
            } else if b == 0 && c.i >= end {
                throw .underflow
            }
            c.i += 1
        }
    }

    /// `endOfContainer` for an object that holds mostly strings and numbers (a flow event, a
    /// `python_function` event's args): eight bytes at a time to the next quote, bracket or brace;
    /// a nested object or array is left to `endOfContainer`. (Arrays of shapes and types, with a
    /// bracket or quote every few bytes, are faster byte by byte.)
    @inline(__always)
    func endOfFlatContainer() throws(ScanError) -> Int {
        var c = self
        while true {
            let v = UnsafeRawPointer(buf + c.i).loadUnaligned(as: UInt64.self)
            // `| 0x20` folds `[` `]` onto `{` `}`; each term flags the bytes equal to one target.
            let x = v | 0x2020_2020_2020_2020
            let special = Self.zeroBytes(v ^ 0x2222_2222_2222_2222) | Self.zeroBytes(x ^ 0x7B7B_7B7B_7B7B_7B7B)
                | Self.zeroBytes(x ^ 0x7D7D_7D7D_7D7D_7D7D) | Self.zeroBytes(v)
            if special == 0 {
                c.i += 8
                continue
            }
            c.i += special.trailingZeroBitCount >> 3
            switch buf[c.i] {
            case 0x22: _ = try c.scanString()
            case 0x7D, 0x5D: return c.i + 1
            case 0x7B, 0x5B: return try c.endOfContainer()
            default:  // a 0 byte: the one at `end`, or one in the data (not JSON; skipped as before)
                if c.i >= end { throw .underflow }
                c.i += 1
            }
        }
    }

    private mutating func literal(_ word: StaticString) throws(ScanError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= end else { throw .underflow }
        guard memcmp(buf + i, word.utf8Start, n) == 0 else { throw Self.syntax(i, "expected a value") }
        i += n
    }

    /// After a member: consumes `,` (returns true) or the closing byte (returns false).
    @inline(__always)
    mutating func nextMember(close: UInt8) throws(ScanError) -> Bool {
        let c = try skipSpace()
        i += 1
        if c == 0x2C { return true }
        if c == close { return false }
        throw Self.syntax(i - 1, close == 0x7D ? "expected ',' or '}'" : "expected ',' or ']'")
    }
}

/// The bytes between one member and the next member's name (or between `{` and the first name),
/// and those that close the object, learned from the input: pretty-printed traces repeat the same
/// newline, indent, comma and quote before every member, so they are matched as two words instead
/// of scanned byte by byte. The last two different separators of up to 16 bytes are kept (Kineto
/// writes one before `args` and another before the other members), and the last closing run.
struct Separator {
    private struct Pattern {
        var low: UInt64 = 1, high: UInt64 = 0  // never matches with masks 0
        var lowMask: UInt64 = 0, highMask: UInt64 = 0
        var length = 0

        /// The `n` (at most 16) bytes at `p`; matching advances by `advance` bytes.
        init(_ p: UnsafeRawPointer, count n: Int, advance: Int) {
            lowMask = StringTable.lowBytesMask(n)
            highMask = n <= 8 ? 0 : StringTable.lowBytesMask(n - 8)
            low = p.loadUnaligned(as: UInt64.self) & lowMask
            high = n > 8 ? p.loadUnaligned(fromByteOffset: 8, as: UInt64.self) & highMask : 0
            length = advance
        }

        init() {}

        @inline(__always)
        func matches(_ a: UInt64, _ b: UInt64) -> Bool { (a & lowMask) ^ low | (b & highMask) ^ high == 0 }
    }

    /// What `skip` found.
    enum Found { case member, close, unknown }

    private var first = Pattern(), second = Pattern(), close = Pattern()

    /// If a learned separator is at `cur.i`, moves `cur` onto the next name's opening quote
    /// (`member`); if the learned closing run is, past the `}` (`close`).
    @inline(__always)
    mutating func skip(_ cur: inout Cursor) -> Found {
        guard cur.i + 16 <= cur.end else { return .unknown }
        let p = UnsafeRawPointer(cur.buf + cur.i)
        let a = p.loadUnaligned(as: UInt64.self), b = p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        if first.matches(a, b) { cur.i += first.length; return .member }
        if second.matches(a, b) {
            swap(&first, &second)
            cur.i += first.length
            return .member
        }
        if close.matches(a, b) { cur.i += close.length; return .close }
        return .unknown
    }

    /// Learns the separator `buf[from...quote]` (a well-formed one, ending at a name's opening
    /// quote) when it fits in 16 bytes; it replaces the older of the two kept.
    mutating func learn(_ buf: UnsafeMutablePointer<UInt8>, from: Int, quote: Int) {
        let n = quote - from + 1
        guard n <= 16 else { return }
        second = first
        first = Pattern(UnsafeRawPointer(buf + from), count: n, advance: n - 1)
    }

    /// Learns the closing run `buf[from..<after]` (whitespace and the `}`) when it fits in 16 bytes.
    mutating func learnClose(_ buf: UnsafeMutablePointer<UInt8>, from: Int, after: Int) {
        let n = after - from
        guard n <= 16 else { return }
        close = Pattern(UnsafeRawPointer(buf + from), count: n, advance: n)
    }
}

#if canImport(Glibc)
import Glibc
#endif
