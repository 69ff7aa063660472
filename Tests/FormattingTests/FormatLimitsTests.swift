import Formatting
import XCTest

/// Formatting at the ends of Int64 and past them (sums of hostile values): text, never a trap.
final class FormatLimitsTests: XCTestCase {
    func testDurationsAtTheEndsOfInt64() {
        XCTAssertEqual(formatDuration(.max), "9223372036.855 s")
        XCTAssertEqual(formatDuration(.min), "-9223372036.855 s")
        XCTAssertEqual(formatDuration(4_000_000_000_000_000_000), "4000000000.000 s")
        // Rounding carries into the whole units, on both sides of zero.
        XCTAssertEqual(formatDuration(1_999_999_999), "2.000 s")
        XCTAssertEqual(formatDuration(-1_999_999_999), "-2.000 s")
        XCTAssertEqual(formatDuration(-1_000_040), "-1.0 ms")
        XCTAssertEqual(formatDuration(1_950), "2.0 us")
    }

    func testFixedAndPercentPastInt64() {
        XCTAssertEqual(formatFixed(1.8446744073709552e19, 1), "1.8446744073709552e+19")
        XCTAssertEqual(formatFixed(-1e300, 3), "-1e+300")
        XCTAssertEqual(formatFixed(12.25, 1), "12.3")
        XCTAssertEqual(percent(.max, 1), "922337203685477580.7%")
        XCTAssertEqual(percent(.max, .max), "100.0%")
        XCTAssertEqual(percent(1, 3), "33.3%")
    }

    func testSaturatingConversion() {
        XCTAssertEqual(saturatingInt64(1e30), .max)
        XCTAssertEqual(saturatingInt64(-1e30), .min)
        XCTAssertEqual(saturatingInt64(.infinity), .max)
        XCTAssertEqual(saturatingInt64(.nan), 0)
        XCTAssertEqual(saturatingInt64(2.5), 3)
        XCTAssertEqual(saturatingInt64(0x1p62), 1 << 62)
    }
}
