import Formatting
import TerminalUI
import TestSupport
import XCTest

/// The kernel summary (nsys `cuda_gpu_kern_sum` style), and the Overview and Memory defects of issue 18.
final class KernelsViewTests: XCTestCase {
    static func kernel(_ name: String, ts: String, dur: String, corr: Int, grid: String = "[80, 1, 1]") -> String {
        Fixtures.x(name, cat: "kernel", ts: ts, dur: dur, pid: "0", tid: "7",
                   args: "\"correlation\": \(corr), \"grid\": \(grid), \"block\": [256, 1, 1], \"registers per thread\": 32, \"shared memory\": 4096")
    }

    static func launch(ts: String, corr: Int) -> String {
        Fixtures.x("cudaLaunchKernel", cat: "cuda_runtime", ts: ts, dur: "2", args: "\"correlation\": \(corr)")
    }

    static let trace = TestSupport.kineto([
        Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "200"),
        Fixtures.x("aten::mm", ts: "0", dur: "50"), launch(ts: "1", corr: 1),
        Fixtures.x("aten::mm", ts: "60", dur: "50"), launch(ts: "61", corr: 2),
        Fixtures.x("aten::addmm", ts: "120", dur: "50"), launch(ts: "121", corr: 3),
        Fixtures.x("aten::add", ts: "180", dur: "10"), launch(ts: "181", corr: 4),
        kernel("gemm_kernel", ts: "5", dur: "10", corr: 1),
        kernel("gemm_kernel", ts: "65", dur: "30", corr: 2, grid: "[\n 160,\n 1,\n 1\n]"),
        kernel("gemm_kernel", ts: "125", dur: "20", corr: 3),
        kernel("add_kernel", ts: "185", dur: "5", corr: 4),
    ])

    func testSummaryGivesStatisticsConfigurationAndLauncher() throws {
        let model = try Fixtures.model(Self.trace)
        let rows = KernelSummary.summaries(model.ranks[0].trace, attribution: model.ranks[0].analysis.attribution)
        XCTAssertEqual(rows.map(\.name), ["gemm_kernel", "add_kernel"])
        let g = rows[0]
        XCTAssertEqual([g.count, Int(g.total), Int(g.mean), Int(g.median), Int(g.min), Int(g.max)], [3, 60_000, 20_000, 20_000, 10_000, 30_000])
        XCTAssertEqual(g.configs.map(\.arg), ["grid", "block", "registers per thread", "shared memory"])
        XCTAssertEqual(g.configs[0].values.map(\.value), ["[80, 1, 1]", "[160, 1, 1]"])
        XCTAssertEqual(g.configs[0].values.map(\.count), [2, 1])
        XCTAssertEqual(g.launchedBy.map(\.name), ["aten::mm", "aten::addmm"])
        XCTAssertEqual(g.launchedBy.map(\.count), [2, 1])
        XCTAssertEqual(KernelSummary.summaries(try Fixtures.model(Fixtures.smallTrace).ranks[0].trace,
                                               attribution: try Fixtures.model(Fixtures.smallTrace).ranks[0].analysis.attribution)[0].median, 17_500)
    }

    func testKernelsViewIsTabSeven() throws {
        let app = Fixtures.app(try Fixtures.model(Self.trace), tab: 7)
        var screen = Fixtures.render(app)
        XCTAssertTrue(screen.line(0).contains("7 Kernels"), screen.line(0))
        XCTAssertTrue(screen.line(1).contains("median"), screen.line(1))
        XCTAssertTrue(screen.line(2).contains("92.3%") && screen.line(2).contains("gemm_kernel"), screen.line(2))
        XCTAssertTrue(screen.text.contains("grid: [80, 1, 1] x2, [160, 1, 1] x1"), screen.text)
        XCTAssertTrue(screen.text.contains("registers per thread: 32"), screen.text)
        XCTAssertTrue(screen.text.contains("launched by: aten::mm x2, aten::addmm x1"), screen.text)
        assertSnapshot(screen, "kernels")
        screen = Fixtures.render(app, "sj")
        XCTAssertTrue(screen.line(23).contains("sort count"), screen.line(23))
        XCTAssertTrue(screen.text.contains("launched by: aten::add x1"), screen.text)
        XCTAssertTrue(Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 2), "?").text.contains("1-7"))
        // A filter keeps the matching kernels; Esc clears it.
        screen = Fixtures.render(app, "/ADD<Enter>")
        XCTAssertTrue(screen.line(2).contains("add_kernel"), screen.line(2))
        XCTAssertFalse(screen.text.contains("gemm_kernel"), screen.text)
        XCTAssertTrue(screen.line(23).contains("filter \"ADD\""), screen.line(23))
        screen = Fixtures.render(app, "/zzz<Enter>")
        XCTAssertTrue(screen.text.contains("no kernels match"), screen.text)
        screen = Fixtures.render(app, "<Esc>")
        XCTAssertTrue(screen.text.contains("gemm_kernel"), screen.text)
        // Enter: the timeline, on the longest gemm_kernel call (30 us at +65 us), its launch marked above.
        screen = Fixtures.render(app, "sss<Home><Enter>")
        XCTAssertEqual(app.active, 2)
        XCTAssertTrue(screen.text.contains("rank 0 · kernel · 30.0 us at +65.0 us"), screen.text)
        XCTAssertTrue(screen.text.contains("launched by: cudaLaunchKernel in aten::mm"), screen.text)
    }

    func testOverviewNamesTheLargestIdleCauses() throws {
        // Idle: a 2 us gap between kernels (kernel_gap), a sync call (sync 100 us, host_bound 10 us) and
        // a 505 us wait for a late launch (host_bound): host_bound is the largest cause.
        let json = TestSupport.kineto([
            Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "1000"),
            Self.launch(ts: "0", corr: 1), Self.kernel("k1", ts: "5", dur: "95", corr: 1),
            Self.launch(ts: "50", corr: 2), Self.kernel("k2", ts: "102", dur: "98", corr: 2),
            Fixtures.x("cudaDeviceSynchronize", cat: "cuda_runtime", ts: "200", dur: "100"),
            Self.launch(ts: "300", corr: 3), Self.kernel("k3", ts: "310", dur: "90", corr: 3),
            Self.launch(ts: "900", corr: 4), Self.kernel("k4", ts: "905", dur: "45", corr: 4),
        ])
        let model = try Fixtures.model(json)
        let g = try XCTUnwrap(model.ranks[0].analysis.gpu)
        XCTAssertGreaterThan(g[.kernelGap], 0)
        XCTAssertGreaterThan(g[.sync], 0)
        let screen = Fixtures.render(Fixtures.app(model))
        XCTAssertTrue(screen.text.contains("idle: host_bound \(formatDuration(g[.hostBound]))"), screen.text)
        XCTAssertTrue(screen.text.contains("idle: sync 100.0 us"), screen.text)
    }

    func testPeakPerStepNamesEachStep() throws {
        var events: [String] = []
        for k in 0..<3 {
            events.append(Fixtures.x("ProfilerStep#\(10 + k)", cat: "user_annotation", ts: "\(k * 100)", dur: "100"))
            events.append(Fixtures.mem("\(k * 100 + 10)", 1024 * Int64(k + 1), addr: Int64(k + 1), total: 1024 * Int64(k + 1), reserved: 8192))
        }
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(TestSupport.kineto(events)), tab: 5))
        for k in 0..<3 { XCTAssertTrue(screen.text.contains("Step#\(10 + k)"), screen.text) }
    }
}
