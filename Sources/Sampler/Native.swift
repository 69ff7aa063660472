import CElf
import CUnwind
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// One native frame: an instruction address (a return address above the innermost frame).
public typealias NativeFrame = UInt64

/// Native stacks of every thread of a process through libunwind-ptrace.
///
/// Each thread is seized once (PTRACE_SEIZE: if stepscope dies, the kernel detaches and the thread
/// runs on); per sample only the thread being unwound is stopped (PTRACE_INTERRUPT), just long
/// enough to copy its registers and the top of its stack (a snapshot), and continued; it is then
/// unwound from the snapshot with its own long-lived `_UPT` context (which finds unwind info) in
/// one address space with the global cache. Every ptrace call comes from the thread that created
/// the unwinder.
public final class NativeUnwinder {
    public let pid: Int32
    private let space: unw_addr_space_t
    private var contexts: [Int32: (upt: UnsafeMutableRawPointer, snapshot: OpaquePointer)] = [:]
    /// Stack bytes copied per thread and sample, from the stack pointer up.
    static let stackBytes = 256 * 1024
    /// Threads interrupted that had not stopped when the wait gave up (a long uninterruptible
    /// sleep): their stop is collected and resumed before anything else touches them.
    private var stopPending = Set<Int32>()
    private var ips = [UInt64](repeating: 0, count: 512)

    /// Seizes every thread of `pid`, or throws a one-line error (permission, no process).
    public init(pid: Int32) throws {
        self.pid = pid
        guard let space = cunwind_snapshot_space_create() else { throw SamplerError("libunwind: cannot create an address space") }
        self.space = space
        try seizeNewThreads()  // on failure deinit detaches what was seized and frees the space
    }

    deinit {
        detach()
        cunwind_remote_space_destroy(space)
    }

    /// Seizes threads that appeared since the last call.
    private func seizeNewThreads() throws {
        for tid in ProcFS.threads(pid) where contexts[tid] == nil {
            let rc = cunwind_ptrace_seize(tid, 0)
            if rc == -EPERM { throw SamplerError.permission(pid: pid) }
            guard rc == 0, let upt = cunwind_upt_create(tid) else { continue }  // ESRCH: the thread just exited
            guard let snapshot = cunwind_snapshot_create(upt, Self.stackBytes) else {
                cunwind_upt_destroy(upt)
                continue
            }
            contexts[tid] = (upt, snapshot)
        }
    }

    /// Unwinds every thread, one at a time, calling `whileStopped` with each thread's id before
    /// resuming it; stacks innermost first, and the count of threads that could not be unwound.
    public func unwindAll(whileStopped: (Int32) -> Void = { _ in }) -> (stacks: [Int32: [NativeFrame]], failures: Int) {
        try? seizeNewThreads()
        var stacks: [Int32: [NativeFrame]] = [:]
        var failures = 0
        for (tid, context) in contexts.sorted(by: { $0.key < $1.key }) {
            if stopPending.contains(tid) {
                // Resume it once its late stop arrives; unwind it again from the next sample on.
                switch collectStop(tid, attempts: 1) {
                case .stopped(let signal): _ = cunwind_ptrace_cont(tid, signal); stopPending.remove(tid)
                case .gone: stopPending.remove(tid); forget(tid)
                case .timeout: break
                }
                failures += 1
                continue
            }
            let pending: Int32
            switch stop(tid) {
            case .stopped(let signal): pending = signal
            case .gone: forget(tid); continue
            case .timeout: stopPending.insert(tid); failures += 1; continue
            }
            let captured = cunwind_snapshot_capture(context.snapshot, tid)
            whileStopped(tid)
            _ = cunwind_ptrace_cont(tid, pending)
            let n = captured == 0 ? cunwind_snapshot_backtrace(space, context.snapshot, &ips, Int32(ips.count)) : -1
            if n > 0 { stacks[tid] = Array(ips[0..<Int(n)]) } else { failures += 1 }
        }
        return (stacks, failures)
    }

    /// The outcome of stopping a thread.
    enum Stop {
        /// Stopped; the signal to pass on when resuming (one that arrived meanwhile, else 0).
        case stopped(Int32)
        case gone
        /// Not stopped yet: its stop is still pending.
        case timeout
    }

    /// Stops a seized thread with PTRACE_INTERRUPT and waits for it, about 200 ms at most.
    private func stop(_ tid: Int32) -> Stop {
        guard cunwind_ptrace_interrupt(tid) == 0 else { return .gone }
        return collectStop(tid, attempts: 4000)
    }

    /// Polls for the stop of an interrupted thread. Polling, not a blocking wait: a blocking wait
    /// on an exiting thread (a group leader whose exit waits for the others) never returns, and
    /// signals could not end it.
    private func collectStop(_ tid: Int32, attempts: Int) -> Stop {
        var status = cunwind_wait_status()
        for attempt in 0..<attempts {
            let got = cunwind_waitpid(tid, WNOHANG, &status)
            if got < 0 { return .gone }
            if got == 0 {
                if attempt >= 100 { usleep(50) }  // a stop takes ~20 us: spin first, then sleep
                continue
            }
            switch status.kind {
            case CUNWIND_WAIT_STOPPED:
                return .stopped(status.event == 0 && status.value != SIGTRAP ? status.value : 0)
            case CUNWIND_WAIT_EXITED, CUNWIND_WAIT_KILLED:
                return .gone
            default:
                continue
            }
        }
        return .timeout
    }

    /// Drops a thread that is gone, reaping it: an exited traced thread stays a zombie until its
    /// tracer waits for it, and holds up the exit of its whole process meanwhile.
    private func forget(_ tid: Int32) {
        guard let context = contexts.removeValue(forKey: tid) else { return }
        var status = cunwind_wait_status()
        _ = cunwind_waitpid(tid, WNOHANG, &status)
        cunwind_snapshot_destroy(context.snapshot)
        cunwind_upt_destroy(context.upt)
    }

    /// Detaches from every thread, which runs on (PTRACE_DETACH needs the thread stopped, so each
    /// is interrupted first); threads that already exited are reaped. Safe to call more than once.
    public func detach() {
        for tid in Array(contexts.keys) {
            // A thread whose stop is pending gets no second interrupt; if it never stops, the
            // kernel drops the pending stop when stepscope exits.
            let state = stopPending.contains(tid) ? collectStop(tid, attempts: 4000) : stop(tid)
            if case .stopped(let signal) = state { _ = cunwind_ptrace_detach(tid, signal) }
            forget(tid)
        }
        stopPending = []
    }
}

/// Names native addresses from ELF symbol tables (`.symtab`, then `.dynsym`), with load bias and
/// C++ demangling. Tables are read once per module, at attach for the modules mapped then (off the
/// sampling path); each address is then a binary search, once, and cached.
public final class Symbolizer {
    public let pid: Int32
    private var maps: [MemoryMap] = []
    private var modules: [String: Module?] = [:]
    private var cache: [UInt64: (name: String, module: String)] = [:]

    struct Module {
        var bias: UInt64
        /// Function symbols sorted by address.
        var starts: [UInt64]
        var sizes: [UInt64]
        var names: [String]
    }

    /// Reads the symbol tables of every executable mapping now, before sampling starts.
    public init(pid: Int32) {
        self.pid = pid
        maps = ProcFS.maps(pid)
        for m in maps where m.isExecutable && m.path.hasPrefix("/") { _ = module(m.path) }
    }

    /// The function containing `address` and its module path; "module+0xoffset" when unknown.
    public func symbolize(_ address: UInt64) -> (name: String, module: String) {
        if let hit = cache[address] { return hit }
        var map = maps.first { $0.start <= address && address < $0.end }
        if map == nil {
            maps = ProcFS.maps(pid)
            map = maps.first { $0.start <= address && address < $0.end }
        }
        let base = map.map { $0.path.split(separator: "/").last.map(String.init) ?? $0.path } ?? "?"
        var result = (name: "\(base)+0x" + String(address &- (map?.start ?? 0) &+ (map?.offset ?? 0), radix: 16), module: map?.path ?? "")
        if let map, !map.path.isEmpty, let module = module(map.path) {
            let target = address &- module.bias
            var lo = 0, hi = module.starts.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if module.starts[mid] <= target { lo = mid + 1 } else { hi = mid }
            }
            if lo > 0, target < module.starts[lo - 1] + max(module.sizes[lo - 1], 1) || module.sizes[lo - 1] == 0 {
                result.name = Self.demangle(module.names[lo - 1])
            }
        }
        cache[address] = result
        return result
    }

    /// The address range(s) of the function `name` (and its `.cold` parts) in module `path`.
    public func ranges(of name: String, in path: String) -> [Range<UInt64>] {
        guard let module = module(path) else { return [] }
        var out: [Range<UInt64>] = []
        for (i, n) in module.names.enumerated() where n == name || n.hasPrefix(name + ".cold") {
            out.append(module.starts[i] &+ module.bias ..< module.starts[i] &+ module.bias &+ max(module.sizes[i], 1))
        }
        return out
    }

    private func module(_ path: String) -> Module? {
        if let known = modules[path] { return known }
        var module: Module?
        if let elf = ElfFile(path: path), let bias = elf.loadBias(in: maps) {
            let functions = elf.symbols.filter(\.isFunction).sorted { $0.value < $1.value }
            module = Module(bias: bias, starts: functions.map(\.value), sizes: functions.map(\.size), names: functions.map(\.name))
        }
        modules[path] = module
        return module
    }

    /// The demangled C++ name, or `name` as is.
    public static func demangle(_ name: String) -> String {
        guard name.hasPrefix("_Z") else { return name }
        var buffer = [CChar](repeating: 0, count: 1024)
        guard celf_demangle(name, &buffer, buffer.count) else { return name }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Turns Python and native stacks into frame rows of a profile, splicing Python frames in at each
/// `_PyEval_EvalFrameDefault` frame.
public struct StackMerger {
    let symbolizer: Symbolizer?
    /// `_PyEval_EvalFrameDefault` and its `.cold` part in the interpreter binary.
    let evalRanges: [Range<UInt64>]
    /// The interpreter binary, whose other frames are dropped from merged stacks.
    let interpreter: String

    public init(symbolizer: Symbolizer?, interpreter: String) {
        self.symbolizer = symbolizer
        self.interpreter = interpreter
        evalRanges = symbolizer?.ranges(of: "_PyEval_EvalFrameDefault", in: interpreter) ?? []
    }

    /// Frame indices, outermost first, of a Python stack (innermost first).
    public static func pythonOnly(_ python: [PythonFrame], into profile: SampledProfile) -> [Int32] {
        python.reversed().map { f in
            profile.frames.intern(kind: .python, name: profile.strings.intern(f.name), file: profile.strings.intern(f.file),
                                  line: Int32(clamping: f.line))
        }
    }

    /// Frame indices, outermost first, of the merged stack (both inputs innermost first).
    public func merge(python: [PythonFrame], native: [NativeFrame], into profile: SampledProfile) -> [Int32] {
        guard let symbolizer else { return Self.pythonOnly(python, into: profile) }
        // Python frames grouped by the eval call that runs them, innermost group first.
        var groups: [[PythonFrame]] = []
        var current: [PythonFrame] = []
        for f in python {
            current.append(f)
            if f.isEntry { groups.append(current); current = [] }
        }
        if !current.isEmpty { groups.append(current) }
        var nextGroup = 0
        var merged: [Int32] = []  // innermost first
        for (depth, ip) in native.enumerated() {
            let pc = depth == 0 ? ip : ip &- 1  // return addresses point after the call
            if evalRanges.contains(where: { $0.contains(pc) }) {
                if nextGroup < groups.count {
                    merged += Self.pythonOnly(groups[nextGroup], into: profile).reversed()
                    nextGroup += 1
                }
                continue
            }
            let (name, module) = symbolizer.symbolize(pc)
            if module == interpreter && !evalRanges.isEmpty { continue }
            merged.append(profile.frames.intern(kind: .native, name: profile.strings.intern(name),
                                                file: profile.strings.intern(module), line: 0))
        }
        // Unwinding stopped early: the remaining Python frames are the outer ones.
        while nextGroup < groups.count {
            merged += Self.pythonOnly(groups[nextGroup], into: profile).reversed()
            nextGroup += 1
        }
        return merged.reversed()
    }
}
