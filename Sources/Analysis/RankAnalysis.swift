import TraceModel

/// One training step of a rank.
public struct Step: Sendable, Equatable {
    public var name: String
    public var start: Int64
    public var dur: Int64
    /// The `ProfilerStep#N` slice, the `Optimizer.step#` slice an inferred step begins after, or
    /// -1 for the whole-trace step.
    public var slice: Int
    public var phases: PhaseTimes
    /// GPU busy/idle breakdown over the step; nil when the rank has no GPU activity.
    public var gpu: GPUBreakdown?
    /// Cut short by the profiler stopping (docs/definitions.md, "Steps"): shown, flagged, and
    /// left out of the step statistics.
    public var truncated = false
}

/// Options for attribution.
public struct AnalysisOptions: Sendable {
    /// User phase rules, applied before the built-in ones.
    public var phaseRules: [PhaseRule] = []
    /// Key operators by name plus `Input Dims`.
    public var byShape = false
    /// Build the operator and kernel tables (a diff, which keys operators per step itself, skips them).
    public var operatorTables = true
    /// Name of the range that marks a step, for traces without `ProfilerStep#N` (`--step-range`).
    public var stepRange: String?
    /// Peaks for the efficiency analysis in place of the built-in entry for the trace's device (`--device-peak`).
    public var devicePeaks: DevicePeaks?
    public init(phaseRules: [PhaseRule] = [], byShape: Bool = false, operatorTables: Bool = true, stepRange: String? = nil,
                devicePeaks: DevicePeaks? = nil) {
        self.phaseRules = phaseRules
        self.byShape = byShape
        self.operatorTables = operatorTables
        self.stepRange = stepRange
        self.devicePeaks = devicePeaks
    }
}

/// Per-slice facts derived from the model: self time, effective phase, GPU time launched inside
/// (the times packed as the model's narrow columns are).
public struct SliceFacts: Sendable {
    public var selfTime: PackedColumn<Int64>
    public var phase: [Phase]
    /// GPU activity time launched by the slice or its descendants.
    public var gpuInclusive: PackedColumn<Int64>
}

/// Everything the report needs about one rank (docs/definitions.md).
public struct RankAnalysis: Sendable {
    public var rank: Int
    public var source: String
    public var steps: [Step]
    /// The track holding the steps, or -1 when the rank has no CPU slices.
    public var stepTrack: Int
    /// True when the trace has no `ProfilerStep#N` and the steps come from the optimizer.
    public var stepsInferred: Bool
    public var phases: PhaseTimes
    /// GPU breakdown summed over the steps; nil when the rank has no GPU activity.
    public var gpu: GPUBreakdown?
    public var operators: [OperatorStat]
    public var kernels: [KernelStat]
    /// FLOPs, roofline, precision and MFU (docs/efficiency.md); nil in a lean analysis.
    public var efficiency: RankEfficiency?
    public var facts: SliceFacts
    /// Operators, their owners and the inclusive-counting rule, per slice (empty in a lean analysis).
    public var attribution: OperatorAttribution
    /// Total GPU activity time (kernels, memcpys, memsets).
    public var gpuActivityNs: Int64
    /// GPU activity per device, kept for the communication analysis.
    var timeline: GPUTimeline
    /// The rank's collective slices (`collectiveSlices`), found once for the phase overlay and the
    /// communication analysis.
    var collectiveSlices: [Int]
}

/// Aggregates of one operator key.
public struct OperatorStat: Sendable, Equatable {
    public var name: String
    /// `Input Dims` text when keyed by shape.
    public var shape: String?
    public var kind: SliceKind
    public var count: Int = 0
    public var totalNs: Int64 = 0
    public var selfNs: Int64 = 0
    public var gpuNs: Int64 = 0
    /// The same figures split by the slices' effective phase.
    public var byPhase: [Phase: OperatorPhaseStat] = [:]
    /// The modelled work of its counted calls (docs/efficiency.md); nil when none has a model.
    public var work: OperatorWork?
}

/// An operator's figures within one phase.
public struct OperatorPhaseStat: Sendable, Equatable {
    public var count = 0
    public var totalNs: Int64 = 0
    public var selfNs: Int64 = 0
    public var gpuNs: Int64 = 0
    public init(count: Int = 0, totalNs: Int64 = 0, selfNs: Int64 = 0, gpuNs: Int64 = 0) {
        (self.count, self.totalNs, self.selfNs, self.gpuNs) = (count, totalNs, selfNs, gpuNs)
    }
}

/// Aggregates of one GPU kernel, memcpy or memset name.
public struct KernelStat: Sendable, Equatable {
    public var name: String
    public var kind: SliceKind
    public var count = 0
    public var totalNs: Int64 = 0
    /// Time per effective phase.
    public var byPhase: [Phase: Int64] = [:]
}

extension RankTrace {
    /// True for operator slices: CPU-track ops, annotations and launch calls, except steps.
    public func isOperator(_ i: Int) -> Bool {
        isOperatorKind(i) && !strings.hasPrefix(slices.name[i], StepNames.prefix)
    }

    /// `isOperator` before the step-name test: an op, annotation or launch call on a CPU thread.
    func isOperatorKind(_ i: Int) -> Bool {
        switch slices.kind[i] {
        case .cpuOp, .userAnnotation, .runtime, .driver: return tracks.kind[Int(slices.track[i])] == .cpuThread
        default: return false
        }
    }
}

/// Computes steps, phases and operator attribution for one rank.
public enum Analyzer {
    /// Analyses one rank.
    public static func analyze(_ trace: RankTrace, options: AnalysisOptions = AnalysisOptions()) -> RankAnalysis {
        let classifier = PhaseClassifier(strings: trace.strings, rules: options.phaseRules)
        let (stepWindows, stepTrack, stepsInferred) = findSteps(trace, stepRange: options.stepRange)
        let autograd = autogradTracks(trace, stepTrack: stepTrack)
        let facts = sliceFacts(trace, classifier: classifier, autograd: autograd)
        let coverage = backwardCoverage(trace, facts: facts, autograd: autograd)
        let collectives = collectiveSlices(trace)
        let waiting = subtractIntervals(hostCollectiveCoverage(trace, collectives), coverage)
        let timeline = GPUTimeline(trace)
        var steps: [Step] = []
        if stepWindows.isEmpty {
            if let bounds = trace.timeBounds, stepTrack >= 0 {
                let window = bounds.start..<bounds.end
                let phases = partition(trace, track: stepTrack, after: -1, window: window, facts: facts, coverage: coverage,
                                       waiting: waiting)
                steps.append(Step(name: "trace", start: bounds.start, dur: bounds.end - bounds.start, slice: -1, phases: phases,
                                  gpu: timeline.isEmpty ? nil : timeline.breakdown(window)))
            }
        } else {
            for w in stepWindows {
                let window = w.window
                let phases = partition(trace, track: stepTrack, after: w.slice, window: window, facts: facts, coverage: coverage,
                                       waiting: waiting)
                steps.append(Step(name: w.name, start: window.lowerBound, dur: window.upperBound - window.lowerBound, slice: w.slice,
                                  phases: phases, gpu: timeline.isEmpty ? nil : timeline.breakdown(window)))
            }
        }
        markTruncated(&steps, trace)
        var total = PhaseTimes()
        for s in steps { total += s.phases }
        var gpu: GPUBreakdown?
        for s in steps { if let g = s.gpu { gpu = (gpu ?? GPUBreakdown()); gpu! += g } }
        let attribution = options.operatorTables ? OperatorAttribution(trace) : OperatorAttribution()
        var (ops, kernels, gpuTotal) = options.operatorTables
            ? aggregate(trace, facts: facts, attribution: attribution, byShape: options.byShape) : ([], [], 0)
        let efficiency = options.operatorTables
            ? Analyzer.efficiency(trace, facts: facts, steps: steps, ops: &ops, byShape: options.byShape, peaks: options.devicePeaks) : nil
        return RankAnalysis(rank: trace.rank, source: trace.source, steps: steps, stepTrack: stepTrack, stepsInferred: stepsInferred,
                            phases: total, gpu: gpu, operators: ops, kernels: kernels, efficiency: efficiency, facts: facts,
                            attribution: attribution,
                            gpuActivityNs: gpuTotal,
                            timeline: timeline, collectiveSlices: collectives)
    }

    /// `ProfilerStep#N` slices on the thread with the most of them, ordered by start; with none,
    /// slices named `stepRange` (when given) chosen the same way and numbered `NAME#k` (so ranks'
    /// steps match by name as ProfilerStep#N do); with neither, the steps inferred from the
    /// optimizer (`inferredSteps`); with none, no steps and the CPU track with the largest depth-0 total.
    static func findSteps(_ trace: RankTrace, stepRange: String? = nil) -> (steps: [StepWindow], track: Int, inferred: Bool) {
        var perTrack: [Int: [Int]] = [:]
        for t in trace.cpuTracks {
            for i in trace.tracks.sliceRange[t] where trace.strings.hasPrefix(trace.slices.name[i], StepNames.prefix) {
                perTrack[t, default: []].append(i)
            }
        }
        if perTrack.isEmpty, let stepRange, let id = trace.strings.lookup(stepRange) {
            for t in trace.cpuTracks {
                for i in trace.tracks.sliceRange[t] where trace.slices.name[i] == id { perTrack[t, default: []].append(i) }
            }
        }
        if let best = perTrack.max(by: { a, b in a.value.count != b.value.count ? a.value.count < b.value.count : a.key > b.key }) {
            let steps = best.value.enumerated().map { k, i in
                let name = trace.strings[trace.slices.name[i]]
                return StepWindow(name: name.hasPrefix("ProfilerStep#") ? name : "\(name)#\(k + 1)",
                                  window: trace.slices.start[i]..<trace.slices.start[i] + trace.slices.dur[i], slice: i)
            }
            return (steps, best.key, false)
        }
        if let inferred = inferredSteps(trace) { return (inferred.steps, inferred.track, true) }
        var bestTrack = -1
        var bestTotal: Int64 = -1
        for t in trace.cpuTracks {
            var total: Int64 = 0
            for i in trace.tracks.sliceRange[t] where trace.slices.depth[i] == 0 { total += trace.slices.dur[i] }
            if total > bestTotal { bestTotal = total; bestTrack = t }
        }
        return ([], bestTrack, false)
    }

    /// With four steps or more, flags the last step of each profiler cycle (a `Trace` span of the
    /// profiler; the whole trace without one) when it is less than half the median duration of
    /// the rank's other steps and ends less than that median before the cycle ends: the profiler
    /// stopped inside it.
    static func markTruncated(_ steps: inout [Step], _ trace: RankTrace) {
        guard steps.count >= 4, steps[0].slice >= 0, let bounds = trace.timeBounds else { return }
        var cycleEnds: [Int64] = []
        for t in 0..<trace.tracks.count where trace.tracks.kind[t] == .spans {
            for i in trace.tracks.sliceRange[t] where trace.slices.kind[i] == .trace { cycleEnds.append(trace.slices.end(i)) }
        }
        cycleEnds.sort()
        for k in steps.indices {
            let end = steps[k].start + steps[k].dur
            let cycleEnd = cycleEnds.first { $0 >= steps[k].start } ?? bounds.end
            if k + 1 < steps.count && steps[k + 1].start < cycleEnd { continue }
            var others = steps.indices.filter { $0 != k }.map { steps[$0].dur }
            others.sort()
            let median = others[(others.count - 1) / 2]
            if steps[k].dur * 2 < median && cycleEnd - end < median { steps[k].truncated = true }
        }
    }

    static func autogradTracks(_ trace: RankTrace, stepTrack: Int) -> Set<Int> {
        var result = Set<Int>()
        for t in trace.cpuTracks where t != stepTrack {
            if trace.tracks.name[t] != 0 && trace.strings[trace.tracks.name[t]].contains("autograd") {
                result.insert(t)
                continue
            }
            for i in trace.tracks.sliceRange[t] where trace.slices.depth[i] == 0
                && trace.strings.hasPrefix(trace.slices.name[i], "autograd::engine::evaluate_function:") {
                result.insert(t)
                break
            }
        }
        return result
    }

    static func sliceFacts(_ trace: RankTrace, classifier: PhaseClassifier, autograd: Set<Int>) -> SliceFacts {
        let s = trace.slices
        let n = s.count
        var selfTime = [Int64](repeating: 0, count: n)
        var phase = [Phase](repeating: .other, count: n)
        var gpu = [Int64](repeating: 0, count: n)
        for i in 0..<n {
            selfTime[i] = s.nestEnd(i) - s.start[i]
            let p = Int(s.parent[i])
            if p >= 0 { selfTime[p] -= s.nestEnd(i) - s.start[i] }
        }
        // Host slices first, so GPU activity can take its launcher's phase.
        for gpuPass in [false, true] {
            for t in 0..<trace.tracks.count where (trace.tracks.kind[t] == .gpuStream) == gpuPass {
                let fallback: Phase = autograd.contains(t) ? .backward : .other
                for i in trace.tracks.sliceRange[t] {
                    let own = classifier.ownPhase(s.name[i])
                    if s.kind[i].isGPUActivity {
                        let l = s.launcher.isEmpty ? -1 : Int(s.launcher[i])
                        phase[i] = l >= 0 ? phase[l] : (own == .communication ? .communication : .other)
                    } else if let own {
                        phase[i] = own
                    } else {
                        let p = Int(s.parent[i])
                        phase[i] = p >= 0 ? phase[p] : fallback
                    }
                }
            }
        }
        if !s.launcher.isEmpty {
            for i in 0..<n where s.kind[i].isGPUActivity && s.launcher[i] >= 0 { gpu[Int(s.launcher[i])] += s.dur[i] }
            for i in stride(from: n - 1, through: 0, by: -1) where s.parent[i] >= 0 { gpu[Int(s.parent[i])] += gpu[i] }
        }
        return SliceFacts(selfTime: PackedColumn(selfTime), phase: phase, gpuInclusive: PackedColumn(gpu))
    }

    /// Merged nesting intervals of backward slices on autograd threads.
    static func backwardCoverage(_ trace: RankTrace, facts: SliceFacts, autograd: Set<Int>) -> [Range<Int64>] {
        var intervals: [Range<Int64>] = []
        for t in autograd {
            for i in trace.tracks.sliceRange[t] where facts.phase[i] == .backward && trace.slices.nestEnd(i) > trace.slices.start[i] {
                intervals.append(trace.slices.start[i]..<trace.slices.nestEnd(i))
            }
        }
        return mergeIntervals(intervals)
    }

    /// Sorted, disjoint union of `intervals` (touching ones joined).
    static func mergeIntervals(_ intervals: [Range<Int64>]) -> [Range<Int64>] {
        var merged: [Range<Int64>] = []
        for r in intervals.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound {
                merged[merged.count - 1] = last.lowerBound..<max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        return merged
    }

    /// Walks `window` on `track` and calls `emit(from, to, slice)` for consecutive parts, each
    /// with the innermost slice covering it (-1 for none), by nesting intervals. Candidates are
    /// the slices in `open` (begun before the window, outermost first) and the track's slices from
    /// index `first` on that start inside the window.
    static func sweepInnermost(_ trace: RankTrace, track: Int, first: Int, open: [Int], window: Range<Int64>,
                               emit: (Int64, Int64, Int) -> Void) {
        let s = trace.slices
        let range = trace.tracks.sliceRange[track]
        var stack: [(slice: Int, end: Int64)] = open.map { ($0, min(s.nestEnd($0), window.upperBound)) }
        var cursor = window.lowerBound
        func part(_ a: Int64, _ b: Int64, _ slice: Int) { if b > a { emit(a, b, slice) } }
        var i = max(range.lowerBound, first)
        while i < range.upperBound && s.start[i] < window.upperBound {
            let start = s.start[i]
            if start < window.lowerBound { i += 1; continue }
            while let top = stack.last, top.end <= start {
                part(cursor, top.end, top.slice)
                cursor = max(cursor, top.end)
                stack.removeLast()
            }
            part(cursor, start, stack.last?.slice ?? -1)
            cursor = start
            stack.append((i, min(s.nestEnd(i), window.upperBound)))
            i += 1
        }
        while let top = stack.popLast() {
            part(cursor, top.end, top.slice)
            cursor = max(cursor, top.end)
        }
        part(cursor, window.upperBound, -1)
    }

    /// Phase times of `window` on `track`: innermost-slice segments among the track's slices after
    /// index `after` (the step slice; its ancestors come before it), then the autograd overlay
    /// (`coverage`: backward running on autograd threads) and the communication overlay
    /// (`waiting`: host-side collectives in flight, outside `coverage`).
    static func partition(_ trace: RankTrace, track: Int, after: Int, window: Range<Int64>, facts: SliceFacts,
                          coverage: [Range<Int64>], waiting: [Range<Int64>]) -> PhaseTimes {
        var times = PhaseTimes()
        let s = trace.slices
        sweepInnermost(trace, track: track, first: after + 1, open: [], window: window) { from, to, slice in
            let p = slice >= 0 ? facts.phase[slice] : .idle
            let seg = from..<to
            times[p] += to - from
            // Other/idle time while the autograd engine runs backward counts as backward.
            if (p == .other || p == .idle) && !coverage.isEmpty {
                let moved = overlap(of: seg, with: coverage)
                times[p] -= moved
                times[.backward] += moved
            }
            // Backward/other/idle time with no operator running on the thread (only Python frames
            // or annotations, or nothing) while a collective is in flight is spent waiting for it.
            let blocked = slice < 0 || s.kind[slice] == .pythonFunction || s.kind[slice] == .userAnnotation
            if blocked && (p == .backward || p == .other || p == .idle) && !waiting.isEmpty {
                let moved = overlap(of: seg, with: waiting)
                times[p] -= moved
                times[.communication] += moved
            }
        }
        return times
    }

    /// The parts of `a` not covered by `b` (both sorted and disjoint).
    static func subtractIntervals(_ a: [Range<Int64>], _ b: [Range<Int64>]) -> [Range<Int64>] {
        var result: [Range<Int64>] = []
        var k = a.first.map { first in b.partitionPoint { $0.upperBound > first.lowerBound } } ?? 0
        for r in a {
            var lo = r.lowerBound
            while k < b.count && b[k].upperBound <= lo { k += 1 }
            var j = k
            while j < b.count && b[j].lowerBound < r.upperBound {
                if b[j].lowerBound > lo { result.append(lo..<b[j].lowerBound) }
                lo = max(lo, b[j].upperBound)
                j += 1
            }
            if lo < r.upperBound { result.append(lo..<r.upperBound) }
        }
        return result
    }
}

/// The first index in `range` for which `isSecond` holds, when it holds for a suffix of the range
/// (binary search over indices, for columns that are not one array of elements).
public func partitionIndex(_ range: Range<Int>, _ isSecond: (Int) -> Bool) -> Int {
    var lo = range.lowerBound, hi = range.upperBound
    while lo < hi {
        let mid = (lo + hi) / 2
        if isSecond(mid) { hi = mid } else { lo = mid + 1 }
    }
    return lo
}

/// Time of `interval` covered by `merged` (sorted, disjoint intervals).
func overlap(of interval: Range<Int64>, with merged: [Range<Int64>]) -> Int64 {
    var k = merged.partitionPoint { $0.upperBound > interval.lowerBound }
    var covered: Int64 = 0
    while k < merged.count && merged[k].lowerBound < interval.upperBound {
        covered += min(merged[k].upperBound, interval.upperBound) - max(merged[k].lowerBound, interval.lowerBound)
        k += 1
    }
    return covered
}

extension Array {
    /// Index of the first element for which `belongsToSecondPartition` is true (array partitioned).
    public func partitionPoint(_ belongsToSecondPartition: (Element) -> Bool) -> Int {
        partitionIndex(indices) { belongsToSecondPartition(self[$0]) }
    }
}

extension RankAnalysis {
    /// A rank's analysis without its trace (read back from a summary file): no per-slice facts,
    /// operator attribution or device timeline, no step track.
    public init(rank: Int, source: String, steps: [Step], stepsInferred: Bool, phases: PhaseTimes, gpu: GPUBreakdown?,
                operators: [OperatorStat], kernels: [KernelStat], gpuActivityNs: Int64) {
        self.init(rank: rank, source: source, steps: steps, stepTrack: -1, stepsInferred: stepsInferred, phases: phases, gpu: gpu,
                  operators: operators, kernels: kernels, facts: SliceFacts(selfTime: [], phase: [], gpuInclusive: []),
                  attribution: OperatorAttribution(), gpuActivityNs: gpuActivityNs,
                  timeline: GPUTimeline(RankTrace(source: source, rank: rank)), collectiveSlices: [])
    }
}

// Public initialisers for results read back from a summary file.
extension Step {
    public init(name: String, start: Int64, dur: Int64, slice: Int, phases: PhaseTimes, gpu: GPUBreakdown?) {
        self.name = name
        self.start = start
        self.dur = dur
        self.slice = slice
        self.phases = phases
        self.gpu = gpu
    }
}

extension OperatorStat {
    public init(name: String, shape: String?, kind: SliceKind) {
        self.name = name
        self.shape = shape
        self.kind = kind
    }
}

extension KernelStat {
    public init(name: String, kind: SliceKind) {
        self.name = name
        self.kind = kind
    }
}
