#if canImport(Glibc)
import Glibc
#endif

/// A failure to attach or sample, with a one-line message that says what to do.
public struct SamplerError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }

    /// The message for a ptrace/process_vm_readv permission failure (errno EPERM) on `pid`.
    public static func permission(pid: Int32) -> SamplerError {
        permission(pid: pid, ptraceScope: ProcFS.text("/proc/sys/kernel/yama/ptrace_scope"), tracer: ProcFS.tracer(of: pid),
                   isRoot: getuid() == 0)
    }

    /// The permission message given the facts that decide it: yama's ptrace_scope, the pid
    /// already tracing the target (0 or nil: none) and whether stepscope runs as root.
    public static func permission(pid: Int32, ptraceScope: String?, tracer: Int32?, isRoot: Bool) -> SamplerError {
        if let tracer, tracer != 0 {
            return SamplerError("process \(pid) is already traced by process \(tracer) (a debugger or another profiler): detach it first")
        }
        if let scope = ptraceScope?.first, scope != "0", !isRoot {
            return SamplerError("not permitted to attach to process \(pid): kernel.yama.ptrace_scope is \(scope); run as root or 'sudo sysctl kernel.yama.ptrace_scope=0'")
        }
        return SamplerError("not permitted to attach to process \(pid): run as the same user or root; in a container add CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE)")
    }
}

/// Where a CPython interpreter lives in a process: its version, layout and `_PyRuntime`.
public struct PythonRuntime: Sendable {
    public var pid: Int32
    /// e.g. "3.11.7" (patch known from `Py_Version`, 3.11+), or "3.10".
    public var version: String
    public var layout: PythonLayout
    /// Address of `_PyRuntime` in the target.
    public var runtimeAddress: UInt64
    /// Addresses of `PyCode_Type` and `PyUnicode_Type` (0 when unknown), used to validate reads.
    public var codeType: UInt64
    public var unicodeType: UInt64
    /// The file (executable or libpython) defining `_PyRuntime`.
    public var binary: String

    public init(pid: Int32, version: String, layout: PythonLayout, runtimeAddress: UInt64, codeType: UInt64, unicodeType: UInt64,
                binary: String) {
        self.pid = pid
        self.version = version
        self.layout = layout
        self.runtimeAddress = runtimeAddress
        self.codeType = codeType
        self.unicodeType = unicodeType
        self.binary = binary
    }
}

/// Finds the interpreter of a process from the outside: ELF symbols and /proc maps, no stopping.
public enum PythonRuntimeLocator {
    /// Locates CPython in `pid`, or throws a one-line error (not Python, unsupported version).
    public static func locate(pid: Int32, memory: ProcessMemory) throws -> PythonRuntime {
        let maps = ProcFS.maps(pid)
        guard !maps.isEmpty else {
            throw ProcFS.isAlive(pid) ? SamplerError.permission(pid: pid) : SamplerError("no process \(pid)")
        }
        var candidates: [String] = []
        for m in maps where !m.path.isEmpty && !candidates.contains(m.path) {
            let name = m.path.split(separator: "/").last.map(String.init) ?? ""
            if name.hasPrefix("libpython3") || name.hasPrefix("python3") { candidates.append(m.path) }
        }
        for path in candidates {
            guard let elf = ElfFile(path: path), let bias = elf.loadBias(in: maps) else { continue }
            let runtimeValue = elf.symbol("_PyRuntime")?.value ?? elf.sections[".PyRuntime"]?.addr
            guard let runtimeValue else { continue }
            let runtime = runtimeValue &+ bias
            let minor: Int
            var version: String
            if let sym = elf.symbol("Py_Version") {
                let hex = try readOrExplain(memory, pid) { m throws(MemoryError) in try m.read(sym.value &+ bias, 4).u32(0) }
                minor = Int((hex >> 16) & 0xff)
                version = "3.\(minor).\((hex >> 8) & 0xff)"
                guard hex >> 24 == 3 else { throw SamplerError("\(path): unexpected Py_Version 0x\(String(hex, radix: 16))") }
            } else if let parsed = versionFromName(path) {
                minor = parsed
                version = "3.\(parsed)"
            } else {
                continue
            }
            let layout: PythonLayout
            if minor >= 13 {
                let bytes = try readOrExplain(memory, pid) { m throws(MemoryError) in try m.read(runtime, PythonLayout.debugOffsetsSize) }
                guard let parsed = PythonLayout.fromDebugOffsets(bytes) else {
                    throw SamplerError("Python \(version) in process \(pid): no usable _Py_DebugOffsets (free-threaded builds are not supported)")
                }
                layout = parsed
            } else if let builtIn = PythonLayout.builtIn(minor: minor) {
                layout = builtIn
            } else {
                throw SamplerError("Python \(version) in process \(pid) is not supported (3.10 to 3.13 are)")
            }
            func address(_ name: String) -> UInt64 { elf.symbol(name).map { $0.value &+ bias } ?? 0 }
            return PythonRuntime(pid: pid, version: version, layout: layout, runtimeAddress: runtime,
                                 codeType: address("PyCode_Type"), unicodeType: address("PyUnicode_Type"), binary: path)
        }
        let exe = ProcFS.executable(pid) ?? "?"
        throw SamplerError("process \(pid) (\(exe)) does not run CPython 3.10+: no _PyRuntime symbol in its executable or libpython")
    }

    /// 10 for ".../libpython3.10.so.1.0" or ".../python3.10".
    static func versionFromName(_ path: String) -> Int? {
        guard let name = path.split(separator: "/").last, let r = name.firstRange(of: "python3.") else { return nil }
        return Int(name[r.upperBound...].prefix(while: \.isNumber))
    }

    /// Runs a read, turning memory errors into one-line sampler errors.
    static func readOrExplain<T>(_ memory: ProcessMemory, _ pid: Int32, _ body: (ProcessMemory) throws(MemoryError) -> T) throws -> T {
        do {
            return try body(memory)
        } catch .permission {
            throw SamplerError.permission(pid: pid)
        } catch .noProcess {
            throw SamplerError("process \(pid) exited")
        } catch {
            throw SamplerError("cannot read the memory of process \(pid)")
        }
    }

    /// The first process at or below `pid` (itself, then its descendants breadth first) running
    /// CPython: a pyenv shim or a shell script is a bash process whose child is the interpreter.
    public static func pythonProcess(under pid: Int32) -> Int32? {
        var queue = [pid]
        var seen = 0
        while seen < queue.count && seen < 64 {
            let p = queue[seen]
            seen += 1
            if ProcFS.maps(p).contains(where: { m in
                let name = m.path.split(separator: "/").last ?? ""
                return name.hasPrefix("libpython3") || name.hasPrefix("python3")
            }) { return p }
            queue += ProcFS.children(p)
        }
        return nil
    }
}

extension ProcFS {
    /// The pid tracing `pid` (TracerPid in /proc/PID/status; 0: none), or nil when unreadable.
    public static func tracer(of pid: Int32) -> Int32? {
        guard let text = text("/proc/\(pid)/status") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("TracerPid:") {
            return Int32(line.dropFirst("TracerPid:".count).trimmingCharacters(in: " \t"))
        }
        return nil
    }
}
