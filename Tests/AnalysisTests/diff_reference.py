#!/usr/bin/env python3
"""Expected values for DiffStatisticsTests.swift (run: python3 Tests/AnalysisTests/diff_reference.py).

Mann-Whitney U from scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method=...);
scipy's `statistic` is U1. Holm and Benjamini-Hochberg follow statsmodels' multipletests
('holm', 'fdr_bh') line by line in numpy (statsmodels is not a dependency here); BH is
cross-checked with scipy.stats.false_discovery_control. Hodges-Lehmann in numpy from the
definition in Sources/Analysis/DiffStatistics.swift. Printed with repr() so every digit is kept.
"""
import numpy as np
from scipy import stats

# Data sets; the formulas are repeated verbatim in the Swift tests.
SETS = {
    "separated3": ([1, 2, 3], [4, 5, 6]),
    "nearlySeparated3": ([1, 2, 4], [3, 5, 6]),
    "centre3": ([1, 4, 5], [2, 3, 6]),
    "small5x6": ([12.5, 10.1, 14.2, 9.8, 11.7], [13.9, 15.2, 12.8, 16.4, 14.9, 13.1]),
    "small7x9": ([0.82, 1.47, 0.35, 2.91, 1.05, 0.64, 1.88],
                 [1.12, 2.35, 0.97, 3.04, 1.76, 2.62, 1.39, 2.08, 2.77]),
    "ties7x6": ([1, 2, 2, 3, 3, 3, 5], [2, 3, 4, 4, 5, 6]),
    # 40 x 50 = 2000 pairs, no ties (x ends in .25, y in .75; i -> 37 i mod 101 is one-to-one).
    "exact40x50": ([(i * 37) % 101 + 0.25 for i in range(40)],
                   [(j * 53) % 103 + 0.75 + 35 for j in range(50)]),
    # 60 x 70 = 4200 pairs, no ties.
    "normal60x70": ([(i * 29) % 89 + 0.5 for i in range(60)],
                    [(j * 31) % 97 + 0.25 + 30 for j in range(70)]),
    # 100 x 100 with many ties.
    "ties100": ([float((i * 7) % 23) for i in range(100)],
                [float((j * 11) % 29) + 2 for j in range(100)]),
    "identical": ([1, 2, 3, 4], [1, 2, 3, 4]),
    "allEqual": ([5, 5, 5], [5, 5]),
}


def mwu():
    for name, (x, y) in SETS.items():
        for method in ("exact", "asymptotic"):
            r = stats.mannwhitneyu(x, y, alternative="two-sided", method=method)
            print(f"MWU {name:18s} {method:10s} U1={r.statistic!r} p={r.pvalue!r}")


def holm(p):
    """statsmodels.stats.multitest.multipletests(p, method='holm')[1]."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    s = p[order]
    n = len(p)
    corrected = np.maximum.accumulate(s * np.arange(n, 0, -1))
    corrected[corrected > 1] = 1
    out = np.empty(n)
    out[order] = corrected
    return out


def bh(p):
    """statsmodels.stats.multitest.fdrcorrection(p, method='indep')[1]."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    s = p[order]
    n = len(p)
    ecdf = np.arange(1, n + 1) / float(n)
    corrected = np.minimum.accumulate((s / ecdf)[::-1])[::-1]
    corrected[corrected > 1] = 1
    out = np.empty(n)
    out[order] = corrected
    return out


P_VECTORS = {
    "four": [0.01, 0.04, 0.03, 0.005],
    "capped": [0.4, 0.6, 0.7],
    "mixed": [0.002, 0.3, 0.012, 0.041, 0.0005, 0.9, 0.027, 0.06],
}


def adjust():
    for name, p in P_VECTORS.items():
        b = bh(p)
        assert np.allclose(b, stats.false_discovery_control(p, method="bh"), rtol=1e-15, atol=0)
        print(f"HOLM {name}: {[float(v) for v in holm(p)]!r}")
        print(f"BH   {name}: {[float(v) for v in b]!r}")


def hodges_lehmann(x, y, z=1.959963984540054):
    d = np.sort(np.subtract.outer(np.log(y), np.log(x)).ravel())
    n1, n2 = len(x), len(y)
    m = n1 * n2
    k = max(0, int(np.floor(m / 2 - z * np.sqrt(n1 * n2 * (n1 + n2 + 1) / 12))))
    return np.exp(np.median(d)), np.exp(d[k]), np.exp(d[m - 1 - k]), k


def hl():
    for name in ("small7x9", "small5x6"):
        x, y = SETS[name]
        r, lo, hi, k = hodges_lehmann(x, y)
        print(f"HL {name}: k={k} ratio={float(r)!r} lower={float(lo)!r} upper={float(hi)!r}")
    for c in (0.95, 0.90, 0.99):
        print(f"z({c}) = {float(stats.norm.ppf(1 - (1 - c) / 2))!r}")


if __name__ == "__main__":
    mwu()
    adjust()
    hl()
