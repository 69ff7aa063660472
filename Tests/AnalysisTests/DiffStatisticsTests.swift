@testable import Analysis
import XCTest

/// Mann-Whitney U, Hodges-Lehmann ratio, Holm / Benjamini-Hochberg and verdicts
/// (Sources/Analysis/DiffStatistics.swift). Numbers marked "scipy" or "numpy" are printed by
/// Tests/AnalysisTests/diff_reference.py (scipy 1.17.1, numpy 2.4.6) for the same data; the others
/// are worked out by hand in the comments.
final class DiffStatisticsTests: XCTestCase {
    /// |actual - expected| <= 1e-12 |expected| (or exactly equal).
    func assertClose(_ actual: Double, _ expected: Double, relative: Double = 1e-12,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssert(actual == expected || abs(actual - expected) <= relative * abs(expected),
                  "\(actual) is not within \(relative) (relative) of \(expected)", file: file, line: line)
    }

    func assertClose(_ actual: [Double], _ expected: [Double], relative: Double = 1e-12,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (a, e) in zip(actual, expected) { assertClose(a, e, relative: relative, file: file, line: line) }
    }

    // MARK: Mann-Whitney, exact

    func testExactThreeAndThreeSeparatedIsOneTenth() {
        // Hand: U1 = 0 (no x beats a y), U2 = 9; only 1 of C(6,3) = 20 orderings has U = 0, so
        // p = 2 * 1/20 = 0.1. scipy exact: U1=0.0 p=0.1.
        let r = MannWhitney.test([1, 2, 3], [4, 5, 6])
        XCTAssertEqual(r.method, .exact)
        XCTAssertEqual(r.u1, 0)
        XCTAssertEqual(r.u2, 9)
        assertClose(r.p, 0.1)
        // Reversed samples: U swaps, p is the same.
        let s = MannWhitney.test([4, 5, 6], [1, 2, 3])
        XCTAssertEqual(s.u1, 9)
        XCTAssertEqual(s.u2, 0)
        assertClose(s.p, 0.1)
    }

    func testExactSmallThreeAndThree() {
        // Hand: counts of U = 0...9 for 3 and 3 are 1,1,2,3,3,3,3,2,1,1 (sum 20).
        // [1,2,4] vs [3,5,6]: U1 = 1 (4 > 3), p = 2 * (1+1)/20 = 0.2. scipy exact: U1=1.0 p=0.2.
        let r = MannWhitney.test([1, 2, 4], [3, 5, 6])
        XCTAssertEqual(r.u1, 1)
        assertClose(r.p, 0.2)
        // [1,4,5] vs [2,3,6]: U1 = 0 + 2 + 2 = 4, U2 = 5; 2 * P(U <= 4) = 2 * 10/20 = 1.
        // scipy exact: U1=4.0 p=1.0.
        let c = MannWhitney.test([1, 4, 5], [2, 3, 6])
        XCTAssertEqual(c.u1, 4)
        XCTAssertEqual(c.u2, 5)
        XCTAssertEqual(c.p, 1)
    }

    func testExactAgainstScipy() {
        // scipy exact: U1=3.0 p=0.030303030303030304
        let a = MannWhitney.test([12.5, 10.1, 14.2, 9.8, 11.7], [13.9, 15.2, 12.8, 16.4, 14.9, 13.1])
        XCTAssertEqual(a.method, .exact)
        XCTAssertEqual(a.u1, 3)
        assertClose(a.p, 0.030303030303030304)
        // scipy exact: U1=16.0 p=0.11416083916083916
        let b = MannWhitney.test(Self.small7, Self.small9)
        XCTAssertEqual(b.method, .exact)
        XCTAssertEqual(b.u1, 16)
        assertClose(b.p, 0.11416083916083916)
    }

    func testExactFortyAndFifty() {
        // 40 * 50 = 2000 <= exactLimit, no ties. scipy exact: U1=470.0 p=9.479734777910525e-06
        let x = (0..<40).map { Double(($0 * 37) % 101) + 0.25 }
        let y = (0..<50).map { Double(($0 * 53) % 103) + 0.75 + 35 }
        let r = MannWhitney.test(x, y)
        XCTAssertEqual(r.method, .exact)
        XCTAssertEqual(r.u1, 470)
        XCTAssertEqual(r.u2, 1530)
        assertClose(r.p, 9.479734777910525e-06)
    }

    func testExactTwentyAndTwentySeparated() {
        // Hand: p = 2 / C(40,20) = 2 / 137846528820.
        let r = MannWhitney.test((0..<20).map(Double.init), (20..<40).map(Double.init))
        XCTAssertEqual(r.method, .exact)
        assertClose(r.p, 2.0 / 137_846_528_820)
    }

    func testExactWhenForcedAboveTheLimit() {
        // 60 * 70 = 4200 > exactLimit, so normal by default; forced exact with no ties.
        // scipy exact: U1=909.0 p=7.892785533094803e-09
        let r = MannWhitney.test(Self.x60, Self.y70, exactLimit: .max)
        XCTAssertEqual(r.method, .exact)
        XCTAssertEqual(r.u1, 909)
        assertClose(r.p, 7.892785533094803e-09)
    }

    // MARK: Mann-Whitney, normal approximation

    func testNormalWithTies() {
        // Ties (2, 3 and 5 occur in both) -> normal. scipy asymptotic: U1=10.0 p=0.12500621852933796
        let r = MannWhitney.test([1, 2, 2, 3, 3, 3, 5], [2, 3, 4, 4, 5, 6])
        XCTAssertEqual(r.method, .normal)
        XCTAssertEqual(r.u1, 10)
        XCTAssertEqual(r.u2, 32)
        assertClose(r.p, 0.12500621852933796)
    }

    func testNormalLargeSamples() {
        // 60 * 70 > exactLimit. scipy asymptotic: U1=909.0 p=2.700728663705373e-08
        let r = MannWhitney.test(Self.x60, Self.y70)
        XCTAssertEqual(r.method, .normal)
        XCTAssertEqual(r.u1, 909)
        XCTAssertEqual(r.u2, 60 * 70 - 909)
        assertClose(r.p, 2.700728663705373e-08)
    }

    func testNormalLargeSamplesWithManyTies() {
        // scipy asymptotic: U1=3350.5 p=5.534744962329227e-05
        let x = (0..<100).map { Double(($0 * 7) % 23) }
        let y = (0..<100).map { Double(($0 * 11) % 29) + 2 }
        let r = MannWhitney.test(x, y)
        XCTAssertEqual(r.method, .normal)
        XCTAssertEqual(r.u1, 3350.5)
        assertClose(r.p, 5.534744962329227e-05)
    }

    func testNormalForcedWithoutTies() {
        // exactLimit 0 forces the normal approximation.
        // scipy asymptotic: [1,2,3] vs [4,5,6] p=0.08085559837005224; hand: sigma^2 = 9*7/12 = 5.25,
        // z = (9 - 4.5 - 0.5)/sqrt(5.25) = 1.7457..., 2 Phi(-z) = 0.0808...
        assertClose(MannWhitney.test([1, 2, 3], [4, 5, 6], exactLimit: 0).p, 0.08085559837005224)
        // scipy asymptotic: U1=3.0 p=0.03576376659097789
        let a = MannWhitney.test([12.5, 10.1, 14.2, 9.8, 11.7], [13.9, 15.2, 12.8, 16.4, 14.9, 13.1], exactLimit: 0)
        XCTAssertEqual(a.method, .normal)
        assertClose(a.p, 0.03576376659097789)
        // scipy asymptotic: U1=16.0 p=0.11233872582982307
        assertClose(MannWhitney.test(Self.small7, Self.small9, exactLimit: 0).p, 0.11233872582982307)
        // scipy asymptotic: U1=470.0 p=1.7116139549454688e-05
        let x = (0..<40).map { Double(($0 * 37) % 101) + 0.25 }
        let y = (0..<50).map { Double(($0 * 53) % 103) + 0.75 + 35 }
        assertClose(MannWhitney.test(x, y, exactLimit: 0).p, 1.7116139549454688e-05)
    }

    func testIdenticalSamplesGiveOne() {
        // Hand: U1 = U2 = 8 = n1 n2 / 2, z = -0.5/sigma < 0, 2 Phi(-z) > 1, capped at 1.
        // scipy asymptotic: U1=8.0 p=1.0
        let r = MannWhitney.test([1, 2, 3, 4], [1, 2, 3, 4])
        XCTAssertEqual(r.method, .normal)
        XCTAssertEqual(r.u1, 8)
        XCTAssertEqual(r.p, 1)
        // Hand: one tie group of 5: (N+1) - (125-5)/(5*4) = 6 - 6 = 0, sigma = 0 -> p = 1.
        // scipy asymptotic: U1=3.0 p=1.0
        let e = MannWhitney.test([5, 5, 5], [5, 5])
        XCTAssertEqual(e.u1, 3)
        XCTAssertEqual(e.p, 1)
    }

    func testEmptySampleIsInsufficient() {
        XCTAssertEqual(MannWhitney.test([], [1, 2, 3]), MannWhitneyResult(u1: 0, u2: 0, p: 1, method: .insufficient))
        XCTAssertEqual(MannWhitney.test([1], []).method, .insufficient)
        XCTAssertEqual(MannWhitney.test([], []).p, 1)
    }

    func testSmallestP() {
        // Hand: 2 / C(n1+n2, n1), capped at 1.
        assertClose(MannWhitney.smallestP(3, 3), 0.1)         // 2/20
        assertClose(MannWhitney.smallestP(3, 4), 2.0 / 35)    // 0.057 > 0.05
        assertClose(MannWhitney.smallestP(4, 4), 2.0 / 70)    // 0.029 <= 0.05
        assertClose(MannWhitney.smallestP(1, 40), 2.0 / 41)
        XCTAssertEqual(MannWhitney.smallestP(1, 1), 1)       // 2/2
        XCTAssertEqual(MannWhitney.smallestP(0, 5), 1)
    }

    // MARK: Hodges-Lehmann

    func testHodgesLehmannByHand() throws {
        // Ratios y/x for x = [1,2,4], y = [2,4,8]: 2,1,.5, 4,2,1, 8,4,2; sorted .5,1,1,2,2,2,4,4,8,
        // median 2. k = floor(9/2 - 1.959963984540054 sqrt(9*7/12)) = floor(4.5 - 4.4908) = 0:
        // lower = .5, upper = 8.
        let r = try XCTUnwrap(HodgesLehmann.ratio(base: [1, 2, 4], candidate: [2, 4, 8]))
        assertClose(r.ratio, 2)
        assertClose(r.lower, 0.5)
        assertClose(r.upper, 8)
    }

    func testHodgesLehmannOrderStatistic() throws {
        // base 2^i, candidate 1.2 * 2^j, i, j = 0..9: d = ln 1.2 + (j - i) ln 2, with j - i = -9...9
        // occurring 10 - |j - i| times; sorted, j - i = -3 fills indices 21...27, -2 fills 28...35,
        // 0 fills 45...54 (so the median, mean of d[49] and d[50], is ln 1.2).
        // 95%: k = floor(50 - 1.959963984540054 sqrt(100*21/12)) = floor(50 - 25.928) = 24 -> -3:
        //   lower = 1.2/8 = 0.15, upper = d[75] -> +3: 1.2*8 = 9.6.
        // 90%: k = floor(50 - 1.6448536269514722 * 13.2288) = floor(28.24) = 28 -> -2:
        //   lower = 1.2/4 = 0.3, upper = 1.2*4 = 4.8.
        let base = (0..<10).map { Double(1 << $0) }
        let candidate = base.map { 1.2 * $0 }
        let r = try XCTUnwrap(HodgesLehmann.ratio(base: base, candidate: candidate))
        assertClose(r.ratio, 1.2)
        assertClose(r.lower, 0.15)
        assertClose(r.upper, 9.6)
        let n = try XCTUnwrap(HodgesLehmann.ratio(base: base, candidate: candidate, confidence: 0.90))
        assertClose(n.ratio, 1.2)
        assertClose(n.lower, 0.3)
        assertClose(n.upper, 4.8)
    }

    func testHodgesLehmannAgainstNumpy() throws {
        // numpy: k=12 ratio=1.6951219512195121 lower=0.9238095238095237 upper=3.3780487804878048
        let a = try XCTUnwrap(HodgesLehmann.ratio(base: Self.small7, candidate: Self.small9))
        assertClose(a.ratio, 1.6951219512195121)
        assertClose(a.lower, 0.9238095238095237)
        assertClose(a.upper, 3.3780487804878048)
        // numpy: k=4 ratio=1.2704117482082782 lower=1.0479999999999996 upper=1.5049504950495047
        let b = try XCTUnwrap(HodgesLehmann.ratio(base: [12.5, 10.1, 14.2, 9.8, 11.7],
                                                  candidate: [13.9, 15.2, 12.8, 16.4, 14.9, 13.1]))
        assertClose(b.ratio, 1.2704117482082782)
        assertClose(b.lower, 1.0479999999999996)
        assertClose(b.upper, 1.5049504950495047)
    }

    func testSelectionPutsTheSameValuesAsSortingAtEachPosition() {
        // Pseudo-random values with many ties, several sizes, positions at the edges too.
        var seed: UInt64 = 12345
        func next() -> Double {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Double((seed >> 33) % 37)
        }
        for n in [1, 2, 3, 7, 64, 1000] {
            let values = (0..<n).map { _ in next() }
            let sorted = values.sorted()
            for positions in [[0], [n - 1], [n / 2, (n - 1) / 2], [0, n / 3, n - 1 - n / 3, n - 1]] {
                var a = values
                HodgesLehmann.select(&a, at: positions)
                for p in positions { XCTAssertEqual(a[p], sorted[p], "n \(n) position \(p)") }
                XCTAssertEqual(a.sorted(), sorted, "a permutation")
            }
        }
    }

    func testHodgesLehmannNeedsPositiveValues() {
        XCTAssertNil(HodgesLehmann.ratio(base: [], candidate: [1]))
        XCTAssertNil(HodgesLehmann.ratio(base: [1, 0], candidate: [1]))
        XCTAssertNil(HodgesLehmann.ratio(base: [1], candidate: [-2]))
        XCTAssertNil(HodgesLehmann.ratio(base: [1], candidate: [.infinity]))
    }

    func testNormalQuantile() {
        // scipy: norm.ppf(0.975) = 1.959963984540054, ppf(0.95) = 1.6448536269514722,
        // ppf(0.995) = 2.5758293035489004.
        assertClose(StandardNormal.quantile(0.975), 1.959963984540054, relative: 1e-14)
        assertClose(StandardNormal.quantile(0.95), 1.6448536269514722, relative: 1e-14)
        assertClose(StandardNormal.quantile(0.995), 2.5758293035489004, relative: 1e-14)
        assertClose(StandardNormal.quantile(0.025), -1.959963984540054, relative: 1e-14)
        XCTAssertEqual(StandardNormal.quantile(0.5), 0, accuracy: 1e-16)
    }

    // MARK: Holm and Benjamini-Hochberg

    func testHolm() {
        // Hand: sorted .005,.01,.03,.04 times 4,3,2,1 = .02,.03,.06,.04; running max .02,.03,.06,.06;
        // back in input order [.03, .06, .06, .02]. numpy (statsmodels 'holm'): same.
        assertClose(Holm.adjust([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
        // Hand: .4*3 = 1.2 -> capped at 1, and the running max keeps the rest at 1.
        assertClose(Holm.adjust([0.4, 0.6, 0.7]), [1, 1, 1])
        // numpy (statsmodels 'holm'):
        assertClose(Holm.adjust([0.002, 0.3, 0.012, 0.041, 0.0005, 0.9, 0.027, 0.06]),
                    [0.014, 0.6, 0.07200000000000001, 0.164, 0.004, 0.9, 0.135, 0.18])
        XCTAssertEqual(Holm.adjust([]), [])
        XCTAssertEqual(Holm.adjust([0.3]), [0.3])
    }

    func testBenjaminiHochberg() {
        // Hand: sorted .005,.01,.03,.04 times 4/rank = .02,.02,.04,.04; running min from the top
        // keeps them; input order [.02, .04, .04, .02]. numpy / scipy false_discovery_control: same.
        assertClose(BenjaminiHochberg.adjust([0.01, 0.04, 0.03, 0.005]), [0.02, 0.04, 0.04, 0.02])
        // Hand: .4*3/1 = 1.2, .6*3/2 = .9, .7*3/3 = .7 -> running min from the top .7,.7,.7.
        assertClose(BenjaminiHochberg.adjust([0.4, 0.6, 0.7]), [0.7, 0.7, 0.7])
        // numpy (statsmodels 'fdr_bh') and scipy false_discovery_control:
        assertClose(BenjaminiHochberg.adjust([0.002, 0.3, 0.012, 0.041, 0.0005, 0.9, 0.027, 0.06]),
                    [0.008, 0.34285714285714286, 0.032, 0.0656, 0.004, 0.9, 0.054, 0.08])
        XCTAssertEqual(BenjaminiHochberg.adjust([]), [])
        XCTAssertEqual(BenjaminiHochberg.adjust([0.3]), [0.3])
    }

    // MARK: Verdicts

    /// 100...109 and the same times 1.5: p = 2/C(20,10) = 1.08e-5; the ratios are 1.5 b_j / b_i,
    /// so the 95% lower bound (k = 24 of 100) is at least 1.5 * 100/109 = 1.376 and below 1.5
    /// (d[24] precedes the ten zeros of ln(b_j/b_i) at 45...54); median change 1.5*104.5 - 104.5 = 52.25.
    static let steady = (100..<110).map(Double.init)
    static let slower = steady.map { $0 * 1.5 }

    func testRegressionAndImprovement() {
        XCTAssertEqual(Verdict.classify(base: Self.steady, candidate: Self.slower, threshold: 0.05), .regression)
        XCTAssertEqual(Verdict.classify(base: Self.slower, candidate: Self.steady, threshold: 0.05), .improvement)
        XCTAssertEqual(MetricVerdict.regression.symbol, "+")
        XCTAssertEqual(MetricVerdict.noise.symbol, "~")
    }

    func testBelowThresholdOrMinimumIsNoise() {
        // Lower bound < 1.5, so a 50% threshold is not cleared.
        XCTAssertEqual(Verdict.classify(base: Self.steady, candidate: Self.slower, threshold: 0.5), .noise)
        // Median change 52.25 < 60.
        XCTAssertEqual(Verdict.classify(base: Self.steady, candidate: Self.slower, threshold: 0.05, minAbsolute: 60), .noise)
        XCTAssertEqual(Verdict.classify(base: Self.slower, candidate: Self.steady, threshold: 0.05, minAbsolute: 60), .noise)
        XCTAssertEqual(Verdict.classify(base: Self.steady, candidate: Self.slower, threshold: 0.05, minAbsolute: 50), .regression)
    }

    func testAdjustedPDecidesSignificance() {
        XCTAssertEqual(Verdict.classify(base: Self.steady, candidate: Self.slower, threshold: 0.05, adjustedP: 0.2), .noise)
        XCTAssertEqual(Verdict.classify(base: Self.steady, candidate: Self.slower, threshold: 0.05, adjustedP: 0.05), .regression)
    }

    func testNotSignificantIsNoise() {
        // Interleaved: U1 = 15 of 36 (hand: x_i beats i-1 of the y), far from significant.
        XCTAssertEqual(Verdict.classify(base: [1, 3, 5, 7, 9, 11], candidate: [2, 4, 6, 8, 10, 12], threshold: 0.05), .noise)
    }

    func testTooFewSamplesIsInconclusive() {
        // 3 and 3: the smallest possible p is 0.1 > 0.05, whatever the data or adjusted p.
        XCTAssertEqual(Verdict.classify(base: [1, 2, 3], candidate: [10, 20, 30], threshold: 0.05), .inconclusive)
        XCTAssertEqual(Verdict.classify(base: [1, 2, 3], candidate: [10, 20, 30], threshold: 0.05, adjustedP: 0), .inconclusive)
        // 3 and 3 can be decided at alpha 0.1 (0.1 <= 0.1); hand: 95%... at 90%, k = floor(4.5 -
        // 1.6448536 * sqrt(9*7/12)) = floor(0.73) = 0, lower = 10/3 > 1.05.
        XCTAssertEqual(Verdict.classify(base: [1, 2, 3], candidate: [10, 20, 30], threshold: 0.05, alpha: 0.1), .regression)
        XCTAssertEqual(Verdict.classify(base: [], candidate: [1, 2, 3, 4], threshold: 0.05), .inconclusive)
        XCTAssertEqual(Verdict.classify(base: [0, 1, 2, 3], candidate: [5, 6, 7, 8], threshold: 0.05), .inconclusive)
    }

    func testFourAndFourCanBeDecided() {
        // Hand: p = 2/70 = 0.029; k = floor(8 - 1.96 sqrt(16*9/12)) = floor(1.21) = 1, so lower is
        // the second smallest ratio: 20/13 = 1.538 < 21/13 = 1.615 < 20/12 = 1.667 -> 1.615 > 1.05.
        XCTAssertEqual(Verdict.classify(base: [10, 11, 12, 13], candidate: [20, 21, 22, 23], threshold: 0.05), .regression)
        XCTAssertEqual(Verdict.classify(base: [10, 11, 12, 13], candidate: [20, 21, 22, 23], threshold: 0.7), .noise)
    }

    // MARK: Sign test

    func testSignTestAgainstTheBinomial() throws {
        // Ten pairs all larger: p = 2 / 2^10; hand: k = floor((10 - 1.96 sqrt(10)) / 2) = 1, so the
        // interval runs from the second smallest to the second largest ratio.
        let base = [Double](repeating: 100, count: 10)
        let up = try XCTUnwrap(SignTest.paired(base: base, candidate: (1...10).map { 100 + Double($0) }))
        XCTAssertEqual(up.p, 2.0 / 1024, accuracy: 1e-15)
        XCTAssertEqual(up.estimate.ratio, exp((log(105.0 / 100) + log(106.0 / 100)) / 2), accuracy: 1e-12)
        XCTAssertEqual(up.estimate.lower, 1.02, accuracy: 1e-12)
        XCTAssertEqual(up.estimate.upper, 1.09, accuracy: 1e-12)
        // 7 up, 3 down: p = 2 (1 + 10 + 45 + 120) / 1024 = 0.34375 (scipy.stats.binomtest(7, 10)).
        let mixed = try XCTUnwrap(SignTest.paired(base: base, candidate: [101, 102, 103, 104, 105, 106, 107, 99, 98, 97]))
        XCTAssertEqual(mixed.p, 0.34375, accuracy: 1e-12)
        // Ties are left out of the test: 6 up and 4 equal is 6 of 6.
        let ties = try XCTUnwrap(SignTest.paired(base: base, candidate: [101, 102, 103, 104, 105, 106, 100, 100, 100, 100]))
        XCTAssertEqual(ties.p, 2.0 / 64, accuracy: 1e-15)
        XCTAssertEqual(SignTest.smallestP(5), 0.0625)
        XCTAssertNil(SignTest.paired(base: [], candidate: []))
        XCTAssertNil(SignTest.paired(base: [0], candidate: [1]))
    }

    // MARK: Data

    static let small7 = [0.82, 1.47, 0.35, 2.91, 1.05, 0.64, 1.88]
    static let small9 = [1.12, 2.35, 0.97, 3.04, 1.76, 2.62, 1.39, 2.08, 2.77]
    static let x60 = (0..<60).map { Double(($0 * 29) % 89) + 0.5 }
    static let y70 = (0..<70).map { Double(($0 * 31) % 97) + 0.25 + 30 }
}
