// The daemon's end of the IPC fabric: the Unix datagram socket `dynolog` (abstract, or a file in
// KINETO_IPC_SOCKET_DIR when the job has that set), and the broker that answers the polls.
#if canImport(Glibc)
import Glibc
#endif

/// Why the socket could not be bound.
public enum DaemonSocketError: Error, CustomStringConvertible {
    /// Another process (a running dynolog) holds the name.
    case inUse(String)
    case failed(String)

    public var description: String {
        switch self {
        case let .inUse(name): return "\(name) is held by another process (a dynolog daemon?)"
        case let .failed(message): return message
        }
    }
}

/// The bound `dynolog` socket, for one request; `close` (or deinit) releases the name.
public final class DaemonSocket {
    /// The name kineto sends to.
    public static let endpointName = "dynolog"

    /// `@dynolog` for the abstract name, else the socket file's path.
    public let address: String
    private var fd: Int32
    private let path: String?

    /// Binds `@dynolog`, or `directory/dynolog` when the job uses KINETO_IPC_SOCKET_DIR. A socket
    /// file nobody reads (left by a process that died) is replaced.
    public init(directory: String? = nil) throws(DaemonSocketError) {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .failed("socket: \(String(cString: strerror(errno)))") }
        if let directory, !directory.isEmpty {
            let file = directory + "/" + Self.endpointName
            path = file
            address = file
            var name = Array(file.utf8)
            name.append(0)
            var rc = Self.bind(fd, name)
            if rc != 0 && errno == EADDRINUSE && !Self.isListening(name) {
                unlink(file)
                rc = Self.bind(fd, name)
            }
            if rc != 0 { let e = errno; Glibc.close(fd); fd = -1; throw Self.bindError(e, file) }
        } else {
            path = nil
            address = "@" + Self.endpointName
            // Abstract name: a leading NUL, the name, and the trailing NUL kineto counts too (11 bytes with the family).
            let rc = Self.bind(fd, [0] + Array(Self.endpointName.utf8) + [0])
            if rc != 0 { let e = errno; Glibc.close(fd); fd = -1; throw Self.bindError(e, address) }
        }
    }

    deinit { close() }

    /// Unbinds (and removes the socket file); idempotent.
    public func close() {
        guard fd >= 0 else { return }
        Glibc.close(fd)
        fd = -1
        if let path { unlink(path) }
    }

    /// The next datagram and its sender's address, waiting up to `timeout` seconds; nil on timeout.
    public func receive(timeout: Double) -> (bytes: [UInt8], from: [UInt8])? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(max(0, timeout * 1000))) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var from = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let n = buffer.withUnsafeMutableBytes { buf in
            withUnsafeMutablePointer(to: &from) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, buf.baseAddress, buf.count, Int32(MSG_DONTWAIT), $0, &length) }
            }
        }
        guard n >= 0 else { return nil }
        let address = withUnsafeBytes(of: &from) { Array($0.prefix(Int(length))) }
        return (Array(buffer.prefix(n)), address)
    }

    /// Sends `bytes` to a raw socket address as `receive` returned it; false when it was not sent
    /// (the sender is gone).
    @discardableResult
    public func send(_ bytes: [UInt8], to address: [UInt8]) -> Bool {
        guard address.count > MemoryLayout<sa_family_t>.size, address.count <= MemoryLayout<sockaddr_un>.size else { return false }
        var to = sockaddr_un()
        withUnsafeMutableBytes(of: &to) { $0.copyBytes(from: address) }
        let n = bytes.withUnsafeBytes { buf in
            withUnsafePointer(to: &to) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, Int32(MSG_DONTWAIT), $0, socklen_t(address.count))
                }
            }
        }
        return n == bytes.count
    }

    /// bind(2) to `name` (the bytes of sun_path, the trailing NUL included).
    private static func bind(_ fd: Int32, _ name: [UInt8]) -> Int32 {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let room = MemoryLayout.size(ofValue: addr.sun_path)
        guard name.count <= room else { errno = ENAMETOOLONG; return -1 }
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: name) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count)
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, length) }
        }
    }

    /// Whether a process reads the socket file `name` (a datagram to it is not refused).
    private static func isListening(_ name: [UInt8]) -> Bool {
        let probe = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { return true }
        defer { Glibc.close(probe) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: name) }
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0 || errno != ECONNREFUSED
    }

    private static func bindError(_ e: Int32, _ name: String) -> DaemonSocketError {
        e == EADDRINUSE ? .inUse(name) : .failed("cannot bind \(name): \(String(cString: strerror(e)))")
    }
}

/// Answers the datagrams of a trace request: the config to each target's first activities poll,
/// an empty config to every other poll (other processes, and the targets once served), the
/// registration count to `ctxt`. With `together`, targets are served only once each has polled,
/// all with one start time, so they trace the same window.
public struct RequestBroker {
    /// What happened with one datagram.
    public enum Event: Equatable {
        /// The target got its config (with `startTimeMs` when traced together).
        case served(pid: Int32, startTimeMs: Int64?)
        /// A target polled; held back until the others have polled too.
        case heldBack(pid: Int32)
        /// A poll answered with an empty config (`pid` nil for an empty pid list).
        case answeredEmpty(pid: Int32?)
        case registered(pid: Int32)
        case malformed(DaemonProtocolError)
        /// A message type the daemon does not serve (no answer).
        case unknown(type: String)
    }

    /// Seconds between a job's polls (Kineto's ON_DEMAND_CONFIG_UPDATE_INTERVAL_SECS default).
    public static let pollInterval = 5.0

    public let targets: Set<Int32>
    public let together: Bool
    /// Seconds of warm-up the config asks for (used to place a common start time).
    public let warmup: Double
    /// The config text for a target, given the common start time (milliseconds since the epoch).
    private let config: (_ pid: Int32, _ startTimeMs: Int64?) -> String
    public private(set) var served: Set<Int32> = []
    public private(set) var polled: Set<Int32> = []
    /// Targets that polled without the activities bit: their profiler is busy (a trace running).
    public private(set) var busy: Set<Int32> = []
    /// The common start time, fixed once every target has polled.
    public private(set) var startTimeMs: Int64?

    public init(targets: Set<Int32>, together: Bool, warmup: Double, config: @escaping (_ pid: Int32, _ startTimeMs: Int64?) -> String) {
        self.targets = targets
        self.together = together
        self.warmup = warmup
        self.config = config
    }

    /// True while some target has not been served.
    public var pending: Bool { served.count < targets.count }

    /// The reply to one datagram (nil: none) and what it was; `nowMs` is the wall clock.
    public mutating func answer(_ datagram: [UInt8], nowMs: Int64) -> (reply: FabricMessage?, event: Event) {
        let message: FabricMessage
        do { message = try FabricMessage.decode(datagram) } catch { return (nil, .malformed(error)) }
        switch message.type {
        case KinetoContext.type:
            guard let ctxt = try? KinetoContext(payload: message.payload) else {
                return (nil, .malformed(DaemonProtocolError(offset: FabricMessage.headerSize, message: "ctxt payload of \(message.payload.count) bytes")))
            }
            return (KinetoContext.reply(registered: Int32(targets.count)), .registered(pid: ctxt.pid))
        case KinetoRequest.type:
            let request: KinetoRequest
            do { request = try KinetoRequest(payload: message.payload) } catch { return (nil, .malformed(error)) }
            let empty = KinetoRequest.reply(config: "")
            if let pid = request.pid, targets.contains(pid), !request.wantsActivities { busy.insert(pid) }
            guard let pid = request.pid, targets.contains(pid), !served.contains(pid), request.wantsActivities else {
                return (empty, .answeredEmpty(pid: request.pid))
            }
            polled.insert(pid)
            if together {
                if polled.count < targets.count { return (empty, .heldBack(pid: pid)) }
                if startTimeMs == nil {
                    // Every target polls again within one interval; each then has the warm-up
                    // ahead of it, with a second to spare.
                    startTimeMs = nowMs + Int64((Self.pollInterval + warmup + 1) * 1000)
                }
            }
            served.insert(pid)
            return (KinetoRequest.reply(config: config(pid, startTimeMs)), .served(pid: pid, startTimeMs: startTimeMs))
        default:
            return (nil, .unknown(type: message.type))
        }
    }
}
