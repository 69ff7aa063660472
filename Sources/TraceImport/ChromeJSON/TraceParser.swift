import TraceModel

/// Streams a Chrome-trace JSON document (object with `traceEvents`, or a bare array that may lack
/// its closing `]`) into a decoder of its dialect, one event at a time, in a bounded buffer: the
/// tokenizer of every Chrome-trace source.
final class TraceParser<Decoder: ChromeTraceDecoder> {
    private let scan: ScanBuffer
    private let decoder: Decoder
    private let builder: TimelineBuilder
    private let file: String
    private let strings: StringTable
    private let keys: WellKnownKeys
    private let keyTable = TraceParser<Decoder>.makeKeyTable()
    private var eventOpen = Separator(), eventNext = Separator(), argsOpen = Separator(), argsNext = Separator()

    private enum State { case start, topObject, events, afterEvents, done, stopped }
    private var state = State.start
    private var bareArray = false
    /// For the first part of a split file: stop at the event that begins at this offset.
    var stopAt: Int64 = .max
    /// Set when parsing ran past `stopAt` without an event beginning there (a bad split guess).
    private(set) var missedStop = false
    /// True when parsing ended at `stopAt`.
    var stopped: Bool { state == .stopped }
    /// Called every few MB, and once at the end, with the bytes and events read since the last call.
    var progress: ((Int64, Int) -> Void)?
    private var reportedBytes: Int64 = 0
    private var reportedEvents = 0

    /// `continuationOf` starts the parser inside the events array at input offset `base` (the
    /// second part of a split file); `bareArray` says which form the document has.
    init(source: any ByteSource, file: String, decoder: Decoder, bufferSize: Int = 8 << 20,
         maxUnit: Int = ScanBuffer.unitLimit, continuationAt base: Int64? = nil, bareArray: Bool = false) {
        scan = ScanBuffer(source: source, file: file, capacity: bufferSize, maxCapacity: maxUnit, base: base ?? 0)
        reportedBytes = base == nil ? 0 : source.bytesConsumed  // a continuation's source has read up to its part
        if base != nil {
            state = .events
            self.bareArray = bareArray
        }
        self.decoder = decoder
        builder = decoder.builder
        self.file = file
        strings = builder.rank.strings
        keys = decoder.keys
    }

    deinit { keyTable.deallocate() }

    /// Parses the whole input.
    func run() throws(ImportError) {
        try parseAll()
        reportProgress()
    }

    /// Reports the bytes and events read since the last report.
    private func reportProgress() {
        guard let progress else { return }
        // The first half of a split file reads past its stop; its bytes end there.
        let bytes = min(scan.bytesConsumed, stopAt), events = decoder.eventsConsumed
        progress(bytes - reportedBytes, events - reportedEvents)
        reportedBytes = bytes
        reportedEvents = events
    }

    private func parseAll() throws(ImportError) {
        _ = try scan.refill(keepingFrom: 0)
        var pos = 0
        if scan.end >= 3 && scan.buf[0] == 0xEF && scan.buf[1] == 0xBB && scan.buf[2] == 0xBF { pos = 3 }
        while state != .done && state != .stopped {
            let failure: ScanError?
            do {
                pos = try step(pos)
                failure = nil
            } catch {
                failure = error
            }
            switch failure {
            case nil:
                continue
            case .underflow?:
                // Whitespace before the unit is dropped, so that no run of it grows the window.
                let buf = scan.buf, end = scan.end
                while pos < end, buf[pos] == 0x20 || buf[pos] == 0x0A || buf[pos] == 0x0D || buf[pos] == 0x09 { pos += 1 }
                if try scan.refill(keepingFrom: pos) {
                    pos = 0
                    if progress != nil, scan.bytesConsumed - reportedBytes >= 4 << 20 { reportProgress() }
                    continue
                }
                try finishAtEndOfInput(0)
                return
            case let .syntax(position, message)?:
                throw ImportError(file: file, offset: scan.base + Int64(position), message: message)
            }
        }
        if state == .stopped { return }
        // Only whitespace may follow the document.
        while true {
            while pos < scan.end {
                let c = scan.buf[pos]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else {
                    throw ImportError(file: file, offset: scan.base + Int64(pos), message: "unexpected data after the end of the trace")
                }
                pos += 1
            }
            guard try scan.refill(keepingFrom: pos) else { return }
            pos = 0
        }
    }

    /// The input ended (nothing more to read) with `buf[pos..<end]` unparsed.
    private func finishAtEndOfInput(_ pos: Int) throws(ImportError) {
        var i = pos
        while i < scan.end, [0x20, 0x0A, 0x0D, 0x09, 0x2C].contains(scan.buf[i]) { i += 1 }
        let offset = scan.base + Int64(scan.end)
        switch state {
        case .start:
            throw ImportError(file: file, offset: offset, message: "empty input: expected a JSON object or array")
        case .events where bareArray && i == scan.end:
            return  // A bare array without its closing bracket is accepted, as in Chrome.
        default:
            throw ImportError(file: file, offset: offset, message: "unexpected end of input")
        }
    }

    /// Parses one unit at `pos`: the opening bracket, one top-level member, or one event. Returns
    /// the position after it; on a throw nothing is consumed.
    private func step(_ pos: Int) throws(ScanError) -> Int {
        var cur = scan.cursor(pos)
        switch state {
        case .start:
            let c = try cur.skipSpace()
            cur.i += 1
            if c == 0x5B { bareArray = true; state = .events; return cur.i }
            guard c == 0x7B else { throw Cursor.syntax(cur.i - 1, "expected a JSON object or array") }
            let d = try cur.skipSpace()
            if d == 0x7D { cur.i += 1; state = .done } else { state = .topObject }
        case .topObject:
            cur.i = try topLevelMember(cur)
        case .events:
            let c = try cur.skipSpace()
            if c == 0x5D { cur.i += 1; state = bareArray ? .done : .afterEvents; return cur.i }
            if c == 0x2C { return cur.i + 1 }  // separators (and Chrome-tolerated stray commas)
            guard c == 0x7B else { throw Cursor.syntax(cur.i, "expected an event object") }
            let here = scan.base + Int64(cur.i)
            if here >= stopAt && !missedStop {
                if here == stopAt { state = .stopped; return cur.i }
                missedStop = true
            }
            let argMark = builder.argMark
            var event = RawEvent()
            do {
                cur.i = try parseEvent(cur, &event)
            } catch {
                builder.discardArgs(from: argMark)
                throw error
            }
            if event.skipped {
                builder.discardArgs(from: argMark)
                decoder.countSkipped(event.ph)
                return cur.i
            }
            guard TimeRange.contains(event.ts), !event.hasDur || TimeRange.contains(event.ts, plus: event.dur) else {
                throw Cursor.syntax(Int(event.offset - scan.base), "ts + dur is out of range (more than 146 years from the epoch)")
            }
            decoder.consume(&event)
        case .afterEvents:
            if try cur.nextMember(close: 0x7D) { state = .topObject } else { state = .done }
        case .done, .stopped:
            break
        }
        return cur.i
    }

    /// Reads one top-level member; returns the position after it.
    private func topLevelMember(_ start: Cursor) throws(ScanError) -> Int {
        var cur = start
        _ = try cur.skipSpace()
        let keyStart = cur.i
        guard cur.buf[cur.i] == 0x22 else { throw Cursor.syntax(cur.i, "expected a member name") }
        let key = try cur.scanString()
        try cur.expect(0x3A, "':'")
        let name = String(decoding: UnsafeBufferPointer(start: cur.buf + key.start, count: key.end - key.start), as: UTF8.self)
        if name == "traceEvents" {
            let c = try cur.skipSpace()
            guard c == 0x5B else { throw Cursor.syntax(cur.i, "traceEvents must be an array") }
            state = .events
            return cur.i + 1
        }
        _ = try cur.skipSpace()
        let valueStart = cur.i
        try cur.skipValue()
        let text = Array(UnsafeBufferPointer(start: cur.buf + valueStart, count: cur.i - valueStart))
        let more = try cur.nextMember(close: 0x7D)
        do {
            try decoder.topLevel(name, text)
        } catch let e as JSONValueError {
            throw Cursor.syntax(valueStart + e.offset, "in \(name): \(e.message)")
        } catch {
            throw Cursor.syntax(keyStart, "invalid \(name)")
        }
        if !more { state = .done }
        return cur.i
    }

    /// The members the parser reads, by name.
    private enum Key { case ph, ts, id, bp, cat, pid, tid, dur, name, args, scope, other }

    /// Reads the member name at `cur.i` (a `"`) and classifies it; `cur.i` ends after its quote.
    /// The common names are matched as one word against `keyTable`; the rest take the general path.
    @inline(__always)
    private func memberKey(_ cur: inout Cursor) throws(ScanError) -> Key {
        if cur.i + 8 <= cur.end {
            let w = UnsafeRawPointer(cur.buf + cur.i).loadUnaligned(as: UInt64.self)
            let e = keyTable[Self.keySlot(w)]
            if w & e.mask == e.pattern {
                cur.i += e.length
                return e.key
            }
        }
        let (key, next) = try anyMemberKey(cur)
        cur.i = next
        return key
    }

    /// `memberKey` for any name (near the window's end, escaped or unknown): the key and the
    /// position after the name. The name's raw bytes are looked up in `keyTable` as a word.
    @inline(never)
    private func anyMemberKey(_ start: Cursor) throws(ScanError) -> (Key, Int) {
        var cur = start
        let s = try cur.scanString()
        let n = s.end - s.start
        if n == 1 && cur.buf[s.start] == 0x73 { return (.scope, cur.i) }
        guard n <= 6 else { return (.other, cur.i) }
        var w: UInt64 = 0x22 | 0x22 << UInt64(8 * (n + 1))
        for k in 0..<n { w |= UInt64(cur.buf[s.start + k]) << UInt64(8 * (k + 1)) }
        let e = keyTable[Self.keySlot(w)]
        return (w & e.mask == e.pattern ? e.key : .other, cur.i)
    }

    /// A quoted member name as a word pattern: the quotes and letters, and a mask covering them.
    private struct KeyPattern {
        var pattern: UInt64 = 1  // never matches with mask 0
        var mask: UInt64 = 0
        var key = Key.other
        var length = 0
    }

    /// Slot of a quoted name in `keyTable`: a perfect hash of its first two letters over the
    /// names in `makeKeyTable` (the multiplier was found by search).
    @inline(__always)
    private static func keySlot(_ w: UInt64) -> Int {
        Int(truncatingIfNeeded: (UInt32(truncatingIfNeeded: w >> 8) & 0xFFFF) &* 0xA6CE_CC1B) >> 28
    }

    private static func makeKeyTable() -> UnsafeMutablePointer<KeyPattern> {
        let table = UnsafeMutablePointer<KeyPattern>.allocate(capacity: 16)
        table.initialize(repeating: KeyPattern(), count: 16)
        let names: [(String, Key)] = [("ph", .ph), ("ts", .ts), ("id", .id), ("bp", .bp), ("cat", .cat), ("pid", .pid),
                                      ("tid", .tid), ("dur", .dur), ("name", .name), ("args", .args)]
        for (name, key) in names {
            let bytes = [0x22] + Array(name.utf8) + [0x22]
            var e = KeyPattern(pattern: 0, mask: 0, key: key, length: bytes.count)
            for (k, b) in bytes.enumerated() {
                e.pattern |= UInt64(b) << UInt64(8 * k)
                e.mask |= 0xFF << UInt64(8 * k)
            }
            let slot = keySlot(e.pattern)
            assert(table[slot].mask == 0, "member-name hash collision")
            table[slot] = e
        }
        return table
    }

    /// The first byte of the string value at `cur.i` (0 when empty); `what` names the member.
    @inline(__always)
    private func firstByte(_ cur: inout Cursor, _ c: UInt8, _ what: StaticString) throws(ScanError) -> UInt8 {
        guard c == 0x22 else { throw Cursor.syntax(cur.i, "\(what) must be a string") }
        let s = try cur.scanString()
        return s.end > s.start ? cur.buf[s.start] : 0
    }

    /// Parses the event object at `start.i` into `event` (args go to the arg table); returns the
    /// position after it.
    private func parseEvent(_ start: Cursor, _ event: inout RawEvent) throws(ScanError) -> Int {
        var cur = start
        event.offset = scan.base + Int64(cur.i)
        event.argStart = builder.argMark
        cur.i += 1
        guard var c = try firstMember(&cur, &eventOpen) else { return cur.i }
        while true {
            guard c == 0x22 else { throw Cursor.syntax(cur.i, "expected a member name") }
            let key = try memberKey(&cur)
            c = try cur.valueAfterColon()
            switch key {
            case .ph:
                event.ph = try firstByte(&cur, c, "ph")
                if decoder.skipsAfterPhase(event.ph) {
                    event.skipped = true
                    return try cur.endOfFlatContainer()
                }
            case .ts:
                if c == 0x22 {
                    event.ts = try cur.parseQuotedMicros("ts must be a number")  // torch_npu writes ts as a string
                } else {
                    guard c == 0x2D || (c >= 0x30 && c <= 0x39) else { throw Cursor.syntax(cur.i, "ts must be a number") }
                    event.ts = try cur.parseMicros()
                }
                event.hasTs = true
            case .id:
                (event.id, cur.i) = try cur.internedScalar(strings, scan)
            case .bp:
                event.bp = try firstByte(&cur, c, "bp")
            case .cat:
                guard c == 0x22 else { throw Cursor.syntax(cur.i, "cat must be a string") }
                (event.cat, cur.i) = try cur.internedString(strings, scan)
            case .pid:
                (event.pid, cur.i) = try cur.internedScalar(strings, scan)
            case .tid:
                (event.tid, cur.i) = try cur.internedScalar(strings, scan)
            case .dur:
                if c == 0x22 {
                    event.dur = try cur.parseQuotedMicros("dur must be a number")
                } else {
                    guard c == 0x2D || (c >= 0x30 && c <= 0x39) else { throw Cursor.syntax(cur.i, "dur must be a number") }
                    event.dur = try cur.parseMicros()
                }
                event.hasDur = true
            case .name:
                (event.name, cur.i) = c == 0x22 ? try cur.internedString(strings, scan) : try cur.internedScalar(strings, scan)
            case .args:
                if c == 0x7B && decoder.skipsArgs(category: event.cat) {
                    cur.i += 1
                    cur.i = try cur.endOfFlatContainer()
                } else if c == 0x7B {
                    cur.i = try parseArgs(cur, &event)
                } else {
                    try cur.skipValue()
                }
            case .scope:
                if c == 0x22 { event.scope = try firstByte(&cur, c, "s") } else { try cur.skipValue() }
            case .other:
                try cur.skipValue()
            }
            guard let next = try nextMember(&cur, &eventNext) else { return cur.i }
            c = next
        }
    }

    /// After an object's `{`: moves to the first member's name and returns its first byte, or
    /// consumes the `}` of an empty object and returns nil.
    @inline(__always)
    private func firstMember(_ cur: inout Cursor, _ separator: inout Separator) throws(ScanError) -> UInt8? {
        if separator.skip(&cur) == .member { return 0x22 }
        let (c, next) = try Self.scanToMember(cur, &separator, afterComma: false)
        cur.i = next
        return c
    }

    /// After a member's value: moves past the `,` to the next member's name and returns its
    /// first byte, or consumes the closing `}` and returns nil.
    @inline(__always)
    private func nextMember(_ cur: inout Cursor, _ separator: inout Separator) throws(ScanError) -> UInt8? {
        switch separator.skip(&cur) {
        case .member: return 0x22
        case .close: return nil
        case .unknown:
            let (c, next) = try Self.scanToMember(cur, &separator, afterComma: true)
            cur.i = next
            return c
        }
    }

    /// `firstMember` and `nextMember` when no learned run matches: the byte and position they
    /// return, learning the run found.
    @inline(never)
    private static func scanToMember(_ start: Cursor, _ separator: inout Separator, afterComma: Bool) throws(ScanError) -> (UInt8?, Int) {
        var cur = start
        if afterComma {
            guard try cur.nextMember(close: 0x7D) else {
                separator.learnClose(cur.buf, from: start.i, after: cur.i)
                return (nil, cur.i)
            }
        }
        let c = try cur.skipSpace()
        if !afterComma && c == 0x7D { return (nil, cur.i + 1) }
        if c == 0x22 { separator.learn(cur.buf, from: start.i, quote: cur.i) }
        return (c, cur.i)
    }

    /// Parses an args object into the arg table; `correlation` and `External id` go to columns.
    /// Returns the position after the object.
    private func parseArgs(_ start: Cursor, _ event: inout RawEvent) throws(ScanError) -> Int {
        var cur = start
        cur.i += 1
        guard var c = try firstMember(&cur, &argsOpen) else { return cur.i }
        // Filtered loads drop other args unread, but keep every arg of counters and metadata (and
        // of events whose `ph` comes after their args). Class references are read once here, not
        // retained and released per arg.
        let filtered = decoder.filtersArgs(ofPhase: event.ph)
        let builder = builder, decoder = decoder, strings = strings, scan = scan
        while true {
            guard c == 0x22 else { throw Cursor.syntax(cur.i, "expected a member name") }
            let key: UInt32
            (key, cur.i) = try cur.internedString(strings, scan)
            c = try cur.valueAfterColon()
            let special = key <= keys.lastSpecial
            if special, key == keys.correlation || key == keys.externalID || key == keys.externalIDLower,
               let v = try cur.parseSmallInteger() {
                if key == keys.correlation { event.correlation = v } else { event.externalID = v }
            } else if special && decoder.isBookkeeping(key) || filtered && !decoder.keepsInLeanLoad(key) {
                try cur.skipValue()
            } else {
                let value: ArgValue
                if (c == 0x2D || (c >= 0x30 && c <= 0x39)), let v = try cur.parseSmallInteger() {
                    value = ArgValue(integer: v)
                } else {
                    let start = cur.i
                    try cur.skipValue()
                    value = ArgValue(text: strings.internPadded(UnsafeRawPointer(cur.buf + start), cur.i - start))
                }
                builder.appendArg(key: key, value: value)
            }
            guard let next = try nextMember(&cur, &argsNext) else { break }
            c = next
        }
        return cur.i
    }
}
