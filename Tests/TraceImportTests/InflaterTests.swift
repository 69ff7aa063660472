import Dispatch
@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Hands out at most `chunk` bytes per read, as a pipe may.
struct TrickleSource: ByteSource {
    var inner: MemorySource
    let chunk: Int
    init(_ bytes: [UInt8], chunk: Int) {
        inner = MemorySource(bytes)
        self.chunk = chunk
    }
    var bytesConsumed: Int64 { inner.bytesConsumed }
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(chunk)))
    }
}

/// Both inflaters (ISA-L, zlib) on the same gzip input, read in pieces of every size; and gzip
/// sniffed from pipes and FIFOs, whose first bytes are read once and replayed.
final class InflaterTests: XCTestCase {
    let inflaters: [Inflater] = [.isal, .zlib]
    let chunks = [1, 5, 4093, 1 << 20]

    /// A trace text of `n` varied events (so it does not compress to nothing).
    func document(_ n: Int) -> [UInt8] {
        Array(TestSupport.kineto((0..<n).map { i in
            TestSupport.x("op_\(i)_\(i &* 2654435761 % 1000003)", ts: "\(i * 3)", dur: "\(1 + i % 2)", tid: "\(1 + i % 4)")
        }).utf8)
    }

    /// Inflates `gz` with `inflater`, fed `chunk` bytes per read, into output reads of 3000 bytes.
    func inflate(_ gz: [UInt8], _ inflater: Inflater, chunk: Int) throws(ImportError) -> [UInt8] {
        let source = try GzipSource(TrickleSource(gz, chunk: chunk), path: "t.gz", blockSize: 1 << 16, inflater: inflater)
        defer { source.close() }
        var gzip = source
        var out: [UInt8] = []
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 3000, alignment: 16)
        defer { block.deallocate() }
        while true {
            let n = try gzip.read(into: block)
            if n == 0 { return out }
            out += block[0..<n]
        }
    }

    /// The error `inflate` throws (nil when it succeeds).
    func inflateError(_ gz: [UInt8], _ inflater: Inflater, chunk: Int) -> ImportError? {
        do throws(ImportError) {
            _ = try inflate(gz, inflater, chunk: chunk)
            return nil
        } catch {
            return error
        }
    }

    func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0xEDB8_8320 & (0 &- (c & 1))) }
        }
        return ~c
    }

    /// `gz` (one member with a bare 10-byte header) with a header carrying FEXTRA, FNAME, FCOMMENT
    /// and, when `headerCRC`, FHCRC.
    func withHeaderFields(_ gz: [UInt8], headerCRC: Bool) -> [UInt8] {
        var header: [UInt8] = [0x1F, 0x8B, 8, 4 | 8 | 16 | (headerCRC ? 2 : 0), 0, 0, 0, 0, 0, 3]
        header += [5, 0] + Array("extra".utf8) + Array("trace.json".utf8) + [0] + Array("a comment".utf8) + [0]
        if headerCRC {
            let c = crc32(header)
            header += [UInt8(c & 0xFF), UInt8(c >> 8 & 0xFF)]
        }
        return header + gz[10...]
    }

    func testBothInflatersGiveTheBytesAtEveryReadSize() throws {
        let text = document(300)
        let gz = gzipped(text)
        for inflater in inflaters {
            for chunk in chunks {
                XCTAssertEqual(try inflate(gz, inflater, chunk: chunk), text, "\(inflater) chunk \(chunk)")
            }
        }
    }

    func testMultiMemberStreamsWithAnEmptyMember() throws {
        let a = document(120), b = Array("tail of the second member".utf8)
        let gz = gzipped(a) + gzipped([]) + gzipped(b) + gzipped(a)
        for inflater in inflaters {
            for chunk in chunks {
                XCTAssertEqual(try inflate(gz, inflater, chunk: chunk), a + b + a, "\(inflater) chunk \(chunk)")
            }
        }
    }

    func testEmptyMemberInflatesToNothing() throws {
        for inflater in inflaters {
            XCTAssertEqual(try inflate(gzipped([]), inflater, chunk: 1), [])
            // No bytes at all is not a gzip stream: truncated at offset 0.
            XCTAssertEqual(inflateError([], inflater, chunk: 1),
                           ImportError(file: "t.gz", offset: 0, message: "truncated gzip data (uncompressed offset)"))
        }
        // An empty trace gives the same error compressed or not.
        var errors: [ImportError?] = []
        for bytes in [gzipped([]), []] {
            XCTAssertThrowsError(try TraceLoader.load(bytes: bytes, name: "e.json")) { errors.append($0 as? ImportError) }
        }
        XCTAssertEqual(errors.count, 2)
        XCTAssertNotNil(errors.first ?? nil)
        XCTAssertEqual(errors.first ?? nil, errors.last ?? nil)
    }

    func testTruncatedStreamsGiveTheSameErrorWithBothInflaters() throws {
        let text = document(400)
        let gz = gzipped(text)
        for keep in [12, gz.count / 3, gz.count / 2, gz.count - 9, gz.count - 8, gz.count - 4, gz.count - 1] {
            for chunk in [7, 1 << 20] {
                let errors = inflaters.map { inflateError(Array(gz.prefix(keep)), $0, chunk: chunk) }
                for (inflater, error) in zip(inflaters, errors) {
                    let e = try XCTUnwrap(error, "\(inflater) kept \(keep)")
                    XCTAssertEqual(e.file, "t.gz")
                    XCTAssertEqual(e.message, "truncated gzip data (uncompressed offset)", "\(inflater) kept \(keep)")
                    let offset = try XCTUnwrap(e.offset)
                    XCTAssertLessThanOrEqual(offset, Int64(text.count))
                    // Once all of the deflate data is there, every byte of JSON came out.
                    if keep >= gz.count - 8 { XCTAssertEqual(offset, Int64(text.count), "\(inflater) kept \(keep)") }
                }
            }
        }
    }

    func testCorruptChecksumAndSizeAreErrorsWithBothInflaters() throws {
        let gz = gzipped(document(200))
        var badCRC = gz
        badCRC[gz.count - 6] ^= 0x10
        var badSize = gz
        badSize[gz.count - 2] ^= 0x01
        var badData = gz
        badData[gz.count / 2] ^= 0xFF
        for inflater in inflaters {
            for chunk in [7, 1 << 20] {
                let crc = try XCTUnwrap(inflateError(badCRC, inflater, chunk: chunk))
                XCTAssertEqual(crc.message, "corrupt gzip data: incorrect data check", "\(inflater)")
                XCTAssertNotNil(crc.offset)
                let size = try XCTUnwrap(inflateError(badSize, inflater, chunk: chunk))
                XCTAssertTrue(size.message.hasPrefix("corrupt gzip data: incorrect "), size.message)
                let data = try XCTUnwrap(inflateError(badData, inflater, chunk: chunk), "\(inflater)")
                XCTAssertTrue(data.message.hasPrefix("corrupt gzip data: "), data.message)
                XCTAssertEqual(data.file, "t.gz")
            }
        }
    }

    func testTrailingGarbageIsAnError() {
        let gz = gzipped(document(50))
        for tail: [UInt8] in [[0, 0, 0, 0], Array(repeating: 0x41, count: 40)] {
            for inflater in inflaters {
                let e = inflateError(gz + tail, inflater, chunk: 1 << 20)
                XCTAssertEqual(e?.file, "t.gz")
                XCTAssertTrue(e.map { $0.message.hasPrefix("corrupt gzip data") || $0.message.hasPrefix("truncated gzip") } ?? false,
                              String(describing: e))
            }
        }
    }

    func testHeaderFieldsReadInPieces() throws {
        let text = document(150)
        let plain = gzipped(text)
        // ISA-L 2.30 mis-reads some headers that arrive in pieces: it is given each header whole.
        for headerCRC in [false, true] {
            let gz = withHeaderFields(plain, headerCRC: headerCRC)
            for inflater in inflaters {
                for chunk in chunks {
                    XCTAssertEqual(try inflate(gz, inflater, chunk: chunk), text, "\(inflater) chunk \(chunk) hcrc \(headerCRC)")
                }
            }
            // The second member carries the header CRC.
            XCTAssertEqual(try inflate(plain + gz, .isal, chunk: 5), text + text)
        }
        var badHeaderCRC = withHeaderFields(plain, headerCRC: true)
        badHeaderCRC[38] ^= 1  // the header CRC's low byte (after 38 header bytes)
        for inflater in inflaters {
            XCTAssertTrue(inflateError(badHeaderCRC, inflater, chunk: 5)?.message.hasPrefix("corrupt gzip data: ") ?? false)
        }
    }

    func testAHeaderLongerThanTheInputBlockGoesToZlib() throws {
        let text = document(100)
        let plain = gzipped(text)
        // FNAME of 100,000 bytes: more than the 64 KiB input block of `inflate`.
        let gz = [0x1F, 0x8B, 8, 8, 0, 0, 0, 0, 0, 3] + Array(repeating: UInt8(ascii: "n"), count: 100_000) + [0] + plain[10...]
        for chunk in [5, 1 << 20] {
            XCTAssertEqual(try inflate(plain + gz + plain, .isal, chunk: chunk), text + text + text)
        }
        // Cut inside the long name: truncated, as zlib says it.
        for inflater in inflaters {
            XCTAssertEqual(inflateError(Array(gz.prefix(50_000)), inflater, chunk: 1 << 20)?.message,
                           "truncated gzip data (uncompressed offset)")
        }
    }

    func testTablesAreSizedFromTheGzipTrailer() throws {
        let text = document(300)
        let gz = gzipped(text)
        let path = TestSupport.temporaryPath(".json.gz")
        defer { unlink(path) }
        for (bytes, expected) in [(gz, Int64(text.count)),
                                  (gz + gzipped([1]), Int64(gz.count + 21) * 8),  // the last member's size is too small: a guess
                                  (Array(gz.prefix(gz.count - 4)) + [0xFF, 0xFF, 0xFF, 0x7F], Int64(gz.count) * 8)] {
            TestSupport.writeFile(path, bytes)
            let file = try FileSource(path: path)
            defer { file.close() }
            XCTAssertEqual(file.inflatedSizeGuess(), expected)
        }
    }

    func testTheEnvironmentPicksTheInflater() {
        let expected: Inflater = getenv("STEPSCOPE_INFLATE").map { String(cString: $0) } == "zlib" ? .zlib : .isal
        XCTAssertEqual(Inflater.preferred, expected)
    }

    // MARK: pipes and FIFOs

    /// Writes `bytes` to `fd` on another thread (the first byte alone, then the rest in pieces), then closes it.
    func writeInPieces(_ bytes: [UInt8], to open: @escaping @Sendable () -> Int32) -> DispatchSemaphore {
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let fd = open()
            var offset = 0
            while offset < bytes.count {
                let n = offset == 0 ? 1 : min(bytes.count - offset, 1000)
                let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, n) }
                if written <= 0 { break }
                offset += written
                if offset == 1 { usleep(20_000) }
            }
            close(fd)
            done.signal()
        }
        return done
    }

    /// Loads `bytes` through a pipe named `/dev/fd/N`.
    func loadThroughPipe(_ bytes: [UInt8]) throws -> RankTrace {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let done = writeInPieces(bytes) { writeEnd }
        defer {
            close(readEnd)
            done.wait()
        }
        return try TraceLoader.load(path: "/dev/fd/\(readEnd)")
    }

    func testGzipThroughAPipeIsSniffed() throws {
        let text = document(500)
        let expected = dump(try load(String(decoding: text, as: UTF8.self)))
        XCTAssertEqual(dump(try loadThroughPipe(gzipped(text))), expected)
        XCTAssertEqual(dump(try loadThroughPipe(gzipped(text) + gzipped(Array("\n".utf8)))), expected)
        // Plain JSON through a pipe keeps its first bytes too.
        XCTAssertEqual(dump(try loadThroughPipe(text)), expected)
    }

    func testGzipThroughAFIFOIsSniffed() throws {
        let text = document(500)
        let expected = dump(try load(String(decoding: text, as: UTF8.self)))
        for (bytes, name) in [(gzipped(text), "gzip"), (text, "plain")] {
            let path = TestSupport.temporaryPath(".fifo")
            XCTAssertEqual(mkfifo(path, 0o600), 0)
            defer { unlink(path) }
            let done = writeInPieces(bytes) { open(path, O_WRONLY) }
            let trace = try TraceLoader.load(path: path)
            done.wait()
            XCTAssertEqual(dump(trace), expected, name)
            XCTAssertEqual(trace.source, path)
        }
    }

    func testTruncatedGzipThroughAPipeNamesThePipe() {
        let gz = gzipped(document(300))
        XCTAssertThrowsError(try loadThroughPipe(Array(gz.prefix(gz.count / 2)))) { error in
            let e = error as? ImportError
            XCTAssertTrue(e?.file.hasPrefix("/dev/fd/") ?? false, String(describing: e))
            XCTAssertEqual(e?.message, "truncated gzip data (uncompressed offset)")
        }
    }
}
