import Analysis

/// How a diff's metrics are named and their values written, in the reports and the diff view alike.
extension DiffResult {
    /// How a metric is named in tables (`phase forward`, `op self aten::mm [forward]`).
    public func label(_ key: MetricKey) -> String {
        switch key.kind {
        case .step: return "step time"
        case .phase: return "phase \(key.name)"
        case .memory: return "memory peak \(key.name)"
        case .exposedComm: return "exposed communication"
        case .commWait: return "collective wait"
        case .opSelf: return "op self \(key.name)"
        case .opGPU: return "op GPU \(key.name)"
        case .opTotal: return "op total \(key.name)"
        case .kernel: return "kernel \(key.name)"
        }
    }

    /// A metric value in its unit (bytes for memory, else a duration).
    public func value(_ key: MetricKey, _ v: Double) -> String {
        key.kind == .memory ? formatBytes(Int64(v)) : formatDuration(Int64(v.rounded()))
    }

    /// The change with its interval: `+12.0% [+8.1%, +15.9%]`, `-` without one.
    public func ratioText(_ m: MetricDiff) -> String {
        guard let e = m.estimate else { return "-" }
        return "\(signedPercent(e.ratio)) [\(signedPercent(e.lower)), \(signedPercent(e.upper))]"
    }

    public func signedPercent(_ ratio: Double) -> String {
        let pct = (ratio - 1) * 100
        return (pct >= 0 ? "+" : "") + formatFixed(pct, 1) + "%"
    }
}
