import TraceModel

// Run-level analysis: every rank's analysis, the run's steps, memory and communication, assembled
// once for the report, the terminal UI and the diff.

/// Distribution of step durations (nearest-rank percentiles).
public struct StepStats: Sendable, Equatable {
    public var count: Int
    public var min: Int64
    public var median: Int64
    public var p90: Int64
    public var max: Int64

    /// Stats of `durations`; nil when empty. The p-th percentile is the value at rank
    /// ceil(p/100 * n) of the sorted values (so the median of an even count is the lower middle).
    public init?(_ durations: [Int64]) {
        guard !durations.isEmpty else { return nil }
        let sorted = durations.sorted()
        func rank(_ p: Int) -> Int64 { sorted[Swift.max(0, (p * sorted.count + 99) / 100 - 1)] }
        count = sorted.count
        min = sorted[0]
        median = rank(50)
        p90 = rank(90)
        max = sorted[sorted.count - 1]
    }
}

/// A step of the whole run: its time is the slowest rank's.
public struct RunStep: Sendable, Equatable {
    public var name: String
    public var dur: Int64
    public var slowestRank: Int

    /// The run's steps from its ranks' analyses: steps match by name, in first-seen order, and a
    /// step lasts as long as its slowest rank's (the first rank of that length).
    public static func run(_ analyses: [RankAnalysis]) -> [RunStep] {
        var byName: [String: Int] = [:]
        var steps: [RunStep] = []
        for a in analyses {
            for s in a.steps {
                if let i = byName[s.name] {
                    if s.dur > steps[i].dur { steps[i] = RunStep(name: s.name, dur: s.dur, slowestRank: a.rank) }
                } else {
                    byName[s.name] = steps.count
                    steps.append(RunStep(name: s.name, dur: s.dur, slowestRank: a.rank))
                }
            }
        }
        return steps
    }
}

/// One rank's part of a report.
public struct RankReport: Sendable {
    public var analysis: RankAnalysis
    public var stepStats: StepStats?
    public var eventCounts: [(phase: String, count: Int)]
    public var warnings: [Warnings.Entry]
    public var metadata: TraceMetadata
    /// Memory per device from the `[memory]` events.
    public var memory: [DeviceMemory]
    /// Per device of a memory snapshot: the replay's peak, live blocks by stack, oom (else empty).
    public var snapshot: [SnapshotDeviceMemory] = []
}

/// Everything `stepscope report` prints, in every format.
public struct RunReport: Sendable {
    /// Version of the JSON schema (docs/report-json.md).
    public static let schemaVersion = 1
    /// The run the report was made from.
    public let run: TraceRun
    public var ranks: [RankReport]
    public var steps: [RunStep]
    public var stepStats: StepStats?
    /// Run-level warnings (duplicate or missing ranks, unmatched collectives).
    public var warnings: [Warnings.Entry]
    /// Collectives matched across ranks, waits and stragglers; nil when no rank has collectives.
    public var communication: CommunicationReport?

    /// Analyses every rank of `run` and assembles the report.
    public init(run: TraceRun, options: AnalysisOptions = AnalysisOptions()) {
        let analyses = run.ranks.map { Analyzer.analyze($0, options: options) }
        self.init(run: run, analyses: analyses)
    }

    /// Assembles the report from analyses already made (one per rank, same order).
    public init(run: TraceRun, analyses: [RankAnalysis]) {
        self.run = run
        ranks = zip(run.ranks, analyses).map { trace, a in
            RankReport(analysis: a, stepStats: StepStats(a.steps.map(\.dur)),
                       eventCounts: trace.eventCounts.sorted { $0.key < $1.key }.map { (String(UnicodeScalar($0.key)), $0.value) },
                       warnings: trace.warnings.entries, metadata: trace.metadata,
                       memory: MemoryAnalysis.analyze(trace, analysis: a), snapshot: MemorySnapshotAnalysis.analyze(trace))
        }
        steps = RunStep.run(analyses)
        stepStats = StepStats(steps.map(\.dur))
        var runWarnings = run.warnings
        let comm = Analyzer.communication(Array(zip(run.ranks, analyses)).map { (trace: $0.0, analysis: $0.1) })
        if comm.instances.values.contains(where: { !$0.isEmpty }) {
            communication = comm
            if comm.unmatched > 0 && run.ranks.count > 1 {
                runWarnings.add("unmatched-collectives", count: comm.unmatched, "collectives found on some ranks only; the rest were matched")
            }
        }
        warnings = runWarnings.entries
    }
}
