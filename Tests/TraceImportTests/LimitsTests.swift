@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// Hostile shapes of input the importer bounds: nesting (no recursion without a limit) and units
/// too long for the window (no unbounded memory). docs/reliability.md lists them all.
final class LimitsTests: XCTestCase {
    private func nested(_ depth: Int, _ open: String = "[", _ close: String = "]") -> String {
        String(repeating: open, count: depth) + String(repeating: close, count: depth)
    }

    func testDeepNestingInATopLevelMemberIsAnErrorNamingTheOffset() throws {
        let deepObject = String(repeating: "{\"a\":", count: 40_000) + "1" + String(repeating: "}", count: 40_000)
        for member in ["distributedInfo", "deviceProperties", "schemaVersion", "traceName", "displayTimeUnit", "host_name",
                       "baseTimeNanoseconds"] {
            for value in [nested(40_000), deepObject] {
                let json = "{\"\(member)\": \(value), \"traceEvents\": []}"
                let e = try XCTUnwrap(importError(json))
                XCTAssertEqual(e.message, "in \(member): nested deeper than \(JSONValue.maxDepth) levels", member)
                // The 513th bracket: the value starts after `{"member": `.
                let bracket = Int64(member.utf8.count + 5) + Int64(JSONValue.maxDepth) * (value.hasPrefix("[") ? 1 : 5)
                XCTAssertEqual(e.offset, bracket, member)
            }
        }
    }

    func testNestingUpToTheLimitLoads() throws {
        XCTAssertNoThrow(try JSONValue.parse(Array(nested(JSONValue.maxDepth).utf8)))
        XCTAssertThrowsError(try JSONValue.parse(Array(nested(JSONValue.maxDepth + 1).utf8))) { error in
            XCTAssertEqual(error as? JSONValueError, JSONValueError(offset: JSONValue.maxDepth, message: "nested deeper than 512 levels"))
        }
        let t = try load("{\"distributedInfo\": {\"rank\": 3, \"x\": \(nested(500))}, \"traceEvents\": []}")
        XCTAssertEqual(t.metadata.distributed?.rank, 3)
    }

    func testDeepNestingInArgsAndUnknownMembersIsSkippedWithoutRecursion() throws {
        // The streaming parser counts brackets: any depth is stepped over (kept as text in args).
        let deep = nested(200_000)
        let t = try load("{\"other\": \(deep), \"traceEvents\": [" + TestSupport.x("op", ts: "1", dur: "2", args: "\"deep\": \(deep)") + "]}")
        XCTAssertEqual(argDict(t, slice(t, "op"))["deep"]?.count, deep.count)
        let lean = KinetoDecoder(builder: TimelineBuilder(rank: RankTrace(source: "lean.json", rank: 0)), argKeys: ["Input Dims"])
        let json = "[" + TestSupport.x("op", ts: "1", dur: "2", args: "\"deep\": \(deep), \"Input Dims\": [[1]]") + "]"
        try TraceParser(source: MemorySource(Array(json.utf8)), file: "lean.json", decoder: lean, bufferSize: 64).run()
        try lean.finish()
        XCTAssertEqual(lean.builder.rank.slices.count, 1)
    }

    /// Parses `json` in a window of 64 bytes that may grow to `maxUnit`.
    private func parseBounded(_ json: String, maxUnit: Int) throws(ImportError) -> RankTrace {
        let trace = RankTrace(source: "big.json", rank: 0)
        let decoder = KinetoDecoder(builder: TimelineBuilder(rank: trace))
        try TraceParser(source: MemorySource(Array(json.utf8)), file: "big.json", decoder: decoder, bufferSize: 64, maxUnit: maxUnit).run()
        try decoder.finish()
        return trace
    }

    private func boundedError(_ json: String, maxUnit: Int = 4 << 20, file: StaticString = #filePath, line: UInt = #line) -> ImportError? {
        do {
            _ = try parseBounded(json, maxUnit: maxUnit)
            XCTFail("expected an error", file: file, line: line)
        } catch {
            return error
        }
        return nil
    }

    func testAStringLongerThanTheLimitIsAnErrorAtItsQuote() throws {
        let head = "{\"traceEvents\": [" + TestSupport.x("a", ts: "1", dur: "1") + ", {\"ph\": \"X\", \"name\": "
        let json = head + "\"" + String(repeating: "x", count: 5 << 20) + "\", \"ts\": 1}]}"
        let e = try XCTUnwrap(boundedError(json))
        XCTAssertEqual(e.description, "big.json: byte \(head.utf8.count): a string longer than the 4 MiB one event or member may take")
        // Under the limit it loads.
        XCTAssertEqual(try parseBounded(json, maxUnit: 16 << 20).slices.count, 2)
    }

    func testWhitespaceInsideAnEventLongerThanTheLimitIsAnError() throws {
        let head = "[{\"ph\": \"X\", \"name\": \"a\","
        let e = try XCTUnwrap(boundedError(head + String(repeating: " ", count: 5 << 20) + "\"ts\": 1, \"dur\": 1}]"))
        XCTAssertEqual(e.offset, Int64(head.utf8.count))
        XCTAssertTrue(e.message.hasPrefix("whitespace longer than the 4 MiB"), e.message)
    }

    func testAnEventLongerThanTheLimitIsAnErrorAtItsStart() throws {
        // Spaces and strings all through it, one of them at the window's end: the event is named.
        let members = (0..<500_000).map { "\"k\($0)\": \"v\($0)\"" }.joined(separator: ", ")
        let e = try XCTUnwrap(boundedError("[{\"ph\": \"X\", \"name\": \"a\", \"ts\": 1, \"dur\": 1, \"args\": {\(members)}}]"))
        XCTAssertEqual(e.offset, 1)
        XCTAssertTrue(e.message.hasPrefix("an event or member longer than"), e.message)
    }

    func testWhitespaceBetweenUnitsIsSkippedWithoutGrowingTheWindow() throws {
        // 8 MiB of whitespace before the document, between members and events and after: it
        // never has to fit the window, which may not grow past 1 KiB here.
        let space = String(repeating: " \n", count: 4 << 20)
        let json = space + "{\"schemaVersion\": 1," + space + "\"traceEvents\": [" + space + TestSupport.x("a", ts: "1", dur: "1")
            + space + "," + space + TestSupport.x("b", ts: "2", dur: "1") + space + "]" + space + "}" + space
        let t = try parseBounded(json, maxUnit: 1024)
        XCTAssertEqual(t.slices.count, 2)
    }
}
