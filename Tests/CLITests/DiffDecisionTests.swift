import Foundation
import TestSupport
import XCTest

/// `stepscope diff` with PyTorch's usual schedule (3 active steps per run), where the step time
/// is decided from the operator and kernel calls; the change column against the Hodges-Lehmann
/// shift; a hidden-size change as one structural change (docs/diff.md). The 3-step runs come
/// from `scripts/make_diff_pairs.py` (base3, same3, slow3, hidden3).
final class DiffDecisionTests: XCTestCase {
    nonisolated(unsafe) static var pairs: String?
    nonisolated(unsafe) static var unavailable = ""

    override class func setUp() {
        super.setUp()
        guard system("command -v python3 >/dev/null 2>&1") == 0 else {
            unavailable = "python3 is not available to write the trace pairs (scripts/make_diff_pairs.py)"
            return
        }
        let dir = TestSupport.temporaryPath("-diff-3steps")
        let log = dir + ".log"
        let script = TestSupport.packageRoot + "/scripts/make_diff_pairs.py"
        let status = system("python3 '\(script)' --out '\(dir)' --only base3 same3 slow3 hidden3 >'\(log)' 2>&1")
        let output = TestSupport.readFile(log)
        unlink(log)
        guard status == 0 else {
            unavailable = "scripts/make_diff_pairs.py failed (status \(status)): \(output)"
            return
        }
        pairs = dir
    }

    override class func tearDown() {
        if let pairs { _ = system("rm -rf '\(pairs)'") }
        pairs = nil
        super.tearDown()
    }

    var cleanup: [String] = []

    override func tearDown() {
        for p in cleanup { unlink(p) }
        cleanup = []
        super.tearDown()
    }

    func run(_ name: String) throws -> String {
        guard let pairs = DiffDecisionTests.pairs else { throw XCTSkip(DiffDecisionTests.unavailable) }
        return pairs + "/" + name
    }

    func diff(_ args: [String]) -> (status: Int32, stdout: String, stderr: String) {
        let r = TestSupport.run(["diff"] + args)
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("Backtracing"), r.stderr)
        return r
    }

    func json(_ text: String) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], String(text.prefix(200)))
    }

    func stepRow(_ doc: [String: Any]) -> [String: Any] {
        (doc["metrics"] as? [[String: Any]] ?? []).first { ($0["kind"] as? String) == "step" } ?? [:]
    }

    func path(_ suffix: String) -> String {
        let p = TestSupport.temporaryPath(suffix)
        cleanup.append(p)
        return p
    }

    // MARK: 3 vs 3 steps

    func testThreeStepsEachAClearRegressionFails() throws {
        let base = try run("base3"), slow = try run("slow3")
        let r = diff([base, slow])
        XCTAssertEqual(r.status, 1, "matmuls 1.3x slower (step about +15%, no overlap) must fail with 3 vs 3 steps:\n\(r.stdout)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("REGRESSION: step time +") == true, r.stdout)
        XCTAssertTrue(lines.first?.hasSuffix("(3 vs 3 steps)") == true, r.stdout)
        // How the verdict was reached, on the second line.
        XCTAssertTrue(lines.count > 1 && lines[1].hasPrefix("decided from ") && lines[1].contains(" paired calls of "), r.stdout)
        XCTAssertTrue(r.stdout.contains("Slower or faster call by call"), r.stdout)
        let stepLine = try XCTUnwrap(lines.first { $0.hasPrefix("+  step time") }, r.stdout)
        XCTAssertTrue(stepLine.hasSuffix(" calls"), "the step test's p did not decide: \(stepLine)")
        let doc = try json(diff([base, slow, "--format", "json"]).stdout)
        XCTAssertEqual(doc["verdict"] as? String, "regression")
        let decision = try XCTUnwrap(doc["call_decision"] as? [String: Any])
        XCTAssertEqual(decision["outcome"] as? String, "regression")
        XCTAssertEqual(decision["separated"] as? Bool, true)
        XCTAssertGreaterThan((decision["paired_calls"] as? NSNumber)?.intValue ?? 0, 1000)
        let ratio = (decision["step_ratio"] as? NSNumber)?.doubleValue ?? 0
        XCTAssertEqual(ratio, 1.15, accuracy: 0.04)
        XCTAssertEqual(stepRow(doc)["verdict"] as? String, "regression")
        // The calls that carry the decision are the slowed matrix multiplications' kernels.
        let slower = (doc["call_metrics"] as? [[String: Any]] ?? []).filter { ($0["verdict"] as? String) == "regression" }
        XCTAssertFalse(slower.isEmpty)
        for c in slower {
            XCTAssertTrue((c["name"] as? String ?? "").contains("gemm"), "\(c)")
            XCTAssertEqual((c["ratio"] as? NSNumber)?.doubleValue ?? 0, 1.3, accuracy: 0.1, "\(c)")
        }
        // JUnit and markdown say the same.
        let junit = diff([base, slow, "--format", "junit"]).stdout
        XCTAssertTrue(junit.contains("stepscope.calls.kernel") && junit.contains("slower call by call"), junit)
        XCTAssertTrue(junit.contains("decided from "), junit)
        let markdown = diff([base, slow, "--format", "markdown"]).stdout
        XCTAssertTrue(markdown.contains("decided from "), markdown)
    }

    func testThreeStepsEachANoisePairPassesBothWays() throws {
        let base = try run("base3"), same = try run("same3")
        for (a, b) in [(base, same), (same, base)] {
            let r = diff([a, b])
            XCTAssertEqual(r.status, 0, r.stdout)
            XCTAssertTrue(r.stdout.hasPrefix("PASS: no significant regression (3 vs 3 steps)"), r.stdout)
            XCTAssertTrue(r.stdout.contains("decided from "), r.stdout)
            let doc = try json(diff([a, b, "--format", "json"]).stdout)
            XCTAssertEqual((doc["call_decision"] as? [String: Any])?["outcome"] as? String, "noise")
            XCTAssertEqual(diff([a, b, "--fail-on", "inconclusive"]).status, 0, "decided, so not inconclusive")
        }
    }

    func testSavedSummariesKeepTheCallsForTheDecision() throws {
        let base = try run("base3"), slow = try run("slow3")
        let saved = path(".samples.json")
        let s = TestSupport.run(["summary", base, "-o", saved])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(TestSupport.readFile(saved).contains("\"call_samples\""))
        let r = diff([saved, slow])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertEqual(r.stdout, diff([base, slow]).stdout, "a summary decides as the trace does")
    }

    func testABadCallSamplesSectionIsAnInputError() throws {
        let bad = path(".samples.json")
        TestSupport.writeFile(bad, Array(("{\"schema\":\"stepscope.samples\",\"version\":2,\"ranks\":1,\"steps\":[\"a\"],"
            + "\"skipped\":[],\"metrics\":[{\"kind\":\"step\",\"name\":\"\",\"values\":[1]}],"
            + "\"call_samples\":[{\"kind\":\"kernel\",\"name\":\"k\",\"steps\":[[1],[2]]}]}").utf8))
        let r = diff([bad, bad])
        XCTAssertEqual(r.status, 2, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("stepscope: error: ") && r.stderr.contains(bad) && r.stderr.contains("call_samples"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
    }

    /// A 3-step trace whose steps take `step` us, each with ten `aten::mm` calls of `mm` us.
    func threeSteps(_ step: [Int], mm: [Int]) -> String {
        var events: [String] = []
        var t = 0
        for (i, d) in step.enumerated() {
            events.append(TestSupport.x("ProfilerStep#\(i + 1)", cat: "user_annotation", ts: "\(t)", dur: "\(d)"))
            for k in 0..<10 {
                events.append(TestSupport.x("aten::mm", ts: "\(t + 1 + k * (mm[i] + 2))", dur: "\(mm[i] + k % 3)"))
            }
            t += d + 10
        }
        let p = path(".json")
        TestSupport.writeFile(p, Array(TestSupport.kineto(events).utf8))
        return p
    }

    func testSeparatedStepsWithoutSlowerCallsAreInconclusive() throws {
        // Steps 20% longer, but the operators inside take the same time call by call: the time
        // went elsewhere, so the calls do not confirm the steps and nothing is decided.
        let a = threeSteps([1000, 1010, 1005], mm: [40, 40, 40]), b = threeSteps([1200, 1210, 1205], mm: [40, 40, 40])
        let r = diff([a, b])
        XCTAssertEqual(r.status, 0, r.stdout)
        XCTAssertTrue(r.stdout.hasPrefix("INCONCLUSIVE"), r.stdout)
        XCTAssertTrue(r.stdout.contains("not decided from "), r.stdout)
        XCTAssertEqual(diff([a, b, "--fail-on", "inconclusive"]).status, 3)
        // With the operators slower call by call as well, the same steps fail.
        let c = threeSteps([1200, 1210, 1205], mm: [60, 60, 60])
        let slower = diff([a, c])
        XCTAssertEqual(slower.status, 1, slower.stdout)
        XCTAssertTrue(slower.stdout.contains("op self aten::mm [other]"), slower.stdout)
    }

    // MARK: The change column

    func testTheChangeIsThatOfTheMediansShownAndTheHLShiftIsLabelled() throws {
        // Medians 30 -> 22 us (-26.7%), while the Hodges-Lehmann shift (median of the 25
        // pairwise ratios) is +32.3%: the two must not share a column.
        let events: ([Int]) -> String = { durs in
            var e: [String] = []
            var t = 0
            for (i, d) in durs.enumerated() {
                e.append(TestSupport.x("ProfilerStep#\(i + 1)", cat: "user_annotation", ts: "\(t)", dur: "\(d)"))
                t += d + 5
            }
            let p = self.path(".json")
            TestSupport.writeFile(p, Array(TestSupport.kineto(e).utf8))
            return p
        }
        let a = events([10, 11, 30, 31, 32]), b = events([20, 21, 22, 40, 41])
        let text = diff([a, b]).stdout
        let header = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("metric") && $0.contains("base") }, text)
        XCTAssertTrue(header.contains("change") && header.contains("HL shift [95% CI]"), String(header))
        let row = try XCTUnwrap(text.split(separator: "\n").first { $0.contains("step time") }, text)
        let cells = row.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        // symbol, "step", "time", base value + unit, candidate value + unit, change, HL shift ...
        XCTAssertEqual(cells[7], "-26.7%", String(row))
        XCTAssertEqual(cells[8], "+32.3%", String(row))
        let doc = try json(diff([a, b, "--format", "json"]).stdout)
        XCTAssertEqual((stepRow(doc)["median_change_pct"] as? NSNumber)?.doubleValue ?? 0, -26.667, accuracy: 0.001)
        XCTAssertEqual((stepRow(doc)["ratio"] as? NSNumber)?.doubleValue ?? 0, 1.3226, accuracy: 0.0001)
        let markdown = diff([a, b, "--format", "markdown"]).stdout
        XCTAssertTrue(markdown.contains("| | metric | base | candidate | change | HL shift [95% CI] | p |"), markdown)
        XCTAssertTrue(markdown.contains("| -26.7% | +32.3% ["), markdown)
        let junit = diff([a, b, "--format", "junit"]).stdout
        XCTAssertTrue(junit.contains("30.0 us -&gt; 22.0 us (-26.7%), HL shift +32.3% ["), junit)
    }

    // MARK: Shape changes

    func testAHiddenSizeChangeIsOneStructuralChange() throws {
        let base = try run("base3"), hidden = try run("hidden3")
        let r = diff([base, hidden])
        XCTAssertTrue(r.stdout.contains("\n  dimension 2048 -> 3072 in "), r.stdout)
        let shapeLines = r.stdout.split(separator: "\n").filter { $0.contains("input shapes changed") }
        XCTAssertLessThanOrEqual(shapeLines.count, 5, shapeLines.joined(separator: "\n"))
        for title in ["Added in the candidate (", "Removed from the candidate ("] {
            if let line = r.stdout.split(separator: "\n").first(where: { $0.hasPrefix(title) }) {
                let n = Int(line.dropFirst(title.count).prefix { $0.isNumber }) ?? 0
                XCTAssertLessThan(n, 10, String(line))
            }
        }
        let doc = try json(diff([base, hidden, "--format", "json"]).stdout)
        let groups = doc["shape_groups"] as? [[String: Any]] ?? []
        XCTAssertEqual(groups.count, 1)
        XCTAssertEqual((groups.first?["from"] as? NSNumber)?.intValue, 2048)
        XCTAssertEqual((groups.first?["to"] as? NSNumber)?.intValue, 3072)
        let ops = groups.first?["operators"] as? [String] ?? []
        XCTAssertGreaterThanOrEqual(ops.count, 20)
        XCTAssertTrue(ops.contains("aten::_scaled_dot_product_flash_attention [forward]"), "\(ops)")
        XCTAssertTrue((groups.first?["scaled"] as? [String] ?? []).contains("6144 -> 9216"), "\(groups)")
        // The JSON keeps every added and removed metric.
        let members = (groups.first?["members"] as? NSNumber)?.intValue ?? 0
        XCTAssertGreaterThan(members, 0)
        XCTAssertGreaterThanOrEqual((doc["added"] as? [Any] ?? []).count + (doc["removed"] as? [Any] ?? []).count, members)
        // The same model with the same hidden size has no group.
        XCTAssertEqual((try json(diff([base, try run("same3"), "--format", "json"]).stdout)["shape_groups"] as? [Any])?.count, 0)
    }
}
