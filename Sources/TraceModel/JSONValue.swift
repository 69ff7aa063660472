/// A parsed JSON value, for the small top-level members (`distributedInfo`, `deviceProperties`).
/// Numbers keep their text so integers stay exact.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// Member `key` of an object.
    public subscript(key: String) -> JSONValue? {
        if case let .object(members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }

    /// The value as an integer (numbers and numeric strings).
    public var int: Int? {
        switch self {
        case let .number(t): return Int(t) ?? Double(t).flatMap { $0.isFinite && $0 == $0.rounded() ? Int(exactly: $0) : nil }
        case let .string(s): return Int(s)
        default: return nil
        }
    }

    /// The value as a string (strings, and numbers' text).
    public var string: String? {
        switch self {
        case let .string(s): return s
        case let .number(t): return t
        default: return nil
        }
    }

    /// The elements of an array.
    public var array: [JSONValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    /// Arrays and objects nested deeper than this are an error (the parser recurses per level).
    public static let maxDepth = 512

    /// Parses one JSON document from `bytes`; the error names the byte offset within them.
    public static func parse(_ bytes: [UInt8]) throws(JSONValueError) -> JSONValue {
        try parse(bytes, skipping: [])
    }

    /// Parses one JSON document, leaving the values of members named in `skipping` (at any depth)
    /// unbuilt and unchecked beyond their brackets and strings: they read as `null`.
    public static func parse(_ bytes: [UInt8], skipping: Set<String>) throws(JSONValueError) -> JSONValue {
        var p = JSONValueParser(bytes: bytes, skipping: skipping)
        let v = try p.value()
        p.skipSpace()
        guard p.i == bytes.count else { throw JSONValueError(offset: p.i, message: "trailing characters") }
        return v
    }
}

/// What `JSONValue.firstMember(among:in:)` found at the top level of a document.
public enum TopLevelMember: Equatable, Sendable {
    /// The first member with one of the names, and the byte range of its value (nil when the
    /// bytes end inside it).
    case found(name: String, value: Range<Int>?)
    /// None of the names: the object ended, or the document is not an object (or not valid JSON).
    case absent
    /// The bytes ended first (a document's start only): read more to tell.
    case truncated
}

extension JSONValue {
    /// The first member of the top-level object in `bytes` whose name is in `names`, found without
    /// building the other members' values (they are skipped by counting brackets, so any nesting
    /// is fine). `bytes` may be only the start of the document.
    public static func firstMember(among names: Set<String>, in bytes: [UInt8]) -> TopLevelMember {
        var p = JSONValueParser(bytes: bytes)
        do throws(JSONValueError) {
            p.skipSpace()
            guard p.i < bytes.count else { return .truncated }
            guard bytes[p.i] == UInt8(ascii: "{") else { return .absent }
            p.i += 1
            p.skipSpace()
            if p.i < bytes.count && bytes[p.i] == UInt8(ascii: "}") { return .absent }
            while true {
                p.skipSpace()
                let name = try p.string()
                p.skipSpace()
                guard p.i < bytes.count else { return .truncated }
                guard bytes[p.i] == UInt8(ascii: ":") else { return .absent }
                p.i += 1
                p.skipSpace()
                let start = p.i
                if names.contains(name) {
                    do throws(JSONValueError) { try p.skipValue() } catch {
                        return p.i >= bytes.count || error.message == "unterminated string" ? .found(name: name, value: nil) : .absent
                    }
                    return .found(name: name, value: start..<p.i)
                }
                try p.skipValue()
                p.skipSpace()
                guard p.i < bytes.count else { return .truncated }
                if bytes[p.i] == UInt8(ascii: ",") { p.i += 1; continue }
                return .absent
            }
        } catch {
            // Errors where the bytes ran out (a name's string included) may be a cut-off prefix.
            return p.i >= bytes.count || error.message == "unterminated string" ? .truncated : .absent
        }
    }
}

/// A syntax error in a small JSON document.
public struct JSONValueError: Error, Equatable {
    public var offset: Int
    public var message: String
    public init(offset: Int, message: String) {
        self.offset = offset
        self.message = message
    }
}

private struct JSONValueParser {
    let bytes: [UInt8]
    /// Member names whose values are skipped (`JSONValue.parse(_:skipping:)`).
    var skipping: Set<String> = []
    var i = 0
    /// Arrays and objects open around the value being parsed.
    var depth = 0

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    func fail(_ message: String) -> JSONValueError { JSONValueError(offset: i, message: message) }

    /// Enters an array or object at `i`, or fails when it is one level too deep.
    mutating func enter() throws(JSONValueError) {
        guard depth < JSONValue.maxDepth else { throw fail("nested deeper than \(JSONValue.maxDepth) levels") }
        depth += 1
        i += 1
    }

    mutating func value() throws(JSONValueError) -> JSONValue {
        skipSpace()
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            try enter()
            defer { depth -= 1 }
            var members: [(String, JSONValue)] = []
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                if !skipping.isEmpty && skipping.contains(key) {
                    skipSpace()
                    try skipValue()
                    members.append((key, .null))
                } else {
                    members.append((key, try value()))
                }
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw fail("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            try enter()
            defer { depth -= 1 }
            var items: [JSONValue] = []
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try value())
                skipSpace()
                guard i < bytes.count else { throw fail("unexpected end of input") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try word("true", .bool(true))
        case UInt8(ascii: "f"): return try word("false", .bool(false))
        case UInt8(ascii: "n"): return try word("null", .null)
        default:
            let start = i
            while i < bytes.count, Self.isNumberByte(bytes[i]) { i += 1 }
            guard i > start else { throw fail("expected a value") }
            return .number(String(decoding: bytes[start..<i], as: UTF8.self))
        }
    }

    /// A byte of a JSON number's text: a digit, a sign, a point or an exponent mark.
    @inline(__always)
    static func isNumberByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
            return true
        default: return false
        }
    }

    /// Steps over the value at `i` without building it: strings to their closing quote, arrays and
    /// objects by counting brackets (no recursion); nothing else is checked.
    mutating func skipValue() throws(JSONValueError) {
        guard i < bytes.count else { throw fail("unexpected end of input") }
        var depth = 0
        repeat {
            guard i < bytes.count else { throw fail("unexpected end of input") }
            switch bytes[i] {
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < bytes.count, bytes[j] != UInt8(ascii: "\"") { j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1 }
                guard j < bytes.count else { i = bytes.count; throw fail("unterminated string") }
                i = j + 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { throw fail("expected a value") }
                depth -= 1
                i += 1
            case UInt8(ascii: ","), UInt8(ascii: ":"), 0x20, 0x0A, 0x0D, 0x09:
                guard depth > 0 else { throw fail("expected a value") }
                i += 1
            default:
                let start = i
                while i < bytes.count, !",:{}[]\" \t\r\n".utf8.contains(bytes[i]) { i += 1 }
                if depth == 0 && i == bytes.count { throw fail("unexpected end of input") }
                if i == start { i += 1 }
            }
        } while depth > 0
    }

    mutating func word(_ w: String, _ v: JSONValue) throws(JSONValueError) -> JSONValue {
        let u = Array(w.utf8)
        guard i + u.count <= bytes.count, Array(bytes[i..<i + u.count]) == u else { throw fail("expected a value") }
        i += u.count
        return v
    }

    mutating func string() throws(JSONValueError) -> String {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        let start = i + 1
        var j = start
        while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
            j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1
        }
        guard j < bytes.count else { throw fail("unterminated string") }
        var out: [UInt8] = []
        guard JSONText.unescape(bytes[start..<j], into: &out) else { throw fail("invalid escape") }
        i = j + 1
        return String(decoding: out, as: UTF8.self)
    }
}
