import TestSupport
import TraceImport
import XCTest

/// torch_npu db exports the CLI cannot read: one line naming the file, exit 2; and one it can.
final class NPUDatabaseCLITests: XCTestCase {
    func testDatabaseWithoutARequiredTableIsOneLineAndExitTwo() throws {
        let path = TestSupport.temporaryPath("-ascend_pytorch_profiler_0.db")
        defer { unlink(path) }
        try SQLiteDatabase.create(path: path, script: "CREATE TABLE PYTORCH_API (startNs TEXT); CREATE TABLE TASK (startNs INTEGER);")
        let r = TestSupport.run(["report", path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, "stepscope: error: \(path): a torch_npu db export without table(s) STRING_IDS\n")
    }

    func testSampleRunReportsTwoNPURanks() throws {
        let root = TestSupport.temporaryPath("-npu-cli")
        for rank in 0...1 { try NPUSample.rank(rank).write(root: root, db: true) }
        let r = TestSupport.run(["report", root])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 ranks, 1 step"), r.stdout)
        XCTAssertTrue(r.stdout.contains("NPU (all steps)"), r.stdout)
    }
}
