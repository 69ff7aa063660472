@testable import TraceImport
import TraceModel
import XCTest

/// `LineReader`: lines across block boundaries, the last line, long lines and read errors.
final class LineReaderTests: XCTestCase {
    /// A source that hands out `bytes` a few at a time, then fails with `failure` if set.
    struct DribbleSource: ByteSource {
        let bytes: [UInt8]
        let step: Int
        var failure: ImportError?
        var bytesConsumed: Int64 = 0
        mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
            let at = Int(bytesConsumed)
            if at == bytes.count, let failure { throw failure }
            let n = min(step, buffer.count, bytes.count - at)
            for i in 0..<n { buffer[i] = bytes[at + i] }
            bytesConsumed += Int64(n)
            return n
        }
    }

    private func lines<S: ByteSource>(_ reader: inout LineReader<S>) throws -> [String] {
        var out: [String] = []
        while let line = try reader.next() { out.append(String(decoding: line, as: UTF8.self)) }
        return out
    }

    func testLinesAcrossBlocksAndReads() throws {
        let text = "Name,Size\r\n\naten::mm,12\nlast line without newline"
        // Split as bytes: a String split on "\n" keeps "\r\n" whole (one Character).
        let expected = Array(text.utf8).split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        for (block, step) in [(4, 1), (5, 3), (7, 100), (1 << 16, 2), (3, 7)] {
            var reader = LineReader(DribbleSource(bytes: Array(text.utf8), step: step), name: "f.csv", blockSize: block)
            XCTAssertEqual(try lines(&reader), expected, "block \(block), step \(step)")
            XCTAssertNil(try reader.next(), "the end stays the end")
        }
    }

    func testTrailingNewlineEndsWithoutAnEmptyLine() throws {
        var reader = LineReader(MemorySource(Array("a\nb\n".utf8)), name: "f.csv", blockSize: 2)
        XCTAssertEqual(try lines(&reader), ["a", "b"])
        var empty = LineReader(MemorySource([]), name: "f.csv")
        XCTAssertEqual(try lines(&empty), [])
    }

    func testLongLineIsAnErrorAtItsOffset() {
        let text = "short\n" + String(repeating: "x", count: 100) + "\nnever read\n"
        var reader = LineReader(MemorySource(Array(text.utf8)), name: "f.csv", maxLine: 64, blockSize: 8)
        XCTAssertEqual(try reader.next().map { Array($0) }, Array("short".utf8))
        XCTAssertThrowsError(try reader.next()) { error in
            XCTAssertEqual("\(error)", "f.csv: byte 6: a line longer than 64 bytes")
        }
        // A line of exactly the limit is read.
        var fits = LineReader(MemorySource(Array((String(repeating: "y", count: 64) + "\n").utf8)), name: "f.csv", maxLine: 64, blockSize: 8)
        XCTAssertEqual(try fits.next()?.count, 64)
    }

    func testReadErrorIsThrownNotAnEnd() {
        let failure = ImportError(file: "f.csv", offset: 9, message: "read failed: Input/output error")
        var reader = LineReader(DribbleSource(bytes: Array("one\ntwo\nthr".utf8), step: 3, failure: failure), name: "f.csv", blockSize: 4)
        XCTAssertEqual(try reader.next().map { String(decoding: $0, as: UTF8.self) }, "one")
        XCTAssertEqual(try reader.next().map { String(decoding: $0, as: UTF8.self) }, "two")
        XCTAssertThrowsError(try reader.next()) { error in
            XCTAssertEqual("\(error)", "f.csv: byte 9: read failed: Input/output error")
        }
    }
}
