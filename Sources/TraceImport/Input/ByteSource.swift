import TraceModel
import CISAL
import CZlib
#if canImport(Glibc)
import Glibc
#endif

/// A stream of bytes read in large blocks: a plain file, a gzip file inflated on the fly, or memory.
public protocol ByteSource {
    /// Fills up to `buffer.count` bytes; returns 0 at the end of the input.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int
    /// Bytes consumed from the underlying file so far (compressed bytes for gzip), for progress.
    var bytesConsumed: Int64 { get }
}

/// Reads a file with large `read(2)` calls, retrying on EINTR.
public struct FileSource: ByteSource {
    let fd: Int32
    let path: String
    public private(set) var bytesConsumed: Int64 = 0

    /// Opens `path` for reading from byte `offset`.
    public init(path: String, offset: Int64 = 0) throws(ImportError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImportError(file: path, message: String(cString: strerror(errno))) }
        if offset > 0 && lseek(fd, off_t(offset), SEEK_SET) != off_t(offset) {
            let message = String(cString: strerror(errno))
            _ = Glibc.close(fd)
            throw ImportError(file: path, offset: offset, message: "seek failed: " + message)
        }
        self.fd = fd
        bytesConsumed = offset
    }

    /// The file's size in bytes (0 when unknown).
    public var size: Int64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// Closes the file.
    public func close() { _ = Glibc.close(fd) }

    /// The file type bits of `st_mode` (`S_IFREG`, `S_IFIFO`, ...).
    var fileType: mode_t {
        var st = stat()
        return fstat(fd, &st) == 0 ? st.st_mode & S_IFMT : 0
    }

    /// The first two bytes of a regular file, for sniffing its format (read in place: the position
    /// stays); fewer when it is shorter, none from a pipe.
    func magic() -> [UInt8] {
        var magic: (UInt8, UInt8) = (0, 0)
        let n = withUnsafeMutableBytes(of: &magic) { pread(fd, $0.baseAddress, 2, 0) }
        return Array([magic.0, magic.1].prefix(max(0, n)))
    }

    /// The inflated size of a gzip file, to size the tables: its last member's ISIZE trailer (the
    /// whole stream's size when it has one member under 4 GiB), else 8 times the file (also for pipes).
    func inflatedSizeGuess() -> Int64 {
        let size = self.size
        var trailer: UInt32 = 0
        let n = withUnsafeMutableBytes(of: &trailer) { pread(fd, $0.baseAddress, 4, off_t(max(0, size - 4))) }
        let isize = Int64(UInt32(littleEndian: trailer))
        return n == 4 && isize >= size && isize <= size * 1032 ? isize : size * 8  // deflate shrinks at most 1032:1
    }

    /// Reads until `count` bytes or the end of the input (a pipe may return fewer per read).
    mutating func readHead(_ count: Int) throws(ImportError) -> [UInt8] {
        let head = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
        defer { head.deallocate() }
        var filled = 0
        while filled < count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: head[filled...]))
            if n == 0 { break }
            filled += n
        }
        return Array(head[0..<filled])
    }

    /// Up to the first `count` bytes of the file at `path` (a regular file; directories give []).
    public static func readPrefix(path: String, count: Int) throws(ImportError) -> [UInt8] {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return [] }
        var file = try FileSource(path: path)
        defer { file.close() }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 8)
        defer { chunk.deallocate() }
        let n = try file.read(into: chunk)
        return Array(chunk[0..<n])
    }

    /// The whole content of the file at `path`.
    public static func readAll(path: String) throws(ImportError) -> [UInt8] {
        var file = try FileSource(path: path)
        defer { file.close() }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { chunk.deallocate() }
        var bytes: [UInt8] = []
        while true {
            let n = try file.read(into: chunk)
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 {
                bytesConsumed += Int64(n)
                return n
            }
            if errno == EINTR { continue }
            throw ImportError(file: path, offset: bytesConsumed, message: "read failed: " + String(cString: strerror(errno)))
        }
    }
}

/// The library that inflates gzip: ISA-L (several times faster), or zlib.
public enum Inflater: Sendable {
    case isal, zlib

    /// ISA-L unless the environment says `STEPSCOPE_INFLATE=zlib` (to compare the two).
    public static let preferred: Inflater = getenv("STEPSCOPE_INFLATE").map { String(cString: $0) } == "zlib" ? .zlib : .isal
}

/// Inflates a gzip stream (several members allowed) from another source, block by block.
///
/// ISA-L inflates, given each member's header whole (its streaming header parser mis-reads some
/// headers that arrive in pieces, as a pipe delivers them); zlib takes over from a member whose
/// header does not fit in the input block, and inflates everything when `Inflater.zlib` is asked for.
public struct GzipSource<Inner: ByteSource>: ByteSource {
    private enum Step { case progress, memberEnd, failed(String) }

    private var inner: Inner
    private let path: String
    private let isal: UnsafeMutablePointer<inflate_state>
    private let zlib: UnsafeMutablePointer<z_stream>
    private var useZlib: Bool
    private let input: UnsafeMutableRawBufferPointer
    /// Valid input bytes are `input[inStart..<inEnd]`.
    private var inStart = 0
    private var inEnd = 0
    private var innerDone = false
    private var memberDone = false
    private var memberStart = true
    private var produced: Int64 = 0

    /// Wraps `inner`; `path` names the file in errors.
    public init(_ inner: Inner, path: String, blockSize: Int = 1 << 20, inflater: Inflater = .preferred) throws(ImportError) {
        guard let state = cisal_gzip_create() else { throw ImportError(file: path, message: "out of memory") }
        guard let stream = czlib_stream_create() else {
            cisal_destroy(state)
            throw ImportError(file: path, message: "out of memory")
        }
        guard czlib_inflate_init_auto(stream) == Z_OK else {
            cisal_destroy(state)
            czlib_stream_destroy(stream)
            throw ImportError(file: path, message: "cannot initialise zlib")
        }
        self.inner = inner
        self.path = path
        isal = state
        zlib = stream
        useZlib = inflater == .zlib
        input = .allocate(byteCount: blockSize, alignment: 16)
    }

    public var bytesConsumed: Int64 { inner.bytesConsumed }

    /// The compressed bytes handed to the inflater so far (`bytesConsumed` less those buffered).
    var compressedPosition: Int64 { inner.bytesConsumed - Int64(inEnd - inStart) }

    /// Frees the inflaters' state and the input block.
    public func close() {
        cisal_destroy(isal)
        inflateEnd(zlib)
        czlib_stream_destroy(zlib)
        input.deallocate()
    }

    /// Reads until at least `count` input bytes (at most a block) are buffered or the input ends.
    private mutating func buffer(atLeast count: Int) throws(ImportError) {
        let count = min(count, input.count)
        while inEnd - inStart < count && !innerDone {
            if inStart == inEnd || inEnd == input.count {
                let kept = inEnd - inStart
                if kept > 0 { input.baseAddress!.copyMemory(from: input.baseAddress! + inStart, byteCount: kept) }
                inStart = 0
                inEnd = kept
            }
            let n = try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: input[inEnd...]))
            if n == 0 { innerDone = true } else { inEnd += n }
        }
    }

    /// Buffers the whole header of the member starting at `inStart`; false when it is longer
    /// than the input block. A header cut short or without the magic bytes is left to the inflater.
    private mutating func bufferHeader() throws(ImportError) -> Bool {
        try buffer(atLeast: 10)
        guard inEnd - inStart >= 10, input[inStart] == 0x1F, input[inStart + 1] == 0x8B else { return true }
        let flags = input[inStart + 3]
        var length = 10
        if flags & 0x04 != 0 {  // FEXTRA: a 2-byte length, then the field
            try buffer(atLeast: length + 2)
            guard inEnd - inStart >= length + 2 else { return true }
            length += 2 + Int(input[inStart + length]) + Int(input[inStart + length + 1]) << 8
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {  // FNAME, FCOMMENT: zero-terminated
            while true {
                try buffer(atLeast: length + 1)
                if inEnd - inStart <= length { return inEnd - inStart < input.count }
                if let zero = input[(inStart + length)..<inEnd].firstIndex(of: 0) {
                    length = zero - inStart + 1
                    break
                }
                length = inEnd - inStart
            }
        }
        if flags & 0x02 != 0 { length += 2 }  // FHCRC
        try buffer(atLeast: length)
        return length <= input.count
    }

    /// One inflate call from the buffered input into `out`; advances `inStart`.
    private mutating func step(_ out: UnsafeMutableRawPointer, _ outCount: inout Int) -> Step {
        let next = input.baseAddress!.assumingMemoryBound(to: UInt8.self) + inStart
        let avail = UInt32(inEnd - inStart)
        let room = UInt32(min(outCount, Int(UInt32.max)))
        if !useZlib {
            isal.pointee.next_in = next
            isal.pointee.avail_in = avail
            isal.pointee.next_out = out.assumingMemoryBound(to: UInt8.self)
            isal.pointee.avail_out = room
            let rc = isal_inflate(isal)
            inStart = inEnd - Int(isal.pointee.avail_in)
            outCount -= Int(room - isal.pointee.avail_out)
            if rc < 0 { return .failed(String(cString: cisal_error_message(rc))) }
            return cisal_member_finished(isal) ? .memberEnd : .progress
        }
        zlib.pointee.next_in = next
        zlib.pointee.avail_in = uInt(avail)
        zlib.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
        zlib.pointee.avail_out = uInt(room)
        let rc = inflate(zlib, Z_NO_FLUSH)
        inStart = inEnd - Int(zlib.pointee.avail_in)
        outCount -= Int(room - UInt32(zlib.pointee.avail_out))
        if rc == Z_STREAM_END { return .memberEnd }
        if rc != Z_OK && rc != Z_BUF_ERROR { return .failed(zlib.pointee.msg.map { String(cString: $0) } ?? "code \(rc)") }
        return .progress
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        var left = buffer.count
        while left > 0 {
            if inStart == inEnd && !innerDone { try self.buffer(atLeast: 1) }
            if memberDone {
                // Another gzip member may follow the one that just ended.
                if inStart == inEnd && innerDone { break }
                if useZlib { inflateReset(zlib) } else { cisal_gzip_reset(isal) }
                memberDone = false
                memberStart = true
            }
            if memberStart {
                if !useZlib, try !bufferHeader() {
                    useZlib = true
                    inflateReset(zlib)
                }
                memberStart = false
            }
            let before = (inStart, left)
            switch step(buffer.baseAddress! + (buffer.count - left), &left) {
            case .memberEnd:
                memberDone = true
            case let .failed(message):
                throw ImportError(file: path, offset: compressedPosition, message: "corrupt gzip data: " + message)
            case .progress:
                guard before == (inStart, left) else { break }
                // No progress: the inflater needs more input than is buffered.
                if innerDone {
                    throw ImportError(file: path, offset: produced + Int64(buffer.count - left),
                                      message: "truncated gzip data (uncompressed offset)")
                }
                let buffered = inEnd - inStart
                try self.buffer(atLeast: buffered + 1)
                if inEnd - inStart == buffered && !innerDone {
                    throw ImportError(file: path, offset: inner.bytesConsumed - Int64(buffered), message: "corrupt gzip data: inflater stalled")
                }
            }
        }
        let n = buffer.count - left
        produced += Int64(n)
        return n
    }
}

/// Bytes already in memory (tests, stdin).
public struct MemorySource: ByteSource {
    private let bytes: [UInt8]
    private var position = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var bytesConsumed: Int64 { Int64(position) }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        let n = min(buffer.count, bytes.count - position)
        bytes.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + position, byteCount: n)
        }
        position += n
        return n
    }
}

/// Bytes already read from a stream (to sniff its format, or past a split point), then the rest
/// of the stream.
struct ReplaySource<Inner: ByteSource>: ByteSource {
    private let head: [UInt8]
    private var position = 0
    private var inner: Inner
    private let headConsumed: Bool

    /// `headConsumed`: `head` was read from `inner` itself (its bytes count in `bytesConsumed` only
    /// once replayed); else it is what `inner` inflated, and `bytesConsumed` is `inner`'s.
    init(_ head: [UInt8], then inner: Inner, headConsumed: Bool = true) {
        self.head = head
        self.inner = inner
        self.headConsumed = headConsumed
    }

    var bytesConsumed: Int64 { inner.bytesConsumed - (headConsumed ? Int64(head.count - position) : 0) }

    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        guard position < head.count else { return try inner.read(into: buffer) }
        let n = min(buffer.count, head.count - position)
        head.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: n) }
        position += n
        return n
    }
}

/// Gzip magic bytes at the start of `bytes`.
func isGzip(_ first: UnsafeRawBufferPointer) -> Bool {
    first.count >= 2 && first[0] == 0x1F && first[1] == 0x8B
}
