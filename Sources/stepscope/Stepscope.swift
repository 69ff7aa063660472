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

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func analysisOptions() throws -> AnalysisOptions {
        AnalysisOptions(phaseRules: try loadPhaseRules(phaseRules), byShape: byShape, stepRange: stepRange)
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
        let report = RunReport(run: try load.loadRun(), options: try load.analysisOptions())
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

/// Reads a whole text file, or throws a one-line error.
func readTextFile(_ path: String) throws -> String {
    String(decoding: try FileSource.readAll(path: path), as: UTF8.self)
}

/// Writes `text` to `path`, or to standard output when nil.
func writeOutput(_ text: String, to path: String?) throws {
    guard let path else {
        writeAll(1, text)
        return
    }
    guard let f = fopen(path, "wb") else { throw CLIError(description: "\(path): \(String(cString: strerror(errno)))") }
    defer { fclose(f) }
    guard fputs(text, f) >= 0 else { throw CLIError(description: "\(path): write failed") }
}

/// Writes all of `text` to file descriptor `fd`, retrying short writes and EINTR.
func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buf in
        var offset = 0
        while offset < buf.count {
            let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
            if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
        }
    }
}
