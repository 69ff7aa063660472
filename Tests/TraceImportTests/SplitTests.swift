@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// Large plain files are parsed as two halves on two cores; the model must be the same as a
/// sequential parse, whatever lies across the split.
final class SplitTests: XCTestCase {
    /// A trace whose middle is crossed by open B/E pairs and async slices, with thread names,
    /// new strings and a top-level member after the events.
    static func makeTrace(bare: Bool) -> String {
        var events: [String] = [#"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "main"}}"#]
        events.append(#"{"ph": "B", "name": "outer", "cat": "user_annotation", "pid": 1, "tid": 1, "ts": 0}"#)
        events.append(#"{"ph": "b", "name": "req", "cat": "async", "id": 9, "pid": 1, "tid": 1, "ts": 1}"#)
        for i in 0..<400 {
            let ts = 10 + i * 10
            events.append(TestSupport.x("op\(i % 7)", ts: "\(ts).5", dur: "4.25", args: #""External id": \#(i), "Input Dims": [[\#(i % 3), 4]]"#))
            events.append(#"{"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": \#(ts + 1), "dur": 1, "args": {"correlation": \#(i)}}"#)
            events.append(#"{"ph": "X", "cat": "kernel", "name": "k\#(i % 5)", "pid": 0, "tid": 7, "ts": \#(ts + 2), "dur": 3, "args": {"correlation": \#(i), "stream": 7}}"#)
            events.append(#"{"ph": "i", "s": "t", "name": "[memory]", "pid": 1, "tid": 1, "ts": \#(ts + 3), "args": {"Bytes": \#(i + 1), "Addr": \#(i), "Total Allocated": \#(i * 2), "Total Reserved": 4096, "Device Type": 1, "Device Id": 0}}"#)
            events.append(#"{"ph": "C", "name": "mem", "pid": 1, "ts": \#(ts), "args": {"a": \#(i), "b": 2.5}}"#)
            if i == 300 { events.append(#"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 2, "args": {"name": "pt_autograd_0 é"}}"#) }
        }
        events.append(#"{"ph": "E", "pid": 1, "tid": 1, "ts": 5000}"#)
        events.append(#"{"ph": "e", "name": "req", "cat": "async", "id": 9, "pid": 1, "tid": 1, "ts": 4900}"#)
        events.append(#"{"ph": "E", "pid": 1, "tid": 3, "ts": 5001}"#)  // closes nothing
        events.append(#"{"ph": "Q", "pid": 1, "tid": 3, "ts": 5001}"#)
        let body = events.joined(separator: ",\n  ")
        if bare { return "[\n  " + body + ",\n" }
        return "{\n\"schemaVersion\": 1,\n\"traceEvents\": [\n  " + body + "\n],\n\"baseTimeNanoseconds\": 1000000000,\n\"traceName\": \"t\"\n}\n"
    }

    func load(_ text: String, split: Bool) throws -> RankTrace {
        let path = TestSupport.temporaryPath(".json")
        defer { unlink(path) }
        TestSupport.writeFile(path, Array(text.utf8))
        return try TraceLoader.load(path: path, rank: 0, progress: nil, splitThreshold: split ? 0 : .max)
    }

    func testSplitParseEqualsSequentialParse() throws {
        for bare in [false, true] {
            let text = Self.makeTrace(bare: bare)
            // The split guess lands on a real event, so the two-core path is the one taken.
            let path = TestSupport.temporaryPath(".json")
            TestSupport.writeFile(path, Array(text.utf8))
            let split = try XCTUnwrap(TraceLoader.splitPoint(path: path, size: Int64(text.utf8.count)))
            unlink(path)
            let bytes = Array(text.utf8)
            XCTAssertEqual(bytes[Int(split.offset)], UInt8(ascii: "{"))
            XCTAssertEqual(Array(bytes[Int(split.offset) - 4..<Int(split.offset)]), Array(",\n  ".utf8))
            XCTAssertEqual(split.bareArray, bare)
            let a = try load(text, split: false)
            let b = try load(text, split: true)
            XCTAssertEqual(a.slices.count, b.slices.count)
            XCTAssertEqual(a.slices.start, b.slices.start)
            XCTAssertEqual(a.slices.dur, b.slices.dur)
            XCTAssertEqual(a.slices.depth, b.slices.depth)
            XCTAssertEqual(a.slices.parent, b.slices.parent)
            XCTAssertEqual(a.slices.launcher, b.slices.launcher)
            XCTAssertEqual(a.slices.name.map { a.strings[$0] }, b.slices.name.map { b.strings[$0] })
            XCTAssertEqual((0..<a.slices.count).map { a.args(ofSlice: $0).map { "\($0.key)=\($0.value)" } },
                           (0..<b.slices.count).map { b.args(ofSlice: $0).map { "\($0.key)=\($0.value)" } })
            XCTAssertEqual((0..<a.tracks.count).map(a.trackName), (0..<b.tracks.count).map(b.trackName))
            XCTAssertEqual(a.tracks.kind, b.tracks.kind)
            XCTAssertEqual(a.memory.bytes, b.memory.bytes)
            XCTAssertEqual(a.memory.ts, b.memory.ts)
            XCTAssertEqual(a.counters.value, b.counters.value)
            XCTAssertEqual(a.counters.series.map { a.strings[$0] }, b.counters.series.map { b.strings[$0] })
            XCTAssertEqual(a.eventCounts, b.eventCounts)
            XCTAssertEqual(a.warnings.entries, b.warnings.entries)
            XCTAssertEqual(a.metadata.baseTimeNanoseconds, b.metadata.baseTimeNanoseconds)
            XCTAssertEqual(a.metadata.traceName, b.metadata.traceName)
            XCTAssertEqual(a.warnings.count("unmatched-end"), 1)
            // The end that closes nothing lies in the second half; both parses name its byte.
            let at = Int64(text.utf8.distance(from: text.startIndex, to: try XCTUnwrap(text.range(of: #"{"ph": "E", "pid": 1, "tid": 3"#)).lowerBound))
            XCTAssertGreaterThan(at, split.offset)
            XCTAssertEqual(b.warnings.entries.first { $0.code == "unmatched-end" }?.example, "E event at byte \(at) closes nothing")
            XCTAssertEqual(a.warnings.count("unknown-phase"), 1)
            // The B/E pair and the async pair crossing the split were matched.
            XCTAssertTrue((0..<b.slices.count).contains { b.name(ofSlice: $0) == "outer" && b.slices.dur[$0] == 5_000_000 })
            XCTAssertTrue((0..<b.slices.count).contains { b.name(ofSlice: $0) == "req" && b.slices.dur[$0] == 4_899_000 })
        }
    }

    func testABadSplitGuessFallsBackToOneParse() throws {
        // The only "newline after a comma, then a brace" sits inside an args value, not between
        // events: the first half never reaches an event there and parses everything itself.
        let text = "{\"traceEvents\": [" + TestSupport.x("a", ts: "1", dur: "1", args: "\"list\": [1,\n{\"x\": 1}]") + "]}"
        let b = try load(text, split: true)
        XCTAssertEqual(b.slices.count, 1)
        XCTAssertEqual(b.args(ofSlice: 0).first?.value, "[1,\n{\"x\": 1}]")
    }

    func testAnErrorInTheSecondHalfNamesItsOffset() {
        var text = Self.makeTrace(bare: false)
        let cut = text.index(text.startIndex, offsetBy: text.utf8.count * 3 / 4)
        let offset = text.utf8.count * 3 / 4
        text.insert("@", at: cut)
        XCTAssertThrowsError(try load(text, split: true)) { error in
            guard let e = error as? ImportError else { return XCTFail("\(error)") }
            XCTAssertNotNil(e.offset)
            XCTAssertGreaterThanOrEqual(e.offset ?? 0, Int64(offset) - 64)
            XCTAssertLessThanOrEqual(e.offset ?? 0, Int64(offset) + 64)
        }
    }
}

extension SplitTests {
    /// The loader's progress callback: bytes and events since the previous call add up to the file.
    func testProgressAddsUpToTheFileForSequentialSplitAndGzipParses() throws {
        let text = Self.makeTrace(bare: false)
        let path = TestSupport.temporaryPath(".json")
        defer { unlink(path); unlink(path + ".gz") }
        TestSupport.writeFile(path, Array(text.utf8))
        final class Totals: @unchecked Sendable {
            var bytes: Int64 = 0
            var events = 0
            var calls = 0
            let lock = Locked(())
        }
        for split in [false, true] {
            let totals = Totals()
            let trace = try TraceLoader.load(path: path, rank: 0, progress: { file, bytes, events in
                XCTAssertEqual(file, path)
                totals.lock.locked {
                    totals.bytes += bytes
                    totals.events += events
                    totals.calls += 1
                }
            }, splitThreshold: split ? 0 : .max)
            XCTAssertEqual(totals.bytes, Int64(text.utf8.count), "split \(split)")
            XCTAssertEqual(totals.events, trace.eventCounts.values.reduce(0, +), "split \(split)")
            XCTAssertEqual(totals.calls, split ? 2 : 1)
        }
        XCTAssertEqual(system("gzip -kf '\(path)'"), 0)
        let totals = Totals()
        let trace = try TraceLoader.load(path: path + ".gz", rank: 0, progress: { _, bytes, events in
            totals.bytes += bytes
            totals.events += events
        }, splitThreshold: .max)
        XCTAssertEqual(totals.events, trace.eventCounts.values.reduce(0, +))
        // For gzip the bytes are the compressed file's (what the progress bar compares with).
        XCTAssertEqual(totals.bytes, Int64(try FileSource.readAll(path: path + ".gz").count))
    }
}
