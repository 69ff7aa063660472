import Analysis
import TestSupport
import TraceModel
import XCTest

/// GPU busy/idle split and idle causes (docs/definitions.md, "GPU time") on a hand-made step.
final class GPUBreakdownTests: XCTestCase {
    func runtime(_ name: String, ts: String, dur: String, corr: Int) -> String {
        TestSupport.x(name, cat: "cuda_runtime", ts: ts, dur: dur, args: "\"correlation\": \(corr)")
    }

    func gpu(_ name: String, cat: String = "kernel", ts: String, dur: String, stream: String, corr: Int) -> String {
        TestSupport.x(name, cat: cat, ts: ts, dur: dur, pid: "0", tid: stream, args: "\"correlation\": \(corr)")
    }

    func testBusySplitAndIdleCauses() throws {
        // Step [0, 100) us. Timeline of device 0 (two streams):
        //   [0,10)   idle, next activity launched at 5 > 0        -> host_bound 10
        //   [10,30)  compute k1 (overlaps nccl on [20,30): compute wins)
        //   [30,50)  nccl alone                                  -> communication 20 (exposed)
        //   [50,55)  idle 5 us < 10 us, ended by memcpy          -> kernel_gap 5
        //   [55,60)  memcpy
        //   [60,75)  idle; cudaStreamSynchronize covers [61,63)  -> sync 2; the memset that
        //            ends the gap was launched before it began    -> other 13
        //   [75,78)  memset (launched at 50, before the gap)
        //   [78,90)  idle; k2 launched at 85 > 78                 -> host_bound 12
        //   [90,95)  compute k2
        //   [95,100) idle until the step ends                    -> other 5
        let trace = try TestSupport.trace(TestSupport.kineto([
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            runtime("cudaLaunchKernel", ts: "5", dur: "2", corr: 1),
            runtime("ncclLaunch", ts: "8", dur: "1", corr: 2),
            runtime("cudaMemsetAsync", ts: "50", dur: "1", corr: 4),
            runtime("cudaMemcpyAsync", ts: "52", dur: "1", corr: 3),
            runtime("cudaStreamSynchronize", ts: "61", dur: "2", corr: 9),
            runtime("cudaLaunchKernel", ts: "85", dur: "2", corr: 5),
            gpu("k1", ts: "10", dur: "20", stream: "7", corr: 1),
            gpu("ncclDevKernel_AllReduce_Sum_f32_RING_LL", ts: "20", dur: "30", stream: "8", corr: 2),
            gpu("Memcpy HtoD", cat: "gpu_memcpy", ts: "55", dur: "5", stream: "7", corr: 3),
            gpu("Memset", cat: "gpu_memset", ts: "75", dur: "3", stream: "7", corr: 4),
            gpu("k2", ts: "90", dur: "5", stream: "7", corr: 5),
        ]))
        let a = Analyzer.analyze(trace)
        let g = try XCTUnwrap(a.steps.first?.gpu)
        XCTAssertEqual(g.busy, 53_000)
        XCTAssertEqual(g.idle, 47_000)
        XCTAssertEqual(g.compute, 25_000)
        XCTAssertEqual(g.communication, 20_000)
        XCTAssertEqual(g.exposedCommunication, 20_000)
        // nccl runs [20,50): 30 us in all, 10 of them under k1.
        XCTAssertEqual(g.overlappedCommunication, 10_000)
        XCTAssertEqual(g.totalCommunication, 30_000)
        XCTAssertEqual(g.memcpy, 5_000)
        XCTAssertEqual(g.memset, 3_000)
        XCTAssertEqual(g[.hostBound], 22_000)
        XCTAssertEqual(g[.kernelGap], 5_000)
        XCTAssertEqual(g[.sync], 2_000)
        XCTAssertEqual(g[.other], 18_000)
        XCTAssertEqual(a.gpu, g)
    }

    func testBackToBackKernelsLeaveNoGapAndCPUOnlyRanksHaveNoGPU() throws {
        let trace = try TestSupport.trace(TestSupport.kineto([
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "20"),
            gpu("a", ts: "0", dur: "10", stream: "7", corr: 1),
            gpu("b", ts: "10", dur: "10", stream: "7", corr: 2),
        ]))
        let g = try XCTUnwrap(Analyzer.analyze(trace).gpu)
        XCTAssertEqual(g.busy, 20_000)
        XCTAssertEqual(g.idle, 0)
        let cpu = try TestSupport.trace(TestSupport.kineto([TestSupport.x("aten::mm", ts: "0", dur: "5")]))
        XCTAssertNil(Analyzer.analyze(cpu).gpu)
    }

    func testTwoDevicesAreSummed() throws {
        // Each device is busy 10 of the 40 us step: busy 20, idle 60 in total.
        let trace = try TestSupport.trace(TestSupport.kineto([
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "40"),
            gpu("a", ts: "0", dur: "10", stream: "7", corr: 1),
            TestSupport.x("b", cat: "kernel", ts: "30", dur: "10", pid: "1", tid: "7", args: "\"correlation\": 2"),
        ]))
        let g = try XCTUnwrap(Analyzer.analyze(trace).gpu)
        XCTAssertEqual(g.busy, 20_000)
        XCTAssertEqual(g.idle, 60_000)
        XCTAssertEqual(g.compute, 20_000)
    }

    func testAGapEndedByTwoActivitiesAtOnceDoesNotDependOnFileOrder() throws {
        // Step [1000, 2000): kernels A (launched at 990) and B (launched at 1100) both start at
        // 1200 on two streams. B was launched after the gap began: the 200 us gap is host-bound,
        // whichever of A and B the file lists first.
        let a = [runtime("cudaLaunchKernel", ts: "990", dur: "1", corr: 1), gpu("A", ts: "1200", dur: "50", stream: "7", corr: 1)]
        let b = [runtime("cudaLaunchKernel", ts: "1100", dur: "1", corr: 2), gpu("B", ts: "1200", dur: "50", stream: "8", corr: 2)]
        let step = TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "1000", dur: "1000")
        for events in [[step] + a + b, [step] + b + a] {
            let g = try XCTUnwrap(Analyzer.analyze(try TestSupport.trace(TestSupport.kineto(events))).gpu)
            XCTAssertEqual(g[.hostBound], 200_000)
            XCTAssertEqual(g[.other], 750_000)
        }
    }
}

/// The boundary sweep against a brute force: random activities on three streams of one device,
/// cut by three step windows, checked microsecond by microsecond (every boundary lies on one).
final class GPUSweepTests: XCTestCase {
    func testSweepMatchesAMicrosecondByMicrosecondCount() throws {
        var rng = SystemRandomNumberGenerator()
        for round in 0..<20 {
            let kinds = [("k", "kernel"), ("ncclDevKernel_AllReduce_Sum_f32_RING_LL", "kernel"), ("Memcpy HtoD", "gpu_memcpy"),
                         ("Memset", "gpu_memset")]
            var events = [0, 100, 230].map { TestSupport.x("ProfilerStep#\($0)", cat: "user_annotation", ts: "\($0)", dur: $0 == 230 ? "70" : "\($0 == 0 ? 100 : 130)") }
            var acts: [(start: Int, end: Int, kind: Int)] = []
            for stream in 7...9 {
                var t = Int.random(in: 0..<10, using: &rng)
                while t < 300 {
                    let d = Int.random(in: 1...25, using: &rng), k = Int.random(in: 0..<4, using: &rng)
                    acts.append((t, t + d, k))
                    events.append(TestSupport.x(kinds[k].0, cat: kinds[k].1, ts: "\(t)", dur: "\(d)", pid: "0", tid: "\(stream)"))
                    t += d + Int.random(in: 0...(round % 2 == 0 ? 3 : 40), using: &rng)
                }
            }
            let trace = try TestSupport.trace(TestSupport.kineto(events))
            let a = Analyzer.analyze(trace)
            XCTAssertEqual(a.steps.count, 3)
            for step in a.steps {
                let lo = Int(step.start / 1000), hi = Int((step.start + step.dur) / 1000)
                var expected = GPUBreakdown()
                for us in lo..<hi {
                    let active = Set(acts.filter { $0.start <= us && us < $0.end }.map(\.kind))
                    guard let top = [0, 1, 2, 3].first(where: active.contains) else { expected.idle += 1000; continue }
                    expected.busy += 1000
                    switch top {
                    case 0: expected.compute += 1000
                    case 1: expected.communication += 1000
                    case 2: expected.memcpy += 1000
                    default: expected.memset += 1000
                    }
                    if top == 0 && active.contains(1) { expected.overlappedCommunication += 1000 }
                }
                let g = try XCTUnwrap(step.gpu)
                XCTAssertEqual([g.busy, g.idle, g.compute, g.communication, g.memcpy, g.memset, g.overlappedCommunication],
                               [expected.busy, expected.idle, expected.compute, expected.communication, expected.memcpy,
                                expected.memset, expected.overlappedCommunication], "round \(round), step \(step.name)")
            }
            // A collective's exposed time: its microseconds with no compute kernel running.
            for c in Analyzer.collectives(trace, analysis: a) {
                let lo = Int(c.start / 1000), hi = Int((c.start + c.dur) / 1000)
                let bare = (lo..<hi).filter { us in !acts.contains { $0.kind == 0 && $0.start <= us && us < $0.end } }.count
                XCTAssertEqual(c.exposed, Int64(bare) * 1000, "round \(round)")
            }
        }
    }
}
