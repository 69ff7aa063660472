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
        let s = Analyzer.samples(ranks: [RankReport(trace: trace, analysis: a, samples: true)], communication: nil)
        let phase = a.facts.phase[sliceIndex(trace, "ProfilerStep#1") + 1].name
        let key = MetricKey(.opSelf, "aten::mm [\(phase)]")
        XCTAssertEqual(s.metrics[key], [25_000, 37_000])
        XCTAssertEqual(s.shapeMetrics[key]?["[[8, 64]]"], [20_000, 30_000])
        XCTAssertEqual(s.shapeMetrics[key]?["[[16, 64]]"], [5_000, 0])
        XCTAssertEqual(s.shapeMetrics[key]?.count, 2)
        XCTAssertEqual(s.shapeMetrics[MetricKey(.opTotal, "aten::mm [\(phase)]")]?["[[8, 64]]"], [20_000, 30_000])
        XCTAssertEqual(s.dropping(SkipSteps.count(1)).shapeMetrics[key]?["[[16, 64]]"], [0])
    }

    // MARK: Few steps: the calls decide

    /// Three steps of `steps` ns, with `calls` calls per step of `aten::mm [forward]` at one shape
    /// taking `call(step, k)` ns each (their sum is the operator's time per step).
    func threeSteps(_ steps: [Double], calls: Int = 20, _ call: (Int, Int) -> Double) -> RunSamples {
        var s = samples(steps: steps, ops: [:])
        let key = MetricKey(.opSelf, "aten::mm [forward] @ [[8, 64]]")
        let perStep = steps.indices.map { j in (0..<calls).map { call(j, $0) } }
        s.callSamples[key] = perStep
        s.metrics[key] = perStep.map { $0.reduce(0, +) }
        return s
    }

    func testThreeStepsDecideFromTheCalls() throws {
        let base = threeSteps([100, 101, 99].map { $0 * 1e6 }) { j, k in 2e6 + Double(k % 5) * 1e4 + Double(j) * 1e3 }
        // Steps +15% (no overlap), each call 1.4x: its 20 calls add ~16 ms per step.
        let slow = threeSteps([115, 116, 114].map { $0 * 1e6 }) { j, k in 1.4 * (2e6 + Double(k % 5) * 1e4) + Double(j) * 1e3 }
        let r = Analyzer.diff(base: base, candidate: slow, options: DiffOptions())
        XCTAssertEqual(r.verdict, .regression)
        let d = try XCTUnwrap(r.decision)
        XCTAssertEqual(d.outcome, .regression)
        XCTAssertEqual(d.pairedCalls, 60)
        XCTAssertEqual(d.slowerKeys, 1)
        XCTAssertTrue(d.separated)
        XCTAssertEqual(r.calls.first?.metric.estimate?.ratio ?? 0, 1.4, accuracy: 0.01)
        XCTAssertEqual(r.calls.first?.metric.p ?? 1, 2 * pow(0.5, 60), accuracy: 1e-20)
        // Noise: the same calls, steps overlapping.
        let same = threeSteps([100.5, 99.5, 101.5].map { $0 * 1e6 }) { j, k in 2e6 + Double(k % 5) * 1e4 + Double(2 - j) * 1e3 }
        let noise = Analyzer.diff(base: base, candidate: same, options: DiffOptions())
        XCTAssertEqual(noise.verdict, .pass)
        XCTAssertEqual(noise.decision?.outcome, .noise)
        // Steps separated, calls unchanged: not explained, so inconclusive.
        let elsewhere = threeSteps([115, 116, 114].map { $0 * 1e6 }) { j, k in 2e6 + Double(k % 5) * 1e4 + Double(j) * 1e3 }
        let unexplained = Analyzer.diff(base: base, candidate: elsewhere, options: DiffOptions())
        XCTAssertEqual(unexplained.verdict, .inconclusive)
        XCTAssertEqual(unexplained.decision?.outcome, .unexplained)
        // Calls 1.4x but the steps overlap: hidden, inconclusive.
        let hidden = threeSteps([100.5, 99.5, 101.5].map { $0 * 1e6 }) { j, k in 1.4 * (2e6 + Double(k % 5) * 1e4) + Double(j) * 1e3 }
        XCTAssertEqual(Analyzer.diff(base: base, candidate: hidden, options: DiffOptions()).decision?.outcome, .hidden)
        // Steps faster beyond the threshold with faster calls: an improvement, a pass.
        let fast = threeSteps([85, 86, 84].map { $0 * 1e6 }) { j, k in 0.6 * (2e6 + Double(k % 5) * 1e4) + Double(j) * 1e3 }
        let better = Analyzer.diff(base: base, candidate: fast, options: DiffOptions())
        XCTAssertEqual(better.verdict, .pass)
        XCTAssertEqual(better.decision?.outcome, .improvement)
        XCTAssertEqual(better.metrics.first { $0.key.kind == .step }?.verdict, .improvement)
        // Two steps are too few even with calls.
        var two = base, twoSlow = slow
        for r in [0, 1] {
            let s = r == 0 ? base : slow
            var t = s
            t.steps = Array(s.steps.prefix(2))
            t.metrics = s.metrics.mapValues { Array($0.prefix(2)) }
            t.callSamples = s.callSamples.mapValues { Array($0.prefix(2)) }
            if r == 0 { two = t } else { twoSlow = t }
        }
        let short = Analyzer.diff(base: two, candidate: twoSlow, options: DiffOptions())
        XCTAssertEqual(short.verdict, .inconclusive)
        XCTAssertNil(short.decision)
    }

    func testSamplesKeepEachCallOfAnOperatorByShapeAndOfAKernel() throws {
        let trace = try TestSupport.trace(TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("aten::mm", "cpu_op", "10", "20", "1", "1", #""Input Dims": [[8, 64]]"#),
            x("aten::mm", "cpu_op", "40", "5", "1", "1", #""Input Dims": [[8, 64]]"#),
            x("aten::mm", "cpu_op", "50", "7", "1", "1", ""),
            x("ProfilerStep#2", "user_annotation", "100", "100", "1", "1", ""),
            x("aten::mm", "cpu_op", "110", "30", "1", "1", #""Input Dims": [[8, 64]]"#),
        ]))
        let a = Analyzer.analyze(trace, options: AnalysisOptions())
        let s = Analyzer.samples(ranks: [RankReport(trace: trace, analysis: a, samples: true)], communication: nil)
        let phase = a.facts.phase[sliceIndex(trace, "ProfilerStep#1") + 1].name
        XCTAssertEqual(s.callSamples[MetricKey(.opSelf, "aten::mm [\(phase)] @ [[8, 64]]")], [[20_000, 5_000], [30_000]])
        XCTAssertEqual(s.callSamples[MetricKey(.opSelf, "aten::mm [\(phase)]")], [[7_000], []])
        XCTAssertEqual(s.dropping(.count(1)).callSamples[MetricKey(.opSelf, "aten::mm [\(phase)] @ [[8, 64]]")], [[30_000]])
        XCTAssertEqual(Analyzer.spread((0..<200).map(Double.init)).count, RunSamples.callsPerStep)
        XCTAssertEqual(Analyzer.spread((0..<128).map(Double.init)), stride(from: 0, to: 128, by: 2).map(Double.init))
    }

    /// The sampler keeps, without holding the rest, exactly the calls `spread` picks from each
    /// whole list, for lists of every length around the limit and interleaved with each other.
    func testTheCallSamplerPicksWhatSpreadPicks() {
        for n in [0, 1, 63, 64, 65, 100, 127, 128, 129, 1000, 4097] {
            var sampler = Analyzer.CallSampler(steps: 2)
            let a = sampler.key("a"), b = sampler.key("b")
            XCTAssertEqual(sampler.key("a"), a)
            let calls = (0..<n).map { Double($0 * 3 + 1) }
            sampler.count(a * 2 + 1, by: n)
            for _ in 0..<7 { sampler.count(b * 2) }
            for (k, v) in calls.enumerated() {
                sampler.offer(a * 2 + 1, v)
                if k < 7 { sampler.offer(b * 2, -v) }
            }
            if n < 7 { for k in n..<7 { sampler.offer(b * 2, -Double(k * 3 + 1)) } }
            var out: [String: [Double]] = [:]
            sampler.emit { label, step, list in out["\(label)\(step)"] = list }
            XCTAssertEqual(out["a1"] ?? [], Analyzer.spread(calls), "n = \(n)")
            XCTAssertEqual(out["b0"], (0..<7).map { -Double($0 * 3 + 1) })
            XCTAssertNil(out["a0"])
            XCTAssertNil(out["b1"])
        }
    }

    /// A trace step with more calls than the limit keeps the calls `spread` picks, in call order.
    func testSamplesOfManyCallsAreSpreadOverTheStep() throws {
        let calls = 150
        var events = [x("ProfilerStep#1", "user_annotation", "0", "\(calls * 10)", "1", "1", "")]
        for k in 0..<calls { events.append(x("aten::add", "cpu_op", "\(k * 10)", "\(k % 7 + 1)", "1", "1", "")) }
        let trace = try TestSupport.trace(TestSupport.kineto(events))
        let a = Analyzer.analyze(trace, options: AnalysisOptions())
        let s = Analyzer.samples(ranks: [RankReport(trace: trace, analysis: a, samples: true)], communication: nil)
        let phase = a.facts.phase[sliceIndex(trace, "ProfilerStep#1") + 1].name
        let all = (0..<calls).map { Double(($0 % 7 + 1) * 1000) }
        XCTAssertEqual(s.callSamples[MetricKey(.opSelf, "aten::add [\(phase)]")], [Analyzer.spread(all)])
    }

    func testAConsistentDimensionChangeIsOneGroup() {
        func run(_ d: Int) -> RunSamples {
            var s = RunSamples()
            s.steps = ["ProfilerStep#1"]
            s.metrics[MetricKey(.step, "")] = [1e6]
            let shapes: [String: [String]] = [
                "aten::mm [forward]": ["[[8, \(d)], [\(d), \(3 * d)]]", "[[8, 7]]"],
                "aten::add [forward]": ["[[8, \(d)], [8, \(d)]]"],
                "aten::detach [backward]": ["[[\(d * d)]]"],
                "aten::cat [forward]": ["[[8, 5]]"],
            ]
            for (op, list) in shapes {
                let key = MetricKey(.opSelf, op)
                s.metrics[key] = [1000]
                for shape in list {
                    s.shapeMetrics[key, default: [:]][shape] = [500]
                }
            }
            return s
        }
        var other = run(768)
        other.shapeMetrics[MetricKey(.opSelf, "aten::cat [forward]")] = ["[[8, 6]]": [500]]
        let r = Analyzer.diff(base: run(512), candidate: other, options: DiffOptions())
        XCTAssertEqual(r.shapeGroups.count, 1)
        let g = r.shapeGroups[0]
        XCTAssertEqual(g.summary, "dimension 512 -> 768 in 3 ops (scaled alike: 1536 -> 2304, 262144 -> 589824)")
        XCTAssertEqual(g.operators, ["aten::add [forward]", "aten::detach [backward]", "aten::mm [forward]"])
        // aten::mm shares a shape, so its shapes are rows: the changed one is added and removed, in the group.
        XCTAssertTrue(g.members.contains(MetricKey(.opSelf, "aten::mm [forward] @ [[8, 768], [768, 2304]]")))
        XCTAssertTrue(g.members.contains(MetricKey(.opSelf, "aten::mm [forward] @ [[8, 512], [512, 1536]]")))
        // aten::cat's 5 -> 6 is another change, not in the group.
        XCTAssertTrue(r.structural.contains("aten::cat [forward]: input shapes changed (1 -> 1 distinct)"))
        XCTAssertTrue(Analyzer.diff(base: run(512), candidate: run(512), options: DiffOptions()).shapeGroups.isEmpty)
        XCTAssertEqual(Analyzer.shapeTokens("[[8, 512], []]").numbers, [8, 512])
        XCTAssertEqual(Analyzer.shapeTokens("[[8, 512], []]").skeleton, "[[#, #], []]")
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
        let s = Analyzer.samples(ranks: [RankReport(trace: trace, analysis: a, samples: true)], communication: nil)
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

/// Metrics absent from both runs stay out of the multiple-testing family.
final class DiffFamilyTests: XCTestCase {
    func testAPhaseZeroInBothRunsDoesNotWeakenHolm() {
        func run(_ steps: [Double], extraZeroPhases: Int) -> RunSamples {
            var r = RunSamples()
            r.ranks = 1
            r.steps = steps.indices.map { "ProfilerStep#\($0)" }
            r.metrics[MetricKey(.step, "")] = steps
            r.metrics[MetricKey(.phase, "forward")] = steps.map { $0 / 2 }
            for k in 0..<extraZeroPhases { r.metrics[MetricKey(.phase, "absent\(k)")] = steps.map { _ in 0 } }
            return r
        }
        let base = [100.0, 101, 99, 100, 102, 98].map { $0 * 1e6 }, cand = [120.0, 121, 119, 120, 122, 118].map { $0 * 1e6 }
        let plain = Analyzer.diff(base: run(base, extraZeroPhases: 0), candidate: run(cand, extraZeroPhases: 0), options: DiffOptions())
        let padded = Analyzer.diff(base: run(base, extraZeroPhases: 5), candidate: run(cand, extraZeroPhases: 5), options: DiffOptions())
        func adjusted(_ r: DiffResult) -> Double { r.metrics.first { $0.key.kind == .step }!.adjustedP }
        XCTAssertEqual(adjusted(plain), adjusted(padded))
        XCTAssertEqual(padded.verdict, .regression)
    }
}
