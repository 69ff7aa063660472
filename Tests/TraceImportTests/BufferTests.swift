@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// Events spanning the parser's buffer refills: every unit is retried whole after a refill, and the
/// buffer grows when one unit does not fit, so any buffer size gives the same model.
final class BufferTests: XCTestCase {
    static let longName = String(repeating: "very_long_operator_name_", count: 40)

    static let document: String = {
        var events: [String] = [
            #"{"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "python3"}}"#,
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "main thread"}}"#,
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "renamed"}}"#,
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "4431171858463.252", dur: "1000.5"),
            TestSupport.x(longName, ts: "4431171858464.0005", dur: "12.3456", args: #""Input Dims": [[2, 3], [3, 4]], "Input type": ["float", "float"], "External id": 17, "Sequence number": -4"#),
            TestSupport.x("esc\\\"aped\\u00e9\\ud83d\\ude80", ts: "4431171858470", dur: "1.5e0"),
            TestSupport.x("cudaLaunchKernel", cat: "cuda_runtime", ts: "4431171858471", dur: "3", args: #""External id": 17, "correlation": 123456789012"#),
            TestSupport.x("gemm", cat: "kernel", ts: "4431171858480", dur: "20", pid: "0", tid: "\"stream 7\"", args: #""External id": 17, "correlation": 123456789012, "grid": [1, 2, 3]"#),
            #"{"ph": "B", "name": "begin-end", "pid": 1, "tid": 2, "ts": 4431171858465, "args": {"b": true}}"#,
            #"{"ph": "E", "pid": 1, "tid": 2, "ts": 4431171858475, "args": {"e": null}}"#,
            #"{"ph": "E", "pid": 1, "tid": 2, "ts": 4431171858476}"#,
            #"{"ph": "i", "name": "[memory]", "pid": 1, "tid": 1, "ts": 4431171858466, "args": {"Bytes": -512, "Total Allocated": 1024, "Total Reserved": 2097152, "Addr": 140234567890, "Device Type": 1, "Device Id": 0}}"#,
            #"{"ph": "i", "name": "instant", "pid": 1, "tid": 1, "ts": 4431171858467, "s": "g"}"#,
            #"{"ph": "C", "name": "ctr", "pid": 1, "ts": 4431171858468, "args": {"a": 1, "b": 2.75}}"#,
            #"{"ph": "s", "id": "0x1f", "pid": 1, "tid": 1, "ts": 4431171858471, "cat": "ac2g", "name": "ac2g"}"#,
            #"{"ph": "f", "id": "0x1f", "pid": 0, "tid": "stream 7", "ts": 4431171858480, "cat": "ac2g", "name": "ac2g", "bp": "e"}"#,
            #"{"ph": "b", "cat": "async", "id": 3, "name": "async-slice", "pid": 1, "tid": 1, "ts": 4431171858462}"#,
            #"{"ph": "e", "cat": "async", "id": 3, "pid": 1, "tid": 1, "ts": 4431171858490}"#,
            #"{"ph": "Z", "name": "unknown", "pid": 1, "tid": 1, "ts": 1}"#,
            TestSupport.x("negative", ts: "4431171858463", dur: "-1"),
            #"{   "ph"   :   "X" ,  "name" : "spaced" , "pid" : 1 , "tid" : 1 , "ts" : 4431171858500 , "dur" : 0.001   }"#,
        ]
        for i in 0..<40 {
            events.append(TestSupport.x("aten::op_\(i % 7)", ts: "\(4431171858500 + i).\(i % 10)\(i % 3)", dur: "0.\(i)5", tid: "\(1 + i % 3)"))
        }
        return #"{"schemaVersion": 1, "deviceProperties": [{"id": 0, "name": "GPU", "totalGlobalMem": 85029158912, "numSms": 132}], "#
            + #""distributedInfo": {"backend": "nccl", "rank": 1, "world_size": 2, "pg_config": [{"pg_name": "0", "pg_size": 2, "ranks": [0, 1]}]}, "#
            + "\"traceEvents\": [\n" + events.joined(separator: ",\n") + "\n],\n"
            + #""displayTimeUnit": "ms", "traceName": "buffered", "baseTimeNanoseconds": 1000}"#
    }()

    func testSameModelForEveryBufferSize() throws {
        let bytes = Array(Self.document.utf8)
        let reference = try load(Self.document)
        let expected = dump(reference)
        XCTAssertGreaterThan(reference.slices.count, 40)
        XCTAssertTrue(expected.contains(Self.longName))
        for size in [1, 2, 3, 7, 16, 17, 31, 64, 100, 4096] {
            let t = try parseWithBuffer(bytes, bufferSize: size)
            XCTAssertEqual(dump(t), expected, "buffer size \(size)")
        }
    }

    func testSmallBufferValues() throws {
        let t = try parseWithBuffer(Array(Self.document.utf8), bufferSize: 16)
        let long = slice(t, Self.longName)
        XCTAssertEqual(t.slices.start[long], 4_431_171_858_464_001 + 1_000)
        XCTAssertEqual(t.slices.dur[long], 12_346)
        XCTAssertEqual(argDict(t, long)["Input Dims"], "[[2, 3], [3, 4]]")
        XCTAssertEqual(argDict(t, long)["Sequence number"], "-4")
        XCTAssertEqual(t.slices.externalID[long], 17)
        XCTAssertEqual(t.name(ofSlice: slice(t, "esc\"apedé🚀")), "esc\"apedé🚀")
        XCTAssertEqual(t.slices.correlation[slice(t, "cudaLaunchKernel")], 123_456_789_012)
        XCTAssertEqual(t.name(ofSlice: Int(t.slices.launcher[slice(t, "gemm")])), "cudaLaunchKernel")
        XCTAssertEqual(t.slices.dur[slice(t, "begin-end")], 10_000)
        XCTAssertEqual(t.warnings.count("unmatched-end"), 1)
        XCTAssertEqual(t.warnings.count("negative-duration"), 1)
        XCTAssertEqual(t.warnings.count("unknown-phase"), 1)
        XCTAssertEqual(t.warnings.count("conflicting-metadata"), 1)
        XCTAssertEqual(t.rank, 0)  // parse alone does not settle the rank
        XCTAssertEqual(t.metadata.distributed?.rank, 1)
        XCTAssertEqual(t.metadata.baseTimeNanoseconds, 1_000)
        XCTAssertEqual(t.metadata.traceName, "buffered")
        XCTAssertEqual(t.memory.bytes, [-512])
        XCTAssertEqual(t.counters.value, [1, 2.75])
        XCTAssertEqual(t.slices.dur[slice(t, "spaced")], 1)
    }

    func testBareArrayWithoutBracketAcrossRefills() throws {
        let events = (0..<30).map { TestSupport.x("e\($0)", ts: "\($0)", dur: "1") }
        for tail in ["", ",", ",\n", "\n"] {
            let bytes = Array(("[" + events.joined(separator: ",") + tail).utf8)
            for size in [1, 5, 16, 64, 4096] {
                let t = try parseWithBuffer(bytes, bufferSize: size)
                XCTAssertEqual(t.slices.count, 30, "tail \(tail.debugDescription) size \(size)")
                XCTAssertEqual(t.slices.start.last, 29_000)
            }
        }
    }

    func testErrorOffsetIndependentOfBufferSize() {
        let good = (0..<20).map { TestSupport.x("e\($0)", ts: "\($0)", dur: "1") }.joined(separator: ",")
        let text = #"{"traceEvents": ["# + good + #", {"ph": "X", "name" "bad"}]}"#
        let bytes = Array(text.utf8)
        let expected = Int64(text.utf8.count - #""bad"}]}"#.utf8.count)
        for size in [1, 3, 16, 17, 64, 4096, 8 << 20] {
            do {
                _ = try parseWithBuffer(bytes, bufferSize: size, name: "x.json")
                XCTFail("no error with buffer \(size)")
            } catch {
                XCTAssertEqual(error, ImportError(file: "x.json", offset: expected, message: "expected ':'"), "buffer \(size)")
            }
        }
    }

    func testTruncationOffsetIndependentOfBufferSize() {
        let text = #"{"traceEvents": ["# + TestSupport.x("a", ts: "1", dur: "1") + #", {"ph": "X", "name": "cut"#
        for size in [2, 16, 64, 4096] {
            do {
                _ = try parseWithBuffer(Array(text.utf8), bufferSize: size)
                XCTFail("no error with buffer \(size)")
            } catch {
                XCTAssertEqual(error.offset, Int64(text.utf8.count), "buffer \(size)")
                XCTAssertEqual(error.message, "unexpected end of input")
            }
        }
    }

    /// Events as (member name, JSON value) lists, args as a nested list.
    static let layoutEvents: [[(String, String)]] = (0..<60).map { i in
        switch i % 4 {
        case 0:
            return [("ph", "\"X\""), ("cat", "\"cpu_op\""), ("name", "\"aten::op_\(i % 5)\""), ("pid", "1"), ("tid", "\(1 + i % 2)"),
                    ("ts", "\(1000 + i).5"), ("dur", "0.\(i)"),
                    ("args", "ARGS")]
        case 1:
            return [("ph", "\"X\""), ("cat", "\"kernel\""), ("name", "\"gemm_\(i)\""), ("pid", "0"), ("tid", "7"), ("ts", "\(1000 + i)"),
                    ("dur", "2"), ("args", "ARGS")]
        case 2:
            return [("ph", "\"f\""), ("id", "\(i)"), ("pid", "0"), ("tid", "7"), ("ts", "\(1000 + i)"), ("cat", "\"ac2g\""),
                    ("name", "\"ac2g\""), ("bp", "\"e\"")]
        default:
            return [("ph", "\"i\""), ("s", "\"t\""), ("name", "\"mark\""), ("pid", "1"), ("tid", "1"), ("ts", "\(1000 + i)"), ("unknown", "[1, {\"a\": 2}]")]
        }
    }
    static let layoutArgs: [(String, String)] = [
        ("External id", "7"), ("Record function id", "0"), ("Input Dims", "[[4, 2048], [], []]"), ("correlation", "3"),
        ("Ev Idx", "5"), ("grid", "[1, 2, 3]"),
    ]

    /// `members` as an object: `{`, then each member after a separator from `separators` (cycled,
    /// starting at `offset`), then `close`.
    static func object(_ members: [(String, String)], _ separators: [String], offset: Int, close: String, args: String) -> String {
        var text = "{"
        for (k, (name, value)) in members.enumerated() {
            let sep = separators[(offset + k) % separators.count]
            text += (k == 0 ? sep.replacingOccurrences(of: ",", with: "") : sep) + "\"\(name)\": " + (value == "ARGS" ? args : value)
        }
        return text + close
    }

    /// Compact, Kineto's pretty print, and members whose separators change from one to the next
    /// (so a learned separator sometimes matches and sometimes not) all give the same model.
    func testMemberLayoutsGiveTheSameModel() throws {
        let layouts: [(members: [String], args: [String], close: String)] = [
            ([","], [","], "}"),
            ([",\n    "], [","], "\n  }"),
            (["\n    ,\n    "], [", "], "\n  }"),
            ([",\n    ", ", ", "\n    ,\n    ", ",", " ,\t", ",\r\n          "], [", ", ",", ",\n      ", " , "], " }"),
        ]
        var texts: [String] = []
        for (n, layout) in layouts.enumerated() {
            let events = Self.layoutEvents.enumerated().map { i, members in
                let args = Self.object(Self.layoutArgs, layout.args, offset: i * n, close: "}", args: "")
                return Self.object(members, layout.members, offset: i * n, close: layout.close, args: args)
            }
            texts.append("{\"traceEvents\": [\n  " + events.joined(separator: ",\n  ") + "\n]}")
        }
        let expected = dump(try parseWithBuffer(Array(texts[0].utf8), bufferSize: 1 << 20))
        XCTAssertTrue(expected.contains("gemm_57"))
        for (n, text) in texts.enumerated() {
            for size in [16, 100, 4096, 1 << 20] {
                XCTAssertEqual(dump(try parseWithBuffer(Array(text.utf8), bufferSize: size)), expected, "layout \(n) buffer \(size)")
            }
        }
    }

    /// Strings and numbers the parser recognises from recent ones (by their bytes and the closing
    /// quote or ending byte) keep their own ids: prefixes of each other, a shared first word,
    /// lengths around the 24 bytes an entry holds, escapes, and any buffer size.
    func testRecentStringsAndNumbersKeepTheirOwnIds() throws {
        // JSON text of the names (two escaped ones).
        let names = ["aten::add", "aten::add_", "aten::ad", "aten::addmm", #"aten::add\\"#, #"aten::add\"x"#,
                     String(repeating: "n", count: 22), String(repeating: "n", count: 23), String(repeating: "n", count: 24),
                     String(repeating: "n", count: 25), "a", "", "aten::add"]
        let pids = ["1", "12", "123", "12", "1.5", "-1", "12e1", "\"12\""]
        var events: [String] = []
        var expected: [(name: String, pid: String)] = []
        for i in 0..<60 {
            let name = names[i % names.count], pid = pids[i % pids.count]
            let separator = [", ", ",", " ,\n  "][i % 3]
            events.append(#"{"ph": "X""# + separator + #""name": "\#(name)""# + separator + #""pid": \#(pid)"#
                          + separator + #""tid": 1, "ts": \#(i), "dur": 0}"#)
            expected.append((name.replacingOccurrences(of: #"\\"#, with: #"\"#).replacingOccurrences(of: #"\""#, with: #"""#),
                             pid.replacingOccurrences(of: "\"", with: "")))
        }
        let text = "{\"traceEvents\": [" + events.joined(separator: ",\n") + "]}"
        for size in [16, 37, 100, 4096, 1 << 20] {
            let t = try parseWithBuffer(Array(text.utf8), bufferSize: size)
            let got = (0..<t.slices.count).sorted { t.slices.start[$0] < t.slices.start[$1] }.map { i in
                (t.name(ofSlice: i), t.strings[t.tracks.pid[Int(t.slices.track[i])]])
            }
            XCTAssertEqual(got.map(\.0), expected.map(\.name), "buffer \(size)")
            XCTAssertEqual(got.map(\.1), expected.map(\.pid), "buffer \(size)")
        }
    }

    /// A control byte where whitespace belongs is an error, also where a learned separator almost
    /// matches.
    func testControlByteBetweenMembers() {
        let good = (0..<5).map { "{\n    \"ph\": \"X\",\n    \"name\": \"e\($0)\",\n    \"ts\": \($0)\n  }" }.joined(separator: ",\n  ")
        for bad in ["\u{0B}", "\u{00}", "\u{1F}"] {
            let prefix = "{\"traceEvents\": [\n  " + good + ",\n  {\n    \"ph\": \"X\",\n  "
            let text = prefix + bad + "  \"name\": \"x\"}]}"
            for size in [16, 64, 4096] {
                do {
                    _ = try parseWithBuffer(Array(text.utf8), bufferSize: size, name: "c.json")
                    XCTFail("no error for \(bad.debugDescription) with buffer \(size)")
                } catch {
                    XCTAssertEqual(error.offset, Int64(prefix.utf8.count), "buffer \(size)")
                    XCTAssertTrue(error.message.hasPrefix("unexpected control byte 0x"), error.message)
                }
            }
        }
    }
}
