import ArgumentParser
import Sampler
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// Options shared by `record` and `top`: which process and how to sample it.
struct TargetOptions: ParsableArguments {
    @Option(name: .long, help: "Process to attach to (a pyenv shim or shell script is followed to its Python child).")
    var pid: Int32?

    @Option(name: .long, help: "Mean samples per second (intervals are random, 0.5 to 1.5 times the mean).")
    var rate: Double = 100

    @Flag(name: .long, help: "Unwind native stacks too (libunwind over ptrace; stops each thread briefly).")
    var native = false

    @Flag(name: .long, help: "Follow child processes (DataLoader workers, torchrun ranks).")
    var subprocesses = false

    @Option(name: .long, help: "Phase rules file ('phase: glob' per line; see docs/definitions.md).")
    var phaseRules: String?

    func validate(command: [String]) throws {
        guard rate > 0 && rate <= 10_000 else { throw ValidationError("--rate must be between 0 and 10000") }
        if pid == nil && command.isEmpty { throw ValidationError("give --pid PID or a command after '--'") }
        if pid != nil && !command.isEmpty { throw ValidationError("give either --pid or a command, not both") }
    }

    func samplerOptions(duration: Double?) -> SamplerOptions {
        var o = SamplerOptions()
        o.rate = rate
        o.duration = duration
        o.native = native
        o.subprocesses = subprocesses
        return o
    }
}

/// A process stepscope started with `-- COMMAND ARGS`, ended when the recording ends early.
final class LaunchedProcess {
    let pid: pid_t

    init(_ command: [String]) throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawnp(&pid, command[0], nil, nil, argv, environ)
        guard rc == 0 else { throw CLIError(description: "cannot run '\(JSONText.terminalSafe(command[0]))': \(String(cString: strerror(rc)))") }
        self.pid = pid
    }

    /// The Python process at or under the launched one, waiting up to `timeout` seconds for it;
    /// with `native`, the launched process itself when no Python has appeared after a second.
    func pythonProcess(timeout: Double, native: Bool) throws -> Int32 {
        let start = time(nil)
        while time(nil) <= start + Int(timeout.rounded(.up)) {
            if native && time(nil) > start + 1 { return pid }
            if let p = PythonRuntimeLocator.pythonProcess(under: pid),
               (try? PythonRuntimeLocator.locate(pid: p, memory: LiveMemory(pid: p))) != nil {
                return p
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                throw CLIError(description: "the command exited before a Python interpreter could be found")
            }
            usleep(20_000)
        }
        throw CLIError(description: "no CPython 3.10+ interpreter appeared under process \(pid) within \(Int(timeout)) s")
    }

    /// Ends the command if it still runs (SIGTERM, then SIGKILL after 2 s) and reaps it.
    func finish() {
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }
}

/// The Python process behind `--pid` (itself or a descendant), with a note when following.
func resolvePythonPid(_ pid: Int32) throws -> Int32 {
    guard ProcFS.isAlive(pid) else { throw CLIError(description: "no process \(pid)") }
    guard let python = PythonRuntimeLocator.pythonProcess(under: pid) else { return pid }  // locate() explains
    if python != pid {
        writeAll(2, "stepscope: process \(pid) is not Python; sampling its descendant \(python)\n")
    }
    return python
}

/// Starts a session, turning sampler errors into one-line CLI errors.
func startSession(pid: Int32, options: SamplerOptions) throws -> SamplingSession {
    do {
        return try SamplingSession(pid: pid, options: options)
    } catch let error as SamplerError {
        throw CLIError(description: error.description)
    }
}

/// `stepscope record`: samples a running (or launched) Python process into a trace.
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Sample the Python (and with --native, native) stacks of a process into a trace.",
        discussion: "stepscope record --pid PID [-o FILE]   or   stepscope record [options] -- COMMAND ARGS"
    )

    @OptionGroup var target: TargetOptions

    @Option(name: .long, help: "Seconds to record (default: until the process exits or Ctrl-C).")
    var duration: Double?

    @Option(name: [.short, .long], help: "Output file (default: stepscope-PID.json, .folded or .speedscope.json).")
    var output: String?

    @Option(name: .long, help: "Output format: chrome (Perfetto and stepscope report), folded or speedscope.")
    var format: ProfileFormat = .chrome

    @Argument(parsing: .postTerminator, help: "A command to launch and profile (after '--').")
    var command: [String] = []

    func validate() throws {
        try target.validate(command: command)
        if let duration, !(duration > 0) { throw ValidationError("--duration must be positive") }
    }

    func run() throws {
        let rules = try loadPhaseRules(target.phaseRules)
        let launched = command.isEmpty ? nil : try LaunchedProcess(command)
        defer { launched?.finish() }
        let pid = try launched?.pythonProcess(timeout: 30, native: target.native) ?? resolvePythonPid(target.pid!)
        let path = output ?? "stepscope-\(pid)" + (format == .chrome ? ".json" : format == .folded ? ".folded" : ".speedscope.json")
        // Fail before sampling, not after, when the output cannot be written; the probe leaves no
        // empty file behind when attaching fails.
        let existed = access(path, F_OK) == 0
        guard let probe = fopen(path, "ab") else { throw CLIError(description: "\(path): \(String(cString: strerror(errno)))") }
        fclose(probe)
        if !existed { unlink(path) }
        SamplingSession.installSignalHandlers()
        let session = try startSession(pid: pid, options: target.samplerOptions(duration: duration))
        writeAll(2, "stepscope: sampling process \(pid) (\(session.version)) at \(Int(target.rate)) Hz"
                 + (target.native ? " with native stacks" : "") + "; Ctrl-C to stop\n")
        let started = time(nil)
        session.run()
        let writer = ProfileWriter(profile: session.profile, rules: rules)
        try writeOutput(writer.render(format), to: path)
        let s = session.stats
        var summary = "stepscope: \(s.samples) samples of \(session.profile.threads.count) threads over \(time(nil) - started) s"
        if !session.exited.isEmpty { summary += "; exited: \(session.exited.map(String.init).joined(separator: ", "))" }
        if s.retried + s.dropped > 0 { summary += "; torn reads retried \(s.retried), dropped \(s.dropped)" }
        if s.unwindFailures > 0 { summary += "; native unwinds failed \(s.unwindFailures)" }
        if s.late > 0 { summary += "; late samples \(s.late) of \(s.ticks)" }
        writeAll(2, summary + "; wrote \(JSONText.terminalSafe(path))\n")
        if format == .chrome, let warning = writer.steps()?.warning {
            writeAll(2, "stepscope: warning: \(JSONText.terminalSafe(warning))\n")
        }
        if s.late * 100 > s.ticks {
            writeAll(2, "stepscope: warning: sampling fell behind \(s.late) of \(s.ticks) times; lower --rate for even coverage\n")
        }
    }
}
