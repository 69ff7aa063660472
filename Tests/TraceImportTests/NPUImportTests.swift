@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// torch_npu's text export (`trace_view.json`), one rule per test on hand-written files.
final class NPUImportTests: XCTestCase {
    /// A bare list of events, metadata last (as torch_npu writes them, after the events).
    func npu(_ events: [String], processes: [(pid: String, name: String)] = [], threads: [(pid: String, tid: String, name: String)] = []) -> String {
        let meta = processes.map { #"{"ph": "M", "name": "process_name", "pid": \#($0.pid), "tid": 0, "args": {"name": "\#($0.name)"}}"# }
            + threads.map { #"{"ph": "M", "name": "thread_name", "pid": \#($0.pid), "tid": \#($0.tid), "args": {"name": "\#($0.name)"}}"# }
        return "[" + (events + meta).joined(separator: ",\n") + "]"
    }

    static let hardware = "3254508960"  // torch_npu synthesises pids, some above 2^32
    static let hccl = "5254509024"
    static let cann = "3254508768"

    func task(_ name: String, ts: String, dur: String = "1.0", tid: String = "2", type: String = "AI_CORE", extra: String = "") -> String {
        #"{"ph": "X", "name": "\#(name)", "pid": \#(Self.hardware), "tid": \#(tid), "ts": "\#(ts)", "dur": \#(dur), "args": {"Task Type": "\#(type)"\#(extra)}}"#
    }

    func testStringTimestampsAreExactNanoseconds() throws {
        let t = try load(npu([
            #"{"ph": "X", "cat": "cpu_op", "name": "a", "pid": 1, "tid": 1, "ts": "1736408883731508.790", "dur": 167.56}"#,
            #"{"ph": "X", "cat": "cpu_op", "name": "b", "pid": 1, "tid": 1, "ts": "1736408883731600.0004", "dur": "2.5"}"#,
        ]))
        // 1736408883731508790 is not a Double: through one it would be ...508800 or so.
        XCTAssertEqual(t.slices.start[slice(t, "a")], 1_736_408_883_731_508_790)
        XCTAssertEqual(t.slices.dur[slice(t, "a")], 167_560)
        XCTAssertEqual(t.slices.start[slice(t, "b")], 1_736_408_883_731_600_000)
        XCTAssertEqual(t.slices.dur[slice(t, "b")], 2_500)
    }

    func testMalformedStringTimestampNamesTheOffset() throws {
        let json = npu([#"{"ph": "X", "cat": "cpu_op", "name": "a", "pid": 1, "tid": 1, "ts": "12x.5", "dur": 1}"#])
        let e = try XCTUnwrap(importError(json))
        XCTAssertEqual(e.offset, Int64(Array(json.utf8).firstIndex(of: UInt8(ascii: "x"))!))
        XCTAssertNotNil(importError(npu([#"{"ph": "X", "cat": "cpu_op", "name": "a", "pid": 1, "tid": 1, "ts": "abc", "dur": 1}"#])))
    }

    func testTracksAreClassifiedByProcessNameNotPid() throws {
        let t = try load(npu([
            task("MatMul", ts: "10.0"),
            task("MEMCPY_ASYNC", ts: "12.0", type: "PCIE_DMA_SQE"),
            task("EVENT_RECORD", ts: "14.0", type: "EVENT_RECORD_SQE"),
            task("Notify Wait", ts: "20.0", dur: "5.0", tid: "4", type: "Notify Wait"),
            task("SDMA", ts: "26.0", tid: "4", type: "SDMA"),
            #"{"ph": "X", "name": "hcom_allReduce__586_0_1", "pid": \#(Self.hccl), "tid": 0, "ts": "19.0", "dur": 9.0, "args": {"data_type": "FP16", "count": 1000, "alg_type": "MESH-RING"}}"#,
            #"{"ph": "X", "name": "Notify_Wait", "pid": \#(Self.hccl), "tid": 1, "ts": "20.0", "dur": 5.0, "args": {"stream id": 4, "task type": "Notify_Wait"}}"#,
            #"{"ph": "X", "name": "AscendCL@aclnnMm", "pid": \#(Self.cann), "tid": 7, "ts": "5.0", "dur": 2.0, "args": {"connection_id": 3}}"#,
        ], processes: [(Self.hardware, "Ascend Hardware"), (Self.hccl, "HCCL"), (Self.cann, "CANN")],
           threads: [(Self.hccl, "0", "Group 0 Communication"), (Self.hccl, "1", "Plane 0")]))
        let s = t.slices
        XCTAssertEqual(s.kind[slice(t, "MatMul")], .kernel)
        XCTAssertEqual(s.kind[slice(t, "MEMCPY_ASYNC")], .memcpy)
        XCTAssertEqual(s.kind[slice(t, "EVENT_RECORD")], .other)
        XCTAssertEqual(s.kind[slice(t, "Notify Wait")], .communication)
        XCTAssertEqual(s.kind[slice(t, "SDMA")], .communication)
        XCTAssertEqual(s.kind[slice(t, "AscendCL@aclnnMm")], .runtime)
        // The HCCL op is drawn with the device it runs on; the plane repeating its tasks is the
        // profiler's own view.
        let op = slice(t, "hcom_allReduce__586_0_1")
        XCTAssertEqual(s.kind[op], .gpuUserAnnotation)
        XCTAssertEqual(t.strings[t.tracks.pid[Int(s.track[op])]], Self.hardware)
        XCTAssertEqual(t.tracks.kind[Int(s.track[slice(t, "Notify_Wait")])], .spans)
        XCTAssertEqual(Set(t.gpuTracks.map { t.strings[t.tracks.pid[$0]] }), [Self.hardware])
        // The collective args the analysis reads on NCCL kernels.
        let args = argDict(t, op)
        XCTAssertEqual(args["Collective name"], "\"allreduce\"")
        XCTAssertEqual(args["dtype"], "\"float16\"")
        XCTAssertEqual(args["In msg nelems"], "1000")
    }

    /// HCCL's count is each rank's input for an all-gather (`In msg nelems`, as for an
    /// all-reduce) and each rank's output for a reduce-scatter (`Out msg nelems`).
    func testGatherCountIsInputScatterCountIsOutput() throws {
        func op(_ name: String, _ ts: String) -> String {
            #"{"ph": "X", "name": "\#(name)", "pid": \#(Self.hccl), "tid": 0, "ts": "\#(ts)", "dur": 2.0, "args": {"data_type": "FP32", "count": 300}}"#
        }
        let t = try load(npu([op("hcom_allGather__586_1_1", "10.0"), op("hcom_reduceScatter__586_2_1", "20.0")],
                             processes: [(Self.hccl, "HCCL")], threads: [(Self.hccl, "0", "Group 0 Communication")]))
        let gather = argDict(t, slice(t, "hcom_allGather__586_1_1")), scatter = argDict(t, slice(t, "hcom_reduceScatter__586_2_1"))
        XCTAssertEqual(gather["Collective name"], "\"allgather\"")
        XCTAssertEqual(gather["In msg nelems"], "300")
        XCTAssertNil(gather["Out msg nelems"])
        XCTAssertEqual(scatter["Collective name"], "\"reducescatter\"")
        XCTAssertEqual(scatter["Out msg nelems"], "300")
        XCTAssertNil(scatter["In msg nelems"])
    }

    /// `operator_memory.csv` beside `trace_view.json` (`rows`: its lines after the header), loaded,
    /// or the import error it causes.
    func loadWithOperatorMemory(_ rows: [String], header: String? = nil) -> Result<RankTrace, ImportError> {
        let dir = TestSupport.temporaryPath("-opmem")
        mkdir(dir, 0o755)
        addTeardownBlock { _ = TestSupport.shellOutput("rm -rf '\(dir)'") }
        TestSupport.writeFile(dir + "/trace_view.json", Array(npu([#"{"ph": "X", "cat": "cpu_op", "name": "a", "pid": 1, "tid": 1, "ts": "1.0", "dur": 1}"#]).utf8))
        let head = header ?? "Name,Size(KB),Allocation Time(us),Release Time(us),Active Release Time(us),Device Type"
        TestSupport.writeFile(dir + "/operator_memory.csv", Array(([head] + rows).joined(separator: "\r\n").utf8))
        do { return .success(try TraceLoader.load(path: dir + "/trace_view.json")) } catch { return .failure(error) }
    }

    /// Each row of `operator_memory.csv` is one allocation: KB to bytes, µs text (a trailing tab)
    /// to exact ns, an empty release time as never released; a release whose allocation came
    /// before the capture (a negative size, no allocation time) is left out, counted.
    func testOperatorMemoryRowsBecomeAllocations() throws {
        let t = try loadWithOperatorMemory([
            "aten::empty_strided,18816.5,1736405443871259.720\t,,,NPU:0",
            "\"aten::mm, quoted\",0.5,1736405443878302.861\t,1736405443878400.000\t,1736405443878399.000\t,NPU:1",
            ",-2.0,,1736405443878500.000\t,,NPU:0",
            "",
        ]).get()
        let a = t.operatorAllocations
        XCTAssertEqual(a.count, 2)
        XCTAssertEqual(a.name.map { t.strings[$0] }, ["aten::empty_strided", "aten::mm, quoted"])
        XCTAssertEqual(a.bytes, [19_268_096, 512])
        XCTAssertEqual(a.allocated, [1_736_405_443_871_259_720, 1_736_405_443_878_302_861])
        XCTAssertEqual(a.released, [OperatorAllocationTable.notReleased, 1_736_405_443_878_400_000])
        XCTAssertEqual(a.deviceID, [0, 1])
        XCTAssertEqual(a.deviceType, [20, 20])
        XCTAssertEqual(t.warnings.count("npu-operator-memory-before-capture"), 1)
    }

    func testMalformedOperatorMemoryIsOneLineNamingTheField() throws {
        func message(_ rows: [String], header: String? = nil) -> String? {
            if case .failure(let e) = loadWithOperatorMemory(rows, header: header) { return e.description }
            return nil
        }
        let bad = try XCTUnwrap(message(["aten::mm,1.0,10.0\t,,,NPU:0", "aten::mm,abc,10.0\t,,,NPU:0"]))
        XCTAssertTrue(bad.hasSuffix("/operator_memory.csv: line 3, Size(KB): not a size in KB: 'abc'"), bad)
        XCTAssertTrue(try XCTUnwrap(message(["aten::mm,1.0,10.x\t,,,NPU:0"])).hasSuffix("line 2, Allocation Time(us): not a time in µs: '10.x'"))
        XCTAssertTrue(try XCTUnwrap(message(["aten::mm,1.0,,,,NPU:0"])).hasSuffix("operator_memory.csv line 2: an allocation without its time"))
        XCTAssertTrue(try XCTUnwrap(message(["aten::mm,1.0,10.0,,,GPU:0"])).hasSuffix("line 2, Device Type: not NPU:N: 'GPU:0'"))
        XCTAssertTrue(try XCTUnwrap(message(["aten::mm,1.0,10.0"], header: "Name,Size(KB),Allocation Time(us)")).hasSuffix("operator_memory.csv: no column Release Time(us)"))
        // The file is read a line at a time: a line of over a MiB (no newline) is an error at its offset.
        let long = try XCTUnwrap(message([String(repeating: "x", count: (1 << 20) + 10)]))
        XCTAssertTrue(long.hasSuffix("operator_memory.csv: byte 88: a line longer than 1048576 bytes"), long)
        // Released before it was allocated: left out, counted.
        let t = try loadWithOperatorMemory(["aten::mm,1.0,10.0\t,9.0\t,,NPU:0"]).get()
        XCTAssertEqual(t.operatorAllocations.count, 0)
        XCTAssertEqual(t.warnings.count("npu-operator-memory-order"), 1)
    }

    func testTaskOnAStreamHCCLNamesIsCommunication() throws {
        let t = try load(npu([
            task("Reduce", ts: "20.0", tid: "9", type: "SOME_NEW_TYPE"),
            #"{"ph": "X", "name": "Reduce", "pid": \#(Self.hccl), "tid": 1, "ts": "20.0", "dur": 1.0, "args": {"stream id": 9}}"#,
        ], processes: [(Self.hardware, "Ascend Hardware"), (Self.hccl, "HCCL")], threads: [(Self.hccl, "1", "Plane 0")]))
        let onDevice = slices(t, "Reduce").first { t.strings[t.tracks.pid[Int(t.slices.track[$0])]] == Self.hardware }!
        XCTAssertEqual(t.slices.kind[onDevice], .communication)
    }

    /// Flow ids are 64-bit: two that one Double cannot tell apart (beyond 2^53) still link each
    /// task to its own operator.
    func testSixtyFourBitFlowIdsLinkTasksToTheirOperators() throws {
        let t = try load(npu([
            #"{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": "0.0", "dur": 5.0}"#,
            #"{"ph": "X", "cat": "cpu_op", "name": "aten::add", "pid": 1, "tid": 1, "ts": "6.0", "dur": 5.0}"#,
            #"{"ph": "s", "cat": "async_npu", "name": "torch_to_npu", "id": 1736412474725417508, "pid": 1, "tid": 1, "ts": "1.0", "bp": "e"}"#,
            #"{"ph": "s", "cat": "async_npu", "name": "torch_to_npu", "id": 1736412474725417509, "pid": 1, "tid": 1, "ts": "7.0", "bp": "e"}"#,
            #"{"ph": "f", "cat": "async_npu", "name": "torch_to_npu", "id": 1736412474725417509, "pid": \#(Self.hardware), "tid": 2, "ts": "30.0", "bp": "e"}"#,
            #"{"ph": "f", "cat": "async_npu", "name": "torch_to_npu", "id": 1736412474725417508, "pid": \#(Self.hardware), "tid": 2, "ts": "20.0", "bp": "e"}"#,
            task("MatMul", ts: "20.0"),
            task("Add", ts: "30.0"),
        ], processes: [(Self.hardware, "Ascend Hardware")]))
        XCTAssertEqual(Double(1_736_412_474_725_417_508), Double(1_736_412_474_725_417_509))
        func launcher(_ name: String) -> String? {
            let l = Int(t.slices.launcher[slice(t, name)])
            return l >= 0 ? t.name(ofSlice: l) : nil
        }
        XCTAssertEqual(launcher("MatMul"), "aten::mm")
        XCTAssertEqual(launcher("Add"), "aten::add")
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 0)
    }

    func testTaskWithoutFlowLinksToItsCANNCallByConnectionID() throws {
        let t = try load(npu([
            #"{"ph": "X", "name": "HcclAllreduce", "pid": \#(Self.cann), "tid": 7, "ts": "5.0", "dur": 2.0, "args": {"connection_id": 42}}"#,
            task("SDMA", ts: "20.0", tid: "4", type: "SDMA", extra: #", "connection_id": 42"#),
            task("Lonely", ts: "40.0", extra: #", "connection_id": 43"#),
        ], processes: [(Self.hardware, "Ascend Hardware"), (Self.cann, "CANN")]))
        XCTAssertEqual(t.name(ofSlice: Int(t.slices.launcher[slice(t, "SDMA")])), "HcclAllreduce")
        XCTAssertEqual(t.slices.launcher[slice(t, "Lonely")], -1)
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 1)
    }

    func testFlowEndingInNoSliceIsAWarning() throws {
        let t = try load(npu([
            #"{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": "0.0", "dur": 5.0}"#,
            #"{"ph": "s", "cat": "async_npu", "name": "torch_to_npu", "id": 5, "pid": 1, "tid": 1, "ts": "1.0", "bp": "e"}"#,
            #"{"ph": "f", "cat": "async_npu", "name": "torch_to_npu", "id": 5, "pid": \#(Self.hardware), "tid": 2, "ts": "99.0", "bp": "e"}"#,
            task("MatMul", ts: "20.0"),
        ], processes: [(Self.hardware, "Ascend Hardware")]))
        XCTAssertEqual(t.warnings.count("unresolved-flow"), 1)
        XCTAssertEqual(t.slices.launcher[slice(t, "MatMul")], -1)
    }

    func testSemicolonJoinedShapesBecomeLists() throws {
        let t = try load(npu([
            #"{"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": "0.0", "dur": 5.0, "args": {"Input Dims": "8,512;\r\n512,512;\r\n", "Input type": "float;\r\nfloat;\r\nScalar"}}"#,
            #"{"ph": "X", "cat": "cpu_op", "name": "aten::empty", "pid": 1, "tid": 1, "ts": "6.0", "dur": 1.0, "args": {"Input Dims": ";\r\n;\r\n"}}"#,
        ]))
        XCTAssertEqual(argDict(t, slice(t, "aten::mm"))["Input Dims"], "[[8, 512], [512, 512], []]")
        XCTAssertEqual(argDict(t, slice(t, "aten::mm"))["Input type"], #"["float", "float", "Scalar"]"#)
        XCTAssertEqual(argDict(t, slice(t, "aten::empty"))["Input Dims"], "[[], [], []]")
    }

    func testNPUMemCountersBecomeMemorySamples() throws {
        let mem = "3254509152"
        let t = try load(npu([
            #"{"ph": "C", "name": "APP/HBM", "pid": \#(mem), "tid": 0, "ts": "10.0", "args": {"KB": 2048.0}}"#,
            #"{"ph": "C", "name": "APP/HBM", "pid": \#(mem), "tid": 0, "ts": "20.0", "args": {"KB": 1024.0}}"#,
            #"{"ph": "C", "name": "APP/DDR", "pid": \#(mem), "tid": 0, "ts": "20.0", "args": {"KB": 99.0}}"#,
        ], processes: [(mem, "NPU MEM")]))
        XCTAssertEqual(t.memory.totalAllocated, [2048 * 1024, 1024 * 1024])
        XCTAssertEqual(t.memory.bytes, [2048 * 1024, -1024 * 1024])
        XCTAssertEqual(t.memory.ts, [10_000, 20_000])
        XCTAssertEqual(t.counters.count, 3)
    }

    func testKinetoTracesAreNotTakenForNPUExports() throws {
        let kineto = Array(TestSupport.kineto([TestSupport.x("a", ts: "1.5", dur: "1")]).utf8)
        XCTAssertFalse(kineto.withUnsafeBytes { NPUExport.hasQuotedTimestamp($0) })
        let text = Array(npu([#"{"ph": "X", "name": "a", "pid": 1, "tid": 1, "ts" : "1.5", "dur": 1}"#]).utf8)
        XCTAssertTrue(text.withUnsafeBytes { NPUExport.hasQuotedTimestamp($0) })
    }

    // MARK: - Paths and ranks

    func makeRankDirectory(_ root: String, _ name: String, info: String?) {
        let out = root + "/" + name + "/ASCEND_PROFILER_OUTPUT"
        mkdir(root, 0o755); mkdir(root + "/" + name, 0o755); mkdir(out, 0o755)
        TestSupport.writeFile(out + "/trace_view.json", Array(npu([#"{"ph": "X", "cat": "cpu_op", "name": "ProfilerStep#1", "pid": 1, "tid": 1, "ts": "1.0", "dur": 5.0}"#]).utf8))
        if let info { TestSupport.writeFile(root + "/" + name + "/" + info.split(separator: "|")[0], Array(info.split(separator: "|")[1].utf8)) }
    }

    func testRanksFromProfilerInfoAndAMissingRankFile() throws {
        let root = TestSupport.temporaryPath("-npu-run")
        makeRankDirectory(root, "a_ascend_pt", info: #"profiler_info_3.json|{"rank_id": 3}"#)
        makeRankDirectory(root, "b_ascend_pt", info: #"profiler_info_5.json|{"config": {}}"#)  // no rank_id: the file's N
        makeRankDirectory(root, "c_ascend_pt", info: nil)  // no rank file: the first rank left
        let run = try TraceLoader.loadRun(paths: [root])
        XCTAssertEqual(run.ranks.map(\.rank), [0, 3, 5])
        XCTAssertEqual(run.ranks.map { $0.source.contains("/c_ascend_pt/") }, [true, false, false])
        XCTAssertEqual(NPUExport.rank(ofTrace: root + "/a_ascend_pt/ASCEND_PROFILER_OUTPUT/trace_view.json"), 3)
        XCTAssertNil(NPUExport.rank(ofTrace: root + "/c_ascend_pt/ASCEND_PROFILER_OUTPUT/trace_view.json"))
    }
}

/// HCCL tasks carry no flow of their own: they take the launcher of the HCCL op drawn beside them.
final class NPUCollectiveLinkTests: XCTestCase {
    func testHCCLTasksTakeTheirOpsLauncher() throws {
        let hw = NPUImportTests.hardware, hccl = NPUImportTests.hccl
        let json = "[" + [
            #"{"ph": "X", "cat": "cpu_op", "name": "HcclAllreduce", "pid": 1, "tid": 1, "ts": "0.0", "dur": 5.0}"#,
            #"{"ph": "s", "cat": "async_npu", "name": "torch_to_npu", "id": 19000, "pid": 1, "tid": 1, "ts": "1.0", "bp": "e"}"#,
            #"{"ph": "f", "cat": "async_npu", "name": "torch_to_npu", "id": 19000, "pid": \#(hccl), "tid": 0, "ts": "19.0", "bp": "e"}"#,
            #"{"ph": "X", "name": "hcom_allReduce__586_0_1", "pid": \#(hccl), "tid": 0, "ts": "19.0", "dur": 9.0, "args": {"data_type": "FP32", "count": 8}}"#,
            #"{"ph": "X", "name": "Notify Wait", "pid": \#(hw), "tid": 4, "ts": "20.0", "dur": 5.0, "args": {"Task Type": "Notify Wait"}}"#,
            #"{"ph": "X", "name": "SDMA", "pid": \#(hw), "tid": 4, "ts": "40.0", "dur": 1.0, "args": {"Task Type": "SDMA"}}"#,
            #"{"ph": "M", "name": "process_name", "pid": \#(hw), "tid": 0, "args": {"name": "Ascend Hardware"}}"#,
            #"{"ph": "M", "name": "process_name", "pid": \#(hccl), "tid": 0, "args": {"name": "HCCL"}}"#,
            #"{"ph": "M", "name": "thread_name", "pid": \#(hccl), "tid": 0, "args": {"name": "Group 0 Communication"}}"#,
        ].joined(separator: ",\n") + "]"
        let t = try load(json)
        XCTAssertEqual(t.name(ofSlice: Int(t.slices.launcher[slice(t, "Notify Wait")])), "HcclAllreduce")
        // After the op ends: no launcher.
        XCTAssertEqual(t.slices.launcher[slice(t, "SDMA")], -1)
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 1)
    }
}
