import TraceModel

// Efficiency per operator, step and rank: the counted-once rule over the performance model's
// calls, achieved throughput over the device time they launched, roofline, precision and MFU
// (docs/efficiency.md).

/// The modelled work of one operator key (a row of the operator table), over its counted calls.
public struct OperatorWork: Sendable, Equatable {
    public var kind: WorkKind
    /// Calls counted with a model.
    public var calls = 0
    public var flops: Int64 = 0
    public var bytes: Int64 = 0
    /// Device time the counted calls launched (their kernels, memcpys and memsets).
    public var deviceNs: Int64 = 0
    /// Of the counted calls that launched device work and have a roofline: their device time, the
    /// time they would take at the roofline, and the parts of that bound by compute and by memory.
    public var rooflineDeviceNs: Int64 = 0
    public var rooflineNs: Double = 0
    public var computeBoundNs: Double = 0
    public var memoryBoundNs: Double = 0
    /// The precision of most of the calls' FLOPs (of their bytes when they have none).
    public var precision: Precision?

    public init(kind: WorkKind) { self.kind = kind }

    /// Achieved TFLOP/s over the device time (nil without device time or FLOPs).
    public var tflopsPerSecond: Double? { deviceNs > 0 && flops > 0 ? Double(flops) / Double(deviceNs) / 1000 : nil }
    /// Achieved GB/s over the device time (nil without device time).
    public var gigabytesPerSecond: Double? { deviceNs > 0 && bytes > 0 ? Double(bytes) / Double(deviceNs) : nil }
    /// FLOPs per byte moved (nil without bytes).
    public var intensity: Double? { bytes > 0 ? Double(flops) / Double(bytes) : nil }
    /// "compute" or "memory": which roofline term is larger; nil without a roofline.
    public var bound: String? {
        rooflineDeviceNs > 0 ? (computeBoundNs >= memoryBoundNs ? "compute" : "memory") : nil
    }
    /// The share of the roofline reached, in percent: time at the roofline over device time.
    public var rooflinePercent: Double? { rooflineDeviceNs > 0 ? 100 * rooflineNs / Double(rooflineDeviceNs) : nil }
    /// Device time beyond the time at the roofline (the time an ideal kernel would save).
    public var headroomNs: Int64? { rooflineDeviceNs > 0 ? max(0, rooflineDeviceNs - Int64(rooflineNs.rounded())) : nil }
}

extension RankAnalysis {
    /// Operator rows with a roofline, by headroom (largest first): the report's and the UI's order.
    public var operatorsByHeadroom: [OperatorStat] {
        operators.filter { $0.work?.headroomNs != nil }.sorted {
            let a = $0.work!.headroomNs!, b = $1.work!.headroomNs!
            return a != b ? a > b : $0.name < $1.name
        }
    }
}

/// Device time and FLOPs of one precision (nil: unknown) within a step or a rank.
public struct PrecisionShare: Sendable, Equatable {
    public var precision: Precision?
    /// Kernel time in this precision.
    public var deviceNs: Int64 = 0
    /// Counted operators' FLOPs in this precision.
    public var flops: Int64 = 0

    public init(precision: Precision?, deviceNs: Int64 = 0, flops: Int64 = 0) {
        (self.precision, self.deviceNs, self.flops) = (precision, deviceNs, flops)
    }
}

/// Model FLOPs, MFU and precision shares over a step, or a rank's steps together.
public struct EfficiencySummary: Sendable, Equatable {
    /// The step's name, or nil for the rank's summary.
    public var step: String?
    /// Wall time (the step's duration, or the sum of the steps').
    public var durationNs: Int64 = 0
    /// Device busy time (nil without device activity).
    public var busyNs: Int64?
    /// Sum of the counted operators' FLOPs.
    public var flops: Int64 = 0
    /// By precision, largest device time first; the unknown precision last.
    public var byPrecision: [PrecisionShare] = []
    /// The precision with the most FLOPs.
    public var dominant: Precision?
    /// flops / (durationNs × peak of `dominant`); nil without a peak or FLOPs.
    public var mfu: Double?
    /// flops / (busyNs × peak of `dominant`): the FLOP/s utilisation while the device was busy.
    public var busyUtilization: Double?

    public init(step: String?, durationNs: Int64 = 0, busyNs: Int64? = nil, flops: Int64 = 0, byPrecision: [PrecisionShare] = [],
                dominant: Precision? = nil, mfu: Double? = nil, busyUtilization: Double? = nil) {
        (self.step, self.durationNs, self.busyNs, self.flops, self.byPrecision) = (step, durationNs, busyNs, flops, byPrecision)
        (self.dominant, self.mfu, self.busyUtilization) = (dominant, mfu, busyUtilization)
    }

    mutating func finish(peaks: DevicePeaks?) {
        byPrecision.sort { a, b in
            if (a.precision == nil) != (b.precision == nil) { return a.precision != nil }
            return a.deviceNs != b.deviceNs ? a.deviceNs > b.deviceNs : (a.precision?.rawValue ?? "") < (b.precision?.rawValue ?? "")
        }
        dominant = byPrecision.filter { $0.precision != nil && $0.flops > 0 }.max { $0.flops < $1.flops }?.precision
        if let d = dominant, let peak = peaks?.flopsPerNs(d), flops > 0 {
            if durationNs > 0 { mfu = Double(flops) / (Double(durationNs) * peak) }
            if let busy = busyNs, busy > 0 { busyUtilization = Double(flops) / (Double(busy) * peak) }
        }
    }

    mutating func add(_ p: Precision?, deviceNs: Int64 = 0, flops: Int64 = 0) {
        if let i = byPrecision.firstIndex(where: { $0.precision == p }) {
            byPrecision[i].deviceNs += deviceNs
            byPrecision[i].flops += flops
        } else {
            byPrecision.append(PrecisionShare(precision: p, deviceNs: deviceNs, flops: flops))
        }
    }
}

/// A rank's efficiency: the device and peaks used, per step and over the steps (docs/efficiency.md).
public struct RankEfficiency: Sendable, Equatable {
    /// The device name from the trace (`deviceProperties`), nil when it has none.
    public var deviceName: String?
    /// The peaks used: `--device-peak`'s, else the built-in entry matching `deviceName`; nil when neither.
    public var peaks: DevicePeaks?
    public var steps: [EfficiencySummary]
    /// Over the rank's steps (the truncated ones included, as in the phase totals).
    public var total: EfficiencySummary
    /// Operator calls counted with a model, and operator calls that have a model but whose
    /// recorded inputs did not give one (no shapes, unexpected arguments).
    public var modelledCalls = 0
    public var unmodelledCalls = 0
    /// Per kernel name: the precision of most of its time (its name's, else its launching
    /// calls'); names with none are absent.
    public var kernelPrecision: [String: Precision] = [:]

    public init(deviceName: String?, peaks: DevicePeaks?, steps: [EfficiencySummary], total: EfficiencySummary,
                modelledCalls: Int, unmodelledCalls: Int, kernelPrecision: [String: Precision]) {
        (self.deviceName, self.peaks, self.steps, self.total) = (deviceName, peaks, steps, total)
        (self.modelledCalls, self.unmodelledCalls, self.kernelPrecision) = (modelledCalls, unmodelledCalls, kernelPrecision)
    }

    /// Whether there is anything to show: a modelled call or kernel time of a known precision.
    public var hasContent: Bool { modelledCalls > 0 || total.byPrecision.contains { $0.precision != nil && $0.deviceNs > 0 } }
}

/// A counted call: the slice, its work and the device time it launched.
public struct CountedCall: Sendable, Equatable {
    public var slice: Int
    public var work: OpWork
    public var deviceNs: Int64
}

extension Analyzer {
    /// Per slice, the operator call counted for its model (docs/efficiency.md, "Counted once"): an
    /// `owns` operator counts unless an operator above it counted; a `defers` one only when no
    /// operator below it has a model. Precision is refined from the kernels each call launched.
    public static func countedCalls(_ trace: RankTrace, facts: SliceFacts) -> (calls: [CountedCall], unmodelled: Int) {
        let s = trace.slices
        let n = s.count
        guard let dimsKey = trace.strings.lookup(inputDimsKey) else { return ([], 0) }
        let typeKey = trace.strings.lookup(inputTypeKey), concreteKey = trace.strings.lookup(concreteInputsKey)
        var roles: [UInt32: PerfModel.Role?] = [:]
        func role(_ i: Int) -> PerfModel.Role? {
            // Step names have no model, so the kind test is enough (`isOperator` less its name test).
            guard trace.isOperatorKind(i) else { return nil }
            let id = s.name[i]
            if let r = roles[id] { return r }
            let r = PerfModel.role(trace.strings[id])
            roles[id] = r
            return r
        }
        var modelled = [Bool](repeating: false, count: n)
        var below = [Bool](repeating: false, count: n)
        for i in 0..<n where role(i) != nil { modelled[i] = true }
        for i in stride(from: n - 1, through: 0, by: -1) where (modelled[i] || below[i]) && s.parent[i] >= 0 {
            below[Int(s.parent[i])] = true
        }
        // A call's work depends only on its name and recorded inputs, and a trace repeats few of
        // those: parse each distinct combination once (args are interned, so ids compare as text).
        struct CallKey: Hashable { let name: UInt32, dims: UInt64, types: UInt64?, concrete: UInt64? }
        var works: [CallKey: OpWork?] = [:]
        func work(_ i: Int) -> OpWork? {
            guard let d = trace.arg(ofSlice: i, key: dimsKey) else { return nil }
            let t = typeKey.flatMap { trace.arg(ofSlice: i, key: $0) }
            let c = concreteKey.flatMap { trace.arg(ofSlice: i, key: $0) }
            let key = CallKey(name: s.name[i], dims: d.bits, types: t?.bits, concrete: c?.bits)
            if let w = works[key] { return w }
            let x = OpInputs(dims: trace.argString(d), types: t.map { trace.argString($0) }, concrete: c.map { trace.argString($0) })
            let w = x.flatMap { PerfModel.work(trace.strings[s.name[i]], $0) }
            works[key] = w
            return w
        }
        var claimed = [Bool](repeating: false, count: n)
        var callIndex = [Int32](repeating: -1, count: n)
        var calls: [CountedCall] = []
        var unmodelled = 0
        for i in 0..<n {
            let p = Int(s.parent[i])
            let above = p >= 0 && claimed[p]
            claimed[i] = above
            guard modelled[i], !above, let r = role(i) else { continue }
            if r == .defers && below[i] { continue }
            guard let w = work(i) else { unmodelled += 1; continue }
            claimed[i] = true
            callIndex[i] = Int32(calls.count)
            calls.append(CountedCall(slice: i, work: w, deviceNs: facts.gpuInclusive[i]))
        }
        // The kernel names' precision, per counted call: the one with the most kernel time wins.
        guard !s.launcher.isEmpty else { return (calls, unmodelled) }
        var byKernel: [Int: [Precision: Int64]] = [:]
        var named: [UInt32: Precision?] = [:]
        for g in 0..<n where s.kind[g] == .kernel && s.launcher[g] >= 0 {
            let id = s.name[g]
            let np: Precision?
            if let c = named[id] { np = c } else { np = Precision.of(kernel: trace.strings[id]); named[id] = np }
            guard let np else { continue }
            var u = Int(s.launcher[g])
            while u >= 0 && callIndex[u] < 0 { u = Int(s.parent[u]) }
            if u >= 0 { byKernel[Int(callIndex[u]), default: [:]][np, default: 0] += s.dur[g] }
        }
        for (c, shares) in byKernel {
            if let best = shares.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key.rawValue > $1.key.rawValue }) {
                calls[c].work.precision = best.key
            }
        }
        return (calls, unmodelled)
    }

    /// The efficiency of a rank and the work of each operator row (`ops[k].work`), from its counted calls.
    static func efficiency(_ trace: RankTrace, facts: SliceFacts, steps: [Step], ops: inout [OperatorStat], byShape: Bool,
                           peaks override: DevicePeaks?) -> RankEfficiency {
        let s = trace.slices
        let (calls, unmodelled) = countedCalls(trace, facts: facts)
        let (deviceName, peaks) = devicePeaks(trace, override: override)
        // Operator rows, keyed as the operator table keys them.
        var rowIndex: [String: Int] = [:]
        for (k, o) in ops.enumerated() { rowIndex[o.name + "\u{0}" + (o.shape ?? "")] = k }
        let dimsKey = trace.strings.lookup(inputDimsKey)
        var flopsByPrecision: [Int: [Precision?: Int64]] = [:]
        for c in calls {
            let i = c.slice
            let name = trace.strings[s.name[i]]
            var shape = ""
            if byShape, let k = dimsKey, let d = trace.arg(ofSlice: i, key: k) { shape = trace.argText(d) }
            guard let r = rowIndex[name + "\u{0}" + shape] ?? rowIndex[name + "\u{0}"] else { continue }
            var w = ops[r].work ?? OperatorWork(kind: c.work.kind)
            w.calls += 1
            w.flops += c.work.flops
            w.bytes += c.work.bytes
            w.deviceNs += c.deviceNs
            flopsByPrecision[r, default: [:]][c.work.precision, default: 0] += c.work.flops > 0 ? c.work.flops : c.work.bytes
            if c.deviceNs > 0, let peaks, let t = roofline(c.work, peaks) {
                w.rooflineDeviceNs += c.deviceNs
                w.rooflineNs += max(t.compute, t.memory)
                w.computeBoundNs += t.compute
                w.memoryBoundNs += t.memory
            }
            ops[r].work = w
        }
        for (r, shares) in flopsByPrecision {
            ops[r].work?.precision = shares.filter { $0.key != nil }
                .max { $0.value != $1.value ? $0.value < $1.value : $0.key!.rawValue > $1.key!.rawValue }?.key ?? nil
        }
        let (summaries, total, kernels) = summaries(trace, calls: calls, steps: steps, peaks: peaks)
        return RankEfficiency(deviceName: deviceName, peaks: peaks, steps: summaries, total: total, modelledCalls: calls.count,
                              unmodelledCalls: unmodelled, kernelPrecision: kernels)
    }

    /// The peaks for a rank: `override`, else the built-in entry for its device's name.
    static func devicePeaks(_ trace: RankTrace, override: DevicePeaks?) -> (name: String?, peaks: DevicePeaks?) {
        let name = mostCommonDeviceName(trace.metadata.devices)
        return (name, override ?? name.flatMap { DevicePeaks.lookup(deviceName: $0) })
    }

    /// Per step and over the steps: the counted calls' FLOPs by their start, kernel time by
    /// precision by the kernel's start (a kernel without a named precision takes the counted
    /// call's above its launch), MFU; and each kernel name's precision (of most of its time, all kernels).
    static func summaries(_ trace: RankTrace, calls: [CountedCall], steps: [Step], peaks: DevicePeaks?)
        -> (steps: [EfficiencySummary], total: EfficiencySummary, kernels: [String: Precision]) {
        let s = trace.slices
        var precisionOfSlice: [Int: Precision?] = [:]
        for c in calls { precisionOfSlice[c.slice] = c.work.precision }
        var summaries = steps.map { EfficiencySummary(step: $0.name, durationNs: $0.dur, busyNs: $0.gpu?.busy) }
        for c in calls {
            guard let k = stepIndex(steps, at: s.start[c.slice]) else { continue }
            summaries[k].flops += c.work.flops
            if c.work.flops > 0 { summaries[k].add(c.work.precision, flops: c.work.flops) }
        }
        var named: [UInt32: Precision?] = [:]
        var kernelTime: [UInt32: [Precision: Int64]] = [:]
        for g in 0..<s.count where s.kind[g] == .kernel {
            let id = s.name[g]
            var p: Precision?
            if let c = named[id] { p = c } else { p = Precision.of(kernel: trace.strings[id]); named[id] = p }
            if p == nil, !s.launcher.isEmpty, s.launcher[g] >= 0 {
                var u = Int(s.launcher[g])
                while u >= 0 && precisionOfSlice[u] == nil { u = Int(s.parent[u]) }
                if u >= 0 { p = precisionOfSlice[u] ?? nil }
            }
            if let p { kernelTime[id, default: [:]][p, default: 0] += s.dur[g] }
            if let k = stepIndex(steps, at: s.start[g]) { summaries[k].add(p, deviceNs: s.dur[g]) }
        }
        var kernels: [String: Precision] = [:]
        for (id, times) in kernelTime {
            kernels[trace.strings[id]] = times.max { $0.value != $1.value ? $0.value < $1.value : $0.key.rawValue > $1.key.rawValue }!.key
        }
        var total = EfficiencySummary(step: nil)
        for k in summaries.indices {
            total.durationNs += summaries[k].durationNs
            if let b = summaries[k].busyNs { total.busyNs = (total.busyNs ?? 0) + b }
            total.flops += summaries[k].flops
            for p in summaries[k].byPrecision { total.add(p.precision, deviceNs: p.deviceNs, flops: p.flops) }
            summaries[k].finish(peaks: peaks)
        }
        total.finish(peaks: peaks)
        return (summaries, total, kernels)
    }

    /// The step whose window holds time `t` (steps ordered by start), or nil.
    static func stepIndex(_ steps: [Step], at t: Int64) -> Int? {
        let k = steps.partitionPoint { $0.start > t } - 1
        return k >= 0 && t < steps[k].start + steps[k].dur ? k : nil
    }

    /// The compute and memory terms of a call's roofline time in ns: FLOPs over the peak of its
    /// precision, bytes over the memory bandwidth. Nil for a collective, and for a GEMM,
    /// attention or convolution whose precision has no peak (elementwise FLOPs without one are left out).
    static func roofline(_ w: OpWork, _ peaks: DevicePeaks) -> (compute: Double, memory: Double)? {
        let memory = Double(w.bytes) / peaks.bytesPerNs
        switch w.kind {
        case .collective: return nil
        case .gemm, .attention, .convolution:
            guard let p = w.precision, let peak = peaks.flopsPerNs(p) else { return nil }
            return (Double(w.flops) / peak, memory)
        default:
            let peak = w.precision.flatMap { peaks.flopsPerNs($0) }
            return (peak.map { Double(w.flops) / $0 } ?? 0, memory)
        }
    }

    /// The most common name among `deviceProperties` (the first on a tie), nil without any.
    static func mostCommonDeviceName(_ devices: [DeviceInfo]) -> String? {
        var counts: [String: Int] = [:]
        for d in devices where !d.name.isEmpty { counts[d.name, default: 0] += 1 }
        return devices.map(\.name).filter { !$0.isEmpty }.max { counts[$0]! < counts[$1]! }
    }
}
