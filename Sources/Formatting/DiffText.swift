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
        case .mfu: return "MFU"
        case .opFLOPS: return "op TFLOP/s \(key.name)"
        }
    }

    /// A metric value in its unit (bytes for memory, percent for MFU, TFLOP/s for an operator's FLOP/s, else a duration).
    public func value(_ key: MetricKey, _ v: Double) -> String {
        switch key.kind {
        case .memory: return formatBytes(saturatingInt64(v))
        case .mfu: return formatFixed(v / 1e4, 2) + "%"
        case .opFLOPS: return formatFixed(v / 1000, 1) + " TFLOP/s"
        default: return formatDuration(saturatingInt64(v))
        }
    }

    /// The change of the two medians shown, `+12.0%`; `-` when the base median is 0.
    public func medianChangeText(_ m: MetricDiff) -> String {
        m.medianChange.map(signedPercent) ?? "-"
    }

    /// The Hodges-Lehmann shift (the median of all pairwise ratios) with its interval:
    /// `+12.0% [+8.1%, +15.9%]`, `-` without one.
    public func ratioText(_ m: MetricDiff) -> String {
        guard let e = m.estimate else { return "-" }
        return "\(signedPercent(e.ratio)) [\(signedPercent(e.lower)), \(signedPercent(e.upper))]"
    }

    public func signedPercent(_ ratio: Double) -> String {
        let pct = (ratio - 1) * 100
        return (pct >= 0 ? "+" : "") + formatFixed(pct, 1) + "%"
    }

    /// How the step verdict was reached from the calls, when the steps alone were too few:
    /// `decided from 1,234 calls of 56 operators and kernels (3 vs 3 steps ...): ...`.
    public var decisionText: String? {
        guard let d = decision else { return nil }
        let steps = "\(base.steps.count) vs \(candidate.steps.count) steps are too few for the step test alone"
        let threshold = signedPercent(1 + (metrics.first { $0.key.kind == .step }?.threshold ?? 0))
        let from = "\(groupedCount(d.pairedCalls)) paired calls of \(groupedCount(d.keys)) operators and kernels"
        let explained = formatSignedDuration(d.explainedNs)
        switch d.outcome {
        case .regression, .improvement:
            let word = d.outcome == .regression ? "slower" : "faster"
            let keys = d.outcome == .regression ? d.slowerKeys : d.fasterKeys
            return "decided from \(from) (\(steps)): every candidate step \(word) than every base step "
                + "(median \(signedPercent(d.stepRatio))), and \(keys) \(keys == 1 ? "key" : "keys") \(word) call by call "
                + "account for \(d.outcome == .regression ? explained : formatSignedDuration(-d.explainedNs)) per step"
        case .noise:
            return "decided from \(from) (\(steps)): the steps show no separated change beyond \(threshold) "
                + "(median \(signedPercent(d.stepRatio))) and no calls are slower by as much"
        case .unexplained:
            return "not decided from \(from) (\(steps)): the steps are separated (median \(signedPercent(d.stepRatio))), "
                + "but the calls \(d.stepRatio > 1 ? "slower" : "faster") call by call account for only \(explained) per step"
        case .hidden:
            return "not decided from \(from) (\(steps)): calls slower call by call account for \(explained) per step, "
                + "but the steps do not show a separated change (median \(signedPercent(d.stepRatio)))"
        }
    }

    /// A signed duration: `+1.2 ms`, `-300 us`.
    public func formatSignedDuration(_ ns: Double) -> String {
        (ns >= 0 ? "+" : "-") + formatDuration(Int64(abs(ns).rounded()))
    }

    /// `1234567` as `1,234,567`.
    public func groupedCount(_ n: Int) -> String {
        let digits = String(abs(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }
}

extension MetricDiff {
    /// candidate median / base median, nil when the base median is not positive.
    public var medianChange: Double? {
        baseMedian > 0 ? candidateMedian / baseMedian : nil
    }
}
