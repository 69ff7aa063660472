import Dispatch
#if canImport(Glibc)
import Glibc
#endif

// The concurrency every module shares: a map over all cores, a value guarded by a lock, the
// core count and the monotonic clock.

/// A value guarded by a pthread mutex (Foundation-free): the one box for state that several
/// threads read and write.
public final class Locked<Value>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pthread_mutex_destroy(&mutex) }

    /// Runs `body` on the value while holding the lock.
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body(&value)
    }
}

extension Locked where Value == Void {
    /// Runs `body` while holding the lock (for a lock that guards its owner's fields).
    public func locked<R>(_ body: () throws -> R) rethrows -> R {
        try withLock { _ in try body() }
    }
}

/// `(0..<count).map(body)` computed on `workers` threads (default: one per core), each taking
/// the next index not yet taken; `body` must be safe to call from several threads at once (it
/// reads shared values and returns its result).
public func concurrentMap<T>(_ count: Int, workers: Int? = nil, _ body: (Int) -> T) -> [T] {
    let threads = max(1, min(workers ?? count, count))
    let next = Locked(0)
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        withoutActuallyEscaping(body) { body in
            let target = UncheckedSendable((buffer.baseAddress, body))
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                while true {
                    let i = next.withLock { n -> Int in
                        defer { n += 1 }
                        return n
                    }
                    guard i < count else { return }
                    (target.value.0! + i).initialize(to: target.value.1(i))
                }
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

/// Cores online.
public var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

/// Seconds on the monotonic clock.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
