import Foundation
import TestSupport
import XCTest

/// `--device-peak FILE` and the efficiency sections of `stepscope report` (docs/efficiency.md).
final class EfficiencyCLITests: XCTestCase {
    /// One step with an fp32 `aten::mm` of 64x64x64 that ran a 10 us kernel.
    static let trace = TestSupport.kineto([
        TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
        TestSupport.x("aten::mm", ts: "1", dur: "20",
                      args: #""Input Dims": [[64, 64], [64, 64]], "Input type": ["float", "float"], "Concrete Inputs": ["", ""]"#),
        TestSupport.x("cudaLaunchKernel", cat: "cuda_runtime", ts: "2", dur: "1", args: "\"correlation\": 1"),
        TestSupport.x("sm80_xmma_gemm_f32f32_f32f32_f32_nn_n", cat: "kernel", ts: "5", dur: "10", pid: "0", tid: "7",
                      args: "\"correlation\": 1"),
    ])

    func testDevicePeakFileGivesTheRooflineAndMFU() throws {
        let tracePath = TestSupport.temporaryPath(".json"), peakPath = TestSupport.temporaryPath(".json")
        defer { unlink(tracePath); unlink(peakPath) }
        TestSupport.writeFile(tracePath, Array(Self.trace.utf8))
        TestSupport.writeFile(peakPath, Array(#"{"name": "Test device", "memory_gbps": 100, "tflops": {"fp32": 10}}"#.utf8))
        let r = TestSupport.run(["report", "--format", "json", "--device-peak", peakPath, tracePath])
        XCTAssertEqual(r.status, 0, r.stderr)
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let rank = try XCTUnwrap((doc["ranks"] as? [[String: Any]])?.first)
        let e = try XCTUnwrap(rank["efficiency"] as? [String: Any])
        XCTAssertEqual((e["peaks"] as? [String: Any])?["name"] as? String, "Test device")
        // 2*64^3 FLOPs over a 100 us step at 10 TFLOP/s (10^4 FLOP/ns).
        let flops = 2.0 * 64 * 64 * 64
        XCTAssertEqual((e["flops"] as? NSNumber)?.doubleValue, flops)
        XCTAssertEqual(try XCTUnwrap((e["mfu"] as? NSNumber)?.doubleValue), flops / (100_000 * 10_000), accuracy: 1e-5)
        let mm = try XCTUnwrap((rank["ops"] as? [[String: Any]])?.first { $0["name"] as? String == "aten::mm" })
        // 3 * 64*64*4 bytes; at 100 GB/s that is 491.52 ns, above the 52.4 ns of compute: memory bound.
        XCTAssertEqual((mm["bytes"] as? NSNumber)?.intValue, 49_152)
        XCTAssertEqual(mm["bound"] as? String, "memory")
        XCTAssertEqual(try XCTUnwrap((mm["roofline_pct"] as? NSNumber)?.doubleValue), 100 * 491.52 / 10_000, accuracy: 0.01)
        XCTAssertEqual(mm["precision"] as? String, "fp32")
        // The text report shows the device and the operator by headroom.
        let text = TestSupport.run(["report", "--device-peak", peakPath, tracePath])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("peaks of Test device: fp32 10.0 TFLOP/s, 100 GB/s"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Top operators by headroom"), text.stdout)
    }

    func testABadDevicePeakFileIsOneLineNamingTheFieldAndExitTwo() {
        let tracePath = TestSupport.temporaryPath(".json"), peakPath = TestSupport.temporaryPath(".json")
        defer { unlink(tracePath); unlink(peakPath) }
        TestSupport.writeFile(tracePath, Array(Self.trace.utf8))
        TestSupport.writeFile(peakPath, Array(#"{"name": "X", "memory_gbps": -1, "tflops": {}}"#.utf8))
        let r = TestSupport.run(["report", "--device-peak", peakPath, tracePath])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "stepscope: error: \(peakPath): field \"memory_gbps\": expected a positive number\n")
        let missing = TestSupport.run(["report", "--device-peak", peakPath + ".absent", tracePath])
        XCTAssertEqual(missing.status, 2)
        XCTAssertTrue(missing.stderr.hasPrefix("stepscope: error: \(peakPath).absent: "), missing.stderr)
    }

    func testDiffShowsASlowerKernelAtTheSameFLOPs() throws {
        let basePath = TestSupport.temporaryPath(".json"), candPath = TestSupport.temporaryPath(".json")
        defer { unlink(basePath); unlink(candPath) }
        TestSupport.writeFile(basePath, Array(TestSupport.mmSteps(kernelUs: [10, 11, 10, 9, 10, 11, 9, 10]).utf8))
        TestSupport.writeFile(candPath, Array(TestSupport.mmSteps(kernelUs: [20, 21, 20, 19, 20, 21, 19, 20]).utf8))
        let r = TestSupport.run(["diff", "--format", "json", basePath, candPath])
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stderr)
        let metrics = try XCTUnwrap(doc["metrics"] as? [[String: Any]])
        let row = try XCTUnwrap(metrics.first { $0["kind"] as? String == "op_flops" && $0["name"] as? String == "aten::mm" }, r.stdout)
        XCTAssertEqual(row["verdict"] as? String, "regression")
        XCTAssertNotNil(metrics.first { $0["kind"] as? String == "mfu" })
        let text = TestSupport.run(["diff", "--format", "markdown", basePath, candPath])
        XCTAssertTrue(text.stdout.contains("op TFLOP/s aten::mm"), text.stdout)
    }
}
