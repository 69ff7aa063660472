@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// A large torch_npu text export (one line, events joined by `, `) is parsed as two halves on two
/// cores, like Kineto JSON; the model must be the same as one stream's.
final class NPUSplitTests: XCTestCase {
    static let hardware = "3254508960", npuMem = "3254509152", hccl = "5254509024"

    /// Host operators with `async_npu` flows and `NPU MEM` counters, then their device tasks and an
    /// HCCL op, a B/E pair around it all, an end that closes nothing, and the process metadata
    /// last, so the middle falls among the operators: most flows start in the first half and end
    /// in the second, and every device task is classified from metadata the second half read.
    static func makeTrace() -> String {
        var events = [#"{"ph": "B", "name": "outer", "cat": "user_annotation", "pid": 1, "tid": 1, "ts": "1.000"}"#]
        let flowBase: UInt64 = 1 << 60  // above 2^53
        for i in 0..<200 {
            let ts = 10 + i * 10
            events.append(#"{"ph": "X", "name": "aten::mm", "pid": 1, "tid": 1, "ts": "\#(ts).125", "dur": 4.5, "cat": "cpu_op", "args": {"Sequence number": \#(i), "Input Dims": "\#(i % 4),512;\r\n512,512;\r\n", "Input type": "float;\r\nfloat;\r\n"}}"#)
            events.append(#"{"ph": "s", "bp": "e", "name": "torch_to_npu", "id": \#(flowBase + UInt64(i)), "pid": 1, "tid": 1, "ts": "\#(ts).500", "cat": "async_npu"}"#)
            events.append(#"{"ph": "C", "name": "APP/HBM", "pid": \#(npuMem), "tid": 0, "ts": "\#(ts).000", "args": {"KB": \#(2000 + i % 7)}}"#)
        }
        for i in 0..<200 {
            let ts = 15 + i * 10
            events.append(#"{"ph": "X", "name": "MatMulV2", "pid": \#(hardware), "tid": 2, "ts": "\#(ts).250", "dur": 3.0, "args": {"Task Type": "AI_CORE", "connection_id": \#(i)}}"#)
            events.append(#"{"ph": "f", "bp": "e", "name": "torch_to_npu", "id": \#(flowBase + UInt64(i)), "pid": \#(hardware), "tid": 2, "ts": "\#(ts).250", "cat": "async_npu"}"#)
        }
        events.append(#"{"ph": "X", "name": "hcom_allReduce__586_0_1", "pid": \#(hccl), "tid": 0, "ts": "2100.0", "dur": 9.0, "args": {"data_type": "FP16", "count": 1000, "alg_type": "MESH-RING"}}"#)
        events.append(#"{"ph": "X", "name": "Notify_Wait", "pid": \#(hccl), "tid": 1, "ts": "2101.0", "dur": 5.0, "args": {"stream id": 4, "task type": "Notify_Wait"}}"#)
        events.append(#"{"ph": "X", "name": "Notify Wait", "pid": \#(hardware), "tid": 4, "ts": "2101.0", "dur": 5.0, "args": {"Task Type": "Notify Wait"}}"#)
        events.append(#"{"ph": "E", "pid": 1, "tid": 1, "ts": "2200.000"}"#)
        events.append(#"{"ph": "E", "pid": 1, "tid": 9, "ts": "2201.000"}"#)  // closes nothing
        for (pid, name) in [(hardware, "Ascend Hardware"), (npuMem, "NPU MEM"), (hccl, "HCCL"), ("1", "Python")] {
            events.append(#"{"ph": "M", "name": "process_name", "pid": \#(pid), "tid": 0, "args": {"name": "\#(name)"}}"#)
        }
        events.append(#"{"ph": "M", "name": "thread_name", "pid": \#(hccl), "tid": 0, "args": {"name": "Group 0 Communication"}}"#)
        events.append(#"{"ph": "M", "name": "thread_name", "pid": \#(hccl), "tid": 1, "args": {"name": "Plane 0"}}"#)
        return "[" + events.joined(separator: ", ") + "]"
    }

    /// `bytes` loaded from a file as one stream and split in two (with where the split fell).
    func loadBothWays(_ path: String) throws -> (whole: RankTrace, split: RankTrace, at: Int64) {
        let size = Int64(readBytes(path).count)
        let point = try XCTUnwrap(TraceLoader.splitPoint(path: path, size: size), path)
        XCTAssertTrue(point.bareArray, path)
        let whole = try TraceLoader.load(path: path, rank: 0, progress: nil, splitThreshold: .max)
        let split = try TraceLoader.load(path: path, rank: 0, progress: nil, splitThreshold: 0)
        return (whole, split, point.offset)
    }

    func testSplitNPUParseEqualsOneStream() throws {
        let text = Self.makeTrace()
        let path = TestSupport.temporaryPath(".json")
        defer { unlink(path) }
        TestSupport.writeFile(path, Array(text.utf8))
        let (a, b, at) = try loadBothWays(path)
        // The split lands on an event among the operators, after `, ` on the one line.
        let bytes = Array(text.utf8)
        XCTAssertEqual(Array(bytes[Int(at) - 3...Int(at)]), Array("}, {".utf8))
        let firstTask = Int64(text.utf8.distance(from: text.startIndex, to: try XCTUnwrap(text.range(of: #""name": "MatMulV2""#)).lowerBound))
        XCTAssertLessThan(at, firstTask)
        XCTAssertGreaterThan(at, firstTask / 2)
        XCTAssertEqual(dump(b), dump(a))
        // Classified from the second half's metadata, linked across the halves, with memory and
        // the unmatched end's byte.
        let s = b.slices
        let kernels = (0..<s.count).filter { s.kind[$0] == .kernel }
        XCTAssertEqual(kernels.count, 200)
        XCTAssertEqual(kernels.filter { s.launcher[$0] >= 0 && b.name(ofSlice: Int(s.launcher[$0])) == "aten::mm" }.count, 200)
        XCTAssertEqual((0..<s.count).filter { s.kind[$0] == .communication }.count, 1)
        XCTAssertEqual(b.metadata.deviceKind, .npu)
        XCTAssertEqual(b.memory.count, 200)
        XCTAssertEqual(b.eventCounts[UInt8(ascii: "X")], 403)
        let unmatched = Int64(text.utf8.distance(from: text.startIndex, to: try XCTUnwrap(text.range(of: #"{"ph": "E", "pid": 1, "tid": 9"#)).lowerBound))
        XCTAssertEqual(b.warnings.entries.first { $0.code == "unmatched-end" }?.example, "E event at byte \(unmatched) closes nothing")
        XCTAssertTrue((0..<s.count).contains { b.name(ofSlice: $0) == "outer" && s.dur[$0] == 2_199_000 })
    }

    func testSplitNPUParseEqualsOneStreamOnTheSharedExports() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("NPUSplitTests: ../shared/traces is absent; skipped")
            return
        }
        let paths = ["level0", "level2"].flatMap { level in
            (0..<2).map { "\(shared)/ascend/torch_npu_text/\(level)/rank\($0)_ascend_pt/ASCEND_PROFILER_OUTPUT/trace_view.json" }
        } + ["\(shared)/ascend/advisor/trace_view.json"]
        for path in paths {
            let (a, b, _) = try loadBothWays(path)
            XCTAssertEqual(a.metadata.deviceKind, .npu, path)
            XCTAssertGreaterThan(a.slices.count, 1000, path)
            XCTAssertTrue(dump(a) == dump(b), path)
        }
    }
}
