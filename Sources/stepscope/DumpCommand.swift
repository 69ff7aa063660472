import ArgumentParser
import Sampler

/// `stepscope dump`: every thread's stack once, with names, states and the GIL holder (for a hung job).
struct DumpCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Print every thread's Python (with --native, also native) stack once, most recent call first.",
        discussion: "Thread names come from /proc/PID/task/TID/comm, states from its stat file. The target is never left stopped."
    )

    @Option(name: .long, help: "Process to dump (a pyenv shim or shell script is followed to its Python child).")
    var pid: Int32

    @Flag(name: .long, help: "Native stacks too (each thread is stopped only while it is unwound).")
    var native = false

    @Option(name: .long, help: "Output format: text or json.")
    var format: String = "text"

    func validate() throws {
        guard format == "text" || format == "json" else { throw ValidationError("unknown format '\(format)' (text, json)") }
    }

    func run() throws {
        let target = try resolvePythonPid(pid)
        var options = SamplerOptions()
        options.native = native
        let dump = ThreadDump(session: try startSession(pid: target, options: options), pid: target)
        writeAll(1, format == "json" ? dump.json() : dump.text())
    }
}
