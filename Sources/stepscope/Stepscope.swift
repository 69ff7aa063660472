import Analysis
import ArgumentParser
import Report
import TraceImport
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// The command line: thin subcommands over TraceImport, Analysis and Report.
struct Stepscope: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stepscope",
        abstract: "Terminal profiler and trace analyzer for ML training.",
        version: "0.1.0",
        subcommands: [ViewCommand.self, ReportCommand.self, DiffCommand.self, SummaryCommand.self, RecordCommand.self, TopCommand.self,
                      DumpCommand.self, TraceCommand.self],
        defaultSubcommand: ViewCommand.self
    )
}

/// A failure the user can act on; printed as one line, exit code 2.
struct CLIError: Error, CustomStringConvertible {
    var description: String
}

/// Options shared by every command that loads traces.
struct LoadOptions: ParsableArguments {
    @Argument(help: "Trace files (.json, .json.gz, Nsight Systems .sqlite) or directories of per-rank files; together they form one run.")
    var paths: [String]

    @Option(name: .long, help: "Phase rules file ('phase: glob' per line; see docs/definitions.md).")
    var phaseRules: String?

    @Flag(name: .long, help: "Key operators by name and input shapes.")
    var byShape = false

    @Option(name: .long, help: "Name of the range (NVTX range, annotation or operator) that marks a step, for traces without ProfilerStep#N.")
    var stepRange: String?

    @Option(name: .long, help: "Rank files to load at a time (default: one per core; 1 loads them one by one).")
    var jobs: Int?

    @Option(name: .long, help: "Device peaks (JSON: name, memory_gbps, tflops per precision) in place of the built-in table (docs/efficiency.md).")
    var devicePeak: String?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func analysisOptions() throws -> AnalysisOptions {
        AnalysisOptions(phaseRules: try loadPhaseRules(phaseRules), byShape: byShape, stepRange: stepRange,
                        devicePeaks: try loadDevicePeaks(devicePeak))
    }

    func loadRun(_ options: ImportOptions = ImportOptions()) throws -> TraceRun {
        try TraceLoader.loadRun(paths: paths, jobs: jobs, options: options)
    }
}

/// Options of the printed report (shared by `report` and `view`, which prints it without a terminal).
struct ReportOptions: ParsableArguments {
    @Option(name: .long, help: "Output format.")
    var format: ReportFormat = .text

    @Option(name: .long, help: "Rows in the operator and kernel tables (text and markdown).")
    var top: Int = 15

    @Option(name: [.short, .long], help: "Write the report to this file instead of standard output.")
    var output: String?

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive") }
    }

    /// Loads the run and writes the report.
    func print(_ load: LoadOptions) throws {
        let report = try loadReport(load).report
        try writeOutput(report.render(format, top: top), to: output)
    }
}

/// `stepscope report`: steps, phases, operators and warnings of a run.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print steps, time per phase, top operators and warnings."
    )

    @OptionGroup var load: LoadOptions
    @OptionGroup var report: ReportOptions

    func run() throws { try report.print(load) }
}

/// `stepscope view` (the default): the terminal UI when standard output is a terminal, else the report.
struct ViewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view",
        abstract: "Browse a run in the terminal UI (docs/tui.md); prints the text report when stdout is not a terminal."
    )

    @OptionGroup var load: LoadOptions
    @OptionGroup var report: ReportOptions

    func run() throws {
        guard isatty(1) == 1, isatty(0) == 1, report.format == .text, report.output == nil else { return try report.print(load) }
        try browse(load, report: report)
    }
}

/// The rules of a phase-rules file (none without a file), or a one-line error.
func loadPhaseRules(_ file: String?) throws -> [PhaseRule] {
    guard let file else { return [] }
    let text = try readTextFile(file)
    do throws(PhaseRuleError) {
        return try PhaseRule.parse(text, file: file)
    } catch {
        throw CLIError(description: error.description)
    }
}

/// The peaks of a `--device-peak` file (nil without a file), or a one-line error.
func loadDevicePeaks(_ file: String?) throws -> DevicePeaks? {
    guard let file else { return nil }
    do throws(ImportError) {
        return try DevicePeaks.parse(try FileSource.readAll(path: file), file: file)
    } catch {
        throw CLIError(description: error.description)
    }
}

/// Reads a whole text file, or throws a one-line error.
func readTextFile(_ path: String) throws -> String {
    String(decoding: try FileSource.readAll(path: path), as: UTF8.self)
}

/// Writes `text` to `path`, or to standard output when nil. A failed write (a full disk, a closed
/// standard output) is a one-line error; a reader that went away (`| head`) ends the process quietly.
func writeOutput(_ text: String, to path: String?) throws {
    var text = text
    try text.withUTF8 { try writeOutput(UnsafeRawBufferPointer($0), to: path) }
}

/// Writes `bytes` to `path`, or to standard output when nil, as `writeOutput(_:to:)` writes text.
func writeOutput(_ bytes: UnsafeRawBufferPointer, to path: String?) throws {
    guard let path else {
        if let failure = writeAll(1, bytes) { throw CLIError(description: "standard output: write failed: \(failure)") }
        return
    }
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o666)
    guard fd >= 0 else { throw CLIError(description: "\(path): \(String(cString: strerror(errno)))") }
    let failure = writeAll(fd, bytes)
    let closed = close(fd) == 0 ? nil : String(cString: strerror(errno))
    if let failure = failure ?? closed { throw CLIError(description: "\(path): write failed: \(failure)") }
}

/// Writes all of `text` to file descriptor `fd` (as `writeAll(_:_:)` writes bytes); the error's text when a write fails.
@discardableResult
func writeAll(_ fd: Int32, _ text: String) -> String? {
    var text = text
    return text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
}

/// Writes all of `buf` to file descriptor `fd`, retrying short writes and EINTR; the error's text
/// when a write fails. A closed pipe (EPIPE, when SIGPIPE is ignored) ends the process by SIGPIPE,
/// silently, as it would have with the default action.
@discardableResult
func writeAll(_ fd: Int32, _ buf: UnsafeRawBufferPointer) -> String? {
    var offset = 0
    while offset < buf.count {
        let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
        if n > 0 { offset += n; continue }
        if n < 0 && errno == EINTR { continue }
        if n < 0 && errno == EPIPE && fd != 2 {
            signal(SIGPIPE, SIG_DFL)
            raise(SIGPIPE)
            exit(128 + SIGPIPE)  // SIGPIPE blocked
        }
        return n < 0 ? String(cString: strerror(errno)) : "no progress"
    }
    return nil
}
