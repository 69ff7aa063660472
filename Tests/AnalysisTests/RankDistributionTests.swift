@testable import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// The many-ranks view (docs/scale.md, "Many ranks"): the outlier test and what it flags.
final class RankDistributionTests: XCTestCase {
    func testModifiedZScores() {
        // median 10, absolute deviations 0 1 1 0 20 (median 1): z = 0.6745 * 20 / 1.
        let z = RankDistribution.scores([0: 10.0, 1: 11, 2: 9, 3: 10, 4: 30])
        XCTAssertEqual(z[4]!, 0.6745 * 20, accuracy: 1e-9)
        XCTAssertEqual(z[1]!, 0.6745, accuracy: 1e-9)
        // MAD 0 (most values equal): the mean absolute deviation, 4 / 5, scaled by 1.2533.
        let flat = RankDistribution.scores(["a": 5.0, "b": 5, "c": 5, "d": 5, "e": 9])
        XCTAssertEqual(flat["e"]!, 4 / (1.2533 * 0.8), accuracy: 1e-9)
        XCTAssertEqual(flat["a"]!, 0)
        XCTAssertTrue(RankDistribution.scores([0: 1.0, 1: 1, 2: 1]).isEmpty, "all equal: no outlier")
        XCTAssertTrue(RankDistribution.scores([0: 1.0, 1: 9]).isEmpty, "too few values")
    }

    /// Six ranks: rank 4 arrives 40 us late at the all-reduce, and of the three two-rank links
    /// (0-1, 2-3, 4-5) plus three more (1-2, 3-4, 5-0), link "p2" moves its bytes 10x slower.
    func testSlowRankAndSlowLink() throws {
        func kernel(_ ts: Int, _ dur: Int, group: String, size: Int, seq: Int) -> String {
            TestSupport.x("ncclDevKernel_AllReduce_Sum_f32_RING_LL", cat: "kernel", ts: "\(ts)", dur: "\(dur)", pid: "0", tid: "7",
                          args: "\"Collective name\": \"allreduce\", \"Process Group Name\": \"\(group)\", \"Group size\": \(size), "
                              + "\"dtype\": \"Float\", \"In msg nelems\": 1000000, \"Out msg nelems\": 1000000, \"Seq\": \(seq)")
        }
        let links = [(0, 1), (2, 3), (4, 5), (1, 2), (3, 4), (5, 0)]
        var reports: [RankReport] = []
        for r in 0..<6 {
            var events = [TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "2000"), kernel(r == 4 ? 140 : 100 + r, 200 - (r == 4 ? 40 : r), group: "world", size: 6, seq: 1)]
            for (k, link) in links.enumerated() where link.0 == r || link.1 == r {
                events.append(kernel(400 + 100 * k, k == 2 ? 500 : 50, group: "p\(k)", size: 2, seq: 1))
            }
            let t = try TestSupport.trace(TestSupport.kineto(events, extra: "\"distributedInfo\": {\"rank\": \(r)}"))
            reports.append(RankReport(trace: t, analysis: Analyzer.analyze(t)))
        }
        let d = try XCTUnwrap(RankDistribution(Analyzer.communication(reports)))
        XCTAssertEqual(d.slowRanks.map(\.rank), [4])
        XCTAssertEqual(d.slowRanks[0].ns, 40_000)  // 40 us after rank 0, the first to arrive
        XCTAssertEqual(d.slowLinks.map(\.group), ["p2"])
        XCTAssertEqual(d.slowLinks[0].ranks, [4, 5])
        // 4 MB in 500 us against 50 us (an all-reduce of 2 ranks: bus factor 2 (2 - 1) / 2 = 1).
        XCTAssertEqual(d.slowLinks[0].busBandwidth, 4e6 / 500e-6, accuracy: 1)
        XCTAssertEqual(d.slowLinks[0].typical, 4e6 / 50e-6, accuracy: 1)
        // Waits: everyone waits for rank 4 at the all-reduce (and nobody at the links).
        XCTAssertEqual(d.worst.first?.rank, 0)
        XCTAssertEqual(d.worst.first?.ns, 40_000)
        XCTAssertEqual(d.waitMax, 40_000)
    }
}
