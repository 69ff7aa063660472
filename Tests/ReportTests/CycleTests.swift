import Analysis
import Foundation
import Report
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Files of one process written one per profiler cycle are one rank; a step cut by the profiler
/// stopping is flagged and left out of the statistics (docs/definitions.md, "Ranks and cycles", "Steps").
final class CycleTests: XCTestCase {
    /// One cycle of process `pid`: the profiler span, three 10 ms steps from `firstStep` on
    /// (ops and a memory event in each) and a last step of 100 us cut by the stop, from `t0` us.
    func cycle(pid: String, t0: Int, firstStep: Int, host: String = "node1", extra: String = "") -> String {
        var events = [TestSupport.x("PyTorch Profiler (0)", cat: "Trace", ts: "\(t0)", dur: "30200", pid: "\"Spans\"", tid: "0")]
        for k in 0..<4 {
            let start = t0 + k * 10_000
            events.append(TestSupport.x("ProfilerStep#\(firstStep + k)", cat: "user_annotation", ts: "\(start)", dur: k == 3 ? "100" : "10000",
                                        pid: pid, tid: pid))
            if k < 3 {
                events.append(TestSupport.x("aten::mm", ts: "\(start + 10)", dur: "5000", pid: pid, tid: pid, args: "\"Input Dims\": [[2, 2]]"))
                events.append("{\"ph\": \"i\", \"s\": \"t\", \"name\": \"[memory]\", \"pid\": \(pid), \"tid\": \(pid), \"ts\": \(start + 20), "
                              + "\"args\": {\"Bytes\": 64, \"Total Allocated\": \(64 * (k + 1)), \"Addr\": \(1000 + k), \"Device Type\": 0, \"Device Id\": -1}}")
            }
        }
        events.append(threadName(pid: pid, tid: pid, "thread \(pid) (python3)"))
        return TestSupport.kineto(events, extra: "\"host_name\": \"\(host)\"" + extra)
    }

    func threadName(pid: String, tid: String, _ name: String) -> String {
        "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": \(pid), \"tid\": \(tid), \"args\": {\"name\": \"\(name)\"}}"
    }

    /// Writes the texts as files of a fresh directory; returns its path.
    func directory(_ files: [(String, String)]) -> String {
        let dir = TestSupport.temporaryPath("-cycles")
        mkdir(dir, 0o700)
        for (name, text) in files { TestSupport.writeFile(dir + "/" + name, Array(text.utf8)) }
        addTeardownBlock {
            for (name, _) in files { unlink(dir + "/" + name) }
            rmdir(dir)
        }
        return dir
    }

    /// Two torch_npu profiles of one process (text and db exports alike) merge with their
    /// operator allocations: both cycles' rows, their peak the larger cycle's.
    func testCyclesOfATorchNPUProcessKeepTheirOperatorAllocations() throws {
        for db in [false, true] {
            let roots = [TestSupport.temporaryPath("-npu-cycle1"), TestSupport.temporaryPath("-npu-cycle2")]
            let first = NPUSample.rank(0)
            var second = first.shifted(by: 1_000_000_000)
            second.allocations[3].bytes += 4096  // the second cycle's peak is 4 KiB higher
            try first.write(root: roots[0], db: db)
            try second.write(root: roots[1], db: db)
            let run = try TraceLoader.loadRun(paths: roots)
            XCTAssertEqual(run.ranks.count, 1, "db \(db)")
            let trace = try XCTUnwrap(run.ranks.first)
            let positive = first.allocations.filter { $0.bytes > 0 }.count
            XCTAssertEqual(trace.operatorAllocations.count, 2 * positive)
            let d = try XCTUnwrap(MemoryAnalysis.analyze(trace, analysis: Analyzer.analyze(trace)).first)
            XCTAssertEqual(d.operatorPeak?.bytes, 9 << 20 + 4096 + 1 << 20, "the first cycle's unreleased copy stays live")
            XCTAssertEqual(d.operatorPeak?.ts, second.allocations[3].allocated)
        }
    }

    func testTwoCyclesOfOneProcessAreOneRankWithStepsConcatenated() throws {
        let dir = directory([("host_1.100.pt.trace.json", cycle(pid: "100", t0: 1_000_000, firstStep: 1)),
                             ("host_1.200.pt.trace.json", cycle(pid: "100", t0: 2_000_000, firstStep: 7))])
        let run = try TraceLoader.loadRun(paths: [dir])
        XCTAssertEqual(run.ranks.count, 1)
        let r = RunReport(run: run)
        let a = r.ranks[0].analysis
        XCTAssertEqual(a.steps.map(\.name), (1...4).map { "ProfilerStep#\($0)" } + (7...10).map { "ProfilerStep#\($0)" })
        XCTAssertEqual(a.steps.map(\.truncated), [false, false, false, true, false, false, false, true])
        // Both cycles' operators, memory and slices are there, nested as in each file.
        XCTAssertEqual(a.operators.first { $0.name == "aten::mm" }?.count, 6)
        XCTAssertEqual(run.ranks[0].memory.count, 6)
        for s in a.steps where !s.truncated { XCTAssertEqual(s.phases[.other], 5_000_000, s.name) }
        // The truncated steps are shown but left out of the statistics, with a warning.
        XCTAssertEqual(r.ranks[0].stepStats?.count, 6)
        XCTAssertEqual(r.ranks[0].stepStats?.min, 10_000_000)
        XCTAssertEqual(r.steps.count, 6)
        XCTAssertEqual(r.ranks[0].warnings.first { $0.code == "truncated-step" }?.count, 2)
        XCTAssertEqual(r.ranks[0].warnings.first { $0.code == "profiler-cycles" }?.count, 2)
        let text = r.render(.text)
        XCTAssertTrue(text.hasPrefix("stepscope report: 1 rank, 6 steps"), text)
        XCTAssertTrue(text.contains("(truncated)"), text)
        let json = try parseJSON(r.render(.json))
        let steps = try XCTUnwrap((json["ranks"] as? [[String: Any]])?[0]["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["truncated"] as? Bool }, [false, false, false, true, false, false, false, true])
    }

    func testOtherProcessesOrOverlappingFilesStaySeparateRanks() throws {
        // Different pids on one host: two ranks.
        var dir = directory([("a.json", cycle(pid: "100", t0: 1_000_000, firstStep: 1)),
                             ("b.json", cycle(pid: "101", t0: 1_000_000, firstStep: 1))])
        XCTAssertEqual(try TraceLoader.loadRun(paths: [dir]).ranks.count, 2)
        // Same pid on different hosts: two ranks.
        dir = directory([("a.json", cycle(pid: "100", t0: 1_000_000, firstStep: 1, host: "node1")),
                         ("b.json", cycle(pid: "100", t0: 2_000_000, firstStep: 7, host: "node2"))])
        XCTAssertEqual(try TraceLoader.loadRun(paths: [dir]).ranks.count, 2)
        // Same pid, but distinct distributedInfo ranks: two ranks.
        dir = directory([("a.json", cycle(pid: "100", t0: 1_000_000, firstStep: 1, extra: ", \"distributedInfo\": {\"rank\": 0}")),
                         ("b.json", cycle(pid: "100", t0: 2_000_000, firstStep: 7, extra: ", \"distributedInfo\": {\"rank\": 1}"))])
        XCTAssertEqual(try TraceLoader.loadRun(paths: [dir]).ranks.count, 2)
        // Same process, overlapping in time (not cycles): two ranks.
        dir = directory([("a.json", cycle(pid: "100", t0: 1_000_000, firstStep: 1)),
                         ("b.json", cycle(pid: "100", t0: 1_010_000, firstStep: 7))])
        XCTAssertEqual(try TraceLoader.loadRun(paths: [dir]).ranks.count, 2)
    }

    func testAShortLastStepThatDoesNotEndTheTraceIsNotTruncated() throws {
        // The last step is short, but the trace goes on for 50 ms after it: not cut by the stop.
        let (_, a) = try analyzedTrace(TestSupport.kineto([
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "10000"),
            TestSupport.x("ProfilerStep#2", cat: "user_annotation", ts: "10000", dur: "10000"),
            TestSupport.x("ProfilerStep#3", cat: "user_annotation", ts: "20000", dur: "10000"),
            TestSupport.x("ProfilerStep#4", cat: "user_annotation", ts: "30000", dur: "100"),
            TestSupport.x("aten::teardown", ts: "80000", dur: "100"),
        ]))
        XCTAssertEqual(a.steps.map(\.truncated), [false, false, false, false])
        let (_, cut) = try analyzedTrace(TestSupport.kineto([
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "10000"),
            TestSupport.x("ProfilerStep#2", cat: "user_annotation", ts: "10000", dur: "10000"),
            TestSupport.x("ProfilerStep#3", cat: "user_annotation", ts: "20000", dur: "10000"),
            TestSupport.x("ProfilerStep#4", cat: "user_annotation", ts: "30000", dur: "100"),
        ]))
        XCTAssertEqual(cut.steps.map(\.truncated), [false, false, false, true])
    }

    func analyzedTrace(_ json: String) throws -> (RankTrace, RankAnalysis) {
        let t = try TestSupport.trace(json)
        return (t, Analyzer.analyze(t))
    }
}
