import TraceModel

/// One collective operation as one rank ran it (docs/definitions.md, "Communication").
public struct CollectiveInstance: Sendable, Equatable {
    public var rank: Int
    /// Process group name (`Process Group Name`), or "default".
    public var group: String
    /// `Seq` when the trace records it.
    public var seq: Int?
    /// Collective name: `Collective name` arg, else from the slice name (`gloo:all_reduce` -> `all_reduce`).
    public var name: String
    /// The slice it comes from.
    public var slice: Int
    /// Arrival (start) and duration, ns.
    public var start: Int64
    public var dur: Int64
    /// Message size in bytes (nccl-tests' size: an all-gather's output, a reduce-scatter's input),
    /// when the args tell it.
    public var bytes: Int64?
    /// One rank's share of the message, bytes, when the args give only that (an all-gather's
    /// input, a reduce-scatter's output); `bytes` is it times the group size once that is known.
    public var shareBytes: Int64?
    public var groupSize: Int?
    public var dtype: String?
    /// Time not overlapped by compute kernels on the same device (GPU collectives only).
    public var exposed: Int64?
    /// Bus bandwidth, bytes per second (NCCL-tests convention), when size and group are known.
    public var busBandwidth: Double?
    /// Algorithm and protocol from an NCCL kernel name (`RING_LL`, `TREE_LL128`, `NVLS_SIMPLE`).
    public var algorithm: String?
    /// The rank's step containing the arrival, if any.
    public var step: String?
}

extension CollectiveInstance {
    /// An instance read back from a summary file (no slice); its full size and bus bandwidth are
    /// derived as `Analyzer.collectives` derives them.
    public init(rank: Int, group: String, seq: Int?, name: String, start: Int64, dur: Int64, bytes: Int64?, shareBytes: Int64?,
                groupSize: Int?, dtype: String?, exposed: Int64?, algorithm: String?, step: String?) {
        self.init(rank: rank, group: group, seq: seq, name: name, slice: -1, start: start, dur: dur, bytes: bytes, shareBytes: shareBytes,
                  dtype: dtype, exposed: exposed, algorithm: algorithm, step: step)
        setGroupSize(groupSize, kind: CollectiveKind(name))
    }

    /// Sets the group size and what follows from it: the full size of an instance known by one
    /// rank's share (share x n, unknown on overflow) and the bus bandwidth (NCCL-tests convention),
    /// when size and group are known.
    mutating func setGroupSize(_ n: Int?, kind: CollectiveKind) {
        groupSize = n
        if bytes == nil, let share = shareBytes, let n, n > 0 {
            let (product, overflow) = share.multipliedReportingOverflow(by: Int64(n))
            if !overflow { bytes = product }
        }
        busBandwidth = nil
        if let bytes, let n, n > 0, dur > 0 {
            busBandwidth = Double(bytes) / (Double(dur) / 1e9) * kind.busFactor(n)
        }
    }
}

/// A collective matched across ranks.
public struct MatchedCollective: Sendable, Equatable {
    public var group: String
    /// `Seq`, or the position within the group on every rank.
    public var key: Int
    public var matchedBySeq: Bool
    public var name: String
    /// Per rank present: arrival and wait (last arrival minus own arrival).
    public var arrivals: [Int: Int64]
    public var waits: [Int: Int64]
    public var lastArrival: Int64
    /// The rank that arrived last.
    public var straggler: Int
    /// Step of the earliest-arriving rank at this collective.
    public var step: String?
    /// Instances per rank (index into `CommunicationReport.instances[rank]`).
    public var instanceIndex: [Int: Int]
}

/// A rank's waiting in one step.
public struct RankStepWait: Sendable, Equatable {
    public var rank: Int
    public var step: String
    /// Wall time during which the rank had arrived at a collective some peer had not (union).
    public var wait: Int64
    /// The longest single wait.
    public var maxWait: Int64
    /// How many collectives of the step this rank arrived at last.
    public var stragglerCount: Int
}

/// The straggler of a step and what it was doing before it arrived.
public struct StepStraggler: Sendable, Equatable {
    public var step: String
    public var rank: Int
    /// The wait it caused: the largest wait of another rank in the step.
    public var causedWait: Int64
    /// Window on the straggler: from the end of its previous collective (or the step start) to
    /// its arrival at the collective it delayed most.
    public var window: Range<Int64>
    public var phases: PhaseTimes
    /// Operators by time (innermost slice) within the window, largest first.
    public var topOperators: [(name: String, ns: Int64)]

    public static func == (a: StepStraggler, b: StepStraggler) -> Bool {
        a.step == b.step && a.rank == b.rank && a.causedWait == b.causedWait && a.window == b.window && a.phases == b.phases
            && a.topOperators.map(\.name) == b.topOperators.map(\.name) && a.topOperators.map(\.ns) == b.topOperators.map(\.ns)
    }
}

/// Collectives of a run, matched across ranks, with waits and stragglers.
public struct CommunicationReport: Sendable {
    /// Instances per rank, keyed by rank.
    public var instances: [Int: [CollectiveInstance]]
    public var matched: [MatchedCollective]
    public var waits: [RankStepWait]
    public var stragglers: [StepStraggler]
    /// Instances that appear on some ranks only (per group: instances left unmatched).
    public var unmatched: Int
    /// Clock corrections applied to ranks on other hosts than the lowest rank's.
    public var clockOffsets: [ClockOffset]
}

/// A correction added to a rank's times before comparing them with other hosts' ranks.
public struct ClockOffset: Sendable, Equatable {
    public var rank: Int
    public var host: String
    /// Added to this rank's times, ns.
    public var offset: Int64
    /// Matched collectives the estimate rests on.
    public var samples: Int

    public init(rank: Int, host: String, offset: Int64, samples: Int) {
        self.rank = rank
        self.host = host
        self.offset = offset
        self.samples = samples
    }
}

extension Analyzer {
    /// Finds a rank's collective instances (docs/definitions.md, "Communication").
    public static func collectives(_ trace: RankTrace, analysis: RankAnalysis) -> [CollectiveInstance] {
        let s = trace.slices
        let chosen = analysis.collectiveSlices
        let keys = ArgKeys(trace.strings)
        let timeline = analysis.timeline
        var result: [CollectiveInstance] = []
        var kindOfName: [String: CollectiveKind] = [:]
        var algorithmOfName: [UInt32: String?] = [:]  // per kernel name id
        for i in chosen.sorted(by: { s.start[$0] < s.start[$1] }) {
            func arg(_ k: UInt32?) -> ArgValue? { k.flatMap { trace.arg(ofSlice: i, key: $0) } }
            let sliceName = trace.strings[s.name[i]]
            var name = arg(keys.collectiveName).map { trace.argString($0) } ?? sliceName
            if let colon = name.lastIndex(of: ":"), arg(keys.collectiveName) == nil {
                name = String(name[name.index(after: colon)...])
            }
            let group = arg(keys.groupName).map { trace.argString($0) } ?? "default"
            let seq = (arg(keys.seq) ?? arg(keys.seqLower)).flatMap { trace.argInteger($0) }.map(Int.init)
            let groupSize = arg(keys.groupSize).flatMap { trace.argInteger($0) }.map(Int.init)
            let dtype = arg(keys.dtype).map { trace.argString($0) }
            let inCount = arg(keys.inNelems).flatMap { trace.argInteger($0) }
            let outCount = arg(keys.outNelems).flatMap { trace.argInteger($0) }
            let kind: CollectiveKind
            if let known = kindOfName[name] { kind = known } else {
                kind = CollectiveKind(name)
                kindOfName[name] = kind
            }
            // The full message: an all-gather's output, a reduce-scatter's input, else either
            // count; the other count of those two is one rank's share, times the group size.
            var bytes: Int64?, share: Int64?
            if let size = dtype.flatMap(Self.dtypeSize) {
                func sized(_ count: Int64?) -> Int64? {
                    count.flatMap { c in
                        let (product, overflow) = c.multipliedReportingOverflow(by: size)
                        return c < 0 || overflow ? nil : product  // a negative or overflowing count: size unknown
                    }
                }
                switch kind {
                case .allGather: (bytes, share) = (sized(outCount), outCount == nil ? sized(inCount) : nil)
                case .reduceScatter: (bytes, share) = (sized(inCount), inCount == nil ? sized(outCount) : nil)
                default: bytes = sized(inCount ?? outCount)
                }
            }
            var instance = CollectiveInstance(rank: trace.rank, group: group, seq: seq, name: name, slice: i, start: s.start[i],
                                              dur: s.dur[i], bytes: bytes, shareBytes: share, dtype: dtype)
            if s.kind[i] == .kernel || s.kind[i] == .gpuUserAnnotation {
                if let hccl = arg(keys.algType) {
                    instance.algorithm = trace.argString(hccl)  // HCCL's `alg_type` (`MESH-RING`)
                } else {
                    if algorithmOfName[s.name[i]] == nil { algorithmOfName[s.name[i]] = .some(Self.ncclAlgorithm(sliceName)) }
                    instance.algorithm = algorithmOfName[s.name[i]]!
                }
                instance.exposed = timeline.exposed(s.start[i]..<s.start[i] + s.dur[i], device: trace.tracks.pid[Int(s.track[i])], trace: trace)
            }
            instance.setGroupSize(groupSize, kind: kind)
            let k = analysis.steps.partitionPoint { $0.start + $0.dur > s.start[i] }
            if k < analysis.steps.count, analysis.steps[k].start <= s.start[i] { instance.step = analysis.steps[k].name }
            result.append(instance)
        }
        return result
    }

    /// The slices a rank's collective instances come from, unordered (the best source the rank has).
    static func collectiveSlices(_ trace: RankTrace) -> [Int] {
        let s = trace.slices
        // The best source the rank has: GPU kernels, else gloo's work, else host-side markers.
        // Each distinct name is classified once.
        var sourceOfName = [Int8](repeating: -2, count: trace.strings.count)
        func source(_ i: Int) -> Int {
            let id = Int(s.name[i])
            if sourceOfName[id] == -2 {
                let name = trace.strings[s.name[i]]
                let lower = name.lowercased()
                if lower.hasPrefix("nccl") && !name.hasPrefix("nccl:") || lower.hasPrefix("rccl") || name.hasPrefix("hcom_") { sourceOfName[id] = 0 }
                else if name.hasPrefix("gloo:") { sourceOfName[id] = 1 }
                else if name.hasPrefix("nccl:") { sourceOfName[id] = 2 }
                else if name.hasPrefix("c10d::") { sourceOfName[id] = 3 }
                else if name == "record_param_comms" { sourceOfName[id] = 4 }
                else { sourceOfName[id] = -1 }
            }
            let k = Int(sourceOfName[id])
            // NCCL/RCCL names count as the GPU source only on kernels; HCCL ops (`hcom_`) are drawn
            // on the device beside the tasks they run.
            if k == 0 && s.kind[i] != .kernel && s.kind[i] != .gpuUserAnnotation { return -1 }
            return k
        }
        var bySource = [[Int]](repeating: [], count: 5)
        for i in 0..<s.count where trace.tracks.kind[Int(s.track[i])] != .spans {
            let k = source(i)
            if k >= 0 { bySource[k].append(i) }
        }
        let found = bySource.first { !$0.isEmpty } ?? []
        // A marker nested in a marker of the same source (c10d:: inside c10d::) is one collective.
        let members = Set(found)
        let chosen = found.filter { i in
            var p = Int(s.parent[i])
            while p >= 0 { if members.contains(p) { return false }; p = Int(s.parent[p]) }
            return true
        }
        return chosen
    }

    /// Merged intervals during which a host-side collective of the rank (any instance not from a
    /// GPU kernel) is in flight, for the communication overlay of the phase partition.
    static func hostCollectiveCoverage(_ trace: RankTrace, _ collectives: [Int]) -> [Range<Int64>] {
        let s = trace.slices
        let intervals = collectives.compactMap { i -> Range<Int64>? in
            s.kind[i].isGPU || s.dur[i] <= 0 ? nil : s.start[i]..<s.start[i] + s.dur[i]
        }
        return mergeIntervals(intervals)
    }

    /// `ALGO_PROTO` from an NCCL kernel name such as `ncclDevKernel_AllReduce_Sum_f32_RING_LL(...)`.
    static func ncclAlgorithm(_ name: String) -> String? {
        let parts = name.prefix { $0 != "(" }.split(separator: "_").map { $0.uppercased() }
        let algorithms = ["RING", "TREE", "COLLNETDIRECT", "COLLNETCHAIN", "COLLNET", "NVLSTREE", "NVLS", "PAT"]
        guard let a = parts.firstIndex(where: { algorithms.contains($0) }) else { return nil }
        let protocols = ["LL128", "LL", "SIMPLE"]
        if a + 1 < parts.count, protocols.contains(parts[a + 1]) { return parts[a] + "_" + parts[a + 1] }
        return parts[a]
    }

    /// Instances whose trace records no group size (HCCL ops) take their group's: the number of
    /// ranks that the group's matched collectives span; their full size (from a rank's share) and
    /// bus bandwidth (NCCL-tests convention: algorithm bandwidth, bytes over duration, times the
    /// collective's bus factor for n ranks) follow.
    static func inferGroupSizes(_ instances: inout [Int: [CollectiveInstance]], matched: [MatchedCollective]) {
        var ranksOf: [String: Set<Int>] = [:]
        for m in matched { ranksOf[m.group, default: []].formUnion(m.instanceIndex.keys) }
        for (rank, list) in instances {
            for i in list.indices where list[i].groupSize == nil {
                guard let n = ranksOf[list[i].group]?.count else { continue }
                instances[rank]![i].setGroupSize(n, kind: CollectiveKind(list[i].name))
            }
        }
    }

    /// Bytes per element of a `dtype` arg.
    static func dtypeSize(_ dtype: String) -> Int64? {
        switch dtype.lowercased() {
        case "float", "float32", "int", "int32", "uint32": return 4
        case "double", "float64", "long", "int64", "uint64": return 8
        case "half", "float16", "bfloat16", "short", "int16": return 2
        case "byte", "char", "int8", "uint8", "bool", "float8_e4m3fn", "float8_e5m2": return 1
        default: return nil
        }
    }


    /// Matches collectives across ranks and derives waits and stragglers, from the ranks' reports
    /// alone (their instances, hosts, steps and activity tiles), so traces and summaries reduce alike.
    public static func communication(_ ranks: [RankReport]) -> CommunicationReport {
        var instances: [Int: [CollectiveInstance]] = [:]
        for r in ranks { instances[r.analysis.rank] = r.collectives }
        let hosts = Set(ranks.compactMap { $0.metadata.hostName })
        var (matched, unmatched) = match(instances, offsets: [:], sharedClock: hosts.count <= 1)
        let offsets = clockOffsets(ranks, instances: instances, matched: matched)
        if !offsets.isEmpty {
            (matched, unmatched) = match(instances, offsets: Dictionary(uniqueKeysWithValues: offsets.map { ($0.rank, $0.offset) }),
                                         sharedClock: false)
        }
        inferGroupSizes(&instances, matched: matched)
        let waits = stepWaits(matched, instances: instances)
        let stragglers = stepStragglers(matched, instances: instances, ranks: ranks)
        return CommunicationReport(instances: instances, matched: matched, waits: waits, stragglers: stragglers, unmatched: unmatched,
                                   clockOffsets: offsets)
    }

    /// Ranks on hosts other than the lowest rank's get the median, over the collectives they share
    /// with the reference host's ranks, of (reference end - own end): a collective ends at nearly
    /// the same moment on all its ranks. Ranks without `host_name` are taken to share the
    /// reference clock.
    static func clockOffsets(_ ranks: [RankReport], instances: [Int: [CollectiveInstance]],
                             matched: [MatchedCollective]) -> [ClockOffset] {
        var host: [Int: String] = [:]
        for r in ranks { if let h = r.metadata.hostName { host[r.analysis.rank] = h } }
        guard let reference = ranks.map(\.analysis.rank).min(), let refHost = host[reference],
              Set(host.values).count > 1 else { return [] }
        // Per matched collective, the latest end among the reference host's ranks.
        let refEnds = matched.map { m in
            m.instanceIndex.compactMap { r, i -> Int64? in host[r] == refHost ? instances[r]![i].start + instances[r]![i].dur : nil }.max()
        }
        var deltas: [Int: [Int64]] = [:]
        for (m, refEnd) in zip(matched, refEnds) {
            guard let refEnd else { continue }
            for (rank, own) in m.instanceIndex {
                guard let h = host[rank], h != refHost else { continue }
                let mine = instances[rank]![own]
                deltas[rank, default: []].append(refEnd - (mine.start + mine.dur))
            }
        }
        var result: [ClockOffset] = []
        for rank in deltas.keys.sorted() {
            var d = deltas[rank]!
            d.sort()
            result.append(ClockOffset(rank: rank, host: host[rank]!, offset: d[(d.count - 1) / 2], samples: d.count))
        }
        return result
    }

    /// Matches instances across ranks within each process group; arrivals are shifted by `offsets`.
    static func match(_ instances: [Int: [CollectiveInstance]], offsets: [Int: Int64], sharedClock: Bool) -> ([MatchedCollective], Int) {
        var matched: [MatchedCollective] = []
        var unmatched = 0
        // Per group and rank, the group's instances in arrival order (one pass over the instances).
        var byGroup: [String: [Int: [Int]]] = [:]
        for (rank, list) in instances {
            for (i, c) in list.enumerated() { byGroup[c.group, default: [:]][rank, default: []].append(i) }
        }
        for group in byGroup.keys.sorted() {
            let perRank = byGroup[group]!
            let bySeq = perRank.allSatisfy { rank, idx in idx.allSatisfy { instances[rank]![$0].seq != nil } }
            let shifts = bySeq ? [:] : orderShifts(perRank, instances: instances, offsets: offsets, sharedClock: sharedClock)
            var table: [Int: [Int: Int]] = [:]  // key -> rank -> instance index
            for (rank, idx) in perRank {
                for (position, i) in idx.enumerated() {
                    let key = bySeq ? instances[rank]![i].seq! : position + (shifts[rank] ?? 0)
                    table[key, default: [:]][rank] = i
                }
            }
            for key in table.keys.sorted() {
                let members = table[key]!
                guard members.count >= 2 else { unmatched += members.count; continue }
                var arrivals: [Int: Int64] = [:]
                for (rank, i) in members { arrivals[rank] = instances[rank]![i].start + (offsets[rank] ?? 0) }
                let last = arrivals.values.max()!
                let straggler = arrivals.filter { $0.value == last }.keys.min()!
                let first = arrivals.min { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }!
                let any = members.values.first!
                let anyRank = members.keys.first!
                matched.append(MatchedCollective(group: group, key: key, matchedBySeq: bySeq, name: instances[anyRank]![any].name,
                                                 arrivals: arrivals, waits: arrivals.mapValues { last - $0 }, lastArrival: last,
                                                 straggler: straggler, step: instances[first.key]![members[first.key]!].step,
                                                 instanceIndex: members))
            }
            unmatched += perRank.count < 2 ? perRank.values.reduce(0) { $0 + $1.count } : 0
        }
        matched.sort {
            let a = $0.arrivals.values.min()!, b = $1.arrivals.values.min()!
            return a != b ? a < b : ($0.group, $0.key) < ($1.group, $1.key)
        }
        return (matched, unmatched)
    }

    /// Without `Seq`, a rank whose profile window starts later lists fewer collectives at the
    /// start: its position k is the reference rank's k + shift. The shift (within +-64) is the one
    /// whose paired instances have the same names and the closest arrival times: on a shared
    /// clock, the smallest median absolute arrival difference; across unaligned clocks, the
    /// smallest median absolute deviation of the differences (insensitive to a constant offset);
    /// then the smallest shift.
    static func orderShifts(_ perRank: [Int: [Int]], instances: [Int: [CollectiveInstance]], offsets: [Int: Int64],
                            sharedClock: Bool) -> [Int: Int] {
        guard let reference = perRank.max(by: { $0.value.count != $1.value.count ? $0.value.count < $1.value.count : $0.key > $1.key })?.key
        else { return [:] }
        let ref = perRank[reference]!.map { instances[reference]![$0] }
        var shifts: [Int: Int] = [:]
        for (rank, idx) in perRank where rank != reference {
            let mine = idx.map { instances[rank]![$0] }
            var best: (score: (Int64, Int), shift: Int)?
            for shift in -min(64, mine.count - 1)...min(64, ref.count - 1) {
                var deltas: [Int64] = []
                var sameName = true
                for (k, m) in mine.enumerated() {
                    let j = k + shift
                    guard j >= 0 && j < ref.count else { continue }
                    if ref[j].name != m.name { sameName = false; break }
                    deltas.append(ref[j].start + (offsets[reference] ?? 0) - m.start - (offsets[rank] ?? 0))
                }
                guard sameName, deltas.count * 2 >= min(mine.count, ref.count) else { continue }
                let center: Int64
                if sharedClock {
                    center = 0
                } else {
                    deltas.sort()
                    center = deltas[(deltas.count - 1) / 2]
                }
                var deviations = deltas.map { abs($0 - center) }
                deviations.sort()
                let score = (deviations[(deviations.count - 1) / 2], abs(shift))
                if best == nil || score < best!.score { best = (score, shift) }
            }
            shifts[rank] = best?.shift ?? 0
        }
        return shifts
    }

    static func stepWaits(_ matched: [MatchedCollective], instances: [Int: [CollectiveInstance]]) -> [RankStepWait] {
        var intervals: [String: [Int: [Range<Int64>]]] = [:]  // step -> rank -> wait intervals
        var counts: [String: [Int: Int]] = [:]
        var order: [String] = []
        for m in matched {
            for (rank, arrival) in m.arrivals {
                guard let step = instances[rank]![m.instanceIndex[rank]!].step else { continue }
                if intervals[step] == nil { order.append(step) }
                intervals[step, default: [:]][rank, default: []].append(arrival..<m.lastArrival)
                if rank == m.straggler && m.waits.values.contains(where: { $0 > 0 }) { counts[step, default: [:]][rank, default: 0] += 1 }
            }
        }
        var result: [RankStepWait] = []
        for step in order {
            for (rank, list) in intervals[step]!.sorted(by: { $0.key < $1.key }) {
                let union = mergeIntervals(list).reduce(Int64(0)) { $0 + $1.upperBound - $1.lowerBound }
                let maxWait = list.map { $0.upperBound - $0.lowerBound }.max() ?? 0
                result.append(RankStepWait(rank: rank, step: step, wait: union, maxWait: maxWait, stragglerCount: counts[step]?[rank] ?? 0))
            }
        }
        return result
    }

    static func stepStragglers(_ matched: [MatchedCollective], instances: [Int: [CollectiveInstance]],
                               ranks: [RankReport]) -> [StepStraggler] {
        var worst: [String: MatchedCollective] = [:]
        var order: [String] = []
        for m in matched {
            guard let step = m.step, let wait = m.waits.values.max(), wait > 0 else { continue }
            if let w = worst[step] {
                if wait > w.waits.values.max()! { worst[step] = m }
            } else {
                worst[step] = m
                order.append(step)
            }
        }
        // Whether a rank arrived last (and kept someone waiting) at each of its instances.
        var late: [Int: Set<Int>] = [:]
        for m in matched where m.waits.values.contains(where: { $0 > 0 }) {
            late[m.straggler, default: []].insert(m.instanceIndex[m.straggler]!)
        }
        let byRank = Dictionary(ranks.map { ($0.analysis.rank, $0) }, uniquingKeysWith: { a, _ in a })
        var result: [StepStraggler] = []
        for step in order {
            let m = worst[step]!
            guard let r = byRank[m.straggler] else { continue }
            let own = instances[m.straggler]!
            let index = m.instanceIndex[m.straggler]!
            let arrival = own[index].start
            let stepStart = r.analysis.steps.first { $0.name == own[index].step }?.start ?? arrival
            // The delay began after the straggler's last collective at which it was not late: the
            // window runs from that collective's end (or the step start, if later) to the arrival.
            var from = stepStart
            var j = index - 1
            while j >= 0 && late[m.straggler]?.contains(j) == true { j -= 1 }
            if j >= 0 { from = max(from, own[j].start + own[j].dur) }
            let window = from..<max(from, arrival)
            let (phases, ops) = activity(tiles: r.tiles, window: window)
            result.append(StepStraggler(step: step, rank: m.straggler, causedWait: m.waits.values.max()!, window: window,
                                        phases: phases, topOperators: ops.prefix(5).map { ($0.name, $0.ns) }))
        }
        return result
    }

    /// Phase times and innermost-operator times of `track` within `window` (any window, slices
    /// begun before it included).
    static func activity(_ trace: RankTrace, facts: SliceFacts, track: Int, window: Range<Int64>) -> (PhaseTimes, [(name: String, ns: Int64)]) {
        var phases = PhaseTimes()
        guard track >= 0, window.upperBound > window.lowerBound else { return (phases, []) }
        let s = trace.slices
        var byName: [UInt32: Int64] = [:]
        innermost(trace, track: track, window: window) { a, b, slice in
            if slice < 0 { phases[.idle] += b - a; return }
            phases[facts.phase[slice]] += b - a
            byName[s.name[slice], default: 0] += b - a
        }
        let ops = byName.map { (name: trace.strings[$0.key], ns: $0.value) }.sorted { $0.ns != $1.ns ? $0.ns > $1.ns : $0.name < $1.name }
        return (phases, ops)
    }

    /// `sweepInnermost` over any window of `track`: slices begun before the window included.
    static func innermost(_ trace: RankTrace, track: Int, window: Range<Int64>, emit: (Int64, Int64, Int) -> Void) {
        let s = trace.slices
        let range = trace.tracks.sliceRange[track]
        // Slices open at the window's start: the last slice starting before it and its ancestors.
        let lo = partitionIndex(range) { s.start[$0] >= window.lowerBound }
        var open: [Int] = []
        var p = lo - 1
        if p >= range.lowerBound {
            while p >= 0 {
                if s.nestEnd(p) > window.lowerBound { open.append(p) }
                p = Int(s.parent[p])
            }
        }
        sweepInnermost(trace, track: track, first: lo, open: open.reversed(), window: window, emit: emit)
    }
}

/// What a collective's name says about its traffic (names compared without case or underscores).
enum CollectiveKind {
    case allReduce, allGather, reduceScatter, allToAll, other

    init(_ name: String) {
        let lower = String(name.lowercased().filter { $0 != "_" })
        if lower.contains("allreduce") { self = .allReduce }
        else if lower.contains("allgather") { self = .allGather }
        else if lower.contains("reducescatter") { self = .reduceScatter }
        else if lower.contains("alltoall") { self = .allToAll }
        else { self = .other }
    }

    /// The NCCL-tests factor from algorithm bandwidth to bus bandwidth for `n` ranks.
    func busFactor(_ n: Int) -> Double {
        let d = Double(n)
        switch self {
        case .allReduce: return 2 * (d - 1) / d
        case .allGather, .reduceScatter, .allToAll: return (d - 1) / d
        case .other: return 1
        }
    }
}

/// Collective arg names, looked up once.
private struct ArgKeys {
    static let names = ["Collective name", "Process Group Name", "Seq", "seq", "Group size", "dtype", "In msg nelems", "Out msg nelems",
                        "alg_type"]
    let collectiveName, groupName, seq, seqLower, groupSize, dtype, inNelems, outNelems, algType: UInt32?
    init(_ s: StringTable) {
        let ids = Self.names.map { s.lookup($0) }
        (collectiveName, groupName, seq, seqLower) = (ids[0], ids[1], ids[2], ids[3])
        (groupSize, dtype, inNelems, outNelems, algType) = (ids[4], ids[5], ids[6], ids[7], ids[8])
    }
}

extension Analyzer {
    /// Every slice arg the analyses read (collective args, input shapes): a load for analysis
    /// only (`stepscope diff`) may drop the others.
    public static let argumentKeys: Set<String> = Set(ArgKeys.names).union([inputDimsKey, inputTypeKey, concreteInputsKey])

    /// The arg that holds an operator's input shapes.
    static let inputDimsKey = "Input Dims"
    /// The args the performance model reads besides `Input Dims` (docs/efficiency.md, "Inputs").
    static let inputTypeKey = "Input type"
    static let concreteInputsKey = "Concrete Inputs"
}

extension GPUTimeline {
    /// The part of `interval` not overlapped by compute kernels on device `pid`.
    func exposed(_ interval: Range<Int64>, device pid: UInt32, trace: RankTrace) -> Int64 {
        guard let d = deviceIndex[pid] else { return interval.upperBound - interval.lowerBound }
        // The union of compute activities within the interval, swept in start order: `reach` is
        // how far the activities seen so far cover.
        let device = devices[d]
        var n = firstEnding(after: interval.lowerBound, device)
        var covered: Int64 = 0
        var reach = interval.lowerBound
        while n < device.count && start(device, n) < interval.upperBound {
            defer { n += 1 }
            let e = end(device, n)
            guard device.kinds[n] == .compute, e > reach else { continue }
            let clipped = min(e, interval.upperBound)
            covered += clipped - max(start(device, n), reach)
            reach = clipped
        }
        return interval.upperBound - interval.lowerBound - covered
    }
}
