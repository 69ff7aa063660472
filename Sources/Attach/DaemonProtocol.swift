// The messages of dynolog's IPC fabric, as libkineto's IpcFabricConfigClient sends and reads them
// (pytorch/kineto libkineto/src/IpcFabricConfigClient.cpp and the vendored dynolog headers
// ipcfabric/FabricManager.h, Utils.h). One message is one datagram: a 40-byte `Metadata` header
// (the payload size as a 64-bit size_t, then a 32-byte NUL-padded type name) and the payload.
// Integers are in the machine's byte order: little-endian on every Linux that runs PyTorch.

/// A malformed datagram: what is wrong and at which byte offset.
public struct DaemonProtocolError: Error, CustomStringConvertible, Equatable {
    public var offset: Int
    public var message: String
    public var description: String { "byte \(offset): \(message)" }
}

/// One IPC-fabric message: its type name (`req`, `ctxt`) and payload bytes.
public struct FabricMessage: Equatable, Sendable {
    /// Bytes of the header: the size (8) and the type name (32).
    public static let headerSize = 40
    /// Bytes of the type-name field, its NUL included.
    public static let typeSize = 32

    public var type: String
    public var payload: [UInt8]

    public init(type: String, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    /// The datagram: header, then payload.
    public func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.headerSize + payload.count)
        appendInteger(UInt64(payload.count), to: &out)
        let name = Array(type.utf8.prefix(Self.typeSize - 1))
        out += name + [UInt8](repeating: 0, count: Self.typeSize - name.count)
        return out + payload
    }

    /// Parses one datagram; the size field must match the bytes that follow the header.
    public static func decode(_ bytes: [UInt8]) throws(DaemonProtocolError) -> FabricMessage {
        guard bytes.count >= headerSize else {
            throw DaemonProtocolError(offset: bytes.count, message: "datagram of \(bytes.count) bytes is shorter than the \(headerSize)-byte header")
        }
        let size = readInteger(UInt64.self, bytes, at: 0)
        guard size == UInt64(bytes.count - headerSize) else {
            throw DaemonProtocolError(offset: 0, message: "size field says \(size) payload bytes, the datagram has \(bytes.count - headerSize)")
        }
        let field = bytes[8..<headerSize]
        guard let end = field.firstIndex(of: 0) else {
            throw DaemonProtocolError(offset: 8, message: "type name is not NUL-terminated within \(typeSize) bytes")
        }
        let name = field[8..<end]
        guard name.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw DaemonProtocolError(offset: 8, message: "type name is not printable ASCII")
        }
        return FabricMessage(type: String(decoding: name, as: UTF8.self), payload: Array(bytes[headerSize...]))
    }
}

/// `ctxt`: a process registering with the daemon (`LibkinetoContext`: gpu, pid, job id).
public struct KinetoContext: Equatable, Sendable {
    public static let type = "ctxt"
    public var gpu: Int32
    public var pid: Int32
    public var jobID: Int64

    public init(gpu: Int32, pid: Int32, jobID: Int64) {
        self.gpu = gpu
        self.pid = pid
        self.jobID = jobID
    }

    /// Parses the 16-byte payload (offsets in errors count from the datagram's start).
    public init(payload: [UInt8]) throws(DaemonProtocolError) {
        guard payload.count == 16 else {
            throw DaemonProtocolError(offset: FabricMessage.headerSize, message: "ctxt payload is \(payload.count) bytes, expected 16")
        }
        gpu = readInteger(Int32.self, payload, at: 0)
        pid = readInteger(Int32.self, payload, at: 4)
        jobID = readInteger(Int64.self, payload, at: 8)
    }

    public func encoded() -> FabricMessage {
        var p: [UInt8] = []
        appendInteger(gpu, to: &p)
        appendInteger(pid, to: &p)
        appendInteger(jobID, to: &p)
        return FabricMessage(type: Self.type, payload: p)
    }

    /// The daemon's answer: the number of processes it knows for the job, as a 32-bit integer.
    public static func reply(registered count: Int32) -> FabricMessage {
        var p: [UInt8] = []
        appendInteger(count, to: &p)
        return FabricMessage(type: type, payload: p)
    }
}

/// `req`: a process polling for an on-demand config (`LibkinetoRequest`: config type bit mask,
/// pid count, job id, then the pids of the process and its ancestors, the process first).
public struct KinetoRequest: Equatable, Sendable {
    public static let type = "req"
    /// The `ACTIVITIES` bit of the type mask: the process can start a trace now.
    public static let activitiesBit: Int32 = 0x2

    public var configType: Int32
    public var jobID: Int64
    public var pids: [Int32]

    public init(configType: Int32, jobID: Int64, pids: [Int32]) {
        self.configType = configType
        self.jobID = jobID
        self.pids = pids
    }

    /// Parses the payload: 16 bytes of fields, then `n` 32-bit pids.
    public init(payload: [UInt8]) throws(DaemonProtocolError) {
        let base = FabricMessage.headerSize
        guard payload.count >= 16 else {
            throw DaemonProtocolError(offset: base, message: "req payload is \(payload.count) bytes, shorter than its 16 bytes of fields")
        }
        configType = readInteger(Int32.self, payload, at: 0)
        let n = readInteger(Int32.self, payload, at: 4)
        jobID = readInteger(Int64.self, payload, at: 8)
        guard n >= 0, payload.count == 16 + 4 * Int(n) else {
            throw DaemonProtocolError(offset: base + 4, message: "req says \(n) pids, the payload holds \((payload.count - 16) / 4)")
        }
        pids = (0..<Int(n)).map { readInteger(Int32.self, payload, at: 16 + 4 * $0) }
    }

    public func encoded() -> FabricMessage {
        var p: [UInt8] = []
        appendInteger(configType, to: &p)
        appendInteger(Int32(pids.count), to: &p)
        appendInteger(jobID, to: &p)
        for pid in pids { appendInteger(pid, to: &p) }
        return FabricMessage(type: Self.type, payload: p)
    }

    /// The polling process (the first pid), or nil for an empty list.
    public var pid: Int32? { pids.first }

    /// Whether the poll asks for an activities (trace) config.
    public var wantsActivities: Bool { configType & Self.activitiesBit != 0 }

    /// The daemon's answer: the config text, empty for "nothing to do".
    public static func reply(config: String) -> FabricMessage {
        FabricMessage(type: type, payload: Array(config.utf8))
    }
}

/// What to trace, written as Kineto's on-demand config (`KEY=value` lines, keys of
/// libkineto/src/Config.cpp).
public struct OnDemandConfig: Equatable, Sendable {
    /// How long to trace.
    public enum Window: Equatable, Sendable {
        /// Milliseconds of wall time.
        case milliseconds(Int)
        /// Optimizer steps (the job must report them: torch.profiler's optimizer hook).
        case iterations(Int)
    }

    public var window: Window
    /// The trace file Kineto writes (it inserts `_PID` before `.json`).
    public var logFile: String
    /// Kineto activity type names (`ACTIVITY_TYPES`); nil for Kineto's defaults.
    public var activityTypes: [String]?
    public var recordShapes = false
    public var profileMemory = false
    public var withStack = false
    /// Start time in milliseconds since the epoch, for ranks traced in one window; nil starts
    /// after Kineto's warm-up from when the request is read.
    public var startTimeMs: Int64?
    /// Warm-up seconds before tracing starts (`ACTIVITIES_WARMUP_PERIOD_SECS`); nil for Kineto's (5 s).
    public var warmupSeconds: Int?

    public init(window: Window, logFile: String) {
        self.window = window
        self.logFile = logFile
    }

    /// The config text handed to the process.
    public var text: String {
        var lines: [String] = []
        switch window {
        case let .milliseconds(ms):
            lines.append("ACTIVITIES_DURATION_MSECS=\(ms)")
            lines.append("PROFILE_START_TIME=\(startTimeMs ?? 0)")
        case let .iterations(n):
            lines.append("PROFILE_START_ITERATION=0")
            lines.append("PROFILE_START_ITERATION_ROUNDUP=1")
            lines.append("ACTIVITIES_ITERATIONS=\(n)")
        }
        lines.append("ACTIVITIES_LOG_FILE=\(logFile)")
        if let warmupSeconds { lines.append("ACTIVITIES_WARMUP_PERIOD_SECS=\(warmupSeconds)") }
        if let activityTypes { lines.append("ACTIVITY_TYPES=" + activityTypes.joined(separator: ",")) }
        if recordShapes { lines.append("PROFILE_REPORT_INPUT_SHAPES=true") }
        if profileMemory { lines.append("PROFILE_PROFILE_MEMORY=true") }
        if withStack { lines.append("PROFILE_WITH_STACK=true") }
        return lines.joined(separator: "\n")
    }

    /// Kineto activity types for `--activities` names: the groups of torch.profiler's
    /// `ProfilerActivity` (cpu, cuda, xpu, mtia, hpu, privateuse1) or Kineto's own type names.
    /// Only names that Kineto has long known: an unknown one makes it drop the whole request.
    public static func activityTypes(_ names: [String]) throws(DaemonProtocolError) -> [String] {
        var out: [String] = []
        for raw in names {
            let name = raw.lowercased()
            guard let types = activityGroups[name] ?? (kinetoTypes.contains(name) ? [name] : nil) else {
                let known = (activityGroups.keys.sorted() + kinetoTypes).joined(separator: ", ")
                throw DaemonProtocolError(offset: 0, message: "unknown activity '\(raw)' (one of: \(known))")
            }
            for t in types where !out.contains(t) { out.append(t) }
        }
        return out
    }

    static let activityGroups: [String: [String]] = [
        "cpu": ["cpu_op", "user_annotation", "external_correlation", "cpu_instant_event", "python_function"],
        "cuda": ["gpu_user_annotation", "gpu_memcpy", "gpu_memset", "kernel", "cuda_runtime", "cuda_driver", "cuda_sync", "overhead"],
        "xpu": ["gpu_memcpy", "gpu_memset", "kernel", "xpu_runtime", "xpu_driver"],
        "mtia": ["mtia_runtime", "mtia_ccp_events"],
        "hpu": ["hpu_op"],
        "privateuse1": ["privateuse1_runtime", "privateuse1_driver"],
    ]

    static let kinetoTypes = [
        "cpu_op", "user_annotation", "gpu_user_annotation", "gpu_memcpy", "gpu_memset", "kernel", "external_correlation",
        "cuda_runtime", "cuda_driver", "cpu_instant_event", "python_function", "overhead", "cuda_sync",
    ]
}

/// Little-endian integer at `offset` of `bytes` (the caller checked the bounds).
func readInteger<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
    var value: T = 0
    for k in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[offset + k]) << (8 * k) }
    return value
}

func appendInteger<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    for k in 0..<MemoryLayout<T>.size { out.append(UInt8(truncatingIfNeeded: value >> (8 * k))) }
}
