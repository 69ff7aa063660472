@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

final class DecimalTimeTests: XCTestCase {
    func ns(_ text: String) -> Int64? {
        Array(text.utf8).withUnsafeBufferPointer { DecimalTime.nanoseconds(fromMicros: $0) }
    }

    func testExactConversions() {
        XCTAssertEqual(ns("4431171858463.252"), 4_431_171_858_463_252)
        XCTAssertEqual(ns("1623142623460111"), 1_623_142_623_460_111_000)
        XCTAssertEqual(ns("0"), 0)
        XCTAssertEqual(ns("-0"), 0)
        XCTAssertEqual(ns("12"), 12_000)
        XCTAssertEqual(ns("12.5"), 12_500)
        XCTAssertEqual(ns("007"), 7_000)
    }

    func testRoundingHalvesAwayFromZero() {
        XCTAssertEqual(ns("0.0005"), 1)
        XCTAssertEqual(ns("0.0004"), 0)
        XCTAssertEqual(ns("0.00049999"), 0)
        XCTAssertEqual(ns("-0.0005"), -1)
        XCTAssertEqual(ns("-0.0004"), 0)
        XCTAssertEqual(ns("0.0015"), 2)
        XCTAssertEqual(ns("-0.0015"), -2)
        XCTAssertEqual(ns("12.3456"), 12_346)
        XCTAssertEqual(ns("12.34549"), 12_345)
        XCTAssertEqual(ns("1.0009999"), 1_001)
    }

    func testExponents() {
        XCTAssertEqual(ns("1.5e3"), 1_500_000)
        XCTAssertEqual(ns("2.5E-3"), 3)
        XCTAssertEqual(ns("1e-3"), 1)
        XCTAssertEqual(ns("1.5E+2"), 150_000)
        XCTAssertEqual(ns("5e-4"), 1)
        XCTAssertEqual(ns("4e-4"), 0)
        XCTAssertEqual(ns("5e-5"), 0)
        XCTAssertEqual(ns("-2.5e-3"), -3)
        XCTAssertEqual(ns("1.5e-400"), 0)
        XCTAssertEqual(ns("0e400"), 0)
        XCTAssertEqual(ns("1623142623460111e0"), 1_623_142_623_460_111_000)
        XCTAssertEqual(ns("1.623142623460111e15"), 1_623_142_623_460_111_000)
    }

    func testLimits() {
        XCTAssertEqual(ns("9223372036854775.807"), Int64.max)
        XCTAssertEqual(ns("-9223372036854775.807"), -Int64.max)
        XCTAssertNil(ns("9223372036854775.808"))
        XCTAssertNil(ns("9223372036854775.8075"))
        XCTAssertNil(ns("1e20"))
        XCTAssertNil(ns("1e400"))
        XCTAssertNil(ns("99999999999999999999"))
    }

    func testMalformed() {
        for bad in ["", "-", "1.", "1e", "1e+", "abc", "1.2.3", "+1", "1x", "--1", "1 "] {
            XCTAssertNil(ns(bad), "'\(bad)'")
        }
    }
}

/// The same values through the importer (fast path for plain decimals, general path otherwise).
final class TimestampImportTests: XCTestCase {
    func startOf(_ ts: String, dur: String = "1", file: StaticString = #filePath, line: UInt = #line) throws -> Int64 {
        let t = try load(TestSupport.kineto([TestSupport.x("a", ts: ts, dur: dur)]))
        XCTAssertEqual(t.slices.count, 1, file: file, line: line)
        return t.slices.start.first ?? .min
    }

    func testFastAndGeneralPath() throws {
        XCTAssertEqual(try startOf("4431171858463.252"), 4_431_171_858_463_252)
        XCTAssertEqual(try startOf("1623142623460111"), 1_623_142_623_460_111_000)
        XCTAssertEqual(try startOf("1234567890123456.5"), 1_234_567_890_123_456_500)
        // Times are bounded to 2^62 ns from the epoch (docs/definitions.md), so differences never overflow.
        XCTAssertEqual(try startOf("4611686018427387", dur: "0"), 4_611_686_018_427_387_000)
        XCTAssertThrowsError(try startOf("9223372036854775", dur: "0"))
        XCTAssertEqual(try startOf("0.0005"), 1)
        XCTAssertEqual(try startOf("0.0004"), 0)
        XCTAssertEqual(try startOf("-0.0005"), -1)
        XCTAssertEqual(try startOf("-0.0015"), -2)
        XCTAssertEqual(try startOf("1.0005"), 1_001)
        XCTAssertEqual(try startOf("1.00049999999"), 1_000)
        XCTAssertEqual(try startOf("1.5e3"), 1_500_000)
        XCTAssertEqual(try startOf("2.5E-3"), 3)
        XCTAssertEqual(try startOf("0"), 0)
    }

    func testDurationConversion() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("a", ts: "10", dur: "2.0005", tid: "1"),
            TestSupport.x("b", ts: "10", dur: "1.5e1", tid: "2"),
            TestSupport.x("c", ts: "10", dur: "-0.0004", tid: "3"),
        ]))
        XCTAssertEqual(t.slices.dur[slice(t, "a")], 2_001)
        XCTAssertEqual(t.slices.dur[slice(t, "b")], 15_000)
        // -0.0004 us is 0 ns after rounding: kept, not a negative duration.
        XCTAssertEqual(t.slices.dur[slice(t, "c")], 0)
        XCTAssertEqual(t.warnings.count("negative-duration"), 0)
    }

    func testHugeValuesAreErrors() {
        for big in ["1e30", "99999999999999999", "9223372036854775.808"] {
            let json = TestSupport.kineto([TestSupport.x("a", ts: big, dur: "1")])
            let e = importError(json)
            XCTAssertNotNil(e?.offset, big)
            XCTAssertTrue(e?.message.contains("out of range") ?? false, "\(big): \(String(describing: e))")
            XCTAssertEqual(e?.offset, offsetOf("\"ts\": " + big, in: json) + 6, big)
        }
        let e = importError(TestSupport.kineto([TestSupport.x("a", ts: "1", dur: "1e30")]))
        XCTAssertTrue(e?.message.contains("1e30") ?? false)
    }

    func offsetOf(_ needle: String, in text: String) -> Int64 {
        let h = Array(text.utf8), n = Array(needle.utf8)
        for i in 0...(h.count - n.count) where Array(h[i..<i + n.count]) == n { return Int64(i) }
        return -1
    }

    /// torch_npu writes `ts` (and some writers `dur`) as a string holding the number: read as the
    /// number; a string that does not hold one is an error at its quote.
    func testStringTimestampIsTheNumberItHolds() throws {
        let t = try load(#"{"traceEvents": [{"ph": "X", "name": "a", "ts": "12.0005", "dur": "1"}]}"#)
        XCTAssertEqual(t.slices.start, [12_001])
        XCTAssertEqual(t.slices.dur, [1_000])
        let json = #"{"traceEvents": [{"ph": "X", "name": "a", "ts": "x12", "dur": 1}]}"#
        let e = importError(json)
        XCTAssertEqual(e?.message, "ts must be a number")
        XCTAssertEqual(e?.offset, offsetOf(#""x12""#, in: json))
        let d = importError(#"{"traceEvents": [{"ph": "X", "name": "a", "ts": 12, "dur": ""}]}"#)
        XCTAssertEqual(d?.message, "dur must be a number")
        XCTAssertEqual(importError(#"{"traceEvents": [{"ph": "X", "name": "a", "ts": "12", "dur": true}]}"#)?.message, "dur must be a number")
    }

    func testBaseTimeAddedToAllTimes() throws {
        let events = [
            TestSupport.x("s", ts: "10", dur: "5"),
            #"{"ph": "i", "name": "mark", "pid": 1, "tid": 1, "ts": 11}"#,
            #"{"ph": "i", "name": "[memory]", "pid": 1, "tid": 1, "ts": 12, "args": {"Bytes": 8}}"#,
            #"{"ph": "C", "name": "ctr", "pid": 1, "ts": 13, "args": {"v": 1}}"#,
            #"{"ph": "s", "name": "f", "cat": "ac2g", "id": 1, "pid": 1, "tid": 1, "ts": 14}"#,
        ]
        let base: Int64 = 1_700_000_000_000_000_000
        for json in [TestSupport.kineto(events, extra: "\"baseTimeNanoseconds\": \(base)"),
                     // The member may also come after traceEvents.
                     "{\"traceEvents\": [" + events.joined(separator: ",") + "], \"baseTimeNanoseconds\": \(base)}"] {
            let t = try load(json)
            XCTAssertEqual(t.metadata.baseTimeNanoseconds, base)
            XCTAssertEqual(t.slices.start, [base + 10_000])
            XCTAssertEqual(t.slices.dur, [5_000])
            XCTAssertEqual((0..<t.slices.count).map(t.slices.nestEnd), [base + 15_000])
            XCTAssertEqual(t.instants.ts, [base + 11_000])
            XCTAssertEqual(t.memory.ts, [base + 12_000])
            XCTAssertEqual(t.counters.ts, [base + 13_000])
            XCTAssertEqual(t.timeBounds?.start, base + 10_000)
            XCTAssertEqual(t.timeBounds?.end, base + 15_000)
        }
    }

    func testNonIntegerBaseTimeIsAnError() {
        let e = importError(TestSupport.kineto([], extra: #""baseTimeNanoseconds": 1.5"#))
        XCTAssertTrue(e?.message.contains("baseTimeNanoseconds") ?? false, String(describing: e))
    }

    func testDisplayTimeUnitDoesNotChangeUnits() throws {
        for unit in ["ns", "ms"] {
            let t = try load(TestSupport.kineto([TestSupport.x("a", ts: "7", dur: "3")], extra: "\"displayTimeUnit\": \"\(unit)\""))
            XCTAssertEqual(t.metadata.displayTimeUnit, unit)
            XCTAssertEqual(t.slices.start, [7_000])
            XCTAssertEqual(t.slices.dur, [3_000])
        }
    }
}

/// Times must lie within 2^62 ns of the epoch, before and after adding the base, and so must
/// every slice end (docs/definitions.md, "Time").
final class TimeRangeTests: XCTestCase {
    let limit: Int64 = 1 << 62  // 4611686018427387.904 us

    func offsetOf(_ needle: String, in text: String) -> Int64 {
        let h = Array(text.utf8), n = Array(needle.utf8)
        for i in 0...(h.count - n.count) where Array(h[i..<i + n.count]) == n { return Int64(i) }
        return -1
    }

    func testBoundsAreInclusive() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("hi", ts: "4611686018427387.904", dur: "0", tid: "1"),
            TestSupport.x("lo", ts: "-4611686018427387.904", dur: "0", tid: "2"),
            TestSupport.x("end", ts: "4611686018427387", dur: "0.904", tid: "3"),
        ]))
        XCTAssertEqual(t.slices.start[slice(t, "hi")], limit)
        XCTAssertEqual(t.slices.start[slice(t, "lo")], -limit)
        XCTAssertEqual(t.slices.end(slice(t, "end")), limit)
    }

    func testTimeBeyondTheLimitIsAnErrorAtTheEvent() {
        for (ts, dur) in [("4611686018427387.905", "0"), ("-4611686018427387.905", "0"), ("4611686018427387", "0.905"),
                          ("9223372036854775", "0")] {
            let bad = TestSupport.x("bad", ts: ts, dur: dur)
            let json = TestSupport.kineto([TestSupport.x("ok", ts: "1", dur: "1"), bad])
            let e = importError(json, name: "range.json")
            XCTAssertEqual(e?.file, "range.json")
            XCTAssertEqual(e?.offset, offsetOf(bad, in: json), "\(ts) + \(dur)")
            XCTAssertTrue(e?.message.contains("out of range") ?? false, String(describing: e))
        }
    }

    func testInstantBeyondTheLimitIsAnError() {
        let e = importError(TestSupport.kineto([#"{"ph": "i", "name": "m", "pid": 1, "tid": 1, "ts": 4611686018427388}"#]))
        XCTAssertTrue(e?.message.contains("out of range") ?? false, String(describing: e))
    }

    func testBasePlusTimeWithinTheLimit() throws {
        let t = try load(TestSupport.kineto([TestSupport.x("a", ts: "-1", dur: "1")], extra: "\"baseTimeNanoseconds\": \(limit)"))
        XCTAssertEqual(t.slices.start, [limit - 1_000])
        XCTAssertEqual(t.slices.end(0), limit)
    }

    func testBasePlusTimeBeyondTheLimitIsAnError() {
        let cases: [(String, String)] = [
            ("\(limit)", TestSupport.x("a", ts: "0.001", dur: "0")),
            ("\(limit)", TestSupport.x("a", ts: "0", dur: "0.001")),
            ("\(-limit)", TestSupport.x("a", ts: "-0.001", dur: "0")),
            ("\(limit)", #"{"ph": "i", "name": "m", "pid": 1, "tid": 1, "ts": 0.001}"#),
            ("\(limit)", #"{"ph": "C", "name": "c", "pid": 1, "ts": 0.001, "args": {"v": 1}}"#),
            ("\(limit + 1)", TestSupport.x("a", ts: "0", dur: "0")),
        ]
        for (base, event) in cases {
            let e = importError(TestSupport.kineto([event], extra: "\"baseTimeNanoseconds\": \(base)"), name: "base.json")
            XCTAssertEqual(e?.file, "base.json", event)
            XCTAssertTrue(e?.message.contains("out of range") ?? false, "\(event): \(String(describing: e))")
        }
    }
}
