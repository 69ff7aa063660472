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
        if let spread = StepSpread(ranks) {
            let st = spread.stats
            out += "  median step per rank: min \(formatDuration(st.min))  p50 \(formatDuration(st.median))  p90 \(formatDuration(st.p90))  max \(formatDuration(st.max))\n"
            out += "  slowest ranks by median step: " + spread.slowest.map { "rank \($0.rank) \(formatDuration($0.median))" }.joined(separator: ", ") + "\n"
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

extension RunReport {
    /// The JSON `rank_distribution` of a run with more than `perRankLimit` ranks: the same
    /// distributions as the text (docs/report-json.md).
    func manyRanksJSON(_ w: JSONWriter) {
        w.object {
            w.key("ranks"); w.int(ranks.count)
            w.key("median_step_ns")
            let spread = StepSpread(ranks)
            if let st = spread?.stats {
                w.object { w.key("min"); w.int(st.min); w.key("p50"); w.int(st.median); w.key("p90"); w.int(st.p90); w.key("max"); w.int(st.max) }
            } else {
                w.null()
            }
            w.key("slowest_ranks")
            w.array { for x in spread?.slowest ?? [] { w.object { w.key("rank"); w.int(x.rank); w.key("median_step_ns"); w.int(x.median) } } }
            let d = communication.flatMap { RankDistribution($0) }
            w.key("wait_ns")
            if let d { w.object { w.key("p50"); w.int(d.waitP50); w.key("p90"); w.int(d.waitP90); w.key("max"); w.int(d.waitMax) } } else { w.null() }
            w.key("waited_most")
            w.array { for x in d?.worst ?? [] { w.object { w.key("rank"); w.int(x.rank); w.key("wait_ns"); w.int(x.ns) } } }
            w.key("outlier_score"); w.raw(formatFixed(RankDistribution.outlierScore, 1))
            w.key("slow_ranks")
            w.array {
                for x in d?.slowRanks ?? [] {
                    w.object { w.key("rank"); w.int(x.rank); w.key("late_ns"); w.int(x.ns); w.key("z"); w.raw(formatFixed(x.score, 2)) }
                }
            }
            w.key("slow_links")
            w.array {
                for l in d?.slowLinks ?? [] {
                    w.object {
                        w.key("group"); w.string(l.group)
                        w.key("ranks"); w.array { for r in l.ranks { w.int(r) } }
                        w.key("bus_bw_gbps"); w.raw(formatFixed(l.busBandwidth / 1e9, 3))
                        w.key("typical_gbps"); w.raw(formatFixed(l.typical / 1e9, 3))
                        w.key("z"); w.raw(formatFixed(l.score, 2))
                    }
                }
            }
        }
    }
}
