import Dispatch
import TraceModel

/// Where a gzip file is cut into two parts parsed on two cores (`TraceLoader.parseGzipInTwo`),
/// agreed between the two parts' threads while both run.
///
/// A deflate stream can only be entered at its start, so the second part's thread inflates its
/// own stream from the start, discarding, until the work left to the two parts is even; finds an
/// event boundary in the next bytes as `TraceLoader.splitPoint` does in a plain file; and parses
/// on from there with the same live inflater. The first part's thread inflates another stream
/// from the start and parses it at once. It never reads past the bytes the second has skipped
/// before the boundary is known (the boundary lies after them), so it learns where to stop
/// before it gets there. Memory: one input block and one output block per inflater.
final class GzipSplit: @unchecked Sendable {
    /// Where the second part starts: `offset` in the inflated stream, when the second part's
    /// inflater had read `consumed` bytes of the file; or no split (the first part parses on).
    enum Decision { case split(offset: Int64, consumed: Int64), whole }

    /// The second part's input: the inflated bytes read past the boundary, then its inflater.
    struct Start<Inner: ByteSource> {
        var source: ReplaySource<GzipSource<Inner>>
        var offset: Int64
        var bareArray: Bool
    }

    /// The gzip file's size, against which the two parts' remaining work is weighed.
    let compressedSize: Int64
    /// Inflated bytes skipped per step, and the window searched for the boundary after them.
    let blockSize: Int

    private let lock = Locked(())
    private let wake = DispatchSemaphore(value: 0)
    private var skipped: Int64 = 0
    private var firstPosition: Int64 = 0
    private var decision: Decision?
    private var firstWaits = false

    init(compressedSize: Int64, blockSize: Int = 1 << 20) {
        self.compressedSize = compressedSize
        self.blockSize = blockSize
    }

    /// Runs `body` under the lock and wakes the first part if it waits for what `body` changed.
    private func publish(_ body: () -> Void) {
        let wakes = lock.locked { () -> Bool in
            body()
            defer { firstWaits = false }
            return firstWaits
        }
        if wakes { wake.signal() }
    }

    // MARK: The second part's thread

    /// Inflates `gzip` from its start to where the two parts have even work left, and finds the
    /// boundary after it. Nil (and no split) when the stream ends first, no boundary is found in
    /// the window, or the stream is bad there: the first part then reads it all and reports it.
    func findStart<Inner: ByteSource>(_ gzip: GzipSource<Inner>) -> Start<Inner>? {
        var gzip = gzip
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 16)
        defer { block.deallocate() }
        var start: Start<Inner>?
        defer { publish { decision = start.map { .split(offset: $0.offset, consumed: $0.source.bytesConsumed) } ?? .whole } }
        do throws(ImportError) {
            var position: Int64 = 0
            var first: UInt8?
            while true {
                let n = try gzip.read(into: block)
                if n == 0 { return nil }
                if first == nil { first = TraceLoader.firstSignificantByte(UnsafeRawBufferPointer(rebasing: block[0..<n])) }
                position += Int64(n)
                // Even when the first part's work up to here equals the second's after it (each
                // part inflates and parses at about the same rate per compressed byte); at the
                // latest three quarters in, should the first part keep up with this one.
                var even = false
                let mine = gzip.compressedPosition
                publish {
                    skipped = position
                    even = 2 * mine >= compressedSize + firstPosition || 4 * mine >= 3 * compressedSize
                }
                if even { break }
            }
            guard let first else { return nil }
            let n = try gzip.read(into: block)
            guard let k = TraceLoader.eventStart(in: UnsafeRawBufferPointer(rebasing: block[0..<n])) else { return nil }
            let head = Array(block[k..<n])
            start = Start(source: ReplaySource(head, then: gzip, headConsumed: false), offset: position + Int64(k), bareArray: first == 0x5B)
            return start
        } catch {
            return nil
        }
    }

    // MARK: The first part's thread

    /// The first part's input: inflated bytes up to what the second part has skipped until the
    /// boundary is decided; then `stop` is told the boundary, and reads go on unbounded.
    final class FirstPart<Inner: ByteSource>: ByteSource {
        private var inner: GzipSource<Inner>
        private let split: GzipSplit
        private var delivered: Int64 = 0
        private var decided = false
        private var consumedCap: Int64 = .max
        /// Told the boundary's inflated offset once it is known (on this part's thread, inside a read).
        var stop: ((Int64) -> Void)?

        init(_ inner: GzipSource<Inner>, split: GzipSplit) {
            self.inner = inner
            self.split = split
        }

        /// The file's bytes this part reads, up to where the second part's begin (so that the
        /// two parts' progress adds up to the file).
        var bytesConsumed: Int64 { min(inner.bytesConsumed, consumedCap) }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
            var room = buffer.count
            if !decided {
                switch split.waitBeyond(delivered) {
                case let .decided(.split(offset, consumed)):
                    decided = true
                    consumedCap = consumed
                    stop?(offset)
                case .decided(.whole):
                    decided = true
                case let .skipped(limit):
                    room = min(room, Int(limit - delivered))
                }
            }
            let n = try inner.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<room]))
            delivered += Int64(n)
            if !decided {
                let position = inner.compressedPosition
                split.lock.locked { split.firstPosition = position }
            }
            return n
        }
    }

    private enum Wait { case decided(Decision), skipped(Int64) }

    /// Blocks until the second part has skipped past inflated offset `delivered` or decided.
    private func waitBeyond(_ delivered: Int64) -> Wait {
        while true {
            let state = lock.locked { () -> Wait? in
                if let decision { return .decided(decision) }
                if skipped > delivered { return .skipped(skipped) }
                firstWaits = true
                return nil
            }
            if let state { return state }
            wake.wait()
        }
    }
}
