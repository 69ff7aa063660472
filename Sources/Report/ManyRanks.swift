import Analysis
import Formatting
import TraceModel

// The text report of a run with many ranks (more than `RunReport.perRankLimit`): distributions
// across ranks instead of a section and a wait table per rank (docs/scale.md, "Many ranks").
extension RunReport {
    /// Runs with more ranks print distributions across ranks instead of per-rank sections.
    public static let perRankLimit = 16

    func manyRanksText() -> String {
        var out = "\nRanks: \(ranks.count) (more than \(Self.perRankLimit): distributions across ranks; --format json has every rank)\n"
        let medians = ranks.compactMap { r in r.stepStats.map { (rank: r.analysis.rank, median: $0.median) } }
        if let st = StepStats(medians.map(\.median)) {
            out += "  median step per rank: min \(formatDuration(st.min))  p50 \(formatDuration(st.median))  p90 \(formatDuration(st.p90))  max \(formatDuration(st.max))\n"
            let slowest = medians.sorted { $0.median != $1.median ? $0.median > $1.median : $0.rank < $1.rank }.prefix(RankDistribution.worstCount)
            out += "  slowest ranks by median step: " + slowest.map { "rank \($0.rank) \(formatDuration($0.median))" }.joined(separator: ", ") + "\n"
        }
        guard let comm = communication, let d = RankDistribution(comm) else { return out }
        out += "  wait at collectives per rank (all steps): p50 \(formatDuration(d.waitP50))  p90 \(formatDuration(d.waitP90))  max \(formatDuration(d.waitMax))\n"
        out += "  waited most: " + d.worst.map { "rank \($0.rank) \(formatDuration($0.ns))" }.joined(separator: ", ") + "\n"
        out += "  slow ranks (lateness at collectives, modified z-score > \(formatFixed(RankDistribution.outlierScore, 1))): "
        out += d.slowRanks.isEmpty ? "none\n"
            : d.slowRanks.map { "rank \($0.rank) late by \(formatDuration($0.ns)) (z \(formatFixed($0.score, 1)))" }.joined(separator: ", ") + "\n"
        out += "  slow links (two-rank groups' median bus bandwidth, modified z-score < -\(formatFixed(RankDistribution.outlierScore, 1))): "
        out += d.slowLinks.isEmpty ? "none\n" : d.slowLinks.map {
            "group \(safe($0.group)) (ranks \($0.ranks.map(String.init).joined(separator: ", "))) \(formatFixed($0.busBandwidth / 1e9, 2)) GB/s against \(formatFixed($0.typical / 1e9, 2)) GB/s typical (z \(formatFixed($0.score, 1)))"
        }.joined(separator: "; ") + "\n"
        return out
    }
}
