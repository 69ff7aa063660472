@testable import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Steps, effective phases and the phase partition of each step (docs/definitions.md, "Steps", "Phases").
final class StepPhaseTests: XCTestCase {
    let x = TestSupport.x

    func assertPhases(_ got: PhaseTimes, _ want: [Phase: Int64], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got, phases(want), "got \(describe(got)), want \(describe(phases(want)))", file: file, line: line)
    }

    // MARK: Steps

    func testStepPhasePartition() throws {
        let (_, a) = try analyzed(TestSupport.kineto([
            x("aten::setup", "cpu_op", "-20", "10", "1", "1", ""),
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__", "user_annotation", "0", "10", "1", "1", ""),
            x("## forward ##", "user_annotation", "10", "30", "1", "1", ""),
            x("aten::linear", "cpu_op", "15", "10", "1", "1", ""),
            x("backward", "user_annotation", "50", "20", "1", "1", ""),
            x("Optimizer.step#AdamW.step", "user_annotation", "70", "20", "1", "1", ""),
            x("aten::copy_", "cpu_op", "90", "5", "1", "1", ""),
            x("ProfilerStep#2", "user_annotation", "100", "50", "1", "1", ""),
            x("nccl:all_reduce", "cpu_op", "110", "20", "1", "1", ""),
            x("aten::teardown", "cpu_op", "160", "5", "1", "1", ""),
        ]))
        XCTAssertEqual(a.steps.map(\.name), ["ProfilerStep#1", "ProfilerStep#2"])
        XCTAssertEqual(a.steps.map(\.start), [0, 100_000])
        XCTAssertEqual(a.steps.map(\.dur), [100_000, 50_000])
        assertPhases(a.steps[0].phases, [.data: 10_000, .forward: 30_000, .backward: 20_000, .optimizer: 20_000,
                                         .other: 5_000, .idle: 15_000])
        assertPhases(a.steps[1].phases, [.communication: 20_000, .idle: 30_000])
        assertPhases(a.phases, [.data: 10_000, .forward: 30_000, .backward: 20_000, .optimizer: 20_000,
                                .communication: 20_000, .other: 5_000, .idle: 45_000])
        for s in a.steps { XCTAssertEqual(s.phases.total, s.dur) }
    }

    func testStepSliceAndItsAncestorsAreExcluded() throws {
        // The outer range has an own phase, but a step's time is never attributed to the step
        // slice or its ancestors: what no other slice covers is idle.
        let (t, a) = try analyzed(TestSupport.kineto([
            x("outer forward loop", "user_annotation", "0", "300", "1", "1", ""),
            x("ProfilerStep#1", "user_annotation", "10", "100", "1", "1", ""),
            x("aten::mm", "cpu_op", "20", "10", "1", "1", ""),
            x("aten::between", "cpu_op", "120", "10", "1", "1", ""),
            x("ProfilerStep#2", "user_annotation", "150", "100", "1", "1", ""),
        ]))
        XCTAssertEqual(a.steps.count, 2)
        assertPhases(a.steps[0].phases, [.forward: 10_000, .idle: 90_000])
        assertPhases(a.steps[1].phases, [.idle: 100_000])
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "ProfilerStep#1")], .forward)  // inherited, not own
    }

    func testSliceOutlivingTheStepCountsUntilTheStepEnds() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("aten::mm", "cpu_op", "10", "20", "1", "1", ""),
            x("forward", "user_annotation", "80", "50", "1", "1", ""),
            x("ProfilerStep#2", "user_annotation", "100", "50", "1", "1", ""),
        ]))
        XCTAssertEqual(t.warnings.count("overlapping-slices"), 2)
        assertPhases(a.steps[0].phases, [.other: 20_000, .forward: 20_000, .idle: 60_000])
        assertPhases(a.steps[1].phases, [.idle: 50_000])
    }

    func testStepThreadIsTheThreadWithMostSteps() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#5", "user_annotation", "0", "10", "1", "1", ""),
            x("ProfilerStep#1", "user_annotation", "50", "10", "1", "2", ""),
            x("forward", "user_annotation", "52", "4", "1", "2", ""),
            x("ProfilerStep#0", "user_annotation", "20", "10", "1", "2", ""),
        ]))
        XCTAssertEqual(a.stepTrack, trackIndex(t, tid: "2"))
        XCTAssertEqual(a.steps.map(\.name), ["ProfilerStep#0", "ProfilerStep#1"])
        XCTAssertEqual(a.steps.map(\.start), [20_000, 50_000])
        XCTAssertEqual(a.steps.map(\.slice), [sliceIndex(t, "ProfilerStep#0"), sliceIndex(t, "ProfilerStep#1")])
        assertPhases(a.steps[1].phases, [.forward: 4_000, .idle: 6_000])
    }

    func testNoStepsMeansOneTraceStep() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("aten::a", "cpu_op", "0", "30", "1", "1", ""),
            x("forward", "user_annotation", "10", "20", "1", "2", ""),
            x("aten::b", "cpu_op", "40", "30", "1", "2", ""),
            x("cudaLaunchKernel", "cuda_runtime", "45", "5", "1", "2", #""correlation": 7"#),
            x("k", "kernel", "80", "20", "0", "7", #""correlation": 7"#),
            x("PyTorch Profiler (0)", "Trace", "0", "100", "\"Spans\"", "\"PyTorch Profiler\"", ""),
        ]))
        XCTAssertEqual(a.steps.count, 1)
        let s = try XCTUnwrap(a.steps.first)
        XCTAssertEqual(s.name, "trace")
        XCTAssertEqual(s.start, 0)
        XCTAssertEqual(s.dur, 100_000)  // to the kernel's end: GPU included
        XCTAssertEqual(s.slice, -1)
        XCTAssertEqual(a.stepTrack, trackIndex(t, tid: "2"))  // 50 us of depth-0 slices beats 30
        assertPhases(s.phases, [.forward: 20_000, .other: 30_000, .idle: 50_000])
        assertPhases(a.phases, [.forward: 20_000, .other: 30_000, .idle: 50_000])
    }

    func testTraceStepStartsAtTheEarliestSliceOfAnyTrack() throws {
        let (_, a) = try analyzed(TestSupport.kineto([
            x("k", "kernel", "-5", "2", "0", "7", ""),
            x("aten::a", "cpu_op", "0", "30", "1", "1", ""),
        ]))
        XCTAssertEqual(a.steps.map(\.start), [-5_000])
        XCTAssertEqual(a.steps.map(\.dur), [35_000])
        assertPhases(a.steps[0].phases, [.other: 30_000, .idle: 5_000])
    }

    func testTraceStepThreadTieGoesToTheFirstTrack() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("aten::x", "cpu_op", "0", "30", "1", "5", ""),
            x("forward", "user_annotation", "0", "10", "1", "6", ""),
            x("forward2", "user_annotation", "10", "20", "1", "6", ""),
        ]))
        XCTAssertEqual(a.stepTrack, trackIndex(t, tid: "5"))
        assertPhases(a.steps[0].phases, [.other: 30_000])
    }

    func testTraceStepIgnoresAsyncSlices() throws {
        // Slices are X events and B/E pairs; async b/e pairs are kept in their own table and are
        // not slices, so they do not stretch the whole-trace step.
        let (_, a) = try analyzed(TestSupport.kineto([
            x("aten::a", "cpu_op", "0", "10", "1", "1", ""),
            #"{"ph": "b", "cat": "req", "id": 1, "name": "request", "pid": 1, "tid": 1, "ts": 0}"#,
            #"{"ph": "e", "cat": "req", "id": 1, "pid": 1, "tid": 1, "ts": 50}"#,
        ]))
        XCTAssertEqual(a.steps.map(\.dur), [10_000])
        assertPhases(a.steps[0].phases, [.other: 10_000])
    }

    func testNoSlicesNoSteps() throws {
        let (_, a) = try analyzed(TestSupport.kineto([#"{"ph": "i", "name": "m", "pid": 1, "tid": 1, "ts": 1}"#]))
        XCTAssertTrue(a.steps.isEmpty)
        XCTAssertEqual(a.phases.total, 0)
    }

    func testSpansTrackNeverBecomesTheStepThread() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("PyTorch Profiler (0)", "Trace", "0", "1000", "\"Spans\"", "\"PyTorch Profiler\"", ""),
            x("aten::a", "cpu_op", "0", "10", "1", "1", ""),
        ]))
        XCTAssertEqual(a.stepTrack, trackIndex(t, tid: "1"))
        XCTAssertEqual(a.steps.map(\.dur), [1_000_000])
        assertPhases(a.steps[0].phases, [.other: 10_000, .idle: 990_000])
    }

    func testProfilerStepOnAGPUStreamIsNoStep() throws {
        // Kineto also draws ProfilerStep#N as a gpu_user_annotation on GPU streams.
        let (t, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "gpu_user_annotation", "0", "50", "0", "7", ""),
            x("ProfilerStep#2", "gpu_user_annotation", "50", "50", "0", "7", ""),
            x("k", "kernel", "10", "5", "0", "7", ""),
            x("ProfilerStep#1", "user_annotation", "0", "40", "1", "1", ""),
        ]))
        XCTAssertEqual(a.steps.map(\.name), ["ProfilerStep#1"])
        XCTAssertEqual(a.steps.map(\.dur), [40_000])
        XCTAssertEqual(a.stepTrack, trackIndex(t, tid: "1"))
    }

    // MARK: Effective phases

    func testEffectivePhaseInheritance() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("forward", "user_annotation", "0", "100", "1", "1", ""),
            x("aten::mm", "cpu_op", "10", "50", "1", "1", ""),
            x("nccl:all_reduce", "cpu_op", "20", "20", "1", "1", ""),
            x("aten::x", "cpu_op", "25", "5", "1", "1", ""),
            x("aten::y", "cpu_op", "200", "5", "1", "1", ""),
            x("aten::z", "cpu_op", "201", "1", "1", "1", ""),
        ]))
        let p = { (n: String) in a.facts.phase[sliceIndex(t, n)] }
        XCTAssertEqual(p("forward"), .forward)
        XCTAssertEqual(p("aten::mm"), .forward)
        XCTAssertEqual(p("nccl:all_reduce"), .communication)
        XCTAssertEqual(p("aten::x"), .communication)
        XCTAssertEqual(p("aten::y"), .other)
        XCTAssertEqual(p("aten::z"), .other)
    }

    func testUserRulesDriveThePhases() throws {
        let rules = try PhaseRule.parse("forward: MyModel.encode*\ndata: prefetch_batch\nother: aten::*", file: "r")
        let (t, a) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("MyModel.encode_layers", "user_annotation", "0", "40", "1", "1", ""),
            x("aten::mm", "cpu_op", "10", "10", "1", "1", ""),
            x("prefetch_batch", "user_annotation", "50", "10", "1", "1", ""),
            x("backward", "user_annotation", "60", "30", "1", "1", ""),
            x("aten::mul", "cpu_op", "70", "10", "1", "1", ""),
        ]), rules: rules)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::mm")], .other)   // a rule beats inheritance
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::mul")], .other)
        assertPhases(a.steps[0].phases, [.forward: 30_000, .other: 20_000, .data: 10_000, .backward: 20_000, .idle: 20_000])
        let (_, plain) = try analyzed(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("MyModel.encode_layers", "user_annotation", "0", "40", "1", "1", ""),
            x("prefetch_batch", "user_annotation", "50", "10", "1", "1", ""),
        ]))
        assertPhases(plain.steps[0].phases, [.other: 50_000, .idle: 50_000])
    }

    // MARK: Autograd threads

    func testAutogradOverlay() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            threadName(tid: "2", "pt_autograd_0"),
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("forward", "user_annotation", "0", "20", "1", "1", ""),
            x("aten::foo", "cpu_op", "20", "30", "1", "1", ""),
            x("autograd::engine::evaluate_function: MmBackward0", "cpu_op", "10", "60", "1", "2", ""),
            x("aten::mul", "cpu_op", "80", "5", "1", "2", ""),
            x("aten::add", "cpu_op", "81", "1", "1", "2", ""),
            x("aten::forward_thing", "cpu_op", "90", "5", "1", "2", ""),
        ]))
        XCTAssertEqual(a.stepTrack, trackIndex(t, tid: "1"))
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::mul")], .backward)  // depth 0 on an autograd thread
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::add")], .backward)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::forward_thing")], .forward)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::foo")], .other)
        // forward [0,20) stays; other [20,50) and idle [50,70) + [80,85) become backward.
        assertPhases(a.steps[0].phases, [.forward: 20_000, .backward: 55_000, .idle: 25_000])
    }

    func testAutogradThreadByEvaluateFunctionAtDepthZero() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            threadName(tid: "3", "python"),
            threadName(tid: "4", "worker"),
            x("main", "user_annotation", "0", "1000", "1", "1", ""),
            x("autograd::engine::evaluate_function: AddBackward0", "cpu_op", "0", "10", "1", "3", ""),
            x("aten::zeros", "cpu_op", "20", "5", "1", "3", ""),
            x("aten::empty", "cpu_op", "20", "5", "1", "4", ""),
            x("aten::outer", "cpu_op", "0", "50", "1", "5", ""),
            x("autograd::engine::evaluate_function: MulBackward0", "cpu_op", "1", "10", "1", "5", ""),
            x("aten::late", "cpu_op", "60", "1", "1", "5", ""),
        ]))
        XCTAssertEqual(a.stepTrack, trackIndex(t, tid: "1"))
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::zeros")], .backward)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::empty")], .other)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::outer")], .other)  // evaluate_function nested: not an autograd thread
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::late")], .other)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "autograd::engine::evaluate_function: MulBackward0")], .backward)
        // The whole trace is one step of 1000 us on `main` (other). Backward runs on thread 3
        // during [0,10) and [20,25); thread 5 is no autograd thread, so its backward slice does not count.
        assertPhases(a.steps[0].phases, [.other: 985_000, .backward: 15_000])
    }

    func testTheStepThreadIsNeverAnAutogradThread() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            threadName(tid: "1", "pt_autograd_0"),
            x("ProfilerStep#1", "user_annotation", "0", "10", "1", "1", ""),
            x("aten::x", "cpu_op", "0", "5", "1", "1", ""),
        ]))
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "aten::x")], .other)
        assertPhases(a.steps[0].phases, [.other: 5_000, .idle: 5_000])
    }

    func testBackwardOnANonAutogradThreadDoesNotOverlay() throws {
        let (_, a) = try analyzed(TestSupport.kineto([
            threadName(tid: "2", "worker"),
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("backward", "user_annotation", "0", "100", "1", "2", ""),
        ]))
        assertPhases(a.steps[0].phases, [.idle: 100_000])
    }

    func testOverlayUsesNestingIntervals() throws {
        // The autograd-thread slice is cut at 30 by a slice that starts inside and outlives it.
        let (_, a) = try analyzed(TestSupport.kineto([
            threadName(tid: "2", "pt_autograd_0"),
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("autograd::engine::evaluate_function: MmBackward0", "cpu_op", "10", "50", "1", "2", ""),
            x("aten::optimizer_thing", "cpu_op", "30", "60", "1", "2", ""),
        ]))
        assertPhases(a.steps[0].phases, [.backward: 20_000, .idle: 80_000])
    }

    // MARK: GPU activity

    func testGPUActivityTakesItsLaunchersPhase() throws {
        let (t, a) = try analyzed(TestSupport.kineto([
            x("backward", "user_annotation", "0", "50", "1", "1", ""),
            x("cudaLaunchKernel", "cuda_runtime", "10", "1", "1", "1", #""correlation": 1"#),
            x("forward", "user_annotation", "100", "50", "1", "1", ""),
            x("cudaLaunchKernel", "cuda_runtime", "110", "1", "1", "1", #""correlation": 2"#),
            x("fwd_kernel_forward", "kernel", "20", "5", "0", "7", #""correlation": 1"#),
            x("ncclKernel_AllReduce", "kernel", "120", "6", "0", "7", #""correlation": 2"#),
            x("ncclDevKernel_Broadcast", "kernel", "130", "7", "0", "7", ""),
            x("forward_kernel", "kernel", "140", "8", "0", "7", ""),
        ]))
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "fwd_kernel_forward")], .backward)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "ncclKernel_AllReduce")], .forward)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "ncclDevKernel_Broadcast")], .communication)
        XCTAssertEqual(a.facts.phase[sliceIndex(t, "forward_kernel")], .other)
        let k = { (n: String) in a.kernels.first { $0.name == n }?.byPhase ?? [:] }
        XCTAssertEqual(k("fwd_kernel_forward"), [.backward: 5_000])
        XCTAssertEqual(k("ncclKernel_AllReduce"), [.forward: 6_000])
        XCTAssertEqual(k("ncclDevKernel_Broadcast"), [.communication: 7_000])
        XCTAssertEqual(k("forward_kernel"), [.other: 8_000])
        XCTAssertEqual(t.warnings.count("unlinked-gpu-activity"), 2)
    }

    // MARK: Invariants

    func testPhasesAlwaysAddUpToTheStepDuration() throws {
        var seed: UInt64 = 987654321
        func next(_ n: UInt64) -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return (seed >> 33) % n }
        let names = ["aten::mm", "forward", "backward", "optimizer", "nccl:all_reduce", "dataloader", "aten::add"]
        var events = [threadName(tid: "2", "pt_autograd_0")]
        for s in 0..<4 {
            events.append(x("ProfilerStep#\(s)", "user_annotation", "\(s * 1000)", "\(900 + next(200))", "1", "1", ""))
        }
        for _ in 0..<200 {
            events.append(x(names[Int(next(7))], "cpu_op", "\(next(4200))", "\(next(300))", "1", "1", ""))
            events.append(x(names[Int(next(7))], "cpu_op", "\(next(4200))", "\(next(100))", "1", "2", ""))
        }
        let (_, a) = try analyzed(TestSupport.kineto(events))
        XCTAssertEqual(a.steps.count, 4)
        var sum = PhaseTimes()
        for s in a.steps {
            XCTAssertEqual(s.phases.total, s.dur, s.name)
            for p in Phase.allCases { XCTAssertGreaterThanOrEqual(s.phases[p], 0, "\(s.name) \(p.name)") }
            sum += s.phases
        }
        XCTAssertEqual(sum, a.phases)
        XCTAssertGreaterThan(a.phases[.backward], 0)
    }

    func testPhaseTimesArithmetic() {
        var t = PhaseTimes()
        t[.forward] = 5
        t[.idle] = 7
        var u = PhaseTimes()
        u[.forward] = 1
        u[.data] = 2
        t += u
        XCTAssertEqual(t[.forward], 6)
        XCTAssertEqual(t[.data], 2)
        XCTAssertEqual(t.total, 15)
        XCTAssertEqual(t.values.count, 8)
    }
}
