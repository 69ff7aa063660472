@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// The document around the events: object or bare array, truncation, syntax errors and offsets.
final class DocumentTests: XCTestCase {
    let a = TestSupport.x("a", ts: "1", dur: "2")
    let b = TestSupport.x("b", ts: "5", dur: "1")

    func names(_ t: RankTrace) -> [String] { (0..<t.slices.count).map { t.name(ofSlice: $0) } }

    func testObjectForm() throws {
        let t = try load(TestSupport.kineto([a, b], extra: #""traceName": "run1""#))
        XCTAssertEqual(names(t), ["a", "b"])
        XCTAssertEqual(t.metadata.schemaVersion, 1)
        XCTAssertEqual(t.metadata.traceName, "run1")
        XCTAssertEqual(t.slices.start, [1_000, 5_000])
        XCTAssertEqual(t.slices.dur, [2_000, 1_000])
    }

    func testObjectWithOtherMembersAroundEvents() throws {
        let json = #"{"a": {"nested": [1, {"x": "]}"}]}, "traceEvents": ["# + a + #"], "z": [true, false, null], "schemaVersion": 2}"#
        let t = try load(json)
        XCTAssertEqual(names(t), ["a"])
        XCTAssertEqual(t.metadata.schemaVersion, 2)
    }

    func testEmptyObjectAndEmptyEvents() throws {
        XCTAssertEqual(try load("{}").slices.count, 0)
        XCTAssertEqual(try load(#"{"traceEvents": []}"#).slices.count, 0)
        XCTAssertEqual(try load("[]").slices.count, 0)
        XCTAssertEqual(try load(" \n[ ]\n ").slices.count, 0)
    }

    func testBareArray() throws {
        let t = try load("[" + a + ",\n" + b + "]")
        XCTAssertEqual(names(t), ["a", "b"])
    }

    func testBareArrayWithoutClosingBracket() throws {
        XCTAssertEqual(names(try load("[" + a + ",\n" + b)), ["a", "b"])
        XCTAssertEqual(names(try load("[" + a + ",\n" + b + "\n")), ["a", "b"])
        // Chrome's streaming writer leaves a trailing comma.
        XCTAssertEqual(names(try load("[" + a + ",\n" + b + ",\n")), ["a", "b"])
        XCTAssertEqual(names(try load("[" + a + ",")), ["a"])
        XCTAssertEqual(names(try load("[")), [])
    }

    func testTrailingCommaBeforeClosingBracket() throws {
        XCTAssertEqual(names(try load("[" + a + "," + b + ",]")), ["a", "b"])
        XCTAssertEqual(names(try load(#"{"traceEvents": ["# + a + ",]}")), ["a"])
    }

    func testBareArrayCutInsideAnEventIsAnError() {
        let json = "[" + a + ",\n" + #"{"ph": "X", "na"#
        let e = importError(json)
        XCTAssertEqual(e?.message, "unexpected end of input")
        XCTAssertEqual(e?.offset, Int64(json.utf8.count))
    }

    func testObjectWithoutClosingBraceIsAnError() {
        for json in [#"{"traceEvents": ["# + a + "]", #"{"traceEvents": ["# + a + "],", #"{"traceEvents": ["# + a, #"{"traceEvents": "#] {
            let e = importError(json, name: "cut.json")
            XCTAssertEqual(e?.file, "cut.json")
            XCTAssertEqual(e?.message, "unexpected end of input", json)
            XCTAssertEqual(e?.offset, Int64(json.utf8.count), json)
        }
    }

    func testEmptyInputIsAnError() {
        for json in ["", "  \n "] {
            let e = importError(json)
            XCTAssertEqual(e?.message, "empty input: expected a JSON object or array")
            XCTAssertEqual(e?.offset, Int64(json.utf8.count))
        }
    }

    func testNotATrace() {
        let e = importError("42")
        XCTAssertEqual(e?.offset, 0)
        XCTAssertEqual(e?.message, "expected a JSON object or array")
        let s = importError(#"{"traceEvents": {"ph": "X"}}"#)
        XCTAssertEqual(s?.message, "traceEvents must be an array")
        XCTAssertEqual(s?.offset, 16)
    }

    func testByteOrderMarkIsSkipped() throws {
        let t = try TraceLoader.load(bytes: [0xEF, 0xBB, 0xBF] + Array(("[" + a + "]").utf8), name: "bom.json")
        XCTAssertEqual(names(t), ["a"])
    }

    // MARK: Syntax errors with exact byte offsets

    func testMissingCommaOffset() {
        let e = importError(#"{"traceEvents": [{"ph": "X" "name": "a"}]}"#, name: "bad.json")
        XCTAssertEqual(e, ImportError(file: "bad.json", offset: 28, message: "expected ',' or '}'"))
        XCTAssertEqual(e?.description, "bad.json: byte 28: expected ',' or '}'")
    }

    func testBadValueOffsetInSecondEvent() {
        let e = importError(#"[{"ph": "X", "name": "a", "ts": 1, "dur": 2}, {"ph": "X", "name": tru}]"#)
        XCTAssertEqual(e?.offset, 66)
        XCTAssertEqual(e?.message, "expected a value")
    }

    func testNonObjectEventOffset() {
        let e = importError(#"{"traceEvents": [ {"ph": "X"}, @ ]}"#)
        XCTAssertEqual(e?.offset, 31)
        XCTAssertEqual(e?.message, "expected an event object")
    }

    func testTrailingDataOffset() {
        let e = importError(#"{"traceEvents": []} x"#)
        XCTAssertEqual(e?.offset, 20)
        XCTAssertEqual(e?.message, "unexpected data after the end of the trace")
        XCTAssertNoThrow(try load("{\"traceEvents\": []} \n\t\r\n"))
    }

    func testTrailingCommaInTopObjectOffset() {
        let e = importError(#"{"traceEvents": [], }"#)
        XCTAssertEqual(e?.offset, 20)
        XCTAssertEqual(e?.message, "expected a member name")
    }

    func testControlCharacterInStringOffset() {
        let e = importError("{\"traceEvents\": [{\"ph\": \"X\", \"name\": \"a\tb\"}]}")
        XCTAssertEqual(e?.offset, 39)
        XCTAssertEqual(e?.message, "control character in string")
    }

    func testInvalidEscapeOffset() {
        let e = importError(#"{"traceEvents": [{"ph": "X", "name": "a\qb"}]}"#)
        XCTAssertEqual(e?.offset, 38)
        XCTAssertEqual(e?.message, "invalid escape in string")
    }

    func testBadDistributedInfoNamesTheMember() {
        let e = importError(#"{"distributedInfo": {"rank": }, "traceEvents": []}"#)
        XCTAssertTrue(e?.message.hasPrefix("in distributedInfo:") ?? false, String(describing: e))
        XCTAssertEqual(e?.offset, 29)
    }

    // MARK: Strings

    func testEscapedNamesAreDecoded() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "X", "name": "a\"q\\b\u00e9\ud83d\ude80\n", "cat": "cpu_op", "pid": 1, "tid": 1, "ts": 1, "dur": 1}"#,
        ]))
        XCTAssertEqual(t.name(ofSlice: 0), "a\"q\\bé🚀\n")
    }

    func testNumericNameIsKeptAsText() throws {
        let t = try load(TestSupport.kineto([#"{"ph": "X", "name": 12, "pid": 1, "tid": 1, "ts": 1, "dur": 1}"#]))
        XCTAssertEqual(t.name(ofSlice: 0), "12")
    }
}

/// A recording's notes in `otherData.warnings` become the trace's warnings.
final class RecordingNotesTests: XCTestCase {
    func testOtherDataWarningsAreCountedAndMadeTerminalSafe() throws {
        let t = try load(#"{"otherData": {"profiler": "stepscope record", "warnings": ["steps not resolved at 100 Hz", "evil \u001b[2J"]}, "traceEvents": []}"#)
        XCTAssertEqual(t.warnings.count("recording"), 2)
        XCTAssertEqual(t.warnings.entries.first { $0.code == "recording" }?.example, "steps not resolved at 100 Hz")
        let plain = try load(#"{"otherData": {"profiler": "x"}, "traceEvents": []}"#)
        XCTAssertEqual(plain.warnings.count("recording"), 0)
    }
}
