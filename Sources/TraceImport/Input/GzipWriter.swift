import CZlib

/// Gzip compression of a whole document in memory (zlib's deflate), for the small files
/// stepscope writes compressed: summaries named `*.gz` (docs/scale.md).
public enum Gzip {
    /// `bytes` as one gzip member at `level` (zlib's 0-9; 6 is gzip's default); nil when zlib
    /// cannot start (out of memory).
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        guard let stream = czlib_stream_create() else { return nil }
        defer { czlib_stream_destroy(stream) }
        guard czlib_deflate_init_gzip(stream, level) == Z_OK else { return nil }
        defer { deflateEnd(stream) }
        var out: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 16)
        var offset = 0
        var rc = Z_OK
        bytes.withUnsafeBufferPointer { input in
            // zlib counts in 32 bits: feed at most 1 GiB at a time, drain 64 KiB at a time.
            while rc != Z_STREAM_END {
                if stream.pointee.avail_in == 0 {
                    let n = min(input.count - offset, 1 << 30)
                    // zlib reads next_in only (it is `z_const`, imported as mutable).
                    stream.pointee.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0 + offset) }
                    stream.pointee.avail_in = uInt(n)
                    offset += n
                }
                let last = offset == input.count
                let made = block.withUnsafeMutableBufferPointer { output -> Int in
                    stream.pointee.next_out = output.baseAddress
                    stream.pointee.avail_out = uInt(output.count)
                    rc = deflate(stream, last ? Z_FINISH : Z_NO_FLUSH)
                    return output.count - Int(stream.pointee.avail_out)
                }
                out += block[..<made]
                if rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR { return }
            }
        }
        return rc == Z_STREAM_END ? out : nil
    }
}
