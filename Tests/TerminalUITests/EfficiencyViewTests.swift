import TerminalUI
import XCTest

/// The efficiency view (tab 8, docs/tui.md): operators by headroom, the roofline chart, steps by precision.
final class EfficiencyViewTests: XCTestCase {
    /// One 100 us step on an H100: a bf16 1024x1024x1024 mm (a 20 us kernel) and an elementwise add (5 us).
    static let trace = #"{"deviceProperties": [{"id": 0, "name": "NVIDIA H100 80GB HBM3"}], "traceEvents": ["#
        + [
            Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            Fixtures.x("aten::mm", ts: "1", dur: "30",
                       args: #""Input Dims": [[1024, 1024], [1024, 1024]], "Input type": ["c10::BFloat16", "c10::BFloat16"], "Concrete Inputs": ["", ""]"#),
            Fixtures.x("cudaLaunchKernel", cat: "cuda_runtime", ts: "2", dur: "1", args: #""correlation": 1"#),
            Fixtures.x("aten::add", ts: "40", dur: "10",
                       args: #""Input Dims": [[1024, 1024], [1024, 1024], []], "Input type": ["c10::BFloat16", "c10::BFloat16", "Scalar"], "Concrete Inputs": ["", "", "1"]"#),
            Fixtures.x("cudaLaunchKernel", cat: "cuda_runtime", ts: "41", dur: "1", args: #""correlation": 2"#),
            Fixtures.x("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n", cat: "kernel", ts: "5", dur: "20", pid: "0", tid: "7", args: #""correlation": 1"#),
            Fixtures.x("void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<c10::BFloat16>>", cat: "kernel",
                       ts: "45", dur: "5", pid: "0", tid: "7", args: #""correlation": 2"#),
        ].joined(separator: ",\n") + "]}"

    func testOperatorsByHeadroomRooflineAndSteps() throws {
        let app = Fixtures.app(try Fixtures.model(Self.trace), tab: 8)
        let screen = Fixtures.render(app)
        XCTAssertTrue(screen.line(0).contains("8 Efficiency"), screen.line(0))
        // mm: 2*1024^3 FLOPs in 20 us = 107.4 TFLOP/s; at 989.5 TFLOP/s it would take 2.17 us: 17.83 us headroom.
        XCTAssertTrue(screen.line(2).contains("17.8 us") && screen.line(2).contains("107.4") && screen.line(2).contains("aten::mm"), screen.line(2))
        XCTAssertTrue(screen.line(3).contains("aten::add") && screen.line(3).contains("memory"), screen.line(3))
        XCTAssertTrue(screen.text.contains("◆"), screen.text)
        XCTAssertTrue(screen.text.contains("ProfilerStep#1: MFU"), screen.text)
        XCTAssertTrue(screen.text.contains("bf16 100.0%"), screen.text)
        XCTAssertTrue(screen.line(23).contains("NVIDIA H100 80GB HBM3"), screen.line(23))
        assertSnapshot(screen, "efficiency")
        // j selects the add: its row is highlighted, the chart's ◆ moves.
        let next = Fixtures.render(app, "j")
        XCTAssertNotEqual(next.text, screen.text)
    }

    func testATraceWithoutShapesSaysSo() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 8)
        XCTAssertTrue(Fixtures.render(app).text.contains("record_shapes=True"))
    }
}
