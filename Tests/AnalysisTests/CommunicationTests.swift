import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Collective matching, waits and stragglers (docs/definitions.md, "Communication").
final class CommunicationTests: XCTestCase {
    func rank(_ r: Int, _ events: [String]) throws -> (trace: RankTrace, analysis: RankAnalysis) {
        let t = try TestSupport.trace(TestSupport.kineto(events, extra: "\"distributedInfo\": {\"rank\": \(r), \"world_size\": 2}"))
        return (t, Analyzer.analyze(t))
    }

    func nccl(ts: String, dur: String, seq: Int? = nil, group: String = "0", args: String = "") -> String {
        TestSupport.x("ncclDevKernel_AllReduce_Sum_f32_RING_LL", cat: "kernel", ts: ts, dur: dur, pid: "0", tid: "7",
                      args: "\"Collective name\": \"allreduce\", \"Process Group Name\": \"\(group)\", \"Group size\": 2, "
                          + "\"dtype\": \"Float\", \"In msg nelems\": 1000, \"Out msg nelems\": 1000"
                          + (seq.map { ", \"Seq\": \($0)" } ?? "") + args)
    }

    func testMatchBySeqWaitsAndStraggler() throws {
        // Seq 1: rank 0 arrives at 10, rank 1 at 40 -> rank 0 waits 30 us, rank 1 is the straggler.
        // Seq 2: rank 1 first (60), rank 0 at 70 -> rank 1 waits 10 us.
        // Rank 1 lists its instances in the other order: Seq, not position, matches them.
        let r0 = try rank(0, [
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            nccl(ts: "10", dur: "40", seq: 1), nccl(ts: "70", dur: "10", seq: 2),
        ])
        let r1 = try rank(1, [
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            nccl(ts: "60", dur: "20", seq: 2), nccl(ts: "40", dur: "10", seq: 1),
        ])
        let c = Analyzer.communication([r0, r1].map { RankReport(trace: $0.trace, analysis: $0.analysis) })
        XCTAssertEqual(c.matched.count, 2)
        XCTAssertTrue(c.matched.allSatisfy(\.matchedBySeq))
        let first = try XCTUnwrap(c.matched.first { $0.key == 1 })
        XCTAssertEqual(first.waits, [0: 30_000, 1: 0])
        XCTAssertEqual(first.straggler, 1)
        XCTAssertEqual(first.step, "ProfilerStep#1")
        let second = try XCTUnwrap(c.matched.first { $0.key == 2 })
        XCTAssertEqual(second.waits, [0: 0, 1: 10_000])
        XCTAssertEqual(second.straggler, 0)
        let w0 = try XCTUnwrap(c.waits.first { $0.rank == 0 })
        XCTAssertEqual(w0.wait, 30_000)
        XCTAssertEqual(w0.maxWait, 30_000)
        XCTAssertEqual(w0.stragglerCount, 1)
        // The step's straggler is the one behind its largest wait: rank 1 at Seq 1.
        XCTAssertEqual(c.stragglers.map(\.rank), [1])
        XCTAssertEqual(c.stragglers.first?.causedWait, 30_000)
        XCTAssertEqual(c.stragglers.first?.window, 0..<40_000)
        // Size 1000 floats = 4000 B; rank 0 runs 40 us: algbw 1e8 B/s, busbw x 2(n-1)/n = 1 -> 1e8.
        let instance = try XCTUnwrap(c.instances[0]?.first)
        XCTAssertEqual(instance.bytes, 4000)
        XCTAssertEqual(try XCTUnwrap(instance.busBandwidth), 1e8, accuracy: 1)
        XCTAssertEqual(instance.exposed, 40_000)  // no compute kernel overlaps it
    }

    func testACollectiveOfNoDurationAtTheStepStartMakesNoTiles() throws {
        // Every arrival at the step start and an end there too: the ends between the start and the
        // last arrival are none (found by the fuzzer: the range of them was reversed, a trap).
        let r = try rank(0, [
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            nccl(ts: "0", dur: "0"),
        ])
        let report = RankReport(trace: r.trace, analysis: r.analysis)
        XCTAssertEqual(report.collectives.map(\.dur), [0])
        XCTAssertEqual(report.tiles, [])
    }

    func testMatchByOrderAndUnmatchedInstances() throws {
        // No Seq: matched by position. Rank 0 has a third collective rank 1 lacks: unmatched.
        let r0 = try rank(0, [nccl(ts: "0", dur: "5"), nccl(ts: "20", dur: "5"), nccl(ts: "40", dur: "5")])
        let r1 = try rank(1, [nccl(ts: "3", dur: "5"), nccl(ts: "21", dur: "5")])
        let c = Analyzer.communication([r0, r1].map { RankReport(trace: $0.trace, analysis: $0.analysis) })
        XCTAssertEqual(c.matched.count, 2)
        XCTAssertFalse(c.matched[0].matchedBySeq)
        XCTAssertEqual(c.matched.map { $0.waits[0]! }, [3_000, 1_000])
        XCTAssertEqual(c.unmatched, 1)
    }

    func testGlooStragglerOnTheSharedDDPTrace() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent")
            return
        }
        let run = try TraceLoader.loadRun(paths: [shared + "/torch-cpu/ddp_ws2_straggler"])
        let c = Analyzer.communication(run.ranks.map { RankReport(trace: $0, analysis: Analyzer.analyze($0)) })
        // 6 gloo all-reduces per rank per step... matched by order on both ranks.
        XCTAssertEqual(c.instances[0]?.count, c.instances[1]?.count)
        XCTAssertEqual(c.unmatched, 0)
        let step3 = try XCTUnwrap(c.stragglers.first { $0.step == "ProfilerStep#3" })
        XCTAssertEqual(step3.rank, 1)
        // Rank 1 sleeps 0.3 s: rank 0 waits about that long at the collective it delayed most.
        let w0 = try XCTUnwrap(c.waits.first { $0.rank == 0 && $0.step == "ProfilerStep#3" })
        XCTAssertGreaterThan(w0.maxWait, 280_000_000)
        XCTAssertLessThan(w0.maxWait, 330_000_000)
        XCTAssertEqual(step3.causedWait, w0.maxWait)
        // And the window before rank 1 arrived shows the sleep.
        XCTAssertTrue(step3.topOperators.first?.name.contains("sleep") == true, "\(step3.topOperators)")
        XCTAssertGreaterThan(step3.topOperators.first?.ns ?? 0, 290_000_000)
    }

    /// A collective whose trace records no group size (an HCCL op) takes its group's: the ranks
    /// the group's matched collectives span (three here); its bus bandwidth follows. Unmatched, it
    /// stays unknown. HCCL's `alg_type` is its algorithm.
    func testGroupSizeFromMatchedRanksWhenTheTraceHasNone() throws {
        func op(ts: String, group: String) -> String {
            TestSupport.x("hcom_allReduce__5_0_1", cat: "kernel", ts: ts, dur: "10", pid: "0", tid: "7",
                          args: "\"Collective name\": \"allreduce\", \"Process Group Name\": \"\(group)\", \"dtype\": \"float32\", "
                              + "\"In msg nelems\": 3000, \"alg_type\": \"MESH-RING\"")
        }
        let ranks = try (0...2).map { r in
            try rank(r, [op(ts: "\(10 + r)", group: "a")] + (r == 0 ? [op(ts: "50", group: "b")] : []))
        }
        let c = Analyzer.communication(ranks.map { RankReport(trace: $0.trace, analysis: $0.analysis) })
        XCTAssertEqual(c.matched.count, 1)
        for r in 0...2 {
            let a = try XCTUnwrap(c.instances[r]?.first { $0.group == "a" })
            XCTAssertEqual(a.groupSize, 3)
            // 12000 B in 10 us: algbw 1.2e9 B/s, x 2(n-1)/n = 4/3 -> 1.6e9.
            XCTAssertEqual(try XCTUnwrap(a.busBandwidth), 1.6e9, accuracy: 1)
            XCTAssertEqual(a.algorithm, "MESH-RING")
        }
        let b = try XCTUnwrap(c.instances[0]?.first { $0.group == "b" })
        XCTAssertNil(b.groupSize)
        XCTAssertNil(b.busBandwidth)
    }
}

extension CommunicationTests {
    /// An all-gather's size is its full output (`Out msg nelems`, else `In msg nelems` x n), a
    /// reduce-scatter's its full input (`In msg nelems`, else `Out msg nelems` x n), n the group
    /// size recorded or, when none is, inferred from the matched ranks; bus bandwidth x (n-1)/n.
    func testGatherAndScatterSizesAreTheFullMessage() throws {
        func op(_ name: String, ts: Int, dur: Int, args: String) -> String {
            TestSupport.x(name, cat: "kernel", ts: "\(ts)", dur: "\(dur)", pid: "0", tid: "7",
                          args: "\"Process Group Name\": \"g\", \"dtype\": \"bfloat16\", " + args)
        }
        // Per rank r of 3: an all-gather with both counts, one with only its input and a group
        // size, a reduce-scatter with only its output and no group size (inferred: 3).
        let (n, size): (Int64, Int64) = (3, 2)
        let ranks = try (0..<Int(n)).map { r in
            try rank(r, [
                op("ncclDevKernel_AllGather_RING_LL", ts: 10 + r, dur: 20, args: "\"In msg nelems\": 100, \"Out msg nelems\": 300, \"Group size\": 3"),
                op("ncclDevKernel_AllGather_RING_LL", ts: 40 + r, dur: 25, args: "\"In msg nelems\": 700, \"Group size\": 3"),
                op("hcom_reduceScatter__5_0_1", ts: 80 + r, dur: 10 + r, args: "\"Collective name\": \"reducescatter\", \"Out msg nelems\": 50"),
            ])
        }
        let reports = ranks.map { RankReport(trace: $0.trace, analysis: $0.analysis) }
        // Before the run is reduced, the reduce-scatter's size is only known per rank.
        XCTAssertEqual(reports[0].collectives.map(\.bytes), [300 * size, 700 * n * size, nil])
        XCTAssertEqual(reports[0].collectives.map(\.shareBytes), [nil, 700 * size, 50 * size])
        let c = Analyzer.communication(reports)
        XCTAssertEqual(c.matched.count, 3)
        for r in 0..<Int(n) {
            let list = try XCTUnwrap(c.instances[r])
            let expected: [(bytes: Int64, dur: Int64)] = [(300 * size, 20_000), (700 * size * n, 25_000), (50 * size * n, Int64(10 + r) * 1000)]
            XCTAssertEqual(list.map(\.bytes), expected.map(\.bytes))
            XCTAssertEqual(list.map(\.groupSize), [3, 3, 3])
            for (c, e) in zip(list, expected) {
                let busbw = Double(e.bytes) / (Double(e.dur) / 1e9) * Double(n - 1) / Double(n)
                XCTAssertEqual(try XCTUnwrap(c.busBandwidth), busbw, accuracy: busbw * 1e-12)
            }
        }
    }
}

/// Ranks on different hosts: clocks are aligned on the ends of shared collectives.
final class ClockOffsetTests: XCTestCase {
    func testSkewedHostIsCorrectedBeforeWaitsAreComputed() throws {
        // True time: both ranks' collectives end together at 50 and 150 us; rank 0 arrives at 10
        // and 110, rank 1 at 40 and 120. Rank 1's host clock runs 1000 us ahead.
        func collective(_ ts: Int, _ dur: Int, _ seq: Int) -> String {
            TestSupport.x("ncclKernel_AllReduce_RING_LL_Sum_float", cat: "kernel", ts: "\(ts)", dur: "\(dur)", pid: "0", tid: "7",
                          args: "\"Process Group Name\": \"0\", \"Seq\": \(seq)")
        }
        let t0 = try TestSupport.trace(TestSupport.kineto([collective(10, 40, 1), collective(110, 40, 2)],
                                                          extra: "\"host_name\": \"a\", \"distributedInfo\": {\"rank\": 0}"))
        let t1 = try TestSupport.trace(TestSupport.kineto([collective(1040, 10, 1), collective(1120, 30, 2)],
                                                          extra: "\"host_name\": \"b\", \"distributedInfo\": {\"rank\": 1}"))
        let c = Analyzer.communication([t0, t1].map { RankReport(trace: $0, analysis: Analyzer.analyze($0)) })
        XCTAssertEqual(c.clockOffsets, [ClockOffset(rank: 1, host: "b", offset: -1_000_000, samples: 2)])
        XCTAssertEqual(c.matched.map { $0.waits[0]! }, [30_000, 10_000])
        XCTAssertEqual(c.matched.map(\.straggler), [1, 1])
    }

    func testSameHostIsNotCorrected() throws {
        let e = TestSupport.x("ncclKernel_AllReduce", cat: "kernel", ts: "10", dur: "5", pid: "0", tid: "7")
        let t0 = try TestSupport.trace(TestSupport.kineto([e], extra: "\"host_name\": \"a\", \"distributedInfo\": {\"rank\": 0}"))
        let t1 = try TestSupport.trace(TestSupport.kineto([e], extra: "\"host_name\": \"a\", \"distributedInfo\": {\"rank\": 1}"))
        XCTAssertEqual(Analyzer.communication([t0, t1].map { RankReport(trace: $0, analysis: Analyzer.analyze($0)) }).clockOffsets, [])
    }
}

/// Imperfect runs: a rank whose profile starts later, and NCCL kernel names.
final class ImperfectRunTests: XCTestCase {
    func testARankWhoseProfileStartsLaterIsAlignedByArrivalTimes() throws {
        // Rank 0 records 6 all-reduces (every 100 us, at 0, 100, ..., 500); rank 1's profile starts
        // later and records the last 4, each arriving 7 us after rank 0 (no Seq in the trace).
        func k(_ ts: Int) -> String {
            TestSupport.x("ncclKernel_AllReduce_RING_LL_Sum_float", cat: "kernel", ts: "\(ts)", dur: "5", pid: "0", tid: "7")
        }
        let t0 = try TestSupport.trace(TestSupport.kineto((0..<6).map { k($0 * 100) }, extra: "\"distributedInfo\": {\"rank\": 0}"))
        let t1 = try TestSupport.trace(TestSupport.kineto((2..<6).map { k($0 * 100 + 7) }, extra: "\"distributedInfo\": {\"rank\": 1}"))
        let c = Analyzer.communication([t0, t1].map { RankReport(trace: $0, analysis: Analyzer.analyze($0)) })
        XCTAssertEqual(c.matched.count, 4)
        XCTAssertEqual(c.matched.map { $0.waits[0]! }, [7_000, 7_000, 7_000, 7_000])
        XCTAssertEqual(c.matched.map(\.straggler), [1, 1, 1, 1])
        XCTAssertEqual(c.unmatched, 2)
    }

    func testAlgorithmFromNCCLKernelNames() throws {
        let names = ["ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", "ncclDevKernel_AllGather_RING_LL(ncclDevKernelArgsStorage<4096ul>)",
                     "ncclDevKernel_AllReduce_Sum_bf16_TREE_LL128(x)", "ncclDevKernel_SendRecv(x)"]
        let t = try TestSupport.trace(TestSupport.kineto(names.enumerated().map { i, n in
            TestSupport.x(n, cat: "kernel", ts: "\(i * 10)", dur: "5", pid: "0", tid: "7")
        }))
        XCTAssertEqual(Analyzer.collectives(t, analysis: Analyzer.analyze(t)).map(\.algorithm), ["RING_LL", "RING_LL", "TREE_LL128", nil])
    }
}
