import TraceModel

/// One rank's part of a run's diff samples (`Analyzer.samples(ranks:communication:)`): its
/// per-step operator, kernel and per-call rows over its own steps, made where its trace is (the
/// map step) and merged into the run's samples with the other ranks'.
public struct RankSamples: Sendable, Equatable {
    /// The rank's distinct step names in order, truncated ones included: the columns of each row.
    public var steps: [String] = []
    /// Operator (`opSelf`, `opTotal`, `opGPU`) and kernel rows, one value per column.
    public var metrics: [MetricKey: [Double]] = [:]
    /// The operator rows split by input shapes: key -> shapes text -> one value per column.
    public var shapeMetrics: [MetricKey: [String: [Double]]] = [:]
    /// Per-call values per key and column, at most `RunSamples.callsPerStep` (evenly spread);
    /// empty when the rank has more than `RunSamples.callSampleSteps` untruncated steps.
    public var callSamples: [MetricKey: [[Double]]] = [:]
    /// Folded stacks' self time and operator calls summed over steps (not divided): `parts[0]`
    /// over the columns some untruncated step has (always in the run's steps), `parts[k]` over
    /// column `partColumns[k - 1]`, a step truncated on this rank (in the run only if another
    /// rank has it whole).
    public var parts: [Part] = [Part()]
    /// The column of each part after the first.
    public var partColumns: [Int] = []

    /// Folded stacks and operator calls of some steps.
    public struct Part: Sendable, Equatable {
        public var folded: [String: Double] = [:]
        public var calls: [String: Double] = [:]
        public init(folded: [String: Double] = [:], calls: [String: Double] = [:]) {
            self.folded = folded
            self.calls = calls
        }
    }

    public init() {}

    /// The rank's rows from its trace and analysis.
    public init(_ trace: RankTrace, analysis a: RankAnalysis) {
        var index: [String: Int] = [:]
        var whole: [Bool] = []
        for s in a.steps {
            if let k = index[s.name] {
                whole[k] = whole[k] || !s.truncated
            } else {
                index[s.name] = steps.count
                steps.append(s.name)
                whole.append(!s.truncated)
            }
        }
        var partOf = [Int](repeating: 0, count: steps.count)
        for k in steps.indices where !whole[k] {
            partOf[k] = parts.count
            parts.append(Part())
            partColumns.append(k)
        }
        let zeros = [Double](repeating: 0, count: steps.count)
        let noCalls = [[Double]](repeating: [], count: steps.count)
        var metrics: [MetricKey: [Double]] = [:], shapeMetrics: [MetricKey: [String: [Double]]] = [:]
        var calls: [MetricKey: [[Double]]] = [:]
        func raise(_ row: inout [Double], _ other: [Double]) {
            for k in row.indices where other[k] > row[k] { row[k] = other[k] }
        }
        let rows = Analyzer.Rows(
            put: { key, row in raise(&metrics[key, default: zeros], row) },
            putShape: { key, shape, row in raise(&shapeMetrics[key, default: [:]][shape, default: zeros], row) },
            putCalls: { key, column, v in calls[key, default: noCalls][column].append(contentsOf: v) })
        let keepCalls = whole.filter { $0 }.count <= RunSamples.callSampleSteps
        Analyzer.stepOperators(trace, analysis: a, stepIndex: index, keepCalls: keepCalls, rows: rows, partOf: partOf, parts: &parts)
        Analyzer.stepEfficiency(trace, analysis: a) { key, step, v in
            if let k = index[step], v > metrics[key, default: zeros][k] { metrics[key, default: zeros][k] = v }
        }
        self.metrics = metrics
        self.shapeMetrics = shapeMetrics
        callSamples = calls.mapValues { $0.map(Analyzer.spread) }
    }
}
