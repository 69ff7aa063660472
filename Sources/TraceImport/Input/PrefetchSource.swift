import Dispatch
import TraceModel

/// Runs another source (gzip inflation) on a background thread, a few blocks ahead of the parser,
/// so inflating and parsing use two cores. Memory stays bounded: `depth` blocks of `blockSize`.
final class PrefetchSource<Inner: ByteSource & SendableMetatype>: ByteSource, @unchecked Sendable {
    private struct Block {
        var bytes: UnsafeMutableRawBufferPointer
        var count: Int
        var error: ImportError?
    }

    private var inner: Inner
    private let lock = Locked(())
    private let filledSignal = DispatchSemaphore(value: 0)
    private let freeSignal: DispatchSemaphore
    private let finished = DispatchSemaphore(value: 0)
    private var filled: [Block] = []
    private var free: [UnsafeMutableRawBufferPointer]
    private var current: Block?
    private var offset = 0
    private var done = false
    private var cancelled = false
    private var consumed: Int64 = 0

    init(_ inner: Inner, blockSize: Int = 2 << 20, depth: Int = 3) {
        self.inner = inner
        free = (0..<depth).map { _ in .allocate(byteCount: blockSize, alignment: 16) }
        freeSignal = DispatchSemaphore(value: depth)
        DispatchQueue.global().async { self.produce() }
    }

    deinit {
        lock.locked { cancelled = true }
        freeSignal.signal()
        finished.wait()
        for b in free { b.deallocate() }
        for b in filled { b.bytes.deallocate() }
        current?.bytes.deallocate()
    }

    var bytesConsumed: Int64 { lock.locked { consumed } }

    private func produce() {
        defer { finished.signal() }
        while true {
            freeSignal.wait()
            let buffer: UnsafeMutableRawBufferPointer? = lock.locked { cancelled || free.isEmpty ? nil : free.removeLast() }
            guard let buffer else { return }
            var block = Block(bytes: buffer, count: 0, error: nil)
            do throws(ImportError) {
                block.count = try inner.read(into: buffer)
            } catch {
                block.error = error
            }
            let total = inner.bytesConsumed
            lock.locked {
                filled.append(block)
                consumed = total
            }
            filledSignal.signal()
            if block.count == 0 { return }
        }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImportError) -> Int {
        while true {
            if done { return 0 }
            if let block = current, offset < block.count {
                let n = min(buffer.count, block.count - offset)
                buffer.baseAddress!.copyMemory(from: block.bytes.baseAddress! + offset, byteCount: n)
                offset += n
                return n
            }
            if let block = current {
                lock.locked { free.append(block.bytes) }
                current = nil
                freeSignal.signal()
            }
            filledSignal.wait()
            let block = lock.locked { filled.removeFirst() }
            current = block
            offset = 0
            if let error = block.error { done = true; throw error }
            if block.count == 0 { done = true; return 0 }
        }
    }
}
