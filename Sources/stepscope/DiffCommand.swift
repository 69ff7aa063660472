import Analysis
import ArgumentParser
import Dispatch
import Report
import TraceImport
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// `stepscope diff`: compare a candidate run with a baseline, with a verdict for CI.
struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare two runs step by step; exit 1 on a significant regression.",
        discussion: "Exit codes: 0 pass (noise and improvements included), 1 regression, 2 usage or input error, 3 inconclusive with --fail-on inconclusive. Method: docs/diff.md."
    )

    @Argument(help: "The baseline run: a trace file, a directory of rank files, or a samples file from 'stepscope summary'.")
    var base: String

    @Argument(help: "The candidate run.")
    var candidate: String

    @Option(name: .long, help: "Standard output format.")
    var format: DiffFormat = .text

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Also write FORMAT (text, json, markdown, junit, folded) to PATH; repeatable.", valueName: "FORMAT=PATH"))
    var output: [OutputSpec] = []

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Threshold in percent per metric kind (step, phase, operator, kernel, memory, comm, efficiency), e.g. step=3; repeatable.",
                               valueName: "METRIC=PCT"))
    var threshold: [ThresholdSpec] = []

    @Option(name: .long, help: ArgumentHelp("Leading warm-up steps to drop: a number, or 'auto'.", valueName: "N|auto"))
    var skipSteps: SkipSteps = .count(0)

    @Option(name: .long, help: "What fails the run: a regression, or also an undecided result (exit 3).")
    var failOn: FailOn = .regression

    @Option(name: .long, help: "Write a two-count folded-stack file (a differential flame graph) to PATH.")
    var folded: String?

    @Option(name: .long, help: "Phase rules file, as for report.")
    var phaseRules: String?

    @Option(name: .long, help: "Name of the range that marks a step, as for report.")
    var stepRange: String?

    func diffOptions() -> DiffOptions {
        var options = DiffOptions()
        options.skip = skipSteps
        for spec in threshold {
            for k in spec.kinds { options.thresholds[k] = spec.fraction }
        }
        return options
    }

    func run() throws {
        let options = diffOptions()
        let analysisOptions = AnalysisOptions(phaseRules: try loadPhaseRules(phaseRules), operatorTables: false, stepRange: stepRange)
        // Both sides load at once, sharing the cores; a side that is a samples file is only read.
        // Traces keep only the args the analyses read.
        let sides = [base, candidate]
        let saved = sides.map(samplesFileContent)
        let traces = saved.filter { $0 == nil }.count
        let importOptions = ImportOptions(argKeys: Analyzer.argumentKeys, cores: max(1, processorCount / max(1, traces)))
        let results = concurrentMap(2) { i -> Result<RunSamples, ImportError> in
            do throws(ImportError) {
                return .success(try loadSamples(sides[i], saved: saved[i], options: analysisOptions, importOptions: importOptions))
            } catch {
                return .failure(error)
            }
        }
        let baseSamples = try results[0].get().dropping(options.skip), candidateSamples = try results[1].get().dropping(options.skip)
        for (path, side) in [(base, baseSamples), (candidate, candidateSamples)] where side.steps.isEmpty && side.skipped.isEmpty {
            throw CLIError(description: "\(path): no steps to compare (the trace has no slices)")
        }
        let result = Analyzer.diff(base: baseSamples, candidate: candidateSamples, options: options)
        for o in output { try writeOutput(result.render(o.format), to: o.path) }
        if let folded { try writeOutput(result.render(.folded), to: folded) }
        // In a terminal, with no output asked for, the diff view instead of the text.
        let interactive = isatty(1) == 1 && isatty(0) == 1 && format == .text && output.isEmpty && folded == nil
        if !interactive || !browseDiff(result, name: "\(base) → \(candidate)") {
            try writeOutput(result.render(format), to: nil)
        }
        switch result.verdict {
        case .regression: throw ExitCode(1)
        case .inconclusive where failOn == .inconclusive: throw ExitCode(3)
        default: break
        }
    }
}

/// A run's per-step samples: decoded from a samples file's content (`saved`), or computed from trace files.
func loadSamples(_ path: String, saved: [UInt8]?, options: AnalysisOptions, importOptions: ImportOptions) throws(ImportError) -> RunSamples {
    if let saved { return try SamplesFile.decode(saved, file: path) }
    return RunReport(run: try TraceLoader.loadRun(paths: [path], options: importOptions), options: options).samples
}

/// The content of `path` (inflated when gzip) when it is a samples file (`stepscope summary`,
/// possibly re-serialised by another tool), else nil: a trace, a directory, a file that cannot be
/// read (the trace loader then reports why), or a pipe (not read twice). Reads only as far as it
/// takes to tell; a document still undecided after `samplesSniffLimit` bytes is taken for a trace.
func samplesFileContent(_ path: String) -> [UInt8]? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    do {
        let head = try FileSource.readPrefix(path: path, count: 2)
        let file = try FileSource(path: path)
        defer { file.close() }
        if head == [0x1F, 0x8B] {
            let gzip = try GzipSource(file, path: path)
            defer { gzip.close() }
            return try samplesContent(from: gzip)
        }
        return try samplesContent(from: file)
    } catch {
        return nil
    }
}

/// Bytes read to tell a samples file from a trace before giving up (a trace's `traceEvents` comes
/// after small metadata members; a samples file is decided by its `schema` member).
let samplesSniffLimit = 64 << 20

/// Reads `source` in growing blocks until `SamplesFile.isSamples` decides; all of it when it is a
/// samples file, else nil.
private func samplesContent<S: ByteSource>(from source: S) throws -> [UInt8]? {
    var source = source
    var bytes: [UInt8] = []
    var block = 1 << 16
    var decided: Bool?
    var eof = false
    while true {
        let old = bytes.count
        bytes += [UInt8](repeating: 0, count: block)
        let n = try bytes.withUnsafeMutableBytes { buf in try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[old...])) }
        bytes.removeLast(block - n)
        if n == 0 { eof = true }
        if decided == nil {
            decided = SamplesFile.isSamples(bytes, complete: eof)
            if decided == false || (decided == nil && bytes.count >= samplesSniffLimit) { return nil }
        }
        if eof { return bytes }
        block = min(block * 2, 16 << 20)
    }
}

/// `stepscope summary`: save a run's per-step samples for later diffs.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Save a run's per-step samples (a baseline for 'stepscope diff') as JSON."
    )

    @OptionGroup var load: LoadOptions

    @Option(name: [.short, .long], help: "Write the samples to this file instead of standard output.")
    var output: String?

    func run() throws {
        var options = try load.analysisOptions()
        options.operatorTables = false
        let run = try load.loadRun(ImportOptions(argKeys: Analyzer.argumentKeys))
        try writeOutput(SamplesFile.encode(RunReport(run: run, options: options).samples), to: output)
    }
}
