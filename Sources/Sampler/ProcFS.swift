#if canImport(Glibc)
import Glibc
#endif

/// One line of /proc/PID/maps.
public struct MemoryMap: Sendable, Equatable {
    public var start: UInt64
    public var end: UInt64
    public var permissions: String
    public var offset: UInt64
    public var path: String

    /// True for an executable mapping.
    public var isExecutable: Bool { permissions.contains("x") }
}

/// A thread's scheduler state from /proc/PID/task/TID/stat.
public enum ThreadState: Character, Sendable {
    case running = "R", sleeping = "S", diskSleep = "D", stopped = "T", tracingStop = "t", zombie = "Z", dead = "X", idle = "I"
    case unknown = "?"

    /// The state in words, as `ps` documents the letters.
    public var name: String {
        switch self {
        case .running: return "running"
        case .sleeping: return "sleeping"
        case .diskSleep: return "disk sleep"
        case .stopped: return "stopped"
        case .tracingStop: return "tracing stop"
        case .zombie: return "zombie"
        case .dead: return "dead"
        case .idle: return "idle"
        case .unknown: return "unknown"
        }
    }

    /// Whether the thread is doing work (on or waiting for a CPU).
    public var isActive: Bool { self == .running || self == .diskSleep }
}

/// Reads of /proc: maps, threads, their states, children, memory.
public enum ProcFS {
    /// The whole content of a (small, /proc) file, or nil when it cannot be read.
    public static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Most /proc files read per sample (stat, statm) are under 1 KiB: a small stack buffer.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 4096) { chunk in
            var out: [UInt8] = []
            while true {
                let n = Glibc.read(fd, chunk.baseAddress, chunk.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[0..<n]))
            }
            return out
        }
    }

    /// The file as text, or nil.
    public static func text(_ path: String) -> String? { read(path).map { String(decoding: $0, as: UTF8.self) } }

    /// Whether process `pid` exists (and is not a zombie).
    public static func isAlive(_ pid: Int32) -> Bool {
        guard let state = processState(pid) else { return false }
        return state != .zombie && state != .dead
    }

    /// Mappings of process `pid`.
    public static func maps(_ pid: Int32) -> [MemoryMap] {
        guard let text = text("/proc/\(pid)/maps") else { return [] }
        return parseMaps(text)
    }

    /// Parses the text of a maps file.
    public static func parseMaps(_ text: String) -> [MemoryMap] {
        var result: [MemoryMap] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count >= 5 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt64(range[0], radix: 16), let end = UInt64(range[1], radix: 16),
                  let offset = UInt64(fields[2], radix: 16) else { continue }
            let path = fields.count > 5 ? String(fields[5].drop(while: { $0 == " " })) : ""
            result.append(MemoryMap(start: start, end: end, permissions: String(fields[1]), offset: offset, path: path))
        }
        return result
    }

    /// Thread ids of process `pid`, ascending.
    public static func threads(_ pid: Int32) -> [Int32] {
        guard let dir = opendir("/proc/\(pid)/task") else { return [] }
        defer { closedir(dir) }
        var tids: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if let tid = Int32(name) { tids.append(tid) }
        }
        return tids.sorted()
    }

    /// The state letter and name of a /proc stat file's content.
    static func parseStat(_ bytes: [UInt8]) -> (state: ThreadState, comm: String)? {
        // "pid (comm) S ...": comm may hold spaces and parentheses, so take the last ')'.
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")), let close = bytes.lastIndex(of: UInt8(ascii: ")")),
              close + 2 < bytes.count else { return nil }
        let comm = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
        let state = ThreadState(rawValue: Character(Unicode.Scalar(bytes[close + 2]))) ?? .unknown
        return (state, comm)
    }

    /// The scheduler state of thread `tid` of `pid`, or nil when it is gone.
    public static func threadState(_ pid: Int32, _ tid: Int32) -> ThreadState? {
        read("/proc/\(pid)/task/\(tid)/stat").flatMap(parseStat)?.state
    }

    /// The scheduler state of process `pid`, or nil when it is gone.
    public static func processState(_ pid: Int32) -> ThreadState? {
        read("/proc/\(pid)/stat").flatMap(parseStat)?.state
    }

    /// The name (comm) of thread `tid` of `pid`.
    public static func threadName(_ pid: Int32, _ tid: Int32) -> String {
        read("/proc/\(pid)/task/\(tid)/stat").flatMap(parseStat)?.comm ?? "\(tid)"
    }

    /// Resident set size of `pid` in bytes, from /proc/PID/statm.
    public static func rss(_ pid: Int32) -> Int64? {
        guard let text = text("/proc/\(pid)/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int64(fields[1]) else { return nil }
        return pages * Int64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Direct children of every thread of `pid` (from /proc/PID/task/*/children).
    public static func children(_ pid: Int32) -> [Int32] {
        var result: [Int32] = []
        for tid in threads(pid) {
            guard let text = text("/proc/\(pid)/task/\(tid)/children") else { continue }
            result += text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: " \n")) }
        }
        return result.sorted()
    }

    /// The path of the program `pid` runs (the /proc/PID/exe link target).
    public static func executable(_ pid: Int32) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/\(pid)/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}
