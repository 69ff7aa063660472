@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// GPU activity linked to its launching call (docs/definitions.md, "Linking GPU activity to the CPU").
final class LinkingTests: XCTestCase {
    func launcherName(_ t: RankTrace, _ activity: String) -> String? {
        let i = slice(t, activity)
        let l = Int(t.slices.launcher[i])
        return l >= 0 ? t.name(ofSlice: l) : nil
    }

    func testCorrelationThenExternalIDThenUnlinked() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("aten::mm", ts: "0", dur: "20", args: #""External id": 10"#),
            TestSupport.x("cudaLaunchKernel", cat: "cuda_runtime", ts: "5", dur: "3", args: #""External id": 10, "correlation": 100"#),
            TestSupport.x("gemm", cat: "kernel", ts: "30", dur: "10", pid: "0", tid: "7", args: #""External id": 10, "correlation": 100"#),
            TestSupport.x("copy", cat: "gpu_memcpy", ts: "41", dur: "2", pid: "0", tid: "7", args: #""External id": 10, "correlation": 999"#),
            TestSupport.x("fill", cat: "gpu_memset", ts: "44", dur: "1", pid: "0", tid: "7", args: #""External id": 77, "correlation": 555"#),
            TestSupport.x("annotation", cat: "gpu_user_annotation", ts: "29", dur: "20", pid: "0", tid: "7", args: #""External id": 78"#),
        ]))
        XCTAssertEqual(launcherName(t, "gemm"), "cudaLaunchKernel")
        // No runtime call with correlation 999: the External id finds the earliest operator.
        XCTAssertEqual(launcherName(t, "copy"), "aten::mm")
        XCTAssertNil(launcherName(t, "fill"))
        // Annotations are not GPU activity: neither linked nor counted as unlinked.
        XCTAssertEqual(t.slices.launcher[slice(t, "annotation")], -1)
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 1)
    }

    func testDriverCallsLaunchToo() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("cuLaunchKernel", cat: "cuda_driver", ts: "5", dur: "3", args: #""correlation": 7"#),
            TestSupport.x("k", cat: "kernel", ts: "30", dur: "10", pid: "0", tid: "7", args: #""correlation": 7"#),
        ]))
        XCTAssertEqual(launcherName(t, "k"), "cuLaunchKernel")
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 0)
    }

    func testCorrelationOnlyMatchesRuntimeCalls() throws {
        // A cpu_op carrying a correlation arg is not a launching call for it.
        let t = try load(TestSupport.kineto([
            TestSupport.x("aten::odd", ts: "0", dur: "3", args: #""correlation": 5"#),
            TestSupport.x("k", cat: "kernel", ts: "30", dur: "10", pid: "0", tid: "7", args: #""correlation": 5"#),
        ]))
        XCTAssertNil(launcherName(t, "k"))
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 1)
    }

    func testFirstRuntimeCallInTrackOrderWinsASharedCorrelation() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("launch-late", cat: "cuda_runtime", ts: "12", dur: "1", args: #""correlation": 200"#),
            TestSupport.x("launch-early", cat: "cuda_runtime", ts: "10", dur: "1", args: #""correlation": 200"#),
            TestSupport.x("k", cat: "kernel", ts: "30", dur: "10", pid: "0", tid: "7", args: #""correlation": 200"#),
        ]))
        XCTAssertEqual(launcherName(t, "k"), "launch-early")
    }

    func testExternalIDPrefersTheEarliestOperator() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("aten::inner", ts: "2", dur: "3", args: #""External id": 9"#),
            TestSupport.x("aten::outer", ts: "1", dur: "10", args: #""External id": 9"#),
            TestSupport.x("k", cat: "kernel", ts: "30", dur: "10", pid: "0", tid: "7", args: #""External id": 9"#),
        ]))
        XCTAssertEqual(launcherName(t, "k"), "aten::outer")
    }

    func testKineto2021Schema() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("aten::conv2d", cat: "Operator", ts: "0", dur: "20", pid: "1", tid: "\"25738\"", args: #""external id": 5"#),
            TestSupport.x("cudaLaunchKernel", cat: "Runtime", ts: "2", dur: "3", pid: "1", tid: "\"25738\"", args: #""correlation": 300, "external id": 5"#),
            TestSupport.x("implicit_gemm", cat: "Kernel", ts: "30", dur: "10", pid: "0", tid: "\"stream 7\"", args: #""queued": 0, "device": 0, "context": 1, "stream": 7, "correlation": 300, "external id": 5"#),
            TestSupport.x("Memcpy HtoD (Pageable -> Device)", cat: "Memcpy", ts: "41", dur: "2", pid: "0", tid: "\"stream 7\"", args: #""correlation": 301, "external id": 5"#),
            TestSupport.x("Memset (Device)", cat: "Memset", ts: "44", dur: "1", pid: "0", tid: "\"stream 7\"", args: #""correlation": 302, "external id": 99"#),
            #"{"ph": "f", "id": 300, "pid": 0, "tid": "stream 7", "ts": 30, "cat": "async", "name": "launch"}"#,
            #"{"ph": "s", "id": 300, "pid": 1, "tid": 25738, "ts": 2, "cat": "async", "name": "launch"}"#,
        ]))
        let cpu = try XCTUnwrap(track(t, pid: "1", tid: "25738"))
        let gpu = try XCTUnwrap(track(t, pid: "0", tid: "stream 7"))
        XCTAssertEqual(t.tracks.kind[cpu], .cpuThread)
        XCTAssertEqual(t.tracks.kind[gpu], .gpuStream)
        XCTAssertEqual(t.tracks.count, 2)
        XCTAssertEqual(t.slices.kind[slice(t, "aten::conv2d")], .cpuOp)
        XCTAssertEqual(t.slices.kind[slice(t, "cudaLaunchKernel")], .runtime)
        XCTAssertEqual(t.slices.kind[slice(t, "implicit_gemm")], .kernel)
        XCTAssertEqual(t.slices.kind[slice(t, "Memcpy HtoD (Pageable -> Device)")], .memcpy)
        XCTAssertEqual(t.slices.kind[slice(t, "Memset (Device)")], .memset)
        XCTAssertEqual(t.slices.externalID[slice(t, "aten::conv2d")], 5)
        XCTAssertEqual(launcherName(t, "implicit_gemm"), "cudaLaunchKernel")
        XCTAssertEqual(launcherName(t, "Memcpy HtoD (Pageable -> Device)"), "aten::conv2d")
        XCTAssertNil(launcherName(t, "Memset (Device)"))
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 1)
    }

    func testProfilerStepIsNotAnOperatorForExternalIDLinking() throws {
        // 2021 traces write ProfilerStep#N as an `Operator`, but it is not an operator slice
        // (docs/definitions.md, "Operators"), so an activity whose external id only matches the
        // step is unlinked.
        let t = try load(TestSupport.kineto([
            TestSupport.x("ProfilerStep#1", cat: "Operator", ts: "0", dur: "100", pid: "1", tid: "\"25738\"", args: #""external id": 6"#),
            TestSupport.x("aten::relu", cat: "Operator", ts: "10", dur: "5", pid: "1", tid: "\"25738\"", args: #""external id": 7"#),
            TestSupport.x("stray_kernel", cat: "Kernel", ts: "30", dur: "10", pid: "0", tid: "\"stream 7\"", args: #""correlation": 303, "external id": 6"#),
        ]))
        XCTAssertNil(launcherName(t, "stray_kernel"))
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 1)
    }

    func testLaunchersOnlyOnCPUThreads() throws {
        // A runtime-category slice drawn on a GPU stream is not a launching call.
        let t = try load(TestSupport.kineto([
            TestSupport.x("weird-runtime", cat: "cuda_runtime", ts: "1", dur: "1", pid: "0", tid: "7", args: #""correlation": 4"#),
            TestSupport.x("k", cat: "kernel", ts: "30", dur: "10", pid: "0", tid: "7", args: #""correlation": 4"#),
        ]))
        XCTAssertNil(launcherName(t, "k"))
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 1)
    }

    func testNoGPUActivityMeansNoLinks() throws {
        let t = try load(TestSupport.kineto([TestSupport.x("aten::mm", ts: "0", dur: "20")]))
        XCTAssertEqual(t.slices.launcher, [-1])
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 0)
    }
}
