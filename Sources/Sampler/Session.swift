import Synchronization
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// How to sample.
public struct SamplerOptions: Sendable {
    /// Mean samples per second.
    public var rate: Double = 100
    /// Stop after this many seconds (nil: until the target exits or a signal arrives).
    public var duration: Double?
    /// Unwind native stacks too (stops each thread briefly with ptrace).
    public var native = false
    /// Follow child processes (DataLoader workers, torchrun ranks).
    public var subprocesses = false
    public init() {}
}

/// Counters of one recording, for the end-of-run summary.
public struct SamplerStats: Sendable, Equatable {
    /// Sampling instants.
    public var ticks = 0
    /// Thread samples recorded.
    public var samples = 0
    /// Instants that came more than one mean interval late (sampling fell behind).
    public var late = 0
    /// Thread reads retried after a torn read, and dropped after retries failed.
    public var retried = 0
    public var dropped = 0
    /// Native unwinds that failed (the Python stack was kept).
    public var unwindFailures = 0
}

/// Set from signal handlers; the sampling loop checks it between samples and detaches.
let stopRequested = Atomic<Bool>(false)

/// One sampled process: its interpreter reader (none for a native-only process) and, with
/// `--native`, its unwinder.
final class SampledProcess {
    let pid: Int32
    let reader: PythonStackReader?
    var native: NativeUnwinder?
    let merger: StackMerger

    init(pid: Int32, native: Bool) throws {
        self.pid = pid
        let memory = LiveMemory(pid: pid)
        do {
            reader = PythonStackReader(runtime: try PythonRuntimeLocator.locate(pid: pid, memory: memory), memory: memory)
        } catch let error as SamplerError {
            // Without Python, --native still gives native stacks; unless the process cannot be read at all.
            guard native, ProcFS.isAlive(pid), !ProcFS.maps(pid).isEmpty else { throw error }
            reader = nil
        }
        merger = StackMerger(symbolizer: native ? Symbolizer(pid: pid) : nil, interpreter: reader?.runtime.binary ?? "")
        if native { self.native = try NativeUnwinder(pid: pid) }
    }
}

/// A recording: samples one process (and its children) at randomly jittered intervals.
public final class SamplingSession {
    public let options: SamplerOptions
    public let profile: SampledProfile
    public private(set) var stats = SamplerStats()
    /// What the root process runs: "Python 3.11.7", or native only.
    public let version: String
    private var processes: [SampledProcess] = []
    /// Scheduler state of each thread read at the latest instant, by pid then tid (`dump` shows it).
    public private(set) var latestStates: [Int32: [Int32: ThreadState]] = [:]
    private var rng = SystemRandomNumberGenerator()
    private var exitedPids = Set<Int32>()
    private var refusedPids = Set<Int32>()

    /// Attaches to `pid` (seizing its threads with `--native`), or throws a one-line error.
    public init(pid: Int32, options: SamplerOptions) throws {
        self.options = options
        profile = SampledProfile(intervalNs: Int64(1e9 / options.rate))
        let root = try SampledProcess(pid: pid, native: options.native)
        version = root.reader.map { "Python \($0.runtime.version)" } ?? "native only, no CPython found"
        processes = [root]
        profile.processes.append((pid, Self.commandLine(pid)))
    }

    deinit { detachAll() }

    /// Installs SIGINT/SIGTERM/SIGHUP handlers that end the recording (the loop then detaches).
    public static func installSignalHandlers() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig) { _ in stopRequested.store(true, ordering: .relaxed) }
        }
    }

    /// Samples until the duration passes, every process has exited or a signal arrives; then
    /// detaches. `onTick` runs after each sampling instant (used by `top`); returning false stops.
    public func run(onTick: ((SamplingSession) -> Bool)? = nil) {
        defer { detachAll() }
        let interval = 1.0 / options.rate
        let start = monotonicSeconds()
        var next = start
        var lastRSS = -1.0
        var lastScan = start - 1  // look for children at the first instant
        while !stopRequested.load(ordering: .relaxed) && !processes.isEmpty {
            let now = monotonicSeconds()
            if let d = options.duration, now - start >= d { break }
            if now < next {
                sleepSeconds(min(next - now, 0.05))
                continue
            }
            if now - next > interval { stats.late += 1; next = now }
            next += jittered(mean: interval)
            sampleOnce(rss: now - lastRSS >= 0.1)
            if now - lastRSS >= 0.1 { lastRSS = now }
            if options.subprocesses && now - lastScan >= 1 {
                lastScan = now
                followChildren()
            }
            if let onTick, !onTick(self) { break }
        }
    }

    /// One sampling instant over every process.
    public func sampleOnce(rss: Bool = true) {
        stats.ticks += 1
        let time = wallNanoseconds()
        var gone: [Int] = []
        for (k, p) in processes.enumerated() {
            // An exiting process (leader a zombie) can keep readable memory while its other
            // threads die: it counts as exited from its leader's state.
            guard ProcFS.isAlive(p.pid) else {
                gone.append(k)
                continue
            }
            guard var threads = p.reader == nil ? [] : try? p.reader!.sample() else { continue }
            // States first: a thread stopped for unwinding would look idle. Python-only mode reads
            // just the Python threads' states.
            var states: [Int32: ThreadState] = [:]
            for tid in p.native != nil ? ProcFS.threads(p.pid) : threads.map(\.tid) { states[tid] = ProcFS.threadState(p.pid, tid) }
            latestStates[p.pid] = states
            var nativeStacks: [Int32: [NativeFrame]] = [:]
            if let unwinder = p.native {
                // Each Python stack is read again while its thread is stopped, matching its native stack.
                let index = Dictionary(threads.indices.map { (threads[$0].tid, $0) }, uniquingKeysWith: { a, _ in a })
                let (stacks, failures) = unwinder.unwindAll { tid in
                    if let reader = p.reader, let k = index[tid], let fresh = reader.reread(threads[k]) { threads[k] = fresh }
                }
                nativeStacks = stacks
                stats.unwindFailures += failures
            }
            for t in threads {
                let tid = t.tid != 0 ? t.tid : Int32(truncatingIfNeeded: t.threadState >> 4)
                let state = states[tid] ?? .unknown
                let thread = profile.thread(pid: p.pid, tid: tid, name: ProcFS.threadName(p.pid, tid))
                let frames: [Int32]
                if let native = nativeStacks.removeValue(forKey: tid) {
                    frames = p.merger.merge(python: t.frames, native: native, into: profile)
                } else {
                    frames = StackMerger.pythonOnly(t.frames, into: profile)
                }
                profile.addSample(time: time, thread: thread, frames: frames, active: state.isActive, holdsGIL: t.holdsGIL)
                stats.samples += 1
            }
            // Threads without a Python thread state (native only: autograd engine, gloo, OpenMP).
            for (tid, native) in nativeStacks.sorted(by: { $0.key < $1.key }) {
                let state = states[tid] ?? .unknown
                let thread = profile.thread(pid: p.pid, tid: tid, name: ProcFS.threadName(p.pid, tid))
                profile.addSample(time: time, thread: thread, frames: p.merger.merge(python: [], native: native, into: profile),
                                  active: state.isActive, holdsGIL: false)
                stats.samples += 1
            }
            if rss, let bytes = ProcFS.rss(p.pid) {
                profile.rss.pid.append(p.pid); profile.rss.time.append(time); profile.rss.value.append(bytes)
            }
            stats.retried = processes.reduce(0) { $0 + ($1.reader?.retries ?? 0) }
            stats.dropped = processes.reduce(0) { $0 + ($1.reader?.dropped ?? 0) }
        }
        for k in gone.reversed() {
            exitedPids.insert(processes[k].pid)
            processes[k].native?.detach()
            processes.remove(at: k)
        }
    }

    /// Attaches to Python descendants not seen yet.
    private func followChildren() {
        var queue = processes.map(\.pid)
        var known = Set(queue).union(exitedPids).union(refusedPids)
        var i = 0
        while i < queue.count {
            for child in ProcFS.children(queue[i]) where !known.contains(child) {
                known.insert(child)
                queue.append(child)
                if let p = try? SampledProcess(pid: child, native: options.native) {
                    processes.append(p)
                    profile.processes.append((child, Self.commandLine(child)))
                } else {
                    refusedPids.insert(child)
                }
            }
            i += 1
        }
    }

    /// Lets every seized thread go. Safe to call more than once.
    public func detachAll() {
        for p in processes { p.native?.detach() }
    }

    /// Pids sampled at some point that exited during the recording.
    public var exited: [Int32] { exitedPids.sorted() }

    /// An interval drawn uniformly between half and one and a half of `mean`: random, so the
    /// samples do not lock onto a loop's period, and bounded, so no gap hides a step boundary for
    /// long (an exponential draw is over five means once in 150 samples).
    private func jittered(mean: Double) -> Double {
        mean * Double.random(in: 0.5..<1.5, using: &rng)
    }

    static func commandLine(_ pid: Int32) -> String {
        guard let bytes = ProcFS.read("/proc/\(pid)/cmdline") else { return "" }
        return String(decoding: Array(bytes.split(separator: 0).joined(separator: [UInt8(ascii: " ")])), as: UTF8.self)
    }
}

/// Wall-clock nanoseconds since the epoch.
func wallNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

func sleepSeconds(_ s: Double) {
    guard s > 0 else { return }
    var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - Double(Int(s))) * 1e9))
    nanosleep(&ts, nil)
}
