import TraceModel

/// Streams a Chrome-trace JSON document (object with `traceEvents`, or a bare array that may lack
/// its closing `]`) through a `KinetoBuilder`, one event at a time, in a bounded buffer.
final class TraceParser {
    private let scan: ScanBuffer
    private let builder: KinetoBuilder
    private let file: String
    private let strings: StringTable
    private let keys: WellKnownKeys
    private let argFilter: ArgFilter?
    private var event = RawEvent()

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
    init(source: any ByteSource, file: String, builder: KinetoBuilder, bufferSize: Int = 8 << 20,
         continuationAt base: Int64? = nil, bareArray: Bool = false) {
        scan = ScanBuffer(source: source, capacity: bufferSize, base: base ?? 0)
        reportedBytes = base ?? 0  // a continuation's file starts at its offset
        if base != nil {
            state = .events
            self.bareArray = bareArray
        }
        self.builder = builder
        self.file = file
        strings = builder.rank.strings
        keys = builder.keys
        argFilter = builder.argFilter
    }

    /// Parses the whole input.
    func run() throws(ImportError) {
        try parseAll()
        reportProgress()
    }

    /// Reports the bytes and events read since the last report.
    private func reportProgress() {
        guard let progress else { return }
        // The first half of a split file reads past its stop; its bytes end there.
        let bytes = min(scan.bytesConsumed, stopAt), events = builder.eventsConsumed
        progress(bytes - reportedBytes, events - reportedEvents)
        reportedBytes = bytes
        reportedEvents = events
    }

    private func parseAll() throws(ImportError) {
        _ = try scan.refill(keepingFrom: 0)
        var pos = 0
        if scan.end >= 3 && scan.buf[0] == 0xEF && scan.buf[1] == 0xBB && scan.buf[2] == 0xBF { pos = 3 }
        while state != .done && state != .stopped {
            let mark = pos
            let failure: ScanError?
            do {
                try step(&pos)
                failure = nil
            } catch {
                failure = error
            }
            switch failure {
            case nil:
                continue
            case .underflow?:
                pos = mark
                if try scan.refill(keepingFrom: mark) {
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

    /// Parses one unit at `pos`: the opening bracket, one top-level member, or one event.
    private func step(_ pos: inout Int) throws(ScanError) {
        switch state {
        case .start:
            let c = try scan.skipSpace(&pos)
            pos += 1
            if c == 0x5B { bareArray = true; state = .events; return }
            guard c == 0x7B else { throw scan.syntax(pos - 1, "expected a JSON object or array") }
            let d = try scan.skipSpace(&pos)
            if d == 0x7D { pos += 1; state = .done } else { state = .topObject }
        case .topObject:
            try topLevelMember(&pos)
        case .events:
            let c = try scan.skipSpace(&pos)
            if c == 0x5D { pos += 1; state = bareArray ? .done : .afterEvents; return }
            if c == 0x2C { pos += 1; return }  // separators (and Chrome-tolerated stray commas)
            guard c == 0x7B else { throw scan.syntax(pos, "expected an event object") }
            let here = scan.base + Int64(pos)
            if here >= stopAt && !missedStop {
                if here == stopAt { state = .stopped; return }
                missedStop = true
            }
            let argMark = builder.rank.args.count
            do {
                try parseEvent(&pos)
            } catch {
                builder.rank.args.removeLast(builder.rank.args.count - argMark)
                throw error
            }
            guard TimeRange.contains(event.ts), !event.hasDur || TimeRange.contains(event.ts, plus: event.dur) else {
                throw scan.syntax(Int(event.offset - scan.base), "ts + dur is out of range (more than 146 years from the epoch)")
            }
            builder.consume(&event)
        case .afterEvents:
            if try scan.nextMember(&pos, close: 0x7D) { state = .topObject } else { state = .done }
        case .done, .stopped:
            return
        }
    }

    private func topLevelMember(_ pos: inout Int) throws(ScanError) {
        _ = try scan.skipSpace(&pos)
        let keyStart = pos
        guard scan.buf[pos] == 0x22 else { throw scan.syntax(pos, "expected a member name") }
        let key = try scan.scanString(&pos)
        try scan.expect(0x3A, &pos, "':'")
        let name = String(decoding: UnsafeBufferPointer(start: scan.buf + key.start, count: key.end - key.start), as: UTF8.self)
        if name == "traceEvents" {
            let c = try scan.skipSpace(&pos)
            guard c == 0x5B else { throw scan.syntax(pos, "traceEvents must be an array") }
            pos += 1
            state = .events
            return
        }
        _ = try scan.skipSpace(&pos)
        let valueStart = pos
        try scan.skipValue(&pos)
        let text = Array(UnsafeBufferPointer(start: scan.buf + valueStart, count: pos - valueStart))
        let more = try scan.nextMember(&pos, close: 0x7D)
        do {
            try builder.topLevel(name, text)
        } catch let e as JSONValueError {
            throw scan.syntax(valueStart + e.offset, "in \(name): \(e.message)")
        } catch {
            throw scan.syntax(keyStart, "invalid \(name)")
        }
        if !more { state = .done }
    }

    /// Parses the event object at `pos` into `event` (args go to the arg table).
    @inline(__always)
    private func parseEvent(_ pos: inout Int) throws(ScanError) {
        event = RawEvent()
        event.offset = scan.base + Int64(pos)
        event.argStart = builder.rank.args.count
        pos += 1
        var c = try scan.skipSpace(&pos)
        if c == 0x7D { pos += 1; return }
        while true {
            guard c == 0x22 else { throw scan.syntax(pos, "expected a member name") }
            let key = try scan.scanString(&pos)
            try scan.expect(0x3A, &pos, "':'")
            c = try scan.skipSpace(&pos)
            let k = scan.buf + key.start
            switch key.end - key.start {
            case 2 where k[0] == 0x70 && k[1] == 0x68:  // ph
                guard c == 0x22 else { throw scan.syntax(pos, "ph must be a string") }
                let s = try scan.scanString(&pos)
                event.ph = s.end > s.start ? scan.buf[s.start] : 0
            case 2 where k[0] == 0x74 && k[1] == 0x73:  // ts
                guard c == 0x2D || (c >= 0x30 && c <= 0x39) else { throw scan.syntax(pos, "ts must be a number") }
                event.ts = try scan.parseMicros(&pos)
                event.hasTs = true
            case 2 where k[0] == 0x69 && k[1] == 0x64:  // id
                event.id = try scan.internScalar(&pos, strings)
            case 2 where k[0] == 0x62 && k[1] == 0x70:  // bp
                guard c == 0x22 else { throw scan.syntax(pos, "bp must be a string") }
                let s = try scan.scanString(&pos)
                event.bp = s.end > s.start ? scan.buf[s.start] : 0
            case 3 where k[0] == 0x63 && k[1] == 0x61 && k[2] == 0x74:  // cat
                guard c == 0x22 else { throw scan.syntax(pos, "cat must be a string") }
                event.cat = try scan.internString(&pos, strings)
            case 3 where k[0] == 0x70 && k[1] == 0x69 && k[2] == 0x64:  // pid
                event.pid = try scan.internScalar(&pos, strings)
            case 3 where k[0] == 0x74 && k[1] == 0x69 && k[2] == 0x64:  // tid
                event.tid = try scan.internScalar(&pos, strings)
            case 3 where k[0] == 0x64 && k[1] == 0x75 && k[2] == 0x72:  // dur
                guard c == 0x2D || (c >= 0x30 && c <= 0x39) else { throw scan.syntax(pos, "dur must be a number") }
                event.dur = try scan.parseMicros(&pos)
                event.hasDur = true
            case 4 where k[0] == 0x6E && k[1] == 0x61 && k[2] == 0x6D && k[3] == 0x65:  // name
                if c == 0x22 { event.name = try scan.internString(&pos, strings) } else {
                    event.name = try scan.internScalar(&pos, strings)
                }
            case 4 where k[0] == 0x61 && k[1] == 0x72 && k[2] == 0x67 && k[3] == 0x73:  // args
                if c == 0x7B { try parseArgs(&pos) } else { try scan.skipValue(&pos) }
            case 1 where k[0] == 0x73:  // s (instant scope)
                if c == 0x22 {
                    let s = try scan.scanString(&pos)
                    event.scope = s.end > s.start ? scan.buf[s.start] : 0
                } else { try scan.skipValue(&pos) }
            default:
                try scan.skipValue(&pos)
            }
            guard try scan.nextMember(&pos, close: 0x7D) else { return }
            c = try scan.skipSpace(&pos)
        }
    }

    /// Parses an args object into the arg table; `correlation` and `External id` go to columns.
    @inline(__always)
    private func parseArgs(_ pos: inout Int) throws(ScanError) {
        pos += 1
        var c = try scan.skipSpace(&pos)
        if c == 0x7D { pos += 1; return }
        while true {
            guard c == 0x22 else { throw scan.syntax(pos, "expected a member name") }
            let key = try scan.internString(&pos, strings)
            try scan.expect(0x3A, &pos, "':'")
            c = try scan.skipSpace(&pos)
            if key <= keys.lastSpecial {
                if key == keys.correlation || key == keys.externalID || key == keys.externalIDLower {
                    if let v = try scan.parseSmallInteger(&pos) {
                        if key == keys.correlation { event.correlation = v } else { event.externalID = v }
                        guard try scan.nextMember(&pos, close: 0x7D) else { return }
                        c = try scan.skipSpace(&pos)
                        continue
                    }
                } else if key == keys.evIdx || key == keys.recordFunctionID {
                    try scan.skipValue(&pos)
                    guard try scan.nextMember(&pos, close: 0x7D) else { return }
                    c = try scan.skipSpace(&pos)
                    continue
                }
            }
            // Filtered loads drop other args unread, but keep every arg of counters and metadata
            // (and of events whose `ph` comes after their args).
            if let argFilter, event.ph != 0x43, event.ph != 0x4D, event.ph != 0, !argFilter.keeps(key) {
                try scan.skipValue(&pos)
                guard try scan.nextMember(&pos, close: 0x7D) else { return }
                c = try scan.skipSpace(&pos)
                continue
            }
            let value: ArgValue
            if (c == 0x2D || (c >= 0x30 && c <= 0x39)), let v = try scan.parseSmallInteger(&pos) {
                value = ArgValue(integer: v)
            } else {
                let start = pos
                try scan.skipValue(&pos)
                value = ArgValue(text: strings.internPadded(UnsafeRawPointer(scan.buf + start), pos - start))
            }
            builder.rank.args.key.append(key)
            builder.rank.args.value.append(value)
            guard try scan.nextMember(&pos, close: 0x7D) else { return }
            c = try scan.skipSpace(&pos)
        }
    }
}
