// libFuzzer entry for the importer (Kineto JSON and memory snapshot pickles) and the
// saved-summary reader (docs/reliability.md). Built by scripts/fuzz.sh with
// -sanitize=fuzzer,address against the TraceModel, TraceImport, Analysis and Report sources
// (outside SwiftPM). Any input may be rejected with an error; none may crash, hang
// or read outside its buffers.
import Analysis
import Report
@testable import TraceImport
import TraceModel

/// One input through every way a trace or a summary is read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if size >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
        _ = try? TraceLoader.load(bytes: bytes, name: "fuzz.json.gz")  // inflate, then the full import
        return 0
    }
    if size >= 1 && bytes[0] == 0x80 {
        // A memory snapshot pickle: both unpickler passes, the replay, and every output.
        if let trace = try? TraceLoader.load(bytes: bytes, name: "fuzz.pkl") { analyse(trace) }
        return 0
    }
    var imported: RankTrace?
    // One way of importing per input, chosen by its length (mutations change it, so every input's
    // bytes meet every way): the cost of an execution stays that of one import.
    switch size % 3 {
    case 0:
        // The full import, with a window small enough that units span refills and the window grows.
        imported = try? parse(bytes, bufferSize: 4096, argKeys: nil)
    case 1:
        // The lean import of diff and summary (args filtered, flow events skipped), in a tiny window.
        imported = try? parse(bytes, bufferSize: 37, argKeys: Analyzer.argumentKeys)
    default:
        // A split parse as for large files: first half up to an event near the middle, second half
        // from there, then merged.
        if let split = splitPoint(bytes) { imported = try? parseInTwo(bytes, split: split) } else { imported = try? parse(bytes, bufferSize: 64, argKeys: nil) }
    }
    // What was imported through every analysis and output: the report in each format, the
    // samples saved and read back, and a diff of the run with itself.
    if let trace = imported { analyse(trace) }
    // The saved-summary reader as `diff` uses it: recognition (of a prefix too), then decoding
    // what is recognised; other documents through the JSON value parser alone.
    _ = SamplesFile.isSamples(Array(bytes.prefix(size / 2)), complete: false)
    if SamplesFile.isSamples(bytes, complete: true) == true {
        _ = try? SamplesFile.decode(bytes, file: "fuzz.samples.json")
    } else {
        _ = try? JSONValue.parse(bytes)
    }
    return 0
}

private func analyse(_ trace: RankTrace) {
    let report = RunReport(run: TraceRun(ranks: [trace]), options: AnalysisOptions(byShape: trace.slices.count % 2 == 0))
    for format in ReportFormat.allCases { _ = report.render(format) }
    let samples = report.samples
    let saved = (try? SamplesFile.decode(Array(SamplesFile.encode(samples).utf8), file: "fuzz.samples.json")) ?? samples
    let diff = Analyzer.diff(base: samples, candidate: saved, options: DiffOptions())
    for format in DiffFormat.allCases { _ = diff.render(format) }
}

private func parse(_ bytes: [UInt8], bufferSize: Int, argKeys: Set<String>?) throws(ImportError) -> RankTrace {
    let trace = RankTrace(source: "fuzz.json", rank: 0)
    let decoder = KinetoDecoder(builder: TimelineBuilder(rank: trace), argKeys: argKeys)
    try TraceParser(source: MemorySource(bytes), file: "fuzz.json", decoder: decoder, bufferSize: bufferSize).run()
    try decoder.finish()
    return trace
}

/// `TraceLoader.splitPoint` on bytes in memory: the `{` after a `,` and a newline past the middle.
private func splitPoint(_ bytes: [UInt8]) -> (offset: Int, bareArray: Bool)? {
    guard let first = bytes.first(where: { $0 > 0x20 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }) else { return nil }
    var i = bytes.count / 2
    while let nl = bytes[i...].firstIndex(of: 0x0A) {
        var before = nl - 1
        while before >= 0, bytes[before] == 0x20 || bytes[before] == 0x09 || bytes[before] == 0x0D { before -= 1 }
        var after = nl + 1
        while after < bytes.count, bytes[after] == 0x20 || bytes[after] == 0x09 || bytes[after] == 0x0D { after += 1 }
        if before >= 0, bytes[before] == 0x2C, after < bytes.count, bytes[after] == 0x7B { return (after, first == 0x5B) }
        i = nl + 1
    }
    return nil
}

/// `TraceLoader.parseInTwo` on bytes in memory, the halves one after the other.
private func parseInTwo(_ bytes: [UInt8], split: (offset: Int, bareArray: Bool)) throws -> RankTrace {
    let partBuilder = TimelineBuilder(rank: RankTrace(source: "fuzz.json", rank: 0))
    partBuilder.isContinuation = true
    let part = KinetoDecoder(builder: partBuilder)
    let second = TraceParser(source: MemorySource(Array(bytes[split.offset...])), file: "fuzz.json", decoder: part,
                             bufferSize: 64, continuationAt: Int64(split.offset), bareArray: split.bareArray)
    let secondResult = Result { () throws(ImportError) in try second.run() }
    let trace = RankTrace(source: "fuzz.json", rank: 0)
    let builder = KinetoDecoder(builder: TimelineBuilder(rank: trace))
    let first = TraceParser(source: MemorySource(bytes), file: "fuzz.json", decoder: builder, bufferSize: 64)
    first.stopAt = Int64(split.offset)
    try first.run()
    if first.stopped {
        try secondResult.get()
        try builder.absorb(part)
    }
    try builder.finish()
    return trace
}
