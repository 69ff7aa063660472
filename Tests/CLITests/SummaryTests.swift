import Foundation
import TestSupport
import TraceImport
import XCTest

/// The map and the reduce (docs/scale.md): one summary per rank file, and `report`, `diff` and
/// the UI reading a folder of them as they read the traces.
final class SummaryTests: XCTestCase {
    var cleanup: [String] = []
    override func tearDown() {
        for p in cleanup.reversed() { _ = TestSupport.shellOutput("rm -rf '\(p)'") }
    }

    func temporaryDirectory() -> String {
        let dir = TestSupport.temporaryPath(".d")
        mkdir(dir, 0o700)
        cleanup.append(dir)
        return dir
    }

    /// Summarises each rank file of `run` on its own (as an array job does) into a new folder,
    /// the summaries named in the files' order.
    func mapEachFile(_ run: String) throws -> String {
        let dir = temporaryDirectory()
        for (i, file) in try TraceLoader.expand(run).enumerated() {
            let out = dir + "/" + String(format: "%05d", i) + ".summary.json"
            let r = TestSupport.run(["summary", file, "-o", out])
            XCTAssertEqual(r.status, 0, "\(file): \(r.stderr)")
        }
        return dir
    }

    /// Every multi-rank run at hand: the bundled one, and the shared ones when present.
    var multiRankRuns: [String] {
        var runs = [TestSupport.packageRoot + "/sample-traces/ddp2_straggler"]
        if let shared = TestSupport.sharedTraces {
            runs += ["torch-cpu/ddp_ws2_straggler", "ascend/torch_npu_text/level0", "ascend/torch_npu_text/level2",
                     "nsys/h100_2gpu_1s.sqlite"].map { shared + "/" + $0 }
        } else {
            print("skipped the shared runs: ../shared/traces is absent")
        }
        return runs
    }

    func testReportFromSummariesEqualsReportFromTraces() throws {
        for run in multiRankRuns {
            let fromTraces = TestSupport.run(["report", run, "--format", "json"])
            XCTAssertEqual(fromTraces.status, 0, "\(run): \(fromTraces.stderr)")
            let summaries = try mapEachFile(run)
            let fromSummaries = TestSupport.run(["report", summaries, "--format", "json"])
            XCTAssertEqual(fromSummaries.status, 0, "\(run): \(fromSummaries.stderr)")
            // Summaries leave the efficiency figures out (docs/scale.md); everything else is equal.
            XCTAssertEqual(try Self.withoutEfficiency(json: fromSummaries.stdout), try Self.withoutEfficiency(json: fromTraces.stdout),
                           "\(run): the report from summaries differs")
            XCTAssertFalse(fromSummaries.stdout.contains("\"efficiency\":{"), run)
            // The run has several ranks, and the text report reads summaries too.
            XCTAssertTrue(fromTraces.stdout.contains("\"rank\":1"), run)
            XCTAssertEqual(Self.withoutEfficiency(text: TestSupport.run(["report", summaries]).stdout),
                           Self.withoutEfficiency(text: TestSupport.run(["report", run]).stdout), run)
        }
    }

    /// The report JSON re-serialised without the efficiency block and the operator rows' efficiency fields.
    static func withoutEfficiency(json: String) throws -> String {
        let keys: Set<String> = ["efficiency", "flops", "bytes", "tflops_per_s", "gbps", "intensity", "bound", "roofline_pct",
                                 "headroom_ns", "precision", "work_kind", "modelled_calls", "modelled_device_ns"]
        func strip(_ v: Any) -> Any {
            if let d = v as? [String: Any] { return d.filter { !keys.contains($0.key) }.mapValues(strip) }
            if let a = v as? [Any] { return a.map(strip) }
            return v
        }
        let doc = try JSONSerialization.jsonObject(with: Data(json.utf8))
        return String(decoding: try JSONSerialization.data(withJSONObject: strip(doc), options: [.sortedKeys]), as: UTF8.self)
    }

    /// The text report without its efficiency sections (from `  Efficiency:` to the next blank line) and blank lines.
    static func withoutEfficiency(text: String) -> [Substring] {
        var out: [Substring] = [], skipping = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  Efficiency:") { skipping = true }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { skipping = false; continue }
            if !skipping { out.append(line) }
        }
        return out
    }

    func testDiffFromSummariesEqualsDiffFromTraces() throws {
        let run = TestSupport.packageRoot + "/sample-traces/ddp2_straggler"
        let summaries = try mapEachFile(run)
        let fromTraces = TestSupport.run(["diff", run, run, "--format", "json"])
        for (base, candidate) in [(summaries, run), (run, summaries), (summaries, summaries)] {
            let r = TestSupport.run(["diff", base, candidate, "--format", "json"])
            XCTAssertEqual(r.status, fromTraces.status, r.stderr)
            XCTAssertEqual(r.stdout, fromTraces.stdout, "\(base) vs \(candidate)")
        }
        // One summary file of the whole run (two ranks in one file) reduces the same way.
        let whole = temporaryDirectory() + "/run.summary.json"
        XCTAssertEqual(TestSupport.run(["summary", run, "-o", whole]).status, 0)
        XCTAssertEqual(try Self.withoutEfficiency(json: TestSupport.run(["report", whole, "--format", "json"]).stdout),
                       try Self.withoutEfficiency(json: TestSupport.run(["report", run, "--format", "json"]).stdout))
        // Analysis options were fixed when the summaries were made.
        let refused = TestSupport.run(["report", summaries, "--by-shape"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("apply when a summary is made"), refused.stderr)
        // A trace among summaries is named.
        let mixed = TestSupport.run(["report", summaries, run + "/rank0.pt.trace.json.gz"])
        XCTAssertEqual(mixed.status, 2)
        XCTAssertTrue(mixed.stderr.contains("a trace among summaries"), mixed.stderr)
    }

    func testSummaryIsSmallAndVersioned() throws {
        let summaries = try mapEachFile(TestSupport.packageRoot + "/sample-traces/ddp2_straggler")
        let text = TestSupport.readFile(summaries + "/00000.summary.json")
        XCTAssertTrue(text.hasPrefix("{\"schema\":\"stepscope.summary\",\"version\":1,"))
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let rank = try XCTUnwrap((doc["ranks"] as? [[String: Any]])?.first)
        // Rank 0 of the bundled run: 5 steps, and its gloo all-reduces with their tiles.
        XCTAssertEqual((rank["steps"] as? [Any])?.count, 5)
        let collectives = try XCTUnwrap(rank["collectives"] as? [[Any]])
        XCTAssertFalse(collectives.isEmpty)
        XCTAssertTrue(collectives.allSatisfy { $0.count == 11 && ($0[2] as? String) == "all_reduce" }, "\(collectives.prefix(2))")
        XCTAssertFalse((rank["tiles"] as? [Any] ?? []).isEmpty)
    }

    func testHostileSummariesAreOneLineErrors() throws {
        let summaries = try mapEachFile(TestSupport.packageRoot + "/sample-traces/ddp2_straggler")
        let good = TestSupport.readFile(summaries + "/00000.summary.json")
        let bad = temporaryDirectory() + "/bad.summary.json"
        // The diff's rows are read by diff only (report skips them).
        func check(_ text: String, _ message: String, diffOnly: Bool = false, line: UInt = #line) {
            TestSupport.writeFile(bad, Array(text.utf8))
            for command in diffOnly ? [["diff", bad, bad]] : [["report", bad], ["diff", bad, bad]] {
                let r = TestSupport.run(command)
                XCTAssertEqual(r.status, 2, "\(command[0]): \(r.stdout.prefix(200)) \(r.stderr)", line: line)
                XCTAssertTrue(r.stderr.hasPrefix("stepscope: error: \(bad): "), r.stderr, line: line)
                XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr, line: line)
                XCTAssertTrue(r.stderr.contains(message), "\(message) not in \(r.stderr)", line: line)
            }
        }
        func replacing(_ a: String, _ b: String) -> String {
            XCTAssertTrue(good.contains(a), a)
            guard let r = good.range(of: a) else { return good }
            return good.replacingCharacters(in: r, with: b)
        }
        check(String(good.prefix(good.count / 2)), "byte ")
        check(replacing("\"version\":1", "\"version\":7"), "unsupported summary version")
        check(replacing("\"steps\":[[\"ProfilerStep#2\",", "\"steps\":[[\"ProfilerStep#2\",\"x\","), "ranks[0].steps[0]")
        check(replacing("\"gpu_activity_ns\":0", "\"gpu_activity_ns\":4611686018427387904"), "ranks[0].gpu_activity_ns: 4611686018427387904 is out of range")
        check(replacing("\"phases\":[", "\"phases\":[-5,"), "ranks[0].phases")
        check(replacing("\"tiles\":[[", "\"tiles\":[[0,1,[0,0,0,0,0,0,0,9],[]],["), "more time than the tile spans")
        check(replacing("\"collectives\":[[", "\"collectives\":[[\"g\",null,\"x\",2000000000000000000,1,null,null,null,null,null,null],["),
              "collectives out of arrival order")
        check(replacing("\"parts\":[[null,", "\"parts\":[[3,"), "the first part is the untruncated steps'", diffOnly: true)
        check(replacing("\"samples\":{", "\"nosamples\":{"), "ranks[0].samples: expected an object", diffOnly: true)
        check(replacing("\"metrics\":[[\"", "\"metrics\":[[\"nonsense"), "unknown metric kind", diffOnly: true)
        // Two summaries whose times lie 2^59 ns apart (a forged clock) are refused by the reduce.
        let far = temporaryDirectory()
        TestSupport.writeFile(far + "/a.summary.json", Array(good.utf8))
        let shifted = good.replacingOccurrences(of: "\"steps\":[[\"ProfilerStep#2\",1", with: "\"steps\":[[\"ProfilerStep#2\",-1")
        XCTAssertNotEqual(shifted, good)
        TestSupport.writeFile(far + "/b.summary.json", Array(shifted.utf8))
        let r = TestSupport.run(["report", far])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("2^59 ns"), r.stderr)
    }

    func testMutatedSummariesNeverCrash() throws {
        let summaries = try mapEachFile(TestSupport.packageRoot + "/sample-traces/ddp2_straggler")
        let good = Array(TestSupport.readFile(summaries + "/00001.summary.json").utf8)
        let dir = temporaryDirectory()
        var generator = SystemRandomNumberGenerator()
        let replacements: [[UInt8]] = ["-1", "0", "null", "\"\"", "[]", "{}", "1e300", "4611686018427387904"].map { Array($0.utf8) }
        for n in 0..<40 {
            // Replace a number or string token somewhere with another value.
            var bytes = good
            let at = Int.random(in: 0..<bytes.count, using: &generator)
            guard let start = bytes[at...].firstIndex(where: { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "[") }) else { continue }
            let end = bytes[(start + 1)...].firstIndex { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "]") } ?? bytes.count
            bytes.replaceSubrange((start + 1)..<end, with: replacements[n % replacements.count])
            let path = dir + "/m\(n).summary.json"
            TestSupport.writeFile(path, bytes)
            for format in ["text", "json"] {
                let r = TestSupport.run(["report", path, summaries + "/00000.summary.json", "--format", format])
                XCTAssertTrue(r.status == 0 || r.status == 2, "mutation \(n): status \(r.status) \(r.stderr)")
                if r.status == 2 { XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr) }
            }
        }
    }
}
