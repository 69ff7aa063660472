import TraceModel

/// Communication across many ranks as distributions instead of per-rank tables (docs/scale.md,
/// "Many ranks"): the spread of the ranks' waits, the worst ranks, and the slow ranks and slow
/// links that the modified z-score test flags.
public struct RankDistribution: Sendable, Equatable {
    /// Each rank's wait summed over the steps (`RankStepWait.wait`): nearest-rank p50, p90, max.
    public var waitP50: Int64
    public var waitP90: Int64
    public var waitMax: Int64
    /// The ranks that waited most, most first (at most `worstCount`).
    public var worst: [RankValue]
    /// Ranks whose lateness (summed over matched collectives: own arrival minus the earliest
    /// arrival) is an outlier above the others'.
    public var slowRanks: [RankValue]
    /// Two-rank process groups (links) whose median bus bandwidth is an outlier below the others'.
    public var slowLinks: [SlowLink]

    /// How many ranks `worst` lists.
    public static let worstCount = 10
    /// The modified z-score beyond which a value is an outlier (Iglewicz and Hoaglin).
    public static let outlierScore = 3.5
}

/// A rank and a time, ns, with its modified z-score where an outlier test made it.
public struct RankValue: Sendable, Equatable {
    public var rank: Int
    public var ns: Int64
    public var score: Double
}

/// A two-rank process group whose bandwidth is an outlier.
public struct SlowLink: Sendable, Equatable {
    public var group: String
    public var ranks: [Int]
    /// Median bus bandwidth of its collectives, bytes per second.
    public var busBandwidth: Double
    /// The median of the links' median bandwidths.
    public var typical: Double
    public var score: Double
}

extension RankDistribution {
    /// The distribution of a run's communication; nil when no collective matched.
    public init?(_ comm: CommunicationReport) {
        guard !comm.matched.isEmpty else { return nil }
        var wait: [Int: Int64] = [:]
        for rank in comm.instances.keys { wait[rank] = 0 }
        for w in comm.waits { wait[w.rank, default: 0] += w.wait }
        let waits = wait.values.sorted()
        func rank(_ p: Int) -> Int64 { waits[max(0, (p * waits.count + 99) / 100 - 1)] }
        (waitP50, waitP90, waitMax) = (rank(50), rank(90), waits.last!)
        worst = wait.map { RankValue(rank: $0.key, ns: $0.value, score: 0) }
            .sorted { $0.ns != $1.ns ? $0.ns > $1.ns : $0.rank < $1.rank }.prefix(Self.worstCount).map { $0 }
        var lateness: [Int: Int64] = [:]
        for m in comm.matched {
            let first = m.arrivals.values.min()!
            for (r, a) in m.arrivals { lateness[r, default: 0] += a - first }
        }
        let lateScores = Self.scores(lateness.mapValues(Double.init))
        slowRanks = lateness.compactMap { r, ns in
            lateScores[r].flatMap { $0 > Self.outlierScore ? RankValue(rank: r, ns: ns, score: $0) : nil }
        }.sorted { $0.ns != $1.ns ? $0.ns > $1.ns : $0.rank < $1.rank }
        // Links: groups of exactly two ranks, by the median bus bandwidth of their instances.
        var byGroup: [String: (ranks: Set<Int>, bandwidths: [Double])] = [:]
        for (r, list) in comm.instances {
            for c in list where c.groupSize == 2 {
                byGroup[c.group, default: ([], [])].ranks.insert(r)
                if let bw = c.busBandwidth { byGroup[c.group]!.bandwidths.append(bw) }
            }
        }
        let medians = byGroup.compactMapValues { g -> Double? in
            let b = g.bandwidths.sorted()
            return b.isEmpty ? nil : b[(b.count - 1) / 2]
        }
        let linkScores = Self.scores(medians)
        let typical = Self.median(Array(medians.values))
        slowLinks = medians.compactMap { group, bw in
            linkScores[group].flatMap { $0 < -Self.outlierScore
                ? SlowLink(group: group, ranks: byGroup[group]!.ranks.sorted(), busBandwidth: bw, typical: typical, score: $0) : nil }
        }.sorted { $0.busBandwidth != $1.busBandwidth ? $0.busBandwidth < $1.busBandwidth : $0.group < $1.group }
    }

    /// Modified z-scores, 0.6745 (x - median) / MAD, or (x - median) / (1.2533 x the mean absolute
    /// deviation) when the median absolute deviation (MAD) is 0 (most values equal); none
    /// with fewer than 3 values or when every value is the same.
    static func scores<K: Hashable>(_ values: [K: Double]) -> [K: Double] {
        guard values.count >= 3 else { return [:] }
        let m = median(Array(values.values))
        let deviations = values.values.map { abs($0 - m) }
        var spread = median(deviations) / 0.6745
        if spread == 0 { spread = 1.2533 * deviations.reduce(0, +) / Double(deviations.count) }
        guard spread > 0 else { return [:] }
        return values.mapValues { ($0 - m) / spread }
    }

    /// The median (the mean of the two middle values for an even count).
    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        guard !s.isEmpty else { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}
