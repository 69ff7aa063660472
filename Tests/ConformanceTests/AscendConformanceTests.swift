import Analysis
import Foundation
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// torch_npu text exports in `../shared/traces/ascend` checked against torch_npu's own outputs in
/// the same profile: `step_trace_time.csv` (the per-step breakdown) and `memory_record.csv`.
final class AscendConformanceTests: XCTestCase {
    /// The 2-rank runs (level0, level2), or nil with a message when the shared traces are absent.
    func runs() throws -> [String]? {
        guard let shared = TestSupport.sharedTraces else {
            print("AscendConformanceTests: ../shared/traces is absent; skipped")
            return nil
        }
        return ["level0", "level2"].map { shared + "/ascend/torch_npu_text/" + $0 }
    }

    /// A CSV of torch_npu (header, then rows), as dictionaries by column name.
    func csv(_ path: String) throws -> [[String: String]] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(whereSeparator: \.isNewline).map(String.init)
        let header = lines[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return lines.dropFirst().map { line in
            let cells = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            return Dictionary(uniqueKeysWithValues: zip(header, cells))
        }
    }

    func testStepsAndRanksOfEachRun() throws {
        guard let runs = try runs() else { return }
        for dir in runs {
            let run = try TraceLoader.loadRun(paths: [dir])
            XCTAssertEqual(run.ranks.map(\.rank), [0, 1], dir)
            for trace in run.ranks {
                let a = Analyzer.analyze(trace)
                XCTAssertEqual(a.steps.map(\.name), ["ProfilerStep#50"], trace.source)
                XCTAssertEqual(trace.metadata.distributed?.backend, "hccl")
            }
        }
    }

    /// The same rank through each accepted path: the rank directory, its output directory, the
    /// file itself.
    func testEveryPathFormGivesTheSameRank() throws {
        guard let runs = try runs() else { return }
        let rankDir = runs[1] + "/rank1_ascend_pt"
        for path in [rankDir, rankDir + "/ASCEND_PROFILER_OUTPUT", rankDir + "/ASCEND_PROFILER_OUTPUT/trace_view.json"] {
            let run = try TraceLoader.loadRun(paths: [path])
            XCTAssertEqual(run.ranks.count, 1, path)
            XCTAssertEqual(run.ranks.first?.rank, 1, path)
        }
    }

    /// Computing, Communication, Overlapped and Communication(Not Overlapped) of every rank's step
    /// agree with step_trace_time.csv within 2% (docs/ascend-comparison.md).
    func testBreakdownAgreesWithStepTraceTime() throws {
        guard let runs = try runs() else { return }
        for dir in runs {
            for r in 0...1 {
                let out = dir + "/rank\(r)_ascend_pt/ASCEND_PROFILER_OUTPUT"
                let trace = try TraceLoader.load(path: out + "/trace_view.json")
                let a = Analyzer.analyze(trace)
                let rows = try csv(out + "/step_trace_time.csv")
                XCTAssertEqual(rows.count, a.steps.count)
                for row in rows {
                    let step = try XCTUnwrap(a.steps.first { $0.name == "ProfilerStep#" + row["Step"]! }, "\(out): step \(row["Step"]!)")
                    let g = try XCTUnwrap(step.gpu)
                    func check(_ ours: Int64, _ column: String) {
                        let theirs = Double(row[column]!)! * 1000
                        XCTAssertEqual(Double(ours), theirs, accuracy: 0.02 * theirs, "\(out) \(step.name): \(column)")
                    }
                    check(g.compute, "Computing")
                    check(g.totalCommunication, "Communication")
                    check(g.overlappedCommunication, "Overlapped")
                    check(g.exposedCommunication, "Communication(Not Overlapped)")
                }
            }
        }
    }

    func testFourAllReducesPerRankMatchedInStep50() throws {
        guard let runs = try runs() else { return }
        for dir in runs {
            let run = try TraceLoader.loadRun(paths: [dir])
            let pairs = run.ranks.map { (trace: $0, analysis: Analyzer.analyze($0)) }
            let comm = Analyzer.communication(pairs.map { RankReport(trace: $0.trace, analysis: $0.analysis) })
            for r in 0...1 {
                let mine = comm.instances[r] ?? []
                XCTAssertEqual(mine.map(\.name), Array(repeating: "allreduce", count: 4), "\(dir) rank \(r)")
                XCTAssertEqual(mine.map(\.step), Array(repeating: "ProfilerStep#50", count: 4))
                // Sizes: the ops' `count` of FP32 elements, read independently from the file.
                let file = dir + "/rank\(r)_ascend_pt/ASCEND_PROFILER_OUTPUT/trace_view.json"
                let events = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [[String: Any]])
                let ops = events.filter { ($0["name"] as? String)?.hasPrefix("hcom_") == true && $0["ph"] as? String == "X" }
                    .sorted { Double($0["ts"] as! String)! < Double($1["ts"] as! String)! }
                let counts = ops.map { (($0["args"] as! [String: Any])["count"] as! NSNumber).int64Value }
                XCTAssertEqual(mine.map(\.bytes), counts.map { $0 * 4 })
                XCTAssertTrue(mine.allSatisfy { $0.exposed != nil })
            }
            XCTAssertEqual(comm.matched.count, 4, dir)
            XCTAssertEqual(comm.unmatched, 0, dir)
        }
    }

    /// The memory peak is the largest `APP` reservation memory_record.csv lists.
    func testMemoryPeakMatchesMemoryRecord() throws {
        guard let runs = try runs() else { return }
        for dir in runs {
            for r in 0...1 {
                let out = dir + "/rank\(r)_ascend_pt/ASCEND_PROFILER_OUTPUT"
                let trace = try TraceLoader.load(path: out + "/trace_view.json")
                let memory = MemoryAnalysis.analyze(trace, analysis: Analyzer.analyze(trace))
                XCTAssertEqual(memory.count, 1, out)
                let app = try csv(out + "/memory_record.csv").filter { $0["Component"] == "APP" }
                let mb = app.compactMap { Double($0["Total Reserved(MB)"] ?? "") }.max()
                XCTAssertEqual(memory.first.map { Double($0.peakAllocated) }, mb.map { $0 * 1_048_576 }, out)
            }
        }
    }

    /// Device tasks get their launching torch operator from `async_npu` flows: every compute task
    /// of the advisor trace is linked, and operators carry device time.
    func testComputeTasksLinkToTheirOperators() throws {
        guard let shared = TestSupport.sharedTraces else { return }
        let trace = try TraceLoader.load(path: shared + "/ascend/advisor/trace_view.json")
        let s = trace.slices
        let kernels = (0..<s.count).filter { s.kind[$0] == .kernel }
        XCTAssertGreaterThan(kernels.count, 200)
        let linked = kernels.filter { s.launcher[$0] >= 0 && s.kind[Int(s.launcher[$0])] == .cpuOp }
        XCTAssertEqual(linked.count, kernels.count)
        let a = Analyzer.analyze(trace)
        XCTAssertGreaterThan(a.operators.filter { $0.gpuNs > 0 }.count, 10)
    }
}
