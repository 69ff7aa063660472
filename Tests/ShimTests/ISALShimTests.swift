import CISAL
import CZlib
import Glibc
import XCTest

/// Inflates gzip members through CISAL: state set up for the gzip wrapper, reset between
/// members, end of a member, and the error codes' messages.
final class ISALShimTests: XCTestCase {
    /// `data` as one gzip member: zlib's deflate (its zlib wrapper taken off) in a gzip header and trailer.
    func gzipMember(_ data: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(data.count))
        var zlibStream = [UInt8](repeating: 0, count: Int(size))
        XCTAssertEqual(compress2(&zlibStream, &size, data, uLong(data.count), 6), Z_OK)
        let deflated = zlibStream[2..<(Int(size) - 4)]
        let crc = UInt32(crc32(0, data, uInt(data.count)))
        let length = UInt32(truncatingIfNeeded: data.count)
        let header: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        return header + deflated + withUnsafeBytes(of: crc.littleEndian, Array.init) + withUnsafeBytes(of: length.littleEndian, Array.init)
    }

    /// Inflates `gz` fed `chunk` bytes at a time into 1000-byte outputs; the output, the last return code,
    /// and how many members finished (the state is reset after each).
    func inflate(_ gz: [UInt8], chunk: Int) throws -> (out: [UInt8], rc: Int32, members: Int) {
        let state = try XCTUnwrap(cisal_gzip_create())
        defer { cisal_destroy(state) }
        var out: [UInt8] = []
        var members = 0
        var block = [UInt8](repeating: 0, count: 1000)
        var input = gz
        return input.withUnsafeMutableBufferPointer { inBytes in
            var offset = 0
            while true {
                if state.pointee.avail_in == 0 {
                    guard offset < gz.count else { return (out, 0, members) }
                    let n = min(chunk, gz.count - offset)
                    state.pointee.next_in = inBytes.baseAddress! + offset
                    state.pointee.avail_in = UInt32(n)
                    offset += n
                }
                let rc = block.withUnsafeMutableBufferPointer { outBytes in
                    state.pointee.next_out = outBytes.baseAddress
                    state.pointee.avail_out = UInt32(outBytes.count)
                    return isal_inflate(state)
                }
                out += block[0..<(block.count - Int(state.pointee.avail_out))]
                if rc < 0 { return (out, rc, members) }
                if cisal_member_finished(state) {
                    members += 1
                    XCTAssertEqual(state.pointee.crc_flag, UInt32(ISAL_GZIP))
                    cisal_gzip_reset(state)
                    XCTAssertFalse(cisal_member_finished(state))
                    XCTAssertEqual(state.pointee.crc_flag, UInt32(ISAL_GZIP))
                    if state.pointee.avail_in == 0 && offset == gz.count { return (out, 0, members) }
                }
                XCTAssertLessThan(out.count, 10_000_000, "no progress")
            }
        }
    }

    var text: [UInt8] { Array((0..<4000).map { "event \($0 * 7919 % 10007)\n" }.joined().utf8) }

    func testInflatesMembersFedInPieces() throws {
        let gz = gzipMember(text)
        for chunk in [1, 3, 64, 1 << 20] {
            let r = try inflate(gz + gzipMember([]) + gzipMember(Array("second".utf8)), chunk: chunk)
            XCTAssertEqual(r.rc, 0)
            XCTAssertEqual(r.members, 3, "chunk \(chunk)")
            XCTAssertEqual(r.out, text + Array("second".utf8), "chunk \(chunk)")
        }
    }

    func testBadChecksumAndMethodAreReportedWithMessages() throws {
        var gz = gzipMember(text)
        gz[gz.count - 7] ^= 0x01  // CRC-32
        let crc = try inflate(gz, chunk: 1 << 20)
        XCTAssertEqual(crc.rc, ISAL_INCORRECT_CHECKSUM)
        XCTAssertEqual(String(cString: cisal_error_message(crc.rc)), "incorrect data check")
        XCTAssertEqual(crc.members, 0)

        var method = gzipMember(text)
        method[2] = 7
        let unsupported = try inflate(method, chunk: 1 << 20)
        XCTAssertEqual(unsupported.rc, ISAL_UNSUPPORTED_METHOD)
        XCTAssertEqual(String(cString: cisal_error_message(unsupported.rc)), "unknown compression method")
        XCTAssertEqual(unsupported.out, [])
    }

    func testEveryErrorCodeHasItsOwnMessage() {
        let codes = [ISAL_INVALID_BLOCK, ISAL_INVALID_SYMBOL, ISAL_INVALID_LOOKBACK, ISAL_INVALID_WRAPPER,
                     ISAL_UNSUPPORTED_METHOD, ISAL_INCORRECT_CHECKSUM, ISAL_NEED_DICT]
        let messages = codes.map { String(cString: cisal_error_message(Int32($0))) }
        XCTAssertEqual(Set(messages).count, codes.count)
        XCTAssertFalse(messages.contains("unknown error"))
        XCTAssertEqual(String(cString: cisal_error_message(-1000)), "unknown error")
    }
}
