@testable import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// `--step-range NAME`: steps from a named range when a trace has no `ProfilerStep#N`.
final class StepRangeTests: XCTestCase {
    let events = [
        TestSupport.x("train_step", cat: "user_annotation", ts: "10", dur: "100"),
        TestSupport.x("aten::mm", ts: "20", dur: "50"),
        TestSupport.x("train_step", cat: "user_annotation", ts: "200", dur: "80"),
        TestSupport.x("logging", ts: "300", dur: "5"),
    ]

    func steps(_ json: String, range: String?) throws -> [Step] {
        Analyzer.analyze(try TestSupport.trace(json), options: AnalysisOptions(stepRange: range)).steps
    }

    func testNamedRangesBecomeNumberedSteps() throws {
        let s = try steps(TestSupport.kineto(events), range: "train_step")
        XCTAssertEqual(s.map(\.name), ["train_step#1", "train_step#2"])
        XCTAssertEqual(s.map(\.start), [10_000, 200_000])
        XCTAssertEqual(s.map(\.dur), [100_000, 80_000])
    }

    func testWithoutTheOptionOrAMatchTheWholeTraceIsOneStep() throws {
        XCTAssertEqual(try steps(TestSupport.kineto(events), range: nil).map(\.name), ["trace"])
        XCTAssertEqual(try steps(TestSupport.kineto(events), range: "no_such_range").map(\.name), ["trace"])
    }

    func testProfilerStepsWinOverTheNamedRange() throws {
        let json = TestSupport.kineto(events + [TestSupport.x("ProfilerStep#7", cat: "user_annotation", ts: "0", dur: "400")])
        XCTAssertEqual(try steps(json, range: "train_step").map(\.name), ["ProfilerStep#7"])
    }
}
