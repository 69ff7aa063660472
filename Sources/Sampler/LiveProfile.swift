import Analysis
import TraceModel

/// Self and total sample counts of a function or operator over the window.
public struct LiveStat: Sendable, Equatable {
    public var name: String
    /// File of a Python function, module of a native one, "" for operators.
    public var location: String
    public var selfCount: Int
    public var totalCount: Int
}

/// One thread in the window: its latest state and how it spent its samples.
public struct LiveThread: Sendable, Equatable {
    public var pid: Int32
    public var tid: Int32
    public var name: String
    /// Running (or in uninterruptible sleep) at its latest sample.
    public var active: Bool
    public var samples: Int
    public var activeSamples: Int
    public var gilSamples: Int
}

/// A node of the aggregated flame graph (children by descending count).
public struct FlameNode: Sendable, Equatable {
    public var name: String
    public var count: Int
    public var children: [FlameNode]
}

/// The data side of `stepscope top`: a rolling window over the last seconds of a recording with
/// per-phase shares, top functions and operators (self and total), threads, RSS history and an
/// aggregated flame graph. Feed it with `absorb`; it keeps only what the window needs.
public final class LiveProfile {
    /// Window length, ns.
    public let windowNs: Int64
    private let rules: [PhaseRule]
    private var entries: [Entry] = []
    private var rss: [(pid: Int32, time: Int64, bytes: Int64)] = []
    private var threadNames: [Int64: (pid: Int32, tid: Int32, name: String)] = [:]
    /// The first and latest sample times absorbed, and the mean sampling interval.
    private var first = Int64.max, latest = Int64.min, interval: Int64 = 0

    struct Entry {
        var time: Int64
        var threadKey: Int64
        var frames: [FrameInfo]  // outermost first
        var phase: Phase
        var operators: [String]
        var active: Bool
        var gil: Bool
    }

    struct FrameInfo: Hashable {
        var name: String
        var location: String
    }

    public init(windowSeconds: Double = 10, rules: [PhaseRule] = []) {
        windowNs = Int64(windowSeconds * 1e9)
        self.rules = rules
    }

    /// Takes every sample and RSS value of `profile` (then emptied, so a long `top` keeps no
    /// history beyond the window) and drops what fell out of the window.
    public func absorb(_ profile: SampledProfile) {
        let attributor = Attributor(profile: profile, rules: rules)
        let s = profile.samples
        interval = profile.intervalNs
        for i in 0..<s.count {
            first = min(first, s.time[i])
            latest = max(latest, s.time[i])
            let t = Int(s.thread[i])
            let key = Int64(profile.threads.pid[t]) << 32 | Int64(UInt32(bitPattern: profile.threads.tid[t]))
            if threadNames[key] == nil {
                threadNames[key] = (profile.threads.pid[t], profile.threads.tid[t], profile.strings[profile.threads.name[t]])
            }
            let frames = s.stack[i] < 0 ? [] : profile.stacks.frames(s.stack[i]).map { f -> FrameInfo in
                // Functions are keyed by name and file (lines would split a function into rows).
                FrameInfo(name: profile.strings[profile.frames.name[Int(f)]], location: profile.strings[profile.frames.file[Int(f)]])
            }
            entries.append(Entry(time: s.time[i], threadKey: key, frames: frames, phase: attributor.phase(sample: i),
                                 operators: attributor.operators(sample: i), active: s.active[i], gil: s.holdsGIL[i]))
        }
        for i in 0..<profile.rss.count { rss.append((profile.rss.pid[i], profile.rss.time[i], profile.rss.value[i])) }
        profile.discardSamples()
        // Samples come per instant and thread, so the latest time is the largest, not the last.
        let latest = max(entries.lazy.map(\.time).max() ?? .min, rss.lazy.map(\.time).max() ?? .min)
        guard latest > .min else { return }
        let cutoff = latest - windowNs
        entries.removeAll { $0.time < cutoff }
        rss.removeAll { $0.time < cutoff }
    }

    /// Samples in the window.
    public var sampleCount: Int { entries.count }

    /// Nanoseconds the window's samples cover: from the first sample (plus one interval, the last
    /// sample's share), at most the window; shorter than the window while sampling starts.
    public var coveredNs: Int64 { latest < first ? 0 : min(windowNs, latest - first + interval) }

    /// Share of samples per phase, over all threads with at least one active sample in the window
    /// (threads that only sleep would drown the picture in idle time).
    public var phaseShares: [Phase: Double] {
        let busy = Set(entries.filter(\.active).map(\.threadKey))
        let counted = entries.filter { busy.contains($0.threadKey) }
        var counts: [Phase: Int] = [:]
        for e in counted { counts[e.phase, default: 0] += 1 }
        return counts.mapValues { Double($0) / Double(max(counted.count, 1)) }
    }

    /// Functions by self samples (innermost frame), with total samples (anywhere on the stack,
    /// once per sample); active samples only.
    public func topFunctions(_ n: Int) -> [LiveStat] {
        var selfCounts: [FrameInfo: Int] = [:], totals: [FrameInfo: Int] = [:]
        for e in entries where e.active {
            if let leaf = e.frames.last { selfCounts[leaf, default: 0] += 1 }
            for f in Set(e.frames) { totals[f, default: 0] += 1 }
        }
        return Self.ranked(totals.map { LiveStat(name: $0.key.name, location: $0.key.location, selfCount: selfCounts[$0.key] ?? 0, totalCount: $0.value) }, n)
    }

    /// Operators (`aten::*`) by self samples (innermost operator), with total samples.
    public func topOperators(_ n: Int) -> [LiveStat] {
        var selfCounts: [String: Int] = [:], totals: [String: Int] = [:]
        for e in entries where e.active {
            if let leaf = e.operators.last { selfCounts[leaf, default: 0] += 1 }
            for op in Set(e.operators) { totals[op, default: 0] += 1 }
        }
        return Self.ranked(totals.map { LiveStat(name: $0.key, location: "", selfCount: selfCounts[$0.key] ?? 0, totalCount: $0.value) }, n)
    }

    static func ranked(_ stats: [LiveStat], _ n: Int) -> [LiveStat] {
        Array(stats.sorted { ($0.selfCount, $0.totalCount, $1.name) > ($1.selfCount, $1.totalCount, $0.name) }.prefix(n))
    }

    /// Threads seen in the window, by pid then tid.
    public var threads: [LiveThread] {
        var result: [Int64: LiveThread] = [:]
        for e in entries {
            let info = threadNames[e.threadKey]!
            var t = result[e.threadKey] ?? LiveThread(pid: info.pid, tid: info.tid, name: info.name, active: false, samples: 0,
                                                      activeSamples: 0, gilSamples: 0)
            t.active = e.active
            t.samples += 1
            if e.active { t.activeSamples += 1 }
            if e.gil { t.gilSamples += 1 }
            result[e.threadKey] = t
        }
        return result.values.sorted { ($0.pid, $0.tid) < ($1.pid, $1.tid) }
    }

    /// RSS values of `pid` in the window, oldest first.
    public func rssHistory(pid: Int32) -> [Int64] { rss.filter { $0.pid == pid }.map(\.bytes) }

    /// The aggregated flame graph of the window's active samples, `depth` levels deep.
    public func flameGraph(depth: Int = 64) -> FlameNode {
        var root = FlameNode(name: "all", count: 0, children: [])
        for e in entries where e.active {
            root.count += 1
            Self.add(e.frames.prefix(depth).map(\.name)[...], to: &root)
        }
        return root
    }

    private static func add(_ path: ArraySlice<String>, to node: inout FlameNode) {
        guard let first = path.first else { return }
        var k = node.children.firstIndex { $0.name == first }
        if k == nil {
            node.children.append(FlameNode(name: first, count: 0, children: []))
            k = node.children.count - 1
        }
        node.children[k!].count += 1
        add(path.dropFirst(), to: &node.children[k!])
        if k! > 0 && node.children[k!].count > node.children[k! - 1].count { node.children.sort { $0.count > $1.count } }
    }

    /// A compact plain-text summary (the non-terminal `top`), target strings made terminal-safe.
    public func text(title: String, rows: Int = 8) -> String {
        func pct(_ x: Double) -> String {
            let tenths = Int((x * 1000).rounded())
            return "\(tenths / 10).\(tenths % 10)%"
        }
        let safe = JSONText.terminalSafe
        let active = max(entries.filter(\.active).count, 1)
        let tenths = (coveredNs + 50_000_000) / 100_000_000
        var out = "\(safe(title)) — last \(tenths / 10).\(tenths % 10) s, \(entries.count) samples\n"
        let shares = phaseShares
        out += "phases: " + Phase.allCases.map { "\($0.name) \(pct(shares[$0] ?? 0))" }.joined(separator: "  ") + "\n"
        out += "functions (self, total):\n"
        for f in topFunctions(rows) {
            out += "  \(pct(Double(f.selfCount) / Double(active)))  \(pct(Double(f.totalCount) / Double(active)))  \(safe(f.name))  \(safe(f.location))\n"
        }
        let ops = topOperators(rows)
        if !ops.isEmpty {
            out += "operators (self, total):\n"
            for o in ops { out += "  \(pct(Double(o.selfCount) / Double(active)))  \(pct(Double(o.totalCount) / Double(active)))  \(safe(o.name))\n" }
        }
        out += "threads:\n"
        for t in threads {
            out += "  \(t.pid)/\(t.tid) \(safe(t.name))  \(t.active ? "running" : "idle")  active \(pct(Double(t.activeSamples) / Double(t.samples)))  GIL \(pct(Double(t.gilSamples) / Double(t.samples)))\n"
        }
        for pid in Set(rss.map(\.pid)).sorted() {
            let h = rssHistory(pid: pid)
            out += "RSS \(pid): \(h.last! / 1_048_576) MiB (min \(h.min()! / 1_048_576), max \(h.max()! / 1_048_576) MiB)\n"
        }
        return out
    }
}
