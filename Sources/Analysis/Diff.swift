import TraceModel

/// What a compared metric measures (docs/diff.md).
public enum MetricKind: String, CaseIterable, Sendable, Comparable {
    case step, phase, memory, exposedComm = "exposed_comm", commWait = "comm_wait", opSelf = "op_self", opGPU = "op_gpu",
         opTotal = "op_total", kernel
    /// Model FLOP utilisation per step, in parts per million (docs/efficiency.md).
    case mfu
    /// An operator's achieved FLOP/s per step (its counted calls' FLOPs over their device time), in FLOP/ns.
    case opFLOPS = "op_flops"

    /// Gate metrics decide the verdict together (Holm); the per-operator rows gate too, with
    /// Benjamini-Hochberg across them; kernels, inclusive times and the efficiency metrics explain.
    public var gates: Bool { self != .kernel && self != .opTotal && !higherIsBetter }

    /// For MFU and FLOP/s a fall is the regression; for times and bytes, a rise.
    public var higherIsBetter: Bool { self == .mfu || self == .opFLOPS }

    public static func < (a: MetricKind, b: MetricKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A metric: its kind and name (a phase, an operator keyed within its phase, a device type...).
public struct MetricKey: Hashable, Sendable, Comparable {
    public var kind: MetricKind
    public var name: String
    public init(_ kind: MetricKind, _ name: String) {
        self.kind = kind
        self.name = name
    }
    public static func < (a: MetricKey, b: MetricKey) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// One run reduced to per-step samples (one sample per kept step; a multi-rank step's value is
/// its largest over ranks).
public struct RunSamples: Sendable {
    public var steps: [String] = []
    public var skipped: [String] = []
    public var ranks = 0
    public var metrics: [MetricKey: [Double]] = [:]
    /// Operator calls per step, per operator key, for structural changes.
    public var calls: [String: Double] = [:]
    /// The operator rows (`opSelf`, `opTotal`, `opGPU`) split by input shapes (`Input Dims`), for
    /// operators recorded with shapes: key -> shapes text -> one value per step.
    public var shapeMetrics: [MetricKey: [String: [Double]]] = [:]
    /// Folded operator stacks (`a;b;c`) with their self time per step, ns.
    public var folded: [String: Double] = [:]
    /// Per-call samples: each operator call's self time (`opSelf`, keyed `name [phase] @ shapes`,
    /// or `name [phase]` for calls without shapes) and each kernel's duration (`kernel`), one list
    /// per step of the run, at most `RunSamples.callsPerStep` calls each (evenly spread over the
    /// ranks' calls, each rank's already spread so: `RankSamples.callSamples`); empty
    /// for runs of more than `RunSamples.callSampleSteps` steps.
    public var callSamples: [MetricKey: [[Double]]] = [:]
    /// For memory snapshots: per device name, the live bytes at the peak by folded stack (the
    /// largest over ranks of each stack), so a diff lists the stacks that grew without the snapshots.
    public var snapshotStacks: [String: [SnapshotStackGroup]] = [:]
    /// The most calls per key and step that `callSamples` keeps.
    public static let callsPerStep = 64
    /// Runs with more steps keep no per-call samples: the step test decides them (unless
    /// `--skip-steps` leaves fewer than 4).
    public static let callSampleSteps = 32
    public init() {}
}

extension RunSamples {
    /// The samples without their leading warm-up steps (listed in `skipped`). `auto` drops leading
    /// steps longer than 1.5 x the median of the steps after them, at most half of them.
    public func dropping(_ skip: SkipSteps) -> RunSamples {
        let durations = metrics[MetricKey(.step, "")] ?? []
        let n: Int
        switch skip {
        case let .count(k): n = min(max(0, k), steps.count)
        case .auto:
            var k = 0
            while k < steps.count / 2, k + 1 < durations.count {
                let rest = durations[(k + 1)...].sorted()
                guard durations[k] > 1.5 * rest[(rest.count - 1) / 2] else { break }
                k += 1
            }
            n = k
        }
        guard n > 0 else { return self }
        var out = self
        out.skipped = skipped + steps.prefix(n)
        out.steps = Array(steps.dropFirst(n))
        out.metrics = metrics.mapValues { Array($0.dropFirst(n)) }
        out.shapeMetrics = shapeMetrics.mapValues { $0.mapValues { Array($0.dropFirst(n)) } }
        out.callSamples = callSamples.mapValues { Array($0.dropFirst(n)) }
        return out
    }
}

/// How many leading (warm-up) steps to drop.
public enum SkipSteps: Sendable, Equatable {
    case count(Int)
    /// Drop leading steps longer than 1.5 x the median of the rest, at most half of them.
    case auto
}

/// Options of a comparison.
public struct DiffOptions: Sendable {
    /// Relative thresholds per kind (0.05 = 5%).
    public var thresholds: [MetricKind: Double] = [
        .step: 0.05, .phase: 0.10, .opSelf: 0.10, .opGPU: 0.10, .opTotal: 0.10, .kernel: 0.10, .memory: 0.02,
        .exposedComm: 0.10, .commWait: 0.10, .mfu: 0.05, .opFLOPS: 0.10,
    ]
    /// Any metric measured in time but the step itself (phases, operators, kernels, communication)
    /// must also change by more than this fraction of the base median step time.
    public var operatorMinFractionOfStep = 0.01
    /// A memory peak's change must also exceed this many bytes.
    public var memoryMinBytes = 256.0 * 1024 * 1024
    public var alpha = 0.05
    public var skip = SkipSteps.count(0)
    public init() {}
}

/// The comparison of one metric.
public struct MetricDiff: Sendable {
    public var key: MetricKey
    public var baseMedian: Double
    public var candidateMedian: Double
    /// Hodges-Lehmann ratio candidate/base with its interval, when defined.
    public var estimate: RatioEstimate?
    public var p: Double
    /// p after Holm (gate metrics) or Benjamini-Hochberg (operators, kernels).
    public var adjustedP: Double
    public var verdict: MetricVerdict
    public var threshold: Double
}

/// The per-call comparison of one operator at one input shape (`opSelf`) or one kernel name
/// (`kernel`): the k-th call of the key in the j-th kept step of each run form a pair
/// (docs/diff.md, Few steps).
public struct CallDiff: Sendable {
    /// Medians are per call over all calls; the ratio (median of the pairs' ratios with its
    /// interval) and p are the sign test's over the pairs; `adjustedP` is Benjamini-Hochberg
    /// within the operator and within the kernel keys.
    public var metric: MetricDiff
    /// Pairs of calls compared.
    public var pairs: Int
    /// The change of the key's median time per step (candidate - base), ns.
    public var stepChangeNs: Double
}

/// How the step time's verdict was reached when the steps alone are too few for the U test.
public struct CallDecision: Sendable {
    /// Pairs of calls compared, over the keys that could be tested.
    public var pairedCalls: Int
    /// Keys (operators at a shape, kernels) compared call by call.
    public var keys: Int
    /// Every candidate step slower (or every one faster) than every base step.
    public var separated: Bool
    /// Median candidate step / median base step.
    public var stepRatio: Double
    /// Keys slower (faster) call by call, with significance after Benjamini-Hochberg.
    public var slowerKeys: Int
    public var fasterKeys: Int
    /// The change of the step time per step that the slower (for an improvement, the faster)
    /// keys account for, ns: the larger of the operators' sum and the kernels' sum.
    public var explainedNs: Double
    public var outcome: Outcome

    /// What the steps and calls showed together.
    public enum Outcome: String, Sendable {
        /// Steps separated beyond the threshold, and calls slower that account for it.
        case regression
        /// The mirror image.
        case improvement
        /// No separated change of the steps beyond the threshold, and no slowdown of calls as large.
        case noise
        /// Steps separated beyond the threshold, but the calls do not account for it.
        case unexplained
        /// Calls slower by as much as the step threshold, but the steps do not show it.
        case hidden
    }
}

/// Operators whose input shapes changed in one consistent way (a dimension `from` -> `to`,
/// other dimensions scaled by the same ratio), reported as one structural change.
public struct ShapeChangeGroup: Sendable {
    public var from: Int
    public var to: Int
    /// The coarse operator keys (`name [phase]`) whose every changed shape the substitution explains.
    public var operators: [String]
    /// Other dimension changes seen with the same ratio (`1536 -> 2304`).
    public var scaled: [String]
    /// The added and removed metrics (operators at a shape) the group stands for.
    public var members: Set<MetricKey>
    /// `dimension 512 -> 768 in 40 ops`.
    public var summary: String {
        "dimension \(from) -> \(to) in \(operators.count) op\(operators.count == 1 ? "" : "s")"
            + (scaled.isEmpty ? "" : " (scaled alike: " + scaled.joined(separator: ", ") + ")")
    }
}

/// An operator's share of the change in the median step time.
public struct Contribution: Sendable, Equatable {
    public var name: String
    public var deltaNs: Double
}

/// Overall outcome of a comparison.
public enum DiffVerdict: String, Sendable {
    case pass, regression, inconclusive
}

/// Everything `stepscope diff` reports.
public struct DiffResult: Sendable {
    public var base: RunSamples
    public var candidate: RunSamples
    public var metrics: [MetricDiff]
    /// Metrics present in one run only (operators, kernels, devices, phases).
    public var added: [MetricKey]
    public var removed: [MetricKey]
    /// Operators whose calls per step or input shapes changed.
    public var structural: [String]
    /// Contributions to the change of the median step time; they add up to it.
    public var contributors: [Contribution]
    public var stepChangeNs: Double
    public var verdict: DiffVerdict
    /// Per-call comparisons, made when the steps are too few for the step test (else empty).
    public var calls: [CallDiff] = []
    /// How the step verdict was reached from the calls, when it was.
    public var decision: CallDecision?
    /// Consistent shape changes (a hidden size), standing for their added, removed and
    /// `input shapes changed` entries.
    public var shapeGroups: [ShapeChangeGroup] = []
    /// Memory snapshots: the stacks whose live bytes at the peak grew, by growth descending.
    public var grownStacks: [SnapshotStackChange] = []
}

extension Analyzer {
    /// `s` with run-specific tokens removed: hexadecimal addresses (`0x7f6d14ac71c0` -> `0x?`).
    public static func normalizedName(_ s: String) -> String {
        let utf8 = s.utf8
        guard let zero = utf8.firstIndex(of: UInt8(ascii: "0")),
              utf8[zero...].dropFirst().contains(UInt8(ascii: "x")) else { return s }
        var out = ""
        var chars = Array(s.unicodeScalars)[...]
        while let c = chars.first {
            if c == "0", chars.dropFirst().first == "x", let h = chars.dropFirst(2).first, h.properties.isASCIIHexDigit {
                out += "0x?"
                chars = chars.dropFirst(2)
                while let d = chars.first, d.properties.isASCIIHexDigit { chars = chars.dropFirst() }
            } else {
                out.unicodeScalars.append(c)
                chars = chars.dropFirst()
            }
        }
        return out
    }

    /// Reduces a run to per-step samples, every step kept (see `RunSamples.dropping`), from its
    /// ranks' reports (each with its `samples`) and the run's communication analysis.
    public static func samples(ranks: [RankReport], communication: CommunicationReport?) -> RunSamples {
        var out = RunSamples()
        out.snapshotStacks = MemorySnapshotAnalysis.peakStacks(ranks.flatMap(\.snapshot))
        out.ranks = ranks.count
        let runSteps = RunStep.run(ranks.map(\.analysis))
        // A run of memory snapshots (no steps) is one step, `snapshot`, holding each device's peak.
        let snapshotOnly = runSteps.isEmpty && ranks.contains { !$0.memory.isEmpty }
        let order = snapshotOnly ? ["snapshot"] : runSteps.map(\.name)
        out.steps = order
        let stepIndex = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        let zeros = [Double](repeating: 0, count: order.count)
        // metric -> one value per step (max over ranks; 0 where the step did not have it)
        var values: [MetricKey: [Double]] = [:]
        func put(_ key: MetricKey, _ step: String, _ v: Double) {
            guard let k = stepIndex[step] else { return }
            raise(&values[key, default: zeros], k, v)
        }
        var shapeValues: [MetricKey: [String: [Double]]] = [:]  // metric -> shapes -> one value per step
        var callValues: [MetricKey: [[Double]]] = [:]  // key -> one list of calls per step, all ranks
        let noCalls = [[Double]](repeating: [], count: order.count)
        var foldedTotal: [String: Double] = [:]
        var callsTotal: [String: Double] = [:]
        let keepCalls = order.count <= RunSamples.callSampleSteps
        for r in ranks {
            for s in r.analysis.steps {
                put(MetricKey(.step, ""), s.name, Double(s.dur))
                for p in Phase.allCases { put(MetricKey(.phase, p.name), s.name, Double(s.phases[p])) }
                if let g = s.gpu { put(MetricKey(.exposedComm, ""), s.name, Double(g.exposedCommunication)) }
            }
            for d in r.memory {
                let device = d.name.split(separator: ":").first.map(String.init) ?? d.name
                for p in d.stepPeaks { put(MetricKey(.memory, device), p.step, Double(p.peak)) }
                if snapshotOnly { put(MetricKey(.memory, d.name), "snapshot", Double(d.peakAllocated)) }
            }
            guard let rs = r.samples else { continue }
            // The rank's columns in the run's steps (nil: a step the run leaves out).
            let column = rs.steps.map { stepIndex[$0] }
            func mapped(_ row: [Double]) -> [Double] {
                var out = zeros
                for (k, v) in zip(column, row) { if let k, v > out[k] { out[k] = v } }
                return out
            }
            func nonZero(_ row: [Double]) -> Bool { row.contains { $0 != 0 } }
            // A row counts where it has time in the run's steps (self and inclusive time together).
            func merge(_ rows: [MetricKey: [Double]], into put: (MetricKey, [Double]) -> Void) {
                for (key, row) in rows {
                    let m = mapped(row)
                    switch key.kind {
                    case .opSelf, .opTotal:
                        let partner = MetricKey(key.kind == .opSelf ? .opTotal : .opSelf, key.name)
                        guard nonZero(m) || rows[partner].map({ nonZero(mapped($0)) }) == true else { continue }
                    default:
                        guard nonZero(m) else { continue }
                    }
                    put(key, m)
                }
            }
            merge(rs.metrics) { key, row in raise(&values[key, default: zeros], row) }
            var byShape: [String: [MetricKey: [Double]]] = [:]
            for (key, shapes) in rs.shapeMetrics { for (shape, row) in shapes { byShape[shape, default: [:]][key] = row } }
            for (shape, rows) in byShape {
                merge(rows) { key, row in raise(&shapeValues[key, default: [:]][shape, default: zeros], row) }
            }
            if keepCalls {
                for (key, lists) in rs.callSamples {
                    for (k, list) in zip(column, lists) where !list.isEmpty {
                        if let k { callValues[key, default: noCalls][k].append(contentsOf: list) }
                    }
                }
            }
            for (k, part) in rs.parts.enumerated() where k == 0 || column[rs.partColumns[k - 1]] != nil {
                for (stack, v) in part.folded { foldedTotal[stack, default: 0] += v }
                for (key, v) in part.calls { callsTotal[key, default: 0] += v }
            }
        }
        for w in communication?.waits ?? [] { put(MetricKey(.commWait, ""), w.step, Double(w.wait)) }
        out.metrics = values
        out.shapeMetrics = shapeValues
        out.callSamples = callValues.mapValues { $0.map(spread) }
        let n = Double(max(1, out.steps.count))
        out.folded = foldedTotal.mapValues { $0 / n }
        out.calls = callsTotal.mapValues { $0 / n }
        return out
    }

    /// Per step of a rank: MFU (ppm, with a peak for the device) and each operator's achieved FLOP/ns
    /// over its counted calls that started in the step (docs/efficiency.md).
    static func stepEfficiency(_ trace: RankTrace, analysis a: RankAnalysis, put: (MetricKey, String, Double) -> Void) {
        let (calls, _) = countedCalls(trace, facts: a.facts)
        guard !calls.isEmpty else { return }
        let peaks = devicePeaks(trace, override: nil).peaks
        let (summaries, _, _) = Analyzer.summaries(trace, calls: calls, steps: a.steps, peaks: peaks)
        for sm in summaries { if let m = sm.mfu, let step = sm.step { put(MetricKey(.mfu, ""), step, m * 1e6) } }
        var perOp: [String: [Int: (flops: Double, ns: Double)]] = [:]
        for c in calls where c.work.flops > 0 && c.deviceNs > 0 {
            guard let k = stepIndex(a.steps, at: trace.slices.start[c.slice]) else { continue }
            var v = perOp[trace.name(ofSlice: c.slice), default: [:]][k] ?? (0, 0)
            v.flops += Double(c.work.flops)
            v.ns += Double(c.deviceNs)
            perOp[trace.name(ofSlice: c.slice), default: [:]][k] = v
        }
        for (name, bySteps) in perOp {
            for (k, v) in bySteps { put(MetricKey(.opFLOPS, normalizedName(name)), a.steps[k].name, v.flops / v.ns) }
        }
    }

    /// At most `RunSamples.callsPerStep` of `calls`, evenly spread over them (in call order).
    static func spread(_ calls: [Double]) -> [Double] {
        let m = RunSamples.callsPerStep
        guard calls.count > m else { return calls }
        return (0..<m).map { calls[$0 * calls.count / m] }
    }

    /// Raises `row[k]` to `v` (rows start at 0, so negative values count as 0).
    private static func raise(_ row: inout [Double], _ k: Int, _ v: Double) {
        if v > row[k] { row[k] = v }
    }

    /// Raises each value of `row` to the one of `other`.
    private static func raise(_ row: inout [Double], _ other: [Double]) {
        for k in row.indices where other[k] > row[k] { row[k] = other[k] }
    }

    /// Where `stepOperators` puts whole rows (one value per step of the run).
    struct Rows {
        var put: (MetricKey, [Double]) -> Void
        var putShape: (MetricKey, String, [Double]) -> Void
        /// Per-call values of a key in one run step (by index).
        var putCalls: (MetricKey, Int, [Double]) -> Void
    }

    /// Per-step operator self and inclusive times (also split by input shapes), kernel times, folded
    /// stacks and calls of one rank. Keys are integers while walking the slices; strings are made
    /// once per distinct key.
    static func stepOperators(_ trace: RankTrace, analysis a: RankAnalysis, stepIndex: [String: Int], keepCalls: Bool, rows: Rows,
                              partOf: [Int], parts: inout [RankSamples.Part]) {
        let s = trace.slices
        let windows = a.steps.compactMap { step in
            stepIndex[step.name].map { (index: $0, range: step.start..<step.start + step.dur) }
        }
        guard !windows.isEmpty else { return }
        let attribution = a.attribution.isEmpty ? OperatorAttribution(trace, keepOwners: false) : a.attribution
        let operatorKeys = attribution.key, counted = attribution.counted
        let dims = trace.strings.lookup(Analyzer.inputDimsKey)
        // Operator keys: (name id, phase) -> row (-1: none yet; `labels` names the rows); and (row,
        // dims text id) -> shape row.
        let phases = Phase.allCases.count
        var keyIndex = [Int32](repeating: -1, count: trace.strings.count * phases)
        var shapeIndex = IntMap()
        var shapeOf: [UInt64] = []
        var normalized: [UInt32: String] = [:]
        func name(_ id: UInt32) -> String {
            if let n = normalized[id] { return n }
            let n = normalizedName(trace.strings[id])
            normalized[id] = n
            return n
        }
        // Folded stacks: a tree of operator nodes (parent node, name id). A slice's node is its own
        // when it is an operator, else its parent's (-1 at the top).
        var nodeIndex = IntMap()
        var nodes: [(parent: Int32, name: UInt32)] = []
        var nodeOf = [Int32](repeating: -1, count: s.count)
        let cpuTracks = trace.cpuTracks
        for t in cpuTracks {
            for i in trace.tracks.sliceRange[t] {
                let p = Int(s.parent[i])
                let parentNode = p >= 0 ? nodeOf[p] : -1
                let name = operatorKeys[i]
                guard name != .max else {
                    nodeOf[i] = parentNode
                    continue
                }
                let node = nodeIndex.value(for: UInt64(UInt32(bitPattern: parentNode)) << 32 | UInt64(name), inserting: Int32(nodes.count))
                if node == nodes.count { nodes.append((parentNode, name)) }
                nodeOf[i] = node
            }
        }
        /// Each operator slice that starts inside a step (its index and window), track by track.
        func forEachCall(_ body: (Int, Int) -> Void) {
            for t in cpuTracks {
                var window = 0  // slices come by start, so their step only moves forwards
                for i in trace.tracks.sliceRange[t] where operatorKeys[i] != .max {
                    let start = s.start[i]
                    while window < windows.count && windows[window].range.upperBound <= start { window += 1 }
                    guard window < windows.count && windows[window].range.contains(start) else { continue }
                    body(i, window)
                }
            }
        }
        var sums = StepSums(steps: windows.count), shapeSums = StepSums(steps: windows.count)
        var labels: [String] = []
        // Folded self time and calls per part (`RankSamples.parts`) of the windows' steps.
        var nodeSelf = [[Double]](repeating: [Double](repeating: 0, count: nodes.count), count: parts.count)
        var callCounts = [[Double]](repeating: [], count: parts.count)
        let windowPart = windows.map { partOf[$0.index] }
        // Per-call self times, only for short runs: a call's list is its key's with shapes when it has
        // them, else its key's, in its run step; `callSlots` holds each call's list, in call order.
        var sampler = keepCalls ? CallSampler(steps: stepIndex.count) : nil
        var keySlot: [Int] = [], shapeSlot: [Int] = [], callSlots: [Int32] = []
        let selfTime = a.facts.selfTime, gpuInclusive = a.facts.gpuInclusive
        forEachCall { i, si in
            let phase = a.facts.phase[i]
            let opKey = Int(operatorKeys[i]) * phases + phase.rawValue
            var k = keyIndex[opKey]
            if k < 0 {
                k = Int32(labels.count)
                keyIndex[opKey] = k
                labels.append(name(operatorKeys[i]) + " [" + phase.name + "]")
                sums.addRow()
                for p in parts.indices { callCounts[p].append(0) }
                if sampler != nil { keySlot.append(sampler!.key(labels[Int(k)])) }
            }
            var shape = -1
            if let dims, let v = trace.arg(ofSlice: i, key: dims), !v.isInteger {
                let pair = UInt64(k) << 32 | UInt64(v.text)
                shape = Int(shapeIndex.value(for: pair, inserting: Int32(shapeOf.count)))
                if shape == shapeOf.count {
                    shapeOf.append(pair)
                    shapeSums.addRow()
                    if sampler != nil { shapeSlot.append(sampler!.key(labels[Int(k)] + " @ " + trace.strings[v.text])) }
                }
            }
            let counted = counted[i]
            let value = (selfTime: Double(selfTime[i]), total: Double(s.dur[i]), gpu: Double(gpuInclusive[i]))
            sums.add(Int(k), si, value, counted: counted)
            if shape >= 0 { shapeSums.add(shape, si, value, counted: counted) }
            nodeSelf[windowPart[si]][Int(nodeOf[i])] += value.selfTime
            callCounts[windowPart[si]][Int(k)] += 1
            if sampler != nil {
                let slot = (shape >= 0 ? shapeSlot[shape] : keySlot[Int(k)]) * stepIndex.count + windows[si].index
                sampler!.count(slot)
                callSlots.append(Int32(slot))
            }
        }
        if sampler != nil {
            var n = 0
            forEachCall { i, _ in
                sampler!.offer(Int(callSlots[n]), Double(selfTime[i]))
                n += 1
            }
        }
        for (k, label) in labels.enumerated() {
            sums.emit(k, label: label, windows: windows, steps: stepIndex.count, rows.put)
            for p in parts.indices where callCounts[p][k] != 0 { parts[p].calls[label, default: 0] += callCounts[p][k] }
        }
        for (j, pair) in shapeOf.enumerated() {
            let shape = trace.strings[UInt32(truncatingIfNeeded: pair)]
            shapeSums.emit(j, label: labels[Int(pair >> 32)], windows: windows, steps: stepIndex.count) { rows.putShape($0, shape, $1) }
        }
        sampler?.emit { rows.putCalls(MetricKey(.opSelf, $0), $1, $2) }
        var paths = [String](repeating: "", count: nodes.count)
        for (n, node) in nodes.enumerated() {
            // Parents precede children, so the parent's path is ready.
            paths[n] = node.parent < 0 ? name(node.name) : paths[Int(node.parent)] + ";" + name(node.name)
            for p in parts.indices where nodeSelf[p][n] != 0 { parts[p].folded[paths[n], default: 0] += nodeSelf[p][n] }
        }
        stepKernels(trace, windows: windows, steps: stepIndex.count, keepCalls: keepCalls, name: name,
                    put: { rows.put(MetricKey(.kernel, name($0)), $1) }, putCalls: { rows.putCalls(MetricKey(.kernel, $0), $1, $2) })
    }

    /// Per-step total time of each GPU activity name (rows with some time only), by name id, and
    /// each activity's duration (by `name`, run step, durations).
    private static func stepKernels(_ trace: RankTrace, windows: [(index: Int, range: Range<Int64>)], steps: Int, keepCalls: Bool,
                                    name: (UInt32) -> String, put: (UInt32, [Double]) -> Void, putCalls: (String, Int, [Double]) -> Void) {
        let s = trace.slices
        var kernelRow = [Int32](repeating: -1, count: trace.strings.count)  // per name id
        var kernelNames: [UInt32] = []
        var kernelSums: [Double] = []  // row r's value in run step x at r * steps + x
        var calls: [Int] = []  // row r's number of activities in run step x at r * steps + x, for short runs
        /// The row and run step of GPU activity `i`, if it starts in a step.
        func place(_ i: Int) -> (row: Int, step: Int)? {
            let t = s.start[i]
            let w = windows.partitionPoint { $0.range.upperBound > t }
            guard w < windows.count && windows[w].range.contains(t) else { return nil }
            return (Int(kernelRow[Int(s.name[i])]), windows[w].index)
        }
        for i in 0..<s.count where s.kind[i].isGPUActivity {
            guard let (placed, x) = place(i) else { continue }
            var row = placed
            if row < 0 {
                let id = s.name[i]
                row = kernelNames.count
                kernelRow[Int(id)] = Int32(row)
                kernelNames.append(id)
                kernelSums.append(contentsOf: repeatElement(0, count: steps))
                if keepCalls { calls.append(contentsOf: repeatElement(0, count: steps)) }
            }
            kernelSums[row * steps + x] += Double(s.dur[i])
            if keepCalls { calls[row * steps + x] += 1 }
        }
        var sampler = keepCalls ? CallSampler(steps: steps) : nil
        var rowSlot = [Int](repeating: -1, count: kernelNames.count)  // row r's key in `sampler`, for rows with time
        for (r, id) in kernelNames.enumerated() {
            let row = Array(kernelSums[r * steps..<(r + 1) * steps])
            guard row.contains(where: { $0 != 0 }) else { continue }
            put(id, row)
            guard sampler != nil else { continue }
            rowSlot[r] = sampler!.key(name(id))
            for x in 0..<steps { sampler!.count(rowSlot[r] * steps + x, by: calls[r * steps + x]) }
        }
        guard var sampler else { return }
        for i in 0..<s.count where s.kind[i].isGPUActivity {
            if let (row, x) = place(i), rowSlot[row] >= 0 { sampler.offer(rowSlot[row] * steps + x, Double(s.dur[i])) }
        }
        sampler.emit(putCalls)
    }

    /// Per-call samples of keys in run steps without holding every call: each list (a key in a step)
    /// is counted first, then keeps, as its calls come again in the same order, those `spread`
    /// would pick from the whole list.
    struct CallSampler {
        let steps: Int
        private var labels: [String] = []
        private var index: [String: Int] = [:]
        private var counts: [Int] = []  // key k's number of calls in run step x at k * steps + x
        private var seen: [Int] = []
        private var picked: [[Double]] = []

        init(steps: Int) { self.steps = steps }

        /// The key of `label` (its lists are at key * steps + step).
        mutating func key(_ label: String) -> Int {
            if let k = index[label] { return k }
            index[label] = labels.count
            labels.append(label)
            counts.append(contentsOf: repeatElement(0, count: steps))
            return labels.count - 1
        }

        /// Counts `n` more calls in list `slot`.
        mutating func count(_ slot: Int, by n: Int = 1) { counts[slot] += n }

        /// Call number `seen[slot]` of list `slot`, kept when `spread` picks it.
        mutating func offer(_ slot: Int, _ value: Double) {
            if seen.isEmpty {
                seen = [Int](repeating: 0, count: counts.count)
                picked = [[Double]](repeating: [], count: counts.count)
            }
            let p = seen[slot], n = counts[slot], m = RunSamples.callsPerStep
            seen[slot] += 1
            // `spread` keeps every call when n <= m, else calls j * n / m for j in 0..<m: the least j
            // reaching p is ceil(p * m / n).
            let j = (p * m + n - 1) / n
            if n <= m || (j < m && j * n / m == p) { picked[slot].append(value) }
        }

        /// Each key's non-empty lists: (label, run step, calls).
        func emit(_ put: (String, Int, [Double]) -> Void) {
            for (k, label) in labels.enumerated() {
                for x in 0..<steps where k * steps + x < picked.count && !picked[k * steps + x].isEmpty { put(label, x, picked[k * steps + x]) }
            }
        }
    }

    /// Per-step self, inclusive and GPU sums of a fixed number of rows (operator keys).
    struct StepSums {
        let steps: Int
        /// Row k's self, inclusive and GPU values in step si are at (3k + 0, 1, 2) * steps + si.
        var values: [Double] = []

        init(steps: Int) { self.steps = steps }

        /// Adds a row of zeros (the next key).
        mutating func addRow() { values.append(contentsOf: repeatElement(0, count: 3 * steps)) }

        /// Adds a slice's self time to row `k` in step `si`, and its inclusive and GPU times when
        /// `counted`.
        @inline(__always)
        mutating func add(_ k: Int, _ si: Int, _ v: (selfTime: Double, total: Double, gpu: Double), counted: Bool) {
            let at = 3 * k * steps + si
            values[at] += v.selfTime
            if counted {
                values[at + steps] += v.total
                values[at + 2 * steps] += v.gpu
            }
        }

        /// Row `k` as the run's rows (one value per step of the run, `steps` of them) of the
        /// metrics it has: self and inclusive time when either is non-zero in some step, GPU time
        /// when that is.
        func emit(_ k: Int, label: String, windows: [(index: Int, range: Range<Int64>)], steps: Int,
                  _ put: (MetricKey, [Double]) -> Void) {
            let base = 3 * k * self.steps
            func row(_ m: Int) -> [Double] {
                var r = [Double](repeating: 0, count: steps)
                for (si, w) in windows.enumerated() { r[w.index] = values[base + m * self.steps + si] }
                return r
            }
            let timed = (0..<2 * self.steps).contains { values[base + $0] != 0 }
            let onGPU = (0..<self.steps).contains { values[base + 2 * self.steps + $0] != 0 }
            if timed {
                put(MetricKey(.opSelf, label), row(0))
                put(MetricKey(.opTotal, label), row(1))
            }
            if onGPU { put(MetricKey(.opGPU, label), row(2)) }
        }
    }

    /// Compares two runs' samples (docs/diff.md).
    public static func diff(base coarseBase: RunSamples, candidate coarseCandidate: RunSamples, options: DiffOptions) -> DiffResult {
        let (base, candidate) = refiningByShape(coarseBase, coarseCandidate)
        let baseKeys = Set(base.metrics.keys), candKeys = Set(candidate.metrics.keys)
        let common = baseKeys.intersection(candKeys).sorted()
        let stepMedian = base.metrics[MetricKey(.step, "")].map { Verdict.median($0) } ?? 0
        func minAbsolute(_ kind: MetricKind) -> Double {
            switch kind {
            case .step, .mfu, .opFLOPS: return 0
            case .memory: return options.memoryMinBytes
            default: return options.operatorMinFractionOfStep * stepMedian
            }
        }
        // Each metric's test, medians and interval, on all cores.
        let compared = concurrentMap(common.count) { i in
            let key = common[i]
            // +1 ns keeps a ratio defined when a step lacks the metric (a zero sample).
            let b = base.metrics[key]!.map { $0 + 1 }.sorted(), c = candidate.metrics[key]!.map { $0 + 1 }.sorted()
            let test = MannWhitney.test(sorted: b, c)
            let bm = Verdict.median(sorted: b), cm = Verdict.median(sorted: c)
            // An operator whose medians both stay under the absolute minimum cannot change by more
            // than it: no interval is computed for it (O(n1 n2) each, for thousands of operators)
            // and its verdict is noise.
            let small = (key.kind == .opSelf || key.kind == .opTotal) && max(bm - 1, cm - 1) <= minAbsolute(key.kind)
            let row = MetricDiff(key: key, baseMedian: bm - 1, candidateMedian: cm - 1,
                                 estimate: small ? nil : HodgesLehmann.ratio(base: b, candidate: c, confidence: 1 - options.alpha),
                                 p: test.p, adjustedP: test.p, verdict: .noise, threshold: options.thresholds[key.kind] ?? 0.1)
            return (row: row, change: cm - bm)
        }
        var rows = compared.map(\.row)
        // Holm over the gate metrics, Benjamini-Hochberg within the operator and kernel families. A
        // gate metric that is zero in every step of both runs (a phase neither run has) is no test:
        // it stays out of the family, so it does not weaken the others' correction.
        func absentFromBoth(_ key: MetricKey) -> Bool {
            base.metrics[key]!.allSatisfy { $0 == 0 } && candidate.metrics[key]!.allSatisfy { $0 == 0 }
        }
        let families: [[Int]] = [
            rows.indices.filter { [.step, .phase, .memory, .exposedComm, .commWait].contains(rows[$0].key.kind) && !absentFromBoth(rows[$0].key) },
            rows.indices.filter { rows[$0].key.kind == .opSelf },
            rows.indices.filter { rows[$0].key.kind == .opGPU },
            rows.indices.filter { rows[$0].key.kind == .opTotal },
            rows.indices.filter { rows[$0].key.kind == .kernel },
            rows.indices.filter { rows[$0].key.kind == .mfu },
            rows.indices.filter { rows[$0].key.kind == .opFLOPS },
        ]
        for (f, members) in families.enumerated() where !members.isEmpty {
            let ps = members.map { rows[$0].p }
            let adjusted = f == 0 ? Holm.adjust(ps) : BenjaminiHochberg.adjust(ps)
            for (k, i) in members.enumerated() { rows[i].adjustedP = adjusted[k] }
        }
        let decidable = MannWhitney.smallestP(base.steps.count, candidate.steps.count) <= options.alpha
        for i in rows.indices {
            let key = rows[i].key
            guard decidable, let estimate = rows[i].estimate else {
                // No interval: a step metric with a sample that is not positive, or a small operator.
                rows[i].verdict = decidable && key.kind != .step ? .noise : .inconclusive
                continue
            }
            // Higher is better: classified as the inverse ratio, so a fall past the threshold is a regression.
            let inverted = key.kind.higherIsBetter
            rows[i].verdict = Verdict.classify(p: rows[i].adjustedP,
                                               estimate: inverted ? RatioEstimate(ratio: 1 / estimate.ratio, lower: 1 / estimate.upper,
                                                                                  upper: 1 / estimate.lower) : estimate,
                                               change: inverted ? -compared[i].change : compared[i].change,
                                               threshold: rows[i].threshold, minAbsolute: minAbsolute(key.kind), alpha: options.alpha)
        }
        // Too few steps for the step test: decide the step time from the calls (docs/diff.md).
        var calls: [CallDiff] = []
        var decision: CallDecision?
        if !decidable, min(base.steps.count, candidate.steps.count) >= minimumStepsForCalls,
           let s = rows.firstIndex(where: { $0.key.kind == .step }) {
            calls = compareCalls(base, candidate, options: options, minAbsolute: minAbsolute(.opSelf))
            if let d = decideStep(base: base, candidate: candidate, calls: calls, threshold: rows[s].threshold) {
                decision = d
                switch d.outcome {
                case .regression: rows[s].verdict = .regression
                case .improvement: rows[s].verdict = .improvement
                case .noise: rows[s].verdict = .noise
                case .unexplained, .hidden: break
                }
            }
        }
        let gates = rows.filter { $0.key.kind.gates }
        let verdict: DiffVerdict
        if gates.contains(where: { $0.verdict == .regression }) {
            verdict = .regression
        } else if rows.first(where: { $0.key.kind == .step })?.verdict == .inconclusive || rows.isEmpty {
            verdict = .inconclusive
        } else {
            verdict = .pass
        }
        var structural: [String] = []
        let coarseCommon = Set(coarseBase.metrics.keys).intersection(coarseCandidate.metrics.keys)
        for key in coarseCommon.sorted() where key.kind == .opSelf {
            let name = key.name
            let bc = base.calls[name] ?? 0, cc = candidate.calls[name] ?? 0
            if abs(bc - cc) >= 0.5 { structural.append("\(name): \(formatCalls(bc)) -> \(formatCalls(cc)) calls per step") }
            if let bs = coarseBase.shapeMetrics[key].map({ Set($0.keys) }), let cs = coarseCandidate.shapeMetrics[key].map({ Set($0.keys) }), bs != cs {
                structural.append("\(name): input shapes changed (\(bs.count) -> \(cs.count) distinct)")
            }
        }
        // Contributions: each operator's change of median self time per step; the remainder
        // (time outside operators, and medians not adding up) is one more line, so they sum up.
        let stepChange = (candidate.metrics[MetricKey(.step, "")].map { Verdict.median($0) } ?? 0) - stepMedian
        var contributions: [Contribution] = []
        let opKeys = baseKeys.union(candKeys).filter { $0.kind == .opSelf }
        for key in opKeys {
            let b = base.metrics[key].map { Verdict.median($0) } ?? 0
            let c = candidate.metrics[key].map { Verdict.median($0) } ?? 0
            if c != b { contributions.append(Contribution(name: key.name, deltaNs: c - b)) }
        }
        contributions.sort { abs($0.deltaNs) != abs($1.deltaNs) ? abs($0.deltaNs) > abs($1.deltaNs) : $0.name < $1.name }
        let top = Array(contributions.prefix(10))
        let rest = stepChange - top.reduce(0) { $0 + $1.deltaNs }
        var contributors = top
        if rest != 0 { contributors.append(Contribution(name: "(everything else)", deltaNs: rest)) }
        let added = candKeys.subtracting(baseKeys).sorted(), removed = baseKeys.subtracting(candKeys).sorted()
        return DiffResult(base: base, candidate: candidate, metrics: rows, added: added, removed: removed,
                          structural: structural, contributors: contributors, stepChangeNs: stepChange, verdict: verdict,
                          calls: calls, decision: decision,
                          shapeGroups: shapeGroups(coarseBase, coarseCandidate, added: added, removed: removed),
                          grownStacks: MemorySnapshotAnalysis.grownStacks(base: base.snapshotStacks, new: candidate.snapshotStacks))
    }

    /// Integers of a shapes text and what is around them: `[[8, 512]]` -> (`[[, ]]`, [8, 512]).
    static func shapeTokens(_ s: String) -> (skeleton: String, numbers: [Int]) {
        var skeleton = "", numbers: [Int] = [], current: Int?
        for u in s.unicodeScalars {
            if let d = Int(String(u)), u.isASCII {
                current = (current ?? 0) &* 10 &+ d
            } else {
                if let c = current { numbers.append(c); skeleton += "#" }
                current = nil
                skeleton.unicodeScalars.append(u)
            }
        }
        if let c = current { numbers.append(c); skeleton += "#" }
        return (skeleton, numbers)
    }

    /// Operators whose input shapes changed by one consistent substitution: the dimension change
    /// `x -> y` seen in the most operators, and every operator each of whose shapes found in one
    /// run only pairs with a shape of the other run that differs from it only where a dimension d
    /// became d y / x (the same ratio: a hidden size 512 -> 768 also turns 1536 into 2304) or
    /// d (y / x)^2 (a flattened 512 x 512 weight). At
    /// least two operators make a group.
    static func shapeGroups(_ base: RunSamples, _ candidate: RunSamples, added: [MetricKey], removed: [MetricKey]) -> [ShapeChangeGroup] {
        typealias Shape = (String, [Int])
        var changed: [(op: String, removed: [Shape], added: [Shape], base: [Shape], candidate: [Shape])] = []
        for (key, bShapes) in base.shapeMetrics where key.kind == .opSelf {
            guard let cShapes = candidate.shapeMetrics[key] else { continue }
            let bs = Set(bShapes.keys), cs = Set(cShapes.keys)
            guard bs != cs else { continue }
            changed.append((key.name, bs.subtracting(cs).sorted().map(shapeTokens), cs.subtracting(bs).sorted().map(shapeTokens),
                            bs.sorted().map(shapeTokens), cs.sorted().map(shapeTokens)))
        }
        changed.sort { $0.op < $1.op }
        func substitutions(_ a: (String, [Int]), _ b: (String, [Int])) -> [(Int, Int)]? {
            guard a.0 == b.0, a.1.count == b.1.count else { return nil }
            let pairs = zip(a.1, b.1).filter { $0 != $1 }
            return pairs.isEmpty ? nil : pairs
        }
        // Votes: each operator counts each substitution it shows once.
        var votes: [[Int]: Int] = [:]
        for c in changed {
            var seen = Set<[Int]>()
            for r in c.removed { for a in c.added { for (x, y) in substitutions(r, a) ?? [] { seen.insert([x, y]) } } }
            for s in seen { votes[s, default: 0] += 1 }
        }
        guard let best = votes.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key.lexicographicallyPrecedes($1.key) == false }),
              best.value >= 2 else { return [] }
        let (x, y) = (best.key[0], best.key[1])
        func explained(_ r: (String, [Int]), _ a: (String, [Int])) -> Bool {
            guard let subs = substitutions(r, a) else { return false }
            // d -> d y/x, or (a product of two such dimensions, a flattened weight) d -> d (y/x)^2.
            return subs.allSatisfy { s in
                s.0 > 0 && (s.1.multipliedReportingOverflow(by: x) == s.0.multipliedReportingOverflow(by: y)
                    || s.1.multipliedReportingOverflow(by: x * x) == s.0.multipliedReportingOverflow(by: y * y))
            }
        }
        var ops: [String] = [], scaled = Set<[Int]>()
        for c in changed where !c.removed.isEmpty && !c.added.isEmpty
            && c.removed.allSatisfy({ r in c.candidate.contains { explained(r, $0) } })
            && c.added.allSatisfy({ a in c.base.contains { explained($0, a) } }) {
            ops.append(c.op)
            for r in c.removed { for a in c.added where explained(r, a) { for s in substitutions(r, a)! where s != (x, y) { scaled.insert([s.0, s.1]) } } }
        }
        guard ops.count >= 2 else { return [] }
        let prefixes = ops.map { $0 + " @ " }
        let members = Set((added + removed).filter { k in
            [.opSelf, .opTotal, .opGPU].contains(k.kind) && prefixes.contains { k.name.hasPrefix($0) }
        })
        let scaledText = scaled.sorted { $0.lexicographicallyPrecedes($1) }.prefix(6).map { "\($0[0]) -> \($0[1])" }
        return [ShapeChangeGroup(from: x, to: y, operators: ops, scaled: Array(scaledText), members: members)]
    }

    /// The fewest steps per run for which the step time is decided from the calls when the steps
    /// alone are too few.
    public static let minimumStepsForCalls = 3

    /// Each operator (at a shape) and kernel with calls in both runs, compared call by call: the
    /// k-th call in the j-th step of one run is paired with the k-th call in the j-th step of the
    /// other (a step repeats its calls in the same order), a two-sided sign test over the pairs,
    /// the median pair ratio with its interval, Benjamini-Hochberg within operators and within
    /// kernels; a key regresses when significant, its interval clears the threshold, and its
    /// median time per step grows by more than `minAbsolute`.
    static func compareCalls(_ base: RunSamples, _ candidate: RunSamples, options: DiffOptions, minAbsolute: Double) -> [CallDiff] {
        let keys = Set(base.callSamples.keys).intersection(candidate.callSamples.keys).sorted()
        func perStep(_ run: RunSamples, _ key: MetricKey) -> [Double] {
            run.metrics[key] ?? run.callSamples[key]!.map { $0.reduce(0, +) }
        }
        let compared = concurrentMap(keys.count) { i -> CallDiff? in
            let key = keys[i]
            let bs = base.callSamples[key]!, cs = candidate.callSamples[key]!
            var b: [Double] = [], c: [Double] = []
            for j in 0..<min(bs.count, cs.count) {
                for k in 0..<min(bs[j].count, cs[j].count) {
                    b.append(bs[j][k] + 1)
                    c.append(cs[j][k] + 1)
                }
            }
            guard SignTest.smallestP(b.count) <= options.alpha,
                  let test = SignTest.paired(base: b, candidate: c, confidence: 1 - options.alpha) else { return nil }
            let change = Verdict.median(perStep(candidate, key)) - Verdict.median(perStep(base, key))
            let row = MetricDiff(key: key, baseMedian: Verdict.median(Array(bs.joined())), candidateMedian: Verdict.median(Array(cs.joined())),
                                 estimate: test.estimate, p: test.p, adjustedP: test.p, verdict: .noise,
                                 threshold: options.thresholds[key.kind] ?? 0.1)
            return CallDiff(metric: row, pairs: b.count, stepChangeNs: change)
        }
        var out = compared.compactMap { $0 }
        for kind in [MetricKind.opSelf, .kernel] {
            let members = out.indices.filter { out[$0].metric.key.kind == kind }
            guard !members.isEmpty else { continue }
            let adjusted = BenjaminiHochberg.adjust(members.map { out[$0].metric.p })
            for (k, i) in members.enumerated() {
                out[i].metric.adjustedP = adjusted[k]
                out[i].metric.verdict = Verdict.classify(p: adjusted[k], estimate: out[i].metric.estimate!, change: out[i].stepChangeNs,
                                                         threshold: out[i].metric.threshold, minAbsolute: minAbsolute, alpha: options.alpha)
            }
        }
        return out
    }

    /// The step time's verdict from too few steps and the calls: a regression needs both every
    /// candidate step slower than every base step with the median step beyond the threshold, and
    /// keys slower call by call whose change per step accounts for at least half the threshold's
    /// worth of the base step (operators and kernels counted apart, the larger taken, as kernels
    /// run under operators); an improvement is the mirror image. nil when no key could be tested.
    static func decideStep(base: RunSamples, candidate: RunSamples, calls: [CallDiff], threshold: Double) -> CallDecision? {
        guard !calls.isEmpty, let b = base.metrics[MetricKey(.step, "")], let c = candidate.metrics[MetricKey(.step, "")],
              let bMin = b.min(), let bMax = b.max(), let cMin = c.min(), let cMax = c.max() else { return nil }
        let bm = Verdict.median(b), cm = Verdict.median(c)
        let up = cMin > bMax && cm > (1 + threshold) * bm
        let down = cMax < bMin && cm * (1 + threshold) < bm
        func explained(_ v: MetricVerdict) -> Double {
            let keys = calls.filter { $0.metric.verdict == v }
            let sum = { (kind: MetricKind) in abs(keys.filter { $0.metric.key.kind == kind }.reduce(0) { $0 + $1.stepChangeNs }) }
            return max(sum(.opSelf), sum(.kernel))
        }
        let slower = explained(.regression), faster = explained(.improvement)
        let needed = threshold / 2 * bm
        let outcome: CallDecision.Outcome
        if up {
            outcome = slower >= needed ? .regression : .unexplained
        } else if down {
            outcome = faster >= needed ? .improvement : .unexplained
        } else {
            outcome = max(slower, faster) >= threshold * bm ? .hidden : .noise
        }
        return CallDecision(pairedCalls: calls.reduce(0) { $0 + $1.pairs }, keys: calls.count,
                            separated: cMin > bMax || cMax < bMin, stepRatio: (cm + 1) / (bm + 1),
                            slowerKeys: calls.filter { $0.metric.verdict == .regression }.count,
                            fasterKeys: calls.filter { $0.metric.verdict == .improvement }.count,
                            explainedNs: down ? faster : slower, outcome: outcome)
    }

    /// The runs with each operator keyed by its input shapes too (`name [phase] @ shapes`) where
    /// both runs recorded shapes for it and share at least one; otherwise by name within phase, so
    /// an operator whose every shape changed (a new batch size) is still compared as one.
    static func refiningByShape(_ base: RunSamples, _ candidate: RunSamples) -> (RunSamples, RunSamples) {
        func refine(_ run: inout RunSamples, _ coarse: MetricKey) {
            run.metrics[coarse] = nil
            for (shape, values) in run.shapeMetrics[coarse] ?? [:] {
                run.metrics[MetricKey(coarse.kind, coarse.name + " @ " + shape)] = values
            }
        }
        var b = base, c = candidate
        for key in base.metrics.keys where key.kind == .opSelf && candidate.metrics[key] != nil {
            guard let bs = base.shapeMetrics[key], let cs = candidate.shapeMetrics[key],
                  !Set(bs.keys).isDisjoint(with: cs.keys) else { continue }
            for kind in [MetricKind.opSelf, .opTotal, .opGPU] {
                refine(&b, MetricKey(kind, key.name))
                refine(&c, MetricKey(kind, key.name))
            }
        }
        return (b, c)
    }

    static func formatCalls(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\(abs(tenths % 10))"
    }
}

/// The selections of metrics every presentation of a diff shows.
extension DiffResult {
    /// Gate metrics other than operators; a phase or device at zero in both runs is left out.
    public var gateRows: [MetricDiff] {
        metrics.filter { $0.key.kind.gates && $0.key.kind != .opSelf && $0.key.kind != .opGPU
            && ($0.key.kind == .step || $0.baseMedian != 0 || $0.candidateMedian != 0) }
    }
    /// Operator (self and GPU time) and kernel rows, largest change first.
    public var operatorRows: [MetricDiff] {
        metrics.filter { [.opSelf, .opGPU, .kernel].contains($0.key.kind) }
            .sorted { changeOf($0) != changeOf($1) ? changeOf($0) > changeOf($1) : $0.key < $1.key }
    }
    /// MFU and per-operator FLOP/s rows with a significant change: MFU first, then the largest relative change.
    public var efficiencyRows: [MetricDiff] {
        func rel(_ m: MetricDiff) -> Double { m.estimate.map { max($0.ratio, 1 / $0.ratio) } ?? 0 }
        return metrics.filter { $0.key.kind.higherIsBetter && ($0.verdict == .regression || $0.verdict == .improvement) }
            .sorted { ($0.key.kind == .mfu) != ($1.key.kind == .mfu) ? $0.key.kind == .mfu
                : (rel($0) != rel($1) ? rel($0) > rel($1) : $0.key < $1.key) }
    }
    /// Gate metrics that regressed.
    public var regressions: [MetricDiff] { metrics.filter { $0.key.kind.gates && $0.verdict == .regression } }

    /// The size of a metric's change of medians.
    public func changeOf(_ m: MetricDiff) -> Double { abs(m.candidateMedian - m.baseMedian) }
}
