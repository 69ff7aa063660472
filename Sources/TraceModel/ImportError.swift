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
