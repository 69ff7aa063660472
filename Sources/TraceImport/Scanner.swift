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
    /// Absolute byte offset of the event's `{`.
    var offset: Int64 = 0
}

/// A byte buffer over a `ByteSource` with JSON scanning primitives.
///
/// Positions are indices into `buf`; `base` is the absolute input offset of `buf[0]`. Every
/// primitive throws `.underflow` instead of reading past `end`, so a unit (one event, one top-level
/// key) is parsed all-or-nothing and simply retried after `refill(keepingFrom:)`.
final class ScanBuffer {
    private(set) var buf: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var end = 0
    private(set) var base: Int64 = 0
    private(set) var eof = false
    private var source: any ByteSource
    /// Scratch space for unescaping strings.
    var scratch: [UInt8] = []

    /// `base` is the input offset of the first byte `source` yields.
    init(source: any ByteSource, capacity: Int = 8 << 20, base: Int64 = 0) {
        self.source = source
        self.capacity = capacity
        self.base = base
        buf = .allocate(capacity: capacity + Self.padding)
    }

    deinit { buf.deallocate() }

    /// Readable bytes past `end`, so short strings can be loaded as whole words.
    static let padding = 16

    var bytesConsumed: Int64 { source.bytesConsumed }

    /// Keeps `buf[keep..<end]`, moves it to the front, and reads more; grows the buffer when a
    /// single unit fills it. Returns false at end of input with nothing new read.
    func refill(keepingFrom keep: Int) throws(ImportError) -> Bool {
        if keep == 0 && end == capacity {
            let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2 + Self.padding)
            grown.update(from: buf, count: end)
            buf.deallocate()
            buf = grown
            capacity *= 2
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

    func syntax(_ position: Int, _ message: String) -> ScanError { .syntax(position: position, message: message) }

    // MARK: - Primitives

    /// Skips JSON whitespace; returns the next byte without consuming it.
    @inline(__always)
    func skipSpace(_ i: inout Int) throws(ScanError) -> UInt8 {
        while true {
            guard i < end else { throw .underflow }
            let c = buf[i]
            if c > 0x20 { return c }
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else {
                throw syntax(i, "unexpected control byte 0x\(String(c, radix: 16))")
            }
            i += 1
        }
    }

    /// Expects byte `c` (after whitespace) and consumes it.
    @inline(__always)
    func expect(_ c: UInt8, _ i: inout Int, _ what: StaticString) throws(ScanError) {
        let got = try skipSpace(&i)
        guard got == c else { throw syntax(i, "expected \(what)") }
        i += 1
    }

    /// Scans a string starting at its opening quote. Returns the body range and whether it has
    /// escapes; `i` ends after the closing quote.
    @inline(__always)
    func scanString(_ i: inout Int) throws(ScanError) -> (start: Int, end: Int, escaped: Bool) {
        let start = i + 1
        var j = start
        var escaped = false
        while true {
            // Eight bytes at a time while none is a quote, a backslash or a control byte.
            while j + 8 <= end {
                let v = UnsafeRawPointer(buf + j).loadUnaligned(as: UInt64.self)
                let lows: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                let q = v ^ 0x2222_2222_2222_2222
                let b = v ^ 0x5C5C_5C5C_5C5C_5C5C
                let special = ((q &- lows) & ~q) | ((b &- lows) & ~b) | ((v &- 0x2020_2020_2020_2020) & ~v)
                if special & highs != 0 { break }
                j += 8
            }
            guard j < end else { throw .underflow }
            let c = buf[j]
            if c == 0x22 { i = j + 1; return (start, j, escaped) }
            if c == 0x5C {
                escaped = true
                j += 2
                continue
            }
            if c < 0x20 { throw syntax(j, "control character in string") }
            j += 1
        }
    }

    /// Interns the string at `i` (unescaped). `i` ends after the closing quote.
    @inline(__always)
    func internString(_ i: inout Int, _ strings: StringTable) throws(ScanError) -> UInt32 {
        guard buf[i] == 0x22 else { throw syntax(i, "expected a string") }
        let s = try scanString(&i)
        if !s.escaped { return strings.internPadded(UnsafeRawPointer(buf + s.start), s.end - s.start) }
        return try internEscaped(s.start, s.end, strings)
    }

    func internEscaped(_ start: Int, _ stop: Int, _ strings: StringTable) throws(ScanError) -> UInt32 {
        scratch.removeAll(keepingCapacity: true)
        let body = UnsafeBufferPointer(start: buf + start, count: stop - start)
        let ok = Array(body).withUnsafeBufferPointer { b in JSONText.unescape(ArraySlice(b), into: &scratch) }
        guard ok else { throw syntax(start, "invalid escape in string") }
        return scratch.withUnsafeBytes { strings.intern($0) }
    }

    /// Interns a pid/tid/id value: a string's content or a number's text.
    @inline(__always)
    func internScalar(_ i: inout Int, _ strings: StringTable) throws(ScanError) -> UInt32 {
        let c = buf[i]
        if c == 0x22 { return try internString(&i, strings) }
        let start = i
        try scanNumberText(&i)
        return strings.internPadded(UnsafeRawPointer(buf + start), i - start)
    }

    /// Scans a JSON number's text; `i` ends after it. Throws underflow when it touches `end`.
    @inline(__always)
    func scanNumberText(_ i: inout Int) throws(ScanError) {
        let start = i
        while true {
            guard i < end else { throw .underflow }
            let c = buf[i]
            if (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2B || c == 0x2E || c == 0x65 || c == 0x45 {
                i += 1
                continue
            }
            break
        }
        if i == start { throw syntax(start, "expected a value") }
    }

    /// Parses microseconds written in decimal into integer nanoseconds, exactly.
    @inline(__always)
    func parseMicros(_ i: inout Int) throws(ScanError) -> Int64 {
        let start = i
        guard i < end else { throw .underflow }
        var negative = false
        if buf[i] == 0x2D { negative = true; i += 1 }
        var whole: UInt64 = 0
        var digits = 0
        while true {
            guard i < end else { throw .underflow }
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
                guard i < end else { throw .underflow }
                let d = buf[i] &- 0x30
                if d > 9 { break }
                if fracDigits < 3 { frac = frac * 10 + UInt64(d) } else if fracDigits == 3 { roundUp = d >= 5 }
                fracDigits += 1
                i += 1
            }
            if fracDigits == 0 { throw syntax(i, "malformed number") }
        }
        let c = buf[i]
        if c == 0x65 || c == 0x45 || digits == 0 || digits > 16 || whole > 9_223_372_036_854_774 {
            // Exponents and very large values take the general path.
            i = start
            try scanNumberText(&i)
            guard let ns = DecimalTime.nanoseconds(fromMicros: UnsafeBufferPointer(start: buf + start, count: i - start)) else {
                let text = String(decoding: UnsafeBufferPointer(start: buf + start, count: i - start), as: UTF8.self)
                throw syntax(start, "number out of range or malformed: \(text)")
            }
            return ns
        }
        while fracDigits < 3 { frac *= 10; fracDigits += 1 }
        let magnitude = Int64(whole * 1000 + frac + (roundUp ? 1 : 0))
        return negative ? -magnitude : magnitude
    }

    /// Parses an integer arg value when it is a plain integer of at most 18 digits; otherwise
    /// leaves `i` unchanged and returns nil.
    @inline(__always)
    func parseSmallInteger(_ i: inout Int) throws(ScanError) -> Int64? {
        var j = i
        var negative = false
        if buf[j] == 0x2D { negative = true; j += 1 }
        var v: Int64 = 0
        var digits = 0
        while true {
            guard j < end else { throw .underflow }
            let d = buf[j] &- 0x30
            if d > 9 { break }
            v = v &* 10 &+ Int64(d)
            digits += 1
            j += 1
        }
        let c = buf[j]
        if digits == 0 || digits > 18 || c == 0x2E || c == 0x65 || c == 0x45 { return nil }
        i = j
        return negative ? -v : v
    }

    /// Skips any JSON value; `i` ends after it.
    func skipValue(_ i: inout Int) throws(ScanError) {
        let c = try skipSpace(&i)
        switch c {
        case 0x22: _ = try scanString(&i)
        case 0x7B, 0x5B:
            var depth = 0
            while true {
                guard i < end else { throw .underflow }
                let b = buf[i]
                if b == 0x22 { _ = try scanString(&i); continue }
                if b == 0x7B || b == 0x5B { depth += 1 } else if b == 0x7D || b == 0x5D {
                    depth -= 1
                    if depth == 0 { i += 1; return }
                }
                i += 1
            }
        case 0x74: try literal(&i, "true")
        case 0x66: try literal(&i, "false")
        case 0x6E: try literal(&i, "null")
        default:
            guard c == 0x2D || (c >= 0x30 && c <= 0x39) else { throw syntax(i, "expected a value") }
            try scanNumberText(&i)
        }
    }

    private func literal(_ i: inout Int, _ word: StaticString) throws(ScanError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= end else { throw .underflow }
        guard memcmp(buf + i, word.utf8Start, n) == 0 else { throw syntax(i, "expected a value") }
        i += n
    }

    /// After a member: consumes `,` (returns true) or the closing byte (returns false).
    @inline(__always)
    func nextMember(_ i: inout Int, close: UInt8) throws(ScanError) -> Bool {
        let c = try skipSpace(&i)
        i += 1
        if c == 0x2C { return true }
        if c == close { return false }
        throw syntax(i - 1, close == 0x7D ? "expected ',' or '}'" : "expected ',' or ']'")
    }
}

#if canImport(Glibc)
import Glibc
#endif
