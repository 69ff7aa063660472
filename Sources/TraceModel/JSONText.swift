/// JSON string escaping and unescaping, and escaping of trace text for terminals.
public enum JSONText {
    /// Decodes a quoted JSON string literal (`"a\nb"` -> a, newline, b); nil when malformed.
    public static func unquote(_ literal: String) -> String? {
        var bytes = Array(literal.utf8)
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "\""), bytes.last == UInt8(ascii: "\"") else { return nil }
        bytes.removeFirst()
        bytes.removeLast()
        var out: [UInt8] = []
        guard unescape(bytes[...], into: &out) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the unescaped form of the body of a JSON string (without quotes) to `out`.
    /// Returns false on a malformed escape.
    public static func unescape(_ body: ArraySlice<UInt8>, into out: inout [UInt8]) -> Bool {
        var i = body.startIndex
        while i < body.endIndex {
            let c = body[i]
            i += 1
            guard c == UInt8(ascii: "\\") else { out.append(c); continue }
            guard i < body.endIndex else { return false }
            let e = body[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(body, &i) else { return false }
                if (0xD800..<0xDC00).contains(scalar), i + 1 < body.endIndex,
                   body[i] == UInt8(ascii: "\\"), body[i + 1] == UInt8(ascii: "u") {
                    var j = i + 2
                    if let low = hex4(body, &j), (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i = j
                    }
                }
                let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(u)).utf8))
            default: return false
            }
        }
        return true
    }

    private static func hex4(_ b: ArraySlice<UInt8>, _ i: inout Int) -> UInt32? {
        guard i + 4 <= b.endIndex else { return nil }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            i += 1
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    /// `s` as a JSON string literal, with quotes.
    public static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` as a JSON string literal, UTF-8 encoded, to `out`: `"` and `\` escaped,
    /// newline, return and tab as `\n` `\r` `\t`, other control characters and DEL as `\u00XX`.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        defer { out.append(0x22) }
        guard s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) else {
            out.append(contentsOf: s.utf8)
            return
        }
        // Bytes below 0x80 are whole characters in UTF-8, so escaping byte by byte is exact.
        for b in s.utf8 {
            switch b {
            case 0x22, 0x5C: out += [0x5C, b]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20, 0x7F:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 15)]]
            default: out.append(b)
            }
        }
    }

    /// `s` safe to print on a terminal: C0/C1 control characters and DEL become visible escapes
    /// (`\n`, `\t`, `\x1b`, `\u{9b}`), so trace text can never drive the terminal.
    public static func terminalSafe(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if !isControl(u) { out.unicodeScalars.append(u); continue }
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                let hex = String(u.value, radix: 16)
                out += u.value < 0x80 ? "\\x" + (hex.count < 2 ? "0" : "") + hex : "\\u{" + hex + "}"
            }
        }
        return out
    }

    @inline(__always) private static func isControl(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (0x7F...0x9F).contains(u.value)
    }
}
