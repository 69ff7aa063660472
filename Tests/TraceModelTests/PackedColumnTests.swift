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

    /// Blocks of ids mixed with a far sentinel are split (the ids alone set the width) and still
    /// give back every value; they take fewer bytes than unsplit blocks would.
    func testSplitBlocksRoundTripAndShrink() {
        var rng = SystemRandomNumberGenerator()
        // Per block: -1 or ids near a large base, in 1-, 2- and 4-byte spans; Int64.min with ids; a
        // sentinel that is the only value besides one id; the split needing the full 4-byte span.
        let spans: [Int64] = [200, 60_000, 4_000_000_000]
        var values: [Int64] = []
        for b in 0..<12 {
            let span = spans[b % 3]
            for k in 0..<1024 {
                let sentinel: Int64 = b < 6 ? -1 : (b < 9 ? .min : 0)
                if b == 11 { values.append(k == 0 ? sentinel : (k == 1 ? 5_000_000_000 : 5_000_000_000 + 0xFFFF_FFFE)); continue }
                values.append(Int64.random(in: 0..<4) == 0 ? sentinel : 9_000_000_000 + Int64.random(in: 0...span, using: &rng))
            }
        }
        values += [-1, 7, 7_000_000]   // a partial last block
        let packed = PackedColumn(values)
        XCTAssertTrue(packed.elementsEqual(values))
        let codes = packed.layout.map { $0 & 0xFF }
        XCTAssertEqual(Array(codes.prefix(3)), [5, 6, 7], "ids within 1, 2 and 4 bytes of each other beside -1")
        XCTAssertEqual(codes[11], 7, "an id span of 0xFFFF_FFFE still splits in 4 bytes")
        XCTAssertEqual(codes[12], 3, "a block too small to gain stays unsplit")
        let narrow: [UInt32] = (0..<3000).map { $0 % 3 == 0 ? 0 : 4_000_000_000 + UInt32($0) }
        XCTAssertEqual(Array(PackedColumn(narrow)), narrow)
    }

    /// Parents are stored as distances back (0 for none) and read back as indices or -1.
    func testParentColumnRoundTrips() {
        let parents: [Int32] = (0..<5000).map { (i: Int) -> Int32 in
            let back: Int = 1 + i % 3
            return i % 4 == 0 ? -1 : Int32(i - back)
        }
        let column = ParentColumn(parents)
        XCTAssertEqual(Array(column), parents)
        let builder = ParentColumn.Builder(capacity: 10)
        for p in parents { builder.append(p) }
        XCTAssertEqual(builder.finish(), column)
        XCTAssertEqual(column.distance.layout.map { $0 & 0xFF }.max(), 1, "distances of a few slices take a byte")
        let literal: ParentColumn = [-1, 0, 1, 1]
        XCTAssertEqual(Array(literal), [-1, 0, 1, 1])
        XCTAssertTrue(ParentColumn().isEmpty)
    }

    /// Values read back from a builder while appending, packed blocks and the block being filled.
    func testBuilderReadsBackWhatItHolds() {
        let values = mixed(3 * 1024 + 100)
        let builder = PackedColumn<Int64>.Builder()
        for (i, v) in values.enumerated() {
            builder.append(v)
            if i % 97 == 0 { XCTAssertEqual(builder[i / 2], values[i / 2]) }
        }
        XCTAssertEqual(builder.appended, values.count)
        XCTAssertTrue((0..<values.count).allSatisfy { builder[$0] == values[$0] })
    }
}
