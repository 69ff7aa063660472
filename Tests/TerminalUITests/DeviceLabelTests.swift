import Analysis
import TerminalUI
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// The views name the rank's device as it is: "NPU" for a torch_npu profile, "GPU" for CUDA.
final class DeviceLabelTests: XCTestCase {
    func npuModel() throws -> RunModel {
        let root = TestSupport.temporaryPath("-npu-ui")
        let path = try NPUSample.rank(0).write(root: root, db: true)
        let run = try TraceLoader.loadRun(paths: [path])
        return RunModel(run: run, report: RunReport(run: run))
    }

    func testNPUProfileSaysNPU() throws {
        let model = try npuModel()
        XCTAssertEqual(model.ranks[0].deviceLabel, "NPU")
        let overview = Fixtures.render(Fixtures.app(model))
        XCTAssertTrue(overview.text.contains("NPU (all steps)"), overview.text)
        let flame = Fixtures.render(Fixtures.app(model, tab: 2), "w")
        XCTAssertTrue(flame.line(23).contains("NPU time"), flame.line(23))
        XCTAssertFalse(flame.text.contains("GPU"), flame.text)
        XCTAssertEqual(try Fixtures.model(Fixtures.smallTrace).ranks[0].deviceLabel, "GPU")
    }
}
