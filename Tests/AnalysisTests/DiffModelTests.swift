@testable import Analysis
import TestSupport
import TraceModel
import XCTest

/// The diff model on hand-made per-step samples (docs/diff.md).
final class DiffModelTests: XCTestCase {
    let x = TestSupport.x

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

    /// Samples whose `aten::mm [forward]` rows are split by shapes (self time per step per shape).
    func shaped(steps: [Double], mm: [String: [Double]]) -> RunSamples {
        var s = samples(steps: steps, ops: ["aten::mm [forward]": steps.indices.map { i in mm.values.reduce(0) { $0 + $1[i] } }])
        s.shapeMetrics[MetricKey(.opSelf, "aten::mm [forward]")] = mm
        return s
    }

    func testShapesAreAFinerKeyWhenBothRunsShareOne() {
        // [[8, 64]] is unchanged, [[16, 64]] doubles (5 -> 10 ms), [[32, 64]] is new.
        let ms = { (v: Double) in (0..<8).map { v * 1_000_000 + Double($0) * 1_000 } }
        let base = shaped(steps: baseSteps, mm: ["[[8, 64]]": ms(10), "[[16, 64]]": ms(5)])
        let cand = shaped(steps: baseSteps.map { $0 + 6_000_000 }, mm: ["[[8, 64]]": ms(10), "[[16, 64]]": ms(10), "[[32, 64]]": ms(1)])
        let r = Analyzer.diff(base: base, candidate: cand, options: DiffOptions())
        XCTAssertNil(r.metrics.first { $0.key == MetricKey(.opSelf, "aten::mm [forward]") }, "the coarse row is replaced")
        XCTAssertEqual(r.metrics.first { $0.key == MetricKey(.opSelf, "aten::mm [forward] @ [[16, 64]]") }?.verdict, .regression)
        XCTAssertEqual(r.metrics.first { $0.key == MetricKey(.opSelf, "aten::mm [forward] @ [[8, 64]]") }?.verdict, .noise)
        XCTAssertEqual(r.added, [MetricKey(.opSelf, "aten::mm [forward] @ [[32, 64]]")])
        XCTAssertEqual(r.structural, ["aten::mm [forward]: input shapes changed (2 -> 3 distinct)"])
        XCTAssertEqual(r.contributors.first?.name, "aten::mm [forward] @ [[16, 64]]")
    }

    func testDisjointShapesOrShapesOnOneSideKeepTheNameKey() {
        let ms = { (v: Double) in (0..<8).map { v * 1_000_000 + Double($0) * 1_000 } }
        let base = shaped(steps: baseSteps, mm: ["[[8, 64]]": ms(10)])
        let cand = shaped(steps: baseSteps, mm: ["[[16, 64]]": ms(20)])
        let r = Analyzer.diff(base: base, candidate: cand, options: DiffOptions())
        XCTAssertEqual(r.metrics.first { $0.key == MetricKey(.opSelf, "aten::mm [forward]") }?.verdict, .regression)
        XCTAssertFalse(r.metrics.contains { $0.key.name.contains(" @ ") })
        XCTAssertTrue(r.added.isEmpty && r.removed.isEmpty)
        var unshaped = cand
        unshaped.shapeMetrics = [:]
        let one = Analyzer.diff(base: base, candidate: unshaped, options: DiffOptions())
        XCTAssertNotNil(one.metrics.first { $0.key == MetricKey(.opSelf, "aten::mm [forward]") })
        XCTAssertTrue(one.structural.isEmpty)
    }

    func testSamplesSplitOperatorRowsByInputShapes() throws {
        // Two steps; aten::mm with two shapes in step 1, one in step 2; one call without shapes.
        let trace = try TestSupport.trace(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("aten::mm", "cpu_op", "10", "20", "1", "1", #""Input Dims": [[8, 64]]"#),
            x("aten::mm", "cpu_op", "40", "5", "1", "1", #""Input Dims": [[16, 64]]"#),
            x("ProfilerStep#2", "user_annotation", "100", "100", "1", "1", ""),
            x("aten::mm", "cpu_op", "110", "30", "1", "1", #""Input Dims": [[8, 64]]"#),
            x("aten::mm", "cpu_op", "150", "7", "1", "1", ""),
        ]))
        let a = Analyzer.analyze(trace, options: AnalysisOptions())
        let s = Analyzer.samples(run: TraceRun(ranks: [trace]), analyses: [a], memory: [[]], communication: nil)
        let phase = a.facts.phase[sliceIndex(trace, "ProfilerStep#1") + 1].name
        let key = MetricKey(.opSelf, "aten::mm [\(phase)]")
        XCTAssertEqual(s.metrics[key], [25_000, 37_000])
        XCTAssertEqual(s.shapeMetrics[key]?["[[8, 64]]"], [20_000, 30_000])
        XCTAssertEqual(s.shapeMetrics[key]?["[[16, 64]]"], [5_000, 0])
        XCTAssertEqual(s.shapeMetrics[key]?.count, 2)
        XCTAssertEqual(s.shapeMetrics[MetricKey(.opTotal, "aten::mm [\(phase)]")]?["[[8, 64]]"], [20_000, 30_000])
        XCTAssertEqual(s.dropping(SkipSteps.count(1)).shapeMetrics[key]?["[[16, 64]]"], [0])
    }

    /// An operator inside another call of itself (directly or under other operators) adds to
    /// inclusive time once, as in the report's operator table; the folded stacks keep the nesting.
    func testInclusiveTimeCountsAnOperatorInsideItselfOnce() throws {
        let trace = try TestSupport.trace(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("aten::add", "cpu_op", "10", "50", "1", "1", ""),
            x("aten::mul", "cpu_op", "12", "30", "1", "1", ""),
            x("aten::add", "cpu_op", "15", "10", "1", "1", ""),
            x("aten::add", "cpu_op", "45", "5", "1", "1", ""),
            x("aten::add", "cpu_op", "70", "20", "1", "1", ""),
        ]))
        let a = Analyzer.analyze(trace, options: AnalysisOptions())
        let s = Analyzer.samples(run: TraceRun(ranks: [trace]), analyses: [a], memory: [[]], communication: nil)
        let phase = a.facts.phase[sliceIndex(trace, "aten::mul")].name
        XCTAssertEqual(s.metrics[MetricKey(.opTotal, "aten::add [\(phase)]")], [70_000])
        XCTAssertEqual(s.metrics[MetricKey(.opTotal, "aten::mul [\(phase)]")], [30_000])
        XCTAssertEqual(s.metrics[MetricKey(.opSelf, "aten::add [\(phase)]")], [(50 - 30 - 5 + 10 + 5 + 20) * 1000])
        XCTAssertEqual(Double(op(a, "aten::add").totalNs), s.metrics[MetricKey(.opTotal, "aten::add [\(phase)]")]?.first)
        XCTAssertEqual(s.calls["aten::add [\(phase)]"], 4)
        XCTAssertEqual(s.folded["aten::add;aten::mul;aten::add"], 10_000)
        XCTAssertEqual(s.folded["aten::add"], 15_000 + 20_000)
    }
}
