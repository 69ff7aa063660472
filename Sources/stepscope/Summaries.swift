import Analysis
import Report
import TraceImport
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// What a command's paths hold, told by content: traces, one saved samples file, or summaries
/// (`stepscope summary`, files or folders of them).
enum SavedRun {
    case traces
    case samples(path: String, bytes: [UInt8])
    case summaries([(path: String, bytes: [UInt8])])
}

/// Sorts `paths` (files and folders) into traces or saved files; a mix of summaries and traces is
/// an error, as is a samples file among other files.
func savedRun(_ paths: [String]) throws -> SavedRun {
    var files: [String] = []
    for p in paths { files += try TraceLoader.expand(p) }
    var summaries: [(path: String, bytes: [UInt8])] = []
    var samples: (path: String, bytes: [UInt8])?
    var traces: [String] = []
    for f in files {
        switch try savedContent(f) {
        case let (SummaryFile.schema, bytes)?: summaries.append((f, bytes))
        case let (SamplesFile.schema, bytes)?: samples = (f, bytes)
        default: traces.append(f)
        }
    }
    if let samples {
        guard files.count == 1 else { throw CLIError(description: "\(samples.path): a samples file is a whole run; give it alone") }
        return .samples(path: samples.path, bytes: samples.bytes)
    }
    if summaries.isEmpty { return .traces }
    if let trace = traces.first {
        throw CLIError(description: "\(trace): a trace among summaries; summarise it too (stepscope summary \(trace) -o FILE)")
    }
    return .summaries(summaries)
}

/// The reduce over summary files (with the diff's rows when `samples`): their ranks' reports, numbered as a run of their traces would be
/// (`TraceLoader.settleRanks`, files in order), then the run-level analysis.
func reduceSummaries(_ files: [(path: String, bytes: [UInt8])], jobs: Int? = nil, samples: Bool = false) throws(ImportError) -> RunReport {
    let decoded = concurrentMap(files.count, workers: max(1, min(jobs ?? processorCount, files.count))) { i -> Result<[RankReport], ImportError> in
        do throws(ImportError) { return .success(try SummaryFile.decode(files[i].bytes, file: files[i].path, samples: samples)) } catch { return .failure(error) }
    }
    var ranks: [RankReport] = [], sources: [String] = []
    for (i, r) in decoded.enumerated() {
        switch r {
        case let .success(list): ranks += list; sources += list.map { _ in files[i].path }
        case let .failure(e): throw e
        }
    }
    // Times compared across ranks (arrivals, clock offsets) must lie within one span.
    var lo = Int64.max, hi = Int64.min, extreme = (lo: "", hi: "")
    for (r, source) in zip(ranks, sources) {
        let starts = r.analysis.steps.map(\.start) + r.collectives.map(\.start) + r.tiles.map(\.window.lowerBound)
        let ends = r.analysis.steps.map { $0.start + $0.dur } + r.collectives.map { $0.start + $0.dur } + r.tiles.map(\.window.upperBound)
        if let m = starts.min(), m < lo { (lo, extreme.lo) = (m, source) }
        if let m = ends.max(), m > hi { (hi, extreme.hi) = (m, source) }
    }
    if lo < hi && hi - lo > SummaryFile.spanLimit {
        throw ImportError(file: extreme.hi, message: "its times lie more than 2^59 ns (18 years) from those of \(extreme.lo)")
    }
    var warnings = Warnings()
    let numbers = TraceLoader.settleRanks(claims: ranks.map { $0.metadata.distributed?.rank ?? TraceLoader.rankFromFileName($0.analysis.source) },
                                          files: ranks.map(\.analysis.source), worldSizes: ranks.map { $0.metadata.distributed?.worldSize },
                                          warnings: &warnings)
    for i in ranks.indices { ranks[i].renumber(numbers[i]) }
    ranks.sort { $0.analysis.rank < $1.analysis.rank }
    return RunReport(ranks: ranks, warnings: warnings)
}

/// A run's report from its paths: traces loaded and analysed, or summaries reduced. Analysis
/// options are fixed when a summary is made, so they are refused with summaries.
func loadReport(_ load: LoadOptions, importOptions: ImportOptions = ImportOptions(), samples: Bool = false,
                progress: TraceLoader.Progress? = nil) throws -> (run: TraceRun?, report: RunReport) {
    switch try savedRun(load.paths) {
    case .traces:
        let run = try TraceLoader.loadRun(paths: load.paths, jobs: load.jobs, progress: progress, options: importOptions)
        return (run, RunReport(run: run, options: try load.analysisOptions(), samples: samples))
    case let .samples(path, _):
        throw CLIError(description: "\(path): a samples file holds only a diff's samples; 'stepscope diff' reads it")
    case let .summaries(files):
        try refuseAnalysisOptions(phaseRules: load.phaseRules, byShape: load.byShape, stepRange: load.stepRange)
        return (nil, try reduceSummaries(files, jobs: load.jobs, samples: samples))
    }
}

/// Summaries were analysed when they were made: options that change the analysis are an error.
func refuseAnalysisOptions(phaseRules: String?, byShape: Bool, stepRange: String?) throws {
    if phaseRules != nil || byShape || stepRange != nil {
        throw CLIError(description: "--phase-rules, --by-shape and --step-range apply when a summary is made (stepscope summary), not to summaries")
    }
}

/// The `schema` and whole content of `path` (inflated when gzip) when it is a saved stepscope
/// file (a summary or a samples file, possibly re-serialised by another tool), else nil: a trace,
/// a directory, a file that cannot be read (the trace loader then reports why), or a pipe (not
/// read twice). Reads only as far as it takes to tell; a document still undecided after
/// `savedSniffLimit` bytes is taken for a trace. A saved file larger than `savedSizeLimit`
/// (inflated, for a gzip bomb) is an error.
func savedContent(_ path: String) throws(ImportError) -> (schema: String, bytes: [UInt8])? {
    var st = stat()
    guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
    do {
        let head = try FileSource.readPrefix(path: path, count: 2)
        let file = try FileSource(path: path)
        defer { file.close() }
        if head == [0x1F, 0x8B] {
            let gzip = try GzipSource(file, path: path)
            defer { gzip.close() }
            return try savedContent(from: gzip)
        }
        return try savedContent(from: file)
    } catch is SavedFileTooLarge {
        throw ImportError(file: path, message: "a saved stepscope file larger than 1 GiB (inflated); summarise fewer ranks per file")
    } catch {
        return nil
    }
}

/// The most bytes a saved file may hold (inflated): 1 GiB, over ten times a 1,024-rank run's summaries in one file.
let savedSizeLimit = 1 << 30
/// Thrown past `savedSizeLimit`; the caller names the file.
private struct SavedFileTooLarge: Error {}

/// Bytes read to tell a saved file from a trace before giving up (a trace's `traceEvents` comes
/// after small metadata members; a saved file is decided by its `schema` member).
let savedSniffLimit = 64 << 20

/// Reads `source` in growing blocks until `SummaryFile.savedSchema` decides; all of it when it is
/// a saved file, else nil.
private func savedContent<S: ByteSource>(from source: S) throws -> (schema: String, bytes: [UInt8])? {
    var source = source
    var bytes: [UInt8] = []
    var block = 1 << 16
    var decided: String?
    var eof = false
    while true {
        let old = bytes.count
        bytes += [UInt8](repeating: 0, count: block)
        let n = try bytes.withUnsafeMutableBytes { buf in try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buf[old...])) }
        bytes.removeLast(block - n)
        if n == 0 { eof = true }
        if decided == nil {
            decided = SummaryFile.savedSchema(bytes, complete: eof)
            if decided == "" || decided.map({ $0 != SummaryFile.schema && $0 != SamplesFile.schema }) == true { return nil }
            if decided == nil && bytes.count >= savedSniffLimit { return nil }
        }
        if eof { return (decided!, bytes) }
        if bytes.count > savedSizeLimit { throw SavedFileTooLarge() }
        block = min(block * 2, 16 << 20, savedSizeLimit + 1 - bytes.count)
    }
}
