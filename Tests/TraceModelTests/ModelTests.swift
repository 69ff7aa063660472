import TraceModel
import XCTest

final class ArgValueTests: XCTestCase {
    func testIntegers() {
        for v: Int64 in [0, 1, -1, 42, -512, 140_234_567_890, -140_234_567_890, (1 << 62) - 1, -(1 << 62)] {
            let a = ArgValue(integer: v)
            XCTAssertTrue(a.isInteger, "\(v)")
            XCTAssertEqual(a.integer, v, "\(v)")
        }
    }

    func testNegativeIntegerBits() {
        let a = ArgValue(integer: -1)
        XCTAssertEqual(a.bits, UInt64.max)  // all ones: the shifted -1 with the tag bit
        XCTAssertEqual(ArgValue(integer: -2).integer, -2)
        XCTAssertNotEqual(ArgValue(integer: -1), ArgValue(integer: 1))
    }

    func testText() {
        for id: UInt32 in [0, 1, 7, 123_456, UInt32.max] {
            let a = ArgValue(text: id)
            XCTAssertFalse(a.isInteger)
            XCTAssertEqual(a.text, id)
        }
        XCTAssertNotEqual(ArgValue(text: 0), ArgValue(integer: 0))
        XCTAssertNotEqual(ArgValue(text: 5), ArgValue(integer: 5))
        XCTAssertEqual(ArgValue(text: 5), ArgValue(text: 5))
    }
}

final class WarningsTests: XCTestCase {
    func testCountsPerCodeWithFirstExample() {
        var w = Warnings()
        w.add("unmatched-end", "first")
        w.add("negative-duration", count: 5, "neg")
        w.add("unmatched-end", "second")
        w.add("unmatched-end", count: 3, "third")
        XCTAssertEqual(w.entries.map(\.code), ["unmatched-end", "negative-duration"])
        XCTAssertEqual(w.entries[0].count, 5)
        XCTAssertEqual(w.entries[0].example, "first")
        XCTAssertEqual(w.entries[1].count, 5)
        XCTAssertEqual(w.entries[1].example, "neg")
        XCTAssertEqual(w.count("unmatched-end"), 5)
        XCTAssertEqual(w.count("negative-duration"), 5)
        XCTAssertEqual(w.count("nothing"), 0)
    }

    func testExampleEvaluatedOnlyForTheFirst() {
        var w = Warnings()
        var evaluated = 0
        func example() -> String { evaluated += 1; return "e\(evaluated)" }
        w.add("x", example())
        w.add("x", example())
        w.add("x", example())
        XCTAssertEqual(evaluated, 1)
        XCTAssertEqual(w.entries.count, 1)
        XCTAssertEqual(w.entries.first?.code, "x")
        XCTAssertEqual(w.entries.first?.count, 3)
        XCTAssertEqual(w.entries.first?.example, "e1")
    }

    func testEmpty() {
        let w = Warnings()
        XCTAssertTrue(w.entries.isEmpty)
        XCTAssertEqual(w.count("x"), 0)
    }
}

final class SliceKindTests: XCTestCase {
    func testCategories() {
        let cases: [(String, SliceKind)] = [
            ("cpu_op", .cpuOp), ("Operator", .cpuOp), ("user_annotation", .userAnnotation),
            ("gpu_user_annotation", .gpuUserAnnotation), ("kernel", .kernel), ("Kernel", .kernel),
            ("gpu_memcpy", .memcpy), ("Memcpy", .memcpy), ("gpu_memset", .memset), ("Memset", .memset),
            ("cuda_runtime", .runtime), ("Runtime", .runtime), ("cuda_driver", .driver),
            ("python_function", .pythonFunction), ("cuda_sync", .cudaSync), ("Trace", .trace),
            ("mtia_ccp_events", .kernel), ("mtia_runtime", .runtime),
            ("", .other), ("CPU_OP", .other), ("kernels", .other),
        ]
        for (cat, kind) in cases { XCTAssertEqual(SliceKind(category: cat), kind, cat) }
    }

    func testPredicates() {
        XCTAssertEqual(SliceKind.allCases.filter(\.isGPUActivity), [.kernel, .memcpy, .memset, .communication])
        XCTAssertEqual(SliceKind.allCases.filter(\.isGPU), [.gpuUserAnnotation, .kernel, .memcpy, .memset, .communication])
        XCTAssertEqual(SliceKind.allCases.filter(\.isLaunch), [.runtime, .driver])
    }
}

final class RankTraceTests: XCTestCase {
    func testArgDecodingAndTrackNames() {
        let t = RankTrace(source: "x.json", rank: 2)
        let s = t.strings
        t.tracks.pid.append(s.intern("7"))
        t.tracks.tid.append(s.intern("25738"))
        t.tracks.kind.append(.cpuThread)
        t.tracks.name.append(0)
        t.tracks.sortIndex.append(0)
        t.tracks.pid.append(s.intern("0"))
        t.tracks.tid.append(s.intern("stream 7"))
        t.tracks.kind.append(.gpuStream)
        t.tracks.name.append(s.intern("stream 7 (compute)"))
        t.tracks.sortIndex.append(0)
        XCTAssertEqual(t.trackName(0), "7/25738")
        XCTAssertEqual(t.trackName(1), "stream 7 (compute)")
        XCTAssertEqual(t.cpuTracks, [0])
        XCTAssertEqual(t.gpuTracks, [1])

        let quoted = ArgValue(text: s.intern(#""a\nb""#))
        let numeric = ArgValue(text: s.intern(#""-42""#))
        let list = ArgValue(text: s.intern("[[2, 3]]"))
        XCTAssertEqual(t.argString(quoted), "a\nb")
        XCTAssertEqual(t.argText(quoted), #""a\nb""#)
        XCTAssertEqual(t.argString(list), "[[2, 3]]")
        XCTAssertEqual(t.argInteger(numeric), -42)
        XCTAssertNil(t.argInteger(list))
        XCTAssertEqual(t.argInteger(ArgValue(integer: -7)), -7)
        XCTAssertEqual(t.argText(ArgValue(integer: -7)), "-7")
    }
}
