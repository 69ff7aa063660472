import TraceModel

extension Analyzer {
    /// Operator and kernel tables of a rank (docs/definitions.md, "Operators").
    static func aggregate(_ trace: RankTrace, facts: SliceFacts, attribution: OperatorAttribution,
                          byShape: Bool) -> (ops: [OperatorStat], kernels: [KernelStat], gpuTotal: Int64) {
        let s = trace.slices
        let n = s.count
        let shapeKey = trace.strings.lookup(Analyzer.inputDimsKey)
        // Key of each operator slice (an interned id), or UInt32.max for non-operators: its name,
        // or with `byShape` its name and `Input Dims`, counted by the same inclusive rule.
        var key = attribution.key
        var counted = attribution.counted
        if byShape, let k = shapeKey {
            for i in 0..<n where key[i] != .max {
                if let dims = trace.arg(ofSlice: i, key: k) {
                    key[i] = trace.strings.intern(trace.strings[s.name[i]] + "\u{0}" + trace.argText(dims))
                }
            }
            counted = OperatorAttribution.counted(trace, key: key)
        }
        var opIndex: [UInt32: Int] = [:]
        var ops: [OperatorStat] = []
        for i in 0..<n where key[i] != .max {
            let k = key[i]
            let o: Int
            if let found = opIndex[k] { o = found } else {
                var shape: String?
                if byShape, k != s.name[i], let sk = shapeKey, let dims = trace.arg(ofSlice: i, key: sk) { shape = trace.argText(dims) }
                ops.append(OperatorStat(name: trace.strings[s.name[i]], shape: shape, kind: s.kind[i]))
                o = ops.count - 1
                opIndex[k] = o
            }
            let phase = facts.phase[i]
            let total = counted[i] ? s.dur[i] : 0
            let gpu = counted[i] ? facts.gpuInclusive[i] : 0
            ops[o].count += 1
            ops[o].totalNs += total
            ops[o].selfNs += facts.selfTime[i]
            ops[o].gpuNs += gpu
            var ps = ops[o].byPhase[phase] ?? OperatorPhaseStat()
            ps.count += 1
            ps.totalNs += total
            ps.selfNs += facts.selfTime[i]
            ps.gpuNs += gpu
            ops[o].byPhase[phase] = ps
        }
        var kernelIndex: [UInt32: Int] = [:]
        var kernels: [KernelStat] = []
        var gpuTotal: Int64 = 0
        for i in 0..<n where s.kind[i].isGPUActivity {
            let k: Int
            if let found = kernelIndex[s.name[i]] { k = found } else {
                kernels.append(KernelStat(name: trace.strings[s.name[i]], kind: s.kind[i]))
                k = kernels.count - 1
                kernelIndex[s.name[i]] = k
            }
            kernels[k].count += 1
            kernels[k].totalNs += s.dur[i]
            kernels[k].byPhase[facts.phase[i], default: 0] += s.dur[i]
            gpuTotal += s.dur[i]
        }
        ops.sort { $0.selfNs != $1.selfNs ? $0.selfNs > $1.selfNs : $0.name < $1.name }
        kernels.sort { $0.totalNs != $1.totalNs ? $0.totalNs > $1.totalNs : $0.name < $1.name }
        return (ops, kernels, gpuTotal)
    }
}
