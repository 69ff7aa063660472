import Foundation
import TestSupport
import XCTest

/// The `stepscope` binary end to end: formats, exit codes and one-line errors.
final class CLITests: XCTestCase {
    var cleanup: [String] = []

    override func tearDown() {
        for p in cleanup { _ = system("rm -rf '\(p)'") }
        cleanup = []
        super.tearDown()
    }

    /// A temporary file holding `text`.
    func file(_ text: String, suffix: String = ".json") -> String {
        let path = TestSupport.temporaryPath(suffix)
        TestSupport.writeFile(path, Array(text.utf8))
        cleanup.append(path)
        return path
    }

    func x(_ name: String, _ cat: String, _ ts: String, _ dur: String, tid: String = "1", args: String = "") -> String {
        TestSupport.x(name, cat: cat, ts: ts, dur: dur, pid: "1", tid: tid, args: args)
    }

    var trace: String {
        TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100"),
            x("MyModel.encode_all", "user_annotation", "0", "40"),
            x("aten::mm", "cpu_op", "5", "20", args: #""Input Dims": [[2, 3], [3, 4]]"#),
            x("backward", "user_annotation", "50", "30"),
            x("ProfilerStep#2", "user_annotation", "100", "50"),
            x("nccl:all_reduce", "cpu_op", "110", "20"),
        ])
    }

    /// Runs the binary; checks that stderr never carries crash or backtrace text.
    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) -> (status: Int32, stdout: String, stderr: String) {
        let r = TestSupport.run(args)
        for bad in ["Fatal error", "Stack dump", "Backtracing", "Swift runtime failure", "Segmentation fault", "Illegal instruction"] {
            XCTAssertFalse(r.stderr.contains(bad) || r.stdout.contains(bad), "crash text '\(bad)' in output: \(r.stderr)", file: file, line: line)
        }
        return r
    }

    /// Asserts `text` is exactly one line ending in a newline.
    func assertOneLine(_ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(text.hasSuffix("\n"), "no final newline: \(text.debugDescription)", file: file, line: line)
        XCTAssertEqual(text.filter { $0 == "\n" }.count, 1, "not one line: \(text.debugDescription)", file: file, line: line)
    }

    func json(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
        return try XCTUnwrap(object as? [String: Any], file: file, line: line)
    }

    func rankPhases(_ doc: [String: Any]) -> [String: Int64] {
        let ranks = doc["ranks"] as? [[String: Any]] ?? []
        let phases = ranks.first?["phases"] as? [String: Any] ?? [:]
        return phases.compactMapValues { ($0 as? NSNumber)?.int64Value }
    }

    // MARK: Formats

    func testBinaryExists() {
        XCTAssertEqual(access(TestSupport.binary, X_OK), 0, "no executable at \(TestSupport.binary)")
    }

    func testTextReport() {
        let path = file(trace)
        let r = run(["report", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        XCTAssertTrue(r.stdout.hasPrefix("stepscope report: 1 rank, 2 steps\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Rank 0  \(path)"))
        XCTAssertTrue(r.stdout.contains("ProfilerStep#2"))
        XCTAssertTrue(r.stdout.contains("aten::mm"))
        // `report` is the default subcommand.
        let d = run([path])
        XCTAssertEqual(d.status, 0)
        XCTAssertEqual(d.stdout, r.stdout)
    }

    func testJSONReport() throws {
        let path = file(trace)
        let r = run(["report", "--format", "json", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let doc = try json(r.stdout)
        XCTAssertEqual(doc["schema"] as? String, "stepscope.report")
        let ranks = try XCTUnwrap(doc["ranks"] as? [[String: Any]])
        let steps = try XCTUnwrap(ranks.first?["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { ($0["dur_ns"] as? NSNumber)?.int64Value }, [100_000, 50_000])
        XCTAssertEqual(rankPhases(doc), ["data": 0, "forward": 0, "backward": 30_000, "optimizer": 0,
                                         "communication": 20_000, "startup": 0, "other": 40_000, "idle": 60_000])
    }

    func testMarkdownReport() {
        let path = file(trace)
        let r = run(["report", "--format", "markdown", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("## stepscope report\n"))
        XCTAssertTrue(r.stdout.contains("| step | dur | data | forward | backward | optimizer | communication | startup | other | idle |"))
        XCTAssertTrue(r.stdout.contains("|---|---:|"))
        XCTAssertTrue(r.stdout.contains("| self | total | gpu | count | operator |"))
        XCTAssertTrue(r.stdout.contains("`aten::mm`"))
    }

    func testOutputFile() throws {
        let path = file(trace)
        let out = TestSupport.temporaryPath(".out.json")
        cleanup.append(out)
        let r = run(["report", "--format", "json", "-o", out, path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(try json(TestSupport.readFile(out))["schema"] as? String, "stepscope.report")
    }

    func testByShape() throws {
        let r = run(["report", "--format", "json", "--by-shape", file(trace)])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ops = try XCTUnwrap((try json(r.stdout)["ranks"] as? [[String: Any]])?.first?["ops"] as? [[String: Any]])
        XCTAssertEqual(ops.first { $0["name"] as? String == "aten::mm" }?["shape"] as? String, "[[2, 3], [3, 4]]")
    }

    func testDirectoryOfRankFiles() throws {
        let dir = TestSupport.temporaryPath(".d")
        mkdir(dir, 0o700)
        cleanup.append(dir)
        TestSupport.writeFile(dir + "/rank1.json", Array(trace.utf8))
        TestSupport.writeFile(dir + "/rank0.json", Array(trace.utf8))
        let r = run(["report", "--format", "json", dir])
        XCTAssertEqual(r.status, 0, r.stderr)
        let ranks = try XCTUnwrap(try json(r.stdout)["ranks"] as? [[String: Any]])
        XCTAssertEqual(ranks.map { ($0["rank"] as? NSNumber)?.intValue }, [0, 1])
        XCTAssertEqual(ranks.map { $0["source"] as? String }, [dir + "/rank0.json", dir + "/rank1.json"])
        let text = run(["report", dir])
        XCTAssertTrue(text.stdout.hasPrefix("stepscope report: 2 ranks, 2 steps\n"), text.stdout)
    }

    func testGzipTrace() throws {
        let plain = file(trace)
        XCTAssertEqual(system("gzip -n -k -f '\(plain)'"), 0)
        cleanup.append(plain + ".gz")
        let r = run(["report", "--format", "json", plain + ".gz"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(rankPhases(try json(r.stdout))["communication"], 20_000)
    }

    func testTerminalOutputIsEscaped() {
        let path = file(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100"),
            x("evil\\u001b[31mred\\u009b2J", "cpu_op", "10", "20"),
        ]))
        for format in ["text", "markdown"] {
            let r = run(["report", "--format", format, path])
            XCTAssertEqual(r.status, 0)
            XCTAssertFalse(r.stdout.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\n") || (0x7F...0x9F).contains($0.value) }, format)
            XCTAssertTrue(r.stdout.contains(#"evil\x1b[31mred\u{9b}2J"#), format)
        }
    }

    // MARK: Phase rules

    func testPhaseRulesChangeThePhases() throws {
        let path = file(trace)
        let rules = file("# my rules\nforward: MyModel.encode*\ndata: nccl:*\n", suffix: ".rules")
        let r = run(["report", "--format", "json", "--phase-rules", rules, path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(rankPhases(try json(r.stdout)), ["data": 20_000, "forward": 40_000, "backward": 30_000, "optimizer": 0,
                                                        "communication": 0, "startup": 0, "other": 0, "idle": 60_000])
    }

    func testBadRulesFileNamesTheLine() {
        let rules = file("forward: MyModel.encode*\nbogus: x\n", suffix: ".rules")
        let r = run(["report", "--phase-rules", rules, file(trace)])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains("\(rules): line 2:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("bogus"))
    }

    func testMissingRulesFile() {
        let r = run(["report", "--phase-rules", "/nonexistent/my.rules", file(trace)])
        XCTAssertEqual(r.status, 2)
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains("/nonexistent/my.rules"))
    }

    // MARK: Errors

    func testUnknownFormatIsOneLineAndExitTwo() {
        let r = run(["report", "--format", "bogus", file(trace)])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains("bogus"), r.stderr)
    }

    func testOtherUsageErrorsAreOneLineAndExitTwo() {
        let path = file(trace)
        for args in [["report", "--top", "0", path], ["report", "--no-such-option", path], ["report"]] {
            let r = run(args)
            XCTAssertEqual(r.status, 2, "\(args)")
            assertOneLine(r.stderr)
        }
    }

    func testMissingFile() {
        let r = run(["report", "/nonexistent/dir/trace.json"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains("/nonexistent/dir/trace.json"), r.stderr)
    }

    func testInvalidJSON() {
        let path = file(#"{"traceEvents": [{"ph": "X" "name": "a"}]}"#)
        let r = run(["report", path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains(path), r.stderr)
        XCTAssertTrue(r.stderr.contains("byte 28"), r.stderr)
        XCTAssertEqual(r.stderr, "stepscope: error: \(path): byte 28: expected ',' or '}'\n")
    }

    /// A string `ts` holds its number (torch_npu writes them so); one that holds none is an error.
    func testStringTimestamp() {
        XCTAssertEqual(run(["report", file(#"{"traceEvents": [{"ph": "X", "name": "a", "ts": "12", "dur": 1}]}"#)]).status, 0)
        let path = file(#"{"traceEvents": [{"ph": "X", "name": "a", "ts": "1x", "dur": 1}]}"#)
        let r = run(["report", path])
        XCTAssertEqual(r.status, 2)
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains("byte 50: malformed number"), r.stderr)
    }

    func testTruncatedGzip() {
        let events = (0..<300).map { x("op_\($0)_\($0 * 7919 % 10007)", "cpu_op", "\($0 * 10)", "5") }
        let plain = file(TestSupport.kineto(events))
        XCTAssertEqual(system("gzip -n -k -f '\(plain)'"), 0)
        cleanup.append(plain + ".gz")
        var st = stat()
        XCTAssertEqual(stat(plain + ".gz", &st), 0)
        XCTAssertGreaterThan(st.st_size, 1200)  // cut well inside the deflate data
        let cut = TestSupport.temporaryPath(".json.gz")
        cleanup.append(cut)
        XCTAssertEqual(system("head -c 600 '\(plain).gz' > '\(cut)'"), 0)
        let r = run(["report", cut])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains(cut), r.stderr)
        XCTAssertTrue(r.stderr.contains("truncated gzip"), r.stderr)
        XCTAssertTrue(r.stderr.contains("byte "), r.stderr)
    }

    func testDirectoryWithoutTraces() {
        let dir = TestSupport.temporaryPath(".d")
        mkdir(dir, 0o700)
        cleanup.append(dir)
        let r = run(["report", dir])
        XCTAssertEqual(r.status, 2)
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains(dir))
    }

    func testUnwritableOutputFile() {
        let r = run(["report", "-o", "/nonexistent/dir/out.txt", file(trace)])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains("/nonexistent/dir/out.txt"), r.stderr)
    }

    func testHelpAndVersion() {
        let h = run(["--help"])
        XCTAssertEqual(h.status, 0)
        XCTAssertTrue(h.stdout.contains("report"), h.stdout)
        XCTAssertEqual(h.stderr, "")
        let rh = run(["report", "--help"])
        XCTAssertEqual(rh.status, 0)
        XCTAssertTrue(rh.stdout.contains("--phase-rules"))
        XCTAssertTrue(rh.stdout.contains("--format"))
        let v = run(["--version"])
        XCTAssertEqual(v.status, 0)
        XCTAssertFalse(v.stdout.isEmpty)
    }

    // MARK: Extreme values never crash

    func testEndPastTheInt64RangeIsAnErrorNotACrash() {
        // ts is a valid 64-bit nanosecond count (9223372036854775000), but ts + dur is not.
        let path = file(TestSupport.kineto([x("a", "cpu_op", "9223372036854775", "10")]))
        let r = run(["report", path])
        XCTAssertEqual(r.status, 2, r.stderr)
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains(path), r.stderr)
    }

    func testTraceSpanPastTheInt64RangeIsAnErrorNotACrash() {
        let path = file(TestSupport.kineto([
            x("a", "cpu_op", "-9223372036854775", "10"),
            x("b", "cpu_op", "9223372036854775", "0"),
        ]))
        let r = run(["report", path])
        XCTAssertEqual(r.status, 2, r.stderr)
        assertOneLine(r.stderr)
    }

    func testBaseTimePlusTimestampPastTheInt64RangeIsAnError() {
        // An absolute time (baseTimeNanoseconds + ts) that does not fit must not wrap around.
        let path = file(TestSupport.kineto([x("ProfilerStep#1", "user_annotation", "10", "10")],
                                           extra: #""baseTimeNanoseconds": 9223372036854775000"#))
        let r = run(["report", "--format", "json", path])
        XCTAssertEqual(r.status, 2, r.stdout)
        assertOneLine(r.stderr)
    }

    func testDurationOverflowingInt64IsAnErrorNotACrash() {
        // ts is in range and dur alone fits in 64 bits, but ts + dur does not.
        let path = file(TestSupport.kineto([x("a", "cpu_op", "1", "9223372036854775")]))
        let r = run(["report", path])
        XCTAssertEqual(r.status, 2, r.stderr)
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains(path), r.stderr)
    }

    func testBasePlusEndAtTwoToTheSixtyThirdIsAnErrorNotACrash() {
        // base = 2^62 and ts + dur = 2^62 are each in range; base + ts + dur = 2^63 does not fit.
        let path = file(TestSupport.kineto([x("a", "cpu_op", "0", "4611686018427387.904")],
                                           extra: #""baseTimeNanoseconds": 4611686018427387904"#))
        let r = run(["report", path])
        XCTAssertEqual(r.status, 2, r.stderr)
        assertOneLine(r.stderr)
        XCTAssertTrue(r.stderr.contains(path), r.stderr)
    }
}
