import TraceModel

/// The lines of a `ByteSource` (split on `\n`, which is not kept), read a block at a time so a
/// file of any size takes one block and its longest line; a line longer than `maxLine` bytes is
/// an error naming its offset, so a file without newlines cannot take unbounded memory.
struct LineReader<Source: ByteSource> {
    private var source: Source
    private let name: String
    private let maxLine: Int
    private var buffer: [UInt8]
    private var start = 0, end = 0
    private var atEnd = false
    /// Offset in the input of `buffer[0]`.
    private var base: Int64 = 0

    init(_ source: Source, name: String, maxLine: Int = 1 << 20, blockSize: Int = 1 << 16) {
        self.source = source
        self.name = name
        self.maxLine = maxLine
        buffer = [UInt8](repeating: 0, count: Swift.max(1, blockSize))
    }

    /// The next line, or nil at the end of the input (a last line without `\n` is a line).
    mutating func next() throws(ImportError) -> ArraySlice<UInt8>? {
        var scanned = start
        while true {
            if let nl = buffer[scanned..<end].firstIndex(of: 0x0A) {
                defer { start = nl + 1 }
                return buffer[start..<nl]
            }
            if atEnd {
                guard start < end else { return nil }
                defer { start = end }
                return buffer[start..<end]
            }
            guard end - start <= maxLine else {
                throw ImportError(file: name, offset: base + Int64(start), message: "a line longer than \(maxLine) bytes")
            }
            // Keep the partial line at the front, then read after it.
            if start > 0 {
                buffer.withUnsafeMutableBytes { b in b.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[start..<end])) }
                base += Int64(start)
                (end, start) = (end - start, 0)
            }
            if end == buffer.count { buffer += [UInt8](repeating: 0, count: Swift.min(buffer.count, maxLine + 1 - buffer.count)) }
            scanned = end
            let filled = end
            var got = 0
            var failure: ImportError?
            buffer.withUnsafeMutableBytes { raw in
                do throws(ImportError) { got = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[filled...])) } catch { failure = error }
            }
            if let failure { throw failure }
            if got == 0 { atEnd = true } else { end += got }
        }
    }
}
