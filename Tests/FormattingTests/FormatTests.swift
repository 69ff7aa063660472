import Formatting
import XCTest

/// Number formatting, including the widths that once crashed (zero decimals).
final class NumberFormatTests: XCTestCase {
    func testCounted() {
        XCTAssertEqual(counted(1, "block"), "1 block")
        XCTAssertEqual(counted(0, "block"), "0 blocks")
        XCTAssertEqual(counted(971, "rank"), "971 ranks")
    }

    func testBytes() {
        XCTAssertEqual(formatBytes(512), "512 B")
        XCTAssertEqual(formatBytes(1536), "1.50 KiB")
        XCTAssertEqual(formatBytes(20 << 20), "20.0 MiB")
        XCTAssertEqual(formatBytes(200 << 20), "200 MiB")
        XCTAssertEqual(formatBytes(6_629_508_096), "6.17 GiB")
        XCTAssertEqual(formatBytes(-(300 << 20)), "-300 MiB")
    }

    func testDurations() {
        XCTAssertEqual(formatDuration(999), "999 ns")
        XCTAssertEqual(formatDuration(1_500), "1.5 us")
        XCTAssertEqual(formatDuration(830_000_000), "830.0 ms")
        XCTAssertEqual(formatDuration(2_574_000_000), "2.574 s")
    }
}
