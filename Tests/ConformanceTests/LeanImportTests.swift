import Analysis
import Report
import TestSupport
import TraceImport
import XCTest

/// `stepscope diff` loads traces keeping only the args the analyses read and skips the operator
/// tables; its per-step samples must be exactly those of a full load.
final class LeanImportTests: XCTestCase {
    func samples(_ path: String, lean: Bool) throws -> RunSamples {
        let run = try TraceLoader.loadRun(paths: [path], options: lean ? ImportOptions(argKeys: Analyzer.argumentKeys) : ImportOptions())
        return RunReport(run: run, options: AnalysisOptions(operatorTables: !lean)).samples
    }

    func check(_ path: String) throws {
        let full = try samples(path, lean: false), lean = try samples(path, lean: true)
        XCTAssertEqual(lean.steps, full.steps, path)
        XCTAssertEqual(lean.ranks, full.ranks, path)
        XCTAssertEqual(lean.metrics, full.metrics, path)
        XCTAssertEqual(lean.shapeMetrics, full.shapeMetrics, path)
        XCTAssertEqual(lean.calls, full.calls, path)
        XCTAssertEqual(lean.folded, full.folded, path)
    }

    func testBundledSampleTraces() throws {
        for name in ["single", "ddp2_straggler"] { try check(TestSupport.packageRoot + "/sample-traces/" + name) }
    }

    func testSharedTraces() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent (lean import check on real traces)")
            return
        }
        for folder in ["kineto", "hta/nccl_parser_config", "hta/df_index_resolver", "tracelens/h100",
                       "torch-cpu/single", "torch-cpu/ddp_ws2_straggler"] {
            try check(shared + "/" + folder)
        }
    }
}
