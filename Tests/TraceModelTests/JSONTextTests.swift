import TraceModel
import XCTest

final class JSONTextTests: XCTestCase {
    // MARK: unquote

    func testUnquotePlain() {
        XCTAssertEqual(JSONText.unquote(#""abc""#), "abc")
        XCTAssertEqual(JSONText.unquote(#""""#), "")
        XCTAssertEqual(JSONText.unquote(#""café""#), "café")
    }

    func testUnquoteSimpleEscapes() {
        XCTAssertEqual(JSONText.unquote(#""a\"b""#), "a\"b")
        XCTAssertEqual(JSONText.unquote(#""a\\b""#), "a\\b")
        XCTAssertEqual(JSONText.unquote(#""a\/b""#), "a/b")
        XCTAssertEqual(JSONText.unquote(#""\b\f\n\r\t""#), "\u{8}\u{c}\n\r\t")
    }

    func testUnquoteUnicodeEscapes() {
        XCTAssertEqual(JSONText.unquote(#""\u0041""#), "A")
        XCTAssertEqual(JSONText.unquote(#""\u00e9t\u00C9""#), "étÉ")
        XCTAssertEqual(JSONText.unquote(#""\u001b[31m""#), "\u{1b}[31m")
        XCTAssertEqual(JSONText.unquote(#""\u20ac""#), "€")
    }

    func testUnquoteSurrogatePairs() {
        XCTAssertEqual(JSONText.unquote(#""\ud83d\ude80""#), "🚀")
        XCTAssertEqual(JSONText.unquote(#""x\uD83D\uDE80y""#), "x🚀y")
        XCTAssertEqual(JSONText.unquote(#""\ud83d\ude80\ud83d\ude80""#), "🚀🚀")
        // A lone surrogate cannot be a scalar: it becomes U+FFFD, and what follows survives.
        XCTAssertEqual(JSONText.unquote(#""\ud83dx""#), "\u{FFFD}x")
        XCTAssertEqual(JSONText.unquote(#""\ude80""#), "\u{FFFD}")
        // A high surrogate followed by a non-low-surrogate escape: both decoded on their own.
        XCTAssertEqual(JSONText.unquote(#""\ud83d\u0041""#), "\u{FFFD}A")
    }

    func testUnquoteMalformed() {
        XCTAssertNil(JSONText.unquote("abc"))
        XCTAssertNil(JSONText.unquote(#""abc"#))
        XCTAssertNil(JSONText.unquote(#"abc""#))
        XCTAssertNil(JSONText.unquote(#"""#))
        XCTAssertNil(JSONText.unquote(#""\x41""#))
        XCTAssertNil(JSONText.unquote(#""\u12""#))
        XCTAssertNil(JSONText.unquote(#""\u12g4""#))
        XCTAssertNil(JSONText.unquote(#""abc\""#))
    }

    func testUnescapeAppends() {
        var out = Array("pre:".utf8)
        XCTAssertTrue(JSONText.unescape(Array(#"a\tb"#.utf8)[...], into: &out))
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "pre:a\tb")
        XCTAssertFalse(JSONText.unescape(Array(#"a\q"#.utf8)[...], into: &out))
    }

    // MARK: quote

    func testQuote() {
        XCTAssertEqual(JSONText.quote("abc"), #""abc""#)
        XCTAssertEqual(JSONText.quote(""), #""""#)
        XCTAssertEqual(JSONText.quote("a\"b\\c"), #""a\"b\\c""#)
        XCTAssertEqual(JSONText.quote("l1\nl2\r\t"), #""l1\nl2\r\t""#)
        XCTAssertEqual(JSONText.quote("\u{1}\u{1b}[0m\u{7f}"), #""\u0001\u001b[0m\u007f""#)
        XCTAssertEqual(JSONText.quote("é🚀/"), "\"é🚀/\"")
    }

    func testQuoteRoundTrips() {
        let samples = ["", "plain", "a\"b\\c", "\u{0}\u{1f}\u{7f}\u{9b}", "tab\tnew\nline\r", "café 🚀 中文",
                       "aten::mm", #"{"json": [1, 2]}"#]
        for s in samples {
            XCTAssertEqual(JSONText.unquote(JSONText.quote(s)), s, "round trip of \(s.debugDescription)")
        }
    }

    // MARK: terminalSafe

    func testTerminalSafeKeepsPrintableText() {
        XCTAssertEqual(JSONText.terminalSafe("aten::mm"), "aten::mm")
        XCTAssertEqual(JSONText.terminalSafe("café 🚀 中文 \u{a0}x"), "café 🚀 中文 \u{a0}x")
        XCTAssertEqual(JSONText.terminalSafe(""), "")
    }

    func testTerminalSafeEscapesC0() {
        XCTAssertEqual(JSONText.terminalSafe("\u{1b}[31mred\u{1b}[0m"), #"\x1b[31mred\x1b[0m"#)
        XCTAssertEqual(JSONText.terminalSafe("a\rb"), #"a\rb"#)
        XCTAssertEqual(JSONText.terminalSafe("a\nb\tc"), #"a\nb\tc"#)
        XCTAssertEqual(JSONText.terminalSafe("\u{0}\u{7}\u{8}"), #"\x00\x07\x08"#)
        XCTAssertEqual(JSONText.terminalSafe("\u{1f}"), #"\x1f"#)
    }

    func testTerminalSafeEscapesDELAndC1() {
        XCTAssertEqual(JSONText.terminalSafe("a\u{7f}b"), #"a\x7fb"#)
        XCTAssertEqual(JSONText.terminalSafe("\u{9b}31m"), #"\u{9b}31m"#)  // CSI
        XCTAssertEqual(JSONText.terminalSafe("\u{80}\u{85}\u{9f}"), #"\u{80}\u{85}\u{9f}"#)
        // U+00A0 is the first character after C1: kept.
        XCTAssertEqual(JSONText.terminalSafe("é\u{9d}é"), #"é\u{9d}é"#)
    }

    func testTerminalSafeOutputHasNoControls() {
        var all = ""
        for v in 0..<0x200 { all.unicodeScalars.append(Unicode.Scalar(UInt32(v))!) }
        let safe = JSONText.terminalSafe(all)
        for u in safe.unicodeScalars {
            XCTAssertFalse(u.value < 0x20 || (0x7F...0x9F).contains(u.value), "control U+\(String(u.value, radix: 16)) left")
        }
        // Everything printable is still there, in order.
        XCTAssertTrue(safe.hasSuffix(String(String.UnicodeScalarView((0xA0..<0x200).map { Unicode.Scalar(UInt32($0))! }))))
    }
}
