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

    @Option(name: .long, help: "Standard output format: text, json, markdown, junit or folded.")
    var format: String = "text"

    @Option(name: .long, parsing: .singleValue, help: "Also write FORMAT to PATH (FORMAT=PATH), repeatable.")
    var output: [String] = []

    @Option(name: .long, parsing: .singleValue,
            help: "Threshold in percent per metric kind (step, phase, operator, kernel, memory, comm), e.g. step=3; repeatable.")
    var threshold: [String] = []

    @Option(name: .long, help: "Leading warm-up steps to drop: a number, or 'auto'.")
    var skipSteps: String = "0"

    @Option(name: .long, help: "What fails the run: regression (default) or inconclusive (also exit 3 when undecided).")
    var failOn: String = "regression"

    @Option(name: .long, help: "Write a two-count folded-stack file (a differential flame graph) to PATH.")
    var folded: String?

    @Option(name: .long, help: "Phase rules file, as for report.")
    var phaseRules: String?

    func validate() throws {
        guard DiffFormat(rawValue: format) != nil else { throw ValidationError("unknown format '\(format)' (text, json, markdown, junit, folded)") }
        guard failOn == "regression" || failOn == "inconclusive" else { throw ValidationError("--fail-on takes regression or inconclusive") }
        _ = try outputs()
        _ = try diffOptions()
    }

    func outputs() throws -> [(DiffFormat, String)] {
        try output.map { spec in
            guard let eq = spec.firstIndex(of: "="), let f = DiffFormat(rawValue: String(spec[..<eq])), spec.index(after: eq) < spec.endIndex else {
                throw ValidationError("--output takes FORMAT=PATH with FORMAT one of text, json, markdown, junit, folded; got '\(spec)'")
            }
            return (f, String(spec[spec.index(after: eq)...]))
        }
    }

    func diffOptions() throws -> DiffOptions {
        var options = DiffOptions()
        if skipSteps == "auto" {
            options.skip = .auto
        } else if let n = Int(skipSteps), n >= 0 {
            options.skip = .count(n)
        } else {
            throw ValidationError("--skip-steps takes a number or 'auto'")
        }
        for spec in threshold {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let pct = Double(parts[1].hasSuffix("%") ? String(parts[1].dropLast()) : parts[1]), pct >= 0 else {
                throw ValidationError("--threshold takes METRIC=PERCENT, e.g. step=5; got '\(spec)'")
            }
            let kinds: [MetricKind]
            switch parts[0] {
            case "step": kinds = [.step]
            case "phase": kinds = [.phase]
            case "operator", "op": kinds = [.opSelf, .opTotal]
            case "kernel": kinds = [.kernel]
            case "memory": kinds = [.memory]
            case "comm": kinds = [.exposedComm, .commWait]
            default: throw ValidationError("unknown metric '\(parts[0])' in --threshold (step, phase, operator, kernel, memory, comm)")
            }
            for k in kinds { options.thresholds[k] = pct / 100 }
        }
        return options
    }

    func run() throws {
        let options = try diffOptions()
        let analysisOptions = AnalysisOptions(phaseRules: try loadPhaseRules(phaseRules), operatorTables: false)
        // Both sides load at once, sharing the cores; a side that is a samples file is only read.
        // Traces keep only the args the analyses read.
        let sides = [base, candidate]
        let saved = sides.map(samplesFileContent)
        let traces = saved.filter { $0 == nil }.count
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let importOptions = ImportOptions(argKeys: Analyzer.argumentKeys, cores: max(1, cores / max(1, traces)))
        let results = SideResults()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            do throws(ImportError) {
                results.set(i, .success(try loadSamples(sides[i], saved: saved[i], options: analysisOptions, importOptions: importOptions)))
            } catch {
                results.set(i, .failure(error))
            }
        }
        let baseSamples = try results.get(0).dropping(options.skip), candidateSamples = try results.get(1).dropping(options.skip)
        for (path, side) in [(base, baseSamples), (candidate, candidateSamples)] where side.steps.isEmpty && side.skipped.isEmpty {
            throw CLIError(description: "\(path): no steps to compare (the trace has no slices)")
        }
        let result = Analyzer.diff(base: baseSamples, candidate: candidateSamples, options: options)
        for (f, path) in try outputs() { try writeOutput(result.render(f), to: path) }
        if let folded { try writeOutput(result.render(.folded), to: folded) }
        // In a terminal, with no output asked for, the diff view instead of the text.
        let interactive = isatty(1) == 1 && isatty(0) == 1 && format == "text" && output.isEmpty && folded == nil
        if !interactive || !browseDiff(result, name: "\(base) → \(candidate)") {
            try writeOutput(result.render(DiffFormat(rawValue: format)!), to: nil)
        }
        switch result.verdict {
        case .regression: throw ExitCode(1)
        case .inconclusive where failOn == "inconclusive": throw ExitCode(3)
        default: break
        }
    }
}

/// The two loaded sides of a diff, written from two threads.
private final class SideResults: @unchecked Sendable {
    private var results: [Result<RunSamples, ImportError>?] = [nil, nil]
    private let lock = DispatchSemaphore(value: 1)

    func set(_ i: Int, _ r: Result<RunSamples, ImportError>) {
        lock.wait()
        results[i] = r
        lock.signal()
    }

    func get(_ i: Int) throws -> RunSamples {
        switch results[i] {
        case let .success(s)?: return s
        case let .failure(e)?: throw e
        case nil: throw CLIError(description: "run not loaded")
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
