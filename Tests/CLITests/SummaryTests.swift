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
        // A torch_npu run whose all-gather and reduce-scatter get their full size only once the
        // reduce knows the group (a rank's share travels in the summary).
        let npu = temporaryDirectory()
        for r in 0...1 { try NPUSample.rank(r, gatherAndScatter: true).write(root: npu, db: false) }
        for run in multiRankRuns + [npu] {
            let fromTraces = TestSupport.run(["report", run, "--format", "json"])
            XCTAssertEqual(fromTraces.status, 0, "\(run): \(fromTraces.stderr)")
            let summaries = try mapEachFile(run)
            let fromSummaries = TestSupport.run(["report", summaries, "--format", "json"])
            XCTAssertEqual(fromSummaries.status, 0, "\(run): \(fromSummaries.stderr)")
            // Everything is equal, the efficiency figures and collective sizes included (summary version 3).
            XCTAssertEqual(fromSummaries.stdout, fromTraces.stdout, "\(run): the report from summaries differs")
            // The run has several ranks, and the text report reads summaries too.
            XCTAssertTrue(fromTraces.stdout.contains("\"rank\":1"), run)
            XCTAssertEqual(TestSupport.run(["report", summaries]).stdout, TestSupport.run(["report", run]).stdout, run)
        }
    }

    func testGzipSummariesAreSmallerAndReadTheSame() throws {
        let run = TestSupport.packageRoot + "/sample-traces/ddp2_straggler"
        let plain = try mapEachFile(run), dir = temporaryDirectory()
        for (i, file) in try TraceLoader.expand(run).enumerated() {
            let out = dir + "/" + String(format: "%05d", i) + ".summary.json.gz"
            XCTAssertEqual(TestSupport.run(["summary", file, "-o", out]).status, 0)
            let gz = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: out)[.size] as? Int)
            let text = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: plain + "/" + String(format: "%05d", i) + ".summary.json")[.size] as? Int)
            XCTAssertLessThan(gz * 3, text, "a gzip summary is a fraction of the text")
            // It is gzip, and inflates to the text summary.
            XCTAssertEqual(TestSupport.shellOutput("gzip -dc '\(out)' | cmp - '\(plain)/\(String(format: "%05d", i)).summary.json' && echo same"), "same")
        }
        XCTAssertEqual(TestSupport.run(["report", dir, "--format", "json"]).stdout, TestSupport.run(["report", run, "--format", "json"]).stdout)
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
        XCTAssertEqual(TestSupport.run(["report", whole, "--format", "json"]).stdout, TestSupport.run(["report", run, "--format", "json"]).stdout)
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
        XCTAssertTrue(text.hasPrefix("{\"schema\":\"stepscope.summary\",\"version\":3,"))
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let rank = try XCTUnwrap((doc["ranks"] as? [[String: Any]])?.first)
        // Rank 0 of the bundled run: 5 steps, and its gloo all-reduces with their tiles.
        XCTAssertEqual((rank["steps"] as? [Any])?.count, 5)
        let collectives = try XCTUnwrap(rank["collectives"] as? [[Any]])
        XCTAssertFalse(collectives.isEmpty)
        XCTAssertTrue(collectives.allSatisfy { $0.count == 12 && ($0[2] as? String) == "all_reduce" }, "\(collectives.prefix(2))")
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
        check(replacing("\"version\":3", "\"version\":7"), "unsupported summary version")
        check(replacing("\"steps\":[[\"ProfilerStep#2\",", "\"steps\":[[\"ProfilerStep#2\",\"x\","), "ranks[0].steps[0]")
        check(replacing("\"gpu_activity_ns\":0", "\"gpu_activity_ns\":4611686018427387904"), "ranks[0].gpu_activity_ns: 4611686018427387904 is out of range")
        check(replacing("\"phases\":[", "\"phases\":[-5,"), "ranks[0].phases")
        check(replacing("\"tiles\":[[", "\"tiles\":[[0,1,[0,0,0,0,0,0,0,9],[]],["), "more time than the tile spans")
        check(replacing("\"collectives\":[[", "\"collectives\":[[\"g\",null,\"x\",2000000000000000000,1,null,null,null,null,null,null,null],["),
              "collectives out of arrival order")
        // The efficiency figures (version 2).
        check(replacing("[\"gemm\",175,", "[\"teleport\",175,"), "unknown work kind")
        check(replacing("[\"gemm\",175,19629342720,", "[\"gemm\",175,-19629342720,"), "is out of range")
        check(replacing("\"steps\":[[\"ProfilerStep#2\",104480929,null,5831740598,[[\"fp32\"", "\"steps\":[[\"ProfilerStep#2\",104480929,null,5831740598,[[\"fp33\""),
              "ranks[0].efficiency.steps[0][4][0][0]: unknown precision")
        check(replacing("\"efficiency\":{\"device_name\":null,", "\"efficiency\":{\"device_name\":7,"), "ranks[0].efficiency.device_name: expected a string")
        check(replacing("\"parts\":[[null,", "\"parts\":[[3,"), "the first part is the untruncated steps'", diffOnly: true)
        check(replacing("\"samples\":{", "\"nosamples\":{"), "ranks[0].samples: expected an object", diffOnly: true)
        check(replacing("\"metrics\":[[\"", "\"metrics\":[[\"nonsense"), "unknown metric kind", diffOnly: true)
        // Two summaries whose times lie 2^59 ns apart (a forged clock) are refused by the reduce.
        let far = temporaryDirectory()
        TestSupport.writeFile(far + "/a.summary.json", Array(good.utf8))
        let shifted = replacing("\"steps\":[[\"ProfilerStep#2\",1", "\"steps\":[[\"ProfilerStep#2\",-1")
        XCTAssertNotEqual(shifted, good)
        TestSupport.writeFile(far + "/b.summary.json", Array(shifted.utf8))
        let r = TestSupport.run(["report", far])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("2^59 ns"), r.stderr)
    }

    func testManyRankReportJSONHasTheDistributions() throws {
        let dir = temporaryDirectory()
        // 20 ranks: rank 16 slow, the link of ranks 16 and 17 (group pp8) slow (bench/gen_cluster.py's defaults).
        XCTAssertNotNil(TestSupport.shellOutput("python3 '\(TestSupport.packageRoot)/bench/gen_cluster.py' --ranks 20 --ops 60 --out '\(dir)' && echo ok"))
        let r = TestSupport.run(["report", dir, "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let run = try XCTUnwrap(doc["run"] as? [String: Any])
        let d = try XCTUnwrap(run["rank_distribution"] as? [String: Any])
        XCTAssertEqual(d["ranks"] as? Int, 20)
        // The waits per rank, summed independently from the collectives' rows: nearest-rank percentiles.
        var wait: [Int: Int] = [:]
        for c in try XCTUnwrap(run["collectives"] as? [[String: Any]]) {
            for x in try XCTUnwrap(c["ranks"] as? [[String: Any]]) { wait[x["rank"] as! Int, default: 0] += x["wait_ns"] as! Int }
        }
        let sorted = wait.values.sorted()
        func rank(_ p: Int) -> Int { sorted[max(0, (p * sorted.count + 99) / 100 - 1)] }
        let w = try XCTUnwrap(d["wait_ns"] as? [String: Int])
        XCTAssertEqual(w, ["p50": rank(50), "p90": rank(90), "max": sorted.last!])
        let most = try XCTUnwrap(d["waited_most"] as? [[String: Int]])
        XCTAssertEqual(most.count, 10)
        XCTAssertEqual(most.first?["wait_ns"], sorted.last)
        let slow = try XCTUnwrap(d["slow_ranks"] as? [[String: Any]])
        XCTAssertEqual(slow.first?["rank"] as? Int, 16, "\(slow)")
        let links = try XCTUnwrap(d["slow_links"] as? [[String: Any]])
        XCTAssertEqual(links.map { $0["group"] as? String }, ["pp8"])
        XCTAssertEqual(links.first?["ranks"] as? [Int], [16, 17])
        // The text report says the same.
        let text = TestSupport.run(["report", dir]).stdout
        XCTAssertTrue(text.contains("slow ranks (lateness at collectives, modified z-score > 3.5): rank 16 "), text)
        // A run of at most 16 ranks keeps its JSON as before: no such member.
        let small = TestSupport.run(["report", TestSupport.packageRoot + "/sample-traces/ddp2_straggler", "--format", "json"])
        XCTAssertFalse(small.stdout.contains("rank_distribution"))
    }

    func testASummaryInflatingPastOneGiBIsRefused() throws {
        // A gzip bomb: a summary's schema, then 1.1 GiB of spaces (about 1 MB compressed).
        let bomb = temporaryDirectory() + "/bomb.summary.json.gz"
        let script = "import zlib,sys\nc=zlib.compressobj(9,zlib.DEFLATED,31)\nf=open(sys.argv[1],'wb')\n"
            + "f.write(c.compress(b'{\"schema\":\"stepscope.summary\",\"version\":2,\"ranks\":['))\nblock=b' '*(1<<24)\n"
            + "for _ in range(70): f.write(c.compress(block))\nf.write(c.compress(b']}')+c.flush())\n"
        XCTAssertEqual(TestSupport.shellOutput("python3 -c \"$(printf '%s' '\(script.replacingOccurrences(of: "'", with: "'\\''"))')\" '\(bomb)' && echo ok"), "ok")
        let r = TestSupport.run(["report", bomb])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr, "stepscope: error: \(bomb): a saved stepscope file larger than 1 GiB (inflated); summarise fewer ranks per file\n")
    }

    /// A version 2 summary of `v3` (a version 3 file): collective rows without their last
    /// element, the share bytes.
    func versionTwo(_ v3: String) throws -> String {
        var v2 = v3.replacingOccurrences(of: "\"version\":3", with: "\"version\":2")
        let from = try XCTUnwrap(v2.range(of: "\"collectives\":[")), to = try XCTUnwrap(v2.range(of: ",\"tiles\":"))
        let rows = String(v2[from.upperBound..<to.lowerBound])
        let cut = try NSRegularExpression(pattern: #",(null|[0-9]+)\]"#)
            .stringByReplacingMatches(in: rows, range: NSRange(rows.startIndex..., in: rows), withTemplate: "]")
        v2.replaceSubrange(from.upperBound..<to.lowerBound, with: cut)
        return v2
    }

    /// Version 2 summaries have no share bytes: reduced, the run's all-reduces keep their size, an
    /// HCCL all-gather or reduce-scatter (sized by the group only the reduce knows) has none.
    func testVersionTwoSummariesAreReadWithoutShareBytes() throws {
        let npu = temporaryDirectory()
        for r in 0...1 { try NPUSample.rank(r, gatherAndScatter: true).write(root: npu, db: false) }
        let summaries = try mapEachFile(npu), old = temporaryDirectory()
        for i in 0...1 {
            let name = "/" + String(format: "%05d", i) + ".summary.json"
            let v2 = try versionTwo(TestSupport.readFile(summaries + name))
            XCTAssertTrue(v2.hasPrefix("{\"schema\":\"stepscope.summary\",\"version\":2,"))
            TestSupport.writeFile(old + name, Array(v2.utf8))
        }
        let r = TestSupport.run(["report", old, "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let collectives = try XCTUnwrap((doc["run"] as? [String: Any])?["collectives"] as? [[String: Any]])
        let sized = collectives.map { c in ((c["name"] as? String) ?? "", ((c["ranks"] as? [[String: Any]]) ?? []).compactMap { $0["bytes"] as? Int }) }
        XCTAssertEqual(sized.map(\.0), ["allreduce", "allgather", "reducescatter"])
        XCTAssertEqual(sized.map(\.1), [[4_000_000, 4_000_000], [], []])
    }

    func testVersionOneSummariesAreReadWithoutEfficiency() throws {
        let summaries = try mapEachFile(TestSupport.packageRoot + "/sample-traces/ddp2_straggler")
        let v2 = try versionTwo(TestSupport.readFile(summaries + "/00000.summary.json"))
        // A version 1 file: no efficiency member, operator rows of 8 elements.
        var v1 = v2.replacingOccurrences(of: "\"version\":2", with: "\"version\":1")
        let e = try XCTUnwrap(v1.range(of: ",\"efficiency\":"))
        let hb = try XCTUnwrap(v1.range(of: ",\"host_bound\":"))
        v1.removeSubrange(e.lowerBound..<hb.lowerBound)
        // An operator row ends with its phase list (`]]` or `[]`), then its work: drop the work.
        v1 = try NSRegularExpression(pattern: #"(\]\]|\[\]),(null|\["[a-z]+",[^\[\]]*\])\]"#)
            .stringByReplacingMatches(in: v1, range: NSRange(v1.startIndex..., in: v1), withTemplate: "$1]")
        let path = temporaryDirectory() + "/old.summary.json"
        TestSupport.writeFile(path, Array(v1.utf8))
        let r = TestSupport.run(["report", path, "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"efficiency\":null"), String(r.stdout.prefix(300)))
        XCTAssertFalse(r.stdout.contains("\"efficiency\":{"))
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
