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
    /// step lasts as long as its slowest rank's (the first rank of that length). Truncated steps
    /// are left out.
    public static func run(_ analyses: [RankAnalysis]) -> [RunStep] {
        var byName: [String: Int] = [:]
        var steps: [RunStep] = []
        for a in analyses {
            for s in a.steps where !s.truncated {
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

/// What the step thread ran while a step's devices sat idle waiting for the host (docs/definitions.md, "GPU time").
public struct HostBoundActivity: Sendable, Equatable {
    public var step: String
    /// The step's host-bound idle time (`GPUBreakdown[.hostBound]`).
    public var hostBound: Int64
    /// Innermost slices of the step thread during that time, largest first (at most five).
    public var top: [HostSlice]

    public init(step: String, hostBound: Int64, top: [HostSlice]) {
        (self.step, self.hostBound, self.top) = (step, hostBound, top)
    }

    /// Host-bound activity of each step of `analysis` that has host-bound idle time.
    public static func of(_ trace: RankTrace, analysis a: RankAnalysis) -> [HostBoundActivity] {
        guard a.stepTrack >= 0 else { return [] }
        var result: [HostBoundActivity] = []
        for step in a.steps {
            guard let g = step.gpu, g[.hostBound] > 0 else { continue }
            var byName: [UInt32: (ns: Int64, kind: SliceKind)] = [:]
            for interval in a.timeline.hostBoundIntervals(step.start..<step.start + step.dur) {
                Analyzer.innermost(trace, track: a.stepTrack, window: interval) { from, to, slice in
                    guard slice >= 0, !trace.strings.hasPrefix(trace.slices.name[slice], StepNames.prefix) else { return }
                    byName[trace.slices.name[slice], default: (0, trace.slices.kind[slice])].ns += to - from
                }
            }
            let top = byName.map { HostSlice(name: trace.strings[$0.key], python: $0.value.kind == .pythonFunction, ns: $0.value.ns) }
                .sorted { $0.ns != $1.ns ? $0.ns > $1.ns : $0.name < $1.name }
            result.append(HostBoundActivity(step: step.name, hostBound: g[.hostBound], top: Array(top.prefix(5))))
        }
        return result
    }
}

/// A slice name and the time it was the innermost slice running.
public struct HostSlice: Sendable, Equatable {
    public var name: String
    /// True for a Python frame (`python_function`), false for an operator or annotation.
    public var python: Bool
    public var ns: Int64

    public init(name: String, python: Bool, ns: Int64) {
        (self.name, self.python, self.ns) = (name, python, ns)
    }
}

extension Analyzer {
    /// Python functions of a rank by self time (as operators: self and inclusive time by the
    /// rules of "Operators", keyed by name), for recordings that have no operators.
    public static func pythonFunctions(_ trace: RankTrace, facts: SliceFacts) -> [OperatorStat] {
        let s = trace.slices
        let keys = (0..<s.count).map { s.kind[$0] == .pythonFunction ? s.name[$0] : UInt32.max }
        let counted = OperatorAttribution.counted(trace, key: keys)
        var index: [UInt32: Int] = [:]
        var stats: [OperatorStat] = []
        for i in 0..<s.count where keys[i] != .max {
            let o: Int
            if let found = index[keys[i]] { o = found } else {
                o = stats.count
                index[keys[i]] = o
                stats.append(OperatorStat(name: trace.strings[s.name[i]], kind: .pythonFunction))
            }
            stats[o].count += 1
            stats[o].selfNs += facts.selfTime[i]
            if counted[i] { stats[o].totalNs += s.dur[i] }
        }
        return stats.sorted { $0.selfNs != $1.selfNs ? $0.selfNs > $1.selfNs : $0.name < $1.name }
    }
}

/// One rank's part of a report: everything the run-level analysis and the renderers read about a
/// rank, made from its trace (the map step) or read back from a summary file (`stepscope summary`).
public struct RankReport: Sendable {
    public var analysis: RankAnalysis
    /// Per step with host-bound GPU idle time: what the host ran meanwhile.
    public var hostBound: [HostBoundActivity]
    /// Top Python functions, when the rank has no operators but has Python frames (a recording
    /// without native frames); empty otherwise.
    public var pythonFunctions: [OperatorStat]
    public var stepStats: StepStats?
    public var eventCounts: [(phase: String, count: Int)]
    public var warnings: [Warnings.Entry]
    public var metadata: TraceMetadata
    /// Memory per device from the `[memory]` events.
    public var memory: [DeviceMemory]
    /// Per device of a memory snapshot: the replay's peak, live blocks by stack, oom (else empty).
    public var snapshot: [SnapshotDeviceMemory] = []
    /// The rank's collective instances, in arrival order (`Analyzer.collectives`).
    public var collectives: [CollectiveInstance] = []
    /// The step thread's activity between collectives (`Analyzer.activityTiles`), for stragglers.
    public var tiles: [ActivityTile] = []
    /// The rank's part of the diff's samples, when asked for (`RunReport.init(run:options:samples:)`).
    public var samples: RankSamples?

    public init(analysis: RankAnalysis, hostBound: [HostBoundActivity], pythonFunctions: [OperatorStat], stepStats: StepStats?,
                eventCounts: [(phase: String, count: Int)], warnings: [Warnings.Entry], metadata: TraceMetadata, memory: [DeviceMemory],
                snapshot: [SnapshotDeviceMemory] = [], collectives: [CollectiveInstance] = [], tiles: [ActivityTile] = [],
                samples: RankSamples? = nil) {
        self.analysis = analysis
        self.hostBound = hostBound
        self.pythonFunctions = pythonFunctions
        self.stepStats = stepStats
        self.eventCounts = eventCounts
        self.warnings = warnings
        self.metadata = metadata
        self.memory = memory
        self.snapshot = snapshot
        self.collectives = collectives
        self.tiles = tiles
        self.samples = samples
    }

    /// The map step: a rank's report from its trace and analysis; `samples` adds the diff's rows.
    public init(trace: RankTrace, analysis a: RankAnalysis, samples: Bool = false) {
        let collectives = Analyzer.collectives(trace, analysis: a)
        // A snapshot's memory over time is its replay (it has no `[memory]` rows).
        let snapshot = MemorySnapshotAnalysis.analyze(trace)
        self.init(analysis: a, hostBound: HostBoundActivity.of(trace, analysis: a),
                  pythonFunctions: !a.attribution.isEmpty && a.attribution.key.allSatisfy { $0 == .max } ? Analyzer.pythonFunctions(trace, facts: a.facts) : [],
                  stepStats: StepStats(a.steps.filter { !$0.truncated }.map(\.dur)),
                  eventCounts: trace.eventCounts.sorted { $0.key < $1.key }.map { (String(UnicodeScalar($0.key)), $0.value) },
                  warnings: RunReport.withTruncation(a.warnings(of: trace), a).entries, metadata: trace.metadata,
                  memory: trace.memorySnapshot == nil ? MemoryAnalysis.analyze(trace, analysis: a) : snapshot.map(\.deviceMemory),
                  snapshot: snapshot,
                  collectives: collectives, tiles: Analyzer.activityTiles(trace, analysis: a, instances: collectives),
                  samples: samples ? RankSamples(trace, analysis: a) : nil)
    }
}

extension RankReport {
    /// Gives the rank another number (a run of summaries settles its ranks as a run of traces does).
    public mutating func renumber(_ rank: Int) {
        analysis.rank = rank
        for i in collectives.indices { collectives[i].rank = rank }
    }
}

/// Everything `stepscope report` prints, in every format.
public struct RunReport: Sendable {
    /// Version of the JSON schema (docs/report-json.md; 2: the device breakdown is `device`, was `gpu`).
    public static let schemaVersion = 2
    public var ranks: [RankReport]
    public var steps: [RunStep]
    public var stepStats: StepStats?
    /// Run-level warnings (duplicate or missing ranks, unmatched collectives).
    public var warnings: [Warnings.Entry]
    /// Collectives matched across ranks, waits and stragglers; nil when no rank has collectives.
    public var communication: CommunicationReport?

    /// Analyses every rank of `run` and assembles the report; `samples` keeps each rank's part of
    /// the diff's samples (`RunReport.samples`).
    public init(run: TraceRun, options: AnalysisOptions = AnalysisOptions(), samples: Bool = false) {
        let analyses = run.ranks.map { Analyzer.analyze($0, options: options) }
        self.init(run: run, analyses: analyses, samples: samples)
    }

    /// Assembles the report from analyses already made (one per rank, same order).
    public init(run: TraceRun, analyses: [RankAnalysis], samples: Bool = false) {
        self.init(ranks: zip(run.ranks, analyses).map { RankReport(trace: $0, analysis: $1, samples: samples) }, warnings: run.warnings)
    }

    /// The reduce: the run-level analysis of ranks' reports, made from traces or read from
    /// summaries (the run's steps, collectives matched across ranks, waits, stragglers and clock
    /// alignment). `warnings` are the run's own (duplicate or missing ranks).
    public init(ranks: [RankReport], warnings runWarnings: Warnings) {
        self.ranks = ranks
        steps = RunStep.run(ranks.map(\.analysis))
        stepStats = StepStats(steps.map(\.dur))
        var runWarnings = runWarnings
        let comm = Analyzer.communication(ranks)
        if comm.instances.values.contains(where: { !$0.isEmpty }) {
            communication = comm
            if comm.unmatched > 0 && ranks.count > 1 {
                runWarnings.add("unmatched-collectives", count: comm.unmatched, "collectives found on some ranks only; the rest were matched")
            }
        }
        warnings = runWarnings.entries
    }

    /// `warnings` plus `truncated-step`, counted once per truncated step.
    static func withTruncation(_ warnings: Warnings, _ a: RankAnalysis) -> Warnings {
        var w = warnings
        for s in a.steps where s.truncated {
            w.add("truncated-step", "\(s.name) (\(s.dur / 1000) us) was cut short by the profiler stopping; left out of the step statistics")
        }
        return w
    }
}

/// The median step of each rank across a run (docs/scale.md, "Many ranks").
public struct StepSpread: Sendable {
    /// The ranks' median steps: min, p50, p90, max.
    public var stats: StepStats
    /// The ranks with the slowest median step, slowest first (at most `RankDistribution.worstCount`).
    public var slowest: [(rank: Int, median: Int64)]

    /// The spread over `ranks` that have whole steps; nil when none has.
    public init?(_ ranks: [RankReport]) {
        let medians = ranks.compactMap { r in r.stepStats.map { (rank: r.analysis.rank, median: $0.median) } }
        guard let st = StepStats(medians.map(\.median)) else { return nil }
        stats = st
        slowest = Array(medians.sorted { $0.median != $1.median ? $0.median > $1.median : $0.rank < $1.rank }.prefix(RankDistribution.worstCount))
    }
}
