@testable import Analysis
import Report
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Steps inferred from `Optimizer.step#` when a trace has no `ProfilerStep#N` (docs/definitions.md).
final class StepInferenceTests: XCTestCase {
    typealias T = TestSupport

    /// Three optimizer steps (ends at 80, 180 and 290 us) give two steps; the partial iteration
    /// before the first end and the tail after the last are in none.
    static let threeSteps = T.kineto([
        T.x("aten::mm", ts: "0", dur: "50"),
        T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "60", dur: "20"),
        T.x("aten::mm", ts: "100", dur: "50"),
        T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "160", dur: "20"),
        T.x("aten::mm", ts: "200", dur: "50"),
        T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "260", dur: "30"),
        T.x("aten::mm", ts: "300", dur: "10"),
    ])

    func testStepsRunFromOneOptimizerEndToTheNext() throws {
        let a = Analyzer.analyze(try T.trace(Self.threeSteps))
        XCTAssertTrue(a.stepsInferred)
        XCTAssertEqual(a.steps.map(\.name), ["step#1", "step#2"])
        XCTAssertEqual(a.steps.map(\.start), [80_000, 180_000])
        XCTAssertEqual(a.steps.map(\.dur), [100_000, 110_000])
        // Step 1: aten::mm 100-150 (other), the optimizer 160-180, idle 80-100 and 150-160.
        XCTAssertEqual(a.steps[0].phases[.optimizer], 20_000)
        XCTAssertEqual(a.steps[0].phases[.idle], 30_000)
        XCTAssertEqual(a.steps[0].phases.total, 100_000)
        XCTAssertEqual(a.steps[1].phases[.optimizer], 30_000)
    }

    func testReportShowsInferredSteps() throws {
        let run = TraceRun(ranks: [try T.trace(Self.threeSteps)])
        let report = RunReport(run: run)
        let text = report.render(.text, top: 5)
        XCTAssertTrue(text.contains("steps-inferred x2"), text)
        let json = report.render(.json, top: 5)
        XCTAssertTrue(json.contains("\"code\":\"steps-inferred\"") || json.contains("\"code\": \"steps-inferred\""), json)
    }

    func testProfilerStepsWin() throws {
        let trace = try T.trace(T.kineto([
            T.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "60", dur: "20"),
            T.x("ProfilerStep#2", cat: "user_annotation", ts: "100", dur: "100"),
            T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "160", dur: "20"),
        ]))
        let a = Analyzer.analyze(trace)
        XCTAssertFalse(a.stepsInferred)
        XCTAssertEqual(a.steps.map(\.name), ["ProfilerStep#1", "ProfilerStep#2"])
        XCTAssertEqual(RunReport(run: TraceRun(ranks: [trace])).ranks[0].warnings.map(\.code), [])
    }

    func testOneOptimizerStepIsNotEnough() throws {
        let a = Analyzer.analyze(try T.trace(T.kineto([
            T.x("aten::mm", ts: "0", dur: "50"),
            T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "60", dur: "20"),
        ])))
        XCTAssertFalse(a.stepsInferred)
        XCTAssertEqual(a.steps.map(\.name), ["trace"])
    }

    /// A wrapper's nested optimizer step is not a second end; of two optimizers stepped each
    /// iteration the more frequent name marks it, on the thread with the most (tid 2, not 3).
    func testNestedAndOtherOptimizers() throws {
        var events: [String] = []
        for k in 0..<3 {
            let t = k * 100
            events.append(T.x("Optimizer.step#Wrapper.step", cat: "user_annotation", ts: "\(t + 60)", dur: "20", tid: "2"))
            events.append(T.x("Optimizer.step#Adam.step", cat: "user_annotation", ts: "\(t + 62)", dur: "10", tid: "2"))
        }
        events.append(T.x("Optimizer.step#Other.step", cat: "user_annotation", ts: "10", dur: "5", tid: "2"))
        events.append(T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "5", dur: "5", tid: "3"))
        events.append(T.x("Optimizer.step#SGD.step", cat: "user_annotation", ts: "25", dur: "5", tid: "3"))
        let trace = try T.trace(T.kineto(events))
        let inferred = try XCTUnwrap(Analyzer.inferredSteps(trace))
        XCTAssertEqual(inferred.steps.map(\.window), [80_000..<180_000, 180_000..<280_000])
    }

    /// On real traces with ProfilerSteps, the steps inferred from their optimizer agree with the
    /// profiler's: the inferred step k ends where ProfilerStep k+1's optimizer step ends, and
    /// lasts as long as that step within a tenth (steps run back to back, the optimizer last).
    func testAgreesWithProfilerStepsOnSharedTraces() throws {
        guard let shared = T.sharedTraces else { throw XCTSkip("../shared/traces is absent: skipping the conformance check") }
        for file in ["torch-cpu/single/single.pt.trace.json.gz", "hta/df_index_resolver/df_index_resolver.json.gz"] {
            let trace = try TraceLoader.load(path: shared + "/" + file)
            let profiled = Analyzer.analyze(trace).steps
            let inferred = try XCTUnwrap(Analyzer.inferredSteps(trace), file).steps
            XCTAssertEqual(inferred.count, profiled.count - 1, file)
            for (k, step) in inferred.enumerated() {
                let p = profiled[k + 1]
                XCTAssertLessThanOrEqual(step.window.upperBound, p.start + p.dur, file)
                let dur = Double(step.window.upperBound - step.window.lowerBound)
                XCTAssertEqual(dur, Double(p.dur), accuracy: 0.1 * Double(p.dur), "\(file) \(p.name)")
            }
        }
    }
}
