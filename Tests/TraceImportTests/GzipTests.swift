@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Gzip input: detected by its magic bytes, inflated on the fly, several members allowed.
final class GzipTests: XCTestCase {
    /// A trace of `n` events with varied names (so it does not compress to nothing).
    func document(_ n: Int) -> String {
        TestSupport.kineto((0..<n).map { i in
            TestSupport.x("op_\(i)_\(i &* 2654435761 % 1000003)", ts: "\(i * 3)", dur: "\(1 + i % 2)", tid: "\(1 + i % 4)")
        })
    }

    func testGzipBytesDetectedByMagic() throws {
        let text = document(50)
        let gz = gzipped(Array(text.utf8))
        XCTAssertEqual(Array(gz.prefix(2)), [0x1F, 0x8B])
        let plain = try load(text)
        let t = try TraceLoader.load(bytes: gz, name: "mem.json")
        XCTAssertEqual(t.slices.count, 50)
        XCTAssertEqual(dump(t), dump(plain))
    }

    func testGzipFileDetectedByMagicNotByName() throws {
        let text = document(50)
        let gz = gzipped(Array(text.utf8))
        for suffix in [".json.gz", ".json", ".trace"] {
            let path = TestSupport.temporaryPath(suffix)
            TestSupport.writeFile(path, gz)
            defer { unlink(path) }
            let t = try TraceLoader.load(path: path)
            XCTAssertEqual(t.slices.count, 50, suffix)
            XCTAssertEqual(t.source, path)
        }
        // And a plain file named .gz is read as plain JSON.
        let path = TestSupport.temporaryPath(".json.gz")
        TestSupport.writeFile(path, Array(text.utf8))
        defer { unlink(path) }
        XCTAssertEqual(try TraceLoader.load(path: path).slices.count, 50)
    }

    func testMultiMemberGzip() throws {
        let events = (0..<10).map { TestSupport.x("m\($0)", ts: "\($0 * 2)", dur: "1") }
        let first = "{\"traceEvents\": [" + events[0..<5].joined(separator: ",") + ","
        let second = events[5...].joined(separator: ",") + "]}"
        let gz = gzipped(Array(first.utf8)) + gzipped(Array(second.utf8))
        let t = try TraceLoader.load(bytes: gz, name: "multi.json.gz")
        XCTAssertEqual((0..<t.slices.count).map { t.name(ofSlice: $0) }, (0..<10).map { "m\($0)" })
        let path = TestSupport.temporaryPath(".json.gz")
        TestSupport.writeFile(path, gz)
        defer { unlink(path) }
        XCTAssertEqual(try TraceLoader.load(path: path).slices.count, 10)
    }

    func testTruncatedGzipNamesFileAndOffset() throws {
        let text = document(400)
        let gz = gzipped(Array(text.utf8))
        for keep in [gz.count / 2, gz.count - 4, 12] {
            let cut = Array(gz.prefix(keep))
            do {
                _ = try TraceLoader.load(bytes: cut, name: "cut.json.gz")
                XCTFail("truncated gzip loaded (kept \(keep) bytes)")
            } catch {
                let e = error
                XCTAssertEqual(e.file, "cut.json.gz")
                XCTAssertTrue(e.message.contains("truncated gzip"), e.message)
                let offset = try XCTUnwrap(e.offset)
                XCTAssertGreaterThanOrEqual(offset, 0)
                XCTAssertLessThanOrEqual(offset, Int64(text.utf8.count))
                XCTAssertTrue(e.description.hasPrefix("cut.json.gz: byte \(offset): "), e.description)
            }
        }
        // The trailer only (CRC and size) missing: every byte of JSON is there, still truncated.
        let path = TestSupport.temporaryPath(".json.gz")
        TestSupport.writeFile(path, Array(gz.prefix(gz.count - 4)))
        defer { unlink(path) }
        XCTAssertThrowsError(try TraceLoader.load(path: path)) { error in
            let e = error as? ImportError
            XCTAssertEqual(e?.file, path)
            XCTAssertEqual(e?.offset, Int64(text.utf8.count))
            XCTAssertTrue(e?.message.contains("truncated") ?? false)
        }
    }

    func testCorruptGzipIsAnError() {
        var gz = gzipped(Array(document(20).utf8))
        gz[2] = 7  // compression method other than deflate
        XCTAssertThrowsError(try TraceLoader.load(bytes: gz, name: "bad.gz")) { error in
            let e = error as? ImportError
            XCTAssertEqual(e?.file, "bad.gz")
            XCTAssertTrue(e?.message.hasPrefix("corrupt gzip data") ?? false, String(describing: e))
        }
    }

    func testInvalidJSONInsideGzipReportsTheUncompressedOffset() {
        let text = #"{"traceEvents": [{"ph": "X" "name": "a"}]}"#
        XCTAssertThrowsError(try TraceLoader.load(bytes: gzipped(Array(text.utf8)), name: "z.json.gz")) { error in
            XCTAssertEqual(error as? ImportError, ImportError(file: "z.json.gz", offset: 28, message: "expected ',' or '}'"))
        }
    }

    func testMissingFileNamesIt() {
        let path = "/nonexistent/dir/trace.json"
        XCTAssertThrowsError(try TraceLoader.load(path: path)) { error in
            let e = error as? ImportError
            XCTAssertEqual(e?.file, path)
            XCTAssertTrue(e?.description.hasPrefix(path + ": ") ?? false)
        }
    }
}
