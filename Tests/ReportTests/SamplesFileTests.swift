import Analysis
import Report
import TraceImport
import XCTest

/// Saved samples (`stepscope summary`): what is written reads back, older versions too.
final class SamplesFileTests: XCTestCase {
    func testRoundTripKeepsMetricsAndRowsByShape() throws {
        var r = RunSamples()
        r.ranks = 2
        r.steps = ["ProfilerStep#1", "ProfilerStep#2"]
        r.skipped = ["ProfilerStep#0"]
        r.metrics[MetricKey(.step, "")] = [100, 200.5]
        r.metrics[MetricKey(.opSelf, "aten::mm [forward]")] = [30, 40]
        r.shapeMetrics[MetricKey(.opSelf, "aten::mm [forward]")] = ["[[8, 64]]": [10, 40], "[[16, 64]]": [20, 0]]
        r.calls["aten::mm [forward]"] = 1.5
        r.folded["a;b"] = 7
        let back = try SamplesFile.decode(Array(SamplesFile.encode(r).utf8), file: "s.json")
        XCTAssertEqual(back.ranks, 2)
        XCTAssertEqual(back.steps, r.steps)
        XCTAssertEqual(back.skipped, r.skipped)
        XCTAssertEqual(back.metrics, r.metrics)
        XCTAssertEqual(back.shapeMetrics, r.shapeMetrics)
        XCTAssertEqual(back.calls, r.calls)
        XCTAssertEqual(back.folded, r.folded)
    }

    func testVersionOneLoadsWithoutRowsByShapeAndBadRowsNameTheField() throws {
        let v1 = #"{"schema":"stepscope.samples","version":1,"ranks":1,"steps":["s"],"skipped":[],"#
            + #""metrics":[{"kind":"step","name":"","values":[5.0]}],"calls":{},"shapes":{"a":["[[1]]"]},"folded":{}}"#
        let r = try SamplesFile.decode(Array(v1.utf8), file: "old.json")
        XCTAssertEqual(r.metrics[MetricKey(.step, "")], [5])
        XCTAssertTrue(r.shapeMetrics.isEmpty)
        let bad = #"{"schema":"stepscope.samples","version":2,"ranks":1,"steps":["s"],"metrics":[],"#
            + #""shape_metrics":[{"kind":"op_self","name":"a","values":[1.0]}]}"#
        XCTAssertThrowsError(try SamplesFile.decode(Array(bad.utf8), file: "bad.json")) { error in
            XCTAssertEqual("\(error)", "bad.json: shape_metrics[] a: missing shape")
        }
        let future = #"{"schema":"stepscope.samples","version":3}"#
        XCTAssertThrowsError(try SamplesFile.decode(Array(future.utf8), file: "new.json"))
    }
}
