import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import TestSupport
import XCTest

/// `stepscope diff` end to end on realistic trace pairs written by `scripts/make_diff_pairs.py`
/// (bench/gen_kineto.py: a GPT-style model on one GPU, 12 steps with 2% step-to-step noise): the
/// same configuration twice passes, a slowed operator fails and is named, a different step count
/// and a warm-up are handled; the output formats and exit codes.
final class DiffTests: XCTestCase {
    /// What `make_diff_pairs.py` slows (its SLOW_OP, a regex over operator names): attention,
    /// `aten::scaled_dot_product_attention` with the flash-attention ops under it, forward and
    /// backward, 1.3 times; their GPU kernels are ~6.5% of a step, so the step gets ~2% slower
    /// and the operators' own time 30%.
    static let slowedOperatorNames = ["scaled_dot_product", "flash_attention"]

    /// The directory holding the runs (base/, same/, slow_op/, more_steps/, warmup/, batch4/,
    /// ranks2_base/, ranks2_same/), or nil with the reason they could not be made.
    nonisolated(unsafe) static var pairs: String?
    nonisolated(unsafe) static var unavailable = ""
    /// Outputs of the comparisons several tests read, run once.
    nonisolated(unsafe) static var cache: [String: (status: Int32, stdout: String, stderr: String)] = [:]

    override class func setUp() {
        super.setUp()
        guard system("command -v python3 >/dev/null 2>&1") == 0 else {
            unavailable = "python3 is not available to write the trace pairs (scripts/make_diff_pairs.py)"
            return
        }
        let dir = TestSupport.temporaryPath("-diff-pairs")
        let log = dir + ".log"
        let status = system("python3 \(quote(TestSupport.packageRoot + "/scripts/make_diff_pairs.py")) --out \(quote(dir)) >\(quote(log)) 2>&1")
        let output = TestSupport.readFile(log)
        unlink(log)
        guard status == 0 else {
            unavailable = "scripts/make_diff_pairs.py failed (status \(status)): \(output)"
            _ = system("rm -rf \(quote(dir))")
            return
        }
        pairs = dir
    }

    override class func tearDown() {
        if let pairs { _ = system("rm -rf \(quote(pairs))") }
        pairs = nil
        cache = [:]
        outputs = nil
        super.tearDown()
    }

    static func quote(_ s: String) -> String {
        "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    var cleanup: [String] = []

    override func tearDown() {
        for p in cleanup { _ = system("rm -rf \(DiffTests.quote(p))") }
        cleanup = []
        super.tearDown()
    }

    /// The path of run `name`; skips the test when the pairs could not be made.
    func run(_ name: String) throws -> String {
        guard let pairs = DiffTests.pairs else { throw XCTSkip(DiffTests.unavailable) }
        return pairs + "/" + name
    }

    /// Runs the binary; checks that stderr never carries crash or backtrace text.
    func diff(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> (status: Int32, stdout: String, stderr: String) {
        let r = TestSupport.run(["diff"] + args)
        for bad in ["Fatal error", "Stack dump", "Backtracing", "Swift runtime failure", "Segmentation fault", "Illegal instruction"] {
            XCTAssertFalse(r.stderr.contains(bad) || r.stdout.contains(bad), "crash text '\(bad)' in output: \(r.stderr)", file: file, line: line)
        }
        return r
    }

    /// `diff(args)`, run once per argument list for the whole class.
    func cachedDiff(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> (status: Int32, stdout: String, stderr: String) {
        let key = args.joined(separator: "\u{0}")
        if let r = DiffTests.cache[key] { return r }
        let r = diff(args, file: file, line: line)
        DiffTests.cache[key] = r
        return r
    }

    /// A file the binary writes, removed after the test.
    func outputPath(_ suffix: String) -> String {
        let path = TestSupport.temporaryPath(suffix)
        cleanup.append(path)
        return path
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
        return try XCTUnwrap(object as? [String: Any], "not a JSON object: \(text.prefix(200))", file: file, line: line)
    }

    func metrics(_ doc: [String: Any]) -> [[String: Any]] { doc["metrics"] as? [[String: Any]] ?? [] }

    func side(_ doc: [String: Any], _ name: String) -> (steps: [String], skipped: [String], ranks: Int) {
        let s = doc[name] as? [String: Any] ?? [:]
        return (s["steps"] as? [String] ?? [], s["skipped"] as? [String] ?? [], (s["ranks"] as? NSNumber)?.intValue ?? -1)
    }

    /// One line per metric that is not noise, for failure messages.
    func summary(_ doc: [String: Any]) -> String {
        metrics(doc).filter { ($0["verdict"] as? String) != "noise" }.map {
            "\($0["kind"] ?? "?") \($0["name"] ?? "?"): \($0["verdict"] ?? "?") ratio \($0["ratio"] ?? "-") "
                + "[\($0["ci_low"] ?? "-"), \($0["ci_high"] ?? "-")] p_adj \($0["p_adjusted"] ?? "-")"
        }.joined(separator: "\n")
    }

    func stepRow(_ doc: [String: Any]) -> [String: Any] {
        metrics(doc).first { ($0["kind"] as? String) == "step" } ?? [:]
    }

    func names(_ s: String, anyOf parts: [String]) -> Bool { parts.contains { s.contains($0) } }

    // MARK: The real-trace cases

    func testTheSameConfigurationRunTwicePasses() throws {
        let base = try run("base"), same = try run("same")
        let r = diff([base, same])
        XCTAssertEqual(r.status, 0, "noise only (another seed) must pass:\n\(r.stdout)\(r.stderr)")
        XCTAssertTrue(r.stdout.hasPrefix("PASS"), r.stdout)
        XCTAssertTrue(r.stdout.contains("(12 vs 12 steps)"), r.stdout)
        XCTAssertEqual(r.stderr, "")
        // Also in the other direction: noise has no direction.
        let back = diff([same, base, "--format", "json"])
        XCTAssertEqual(back.status, 0, back.stdout)
        let doc = try json(back.stdout)
        XCTAssertEqual(doc["verdict"] as? String, "pass", summary(doc))
    }

    func testAnOperatorMadeSlowerFailsAndIsNamed() throws {
        let base = try run("base"), slow = try run("slow_op")
        let text = cachedDiff([base, slow])
        XCTAssertEqual(text.status, 1, "attention 1.3x slower (~2% of the step) must fail:\n\(text.stdout)")
        let verdictLine = String(text.stdout.prefix { $0 != "\n" })
        XCTAssertTrue(verdictLine.hasPrefix("REGRESSION"), verdictLine)
        XCTAssertTrue(names(verdictLine, anyOf: DiffTests.slowedOperatorNames),
                      "the verdict line does not name the slowed operator: \(verdictLine)")

        let r = cachedDiff([base, slow, "--format", "json"])
        XCTAssertEqual(r.status, 1)
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["verdict"] as? String, "regression", summary(doc))
        // The operator's own metric (a gate, kind op_*) regressed, not just the step time or the
        // kernels under it.
        let named = metrics(doc).filter {
            ($0["kind"] as? String ?? "").hasPrefix("op") && names($0["name"] as? String ?? "", anyOf: DiffTests.slowedOperatorNames)
        }
        XCTAssertFalse(named.isEmpty, "no operator metric for the slowed operator")
        XCTAssertTrue(named.contains { ($0["verdict"] as? String) == "regression" && ($0["gate"] as? Bool) == true },
                      "no gate metric of the slowed operator regressed; not noise:\n\(summary(doc))")
        // Nothing else regressed as an operator (the slowdown is attributed to attention, not
        // to where the CPU waits for it).
        let otherOps = metrics(doc).filter {
            ($0["kind"] as? String) == "op_self" && ($0["verdict"] as? String) == "regression"
                && !names($0["name"] as? String ?? "", anyOf: DiffTests.slowedOperatorNames)
        }
        XCTAssertEqual(otherOps.map { $0["name"] as? String ?? "" }, [], "operators blamed that were not slowed")
    }

    func testTheSlowedOperatorShowsInTheKernelsAndTheFoldedStacks() throws {
        // What the comparison finds whatever its verdict: the flash-attention kernels and the
        // attention stacks' self time are ~1.3x.
        let base = try run("base"), slow = try run("slow_op")
        let r = cachedDiff([base, slow, "--format", "json"])
        let doc = try json(r.stdout)
        let kernels = metrics(doc).filter { ($0["kind"] as? String) == "kernel" && ($0["name"] as? String ?? "").contains("pytorch_flash::flash_") }
        XCTAssertEqual(kernels.count, 4, summary(doc))
        for k in kernels {
            let ratio = (k["ratio"] as? NSNumber)?.doubleValue ?? 0
            XCTAssertEqual(ratio, 1.3, accuracy: 0.06, "\(k["name"] ?? "")")
            XCTAssertNotEqual(k["verdict"] as? String, "improvement")
        }
        let lines = try allOutputs().folded.split(separator: "\n")
        let attention = lines.filter { $0.contains("aten::scaled_dot_product_attention") }
        XCTAssertFalse(attention.isEmpty)
        var b = 0.0, c = 0.0
        for l in attention {
            let parts = l.split(separator: " ")
            b += Double(parts[1]) ?? 0
            c += Double(parts[2]) ?? 0
        }
        XCTAssertGreaterThan(c / max(b, 1), 1.15, "attention stacks' self time: \(b) -> \(c) ns per step")
    }

    func testADifferentStepCountPasses() throws {
        let base = try run("base"), more = try run("more_steps")
        let r = diff([base, more, "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stdout)
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["verdict"] as? String, "pass", summary(doc))
        XCTAssertEqual(side(doc, "base").steps.count, 12)
        XCTAssertEqual(side(doc, "candidate").steps.count, 16)
        XCTAssertEqual(side(doc, "candidate").skipped, [])
        // Per step, not per run: 16 steps are not a third more time.
        let step = stepRow(doc)
        XCTAssertEqual((step["ratio"] as? NSNumber)?.doubleValue ?? 0, 1.0, accuracy: 0.03)
        XCTAssertEqual(doc["structural"] as? [String], [], "same model, same calls per step")
    }

    func testInputShapesAreAFinerKeyAndABatchChangeStillCompares() throws {
        // The same model twice: both record shapes, so operators are keyed by shape too and the
        // slowed attention is named with its shapes.
        let base = try run("base"), slow = try run("slow_op"), batch4 = try run("batch4")
        let doc = try json(cachedDiff([base, slow, "--format", "json"]).stdout)
        let opNames = metrics(doc).filter { ($0["kind"] as? String) == "op_self" }.map { $0["name"] as? String ?? "" }
        // Autograd nodes and modules carry no shapes: they stay keyed by name.
        XCTAssertTrue(opNames.contains("AddmmBackward0 [backward]"))
        let coarse = Set(opNames.filter { !$0.contains(" @ ") })
        XCTAssertEqual(opNames.filter { $0.contains(" @ ") && coarse.contains(String($0.prefix { $0 != "@" }.dropLast())) }, [],
                       "an operator keyed both by name and by shapes")
        XCTAssertTrue(opNames.contains { $0.hasPrefix("aten::scaled_dot_product_attention [forward] @ [[2, ") }, "\(opNames.prefix(10))")
        // Batch 2 -> 4 changes the activations' shapes: those operators fall back to their names
        // and still compare, the shape change is listed, and the longer steps fail the build. The
        // optimizer's operators see the same parameter shapes and stay keyed by them.
        let r = diff([base, batch4, "--format", "json"])
        XCTAssertEqual(r.status, 1, r.stdout)
        let d = try json(r.stdout)
        let rows = metrics(d).filter { ($0["kind"] as? String) == "op_self" }.map { $0["name"] as? String ?? "" }
        XCTAssertTrue(rows.contains("aten::scaled_dot_product_attention [forward]"), "\(rows.prefix(10))")
        XCTAssertFalse(rows.contains { $0.hasPrefix("aten::scaled_dot_product_attention [forward] @") })
        XCTAssertTrue(rows.contains { $0.hasPrefix("aten::_foreach_add_ [optimizer] @ [[[") }, "\(rows.filter { $0.contains("optimizer") })")
        let structural = d["structural"] as? [String] ?? []
        XCTAssertTrue(structural.contains("aten::scaled_dot_product_attention [forward]: input shapes changed (1 -> 1 distinct)"),
                      "\(structural.prefix(10))")
        XCTAssertEqual((stepRow(d)["verdict"] as? String), "regression")
    }

    func testWarmUpStepsAreDroppedWithSkipStepsAuto() throws {
        let base = try run("base"), warm = try run("warmup")
        let r = diff([base, warm, "--skip-steps", "auto", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stdout)
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["verdict"] as? String, "pass", summary(doc))
        XCTAssertEqual(side(doc, "candidate").skipped, ["ProfilerStep#5", "ProfilerStep#6"])
        XCTAssertEqual(side(doc, "candidate").steps.count, 12)
        XCTAssertEqual(side(doc, "base").skipped, [], "the base has no warm-up: auto drops nothing")
        XCTAssertEqual(side(doc, "base").steps.count, 12)
        let text = diff([base, warm, "--skip-steps", "auto"])
        XCTAssertEqual(text.status, 0)
        XCTAssertTrue(text.stdout.contains("warm-up dropped: base none; candidate ProfilerStep#5, ProfilerStep#6"), text.stdout)

        // A fixed count drops the same number on both sides.
        let fixed = diff([base, warm, "--skip-steps", "2", "--format", "json"])
        XCTAssertEqual(fixed.status, 0, fixed.stdout)
        let f = try json(fixed.stdout)
        XCTAssertEqual(side(f, "candidate").skipped, ["ProfilerStep#5", "ProfilerStep#6"])
        XCTAssertEqual(side(f, "base").skipped.count, 2)
        XCTAssertEqual(side(f, "base").steps.count, 10)
    }

    func testWarmUpStepsKeptDoNotHideOrInventAChange() throws {
        // Without --skip-steps the two 3x-slow warm-up steps stay in the candidate's 14 samples.
        // The rank test and the Hodges-Lehmann ratio are robust to them: they move U by at most
        // 2 x 12 of the 144 pairs and the median pairwise ratio by a couple of ranks, so the step
        // time reads as unchanged (the steady state is unchanged) and the run passes. That is
        // not silently wrong: the report says 12 vs 14 steps and that nothing was dropped.
        let base = try run("base"), warm = try run("warmup")
        let r = diff([base, warm, "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stdout)
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["verdict"] as? String, "pass", summary(doc))
        XCTAssertEqual(side(doc, "candidate").steps.count, 14)
        XCTAssertEqual(side(doc, "candidate").skipped, [])
        let kept = stepRow(doc)
        XCTAssertEqual(kept["verdict"] as? String, "noise")
        XCTAssertEqual((kept["ratio"] as? NSNumber)?.doubleValue ?? 0, 1.0, accuracy: 0.04)
        let text = diff([base, warm])
        XCTAssertTrue(text.stdout.contains("(12 vs 14 steps)"), text.stdout)
        XCTAssertFalse(text.stdout.contains("warm-up dropped"), text.stdout)
    }

    func testTwoRankRunsOfTheSameConfigurationPass() throws {
        let base = try run("ranks2_base"), same = try run("ranks2_same")
        let r = diff([base, same, "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stdout)
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["verdict"] as? String, "pass", summary(doc))
        XCTAssertEqual(side(doc, "base").ranks, 2)
        XCTAssertEqual(side(doc, "candidate").ranks, 2)
        XCTAssertTrue(metrics(doc).contains { ($0["kind"] as? String) == "comm_wait" }, "a 2-rank run has collective waits")
    }

    // MARK: Formats

    typealias Outputs = (status: Int32, stdout: String, json: String, markdown: String, junit: String, folded: String, doc: [String: Any])
    nonisolated(unsafe) static var outputs: Outputs?

    /// base vs slow_op with every output at once (run once); the tests below check each file
    /// against the JSON of the same comparison, so they hold whatever the verdict is.
    func allOutputs() throws -> Outputs {
        let base = try run("base"), slow = try run("slow_op")
        if let o = DiffTests.outputs { return o }
        let j = outputPath(".json"), m = outputPath(".md"), x = outputPath(".xml"), f = outputPath(".folded")
        let r = diff([base, slow, "--output", "json=" + j, "--output", "markdown=" + m, "--output", "junit=" + x, "--folded", f])
        let reference = cachedDiff([base, slow, "--format", "json"])
        XCTAssertEqual(r.status, reference.status)
        let o = (r.status, r.stdout, TestSupport.readFile(j), TestSupport.readFile(m), TestSupport.readFile(x), TestSupport.readFile(f),
                 try json(reference.stdout))
        DiffTests.outputs = o
        return o
    }

    func testOutputJSONWritesTheSameJSONAsFormatJSON() throws {
        let o = try allOutputs()
        XCTAssertFalse(o.json.isEmpty, "--output json=PATH wrote nothing")
        let doc = try json(o.json)
        XCTAssertEqual(doc["schema"] as? String, "stepscope.diff")
        XCTAssertEqual((doc["version"] as? NSNumber)?.intValue, 1)
        let base = try run("base"), slow = try run("slow_op")
        XCTAssertEqual(o.json, cachedDiff([base, slow, "--format", "json"]).stdout, "the file and --format json differ")
        // Standard output keeps the text format.
        XCTAssertTrue(o.stdout.hasPrefix("PASS") || o.stdout.hasPrefix("REGRESSION") || o.stdout.hasPrefix("INCONCLUSIVE"), o.stdout)
    }

    func testMarkdownHasAVerdictLineAndATable() throws {
        let o = try allOutputs()
        let lines = o.markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let verdict = try XCTUnwrap(lines.first)
        XCTAssertTrue(verdict.hasPrefix("### "), verdict)
        XCTAssertTrue(verdict.contains("stepscope diff: "), verdict)
        let word = ["pass": "PASS", "regression": "REGRESSION", "inconclusive": "INCONCLUSIVE"][o.doc["verdict"] as? String ?? ""] ?? "?"
        XCTAssertTrue(verdict.contains(word), "\(verdict) vs verdict \(o.doc["verdict"] ?? "")")
        let header = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("| | metric | base | candidate |") }, o.markdown)
        XCTAssertTrue(lines[header + 1].hasPrefix("|---|"), lines[header + 1])
        let rows = lines[(header + 2)...].prefix { $0.hasPrefix("| ") }
        XCTAssertTrue(rows.contains { $0.contains("step time") }, o.markdown)
        let columns = lines[header].filter { $0 == "|" }.count
        for row in rows { XCTAssertEqual(row.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count, columns, row) }
    }

    func testJUnitIsWellFormedWithOneTestCasePerGateMetric() throws {
        let o = try allOutputs()
        XCTAssertTrue(o.junit.hasPrefix("<?xml"), o.junit)
        XCTAssertTrue(o.junit.contains("<testsuite"), o.junit)
        #if canImport(FoundationXML) || os(macOS)
        let parser = XMLParser(data: Data(o.junit.utf8))
        XCTAssertTrue(parser.parse(), "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "?")\n\(o.junit)")
        #endif
        // Gate metrics shown (a phase at zero in both runs is left out) plus each regressed operator.
        let shownGates = metrics(o.doc).filter {
            let kind = $0["kind"] as? String ?? ""
            let zero = (($0["base_median"] as? NSNumber)?.doubleValue ?? 0) == 0 && (($0["candidate_median"] as? NSNumber)?.doubleValue ?? 0) == 0
            return ($0["gate"] as? Bool) == true && kind != "op_self" && kind != "op_gpu" && (kind == "step" || !zero)
        }
        let regressedOps = metrics(o.doc).filter {
            ["op_self", "op_gpu"].contains($0["kind"] as? String ?? "") && ($0["verdict"] as? String) == "regression"
        }
        let cases = o.junit.components(separatedBy: "<testcase ").count - 1
        XCTAssertEqual(cases, shownGates.count + regressedOps.count, o.junit)
        XCTAssertTrue(o.junit.contains("tests=\"\(cases)\""), o.junit)
        let regressions = metrics(o.doc).filter { ($0["gate"] as? Bool) == true && ($0["verdict"] as? String) == "regression" }.count
        XCTAssertTrue(o.junit.contains("failures=\"\(regressions)\""), o.junit)
        XCTAssertEqual(o.junit.components(separatedBy: "<failure ").count - 1, regressions)
        XCTAssertTrue(o.junit.contains("name=\"step time\""), o.junit)
    }

    func testJUnitHasAFailureForTheSlowedOperator() throws {
        let o = try allOutputs()
        let failed = o.junit.split(separator: "\n").filter { $0.contains("<testcase ") && $0.contains("<failure ") }
        XCTAssertTrue(failed.contains { names(String($0), anyOf: DiffTests.slowedOperatorNames) },
                      "no <failure> in a test case of the slowed operator:\n\(o.junit)")
    }

    func testFoldedWritesStackAndTwoCounts() throws {
        let o = try allOutputs()
        let lines = o.folded.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        XCTAssertTrue(o.folded.hasSuffix("\n"))
        XCTAssertGreaterThan(lines.count, 100, "a GPT step has hundreds of distinct operator stacks")
        for l in lines {
            let parts = l.split(separator: " ", omittingEmptySubsequences: false)
            XCTAssertEqual(parts.count, 3, "not 'stack base candidate': \(l)")
            guard parts.count == 3 else { continue }
            XCTAssertFalse(parts[0].isEmpty, String(l))
            XCTAssertNotNil(Int64(parts[1]), String(l))
            XCTAssertNotNil(Int64(parts[2]), String(l))
            XCTAssertGreaterThanOrEqual(Int64(parts[1]) ?? -1, 0, String(l))
            XCTAssertGreaterThanOrEqual(Int64(parts[2]) ?? -1, 0, String(l))
        }
        XCTAssertTrue(lines.contains { $0.contains(";") }, "no nested stacks")
        // --format folded prints the same lines.
        let base = try run("base"), slow = try run("slow_op")
        XCTAssertEqual(diff([base, slow, "--format", "folded"]).stdout, o.folded)
    }

    // MARK: Exit codes (no generated traces needed)

    func x(_ name: String, _ ts: String, _ dur: String, cat: String = "cpu_op") -> String {
        TestSupport.x(name, cat: cat, ts: ts, dur: dur, pid: "1", tid: "1")
    }

    /// A 2-step trace whose steps take `durs` microseconds.
    func twoSteps(_ durs: [Int]) -> String {
        var events: [String] = []
        var t = 0
        for (i, d) in durs.enumerated() {
            events.append(x("ProfilerStep#\(i + 1)", "\(t)", "\(d)", cat: "user_annotation"))
            events.append(x("aten::mm", "\(t + 1)", "\(d / 2)"))
            t += d + 10
        }
        let path = outputPath(".json")
        TestSupport.writeFile(path, Array(TestSupport.kineto(events).utf8))
        return path
    }

    func testFailOnInconclusiveExitsThreeOnTwoStepRuns() throws {
        let a = twoSteps([100, 102]), b = twoSteps([150, 151])
        // 2 vs 2 steps: even completely separated samples have p >= 1/3.
        let plain = diff([a, b])
        XCTAssertEqual(plain.status, 0, "inconclusive passes unless asked: \(plain.stdout)")
        XCTAssertTrue(plain.stdout.hasPrefix("INCONCLUSIVE"), plain.stdout)
        let strict = diff([a, b, "--fail-on", "inconclusive"])
        XCTAssertEqual(strict.status, 3, strict.stdout + strict.stderr)
        XCTAssertEqual(strict.stdout, plain.stdout)
        let doc = try json(diff([a, b, "--format", "json", "--fail-on", "inconclusive"]).stdout)
        XCTAssertEqual(doc["verdict"] as? String, "inconclusive")
        XCTAssertEqual(stepRow(doc)["verdict"] as? String, "inconclusive")
    }

    func testAMemoryPeakOfHundredsOfMiBRendersInEveryFormat() throws {
        // Three steps, each allocating and freeing 200 MiB: the memory row prints "200 MiB".
        var events: [String] = []
        for i in 0..<3 {
            let t = i * 110
            events.append(x("ProfilerStep#\(i + 1)", "\(t)", "100", cat: "user_annotation"))
            events.append(x("aten::empty", "\(t + 10)", "20"))
            for (dt, bytes, total) in [(15, 200 << 20, 200 << 20), (25, -(200 << 20), 0)] {
                events.append(#"{"ph": "i", "s": "t", "cat": "cpu_instant_event", "name": "[memory]", "pid": 1, "tid": 1, "ts": \#(t + dt), "#
                    + #""args": {"Bytes": \#(bytes), "Total Allocated": \#(total), "Total Reserved": 268435456, "Addr": 4096, "Device Type": 1, "Device Id": 0}}"#)
            }
        }
        let path = outputPath(".json")
        TestSupport.writeFile(path, Array(TestSupport.kineto(events).utf8))
        for format in ["text", "markdown", "junit", "json"] {
            let r = diff([path, path, "--format", format])
            XCTAssertEqual(r.status, 0, "\(format): \(r.stderr.prefix(300))")
            XCTAssertFalse(r.stdout.isEmpty, format)
            if format != "json" { XCTAssertTrue(r.stdout.contains("200 MiB"), "\(format): \(r.stdout)") }
        }
    }

    func testUsageAndInputErrorsExitTwoWithOneLine() throws {
        let a = twoSteps([100, 102]), b = twoSteps([101, 100])
        let cases: [([String], String)] = [
            ([a, b, "--threshold", "step=abc"], "--threshold"),
            ([a, b, "--threshold", "step"], "--threshold"),
            ([a, b, "--threshold", "step=-3"], "--threshold"),
            ([a, b, "--threshold", "bogus=5"], "'bogus=5' is invalid for '--threshold <METRIC=PCT>'"),
            ([a, b, "--threshold", "step=inf"], "--threshold"),
            ([a, b, "--skip-steps", "x"], "--skip-steps"),
            ([a, b, "--skip-steps=-1"], "--skip-steps"),
            ([a, b, "--format", "yaml"], "'yaml' is invalid for '--format <format>'. Please provide one of 'text', 'json', 'markdown', 'junit' or 'folded'"),
            ([a, b, "--fail-on", "never"], "--fail-on"),
            ([a, b, "--output", "json"], "--output"),
            ([a, "/nonexistent/candidate.json"], "/nonexistent/candidate.json"),
            (["/nonexistent/base.json", b], "/nonexistent/base.json"),
            ([a], "Missing expected argument '<candidate>'"),
        ]
        for (args, mention) in cases {
            let r = diff(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stdout)\(r.stderr)")
            XCTAssertEqual(r.stdout, "", "\(args)")
            XCTAssertTrue(r.stderr.hasPrefix("stepscope: error: "), "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(mention), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "not one line: \(r.stderr)")
        }
        // Valid thresholds are accepted.
        XCTAssertEqual(diff([a, b, "--threshold", "step=3", "--threshold", "operator=15%"]).status, 0)
    }
}
