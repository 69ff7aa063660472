import TestSupport
import XCTest

/// The binary's contract with scripts: exit codes and one-line errors naming file and offset.
final class ExitCodeTests: XCTestCase {
    func testReportOnTheBundledSampleSucceeds() {
        let r = TestSupport.run(["report", TestSupport.packageRoot + "/sample-traces/ddp2_straggler", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"schema\":\"stepscope.report\""))
        XCTAssertTrue(r.stdout.contains("\"rank\":1"))
        XCTAssertEqual(r.stderr, "")
    }

    func testInvalidJSONIsOneLineWithTheByteOffsetAndExitTwo() {
        let path = TestSupport.temporaryPath(".json")
        defer { unlink(path) }
        TestSupport.writeFile(path, Array(#"{"traceEvents": [{"ph": "X", "ts": 1, "dur": @}]}"#.utf8))
        let r = TestSupport.run(["report", path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "stepscope: error: \(path): byte 45: dur must be a number\n")
    }

    func testUnknownFormatIsAUsageErrorWithExitTwo() {
        let r = TestSupport.run(["report", "x.json", "--format", "yaml"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("'yaml' is invalid for '--format <format>'. Please provide one of 'text', 'json' or 'markdown'"), r.stderr)
    }

    func testRanksLoadedSideBySideOrOneByOneGiveTheSameReport() {
        let dir = TestSupport.packageRoot + "/sample-traces/ddp2_straggler"
        let parallel = TestSupport.run(["report", dir, "--format", "json"])
        let serial = TestSupport.run(["report", dir, "--format", "json", "--jobs", "1"])
        XCTAssertEqual(parallel.status, 0, parallel.stderr)
        XCTAssertEqual(parallel.stdout, serial.stdout)
        let bad = TestSupport.run(["report", dir, "--jobs", "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.hasPrefix("stepscope: error: --jobs must be at least 1"), bad.stderr)
        XCTAssertEqual(bad.stderr.filter { $0 == "\n" }.count, 1, bad.stderr)
    }

    func testASavedSummaryDiffsLikeItsTrace() {
        let dir = TestSupport.packageRoot + "/sample-traces/ddp2_straggler"
        let summary = TestSupport.temporaryPath(".samples.json")
        defer { unlink(summary) }
        let saved = TestSupport.run(["summary", "--samples-only", dir, "-o", summary])
        XCTAssertEqual(saved.status, 0, saved.stderr)
        XCTAssertTrue(TestSupport.readFile(summary).hasPrefix("{\"schema\":\"stepscope.samples\""))
        let fromTraces = TestSupport.run(["diff", dir, dir, "--format", "json", "--skip-steps", "1"])
        let fromSummary = TestSupport.run(["diff", summary, dir, "--format", "json", "--skip-steps", "1"])
        XCTAssertEqual(fromSummary.status, 0, fromSummary.stderr)
        XCTAssertEqual(fromSummary.stdout, fromTraces.stdout)
        // A broken summary is an input error naming the file.
        let broken = TestSupport.temporaryPath(".samples.json")
        defer { unlink(broken) }
        TestSupport.writeFile(broken, Array("{\"schema\":\"stepscope.samples\",\"version\":1,\"steps\":[\"a\"],\"metrics\":[{\"kind\":\"step\",\"name\":\"\",\"values\":[]}]}".utf8))
        let bad = TestSupport.run(["diff", broken, dir])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.hasPrefix("stepscope: error: \(broken): "), bad.stderr)
    }
}
