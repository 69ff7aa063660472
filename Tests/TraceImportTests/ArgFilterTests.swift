@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Loads that keep only some args (`ImportOptions.argKeys`, used by `stepscope diff`).
final class ArgFilterTests: XCTestCase {
    let events = [
        #"{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": 1, "dur": 5, "args": {"External id": 7, "Input Dims": [[8, 64]], "Input type": ["float"], "Sequence number": 3}}"#,
        #"{"ph": "X", "cat": "kernel", "name": "k", "pid": 0, "tid": 7, "ts": 2, "dur": 1, "args": {"correlation": 9, "External id": 7, "stream": 7, "grid": [1, 1, 1]}}"#,
        #"{"ph": "i", "name": "[memory]", "pid": 1, "tid": 1, "ts": 3, "args": {"Bytes": 512, "Total Allocated": 1024, "Total Reserved": 4096, "Addr": 77, "Device Type": 1, "Device Id": 0, "Extra": "x"}}"#,
        #"{"ph": "C", "name": "mem", "pid": 1, "ts": 4, "args": {"used": 10, "free": 20}}"#,
        #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "main"}}"#,
        #"{"name": "late ph", "args": {"anything": 1}, "ph": "X", "pid": 1, "tid": 1, "ts": 8, "dur": 1}"#,
    ]

    func load(split: Bool, keys: Set<String>?) throws -> RankTrace {
        let path = TestSupport.temporaryPath(".json")
        defer { unlink(path) }
        // Enough copies that a split at the middle lands on an event.
        let body = (0..<40).map { _ in events.joined(separator: ",\n") }.joined(separator: ",\n")
        TestSupport.writeFile(path, Array(TestSupport.kineto([body]).utf8))
        return try TraceLoader.load(path: path, rank: 0, progress: nil, splitThreshold: split ? 0 : .max,
                                    options: ImportOptions(argKeys: keys))
    }

    func argKeys(_ t: RankTrace, _ name: String) -> [String] {
        let i = (0..<t.slices.count).first { t.name(ofSlice: $0) == name }!
        return t.args(ofSlice: i).map(\.key)
    }

    func testOnlyTheAskedArgsAreKeptButCountersMetadataAndMemoryAreRead() throws {
        for split in [false, true] {
            let t = try load(split: split, keys: ["Input Dims"])
            XCTAssertEqual(argKeys(t, "aten::mm"), ["Input Dims"], "split \(split)")
            XCTAssertEqual(argKeys(t, "k"), [])
            // Correlation and External id are columns, filtered or not: the kernel still links.
            let k = (0..<t.slices.count).first { t.name(ofSlice: $0) == "k" }!
            XCTAssertEqual(t.slices.correlation[k], 9)
            XCTAssertEqual(t.slices.externalID[k], 7)
            XCTAssertEqual(t.memory.bytes.first, 512)
            XCTAssertEqual(t.memory.totalReserved.first, 4096)
            XCTAssertEqual(Set(t.counters.series.map { t.strings[$0] }), ["used", "free"])
            XCTAssertEqual(t.counters.count, 80)
            XCTAssertTrue((0..<t.tracks.count).contains { t.strings[t.tracks.name[$0]] == "main" })
            // `ph` after `args`: what the event is was not known yet, so its args stay.
            XCTAssertEqual(argKeys(t, "late ph"), ["anything"])
        }
        let all = try load(split: false, keys: nil)
        XCTAssertEqual(argKeys(all, "aten::mm"), ["Input Dims", "Input type", "Sequence number"])
    }

    /// Filtered loads skip flow events and `python_function` args unread, objects nested in them
    /// included; every load counts the flows (the model keeps none).
    func testFilteredLoadsSkipFlowsAndPythonArgs() throws {
        let text = TestSupport.kineto([[
            #"{"ph": "s", "id": 1, "pid": 1, "tid": 1, "ts": 1, "cat": "ac2g", "name": "a}c\"2g"}"#,
            #"{"ph": "f", "id": 1, "pid": 0, "tid": 7, "ts": 2, "cat": "ac2g", "name": "ac2g", "args": {"x": [1, {"y": "}"}]}, "bp": "e"}"#,
            #"{"ph": "X", "cat": "python_function", "name": "f.py(1): g", "pid": 1, "tid": 1, "ts": 3, "dur": 4, "args": {"Python id": 5, "nested": {"a": ["]"]}, "CallFrom": "x"}}"#,
            #"{"ph": "X", "cat": "cpu_op", "name": "after", "pid": 1, "tid": 1, "ts": 4, "dur": 1}"#,
        ].joined(separator: ",\n")])
        for keys in [nil, Set(["Input Dims"])] {
            let trace = RankTrace(source: "f.json", rank: 0)
            let decoder = KinetoDecoder(builder: TimelineBuilder(rank: trace), argKeys: keys)
            try TraceParser(source: MemorySource(Array(text.utf8)), file: "f.json", decoder: decoder, bufferSize: 32).run()
            try decoder.finish()
            XCTAssertEqual(trace.eventCounts[UInt8(ascii: "s")], 1)
            XCTAssertEqual(trace.eventCounts[UInt8(ascii: "f")], 1)
            XCTAssertEqual(argKeys(trace, "f.py(1): g"), keys == nil ? ["Python id", "nested", "CallFrom"] : [])
            XCTAssertEqual(slices(trace, "after").count, 1)
        }
    }
}
