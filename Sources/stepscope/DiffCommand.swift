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
        // Both sides load at once, sharing the cores; a side that is a samples file or summaries is
        // only read. Traces keep only the args the analyses read.
        let sides = [base, candidate]
        let saved = try sides.map { try savedRun([$0]) }
        let traces = saved.filter { if case .traces = $0 { return true } else { return false } }.count
        if saved.contains(where: { if case .summaries = $0 { return true } else { return false } }) {
            try refuseAnalysisOptions(phaseRules: phaseRules, byShape: false, stepRange: stepRange)
        }
        let importOptions = ImportOptions(argKeys: Analyzer.argumentKeys, cores: max(1, processorCount / max(1, traces)))
        let results = concurrentMap(2) { i -> Result<RunSamples, Error> in
            do {
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

/// A run's per-step samples: decoded from a samples file, reduced from summaries, or computed
/// from trace files.
func loadSamples(_ path: String, saved: SavedRun, options: AnalysisOptions, importOptions: ImportOptions) throws -> RunSamples {
    switch saved {
    case let .samples(file, bytes): return try SamplesFile.decode(bytes, file: file)
    case let .summaries(files): return try reduceSummaries(files, samples: true).samples
    case .traces:
        return RunReport(run: try TraceLoader.loadRun(paths: [path], options: importOptions), options: options, samples: true).samples
    }
}

/// `stepscope summary`: the map step of a run too big for one machine (docs/scale.md): a rank's
/// report saved as a compact summary that `report`, `diff` and the UI reduce with the others.
struct SummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Save a compact per-rank summary (steps, phases, operators, kernels, memory peaks, collectives, diff samples) as JSON.",
        discussion: "A file named *.gz is written gzip-compressed (a tenth of the size). report, diff and the UI read summaries, or folders of them, wherever they read traces (docs/scale.md)."
    )

    @OptionGroup var load: LoadOptions

    @Option(name: [.short, .long], help: "Write the summary to this file instead of standard output (gzip-compressed when it ends in .gz).")
    var output: String?

    @Flag(name: .long, help: "Write only the diff's per-step samples of the whole run (schema stepscope.samples, docs/diff.md).")
    var samplesOnly = false

    func run() throws {
        var options = try load.analysisOptions()
        if samplesOnly { options.operatorTables = false }
        let run = try load.loadRun(ImportOptions(argKeys: Analyzer.argumentKeys))
        if let snapshot = run.ranks.first(where: { $0.memorySnapshot != nil }) {
            throw CLIError(description: "\(snapshot.source): a memory snapshot is not summarised; report or diff the snapshot itself")
        }
        let report = RunReport(run: run, options: options, samples: true)
        let text = samplesOnly ? SamplesFile.encode(report.samples) : SummaryFile.encode(report.ranks)
        guard let output, output.hasSuffix(".gz") else { return try writeOutput(text, to: output) }
        guard let compressed = Gzip.compress(Array(text.utf8)) else { throw CLIError(description: "\(output): cannot compress: zlib failed to start") }
        try compressed.withUnsafeBytes { try writeOutput($0, to: output) }
    }
}
