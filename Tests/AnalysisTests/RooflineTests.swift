import Analysis
import XCTest

/// The roofline of a peak table (docs/efficiency.md, "Achieved throughput and roofline") on hand-computed values.
final class RooflineTests: XCTestCase {
    func testAttainableAndRidge() {
        let h100 = DevicePeaks(name: "H100", tflops: ["bf16": 989.5, "fp8": 1979], memoryGBps: 3350)
        // Ridge: 989.5e12 / 3350e9 = 295.37 FLOP/byte; FP8 formats share the fp8 peak.
        XCTAssertEqual(h100.ridgeIntensity(.bf16)!, 989_500.0 / 3350, accuracy: 1e-9)
        XCTAssertEqual(h100.ridgeIntensity(.fp8e5m2)!, 1_979_000.0 / 3350, accuracy: 1e-9)
        XCTAssertNil(h100.ridgeIntensity(.fp32))
        // Below the ridge the memory slope: 10 FLOP/B x 3350 GB/s = 33.5 TFLOP/s; above it the peak.
        XCTAssertEqual(h100.attainableTFLOPs(intensity: 10, precision: .bf16), 33.5, accuracy: 1e-12)
        XCTAssertEqual(h100.attainableTFLOPs(intensity: 1000, precision: .bf16), 989.5)
        // Without a peak for the precision (or none given) only the slope bounds it.
        XCTAssertEqual(h100.attainableTFLOPs(intensity: 1000, precision: .fp32), 3350, accuracy: 1e-9)
        XCTAssertEqual(h100.attainableTFLOPs(intensity: 1000, precision: nil), 3350, accuracy: 1e-9)
    }
}
