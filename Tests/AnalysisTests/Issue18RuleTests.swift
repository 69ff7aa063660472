@testable import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// The communication overlay: a step thread blocked while a host-side collective runs is
/// communicating (docs/definitions.md, "Phases").
final class CommunicationOverlayTests: XCTestCase {
    func x(_ name: String, _ cat: String, _ ts: String, _ dur: String, tid: String = "1") -> String {
        TestSupport.x(name, cat: cat, ts: ts, dur: dur, tid: tid)
    }

    func testBlockedBackwardWhileAGlooCollectiveRunsIsCommunication() throws {
        // Backward runs ops until 40 us, then the main thread sits in a Python frame until 90 us
        // while a gloo all-reduce (20..80 us) runs on the gloo thread.
        let (_, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100"),
            x("backward", "user_annotation", "0", "90"),
            x("torch/autograd/__init__.py(255): backward", "python_function", "0", "90"),
            x("aten::mm", "cpu_op", "0", "20"),
            x("c10d::allreduce_", "cpu_op", "20", "2"),
            x("aten::mm", "cpu_op", "25", "15"),
            x("gloo:all_reduce", "user_annotation", "20", "60", tid: "2"),
            x("aten::copy_", "cpu_op", "90", "10"),
        ]))
        let p = a.steps[0].phases
        // 40..80 blocked in the frame while the collective is in flight; 22..25 too (the gap
        // between ops); the op at 25..40 keeps its backward.
        XCTAssertEqual(p[.communication], 2_000 + 3_000 + 40_000, describe(p))
        XCTAssertEqual(p[.backward], 20_000 + 15_000 + 10_000, describe(p))
        XCTAssertEqual(p[.other], 10_000, describe(p))
        XCTAssertEqual(p.total, 100_000)
    }

    func testForwardAndOperatorsAreNotMoved() throws {
        // A collective in flight during forward Python frames and during backward operators
        // moves nothing: only backward/other/idle time with no operator running is waiting.
        let (_, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100"),
            x("forward", "user_annotation", "0", "50"),
            x("model.py(10): forward", "python_function", "0", "50"),
            x("backward", "user_annotation", "50", "50"),
            x("aten::mm", "cpu_op", "50", "50"),
            x("gloo:all_reduce", "user_annotation", "0", "100", tid: "2"),
        ]))
        let p = a.steps[0].phases
        XCTAssertEqual(p[.forward], 50_000, describe(p))
        XCTAssertEqual(p[.backward], 50_000, describe(p))
        XCTAssertEqual(p[.communication], 0, describe(p))
    }

    func testGPUCollectivesDoNotBlockTheHost() throws {
        // An NCCL kernel in flight while the host idles is not the host waiting.
        let (_, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100"),
            x("backward", "user_annotation", "0", "100"),
            "{\"ph\": \"X\", \"cat\": \"kernel\", \"name\": \"ncclDevKernel_AllReduce_Sum_f32_RING_LL\", \"pid\": 0, \"tid\": 7, \"ts\": 10, \"dur\": 80}",
        ]))
        XCTAssertEqual(a.steps[0].phases[.backward], 100_000, describe(a.steps[0].phases))
    }

    func testWaitingForTheStragglerOnTheSampleDDPTraceIsCommunication() throws {
        let run = try TraceLoader.loadRun(paths: [TestSupport.packageRoot + "/sample-traces/ddp2_straggler"])
        let r0 = try XCTUnwrap(run.ranks.first { $0.rank == 0 })
        let a = Analyzer.analyze(r0)
        let step4 = try XCTUnwrap(a.steps.first { $0.name == "ProfilerStep#4" })
        // Rank 1 slept 200 ms in its forward; rank 0's backward annotation lasts 258 ms, of
        // which about 55 ms run autograd operators and the rest waits for the gradient buckets.
        XCTAssertLessThan(step4.phases[.backward], 80_000_000, describe(step4.phases))
        XCTAssertGreaterThan(step4.phases[.communication], 180_000_000, describe(step4.phases))
        // The other steps' backward is about as long as step 4's now.
        let others = a.steps.filter { $0.name != "ProfilerStep#4" }.map { $0.phases[.backward] }
        XCTAssertLessThan(abs(step4.phases[.backward] - others.sorted()[others.count / 2]), 15_000_000)
    }
}
