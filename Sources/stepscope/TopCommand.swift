import ArgumentParser
import Sampler
#if canImport(Glibc)
import Glibc
#endif

/// `stepscope top`: a live view of a running process. Until the terminal UI lands this prints a
/// plain-text summary of the last seconds, once per refresh.
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
        let limit = once ? 1 : iterations
        var shown = 0
        var last = monotonicSeconds()
        session.run { session in
            let now = monotonicSeconds()
            guard now - last >= refresh else { return true }
            last = now
            live.absorb(session.profile)
            writeAll(1, live.text(title: "stepscope top: pid \(pid) (\(session.version))") + "\n")
            shown += 1
            return limit.map { shown < $0 } ?? true
        }
    }
}
