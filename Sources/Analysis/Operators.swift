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
            var shaped = Array(key)
            struct ShapeKey: Hashable { let name: UInt32, dims: UInt64 }
            var shapeKeys: [ShapeKey: UInt32] = [:]
            for i in 0..<n where shaped[i] != .max {
                if let dims = trace.arg(ofSlice: i, key: k) {
                    let sk = ShapeKey(name: s.name[i], dims: dims.bits)
                    if let known = shapeKeys[sk] { shaped[i] = known; continue }
                    shaped[i] = trace.strings.intern(trace.strings[s.name[i]] + "\u{0}" + trace.argText(dims))
                    shapeKeys[sk] = shaped[i]
                }
            }
            counted = OperatorAttribution.counted(trace, key: shaped)
            key = PackedColumn(shaped)
        }
        // Per-phase sums go to flat rows (row x phase) first and into each row's dictionary once.
        let phases = Phase.allCases.count
        var opIndex: [UInt32: Int] = [:]
        var ops: [OperatorStat] = []
        var opPhases: [OperatorPhaseStat] = []
        for i in 0..<n where key[i] != .max {
            let k = key[i]
            let o: Int
            if let found = opIndex[k] { o = found } else {
                var shape: String?
                if byShape, k != s.name[i], let sk = shapeKey, let dims = trace.arg(ofSlice: i, key: sk) { shape = trace.argText(dims) }
                ops.append(OperatorStat(name: trace.strings[s.name[i]], shape: shape, kind: s.kind[i]))
                opPhases += repeatElement(OperatorPhaseStat(), count: phases)
                o = ops.count - 1
                opIndex[k] = o
            }
            let total = counted[i] ? s.dur[i] : 0
            let gpu = counted[i] ? facts.gpuInclusive[i] : 0
            ops[o].count += 1
            ops[o].totalNs += total
            ops[o].selfNs += facts.selfTime[i]
            ops[o].gpuNs += gpu
            let p = o * phases + facts.phase[i].rawValue
            opPhases[p].count += 1
            opPhases[p].totalNs += total
            opPhases[p].selfNs += facts.selfTime[i]
            opPhases[p].gpuNs += gpu
        }
        for o in ops.indices {
            for phase in Phase.allCases where opPhases[o * phases + phase.rawValue].count > 0 {
                ops[o].byPhase[phase] = opPhases[o * phases + phase.rawValue]
            }
        }
        var kernelIndex: [UInt32: Int] = [:]
        var kernels: [KernelStat] = []
        var kernelPhases: [Int64?] = []  // nil: no kernel of the row in that phase
        var gpuTotal: Int64 = 0
        for i in 0..<n where s.kind[i].isGPUActivity {
            let k: Int
            if let found = kernelIndex[s.name[i]] { k = found } else {
                kernels.append(KernelStat(name: trace.strings[s.name[i]], kind: s.kind[i]))
                kernelPhases += repeatElement(nil, count: phases)
                k = kernels.count - 1
                kernelIndex[s.name[i]] = k
            }
            kernels[k].count += 1
            kernels[k].totalNs += s.dur[i]
            let p = k * phases + facts.phase[i].rawValue
            kernelPhases[p] = (kernelPhases[p] ?? 0) + s.dur[i]
            gpuTotal += s.dur[i]
        }
        for k in kernels.indices {
            for phase in Phase.allCases { if let ns = kernelPhases[k * phases + phase.rawValue] { kernels[k].byPhase[phase] = ns } }
        }
        ops.sort { $0.selfNs != $1.selfNs ? $0.selfNs > $1.selfNs : $0.name < $1.name }
        kernels.sort { $0.totalNs != $1.totalNs ? $0.totalNs > $1.totalNs : $0.name < $1.name }
        return (ops, kernels, gpuTotal)
    }
}
