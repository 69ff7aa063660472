import ArgumentParser
import CursesBackend
import Sampler
import TerminalUI
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// `stepscope top`: a live view of a running process: the terminal UI (a summary and a flame graph)
/// when standard input and output are a terminal, else a plain-text summary once per refresh.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Live view of a process: phases, top functions and operators, threads, RSS."
    )

    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Seconds of samples the view covers.")
    var window: Double = 10

    @Option(name: .long, help: "Seconds between refreshes.")
    var refresh: Double = 1

    @Option(name: .long, help: "Stop after this many refreshes (default: until Ctrl-C or the process exits).")
    var iterations: Int?

    @Flag(name: .long, help: "Print one summary after one refresh interval and exit.")
    var once = false

    func validate() throws {
        try target.validate(command: [])
        guard window > 0, refresh > 0 else { throw ValidationError("--window and --refresh must be positive") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        let rules = try loadPhaseRules(target.phaseRules)
        let pid = try resolvePythonPid(target.pid!)
        SamplingSession.installSignalHandlers()
        let session = try startSession(pid: pid, options: target.samplerOptions(duration: nil))
        let live = LiveProfile(windowSeconds: window, rules: rules)
        let title = "pid \(pid) (\(session.version))"
        if isatty(0) == 1, isatty(1) == 1, !once, iterations == nil, let terminal = try? Terminal() {
            // The terminal restores itself on crash signals; SIGINT, SIGTERM and SIGHUP go back to
            // the sampler, which detaches before the terminal is closed.
            SamplingSession.installSignalHandlers()
            defer { terminal.close() }
            return liveUI(session, live: live, title: title, on: terminal)
        }
        let limit = once ? 1 : iterations
        var shown = 0
        var last = monotonicSeconds()
        session.run { session in
            let now = monotonicSeconds()
            guard now - last >= refresh else { return true }
            last = now
            live.absorb(session.profile)
            writeAll(1, live.text(title: "stepscope top: " + title) + "\n")
            shown += 1
            return limit.map { shown < $0 } ?? true
        }
    }


    /// Samples and shows the live views until `q`, a signal or the process's exit: keys are read
    /// between samples, the views refreshed every `refresh` seconds.
    func liveUI(_ session: SamplingSession, live: LiveProfile, title: String, on terminal: Terminal) {
        let summary = LiveView(LiveSnapshot()), flame = LiveFlameView(LiveSnapshot())
        let app = App(views: [summary, flame], name: "stepscope top")
        var frame = ScreenBuffer(rows: 0, cols: 0)
        var last = -Double.infinity
        func render() {
            let (rows, cols) = terminal.size
            if frame.rows != rows || frame.cols != cols { frame = ScreenBuffer(rows: rows, cols: cols) }
            app.render(into: &frame)
            terminal.draw(frame)
        }
        session.run { session in
            var changed = false
            while let key = terminal.readKey(timeoutMs: 0) {
                if key == .resize { terminal.invalidate() }
                app.handle(key, rows: frame.rows, cols: frame.cols)
                changed = true
            }
            if app.quit { return false }
            let now = monotonicSeconds()
            if now - last >= refresh {
                last = now
                live.absorb(session.profile)
                let snapshot = LiveSnapshot(live, title: title, windowSeconds: window, stats: session.stats)
                summary.update(snapshot)
                flame.update(snapshot)
                changed = true
            }
            if changed { render() }
            return true
        }
    }
}

extension LiveSnapshot {
    /// What the live views show of `live` now.
    init(_ live: LiveProfile, title: String, windowSeconds: Double, stats: SamplerStats) {
        self.init()
        self.title = title
        self.windowSeconds = windowSeconds
        coveredSeconds = Double(live.coveredNs) / 1e9
        samples = live.sampleCount
        phaseShares = live.phaseShares
        let threads = live.threads
        let active = Double(max(1, threads.reduce(0) { $0 + $1.activeSamples }))
        func row(_ s: LiveStat) -> Row {
            Row(name: s.name, location: s.location, selfShare: Double(s.selfCount) / active, totalShare: Double(s.totalCount) / active)
        }
        functions = live.topFunctions(200).map(row)
        operators = live.topOperators(50).map(row)
        self.threads = threads.map {
            Thread(pid: $0.pid, tid: $0.tid, name: $0.name, active: $0.active, activeShare: Double($0.activeSamples) / Double(max(1, $0.samples)),
                   gilShare: Double($0.gilSamples) / Double(max(1, $0.samples)))
        }
        if let pid = threads.first?.pid { rss = live.rssHistory(pid: pid) }
        folded = Self.folded(live.flameGraph())
        if stats.late > 0 { notes.append("\(stats.late) samples late") }
    }

    /// Self counts of each call path of a flame graph, as folded stacks.
    static func folded(_ root: FlameNode) -> [String: Double] {
        var out: [String: Double] = [:]
        func walk(_ n: FlameNode, _ path: String) {
            let selfCount = n.count - n.children.reduce(0) { $0 + $1.count }
            if selfCount > 0, !path.isEmpty { out[path, default: 0] += Double(selfCount) }
            for c in n.children { walk(c, path.isEmpty ? c.name : path + ";" + c.name) }
        }
        walk(root, "")
        return out
    }
}
