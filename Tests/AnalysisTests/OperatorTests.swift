@testable import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Self time, inclusive time, GPU time and the operator keys (docs/definitions.md, "Operators").
final class OperatorTests: XCTestCase {
    let x = TestSupport.x

    func testSelfTimeAndRecursionCountedOnce() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("aten::a", "cpu_op", "0", "100", "1", "1", ""),
            x("aten::b", "cpu_op", "10", "50", "1", "1", ""),
            x("aten::a", "cpu_op", "20", "30", "1", "1", ""),
            x("aten::a", "cpu_op", "25", "5", "1", "1", ""),
            x("cudaLaunchKernel", "cuda_runtime", "26", "1", "1", "1", #""correlation": 1"#),
            x("aten::a", "cpu_op", "200", "10", "1", "1", ""),
            x("k", "kernel", "30", "7", "0", "7", #""correlation": 1"#),
        ]))
        let opA = op(a, "aten::a")
        XCTAssertEqual(opA.count, 4)
        XCTAssertEqual(opA.totalNs, 110_000)  // 100 + 10: the nested ones have an aten::a ancestor
        XCTAssertEqual(opA.selfNs, 89_000)    // 50 + 25 + 4 + 10
        XCTAssertEqual(opA.gpuNs, 7_000)      // once, not once per nested aten::a
        let opB = op(a, "aten::b")
        XCTAssertEqual(opB.count, 1)
        XCTAssertEqual(opB.totalNs, 50_000)
        XCTAssertEqual(opB.selfNs, 20_000)
        XCTAssertEqual(opB.gpuNs, 7_000)
        let launch = op(a, "cudaLaunchKernel")
        XCTAssertEqual(launch.count, 1)
        XCTAssertEqual(launch.totalNs, 1_000)
        XCTAssertEqual(launch.selfNs, 1_000)
        XCTAssertEqual(launch.gpuNs, 7_000)
        XCTAssertEqual(launch.kind, .runtime)
        XCTAssertEqual(a.operators.count, 3)
        // Sorted by self time, descending.
        XCTAssertEqual(a.operators.map(\.name), ["aten::a", "aten::b", "cudaLaunchKernel"])
        XCTAssertEqual(a.kernels.map(\.name), ["k"])
        XCTAssertEqual(a.kernels.first?.totalNs, 7_000)
        XCTAssertEqual(a.gpuActivityNs, 7_000)
        // Self time per slice: nesting duration minus the children's nesting durations.
        XCTAssertEqual(a.facts.selfTime[sliceIndex(t, "aten::b")], 20_000)
        XCTAssertEqual(a.facts.selfTime.reduce(0, +), 100_000 + 10_000 + 7_000)
    }

    func testSelfTimeUsesNestingIntervals() throws {
        // The frame is cut where the step begins; dur stays unclipped for total_ns.
        let (t, a) = try analyzed(TestSupport.kineto([
            x("frame", "user_annotation", "0", "50", "1", "1", ""),
            x("ProfilerStep#1", "user_annotation", "10", "100", "1", "1", ""),
            x("aten::add", "cpu_op", "20", "10", "1", "1", ""),
        ]))
        XCTAssertEqual(a.facts.selfTime[sliceIndex(t, "frame")], 10_000)
        XCTAssertEqual(a.facts.selfTime[sliceIndex(t, "ProfilerStep#1")], 90_000)
        XCTAssertEqual(op(a, "frame").selfNs, 10_000)
        XCTAssertEqual(op(a, "frame").totalNs, 50_000)
        // ProfilerStep#N is not an operator.
        XCTAssertFalse(a.operators.contains { $0.name.hasPrefix("ProfilerStep#") })
    }

    func testOperatorSlicesByCategoryAndTrack() throws {
        let (_, a) = try analyzed(TestSupport.kineto([
            x("op", "cpu_op", "0", "1", "1", "1", ""),
            x("Op2021", "Operator", "2", "1", "1", "1", ""),
            x("annot", "user_annotation", "4", "1", "1", "1", ""),
            x("rt", "cuda_runtime", "6", "1", "1", "1", ""),
            x("rt2021", "Runtime", "8", "1", "1", "1", ""),
            x("drv", "cuda_driver", "10", "1", "1", "1", ""),
            x("py", "python_function", "12", "1", "1", "1", ""),
            x("sync", "cuda_sync", "14", "1", "1", "1", ""),
            x("ProfilerStep#3", "Operator", "16", "1", "1", "1", ""),
            x("gpu_annot", "gpu_user_annotation", "0", "1", "0", "7", ""),
            x("op_on_gpu_stream", "cpu_op", "2", "1", "0", "7", ""),
            x("kern", "kernel", "4", "1", "0", "7", ""),
            x("span", "Trace", "0", "100", "\"Spans\"", "\"PyTorch Profiler\"", ""),
        ]))
        XCTAssertEqual(Set(a.operators.map(\.name)), ["op", "Op2021", "annot", "rt", "rt2021", "drv"])
        XCTAssertEqual(op(a, "Op2021").kind, .cpuOp)
        XCTAssertEqual(op(a, "annot").kind, .userAnnotation)
        XCTAssertEqual(op(a, "drv").kind, .driver)
    }

    func testGPUTimeIncludesKernelsLaunchedInDescendants() throws {
        let (_, a) = try analyzed(TestSupport.kineto([
            x("fwd_block", "user_annotation", "0", "100", "1", "1", ""),
            x("aten::linear", "cpu_op", "10", "40", "1", "1", ""),
            x("aten::addmm", "cpu_op", "15", "30", "1", "1", ""),
            x("cudaLaunchKernel", "cuda_runtime", "20", "2", "1", "1", #""correlation": 10"#),
            x("cudaLaunchKernel", "cuda_runtime", "30", "2", "1", "1", #""correlation": 11"#),
            x("aten::relu", "cpu_op", "60", "10", "1", "1", #""External id": 50"#),
            x("cudaMemcpyAsync", "cuda_runtime", "80", "5", "1", "1", #""correlation": 12"#),
            x("gemm1", "kernel", "25", "8", "0", "7", #""correlation": 10"#),
            x("gemm2", "kernel", "35", "4", "0", "7", #""correlation": 11"#),
            x("relu_k", "kernel", "70", "3", "0", "7", #""correlation": 999, "External id": 50"#),
            x("Memcpy HtoD", "gpu_memcpy", "86", "6", "0", "8", #""correlation": 12"#),
            x("orphan", "kernel", "95", "5", "0", "7", ""),
        ]))
        XCTAssertEqual(op(a, "aten::addmm").gpuNs, 12_000)
        XCTAssertEqual(op(a, "aten::linear").gpuNs, 12_000)
        XCTAssertEqual(op(a, "aten::relu").gpuNs, 3_000)
        XCTAssertEqual(op(a, "cudaMemcpyAsync").gpuNs, 6_000)
        XCTAssertEqual(op(a, "fwd_block").gpuNs, 21_000)
        XCTAssertEqual(op(a, "cudaLaunchKernel").gpuNs, 12_000)
        XCTAssertEqual(op(a, "cudaLaunchKernel").count, 2)
        XCTAssertEqual(op(a, "cudaLaunchKernel").totalNs, 4_000)
        XCTAssertEqual(a.gpuActivityNs, 26_000)
        XCTAssertEqual(a.kernels.map(\.name), ["gemm1", "Memcpy HtoD", "orphan", "gemm2", "relu_k"])
        XCTAssertEqual(a.kernels.first { $0.name == "Memcpy HtoD" }?.kind, .memcpy)
    }

    func testGPUTimeCountedOnceForRecursionAndSummedOverOuterSlices() throws {
        let (_, a) = try analyzed(TestSupport.kineto([
            x("aten::to", "cpu_op", "0", "50", "1", "1", ""),
            x("aten::to", "cpu_op", "5", "40", "1", "1", ""),
            x("cudaMemcpyAsync", "cuda_runtime", "10", "2", "1", "1", #""correlation": 1"#),
            x("aten::to", "cpu_op", "100", "50", "1", "1", ""),
            x("cudaMemcpyAsync", "cuda_runtime", "110", "2", "1", "1", #""correlation": 2"#),
            x("Memcpy HtoD", "gpu_memcpy", "20", "10", "0", "7", #""correlation": 1"#),
            x("Memcpy HtoD", "gpu_memcpy", "120", "15", "0", "7", #""correlation": 2"#),
        ]))
        XCTAssertEqual(op(a, "aten::to").count, 3)
        XCTAssertEqual(op(a, "aten::to").totalNs, 100_000)
        XCTAssertEqual(op(a, "aten::to").gpuNs, 25_000)
        XCTAssertEqual(op(a, "aten::to").selfNs, 10_000 + 38_000 + 48_000)
    }

    func testOperatorFiguresSplitByPhase() throws {
        let dims1 = #""Input Dims": [[2, 3], [3, 4]]"#
        let dims2 = #""Input Dims": [[4, 5], [5, 6]]"#
        let events = [
            x("forward", "user_annotation", "0", "50", "1", "1", ""),
            x("aten::mm", "cpu_op", "10", "10", "1", "1", dims1),
            x("backward", "user_annotation", "100", "50", "1", "1", ""),
            x("aten::mm", "cpu_op", "110", "20", "1", "1", dims2),
            x("aten::mm", "cpu_op", "140", "5", "1", "1", dims1),
            x("aten::mm", "cpu_op", "200", "1", "1", "1", ""),
        ]
        let (_, a) = try analyzed(TestSupport.kineto(events))
        let mm = op(a, "aten::mm")
        XCTAssertEqual(mm.count, 4)
        XCTAssertEqual(mm.totalNs, 36_000)
        XCTAssertEqual(mm.byPhase[.forward], OperatorPhaseStat(count: 1, totalNs: 10_000, selfNs: 10_000, gpuNs: 0))
        XCTAssertEqual(mm.byPhase[.backward], OperatorPhaseStat(count: 2, totalNs: 25_000, selfNs: 25_000, gpuNs: 0))
        XCTAssertEqual(mm.byPhase[.other], OperatorPhaseStat(count: 1, totalNs: 1_000, selfNs: 1_000, gpuNs: 0))
        XCTAssertNil(mm.byPhase[.data])
        XCTAssertEqual(mm.byPhase.values.reduce(0) { $0 + $1.count }, mm.count)
        XCTAssertEqual(op(a, "forward").byPhase[.forward]?.totalNs, 50_000)
        XCTAssertEqual(op(a, "forward").byPhase[.forward]?.selfNs, 40_000)

        // --by-shape: keyed by name plus the Input Dims text as written.
        let (_, s) = try analyzed(TestSupport.kineto(events), byShape: true)
        let small = op(s, "aten::mm", shape: "[[2, 3], [3, 4]]")
        XCTAssertEqual(small.count, 2)
        XCTAssertEqual(small.totalNs, 15_000)
        XCTAssertEqual(small.byPhase[.forward]?.count, 1)
        XCTAssertEqual(small.byPhase[.backward]?.count, 1)
        let big = op(s, "aten::mm", shape: "[[4, 5], [5, 6]]")
        XCTAssertEqual(big.count, 1)
        XCTAssertEqual(big.totalNs, 20_000)
        let none = op(s, "aten::mm", shape: nil)
        XCTAssertEqual(none.count, 1)
        XCTAssertEqual(none.totalNs, 1_000)
        XCTAssertEqual(s.operators.filter { $0.name == "aten::mm" }.count, 3)
        XCTAssertEqual(op(s, "forward").shape, nil)
    }

    func testByShapeRecursionIsPerKey() throws {
        // Same name, different shapes: the inner one has no ancestor with *its* key.
        let (_, s) = try analyzed(TestSupport.kineto([
            x("aten::copy_", "cpu_op", "0", "10", "1", "1", #""Input Dims": [[1]]"#),
            x("aten::copy_", "cpu_op", "2", "5", "1", "1", #""Input Dims": [[2]]"#),
            x("aten::copy_", "cpu_op", "3", "1", "1", "1", #""Input Dims": [[1]]"#),
        ]), byShape: true)
        XCTAssertEqual(op(s, "aten::copy_", shape: "[[1]]").totalNs, 10_000)
        XCTAssertEqual(op(s, "aten::copy_", shape: "[[1]]").count, 2)
        XCTAssertEqual(op(s, "aten::copy_", shape: "[[2]]").totalNs, 5_000)
        let (_, n) = try analyzed(TestSupport.kineto([
            x("aten::copy_", "cpu_op", "0", "10", "1", "1", #""Input Dims": [[1]]"#),
            x("aten::copy_", "cpu_op", "2", "5", "1", "1", #""Input Dims": [[2]]"#),
        ]))
        XCTAssertEqual(op(n, "aten::copy_").totalNs, 10_000)
    }

    func testRecursionOnlyThroughOperatorAncestors() throws {
        // A python_function of the same name is not an operator: the op below it is counted.
        let (_, a) = try analyzed(TestSupport.kineto([
            x("same", "python_function", "0", "10", "1", "1", ""),
            x("same", "cpu_op", "1", "5", "1", "1", ""),
        ]))
        XCTAssertEqual(op(a, "same").count, 1)
        XCTAssertEqual(op(a, "same").totalNs, 5_000)
    }

    func testRecursionIsPerTrack() throws {
        let (_, a) = try analyzed(TestSupport.kineto([
            x("aten::a", "cpu_op", "0", "10", "1", "1", ""),
            x("aten::a", "cpu_op", "2", "5", "1", "2", ""),
        ]))
        XCTAssertEqual(op(a, "aten::a").totalNs, 15_000)
    }
}

/// The per-slice attribution every operator figure is read from (report, diff samples, UI).
final class OperatorAttributionTests: XCTestCase {
    let x = TestSupport.x

    func testKeysOwnersCallersAndCounting() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "300", "1", "1", ""),
            x("train.py(3): step", "python_function", "1", "290", "1", "1", ""),
            x("aten::linear", "cpu_op", "2", "100", "1", "1", ""),
            x("aten::linear", "cpu_op", "3", "50", "1", "1", ""),
            x("nn.py(9): forward", "python_function", "4", "20", "1", "1", ""),
            x("aten::mm", "cpu_op", "5", "10", "1", "1", ""),
            x("k", "kernel", "30", "7", "0", "7", ""),
        ]))
        let ops = a.attribution
        let step = sliceIndex(t, "ProfilerStep#1"), py = sliceIndex(t, "train.py(3): step")
        let mm = sliceIndex(t, "aten::mm"), inner = sliceIndex(t, "nn.py(9): forward")
        let linears = (0..<t.slices.count).filter { t.name(ofSlice: $0) == "aten::linear" }.sorted { t.slices.start[$0] < t.slices.start[$1] }
        // Steps and Python frames are not operators, and have no operator above them.
        XCTAssertEqual(ops.key[step], .max)
        XCTAssertEqual(ops.owner[step], -1)
        XCTAssertEqual(ops.owner[py], -1)
        // A Python frame between operators belongs to the operator above it.
        XCTAssertEqual(ops.owner[inner], Int32(linears[1]))
        XCTAssertEqual(ops.owner[mm], Int32(mm))
        XCTAssertEqual(ops.caller(of: mm, in: t), linears[1])
        XCTAssertEqual(ops.caller(of: linears[1], in: t), linears[0])
        XCTAssertEqual(ops.caller(of: linears[0], in: t), -1)
        // The nested aten::linear is inside the outer one's inclusive time; aten::mm is not nested in itself.
        XCTAssertEqual(ops.counted[linears[0]], true)
        XCTAssertEqual(ops.counted[linears[1]], false)
        XCTAssertEqual(ops.counted[mm], true)
        XCTAssertEqual(op(a, "aten::linear").totalNs, 100_000)
    }
}
