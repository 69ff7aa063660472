import Analysis
import TerminalUI
import TestSupport
import TraceImport
import XCTest

/// The issue-18 views on real traces from `../shared/traces` (skipped when the folder is absent).
final class RealTraceViewTests: XCTestCase {
    func model(_ path: String) throws -> RunModel {
        guard let root = TestSupport.sharedTraces else { throw XCTSkip("../shared/traces is absent: real-trace view tests skipped") }
        let run = try TraceLoader.loadRun(paths: [root + "/" + path])
        return RunModel(run: run, report: RunReport(run: run))
    }

    /// TraceLens B200: CUPTI's overhead track (pid -1) is named, kernels carry grid, block,
    /// registers and shared memory, and every kernel's launching operator is known or said unknown.
    func testB200KernelSummaryAndOverheadTrack() throws {
        let m = try model("tracelens/b200/eager_trace.json.gz")
        let rank = m.ranks[0]
        XCTAssertTrue(rank.lanes.contains { $0.name == "profiler overhead" })
        XCTAssertFalse(rank.lanes.contains { $0.name.hasPrefix("-1/") })
        let rows = KernelSummary.summaries(rank.trace, attribution: rank.analysis.attribution)
        XCTAssertFalse(rows.isEmpty)
        let kernels = rank.trace.slices.kind.filter { $0.isGPUActivity }.count
        XCTAssertEqual(rows.reduce(0) { $0 + $1.count }, kernels)
        let top = rows[0]
        XCTAssertEqual(top.configs.map(\.arg), ["grid", "block", "registers per thread", "shared memory"])
        XCTAssertTrue(top.configs[0].values.allSatisfy { !$0.value.contains("\n") })
        XCTAssertLessThanOrEqual(top.min, top.median)
        XCTAssertLessThanOrEqual(top.median, top.max)
        XCTAssertTrue(top.launchedBy.contains { !$0.name.hasPrefix("(") && !$0.name.hasPrefix("cuda") }, "\(top.launchedBy)")
        let screen = Fixtures.render(Fixtures.app(m, tab: 7), rows: 40, cols: 160)
        XCTAssertTrue(screen.text.contains("grid: "), screen.text)
        XCTAssertTrue(screen.text.contains("launched by: "), screen.text)
    }

    /// ResNet-50 (2021 Kineto): memory lanes for the GPU come before the CPU's, and the Memory view
    /// opens on the GPU.
    func testResNetMemoryLanesAndDeviceChoice() throws {
        let m = try model("kineto/resnet50_num_workers_0.worker0.1623143089861.pt.trace.json.gz")
        let names = m.ranks[0].counterLanes.map(\.name)
        XCTAssertEqual(names.first, "cuda:0 allocated", "\(names)")
        XCTAssertTrue(names.contains("cpu allocated"), "\(names)")
        let memory = Fixtures.render(Fixtures.app(m, tab: 5))
        XCTAssertTrue(memory.line(23).hasPrefix(" cuda:0"), memory.line(23))
    }

    /// TinyGPT on CPU with `with_stack`: operators sit under Python frames, deeper than the three
    /// default lanes; expanding the main thread shows them.
    func testTinyGPTExpandShowsOperatorsUnderPythonFrames() throws {
        let m = try model("torch-cpu/single")
        let rank = m.ranks[0]
        let s = rank.trace.slices
        let main = try XCTUnwrap(rank.lanes.first?.track)
        let shown = Set(rank.lanes.filter { $0.track == main }.map(\.depth))
        let all = Lane.lanes(of: rank.trace, track: main, allDepths: true)
        XCTAssertGreaterThan(all.count, shown.count)
        let hidden = all.filter { !shown.contains($0.depth) }
        XCTAssertTrue(hidden.contains { l in l.slices.contains { s.kind[Int($0)] == .pythonFunction } })
        XCTAssertTrue(hidden.contains { l in l.slices.contains { s.kind[Int($0)] == .cpuOp } })
    }
}
