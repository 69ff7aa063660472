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
        XCTAssertTrue(r.stderr.contains("unknown format 'yaml'"), r.stderr)
    }

    func testRanksLoadedSideBySideOrOneByOneGiveTheSameReport() {
        let dir = TestSupport.packageRoot + "/sample-traces/ddp2_straggler"
        let parallel = TestSupport.run(["report", dir, "--format", "json"])
        let serial = TestSupport.run(["report", dir, "--format", "json", "--jobs", "1"])
        XCTAssertEqual(parallel.status, 0, parallel.stderr)
        XCTAssertEqual(parallel.stdout, serial.stdout)
        let bad = TestSupport.run(["report", dir, "--jobs", "0"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertEqual(bad.stderr, "stepscope: error: --jobs must be at least 1\n")
    }
}
