import TestSupport
import XCTest

/// Nsight Systems inputs the CLI cannot read: one line naming the file, exit 2.
final class NsysCLITests: XCTestCase {
    func testNsysReportSaysHowToExportItAndExitsTwo() {
        let path = TestSupport.temporaryPath(".nsys-rep")
        defer { unlink(path) }
        TestSupport.writeFile(path, [UInt8]("binary report".utf8))
        let r = TestSupport.run(["report", path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "stepscope: error: \(path): an Nsight Systems report, which only nsys can read; export it first: "
                       + "nsys export --type sqlite -o FILE.sqlite \(path)\n")
    }

    func testCorruptSQLiteIsOneLineAndExitTwo() {
        // The magic makes it an SQLite file whatever its name.
        let path = TestSupport.temporaryPath(".json")
        defer { unlink(path) }
        TestSupport.writeFile(path, Array("SQLite format 3".utf8) + [0] + [UInt8](repeating: 0xFF, count: 2000))
        let r = TestSupport.run(["report", path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "stepscope: error: \(path): file is not a database\n")
    }

    func testSharedExportReportsTwoRanks() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent (Nsight Systems export report)")
            return
        }
        let r = TestSupport.run(["report", shared + "/nsys/h100_2gpu_1s.sqlite", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"rank\":1"))
        XCTAssertTrue(r.stdout.contains("\"code\":\"nsys-missing-table\""))
    }

    func testStepRangeNamesTheStepsOfReportAndDiff() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent (--step-range on the Nsight Systems export)")
            return
        }
        let path = shared + "/nsys/h100_2gpu_1s.sqlite"
        let r = TestSupport.run(["report", path, "--step-range", "aten::linear", "--format", "json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("\"aten::linear#1\""), r.stdout.prefix(400).description)
        let d = TestSupport.run(["diff", path, path, "--step-range", "aten::linear", "--format", "json"])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertTrue(d.stdout.contains("aten::linear#"), d.stdout.prefix(400).description)
    }
}
