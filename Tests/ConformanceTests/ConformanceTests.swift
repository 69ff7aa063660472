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
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".expected.json") }.sorted()
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
