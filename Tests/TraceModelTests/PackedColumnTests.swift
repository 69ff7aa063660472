import XCTest
@testable import TraceModel

/// `PackedColumn` gives back exactly what was packed, for every block width and across block
/// boundaries, whether built from a sequence or a value at a time.
final class PackedColumnTests: XCTestCase {
    /// Values whose blocks need 0, 1, 2, 4 and 8 bytes, with a partial last block.
    private func mixed(_ n: Int) -> [Int64] {
        var rng = SystemRandomNumberGenerator()
        return (0..<n).map { i -> Int64 in
            switch (i / 1024) % 6 {
            case 0: return -1                                   // constant block
            case 1: return 1_000 + Int64(i % 200)               // 1 byte
            case 2: return -5 + Int64.random(in: 0..<60_000, using: &rng)   // 2 bytes, negative base
            case 3: return 1_736_408_883_731_508_790 + Int64(i) * 3_000     // epoch ns, 4 bytes
            case 4: return i % 2 == 0 ? .min : .max                       // full range, 8 bytes
            default: return Int64.random(in: .min ... .max, using: &rng)
            }
        }
    }

    func testEveryWidthRoundTrips() {
        for n in [0, 1, 1023, 1024, 1025, 6 * 1024 + 17] {
            let values = mixed(n)
            let packed = PackedColumn(values)
            XCTAssertEqual(packed.count, n)
            XCTAssertTrue(packed.elementsEqual(values), "n=\(n)")
            let builder = PackedColumn<Int64>.Builder(capacity: 3)
            for v in values { builder.append(v) }
            XCTAssertEqual(builder.finish(), packed)
        }
    }

    func testNarrowElementTypesRoundTrip() {
        let ids: [UInt32] = (0..<5000).map { $0 % 7 == 0 ? UInt32.max : UInt32($0 * 977) }
        XCTAssertEqual(Array(PackedColumn(ids)), ids)
        let parents: [Int32] = (0..<3000).map { $0 % 5 == 0 ? -1 : Int32($0 - 3) }
        XCTAssertEqual(Array(PackedColumn(parents)), parents)
        let depths: [UInt16] = (0..<2100).map { UInt16($0 % 3 == 0 ? 65_535 : 0) }
        XCTAssertEqual(Array(PackedColumn(depths)), depths)
        let literal: PackedColumn<Int32> = [3, -1, 7]
        XCTAssertEqual(Array(literal), [3, -1, 7])
        XCTAssertTrue(PackedColumn<Int32>().isEmpty)
    }

    /// A column shared by two copies outlives the builder and the first copy.
    func testCopiesShareStorageSafely() {
        var a: PackedColumn<Int64>? = PackedColumn(mixed(4000))
        let b = a!
        a = nil
        XCTAssertEqual(b[0], -1)
        XCTAssertEqual(b[1024 + 5], 1_029)
        XCTAssertEqual(b[3 * 1024 + 1], 1_736_408_883_731_508_790 + Int64(3 * 1024 + 1) * 3_000)
    }
}
