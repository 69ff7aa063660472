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

/// Inflates a gzip stream (several members allowed) from another source, block by block.
public struct GzipSource<Inner: ByteSource>: ByteSource {
    private var inner: Inner
    private let path: String
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutableRawBufferPointer
    private var innerDone = false
    private var memberDone = false
    private var produced: Int64 = 0

    /// Wraps `inner`; `path` names the file in errors.
    public init(_ inner: Inner, path: String, blockSize: Int = 1 << 20) throws(ImportError) {
        self.inner = inner
        self.path = path
        guard let s = czlib_stream_create() else { throw ImportError(file: path, message: "out of memory") }
        stream = s
        input = .allocate(byteCount: blockSize, alignment: 16)
        guard czlib_inflate_init_auto(stream) == Z_OK else {
            throw ImportError(file: path, message: "cannot initialise zlib")
        }
    }

    public var bytesConsumed: Int64 { inner.bytesConsumed }

    /// Frees zlib state and the input block.
    public func close() {
        inflateEnd(stream)
        czlib_stream_destroy(stream)
        input.deallocate()
    }

    public mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(min(buffer.count, Int(UInt32.max)))
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 && !innerDone {
                let n = try inner.read(into: input)
                if n == 0 { innerDone = true } else {
                    stream.pointee.next_in = input.baseAddress!.assumingMemoryBound(to: Bytef.self)
                    stream.pointee.avail_in = uInt(n)
                }
            }
            if memberDone {
                // Another gzip member may follow the one that just ended.
                if stream.pointee.avail_in == 0 && innerDone { break }
                inflateReset(stream)
                memberDone = false
            }
            if stream.pointee.avail_in == 0 && innerDone {
                throw ImportError(file: path, offset: produced + Int64(buffer.count - Int(stream.pointee.avail_out)),
                                  message: "truncated gzip data (uncompressed offset)")
            }
            let rc = inflate(stream, Z_NO_FLUSH)
            if rc == Z_STREAM_END {
                memberDone = true
            } else if rc != Z_OK && rc != Z_BUF_ERROR {
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "code \(rc)"
                throw ImportError(file: path, offset: inner.bytesConsumed - Int64(stream.pointee.avail_in),
                                  message: "corrupt gzip data: \(msg)")
            }
        }
        let n = buffer.count - Int(stream.pointee.avail_out)
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

/// Gzip magic bytes at the start of `bytes`.
func isGzip(_ first: UnsafeRawBufferPointer) -> Bool {
    first.count >= 2 && first[0] == 0x1F && first[1] == 0x8B
}

/// A failure that stops an import: the file, the byte offset where known, and what went wrong.
public struct ImportError: Error, CustomStringConvertible, Equatable {
    public var file: String
    /// Byte offset in the (uncompressed) input, when known.
    public var offset: Int64?
    public var message: String

    public init(file: String, offset: Int64? = nil, message: String) {
        self.file = file
        self.offset = offset
        self.message = message
    }

    /// One line: `FILE: byte N: message`.
    public var description: String {
        if let offset { return "\(file): byte \(offset): \(message)" }
        return "\(file): \(message)"
    }
}
