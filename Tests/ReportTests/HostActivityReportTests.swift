import Analysis
import Foundation
import Report
import TestSupport
import TraceModel
import XCTest

/// What the host ran during host-bound GPU idle time, and the Python-function tables of a
/// recording without operators, in every report format.
final class HostActivityReportTests: XCTestCase {
    /// One step: the GPU waits 0..12 us for the first launch and 30..75 us while the host runs
    /// `aten::slow_host` and then launches the second kernel.
    let hostBoundTrace = TestSupport.kineto([
        x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
        x("train.py(10): step", "python_function", "0", "100", "1", "1", ""),
        x("cudaLaunchKernel", "cuda_runtime", "10", "2", "1", "1", #""correlation": 1"#),
        x("aten::slow_host", "cpu_op", "30", "40", "1", "1", ""),
        x("cudaLaunchKernel", "cuda_runtime", "70", "2", "1", "1", #""correlation": 2"#),
        x("gemm_a", "kernel", "12", "18", "0", "7", #""correlation": 1"#),
        x("gemm_b", "kernel", "75", "15", "0", "7", #""correlation": 2"#),
    ])

    func testHostBoundIdleListsTheInnermostHostSlices() throws {
        let r = try report([hostBoundTrace])
        let rank = r.ranks[0]
        XCTAssertEqual(rank.analysis.steps[0].gpu?[.hostBound], 57_000)
        let h = try XCTUnwrap(rank.hostBound.first)
        XCTAssertEqual(h.step, "ProfilerStep#1")
        XCTAssertEqual(h.hostBound, 57_000)
        XCTAssertEqual(h.top.map(\.name), ["aten::slow_host", "train.py(10): step", "cudaLaunchKernel"])
        XCTAssertEqual(h.top.map(\.ns), [40_000, 13_000, 4_000])
        XCTAssertEqual(h.top.map(\.python), [false, true, false])

        let text = r.render(.text)
        XCTAssertTrue(text.contains("While the GPU waited for the host"), text)
        XCTAssertTrue(text.contains("aten::slow_host 40.0 us"), text)
        XCTAssertTrue(r.render(.markdown).contains("`aten::slow_host` 40.0 us"))
        let json = try parseJSON(r.render(.json))
        let ranks = try XCTUnwrap(json["ranks"] as? [[String: Any]])
        let hb = try XCTUnwrap(ranks[0]["host_bound"] as? [[String: Any]])
        XCTAssertEqual(int(hb[0]["host_bound_ns"]), 57_000)
        let top = try XCTUnwrap(hb[0]["top"] as? [[String: Any]])
        XCTAssertEqual(top.map { $0["kind"] as? String }, ["operator", "python", "operator"])
        XCTAssertEqual(top.map { int($0["ns"]) }, [40_000, 13_000, 4_000])
    }

    /// A Python-only recording: `a` calls `b`, which calls `a` again.
    let pythonOnly = TestSupport.kineto([
        x("a", "python_function", "0", "100", "1", "1", ""),
        x("b", "python_function", "10", "40", "1", "1", ""),
        x("a", "python_function", "20", "10", "1", "1", ""),
    ])

    func testTheStepSliceItselfIsNotListed() throws {
        // Nothing but the step covers the gaps: nothing is listed.
        let r = try report([TestSupport.kineto([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("cudaLaunchKernel", "cuda_runtime", "50", "2", "1", "1", #""correlation": 1"#),
            x("gemm_a", "kernel", "60", "10", "0", "7", #""correlation": 1"#),
        ])])
        let h = try XCTUnwrap(r.ranks[0].hostBound.first)
        XCTAssertEqual(h.hostBound, 60_000)
        XCTAssertEqual(h.top.map(\.name), ["cudaLaunchKernel"])
        XCTAssertTrue(r.render(.text).contains("ProfilerStep#1 60.0 us: cudaLaunchKernel 2.0 us"), r.render(.text))
    }

    func testPythonOnlyRecordingShowsTopPythonFunctions() throws {
        let r = try report([pythonOnly])
        let fns = r.ranks[0].pythonFunctions
        XCTAssertTrue(r.ranks[0].analysis.operators.isEmpty)
        XCTAssertEqual(fns.map(\.name), ["a", "b"])
        XCTAssertEqual(fns.map(\.selfNs), [70_000, 30_000])
        XCTAssertEqual(fns.map(\.totalNs), [100_000, 40_000])  // the inner `a` is inside the outer
        XCTAssertEqual(fns.map(\.count), [2, 1])
        let text = r.render(.text)
        XCTAssertTrue(text.contains("top Python functions by self time"), text)
        XCTAssertFalse(text.contains("Top operators"), text)
        XCTAssertTrue(r.render(.markdown).contains("| 70.0 us | 100.0 us | 2 | `a` |"), r.render(.markdown))
        let json = try parseJSON(r.render(.json))
        let ranks = try XCTUnwrap(json["ranks"] as? [[String: Any]])
        let pf = try XCTUnwrap(ranks[0]["python_functions"] as? [[String: Any]])
        XCTAssertEqual(pf.map { $0["name"] as? String }, ["a", "b"])
        XCTAssertEqual(pf.map { int($0["self_ns"]) }, [70_000, 30_000])
    }

    func testTracesWithOperatorsKeepTheOperatorTables() throws {
        let r = try report([hostBoundTrace])
        XCTAssertTrue(r.ranks[0].pythonFunctions.isEmpty)
        XCTAssertTrue(r.render(.text).contains("Top operators by self time"))
        XCTAssertNil((try parseJSON(r.render(.json))["ranks"] as? [[String: Any]])?[0]["python_functions"])
    }
}
