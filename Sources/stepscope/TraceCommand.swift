import ArgumentParser
import Attach
import Sampler
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// `stepscope trace`: an on-demand Kineto trace of a running PyTorch job. stepscope answers the
/// job's polls as Meta's dynolog would, for this one request (docs/attach.md), then opens the trace.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Record an on-demand PyTorch profiler (Kineto) trace of a running job started with KINETO_USE_DAEMON=1.",
        discussion: """
        stepscope trace --pid PID [--duration S | --iterations N] [-o FILE]
        stepscope trace --pid LAUNCHER --all     (every rank of a local torchrun job, one window)
        """
    )

    @Option(name: .long, help: "Process to trace; repeat or comma-separate for several; with --all, the launcher (torchrun).")
    var pid: [String] = []

    @Flag(name: .long, help: "Trace every rank of the local multi-rank job under --pid (or, without --pid, on this machine).")
    var all = false

    @Option(name: .long, help: "Seconds to trace (default 2).")
    var duration: Double?

    @Option(name: .long, help: "Optimizer steps to trace instead of a duration.")
    var iterations: Int?

    @Option(name: .long, help: "Activities: cpu, cuda, xpu, mtia, hpu, privateuse1 or Kineto type names, comma-separated (default: Kineto's).")
    var activities: String?

    @Flag(name: .long, help: "Record operators' input shapes.")
    var recordShapes = false

    @Flag(name: .long, help: "Record memory allocations.")
    var memory = false

    @Flag(name: .long, help: "Record Python stacks.")
    var withStack = false

    @Option(name: [.short, .long], help: "Output file (several ranks: a directory; default stepscope-trace-PID.json or stepscope-trace-PID/).")
    var output: String?

    @Option(name: .long, help: "Seconds to wait for the job's first poll.")
    var timeout: Double = 30

    func validate() throws {
        if duration != nil && iterations != nil { throw ValidationError("give --duration or --iterations, not both") }
        if let duration, !(duration > 0 && duration <= 3600) { throw ValidationError("--duration must be between 0 and 3600 seconds") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be positive") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        if pid.isEmpty && !all { throw ValidationError("give --pid PID (or --all)") }
    }

    func run() throws {
        let targets = try resolveTargets()
        let envs = targets.map { AttachTargets.environment($0) ?? [:] }
        let socketDirs = Set(envs.map { $0["KINETO_IPC_SOCKET_DIR"] ?? "" })
        guard socketDirs.count == 1 else { throw CLIError(description: "the processes use different KINETO_IPC_SOCKET_DIR values; trace them one at a time") }
        var traceDir = envs[0]["KINETO_ONDEMAND_TRACE_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        if !traceDir.hasSuffix("/") { traceDir += "/" }
        let destination = try outputDestination(targets)

        var config = OnDemandConfig(window: iterations.map { .iterations($0) } ?? .milliseconds(Int((duration ?? 2) * 1000)), logFile: "")
        if let activities {
            do throws(DaemonProtocolError) {
                config.activityTypes = try OnDemandConfig.activityTypes(activities.split(separator: ",").map { trimmed($0) })
            } catch {
                throw CLIError(description: "--activities: \(error.message)")
            }
        }
        config.recordShapes = recordShapes
        config.profileMemory = memory
        config.withStack = withStack
        let together = targets.count > 1
        let warmup = 5
        if together { config.warmupSeconds = warmup }
        let stamp = "\(getpid())-\(time(nil))"
        let logFiles = Dictionary(uniqueKeysWithValues: targets.map { ($0, "\(traceDir)stepscope-trace-\(stamp)-\($0).json") })

        let socket: DaemonSocket
        do throws(DaemonSocketError) {
            socket = try DaemonSocket(directory: socketDirs.first!.isEmpty ? nil : socketDirs.first!)
        } catch {
            if case .inUse = error {
                throw CLIError(description: "\(error): ask it instead, e.g. `dyno gputrace --pids \(targets.map(String.init).joined(separator: ",")) --duration-ms \(Int((duration ?? 2) * 1000)) --log-file /tmp/trace.json`, then open the trace with stepscope")
            }
            throw CLIError(description: error.description)
        }
        var broker = RequestBroker(targets: Set(targets), together: together, warmup: Double(warmup)) { pid, start in
            var c = config
            c.logFile = logFiles[pid]!
            c.startTimeMs = start
            return c.text
        }
        let names = targets.map(String.init).joined(separator: ", ")
        writeAll(2, "stepscope: waiting for \(targets.count > 1 ? "processes" : "process") \(names) to poll \(socket.address) (up to \(Int(timeout)) s)\n")
        let deadline = monotonicSeconds() + timeout
        var servedAt: [Int32: Double] = [:]
        var announced = Set<Int32>()
        while broker.pending {
            if let gone = targets.first(where: { !broker.served.contains($0) && !ProcFS.isAlive($0) }) {
                throw CLIError(description: "process \(gone) exited before it took the trace request")
            }
            guard monotonicSeconds() < deadline else {
                let missing = targets.filter { !broker.polled.contains($0) }
                if let p = missing.first(where: { broker.busy.contains($0) }) {
                    throw CLIError(description: "process \(p) polls but its profiler is busy (a torch.profiler running in the job?); try again when it is done")
                }
                throw CLIError(description: "no poll from process \(missing.map(String.init).joined(separator: ", ")) within \(Int(timeout)) s (Kineto polls every 5 s, about every 10 s while no daemon answered; is torch imported yet? raise --timeout)")
            }
            guard let datagram = socket.receive(timeout: 0.25) else { continue }
            let (reply, event) = broker.answer(datagram.bytes, nowMs: wallClockMs())
            if let reply { socket.send(reply.encoded(), to: datagram.from) }
            switch event {
            case let .served(pid, _):
                servedAt[pid] = monotonicSeconds()
            case let .heldBack(pid) where announced.insert(pid).inserted:
                writeAll(2, "stepscope: process \(pid) polled; waiting for the others so that all trace one window\n")
            default:
                break
            }
        }
        socket.close()
        let window = iterations.map { "\($0) optimizer steps" } ?? "\(formatSeconds(duration ?? 2))"
        if let start = broker.startTimeMs {
            let wait = max(0, Double(start - wallClockMs()) / 1000)
            writeAll(2, "stepscope: all \(targets.count) processes took the request; tracing \(window) in \(formatSeconds(wait))\n")
        } else if iterations != nil {
            writeAll(2, "stepscope: process \(names) took the request; Kineto traces its next \(window)\n")
        } else {
            writeAll(2, "stepscope: process \(names) took the request; Kineto warms up (5 s), then traces \(window)\n")
        }

        let traces = try waitForTraces(targets, logFiles: logFiles, startTimeMs: broker.startTimeMs, servedAt: servedAt)
        var ranks: [Int32: String] = [:]
        for (p, env) in zip(targets, envs) { ranks[p] = env["RANK"] }
        let paths = try place(traces, destination: destination, ranks: ranks)
        let shown = destination.isDirectory ? destination.path : paths[0]
        if isatty(0) == 1 && isatty(1) == 1 {
            try browse(try LoadOptions.parse(["--", shown]), report: try ReportOptions.parse([]))
        } else {
            writeAll(2, "stepscope: trace written to \(JSONText.terminalSafe(shown))\n")
            try ReportOptions.parse([]).print(try LoadOptions.parse(["--", shown]))
        }
    }

    /// The processes to trace, each checked for the daemon hook.
    /// The `--pid` values, in order, without repeats.
    func givenPids() throws -> [Int32] {
        var given: [Int32] = []
        for item in pid.flatMap({ $0.split(separator: ",") }) {
            guard let p = Int32(trimmed(item)), p > 0 else { throw CLIError(description: "--pid: '\(JSONText.terminalSafe(String(item)))' is not a process id") }
            if !given.contains(p) { given.append(p) }
        }
        return given
    }

    func resolveTargets() throws -> [Int32] {
        let given = try givenPids()
        if given.isEmpty && !all { throw CLIError(description: "give --pid PID (or --all)") }
        for p in given where !ProcFS.isAlive(p) { throw CLIError(description: "no process \(p)") }
        var targets = given
        if all {
            guard given.count <= 1 else { throw CLIError(description: "--all takes one --pid, the job's launcher (or none)") }
            targets = given.first.map(AttachTargets.ranks(under:)) ?? AttachTargets.ranks(among: AttachTargets.hookedProcesses())
            guard !targets.isEmpty else {
                throw CLIError(description: "no process on this machine was started with \(AttachTargets.hookVariable)=1: start the job as `\(AttachTargets.hookVariable)=1 torchrun ...`")
            }
        }
        for p in targets {
            guard let env = AttachTargets.environment(p) else {
                throw CLIError(description: "cannot read /proc/\(p)/environ: run stepscope as the job's user or as root")
            }
            guard AttachTargets.hasHook(env) else {
                var hint = ""
                if !all {
                    let ranks = AttachTargets.ranks(under: p).filter { $0 != p }
                    if !ranks.isEmpty { hint = "; its processes \(ranks.map(String.init).joined(separator: ", ")) have it: add --all" }
                }
                throw CLIError(description: "process \(p) was not started with \(AttachTargets.hookVariable)=1, so Kineto does not poll for trace requests: start it as `\(AttachTargets.hookVariable)=1 python train.py`, or sample it as it runs with `stepscope record --pid \(p)`\(hint)")
            }
        }
        return targets
    }

    /// Where the traces go: a file for one process, a directory for several; checked writable now.
    func outputDestination(_ targets: [Int32]) throws -> (path: String, isDirectory: Bool) {
        if targets.count == 1 {
            let path = output ?? "stepscope-trace-\(targets[0]).json"
            let existed = access(path, F_OK) == 0
            guard let probe = fopen(path, "ab") else { throw CLIError(description: "\(path): \(String(cString: strerror(errno)))") }
            fclose(probe)
            if !existed { unlink(path) }
            return (path, false)
        }
        let dir = output ?? "stepscope-trace-\((try? givenPids().first) ?? targets[0])"
        if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw CLIError(description: "\(dir): \(String(cString: strerror(errno)))") }
        guard access(dir, W_OK) == 0 else { throw CLIError(description: "\(dir): not a writable directory") }
        return (dir, true)
    }

    /// Waits for each target's trace file; the found paths by target. Kineto names the file after
    /// the log file with `_PID` before `.json` (some versions keep the name), writes it to a
    /// `.tmp` file first and renames it when complete.
    func waitForTraces(_ targets: [Int32], logFiles: [Int32: String], startTimeMs: Int64?, servedAt: [Int32: Double]) throws -> [Int32: String] {
        let traceSeconds = duration ?? 2
        var deadline: [Int32: Double] = [:]
        for p in targets {
            if iterations != nil {
                deadline[p] = servedAt[p]! + 600
            } else if let startTimeMs {
                deadline[p] = monotonicSeconds() + max(0, Double(startTimeMs - wallClockMs()) / 1000) + traceSeconds + 60
            } else {
                deadline[p] = servedAt[p]! + 5 + traceSeconds + 60
            }
        }
        var found: [Int32: String] = [:]
        var failures: [String] = []
        var pending = targets
        while !pending.isEmpty {
            usleep(200_000)
            for p in pending {
                let candidates = traceCandidates(logFiles[p]!, pid: p)
                if let path = candidates.first(where: { isComplete($0) }) {
                    found[p] = path
                } else if !ProcFS.isAlive(p) {
                    if let path = candidates.first(where: { isComplete($0) }) { found[p] = path; continue }
                    failures.append("process \(p) exited before Kineto wrote its trace")
                } else if monotonicSeconds() > deadline[p]! {
                    let started = candidates.contains { access($0 + ".tmp", F_OK) == 0 }
                    failures.append("no trace from process \(p) within \(Int(deadline[p]! - servedAt[p]!)) s of the request"
                                    + (started ? " (Kineto is still writing \(candidates[0]).tmp)"
                                           : " (Kineto did not start one: a profiler already running in the job? KINETO_LOG_LEVEL=0 makes it say why)"))
                } else {
                    continue
                }
                pending.removeAll { $0 == p }
            }
        }
        if found.isEmpty { throw CLIError(description: failures.joined(separator: "; ")) }
        for f in failures { writeAll(2, "stepscope: warning: \(f)\n") }
        return found
    }

    /// Moves the traces to the destination, in a directory named after each process's `RANK`
    /// when it has one (on-demand traces have no `distributedInfo`); the final paths.
    func place(_ traces: [Int32: String], destination: (path: String, isDirectory: Bool), ranks: [Int32: String]) throws -> [String] {
        var out: [String] = []
        for (p, source) in traces.sorted(by: { $0.key < $1.key }) {
            let gzip = isGzip(source)
            let name = ranks[p].flatMap { Int($0) }.map { "stepscope-trace-rank\($0)-\(p).json" } ?? "stepscope-trace-\(p).json"
            var target = destination.isDirectory ? destination.path + "/" + name : destination.path
            if gzip && !target.hasSuffix(".gz") { target += ".gz" }
            try moveFile(source, to: target)
            out.append(target)
        }
        return out
    }
}

/// The names Kineto may give the trace of `logFile` (a name ending in `.json`, the only `.json`
/// in it) in process `pid`, most likely first.
func traceCandidates(_ logFile: String, pid: Int32) -> [String] {
    let names = [String(logFile.dropLast(".json".count)) + "_\(pid).json", logFile]
    return names + names.map { $0 + ".gz" }
}

/// True when `path` exists, its `.tmp` is gone and its size held still for 0.2 s.
private func isComplete(_ path: String) -> Bool {
    var a = stat(), b = stat()
    guard stat(path, &a) == 0, access(path + ".tmp", F_OK) != 0, a.st_size > 0 else { return false }
    usleep(200_000)
    return stat(path, &b) == 0 && a.st_size == b.st_size
}

private func isGzip(_ path: String) -> Bool {
    guard let f = fopen(path, "rb") else { return false }
    defer { fclose(f) }
    var magic: [UInt8] = [0, 0]
    return fread(&magic, 1, 2, f) == 2 && magic == [0x1f, 0x8b]
}

/// rename(2), or copy and unlink across file systems.
private func moveFile(_ source: String, to target: String) throws {
    if rename(source, target) == 0 { return }
    guard errno == EXDEV else { throw CLIError(description: "\(target): \(String(cString: strerror(errno)))") }
    guard let input = fopen(source, "rb") else { throw CLIError(description: "\(source): \(String(cString: strerror(errno)))") }
    defer { fclose(input) }
    guard let output = fopen(target, "wb") else { throw CLIError(description: "\(target): \(String(cString: strerror(errno)))") }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = fread(&buffer, 1, buffer.count, input)
        if n == 0 { break }
        guard fwrite(buffer, 1, n, output) == n else {
            fclose(output)
            throw CLIError(description: "\(target): write failed")
        }
    }
    guard fclose(output) == 0 else { throw CLIError(description: "\(target): write failed") }
    unlink(source)
}

/// `s` without surrounding spaces.
private func trimmed(_ s: Substring) -> String {
    String(s.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
}

/// Milliseconds since the epoch.
private func wallClockMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

private func formatSeconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s)) s" : "\((s * 10).rounded() / 10) s"
}
