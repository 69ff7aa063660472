import Analysis
import XCTest

/// The diff model on hand-made per-step samples (docs/diff.md).
final class DiffModelTests: XCTestCase {
    func samples(steps: [Double], ops: [String: [Double]], memory: [Double]? = nil) -> RunSamples {
        var s = RunSamples()
        s.steps = steps.indices.map { "ProfilerStep#\($0)" }
        s.metrics[MetricKey(.step, "")] = steps
        for (name, values) in ops { s.metrics[MetricKey(.opSelf, name)] = values }
        if let memory { s.metrics[MetricKey(.memory, "cuda")] = memory }
        return s
    }

    let baseSteps: [Double] = [100, 102, 98, 101, 99, 100, 103, 97].map { $0 * 1_000_000 }

    func testNormalisedNamesDropAddresses() {
        XCTAssertEqual(Analyzer.normalizedName("<built-in method foo of Bar object at 0x7f6d14ac71c0>"),
                       "<built-in method foo of Bar object at 0x?>")
        XCTAssertEqual(Analyzer.normalizedName("aten::mm"), "aten::mm")
        XCTAssertEqual(Analyzer.normalizedName("0x"), "0x")
    }

    func testNoiseIsAPass() {
        let cand = [101, 99, 100, 102, 98, 100, 99, 101].map { Double($0) * 1_000_000 }
        let r = Analyzer.diff(base: samples(steps: baseSteps, ops: [:]), candidate: samples(steps: cand, ops: [:]), options: DiffOptions())
        XCTAssertEqual(r.verdict, .pass)
        XCTAssertEqual(r.metrics.first?.verdict, .noise)
    }

    func testASlowerOperatorIsARegressionNamedInTheContributorsThatAddUp() {
        // Operator "aten::mm [forward]" goes from 20 ms to 30 ms per step; steps grow by 10 ms.
        let mmBase = [Double](repeating: 20_000_000, count: 8).enumerated().map { $0.element + Double($0.offset) * 10_000 }
        let mmCand = mmBase.map { $0 + 10_000_000 }
        let base = samples(steps: baseSteps, ops: ["aten::mm [forward]": mmBase, "aten::add [forward]": [Double](repeating: 1_000_000, count: 8)])
        let cand = samples(steps: baseSteps.map { $0 + 10_000_000 }, ops: ["aten::mm [forward]": mmCand, "aten::add [forward]": [Double](repeating: 1_000_000, count: 8)])
        let r = Analyzer.diff(base: base, candidate: cand, options: DiffOptions())
        XCTAssertEqual(r.verdict, .regression)
        XCTAssertEqual(r.metrics.first { $0.key == MetricKey(.opSelf, "aten::mm [forward]") }?.verdict, .regression)
        XCTAssertEqual(r.metrics.first { $0.key == MetricKey(.step, "") }?.verdict, .regression)
        XCTAssertEqual(r.contributors.first?.name, "aten::mm [forward]")
        XCTAssertEqual(r.contributors.reduce(0) { $0 + $1.deltaNs }, r.stepChangeNs, accuracy: 1e-6)
        XCTAssertEqual(r.stepChangeNs, 10_000_000)
    }

    func testASmallButSignificantChangeUnderTheThresholdIsNoise() {
        // Steps within +-0.3%, then +2% on every step: the samples separate completely (exact
        // p = 2/C(16,8) = 1.6e-4), but the ratio's interval (about 1.014..1.026) cannot clear the
        // 5% step threshold; with a 1% threshold it does.
        let tight: [Double] = [1000, 1001, 999, 1002, 998, 1000, 1003, 997].map { $0 * 100_000 }
        let base = samples(steps: tight, ops: [:]), cand = samples(steps: tight.map { $0 * 1.02 }, ops: [:])
        let r = Analyzer.diff(base: base, candidate: cand, options: DiffOptions())
        XCTAssertEqual(r.verdict, .pass)
        XCTAssertEqual(r.metrics.first?.verdict, .noise)
        XCTAssertLessThan(r.metrics.first?.p ?? 1, 0.001)
        var strict = DiffOptions()
        strict.thresholds[.step] = 0.01
        XCTAssertEqual(Analyzer.diff(base: base, candidate: cand, options: strict).verdict, .regression)
    }

    func testMemoryNeedsBothTheRatioAndTheAbsoluteMinimum() {
        // +10% of 1 GiB is only ~100 MiB: below the 256 MiB minimum, so not a regression.
        let gib = 1024.0 * 1024 * 1024
        let base = samples(steps: baseSteps, ops: [:], memory: (0..<8).map { gib + Double($0) })
        let cand = samples(steps: baseSteps, ops: [:], memory: (0..<8).map { gib * 1.1 + Double($0) })
        XCTAssertNotEqual(Analyzer.diff(base: base, candidate: cand, options: DiffOptions()).metrics.first { $0.key.kind == .memory }?.verdict,
                          .regression)
        let big = samples(steps: baseSteps, ops: [:], memory: (0..<8).map { gib * 1.5 + Double($0) })
        XCTAssertEqual(Analyzer.diff(base: base, candidate: big, options: DiffOptions()).metrics.first { $0.key.kind == .memory }?.verdict,
                       .regression)
    }

    func testTooFewStepsAreInconclusiveAndOneSidedOpsAreListed() {
        let r = Analyzer.diff(base: samples(steps: [100, 101, 99], ops: ["a [other]": [1, 1, 1]]),
                              candidate: samples(steps: [200, 201, 199], ops: ["b [other]": [1, 1, 1]]), options: DiffOptions())
        XCTAssertEqual(r.verdict, .inconclusive)
        XCTAssertEqual(r.added, [MetricKey(.opSelf, "b [other]")])
        XCTAssertEqual(r.removed, [MetricKey(.opSelf, "a [other]")])
    }
}
