import TraceModel
import XCTest

final class IntMapTests: XCTestCase {
    /// Agrees with a Dictionary through growth, on keys that share low or high bits.
    func testMatchesDictionary() {
        var map = IntMap()
        var reference: [UInt64: Int32] = [:]
        var keys: [UInt64] = [0, 1, .max, .max - 1, 1 << 63, 1 << 32]
        keys += (0..<3000).map { UInt64($0) << 40 }  // same low bits
        keys += (0..<3000).map { UInt64($0) }  // same high bits
        keys += (0..<3000).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        for (n, key) in keys.enumerated() {
            let value = Int32(n % 1000)
            let got = map.value(for: key, inserting: value)
            if let old = reference[key] { XCTAssertEqual(got, old) } else {
                XCTAssertEqual(got, value)
                reference[key] = value
            }
        }
        XCTAssertEqual(map.count, reference.count)
        for (key, value) in reference { XCTAssertEqual(map[key], value) }
        XCTAssertNil(map[12345 << 20 | 7])
        for key in keys.prefix(100) { map.set(key, 7) }
        XCTAssertEqual(map[.max], 7)
        XCTAssertEqual(map[0], 7)
        XCTAssertEqual(map.count, reference.count)
    }
}
