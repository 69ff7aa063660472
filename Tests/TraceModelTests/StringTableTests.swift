import TraceModel
import XCTest

final class StringTableTests: XCTestCase {
    func testEmptyStringIsIdZero() {
        let t = StringTable()
        XCTAssertEqual(t.count, 1)
        XCTAssertEqual(t.intern(""), 0)
        XCTAssertEqual(t[0], "")
        XCTAssertEqual(t.length(0), 0)
        XCTAssertEqual(t.lookup(""), 0)
        XCTAssertEqual(t.count, 1)
    }

    func testInternAssignsDenseIdsAndDeduplicates() {
        let t = StringTable()
        XCTAssertEqual(t.intern("abc"), 1)
        XCTAssertEqual(t.intern("abd"), 2)
        XCTAssertEqual(t.intern("abc"), 1)
        XCTAssertEqual(t.intern("ab"), 3)
        XCTAssertEqual(t.intern("abd"), 2)
        XCTAssertEqual(t.count, 4)
        XCTAssertEqual(t[1], "abc")
        XCTAssertEqual(t[2], "abd")
        XCTAssertEqual(t[3], "ab")
        XCTAssertEqual(t.length(1), 3)
        XCTAssertEqual(t.length(3), 2)
    }

    func testLookupDoesNotAdd() {
        let t = StringTable()
        let id = t.intern("aten::mm")
        XCTAssertEqual(t.lookup("aten::mm"), id)
        XCTAssertNil(t.lookup("aten::addmm"))
        XCTAssertNil(t.lookup("aten::m"))
        XCTAssertEqual(t.count, 2)
    }

    func testStringsDifferingOnlyAfterTheFirstWord() {
        // The hash works 8 bytes at a time; strings that share their first words must stay apart.
        let t = StringTable()
        let a = t.intern("aaaaaaaab")
        let b = t.intern("aaaaaaaac")
        let c = t.intern("aaaaaaaabaaaaaaa")
        let d = t.intern("aaaaaaaabaaaaaab")
        XCTAssertEqual(Set([a, b, c, d]).count, 4)
        XCTAssertEqual(t[a], "aaaaaaaab")
        XCTAssertEqual(t[b], "aaaaaaaac")
        XCTAssertEqual(t[c], "aaaaaaaabaaaaaaa")
        XCTAssertEqual(t[d], "aaaaaaaabaaaaaab")
    }

    func testEmbeddedNulAndUTF8() {
        let t = StringTable()
        let a = t.intern("a\u{0}b")
        let b = t.intern("a\u{0}c")
        let c = t.intern("café 🚀")
        XCTAssertNotEqual(a, b)
        XCTAssertEqual(t[a], "a\u{0}b")
        XCTAssertEqual(t[b], "a\u{0}c")
        XCTAssertEqual(t[c], "café 🚀")
        XCTAssertEqual(t.length(c), "café 🚀".utf8.count)
        XCTAssertEqual(t.lookup("café 🚀"), c)
    }

    func testRawBufferInternMatchesStringIntern() {
        let t = StringTable()
        let id = t.intern("cudaLaunchKernel")
        let bytes = Array("cudaLaunchKernel".utf8)
        let viaBuffer = bytes.withUnsafeBytes { t.intern($0) }
        XCTAssertEqual(viaBuffer, id)
        let viaPointer = bytes.withUnsafeBytes { t.intern($0.baseAddress!, 4) }  // "cuda"
        XCTAssertNotEqual(viaPointer, id)
        XCTAssertEqual(t[viaPointer], "cuda")
        let empty = [UInt8]().withUnsafeBytes { t.intern($0) }
        XCTAssertEqual(empty, 0)
    }

    func testManyStringsSurviveGrowth() {
        // 200k strings: well past the initial 4096 slots and the 64 KiB arena.
        let t = StringTable()
        let n = 200_000
        for i in 0..<n {
            XCTAssertEqual(t.intern("name_\(i)"), UInt32(i + 1))
        }
        XCTAssertEqual(t.count, n + 1)
        for i in stride(from: 0, to: n, by: 997) {
            XCTAssertEqual(t.lookup("name_\(i)"), UInt32(i + 1))
            XCTAssertEqual(t[UInt32(i + 1)], "name_\(i)")
            XCTAssertEqual(t.intern("name_\(i)"), UInt32(i + 1))
        }
        XCTAssertEqual(t[UInt32(n)], "name_\(n - 1)")
        XCTAssertNil(t.lookup("name_\(n)"))
        XCTAssertEqual(t.count, n + 1)
    }

    func testStringLargerThanTheArena() {
        let t = StringTable()
        let small = t.intern("before")
        let big = String(repeating: "xyz0123456789", count: 20_000)  // 260 KB > 64 KiB arena
        let id = t.intern(big)
        XCTAssertEqual(t[id], big)
        XCTAssertEqual(t.length(id), big.utf8.count)
        XCTAssertEqual(t[small], "before")
        XCTAssertEqual(t.intern(big), id)
        XCTAssertEqual(t.intern("after"), id + 1)
        XCTAssertEqual(t[id + 1], "after")
    }

    func testHasPrefix() {
        let t = StringTable()
        let step = t.intern("ProfilerStep#12")
        let exact = t.intern("ProfilerStep#")
        let short = t.intern("ProfilerStep")
        let lower = t.intern("profilerStep#1")
        XCTAssertTrue(t.hasPrefix(step, "ProfilerStep#"))
        XCTAssertTrue(t.hasPrefix(exact, "ProfilerStep#"))
        XCTAssertFalse(t.hasPrefix(short, "ProfilerStep#"))
        XCTAssertFalse(t.hasPrefix(lower, "ProfilerStep#"))
        XCTAssertTrue(t.hasPrefix(step, ""))
        XCTAssertTrue(t.hasPrefix(0, ""))
        XCTAssertFalse(t.hasPrefix(0, "P"))
    }

    func testWithBytes() {
        let t = StringTable()
        let id = t.intern("nccl:all_reduce")
        let bytes = t.withBytes(id) { Array($0) }
        XCTAssertEqual(bytes, Array("nccl:all_reduce".utf8))
        XCTAssertEqual(t.withBytes(0) { $0.count }, 0)
    }

    func testByteSizeGrowsWithContent() {
        let t = StringTable()
        let before = t.byteSize
        for i in 0..<10_000 { _ = t.intern("some longer operator name number \(i)") }
        XCTAssertGreaterThan(t.byteSize, before)
    }

    func testInternPaddedMatchesInternWhateverFollows() {
        // internPadded may read 16 bytes whatever the length: the bytes past `count` must not matter.
        let t = StringTable()
        var seed: UInt64 = 42
        func next() -> UInt8 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: seed >> 56) }
        var expected: [[UInt8]: UInt32] = [:]
        for round in 0..<3000 {
            let n = round % 21  // 0...20: both sides of the 8- and 16-byte limits
            let body = (0..<n).map { _ in UInt8(ascii: "a") + next() % 4 }  // few letters: many repeats
            let padded = body + (0..<16).map { _ in next() }
            let id = padded.withUnsafeBytes { t.internPadded($0.baseAddress!, n) }
            let plain = String(decoding: body, as: UTF8.self)
            XCTAssertEqual(t[id], plain, "round \(round)")
            if let e = expected[body] { XCTAssertEqual(id, e, "round \(round)") } else { expected[body] = id }
            XCTAssertEqual(t.intern(plain), id)
        }
        XCTAssertEqual(t.count, expected.count + (expected[[]] == nil ? 1 : 0))
        let empty = [UInt8](repeating: 0x41, count: 16).withUnsafeBytes { t.internPadded($0.baseAddress!, 0) }
        XCTAssertEqual(empty, 0)
    }

    func testInternPaddedAfterPlainIntern() {
        let t = StringTable()
        let a = t.intern("aten::mm")
        let b = t.intern("cudaLaunchKernel_long_name")
        let bytesA = Array("aten::mmXXXXXXXXXXXXXXXX".utf8)
        let bytesB = Array("cudaLaunchKernel_long_nameXXXXXXXXXXXXXXXX".utf8)
        XCTAssertEqual(bytesA.withUnsafeBytes { t.internPadded($0.baseAddress!, 8) }, a)
        XCTAssertEqual(bytesA.withUnsafeBytes { t.internPadded($0.baseAddress!, 8) }, a)
        XCTAssertEqual(bytesB.withUnsafeBytes { t.internPadded($0.baseAddress!, 26) }, b)
        let prefix = bytesA.withUnsafeBytes { t.internPadded($0.baseAddress!, 4) }
        XCTAssertEqual(t[prefix], "aten")
        XCTAssertEqual(t.count, 4)
    }

    /// Long strings that share their length and first and last words (the long-string cache's
    /// key) but differ in the middle keep distinct ids, however they interleave.
    func testLongStringsSharingTheCacheKey() {
        let t = StringTable()
        let names = (0..<50).map { "void kernel<" + String(repeating: "x", count: $0 % 7) + "\($0 % 10)" + String(repeating: "y", count: 6 - $0 % 7) + ">(float*)" }
        var ids: [String: UInt32] = [:]
        for round in 0..<3 {
            for name in names.shuffled() {
                var padded = Array(name.utf8) + [UInt8](repeating: 0xEE, count: 16)
                let id = padded.withUnsafeMutableBytes { t.internPadded($0.baseAddress!, name.utf8.count) }
                XCTAssertEqual(t[id], name)
                if round == 0, ids[name] == nil { ids[name] = id } else { XCTAssertEqual(ids[name], id, name) }
            }
        }
        XCTAssertEqual(Set(ids.values).count, Set(names).count)
        XCTAssertEqual(t.count, Set(names).count + 1)
    }
}
