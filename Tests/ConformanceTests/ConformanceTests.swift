import Analysis
import Foundation
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Checks the importer and analysis on real traces against values computed independently by
/// `reference.py` (plain Python over `json`), stored in `Fixtures/*.expected.json`.
final class ConformanceTests: XCTestCase {
    static let here = TestSupport.packageRoot + "/Tests/ConformanceTests"

    func fixtures() throws -> [(name: String, expected: [String: Any])] {
        let dir = Self.here + "/Fixtures"
        // `run__*` fixtures describe a run of several ranks (testRunMatchesTheReference).
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasSuffix(".expected.json") && !$0.hasPrefix("run__") }.sorted()
        XCTAssertFalse(names.isEmpty, "no fixtures in \(dir)")
        return try names.map { name in
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            return (name, try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any]))
        }
    }

    /// The trace a fixture describes, or nil (with a message) when it is not available here.
    func tracePath(_ name: String, _ expected: [String: Any]) throws -> String? {
        let file = try XCTUnwrap(expected["file"] as? String)
        if name.hasPrefix("synthetic__") { return Self.here + "/Synthetic/" + (file.split(separator: "/").last.map(String.init) ?? file) }
        guard let shared = TestSupport.sharedTraces else { return nil }
        return shared + "/" + file
    }

    func testRealTracesMatchTheReference() throws {
        var checked = 0
        var skippedShared = false
        for (name, expected) in try fixtures() {
            guard let path = try tracePath(name, expected) else { skippedShared = true; continue }
            try check(name: name, path: path, expected: expected)
            checked += 1
        }
        if skippedShared {
            print("ConformanceTests: ../shared/traces is absent; checked only the \(checked) synthetic fixtures")
        }
        XCTAssertGreaterThan(checked, 0)
    }

    func check(name: String, path: String, expected: [String: Any]) throws {
        let trace = try TraceLoader.load(path: path)
        let analysis = Analyzer.analyze(trace)
        let label = name

        XCTAssertEqual(trace.slices.count, int(expected["slices"]), "\(label): slices")
        if let counts = expected["event_counts"] as? [String: Any] {
            var mine: [String: Int] = [:]
            for (k, v) in trace.eventCounts { mine[String(UnicodeScalar(k))] = v }
            for (k, v) in counts where !k.isEmpty { XCTAssertEqual(mine[k] ?? 0, int(v), "\(label): events '\(k)'") }
        }
        XCTAssertEqual(trace.warnings.count("overlapping-slices"), int(expected["overlapping_slices"]), "\(label): overlapping")
        XCTAssertEqual(trace.warnings.count("unlinked-gpu-activity"), int(expected["unlinked_gpu_activity"]), "\(label): unlinked")
        XCTAssertEqual(trace.warnings.count("negative-duration"), int(expected["dropped_negative_dur"]), "\(label): negative dur")
        XCTAssertEqual(trace.warnings.count("unclosed-begin"), int(expected["unmatched_begin"]), "\(label): unclosed B")
        XCTAssertEqual(trace.warnings.count("unmatched-end"), int(expected["unmatched_end"]), "\(label): unmatched E")
        if let memory = expected["memory_events"] { XCTAssertEqual(trace.memory.count, int(memory), "\(label): memory events") }
        XCTAssertEqual(analysis.gpuActivityNs, int64(expected["gpu_activity_ns"]), "\(label): GPU activity")

        let steps = try XCTUnwrap(expected["steps"] as? [[String: Any]])
        XCTAssertEqual(analysis.steps.map(\.name), steps.map { $0["name"] as? String ?? "" }, "\(label): step names")
        for (mine, theirs) in zip(analysis.steps, steps) {
            XCTAssertEqual(mine.start, int64(theirs["start_ns"]), "\(label): \(mine.name) start")
            XCTAssertEqual(mine.dur, int64(theirs["dur_ns"]), "\(label): \(mine.name) dur")
        }
        let stepPhases = try XCTUnwrap(expected["step_phases"] as? [[String: Any]])
        for (mine, theirs) in zip(analysis.steps, stepPhases) {
            for p in Phase.allCases {
                XCTAssertEqual(mine.phases[p], int64(theirs[p.name]), "\(label): \(mine.name) \(p.name)")
            }
        }
        let phases = try XCTUnwrap(expected["phases"] as? [String: Any])
        for p in Phase.allCases { XCTAssertEqual(analysis.phases[p], int64(phases[p.name]), "\(label): phase \(p.name)") }

        try checkGPU(label: label, analysis: analysis, expected: expected)
        try checkCollectives(label: label, trace: trace, analysis: analysis, expected: expected)

        let ops = try XCTUnwrap(expected["ops"] as? [String: [String: Any]])
        XCTAssertEqual(analysis.operators.count, ops.count, "\(label): operator count")
        var mismatches = 0
        for o in analysis.operators {
            guard let e = ops[o.name] else {
                XCTFail("\(label): operator \(o.name) not in the reference")
                continue
            }
            if o.count != int(e["count"]) || o.totalNs != int64(e["total_ns"]) || o.selfNs != int64(e["self_ns"]) || o.gpuNs != int64(e["gpu_ns"]) {
                mismatches += 1
                if mismatches <= 5 {
                    XCTFail("\(label): \(o.name): mine count \(o.count) total \(o.totalNs) self \(o.selfNs) gpu \(o.gpuNs); reference \(e)")
                }
            }
        }
        XCTAssertEqual(mismatches, 0, "\(label): operators differing from the reference")
    }

    /// Per step GPU busy/idle split ("GPU time"): `step_gpu` holds one object per step, or null
    /// when the rank has no GPU activity.
    func checkGPU(label: String, analysis: RankAnalysis, expected: [String: Any]) throws {
        let stepGPU = try XCTUnwrap(expected["step_gpu"] as? [Any], "\(label): step_gpu missing")
        XCTAssertEqual(analysis.steps.count, stepGPU.count, "\(label): step_gpu count")
        for (step, theirs) in zip(analysis.steps, stepGPU) {
            let at = "\(label): \(step.name) gpu"
            guard let e = theirs as? [String: Any] else {
                XCTAssertNil(step.gpu, "\(at): the reference has no GPU activity")
                continue
            }
            guard let g = step.gpu else {
                XCTFail("\(at): nil, the reference has \(e)")
                continue
            }
            XCTAssertEqual(g.busy, int64(e["busy_ns"]), "\(at) busy")
            XCTAssertEqual(g.idle, int64(e["idle_ns"]), "\(at) idle")
            XCTAssertEqual(g.compute, int64(e["compute_ns"]), "\(at) compute")
            XCTAssertEqual(g.communication, int64(e["comm_ns"]), "\(at) communication")
            XCTAssertEqual(g.memcpy, int64(e["memcpy_ns"]), "\(at) memcpy")
            XCTAssertEqual(g.memset, int64(e["memset_ns"]), "\(at) memset")
            let causes = try XCTUnwrap(e["idle_by_cause"] as? [String: Any], "\(at): idle_by_cause")
            for c in IdleCause.allCases {
                XCTAssertEqual(g[c], int64(causes[c.name]), "\(at) idle \(c.name)")
            }
        }
    }

    /// The rank's collective instances ("Communication"), in order.
    func checkCollectives(label: String, trace: RankTrace, analysis: RankAnalysis, expected: [String: Any]) throws {
        let theirs = try XCTUnwrap(expected["collectives"] as? [[String: Any]], "\(label): collectives missing")
        let mine = Analyzer.collectives(trace, analysis: analysis)
        XCTAssertEqual(mine.count, theirs.count, "\(label): collective count")
        var mismatches = 0
        for (i, (m, e)) in zip(mine, theirs).enumerated() {
            let same = m.name == e["name"] as? String && m.group == e["group"] as? String && m.seq == optInt(e["seq"])
                && m.start == int64(e["start_ns"]) && m.dur == int64(e["dur_ns"]) && m.bytes == optInt64(e["bytes"])
                && m.algorithm == e["algorithm"] as? String && m.exposed == optInt64(e["exposed_ns"])
            if !same {
                mismatches += 1
                if mismatches <= 5 {
                    XCTFail("\(label): collective \(i): mine \(m.name) group \(m.group) seq \(m.seq.map(String.init) ?? "nil") start \(m.start) "
                        + "dur \(m.dur) bytes \(m.bytes.map(String.init) ?? "nil") algorithm \(m.algorithm ?? "nil") "
                        + "exposed \(m.exposed.map(String.init) ?? "nil"); reference \(e)")
                }
            }
        }
        XCTAssertEqual(mismatches, 0, "\(label): collectives differing from the reference")
    }

    /// A run of several ranks (`run__*.expected.json`): collectives matched across ranks, waits
    /// per step and rank, and the straggler of each step.
    func testRunMatchesTheReference() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent (run fixtures need the real traces)")
            return
        }
        let dir = Self.here + "/Fixtures"
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            .filter { $0.hasPrefix("run__") && $0.hasSuffix(".expected.json") }.sorted()
        XCTAssertFalse(names.isEmpty, "no run fixtures in \(dir)")
        for name in names {
            let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + name))
            let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
            try checkRun(name: name, shared: shared, expected: expected)
        }
    }

    func checkRun(name label: String, shared: String, expected: [String: Any]) throws {
        let folder = try XCTUnwrap(expected["folder"] as? String)
        let run = try TraceLoader.loadRun(paths: [shared + "/" + folder])
        XCTAssertEqual(run.ranks.map(\.rank), (expected["ranks"] as? [Any] ?? []).map { int($0) }, "\(label): ranks")
        let report = Analyzer.communication(run.ranks.map { RankReport(trace: $0, analysis: Analyzer.analyze($0)) })
        XCTAssertEqual(report.unmatched, int(expected["unmatched"]), "\(label): unmatched")

        func byRank(_ v: Any?) -> [Int: Int64] {
            var d: [Int: Int64] = [:]
            for (k, x) in v as? [String: Any] ?? [:] { d[Int(k) ?? -1] = int64(x) }
            return d
        }
        let matched = try XCTUnwrap(expected["matched"] as? [[String: Any]])
        XCTAssertEqual(report.matched.count, matched.count, "\(label): matched count")
        for (i, (m, e)) in zip(report.matched, matched).enumerated() {
            let at = "\(label): matched \(i)"
            XCTAssertEqual(m.group, e["group"] as? String, "\(at) group")
            XCTAssertEqual(m.key, int(e["key"]), "\(at) key")
            XCTAssertEqual(m.arrivals, byRank(e["arrivals"]), "\(at) arrivals")
            XCTAssertEqual(m.waits, byRank(e["waits"]), "\(at) waits")
            XCTAssertEqual(m.straggler, int(e["straggler"]), "\(at) straggler")
            XCTAssertEqual(m.step, e["step"] as? String, "\(at) step")
        }

        let waits = try XCTUnwrap(expected["waits"] as? [[String: Any]])
        XCTAssertEqual(report.waits.count, waits.count, "\(label): wait rows")
        for e in waits {
            let step = e["step"] as? String ?? "", rank = int(e["rank"])
            guard let w = report.waits.first(where: { $0.step == step && $0.rank == rank }) else {
                XCTFail("\(label): no wait row for \(step) rank \(rank)")
                continue
            }
            XCTAssertEqual(w.wait, int64(e["wait_ns"]), "\(label): \(step) rank \(rank) wait")
            XCTAssertEqual(w.maxWait, int64(e["max_wait_ns"]), "\(label): \(step) rank \(rank) max wait")
            XCTAssertEqual(w.stragglerCount, int(e["straggler_count"]), "\(label): \(step) rank \(rank) straggler count")
        }

        let stragglers = try XCTUnwrap(expected["stragglers"] as? [[String: Any]])
        XCTAssertEqual(report.stragglers.map(\.step), stragglers.map { $0["step"] as? String ?? "" }, "\(label): straggler steps")
        for (s, e) in zip(report.stragglers, stragglers) {
            let at = "\(label): \(s.step) straggler"
            XCTAssertEqual(s.rank, int(e["rank"]), "\(at) rank")
            XCTAssertEqual(s.causedWait, int64(e["caused_wait_ns"]), "\(at) caused wait")
            XCTAssertEqual(s.window.lowerBound, int64(e["window_start_ns"]), "\(at) window start")
            XCTAssertEqual(s.window.upperBound, int64(e["window_end_ns"]), "\(at) window end")
        }
    }

    func optInt(_ v: Any?) -> Int? { (v as? NSNumber)?.intValue }
    func optInt64(_ v: Any?) -> Int64? { (v as? NSNumber)?.int64Value }
    func int(_ v: Any?) -> Int { (v as? NSNumber)?.intValue ?? -1 }
    func int64(_ v: Any?) -> Int64 { (v as? NSNumber)?.int64Value ?? -1 }

    func testStragglerTraceShowsTheSleepInRankOne() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent")
            return
        }
        let run = try TraceLoader.loadRun(paths: [shared + "/torch-cpu/ddp_ws2_straggler"])
        XCTAssertEqual(run.ranks.map(\.rank), [0, 1])
        let a = run.ranks.map { Analyzer.analyze($0) }
        let step3 = a.map { r in r.steps.first { $0.name == "ProfilerStep#3" }! }
        let others = a[1].steps.filter { $0.name != "ProfilerStep#3" }.map(\.dur)
        // Rank 1 sleeps 0.3 s in step 3: its step is longer than its other steps by about that much.
        XCTAssertGreaterThan(step3[1].dur - others.max()!, 250_000_000)
        XCTAssertTrue(run.ranks[1].slices.name.contains { run.ranks[1].strings[$0].contains("straggler_sleep") })
    }
}
