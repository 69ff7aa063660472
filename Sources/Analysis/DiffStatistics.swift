#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// The statistics behind comparing two runs (/work/shared/notes/diff-method.md): a two-sided
// Mann-Whitney U test per metric, a Hodges-Lehmann ratio with a confidence interval, Holm and
// Benjamini-Hochberg adjustment of p-values, and the verdict that combines them. Samples are one
// value per steady-state step. Tests/AnalysisTests/diff_reference.py regenerates the expected
// values of the tests with scipy and numpy.

/// The outcome of a two-sided Mann-Whitney U test; `p` matches scipy.stats.mannwhitneyu.
public struct MannWhitneyResult: Equatable, Sendable {
    /// How `p` was computed.
    public enum Method: Equatable, Sendable {
        /// From the exact null distribution of U (no ties, small samples).
        case exact
        /// From the normal approximation with tie and continuity corrections.
        case normal
        /// A sample was empty: `u1`, `u2` are 0 and `p` is 1.
        case insufficient
    }

    /// U of the first sample: R1 - n1(n1+1)/2 with mid-ranks, the number of pairs (x, y) with
    /// x > y plus half the pairs with x == y. scipy's `statistic`.
    public let u1: Double
    /// U of the second sample, n1 n2 - u1.
    public let u2: Double
    /// Two-sided p-value, in [0, 1].
    public let p: Double
    public let method: Method

    public init(u1: Double, u2: Double, p: Double, method: Method) {
        self.u1 = u1
        self.u2 = u2
        self.p = p
        self.method = method
    }
}

/// The two-sided Mann-Whitney U (Wilcoxon rank-sum) test of two independent samples.
public enum MannWhitney {
    /// The exact distribution is used when there are no ties and n1 n2 <= this. The dynamic
    /// programme costs about n1 n2 min(U1, U2) additions, at most 2500 * 1250 here.
    public static let exactLimit = 2500

    /// Tests whether `x` and `y` come from the same distribution, as
    /// `scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=m)`, with m = 'exact' when
    /// there are no ties and n1 n2 <= `exactLimit`, else m = 'asymptotic'.
    ///
    /// - exact: p = min(1, 2 P(U <= min(U1, U2))) = min(1, 2 min(P(U <= U1), P(U >= U1))), from the
    ///   counts of arrangements with each U (dynamic programming over the largest remaining value).
    /// - normal: z = (max(U1, U2) - n1 n2/2 - 0.5) / sigma with
    ///   sigma^2 = n1 n2 [(N+1) - sum(t^3 - t)/(N(N-1))] / 12 over tie groups of size t, and
    ///   p = min(1, 2 Phi(-z)); p = 1 when every value is the same (sigma = 0).
    ///
    /// Pass `exactLimit: 0` to force the normal approximation, `.max` to use the exact distribution
    /// whenever there are no ties (with ties it is never used). Values must not be NaN.
    public static func test(_ x: [Double], _ y: [Double], exactLimit: Int = MannWhitney.exactLimit) -> MannWhitneyResult {
        precondition(!x.contains(where: \.isNaN) && !y.contains(where: \.isNaN), "Mann-Whitney samples must not be NaN")
        return test(sorted: x.sorted(), y.sorted(), exactLimit: exactLimit)
    }

    /// `test` of samples sorted ascending.
    static func test(sorted x: [Double], _ y: [Double], exactLimit: Int = MannWhitney.exactLimit) -> MannWhitneyResult {
        let n1 = x.count, n2 = y.count, n = n1 + n2
        guard n1 > 0, n2 > 0 else { return MannWhitneyResult(u1: 0, u2: 0, p: 1, method: .insufficient) }
        // Mid-ranks: a tie group at merged positions first ..< first + t (0-based) has rank
        // (2 first + t + 1) / 2. The samples are merged group by group.
        var r1 = 0.0
        var tieTerm = 0.0
        var i = 0, j = 0
        while i < n1 || j < n2 {
            let v = j >= n2 || (i < n1 && x[i] <= y[j]) ? x[i] : y[j]
            var xi = i, yj = j
            while xi < n1 && x[xi] == v { xi += 1 }
            while yj < n2 && y[yj] == v { yj += 1 }
            let t = (xi - i) + (yj - j)
            r1 += Double(2 * (i + j) + t + 1) / 2 * Double(xi - i)
            tieTerm += Double(t) * Double(t) * Double(t) - Double(t)
            (i, j) = (xi, yj)
        }
        let u1 = r1 - Double(n1) * Double(n1 + 1) / 2
        let u2 = Double(n1) * Double(n2) - u1
        let big = max(u1, u2)
        if tieTerm == 0, n1 * n2 <= exactLimit {
            // With no ties U is an integer; min(U1, U2) = n1 n2 - max(U1, U2).
            let lowerTail = exactLowerTail(min(n1, n2), max(n1, n2), upTo: Int(min(u1, u2)))
            return MannWhitneyResult(u1: u1, u2: u2, p: min(1, 2 * lowerTail), method: .exact)
        }
        let nd = Double(n)
        let sigma = (Double(n1 * n2) / 12 * ((nd + 1) - tieTerm / (nd * (nd - 1)))).squareRoot()
        var p = 1.0
        if sigma > 0 {
            let z = (big - Double(n1 * n2) / 2 - 0.5) / sigma
            p = min(1, max(0, 2 * StandardNormal.cdf(-z)))
        }
        return MannWhitneyResult(u1: u1, u2: u2, p: p, method: .normal)
    }

    /// The smallest two-sided p that samples of these sizes can give: the p of two samples without
    /// ties that do not overlap, as `test` computes it. For 3 and 3 it is 2/C(6,3) = 0.1; for 4
    /// and 4, 2/70. 1 when a sample is empty.
    public static func smallestP(_ n1: Int, _ n2: Int, exactLimit: Int = MannWhitney.exactLimit) -> Double {
        guard n1 > 0, n2 > 0 else { return 1 }
        return test((0..<n1).map(Double.init), (n1..<(n1 + n2)).map(Double.init), exactLimit: exactLimit).p
    }

    /// P(U <= upTo) under the null hypothesis for samples of sizes a <= b and no ties.
    static func exactLowerTail(_ a: Int, _ b: Int, upTo: Int) -> Double {
        // f(i, j, u): orderings of i values of one sample and j of the other with U = u, where U
        // counts pairs in which the first sample's value is the larger. The largest value is from
        // the first sample (it beats all j others) or from the second:
        //   f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u),  f(0, j, u) = f(i, 0, u) = [u == 0].
        // Only u <= upTo is needed. Counts are exact while below 2^53.
        let width = upTo + 1
        var previous = [Double](repeating: 0, count: (b + 1) * width)  // row i - 1
        for j in 0...b { previous[j * width] = 1 }
        var current = previous
        if a > 0 {
            for _ in 1...a {
                current[0] = 1
                for u in 1..<width { current[u] = 0 }
                for j in 1...b {
                    let row = j * width, below = (j - 1) * width
                    for u in 0..<width {
                        var v = current[below + u]
                        if u >= j { v += previous[row + u - j] }
                        current[row + u] = v
                    }
                }
                swap(&previous, &current)
            }
        }
        var count = 0.0
        for u in 0..<width { count += previous[b * width + u] }
        // C(a + b, a) = prod_{k=1..a} (b + k) / k; every partial product is C(b + k, k).
        var total = 1.0
        if a > 0 { for k in 1...a { total = total * Double(b + k) / Double(k) } }
        return count / total
    }
}

/// A ratio of candidate to base with its confidence interval.
public struct RatioEstimate: Equatable, Sendable {
    public let ratio: Double
    public let lower: Double
    public let upper: Double

    public init(ratio: Double, lower: Double, upper: Double) {
        self.ratio = ratio
        self.lower = lower
        self.upper = upper
    }
}

/// The Hodges-Lehmann estimate of the ratio candidate / base, with a distribution-free interval.
public enum HodgesLehmann {
    /// With d the n1 n2 differences ln(candidate[j]) - ln(base[i]) sorted ascending (0-based):
    /// ratio = exp(median of d), the mean of the two middle values when n1 n2 is even;
    /// lower = exp(d[k]) (the (k+1)-th smallest) and upper = exp(d[n1 n2 - 1 - k]) (the (k+1)-th
    /// largest) with k = max(0, floor(n1 n2 / 2 - z sqrt(n1 n2 (N+1) / 12))), z the standard normal
    /// quantile at (1 + confidence) / 2 (1.959963984540054 for 0.95).
    /// nil when a sample is empty or holds a value that is not positive and finite.
    /// Memory and time are O(n1 n2).
    public static func ratio(base: [Double], candidate: [Double], confidence: Double = 0.95) -> RatioEstimate? {
        precondition(confidence > 0 && confidence < 1, "confidence must be in (0, 1)")
        let valid: (Double) -> Bool = { $0 > 0 && $0.isFinite }
        guard !base.isEmpty, !candidate.isEmpty, base.allSatisfy(valid), candidate.allSatisfy(valid) else { return nil }
        let n1 = base.count, n2 = candidate.count, m = n1 * n2
        let logBase = base.map { log($0) }
        var d = [Double](unsafeUninitializedCapacity: m) { d, count in
            for (j, c) in candidate.enumerated() {
                let lc = log(c)
                for (i, lb) in logBase.enumerated() { d.initializeElement(at: j * n1 + i, to: lc - lb) }
            }
            count = m
        }
        let z = StandardNormal.quantile((1 + confidence) / 2)
        let reach = z * (Double(n1 * n2 * (n1 + n2 + 1)) / 12).squareRoot()
        let k = max(0, Int((Double(m) / 2 - reach).rounded(.down)))
        // Only four order statistics are needed: select them instead of sorting all m.
        select(&d, at: [k, m - 1 - k, (m - 1) / 2, m / 2])
        let middle = m % 2 == 1 ? d[m / 2] : (d[m / 2 - 1] + d[m / 2]) / 2
        return RatioEstimate(ratio: exp(middle), lower: exp(d[k]), upper: exp(d[m - 1 - k]))
    }

    /// Rearranges `a` so that each of `positions` holds the value sorting would put there
    /// (Hoare's selection, one pass per position over what is right of the previous one).
    static func select(_ array: inout [Double], at positions: [Int]) {
        array.withUnsafeMutableBufferPointer { select($0, at: positions) }
    }

    private static func select(_ a: UnsafeMutableBufferPointer<Double>, at positions: [Int]) {
        var lo = 0
        for p in positions.sorted() where p >= lo {
            var l = lo, r = a.count - 1
            while l < r {
                let x = a[l], y = a[(l + r) / 2], z = a[r]
                let pivot = max(min(x, y), min(max(x, y), z))
                var i = l, j = r
                while i <= j {
                    while a[i] < pivot { i += 1 }
                    while a[j] > pivot { j -= 1 }
                    if i <= j {
                        a.swapAt(i, j)
                        i += 1
                        j -= 1
                    }
                }
                // a[l...j] <= pivot <= a[i...r], with j < i.
                if p <= j { r = j } else if p >= i { l = i } else { break }
            }
            lo = p + 1
        }
    }
}

/// The two-sided sign test of paired samples, with the median ratio and its distribution-free interval.
public enum SignTest {
    /// With d the differences ln(candidate[i]) - ln(base[i]) of the pairs, zeros left out (n of them
    /// left, `pos` positive): p = min(1, 2 P(X <= min(pos, n - pos))) for X ~ Binomial(n, 1/2)
    /// (scipy.stats.binomtest's two-sided p for p = 1/2); ratio = exp(median of all d, zeros
    /// included), the interval exp(d[k]), exp(d[m - 1 - k]) over the m sorted d with
    /// k = max(0, floor((m - z sqrt(m)) / 2)), z the normal quantile at (1 + confidence) / 2.
    /// nil when there are no pairs or a value is not positive and finite.
    public static func paired(base: [Double], candidate: [Double], confidence: Double = 0.95) -> (p: Double, estimate: RatioEstimate)? {
        precondition(base.count == candidate.count, "the sign test needs pairs")
        let valid: (Double) -> Bool = { $0 > 0 && $0.isFinite }
        guard !base.isEmpty, base.allSatisfy(valid), candidate.allSatisfy(valid) else { return nil }
        var d = zip(base, candidate).map { log($1) - log($0) }
        d.sort()
        let pos = d.filter { $0 > 0 }.count, neg = d.filter { $0 < 0 }.count
        let p = min(1, 2 * binomialLowerTail(pos + neg, upTo: min(pos, neg)))
        let m = d.count
        let z = StandardNormal.quantile((1 + confidence) / 2)
        let k = max(0, Int(((Double(m) - z * Double(m).squareRoot()) / 2).rounded(.down)))
        let middle = m % 2 == 1 ? d[m / 2] : (d[m / 2 - 1] + d[m / 2]) / 2
        return (p, RatioEstimate(ratio: exp(middle), lower: exp(d[min(k, m - 1)]), upper: exp(d[max(0, m - 1 - k)])))
    }

    /// The smallest two-sided p of `n` pairs: 2 / 2^n (1 when n is 0).
    public static func smallestP(_ n: Int) -> Double { n == 0 ? 1 : min(1, 2 * pow(0.5, Double(n))) }

    /// P(X <= upTo) for X ~ Binomial(n, 1/2), summed in log space.
    static func binomialLowerTail(_ n: Int, upTo: Int) -> Double {
        guard n > 0 else { return 1 }
        var total = 0.0
        for i in 0...max(0, upTo) where i <= n {
            total += exp(lgamma(Double(n + 1)) - lgamma(Double(i + 1)) - lgamma(Double(n - i + 1)) - Double(n) * log(2.0))
        }
        return min(1, total)
    }
}

/// Holm's step-down adjustment of p-values (family-wise error), as statsmodels' `holm`.
public enum Holm {
    /// With p sorted ascending (0-based rank r of m), the adjusted value is
    /// min(1, max over r' <= r of (m - r') p(r')), returned in the input's order.
    public static func adjust(_ p: [Double]) -> [Double] {
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var result = [Double](repeating: 0, count: m)
        var running = 0.0
        for (r, i) in order.enumerated() {
            running = max(running, p[i] * Double(m - r))
            result[i] = min(1, running)
        }
        return result
    }
}

/// Benjamini-Hochberg step-up adjustment of p-values (false discovery rate), as statsmodels' `fdr_bh`.
public enum BenjaminiHochberg {
    /// With p sorted ascending (1-based rank r of m), the adjusted value is
    /// min(1, min over r' >= r of p(r') / (r'/m)), returned in the input's order.
    public static func adjust(_ p: [Double]) -> [Double] {
        let m = p.count
        let order = p.indices.sorted { p[$0] < p[$1] }
        var result = [Double](repeating: 0, count: m)
        var running = Double.infinity
        for r in stride(from: m, through: 1, by: -1) {
            let i = order[r - 1]
            running = min(running, p[i] / (Double(r) / Double(m)))
            result[i] = min(1, running)
        }
        return result
    }
}

/// The verdict on one metric (larger is worse, e.g. a step time): regression, improvement, noise, inconclusive.
public enum MetricVerdict: Equatable, Sendable {
    /// Significantly larger, by more than the threshold and the absolute minimum.
    case regression
    /// Significantly smaller, by more than the threshold and the absolute minimum.
    case improvement
    /// No change that passes all three tests: not significant, or too small to matter.
    case noise
    /// Too few samples (or samples without a ratio) to tell.
    case inconclusive

    /// One character for tables: "+" regression, "-" improvement, "~" noise, "?" inconclusive.
    public var symbol: String {
        switch self {
        case .regression: "+"
        case .improvement: "-"
        case .noise: "~"
        case .inconclusive: "?"
        }
    }
}

/// Classifies a metric's change from base samples to candidate samples.
public enum Verdict {
    /// - inconclusive: a sample is empty, `MannWhitney.smallestP` of the sizes exceeds `alpha` (even
    ///   non-overlapping samples could not be significant, e.g. 3 and 3 steps: 0.1), or a value is
    ///   not positive (no ratio);
    /// - regression: p <= `alpha`, the lower bound of the Hodges-Lehmann ratio's (1 - alpha)
    ///   interval > 1 + `threshold`, and median(candidate) - median(base) > `minAbsolute`;
    /// - improvement: p <= `alpha`, the upper bound < 1 / (1 + `threshold`), and
    ///   median(base) - median(candidate) > `minAbsolute` (so swapping the runs swaps the two);
    /// - noise: anything else.
    /// p is `adjustedP` when given (e.g. `Holm.adjust` over the gate metrics' `MannWhitney.test`
    /// p-values), else this pair's own Mann-Whitney p.
    /// `estimate`, when given, must be `HodgesLehmann.ratio(base:candidate:confidence: 1 - alpha)`
    /// (callers that already have it save the O(n1 n2) work).
    public static func classify(base: [Double], candidate: [Double], threshold: Double, minAbsolute: Double = 0,
                                alpha: Double = 0.05, adjustedP: Double? = nil, estimate known: RatioEstimate? = nil) -> MetricVerdict {
        guard MannWhitney.smallestP(base.count, candidate.count) <= alpha,
              let estimate = known ?? HodgesLehmann.ratio(base: base, candidate: candidate, confidence: 1 - alpha)
        else { return .inconclusive }
        return classify(p: adjustedP ?? MannWhitney.test(base, candidate).p, estimate: estimate, change: median(candidate) - median(base),
                        threshold: threshold, minAbsolute: minAbsolute, alpha: alpha)
    }

    /// `classify` of samples that can be decided, from their p, interval and change of median
    /// (candidate - base).
    static func classify(p: Double, estimate: RatioEstimate, change: Double, threshold: Double, minAbsolute: Double,
                         alpha: Double) -> MetricVerdict {
        guard p <= alpha else { return .noise }
        if estimate.lower > 1 + threshold, change > minAbsolute { return .regression }
        if estimate.upper < 1 / (1 + threshold), -change > minAbsolute { return .improvement }
        return .noise
    }

    /// The sample median (mean of the two middle values for an even count); the sample is not empty.
    static func median(_ values: [Double]) -> Double { median(sorted: values.sorted()) }

    /// `median` of a sample sorted ascending.
    static func median(sorted s: [Double]) -> Double {
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

/// The standard normal distribution's CDF and quantile.
enum StandardNormal {
    /// Phi(a), computed as scipy's `ndtr` (cephes): erf near 0, erfc in the tails.
    static func cdf(_ a: Double) -> Double {
        let sqrtHalf = 0.70710678118654752440
        let x = a * sqrtHalf
        if abs(x) < sqrtHalf { return 0.5 + 0.5 * erf(x) }
        let y = 0.5 * erfc(abs(x))
        return x > 0 ? 1 - y : y
    }

    /// Phi^-1(p) for 0 < p < 1: Acklam's rational approximation (relative error 1.2e-9), then two
    /// Halley steps on `cdf`, which bring it to within a few ulps.
    static func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "quantile needs 0 < p < 1")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low || p > 1 - low {
            let q = (-2 * log(p < low ? p : 1 - p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
            if p > 1 - low { x = -x }
        } else {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        }
        let sqrt2Pi = 2.50662827463100050242
        for _ in 0..<2 {
            // Halley: e = Phi(x) - p, u = e / phi(x), x -= u / (1 + x u / 2). Above the median e is
            // (1 - p) - Phi(-x), where 1 - p is exact and Phi(-x) keeps its digits.
            let e = p > 0.5 ? (1 - p) - cdf(-x) : cdf(x) - p
            let u = e * sqrt2Pi * exp(x * x / 2)
            x -= u / (1 + x * u / 2)
        }
        return x
    }
}
