import Analysis
import Foundation
import Formatting
import Report
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Builds a report for inline traces (one string per rank).
func report(_ jsons: [String], names: [String]? = nil, rules: [PhaseRule] = []) throws -> RunReport {
    var traces: [RankTrace] = []
    for (i, j) in jsons.enumerated() {
        let t = try TestSupport.trace(j, name: names?[i] ?? "rank\(i).json")
        t.rank = i
        traces.append(t)
    }
    return RunReport(run: TraceRun(ranks: traces), options: AnalysisOptions(phaseRules: rules))
}

/// Parses JSON text into a dictionary with Foundation.
func parseJSON(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
    return try XCTUnwrap(object as? [String: Any], file: file, line: line)
}

/// Integer value of a JSON number.
func int(_ v: Any?) -> Int64? { (v as? NSNumber)?.int64Value }

/// An `X` event (positional form of TestSupport.x).
func x(_ name: String, _ cat: String, _ ts: String, _ dur: String, _ pid: String, _ tid: String, _ args: String) -> String {
    TestSupport.x(name, cat: cat, ts: ts, dur: dur, pid: pid, tid: tid, args: args)
}

/// One rank: two steps, a kernel, a warning.
let sampleTrace = TestSupport.kineto([
    x("ProfilerStep#1", "user_annotation", "1000", "100", "1", "1", ""),
    x("## forward ##", "user_annotation", "1000", "30", "1", "1", ""),
    x("aten::mm", "cpu_op", "1005", "20", "1", "1", ""),
    x("cudaLaunchKernel", "cuda_runtime", "1010", "5", "1", "1", #""correlation": 1"#),
    x("backward", "user_annotation", "1040", "40", "1", "1", ""),
    x("aten::mm", "cpu_op", "1045", "10", "1", "1", ""),
    x("ProfilerStep#2", "user_annotation", "1100", "60", "1", "1", ""),
    x("Optimizer.step#AdamW.step", "user_annotation", "1110", "20", "1", "1", ""),
    x("gemm", "kernel", "1020", "8", "0", "7", #""correlation": 1"#),
    #"{"ph": "E", "pid": 1, "tid": 1, "ts": 2000}"#,
], extra: #""distributedInfo": {"backend": "gloo", "rank": 0, "world_size": 2}"#)

final class JSONReportTests: XCTestCase {
    func testDocumentedFieldsAndValues() throws {
        let r = try report([sampleTrace])
        let doc = try parseJSON(r.render(.json))
        XCTAssertEqual(doc["schema"] as? String, "stepscope.report")
        XCTAssertEqual(int(doc["version"]), 2)
        XCTAssertEqual(Set(doc.keys), ["schema", "version", "ranks", "run", "warnings"])

        let ranks = try XCTUnwrap(doc["ranks"] as? [[String: Any]])
        XCTAssertEqual(ranks.count, 1)
        let rank = ranks[0]
        XCTAssertEqual(int(rank["rank"]), 0)
        XCTAssertEqual(rank["source"] as? String, "rank0.json")
        let dist = try XCTUnwrap(rank["distributed"] as? [String: Any])
        XCTAssertEqual(dist["backend"] as? String, "gloo")
        XCTAssertEqual(int(dist["world_size"]), 2)

        let steps = try XCTUnwrap(rank["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["name"] as? String }, ["ProfilerStep#1", "ProfilerStep#2"])
        XCTAssertEqual(steps.map { int($0["start_ns"]) }, [1_000_000, 1_100_000])
        XCTAssertEqual(steps.map { int($0["dur_ns"]) }, [100_000, 60_000])
        let allPhases = ["data", "forward", "backward", "optimizer", "communication", "startup", "other", "idle"]
        let p1 = try XCTUnwrap(steps[0]["phases"] as? [String: Any])
        XCTAssertEqual(Set(p1.keys), Set(allPhases))
        XCTAssertEqual(int(p1["forward"]), 30_000)
        XCTAssertEqual(int(p1["backward"]), 40_000)
        XCTAssertEqual(int(p1["idle"]), 30_000)
        XCTAssertEqual(allPhases.compactMap { int(p1[$0]) }.reduce(0, +), 100_000)

        let phases = try XCTUnwrap(rank["phases"] as? [String: Any])
        XCTAssertEqual(Set(phases.keys), Set(allPhases))
        XCTAssertEqual(int(phases["optimizer"]), 20_000)
        XCTAssertEqual(int(phases["idle"]), 70_000)
        XCTAssertEqual(allPhases.compactMap { int(phases[$0]) }.reduce(0, +), 160_000)

        let stats = try XCTUnwrap(rank["step_stats"] as? [String: Any])
        XCTAssertEqual(int(stats["count"]), 2)
        XCTAssertEqual(int(stats["min_ns"]), 60_000)
        XCTAssertEqual(int(stats["median_ns"]), 60_000)
        XCTAssertEqual(int(stats["p90_ns"]), 100_000)
        XCTAssertEqual(int(stats["max_ns"]), 100_000)
        XCTAssertEqual(int(rank["gpu_activity_ns"]), 8_000)
        // Version 2: the device breakdown is `device` (per rank and per step), with the device's kind.
        XCTAssertNil(rank["gpu"])
        XCTAssertEqual(rank["device_kind"] as? String, "cuda")
        let device = try XCTUnwrap(rank["device"] as? [String: Any])
        XCTAssertEqual(int(device["compute_ns"]), 8_000)
        XCTAssertEqual(int(device["comm_total_ns"]), 0)
        XCTAssertEqual(int(device["overlapped_comm_ns"]), 0)
        XCTAssertEqual(steps.map { int(($0["device"] as? [String: Any])?["compute_ns"]) }, [8_000, 0])
        XCTAssertTrue(steps.allSatisfy { $0["gpu"] == nil })

        let ops = try XCTUnwrap(rank["ops"] as? [[String: Any]])
        let mm = try XCTUnwrap(ops.first { $0["name"] as? String == "aten::mm" })
        XCTAssertEqual(int(mm["count"]), 2)
        XCTAssertEqual(int(mm["total_ns"]), 30_000)
        XCTAssertEqual(int(mm["self_ns"]), 25_000)
        XCTAssertEqual(int(mm["gpu_ns"]), 8_000)
        XCTAssertEqual(mm["kind"] as? String, "cpu_op")
        let mmPhases = try XCTUnwrap(mm["phases"] as? [String: Any])
        XCTAssertEqual(Set(mmPhases.keys), ["forward", "backward"])
        XCTAssertEqual(int((mmPhases["forward"] as? [String: Any])?["total_ns"]), 20_000)
        XCTAssertEqual(int((mmPhases["backward"] as? [String: Any])?["count"]), 1)
        for o in ops {
            for key in ["name", "count", "total_ns", "self_ns", "gpu_ns"] { XCTAssertNotNil(o[key], key) }
        }
        XCTAssertFalse(ops.contains { ($0["name"] as? String)?.hasPrefix("ProfilerStep#") ?? false })

        let kernels = try XCTUnwrap(rank["kernels"] as? [[String: Any]])
        XCTAssertEqual(kernels.count, 1)
        XCTAssertEqual(kernels[0]["name"] as? String, "gemm")
        XCTAssertEqual(int(kernels[0]["total_ns"]), 8_000)

        let counts = try XCTUnwrap(rank["event_counts"] as? [String: Any])
        XCTAssertEqual(int(counts["X"]), 9)
        XCTAssertEqual(int(counts["E"]), 1)

        let rankWarnings = try XCTUnwrap(rank["warnings"] as? [[String: Any]])
        XCTAssertEqual(rankWarnings.map { $0["code"] as? String }, ["unmatched-end"])
        XCTAssertEqual(int(rankWarnings[0]["count"]), 1)
        XCTAssertNotNil(rankWarnings[0]["example"] as? String)

        let warnings = try XCTUnwrap(doc["warnings"] as? [[String: Any]])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(warnings[0]["scope"] as? String, "rank")
        XCTAssertEqual(int(warnings[0]["rank"]), 0)
        XCTAssertEqual(warnings[0]["code"] as? String, "unmatched-end")

        let run = try XCTUnwrap(doc["run"] as? [String: Any])
        let runSteps = try XCTUnwrap(run["steps"] as? [[String: Any]])
        XCTAssertEqual(runSteps.map { int($0["dur_ns"]) }, [100_000, 60_000])
        XCTAssertEqual(runSteps.map { int($0["slowest_rank"]) }, [0, 0])
    }

    func testExactEpochNanosecondsInJSONText() throws {
        let r = try report([TestSupport.kineto([
            x("ProfilerStep#7", "user_annotation", "1623142623460111.001", "12.5", "1", "1", ""),
        ])])
        let text = r.render(.json)
        XCTAssertTrue(text.contains(#""start_ns":1623142623460111001"#), text)
        XCTAssertTrue(text.contains(#""dur_ns":12500"#))
        XCTAssertTrue(text.hasSuffix("}\n"))
    }

    func testRunStepsTakeTheSlowestRank() throws {
        let r0 = TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("ProfilerStep#2", "user_annotation", "100", "80", "1", "1", ""),
        ])
        let r1 = TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "150", "1", "1", ""),
            x("ProfilerStep#2", "user_annotation", "150", "50", "1", "1", ""),
            x("ProfilerStep#3", "user_annotation", "200", "10", "1", "1", ""),
        ])
        let r = try report([r0, r1])
        XCTAssertEqual(r.steps.map(\.name), ["ProfilerStep#1", "ProfilerStep#2", "ProfilerStep#3"])
        XCTAssertEqual(r.steps.map(\.dur), [150_000, 80_000, 10_000])
        XCTAssertEqual(r.steps.map(\.slowestRank), [1, 0, 1])
        XCTAssertEqual(r.stepStats, StepStats([150_000, 80_000, 10_000]))
        let doc = try parseJSON(r.render(.json))
        let ranks = try XCTUnwrap(doc["ranks"] as? [[String: Any]])
        XCTAssertEqual(ranks.map { int($0["rank"]) }, [0, 1])
        let run = try XCTUnwrap(doc["run"] as? [String: Any])
        XCTAssertEqual((run["steps"] as? [[String: Any]])?.map { int($0["slowest_rank"]) }, [1, 0, 1])
        XCTAssertEqual(int((run["step_stats"] as? [String: Any])?["median_ns"]), 80_000)
    }

    func testRunWarningsInJSON() throws {
        let run = TraceRun(ranks: [try TestSupport.trace(TestSupport.kineto([]))])
        run.warnings.add("duplicate-rank", "b.json also claims rank 0")
        let doc = try parseJSON(RunReport(run: run).render(.json))
        let warnings = try XCTUnwrap(doc["warnings"] as? [[String: Any]])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(warnings[0]["scope"] as? String, "run")
        XCTAssertNil(warnings[0]["rank"])
        XCTAssertEqual(warnings[0]["example"] as? String, "b.json also claims rank 0")
        // No steps at all: step_stats are null.
        let ranks = try XCTUnwrap(doc["ranks"] as? [[String: Any]])
        XCTAssertTrue(ranks[0]["step_stats"] is NSNull)
        XCTAssertTrue((doc["run"] as? [String: Any])?["step_stats"] is NSNull)
    }

    func testHostileNamesStayValidJSON() throws {
        let name = "evil\u{1b}[31m\"quoted\"\\\n\u{7f}\u{9b}é🚀"
        let encoded = JSONText.quote(name).dropFirst().dropLast()
        let r = try report([TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "10", "1", "1", ""),
            x(String(encoded), "cpu_op", "1", "2", "1", "1", ""),
        ])], names: ["dir/\u{1b}]0;x\u{7}.json"])
        let text = r.render(.json)
        let doc = try parseJSON(text)
        let ops = try XCTUnwrap((doc["ranks"] as? [[String: Any]])?.first?["ops"] as? [[String: Any]])
        XCTAssertEqual(ops.first?["name"] as? String, name)
        XCTAssertEqual((doc["ranks"] as? [[String: Any]])?.first?["source"] as? String, "dir/\u{1b}]0;x\u{7}.json")
        XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" }, "raw control character in JSON")
    }
}

final class TextReportTests: XCTestCase {
    static let hostile = TestSupport.kineto([
        #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "a\u001b[1m"}}"#,
        #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1, "args": {"name": "b\u009b2J"}}"#,
        x("ProfilerStep#1\\u001b[31m", "user_annotation", "0", "100", "1", "1", ""),
        x("evil\\u001b[31mred\\r\\u009b2J|pipe`tick\\u007f", "cpu_op", "10", "20", "1", "1", ""),
        x("cudaLaunchKernel", "cuda_runtime", "12", "1", "1", "1", #""correlation": 3"#),
        x("kern\\u001b]0;title\\u0007", "kernel", "40", "5", "0", "7", #""correlation": 3"#),
        x("neg\\u001b[5m", "cpu_op", "50", "-1", "1", "1", ""),
    ])

    func assertNoControls(_ s: String, file: StaticString = #filePath, line: UInt = #line) {
        for u in s.unicodeScalars where u != "\n" {
            XCTAssertFalse(u.value < 0x20 || (0x7F...0x9F).contains(u.value),
                           "raw U+\(String(u.value, radix: 16)) in output", file: file, line: line)
        }
    }

    func testTextEscapesControlCharacters() throws {
        let r = try report([Self.hostile], names: ["trace\u{1b}[2J.json"])
        let text = r.render(.text)
        assertNoControls(text)
        XCTAssertFalse(text.contains("\u{1b}[31m"))
        XCTAssertTrue(text.contains(#"evil\x1b[31mred\r\u{9b}2J|pipe`tick\x7f"#), text)
        XCTAssertTrue(text.contains(#"ProfilerStep#1\x1b[31m"#))
        XCTAssertTrue(text.contains(#"kern\x1b]0;title\x07"#))
        XCTAssertTrue(text.contains(#"trace\x1b[2J.json"#))
        XCTAssertTrue(text.contains("conflicting-metadata"))
        XCTAssertTrue(text.contains("negative-duration"))
    }

    func testMarkdownEscapesControlCharactersAndTableSyntax() throws {
        let r = try report([Self.hostile], names: ["trace\u{1b}[2J.json"])
        let md = r.render(.markdown)
        assertNoControls(md)
        XCTAssertFalse(md.contains("\u{1b}"))
        XCTAssertTrue(md.contains(#"evil\x1b[31mred\r\u{9b}2J\|pipe'tick\x7f"#), md)
        XCTAssertTrue(md.contains(#"ProfilerStep#1\x1b[31m"#))
    }

    func testTextLayout() throws {
        let r = try report([sampleTrace])
        let text = r.render(.text)
        XCTAssertTrue(text.hasPrefix("stepscope report: 1 rank, 2 steps\n"), text)
        XCTAssertTrue(text.contains("Rank 0  rank0.json"))
        XCTAssertTrue(text.contains("Steps: n=2  min 60.0 us  median 60.0 us  p90 100.0 us  max 100.0 us"), text)
        for p in Phase.allCases { XCTAssertTrue(text.contains(p.name), p.name) }
        XCTAssertTrue(text.contains("ProfilerStep#1"))
        XCTAssertTrue(text.contains("Top operators by self time"))
        XCTAssertTrue(text.contains("Top operators by inclusive time"))
        XCTAssertTrue(text.contains("Top GPU kernels"))
        let kernelRow = text.split(separator: "\n").first { $0.hasSuffix(" gemm") }
        XCTAssertNotNil(kernelRow)
        XCTAssertTrue(kernelRow?.contains("8.0 us") ?? false, String(kernelRow ?? ""))
        XCTAssertTrue(text.contains("unmatched-end x1"))
        // The "all steps" row shows phase shares of the steps' total.
        let allSteps = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("all steps") })
        XCTAssertTrue(allSteps.contains("160.0 us"), String(allSteps))
        XCTAssertTrue(allSteps.contains("18.8%"), String(allSteps))  // forward 30 of 160
        XCTAssertTrue(allSteps.contains("43.8%"), String(allSteps))  // idle 70 of 160
    }

    func testTopLimitsTheOperatorTables() throws {
        let events = (0..<30).map { x("op_\($0)", "cpu_op", "\($0 * 100)", "\($0 + 1)", "1", "1", "") }
        let r = try report([TestSupport.kineto(events)])
        let top3 = r.render(.text, top: 3)
        XCTAssertTrue(top3.contains("op_29"))
        XCTAssertTrue(top3.contains("op_27"))
        XCTAssertFalse(top3.contains("op_26"))
        let lines = r.render(.text).split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasSuffix(" op_15") })
        XCTAssertFalse(lines.contains { $0.hasSuffix(" op_14") })
        let md = r.render(.markdown, top: 2)
        XCTAssertTrue(md.contains("`op_28`"))
        XCTAssertFalse(md.contains("`op_27`"))
    }

    func testMarkdownHasTables() throws {
        let md = try report([sampleTrace, sampleTrace]).render(.markdown)
        XCTAssertTrue(md.hasPrefix("## stepscope report\n"))
        XCTAssertTrue(md.contains("### Rank 0"))
        XCTAssertTrue(md.contains("### Rank 1"))
        XCTAssertTrue(md.contains("**Run**: n=2"))
        XCTAssertTrue(md.contains("| step | dur | data | forward | backward | optimizer | communication | startup | other | idle |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"), md)
        XCTAssertTrue(md.contains("| ProfilerStep#1 | 100.0 us | 0 ns | 30.0 us | 40.0 us | 0 ns | 0 ns | 0 ns | 0 ns | 30.0 us |"), md)
        XCTAssertTrue(md.contains("| self | total | gpu | count | operator |\n|---:|---:|---:|---:|---|\n"))
        XCTAssertTrue(md.contains("| 25.0 us | 30.0 us | 8.0 us | 2 | `aten::mm` |"), md)
        XCTAssertTrue(md.contains("### Warnings"))
        XCTAssertTrue(md.contains("- rank 0: `unmatched-end` x1:"))
        // Every table row has the same number of cells as its header (the phase table: 10).
        XCTAssertTrue(md.contains("| ProfilerStep#1 | 100.0 us |"))
        var header: Int?
        for line in md.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else { header = nil; continue }
            let cells = line.filter { $0 == "|" }.count
            if let header { XCTAssertEqual(cells, header, String(line)) } else { header = cells }
            if line.hasPrefix("| step | dur") { XCTAssertEqual(cells, 11, String(line)) }
        }
    }
}

final class FormatTests: XCTestCase {
    func testFormatDuration() {
        let cases: [(Int64, String)] = [
            (0, "0 ns"), (1, "1 ns"), (999, "999 ns"), (-50, "-50 ns"),
            (1_000, "1.0 us"), (1_049, "1.0 us"), (1_050, "1.1 us"), (12_345, "12.3 us"), (999_949, "999.9 us"),
            (1_000_000, "1.0 ms"), (1_500_000, "1.5 ms"), (830_000_000, "830.0 ms"), (830_049_999, "830.0 ms"),
            (830_050_000, "830.1 ms"),
            (1_000_000_000, "1.000 s"), (4_560_000_000, "4.560 s"), (4_560_500_000, "4.561 s"), (3_600_000_000_000, "3600.000 s"),
            (-1_500, "-1.5 us"), (-1_050, "-1.1 us"), (-2_500_000, "-2.5 ms"), (-4_560_000_000, "-4.560 s"),
        ]
        for (ns, text) in cases { XCTAssertEqual(formatDuration(ns), text, "\(ns)") }
    }

    func testKindNames() {
        XCTAssertEqual(kindName(.cpuOp), "cpu_op")
        XCTAssertEqual(kindName(.runtime), "cuda_runtime")
        XCTAssertEqual(kindName(.memcpy), "gpu_memcpy")
        XCTAssertEqual(kindName(.kernel), "kernel")
        XCTAssertEqual(Set(SliceKind.allCases.map(kindName)).count, SliceKind.allCases.count)
    }

    func testFormatsByName() {
        XCTAssertEqual(ReportFormat(rawValue: "text"), .text)
        XCTAssertEqual(ReportFormat(rawValue: "json"), .json)
        XCTAssertEqual(ReportFormat(rawValue: "markdown"), .markdown)
        XCTAssertNil(ReportFormat(rawValue: "bogus"))
    }
}

final class StepStatsTests: XCTestCase {
    func testNearestRankPercentiles() throws {
        XCTAssertNil(StepStats([]))
        let one = try XCTUnwrap(StepStats([5]))
        XCTAssertEqual([one.count, Int(one.min), Int(one.median), Int(one.p90), Int(one.max)], [1, 5, 5, 5, 5])
        let four = try XCTUnwrap(StepStats([4, 1, 3, 2]))
        XCTAssertEqual(four.min, 1)
        XCTAssertEqual(four.median, 2)  // lower middle
        XCTAssertEqual(four.p90, 4)
        XCTAssertEqual(four.max, 4)
        let ten = try XCTUnwrap(StepStats((1...10).map { Int64($0 * 100) }))
        XCTAssertEqual(ten.median, 500)
        XCTAssertEqual(ten.p90, 900)
        let three = try XCTUnwrap(StepStats([30, 10, 20]))
        XCTAssertEqual(three.median, 20)
        XCTAssertEqual(three.p90, 30)
        let twenty = try XCTUnwrap(StepStats((1...20).map { Int64($0) }.reversed()))
        XCTAssertEqual(twenty.count, 20)
        XCTAssertEqual(twenty.median, 10)
        XCTAssertEqual(twenty.p90, 18)
        XCTAssertEqual(twenty.min, 1)
        XCTAssertEqual(twenty.max, 20)
        let eleven = try XCTUnwrap(StepStats((1...11).map { Int64($0) }))
        XCTAssertEqual(eleven.median, 6)
        XCTAssertEqual(eleven.p90, 10)
    }
}
