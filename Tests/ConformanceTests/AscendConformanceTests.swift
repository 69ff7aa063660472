import Analysis
import Foundation
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// torch_npu text exports in `../shared/traces/ascend` checked against torch_npu's own outputs in
/// the same profile: `step_trace_time.csv` (the per-step breakdown) and `memory_record.csv`; db
/// exports against `analysis.db`'s `StepTraceTime` and the db's own tables, read with SQL.
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
                // Two ranks: the group size is the ranks matched; an all-reduce's bus factor
                // 2(n-1)/n is then 1, so bus bandwidth is bytes over the op's duration.
                let durations = ops.map { ($0["dur"] as! NSNumber).doubleValue * 1000 }
                XCTAssertEqual(mine.map(\.groupSize), [2, 2, 2, 2])
                for (instance, (count, dur)) in zip(mine, zip(counts, durations)) {
                    XCTAssertEqual(try XCTUnwrap(instance.busBandwidth), Double(count * 4) / (dur / 1e9), accuracy: 1e-6 * Double(count * 4) / (dur / 1e9))
                }
                XCTAssertEqual(mine.map(\.algorithm), Array(repeating: "MESH-RING", count: 4))
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

    // MARK: - db exports

    /// The 2-rank db runs (level0, level2), or nil with a message when the shared traces are absent.
    func databaseRuns() -> [String]? {
        guard let shared = TestSupport.sharedTraces else {
            print("AscendConformanceTests: ../shared/traces is absent; skipped")
            return nil
        }
        return ["level0", "level2"].map { shared + "/ascend/torch_npu_db/" + $0 }
    }

    func database(_ run: String, rank r: Int) -> String {
        run + "/rank\(r)_ascend_pt/ASCEND_PROFILER_OUTPUT/ascend_pytorch_profiler_\(r).db"
    }

    /// The rows of one SQL query over a file, as integers (NULL as nil) or doubles.
    func query(_ path: String, _ sql: String) throws -> [[Double?]] {
        let rows = try SQLiteDatabase(path: path).prepare(sql)
        var out: [[Double?]] = []
        while try rows.step() { out.append((0..<Int32(rows.columnIndex.count)).map { rows.double($0) }) }
        return out
    }

    func testDatabaseRunsGiveRanksStepsAndPathForms() throws {
        guard let runs = databaseRuns() else { return }
        for dir in runs {
            let run = try TraceLoader.loadRun(paths: [dir])
            XCTAssertEqual(run.ranks.map(\.rank), [0, 1], dir)
            for trace in run.ranks {
                XCTAssertEqual(Analyzer.analyze(trace).steps.map(\.name), ["ProfilerStep#50"], trace.source)
                XCTAssertEqual(trace.metadata.distributed?.backend, "hccl")
                XCTAssertEqual(trace.metadata.deviceKind, .npu)
                XCTAssertEqual(trace.metadata.devices.map(\.name), ["Ascend910B"])
                // The step is STEP_TIME's.
                let step = try XCTUnwrap(query(trace.source, "SELECT startNs, endNs - startNs FROM STEP_TIME").first)
                let a = Analyzer.analyze(trace).steps[0]
                XCTAssertEqual([Double(a.start), Double(a.dur)], step.map { $0! })
            }
        }
        let rankDir = runs[1] + "/rank1_ascend_pt"
        for path in [rankDir, rankDir + "/ASCEND_PROFILER_OUTPUT", database(runs[1], rank: 1)] {
            let run = try TraceLoader.loadRun(paths: [path])
            XCTAssertEqual(run.ranks.map(\.rank), [1], path)
            XCTAssertEqual(run.ranks.first?.source, database(runs[1], rank: 1))
        }
    }

    /// Computing, Communication, Overlapped and Communication(Not Overlapped) agree with
    /// `analysis.db`'s StepTraceTime within 2% (Computing exactly: the same tasks).
    func testDatabaseBreakdownAgreesWithStepTraceTime() throws {
        guard let runs = databaseRuns() else { return }
        for dir in runs {
            for r in 0...1 {
                let trace = try TraceLoader.load(path: database(dir, rank: r))
                let steps = Analyzer.analyze(trace).steps
                let theirs = try query(dir + "/rank\(r)_ascend_pt/ASCEND_PROFILER_OUTPUT/analysis.db",
                                       "SELECT step, computing, communication, overlapped, communication_not_overlapped FROM StepTraceTime")
                XCTAssertEqual(theirs.count, steps.count)
                for row in theirs {
                    let step = try XCTUnwrap(steps.first { $0.name == "ProfilerStep#\(Int(row[0]!))" })
                    let g = try XCTUnwrap(step.gpu)
                    for (ours, column) in zip([g.compute, g.totalCommunication, g.overlappedCommunication, g.exposedCommunication], 1...4) {
                        let expected = row[column]! * 1000
                        XCTAssertEqual(Double(ours), expected, accuracy: 0.02 * expected, "\(trace.source) column \(column)")
                    }
                    XCTAssertEqual(Double(g.compute), row[1]! * 1000, accuracy: 1, trace.source)
                }
            }
        }
    }

    func testDatabaseCollectivesAreTheCommunicationOps() throws {
        guard let runs = databaseRuns() else { return }
        for dir in runs {
            let run = try TraceLoader.loadRun(paths: [dir])
            let comm = Analyzer.communication(run.ranks.map { RankReport(trace: $0, analysis: Analyzer.analyze($0)) })
            for r in 0...1 {
                let mine = comm.instances[r] ?? []
                XCTAssertEqual(mine.map(\.name), Array(repeating: "allreduce", count: 4), "\(dir) rank \(r)")
                XCTAssertEqual(mine.map(\.step), Array(repeating: "ProfilerStep#50", count: 4))
                // FP32 (ENUM_HCCL_DATA_TYPE 4) elements of each op, in time order.
                let ops = try query(database(dir, rank: r), """
                    SELECT o.count * 4, o.endNs - o.startNs FROM COMMUNICATION_OP o JOIN ENUM_HCCL_DATA_TYPE e ON e.id = o.dataType
                    WHERE e.name = 'FP32' ORDER BY o.startNs
                    """)
                XCTAssertEqual(mine.map { $0.bytes.map(Double.init) }, ops.map { $0[0] })
                XCTAssertEqual(mine.map { Double($0.dur) }, ops.map { $0[1]! })
                XCTAssertTrue(mine.allSatisfy { $0.exposed != nil })
                XCTAssertEqual(mine.map(\.groupSize), [2, 2, 2, 2])
                XCTAssertEqual(mine.map { $0.busBandwidth! }, ops.map { $0[0]! / ($0[1]! / 1e9) })
                XCTAssertEqual(mine.map(\.algorithm), Array(repeating: "MESH-RING", count: 4))
            }
            XCTAssertEqual(comm.matched.count, 4, dir)
            XCTAssertEqual(comm.unmatched, 0, dir)
        }
    }

    /// The memory peak is the application's largest HBM holding in NPU_MEM, as memory_record.csv's
    /// APP rows are for the text export.
    func testDatabaseMemoryPeakIsNPUMemsApplicationHBM() throws {
        guard let runs = databaseRuns() else { return }
        for dir in runs {
            for r in 0...1 {
                let trace = try TraceLoader.load(path: database(dir, rank: r))
                let memory = MemoryAnalysis.analyze(trace, analysis: Analyzer.analyze(trace))
                let peak = try query(database(dir, rank: r),
                                     "SELECT max(m.hbm) FROM NPU_MEM m JOIN STRING_IDS s ON s.id = m.type WHERE s.value = 'app'")
                XCTAssertEqual(memory.map { Double($0.peakAllocated) }, [peak[0][0]!], trace.source)
            }
        }
    }

    // MARK: - Operator allocations

    /// The peak of allocations given as (name, bytes, allocated, released or nil), computed
    /// independently: at each allocation time, the sum of those with `allocated <= t < released`;
    /// the first largest, with the bytes and counts by name live there.
    func operatorPeak(_ rows: [(String, Int64, Int64, Int64?)]) -> (bytes: Int64, ts: Int64, byName: [String: [Int64]]) {
        var best: (bytes: Int64, ts: Int64) = (0, 0)
        func live(_ t: Int64) -> [(String, Int64, Int64, Int64?)] { rows.filter { $0.2 <= t && ($0.3 ?? .max) > t } }
        for t in Set(rows.map(\.2)).sorted() {
            let sum = live(t).reduce(0) { $0 + $1.1 }
            if sum > best.bytes { best = (sum, t) }
        }
        var byName: [String: [Int64]] = [:]
        for r in live(best.ts) { byName[r.0, default: [0, 0]][0] += r.1; byName[r.0]![1] += 1 }
        return (best.bytes, best.ts, byName)
    }

    /// stepscope's groups live at the operator peak, summed by operator name: [bytes, count].
    func liveByName(_ d: DeviceMemory) -> [String: [Int64]] {
        var out: [String: [Int64]] = [:]
        for g in d.liveAtPeak { out[g.op, default: [0, 0]][0] += g.bytes; out[g.op]![1] += Int64(g.count) }
        return out
    }

    /// µs text with a fraction of up to three digits as ns, by integer arithmetic.
    func nanoseconds(_ micros: String) -> Int64? {
        let parts = micros.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]) else { return nil }
        let frac = parts.count > 1 ? String(parts[1]) : ""
        return whole * 1000 + (Int64((frac + "000").prefix(3)) ?? 0)
    }

    /// The text runs: the operators' allocation peak and what is live at it, against
    /// `operator_memory.csv` read by the test itself.
    func testOperatorAllocationPeakMatchesOperatorMemoryCSV() throws {
        guard let runs = try runs() else { return }
        for dir in runs {
            for r in 0...1 {
                let out = dir + "/rank\(r)_ascend_pt/ASCEND_PROFILER_OUTPUT"
                let rows = try csv(out + "/operator_memory.csv").compactMap { row -> (String, Int64, Int64, Int64?)? in
                    guard let kb = Double(row["Size(KB)"] ?? ""), kb > 0 else { return nil }
                    return (row["Name"] ?? "", Int64(kb * 1024), nanoseconds(row["Allocation Time(us)"] ?? "")!,
                            nanoseconds(row["Release Time(us)"] ?? ""))
                }
                XCTAssertEqual(rows.count, 184, out)
                let expected = operatorPeak(rows)
                let trace = try TraceLoader.load(path: out + "/trace_view.json")
                let d = try XCTUnwrap(MemoryAnalysis.analyze(trace, analysis: Analyzer.analyze(trace)).first)
                let peak = try XCTUnwrap(d.operatorPeak, out)
                XCTAssertEqual(peak.bytes, expected.bytes, out)
                XCTAssertEqual(peak.ts, expected.ts, out)
                XCTAssertEqual(peak.allocations, rows.count)
                XCTAssertEqual(peak.unreleased, rows.filter { $0.3 == nil }.count)
                XCTAssertEqual(liveByName(d), expected.byName, out)
            }
        }
    }

    /// The db runs: the same against `OP_MEMORY` read with the sqlite3 command.
    func testOperatorAllocationPeakMatchesOPMemory() throws {
        guard let runs = databaseRuns() else { return }
        for dir in runs {
            for r in 0...1 {
                let path = database(dir, rank: r)
                let text = try XCTUnwrap(TestSupport.shellOutput(
                    "sqlite3 -separator '|' '\(path)' \"SELECT s.value, o.size, o.allocationTime, o.releaseTime FROM OP_MEMORY o "
                        + "JOIN STRING_IDS s ON s.id = o.name WHERE o.size > 0\""), "sqlite3")
                let rows = text.split(separator: "\n").map { line -> (String, Int64, Int64, Int64?) in
                    let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                    return (f[0], Int64(f[1])!, Int64(f[2])!, Int64(f[3]))
                }
                XCTAssertEqual(rows.count, 184, path)
                let expected = operatorPeak(rows)
                let trace = try TraceLoader.load(path: path)
                let d = try XCTUnwrap(MemoryAnalysis.analyze(trace, analysis: Analyzer.analyze(trace)).first)
                let peak = try XCTUnwrap(d.operatorPeak, path)
                XCTAssertEqual(peak.bytes, expected.bytes, path)
                XCTAssertEqual(peak.ts, expected.ts, path)
                XCTAssertEqual(peak.unreleased, rows.filter { $0.3 == nil }.count)
                XCTAssertEqual(liveByName(d), expected.byName, path)
            }
        }
    }

}
