import Sampler
#if canImport(Glibc)
import Glibc
#endif

/// The processes of a trace request: which have Kineto's daemon hook, and the ranks of a job.
public enum AttachTargets {
    /// The environment variable that makes Kineto poll a daemon.
    public static let hookVariable = "KINETO_USE_DAEMON"

    /// The environment of `pid` (/proc/PID/environ), or nil when it cannot be read.
    public static func environment(_ pid: Int32) -> [String: String]? {
        guard let bytes = ProcFS.read("/proc/\(pid)/environ") else { return nil }
        return parseEnvironment(bytes)
    }

    /// `KEY=value` entries separated by NUL bytes (the first `=` splits).
    public static func parseEnvironment(_ bytes: [UInt8]) -> [String: String] {
        var env: [String: String] = [:]
        for entry in bytes.split(separator: 0, omittingEmptySubsequences: true) {
            guard let eq = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
            env[String(decoding: entry[entry.startIndex..<eq], as: UTF8.self)] = String(decoding: entry[(eq + 1)...], as: UTF8.self)
        }
        return env
    }

    /// Whether Kineto in `pid` polls a daemon (it checks that the variable is set, whatever its value).
    public static func hasHook(_ env: [String: String]) -> Bool { env[hookVariable] != nil }

    /// The parent of `pid` (field 4 of /proc/PID/stat), or nil.
    public static func parent(_ pid: Int32) -> Int32? {
        guard let text = ProcFS.text("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count >= 2 ? Int32(fields[1]) : nil
    }

    /// The ranks of the job under (or at) `pid`: every descendant with the hook and a torchrun
    /// rank (`RANK` or `LOCAL_RANK`) whose parent has none (so not its DataLoader workers); failing
    /// that, the topmost descendants with the hook (an `mp.spawn` job); failing that, `pid` itself.
    /// Given one rank, the job is its parent's.
    public static func ranks(under given: Int32) -> [Int32] {
        var pid = given
        if let env = environment(given), env["RANK"] != nil || env["LOCAL_RANK"] != nil, let p = parent(given), p > 1 { pid = p }
        var descendants: [Int32] = []
        var queue = ProcFS.children(pid)
        var seen = Set<Int32>([pid])
        while let p = queue.first {
            queue.removeFirst()
            guard seen.insert(p).inserted, descendants.count < 4096 else { continue }
            descendants.append(p)
            queue += ProcFS.children(p)
        }
        return pick(pid, descendants: descendants, parent: { parent($0) }, environment: { environment($0) })
    }

    /// The ranks among `processes` (every process of the machine, say), by the same rules.
    public static func ranks(among processes: [Int32]) -> [Int32] {
        let ranks = pick(-1, descendants: processes, parent: { parent($0) }, environment: { environment($0) })
        return ranks == [-1] ? [] : ranks
    }

    /// The processes of this machine whose environment has the hook (those it can read).
    public static func hookedProcesses() -> [Int32] {
        guard let dir = opendir("/proc") else { return [] }
        defer { closedir(dir) }
        var out: [Int32] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let pid = Int32(name), pid != getpid(), let env = environment(pid), hasHook(env) else { continue }
            out.append(pid)
        }
        return out.sorted()
    }

    /// `ranks(under:)` over given process facts (for tests).
    static func pick(_ root: Int32, descendants: [Int32], parent: (Int32) -> Int32?,
                     environment: (Int32) -> [String: String]?) -> [Int32] {
        var env: [Int32: [String: String]] = [:]
        for p in [root] + descendants { env[p] = environment(p) ?? [:] }
        func isRank(_ p: Int32) -> Bool { env[p].map { $0["RANK"] != nil || $0["LOCAL_RANK"] != nil } ?? false }
        let hooked = Set(descendants.filter { hasHook(env[$0] ?? [:]) })
        let ranks = descendants.filter { hooked.contains($0) && isRank($0) && !(parent($0).map(isRank) ?? false) }
        if !ranks.isEmpty { return ranks.sorted() }
        let topmost = descendants.filter { p in hooked.contains(p) && !(parent(p).map { hooked.contains($0) } ?? false) }
        if !topmost.isEmpty { return topmost.sorted() }
        return [root]
    }
}
