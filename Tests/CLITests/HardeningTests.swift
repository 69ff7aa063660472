import Foundation
import TestSupport
import XCTest

/// Hostile input as a user would try it, end to end: every case is one line on stderr and exit 2
/// (or a quiet end for a closed pipe), never a crash, raw control bytes or a silent success.
/// docs/reliability.md lists the cases and where each is tested.
final class HardeningTests: XCTestCase {
    private let single = TestSupport.packageRoot + "/sample-traces/single"
    private var cleanup: [String] = []

    override func tearDown() {
        for path in cleanup { unlink(path) }
        super.tearDown()
    }

    private func temporary(_ suffix: String) -> String {
        let path = TestSupport.temporaryPath(suffix)
        cleanup.append(path)
        return path
    }

    private func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Runs `command` in bash; the exit status of the shell and its stderr.
    private func shell(_ command: String) -> (status: Int32, stderr: String) {
        let script = temporary(".sh"), err = temporary(".err")
        TestSupport.writeFile(script, Array(command.utf8))
        let status = system("bash \(script) 2>\(err) </dev/null")
        return ((status >> 8) & 0xFF, TestSupport.readFile(err))
    }

    private func assertOneLineError(_ r: (status: Int32, stderr: String), _ text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 2, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("stepscope: error: ") && r.stderr.hasSuffix("\n"), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), r.stderr, file: file, line: line)
    }

    private func run(_ args: [String]) -> (status: Int32, stderr: String) {
        let r = TestSupport.run(args)
        return (r.status, r.stderr)
    }

    private func summary(of run: String) -> String {
        let path = temporary(".samples.json")
        XCTAssertEqual(TestSupport.run(["summary", "--samples-only", run, "-o", path]).status, 0)
        return path
    }

    // 1. Nesting.

    func testDeeplyNestedTopLevelMemberAndSummaryAreErrors() {
        let trace = temporary(".json")
        let deep = String(repeating: "[", count: 40_000) + String(repeating: "]", count: 40_000)
        TestSupport.writeFile(trace, Array("{\"deviceProperties\": \(deep), \"traceEvents\": []}".utf8))
        assertOneLineError(run(["report", trace]), "\(trace): byte 533: in deviceProperties: nested deeper than 512 levels")
        let saved = temporary(".samples.json")
        TestSupport.writeFile(saved, Array("{\"schema\":\"stepscope.samples\",\"version\":2,\"steps\":\(deep)}".utf8))
        // The document's object is the first of the 512 levels.
        let prefix = "{\"schema\":\"stepscope.samples\",\"version\":2,\"steps\":"
        assertOneLineError(run(["diff", saved, single]), "\(saved): byte \(prefix.utf8.count + 511): nested deeper than 512 levels")
    }

    // 2. Control characters on the error path.

    func testControlCharactersInErrorLinesAreEscaped() throws {
        let evil = "\u{1B}]2;pwned\u{07}\u{1B}[2J"
        // A file name (missing, then a syntax error in an existing file).
        var r = run(["report", "/tmp/no-such-\(evil).json"])
        assertOneLineError(r, #"/tmp/no-such-\x1b]2;pwned\x07\x1b[2J.json: No such file or directory"#)
        let named = temporary("-\(evil).json")
        TestSupport.writeFile(named, Array("{\"traceEvents\": [}".utf8))
        r = run(["report", named])
        assertOneLineError(r, #"\x1b]2;pwned\x07\x1b[2J.json: byte 17: "#)
        XCTAssertFalse(r.stderr.contains("\u{1B}") || r.stderr.contains("\u{07}"), r.stderr)
        // A phase-rules file's text.
        let rules = temporary(".rules")
        TestSupport.writeFile(rules, Array("\(evil)phase: aten::*\n".utf8))
        r = run(["report", single, "--phase-rules", rules])
        assertOneLineError(r, #"line 1: unknown phase '\x1b]2;pwned\x07\x1b[2Jphase'"#)
        XCTAssertFalse(r.stderr.contains("\u{1B}"), r.stderr)
        // A summary's metric name.
        let saved = temporary(".samples.json")
        TestSupport.writeFile(saved, Array(#"{"schema":"stepscope.samples","version":2,"steps":["a"],"metrics":[{"kind":"op_self","name":"\u001b]2;pwned\u0007","values":[]}]}"#.utf8))
        r = run(["diff", saved, single])
        assertOneLineError(r, #"metrics[] \x1b]2;pwned\x07: 0 values for 1 steps"#)
        // An argument value echoed by a usage error.
        r = run(["report", single, "--format", evil])
        XCTAssertEqual(r.status, 2)
        XCTAssertFalse(r.stderr.contains("\u{1B}"), r.stderr)
    }

    // 4. Re-serialised summaries.

    func testReserialisedSummariesAreRecognised() throws {
        let run = TestSupport.packageRoot + "/sample-traces/ddp2_straggler"
        let compact = summary(of: run)
        // Summaries on both sides: only the files are read, no trace loads.
        let expected = TestSupport.run(["diff", compact, compact, "--format", "json"])
        XCTAssertEqual(expected.status, 0, expected.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(TestSupport.readFile(compact).utf8)) as? [String: Any])
        let pretty = temporary(".json"), sorted = temporary(".json"), zipped = temporary(".json.gz"), reversed = temporary(".json")
        try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted]).write(to: URL(fileURLWithPath: pretty))
        try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]).write(to: URL(fileURLWithPath: sorted))
        // Keys in reverse order, `schema` last.
        let text = TestSupport.readFile(compact)
        let body = text.dropFirst().dropLast(2)  // the members, without `{` and `}\n`
        var members: [String] = []
        var depth = 0, inString = false, escaped = false, start = body.startIndex
        for i in body.indices {
            let c = body[i]
            if inString { if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }; continue }
            if c == "\"" { inString = true } else if c == "{" || c == "[" { depth += 1 } else if c == "}" || c == "]" { depth -= 1 }
            else if c == "," && depth == 0 { members.append(String(body[start..<i])); start = body.index(after: i) }
        }
        members.append(String(body[start...]))
        XCTAssertTrue(members.first?.hasPrefix("\"schema\"") ?? false)
        TestSupport.writeFile(reversed, Array(("{" + members.reversed().joined(separator: ",\n") + "}").utf8))
        XCTAssertEqual(system("gzip -c \(quote(pretty)) > \(quote(zipped))"), 0)
        for path in [pretty, sorted, reversed, zipped] {
            let r = TestSupport.run(["diff", path, compact, "--format", "json"])
            XCTAssertEqual(r.status, 0, "\(path): \(r.stderr)")
            XCTAssertEqual(r.stdout, expected.stdout, path)
        }
    }

    // 5. Write errors and closed pipes.

    func testWriteErrorsAreErrors() throws {
        guard access("/dev/full", W_OK) == 0 else { throw XCTSkip("no /dev/full") }
        let b = quote(TestSupport.binary), t = quote(single)
        assertOneLineError(shell("\(b) report \(t) -o /dev/full"), "/dev/full: write failed: No space left on device")
        assertOneLineError(shell("\(b) report \(t) > /dev/full"), "standard output: write failed: No space left on device")
        assertOneLineError(shell("\(b) report \(t) >&-"), "standard output: write failed: Bad file descriptor")
        assertOneLineError(shell("\(b) summary \(t) > /dev/full"), "standard output: write failed")
        assertOneLineError(shell("\(b) diff \(t) \(t) --format json > /dev/full"), "standard output: write failed")
        assertOneLineError(shell("\(b) diff \(t) \(t) --output json=/dev/full > /dev/null"), "/dev/full: write failed")
    }

    func testAClosedPipeEndsQuietly() {
        // A report far larger than a pipe's buffer, read by `head` that stops after a byte.
        let trace = temporary(".json")
        let events = (0..<3000).map { TestSupport.x("aten::op_\($0)", ts: "\($0 * 10)", dur: "5") }
        TestSupport.writeFile(trace, Array(TestSupport.kineto(events).utf8))
        let b = quote(TestSupport.binary)
        for ignore in ["", "trap '' PIPE; "] {  // SIGPIPE default (killed by it), or ignored (EPIPE)
            let status = temporary(".status")
            let r = shell("\(ignore)\(b) report \(quote(trace)) --format json --top 3000 | head -c 1 > /dev/null; echo ${PIPESTATUS[0]:-$?} > \(status)")
            XCTAssertEqual(r.stderr, "", ignore)
            let code = Int32(TestSupport.readFile(status).trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            XCTAssertTrue(code == 141 || code == 0, "\(ignore): exit \(code)")
        }
    }

    // 7. Summary validation.

    func testNonFiniteValuesAndMissingMetricsInSummariesAreErrors() {
        let saved = TestSupport.readFile(summary(of: single))
        let infinite = temporary(".samples.json"), bare = temporary(".samples.json")
        TestSupport.writeFile(infinite, Array(saved.replacingOccurrences(of: "\"values\":[", with: "\"values\":[1e400,").utf8))
        assertOneLineError(run(["diff", infinite, single]), "1e400 is out of range (not a finite number)")
        let range = saved.range(of: "\"metrics\":")!
        TestSupport.writeFile(bare, Array((String(saved[..<range.lowerBound]) + "\"nometrics\":" + saved[range.upperBound...]).utf8))
        assertOneLineError(run(["diff", bare, single]), "\(bare): missing metrics (an array)")
    }

    // Values at the ends of the ranges, through every analysis and output.

    func testExtremeValuesAreReportedNotTrapped() {
        let step = TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "1", dur: "10")
        let traces = [
            // Slices of 126 years (inside the time range): durations past Int64 when scaled.
            TestSupport.kineto([TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "1", dur: "4000000000000000"),
                                TestSupport.x("aten::mm", ts: "2", dur: "4000000000000000")]),
            // Memory events whose sums pass Int64.
            TestSupport.kineto([step] + (1...2).map { i in
                #"{"ph": "i", "name": "[memory]", "pid": 1, "tid": 1, "ts": \#(i), "args": {"Bytes": 9223372036854775807, "#
                    + #""Total Allocated": 9223372036854775807, "Device Type": 1, "Device Id": 0}}"#
            }),
            // A collective whose byte count overflows.
            TestSupport.kineto([step, TestSupport.x("nccl:all_reduce", cat: "kernel", ts: "1", dur: "1", pid: "0", tid: "7",
                                                    args: #""In msg nelems": 9223372036854775807, "dtype": "Float", "Collective name": "allreduce", "Group size": 2"#)]),
        ]
        for (n, json) in traces.enumerated() {
            let a = temporary(".json"), b = temporary(".json")
            TestSupport.writeFile(a, Array(json.utf8))
            TestSupport.writeFile(b, Array(json.utf8))
            for format in ["text", "json", "markdown"] {
                let r = TestSupport.run(["report", a, b, "--format", format])
                XCTAssertEqual(r.status, 0, "trace \(n) \(format): \(r.stderr)")
            }
            XCTAssertEqual(TestSupport.run(["summary", a]).status, 0, "trace \(n)")
            for format in ["text", "json", "markdown", "junit", "folded"] {
                let r = TestSupport.run(["diff", a, b, "--format", format])
                XCTAssertTrue([0, 1, 3].contains(r.status), "trace \(n) diff \(format): \(r.status) \(r.stderr)")
            }
        }
    }

    // 8. One unit larger than the window.

    func testAHugeStringIsAnErrorAndHugeWhitespaceIsSkipped() {
        let event = TestSupport.x("a", ts: "1", dur: "2")
        let huge = temporary(".json.gz"), spaced = temporary(".json.gz")
        // 80 MB inflated each, from a few hundred KB of gzip.
        let head = "{\"traceEvents\": [\(event), {\"ph\": \"X\", \"name\": "
        let string = "{ printf '\(head)\"'; head -c 80000000 /dev/zero | tr '\\0' a; printf '\"}]}'; }"
        XCTAssertEqual(system("\(string) | gzip -1 > \(huge)"), 0)
        assertOneLineError(run(["report", huge]), "\(huge): byte \(head.utf8.count): a string longer than the 64 MiB one event or member may take")
        let space = "{ printf '{\"traceEvents\": [\(event),'; head -c 80000000 /dev/zero | tr '\\0' ' '; printf '\(event)]}'; }"
        XCTAssertEqual(system("\(space) | gzip -1 > \(spaced)"), 0)
        let r = TestSupport.run(["report", spaced, "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}
