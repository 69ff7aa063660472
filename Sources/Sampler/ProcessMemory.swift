import CUnwind
#if canImport(Glibc)
import Glibc
#endif

/// One range of the target's memory to read.
public struct MemoryRange: Sendable, Equatable {
    public var address: UInt64
    public var count: Int
    public init(_ address: UInt64, _ count: Int) {
        self.address = address
        self.count = count
    }
}

/// Why the target's memory could not be read.
public enum MemoryError: Error, Equatable {
    /// The address is not mapped (or the read was torn by an unmap).
    case unmapped(UInt64)
    /// The process is gone.
    case noProcess
    /// Reading is not permitted (errno EPERM).
    case permission
}

/// Read access to another process's memory, batched: one call reads many ranges.
public protocol ProcessMemory {
    /// Reads every range; nil for a range that could not be read in full.
    func read(_ ranges: [MemoryRange]) throws(MemoryError) -> [[UInt8]?]
}

extension ProcessMemory {
    /// Reads one range, or throws `.unmapped`.
    public func read(_ address: UInt64, _ count: Int) throws(MemoryError) -> [UInt8] {
        guard let bytes = try read([MemoryRange(address, count)])[0] else { throw .unmapped(address) }
        return bytes
    }
}

/// Memory of a live process through `process_vm_readv`: never stops the target.
public final class LiveMemory: ProcessMemory {
    public let pid: Int32
    /// Number of `process_vm_readv` calls made so far (the cost the batching keeps down).
    public private(set) var calls = 0
    public init(pid: Int32) { self.pid = pid }

    public func read(_ ranges: [MemoryRange]) throws(MemoryError) -> [[UInt8]?] {
        var results = [[UInt8]?](repeating: nil, count: ranges.count)
        var next = 0
        // The kernel takes at most IOV_MAX (1024) ranges a call and stops at the first that fails.
        while next < ranges.count {
            let end = min(ranges.count, next + 1024)
            let got = try readSome(ranges[next..<end])
            for (k, bytes) in got.enumerated() { results[next + k] = bytes }
            next += got.count + 1  // skip the failing range (or step past the end)
        }
        return results
    }

    /// Reads a run of ranges into one local buffer; the ranges read in full before the first failure.
    private func readSome(_ ranges: ArraySlice<MemoryRange>) throws(MemoryError) -> [[UInt8]] {
        var remote = ranges.map { iovec(iov_base: UnsafeMutableRawPointer(bitPattern: UInt($0.address)), iov_len: $0.count) }
        let total = ranges.reduce(0) { $0 + $1.count }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 8)
        defer { buffer.deallocate() }
        var local = iovec(iov_base: buffer, iov_len: total)
        calls += 1
        let n = cunwind_vm_readv(pid, &local, 1, &remote, UInt(remote.count))
        if n < 0 {
            switch Int32(-n) {
            case ESRCH: throw .noProcess
            case EPERM: throw .permission
            default: return []
            }
        }
        var out: [[UInt8]] = []
        var at = 0
        for r in ranges {
            guard at + r.count <= Int(n) else { break }
            out.append(Array(UnsafeRawBufferPointer(start: buffer + at, count: r.count)))
            at += r.count
        }
        return out
    }
}

/// A test double: memory made of byte regions at fixed addresses.
public final class BufferMemory: ProcessMemory {
    private var regions: [(base: UInt64, bytes: [UInt8])] = []
    /// Number of batched reads served.
    public private(set) var calls = 0
    public init() {}

    /// Maps `bytes` at `base`.
    public func map(_ base: UInt64, _ bytes: [UInt8]) { regions.append((base, bytes)) }

    /// Overwrites bytes at `address` inside an existing region.
    public func write(_ address: UInt64, _ bytes: [UInt8]) {
        for r in regions.indices where address >= regions[r].base && address + UInt64(bytes.count) <= regions[r].base + UInt64(regions[r].bytes.count) {
            let at = Int(address - regions[r].base)
            regions[r].bytes.replaceSubrange(at..<at + bytes.count, with: bytes)
            return
        }
        map(address, bytes)
    }

    public func read(_ ranges: [MemoryRange]) throws(MemoryError) -> [[UInt8]?] {
        calls += 1
        return ranges.map { range in
            for r in regions where range.address >= r.base && range.address - r.base <= UInt64(r.bytes.count)
                && UInt64(r.bytes.count) - (range.address - r.base) >= UInt64(range.count) {
                let at = Int(range.address - r.base)
                return Array(r.bytes[at..<at + range.count])
            }
            return nil
        }
    }
}

/// Little-endian field access on a byte buffer read from the target.
extension Array where Element == UInt8 {
    /// The u64 at `offset`, or 0 past the end.
    @inlinable func u64(_ offset: Int) -> UInt64 {
        guard offset >= 0, offset + 8 <= count else { return 0 }
        var v: UInt64 = 0
        for i in (0..<8).reversed() { v = v << 8 | UInt64(self[offset + i]) }
        return v
    }

    /// The u32 at `offset`, or 0 past the end.
    @inlinable func u32(_ offset: Int) -> UInt32 {
        guard offset >= 0, offset + 4 <= count else { return 0 }
        var v: UInt32 = 0
        for i in (0..<4).reversed() { v = v << 8 | UInt32(self[offset + i]) }
        return v
    }

    /// The i32 at `offset`, or 0 past the end.
    @inlinable func i32(_ offset: Int) -> Int32 { Int32(bitPattern: u32(offset)) }
}
