import Dispatch

/// `(0..<count).map(body)` computed on all cores; `body` must be safe to call from several
/// threads at once (it reads shared values and returns its result).
func concurrentMap<T>(_ count: Int, _ body: (Int) -> T) -> [T] {
    [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        withoutActuallyEscaping(body) { body in
            let target = UncheckedSendable((buffer.baseAddress, body))
            DispatchQueue.concurrentPerform(iterations: count) { i in
                (target.value.0! + i).initialize(to: target.value.1(i))
            }
        }
        initialized = count
    }
}

/// A value handed to `concurrentMap`'s workers, each of which touches only its own part of it.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
