import TerminalUI
import TestSupport
import XCTest

/// The timeline's expanded lanes, name search, launch links, memory lanes and labels (issue 18).
final class TimelineNavigationTests: XCTestCase {
    /// Python frames three deep, then operators four deep under them: the default lanes show the
    /// three shallowest operator depths only.
    static let deepTrace = TestSupport.kineto([
        Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "1000"),
        Fixtures.x("train.py(10): main", cat: "python_function", ts: "0", dur: "1000"),
        Fixtures.x("model.py(20): forward", cat: "python_function", ts: "0", dur: "1000"),
        Fixtures.x("aten::linear", ts: "0", dur: "900"),
        Fixtures.x("aten::addmm", ts: "0", dur: "800"),
        Fixtures.x("aten::mul", ts: "0", dur: "700"),
        Fixtures.x("aten::deepest_op", ts: "0", dur: "600"),
    ])

    func testExpandShowsEveryDepthAndBack() throws {
        let app = Fixtures.app(try Fixtures.model(Self.deepTrace), tab: 3)
        let before = Fixtures.render(app)
        XCTAssertFalse(before.text.contains("aten::deepest_op"), before.text)
        XCTAssertFalse(before.text.contains("model.py(20)"), before.text)
        XCTAssertTrue(before.text.contains("aten::linear"), before.text)
        let open = Fixtures.render(app, "e")
        XCTAssertTrue(open.text.contains("aten::deepest_op"), open.text)
        XCTAssertTrue(open.text.contains("model.py(20)"), open.text)
        XCTAssertTrue(open.line(2).hasPrefix("▾r0"), open.line(2))
        XCTAssertTrue(open.text.contains(" ·6"), open.text)
        assertSnapshot(open, "timeline-expanded")
        let closed = Fixtures.render(app, "e")
        XCTAssertFalse(closed.text.contains("aten::deepest_op"), closed.text)
    }

    func testSearchJumpsFromMatchToMatchAcrossLanes() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 3)
        var screen = Fixtures.render(app, "0hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh")  // the cursor at the start of the run
        screen = Fixtures.render(app, "/GEMM<Enter>")
        XCTAssertTrue(screen.line(23).contains("/gemm: 1 of 2"), screen.line(23))
        XCTAssertTrue(screen.text.contains("gemm_kernel"), screen.text)
        XCTAssertTrue(screen.text.contains("at +12.0 us"), screen.text)
        // The match is highlighted in the lane.
        let row = try XCTUnwrap((2..<18).first { screen.line($0).contains("gemm_kernel") }, screen.text)
        let col = try XCTUnwrap(screen.line(row).range(of: "gemm_kernel")).lowerBound.utf16Offset(in: screen.line(row))
        XCTAssertEqual(screen[row, col].style, Theme.match)
        screen = Fixtures.render(app, "n")
        XCTAssertTrue(screen.line(23).contains("/gemm: 2 of 2"), screen.line(23))
        XCTAssertTrue(screen.text.contains("at +108.0 us"), screen.text)
        screen = Fixtures.render(app, "N")
        XCTAssertTrue(screen.line(23).contains("/gemm: 1 of 2"), screen.line(23))
        screen = Fixtures.render(app, "/no such name<Enter>")
        XCTAssertTrue(screen.line(23).contains("no match"), screen.line(23))
        screen = Fixtures.render(app, "<Esc>")
        XCTAssertFalse(screen.line(23).contains("/no such"), screen.line(23))
    }

    func testSearchExpandsToAHiddenDepthAndLinksTheLaunchToItsKernel() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 3)
        // cudaLaunchKernel is at depth 4, below the three lanes shown: the search opens its thread.
        var screen = Fixtures.render(app, "/cudaLaunch<Enter>")
        XCTAssertTrue(screen.text.contains("rank 0 · cuda_runtime"), screen.text)
        XCTAssertTrue(screen.text.contains("GPU kernels (1): gemm_kernel x1"), screen.text)
        let gpu = try XCTUnwrap((2..<18).first { screen.line($0).hasPrefix("r0 gpu") }, screen.text)
        let arrow = try XCTUnwrap(screen.line(gpu).firstIndex(of: "↓"), screen.line(gpu))
        let col = screen.line(gpu).distance(from: screen.line(gpu).startIndex, to: arrow)
        XCTAssertEqual(screen[gpu, col].style, Theme.match)
        assertSnapshot(screen, "timeline-launch-link")
        // `f` follows the link to the kernel, whose launch is then marked above.
        screen = Fixtures.render(app, "f")
        XCTAssertTrue(screen.text.contains("launched by: cudaLaunchKernel in aten::mm"), screen.text)
        XCTAssertTrue(screen.text.contains("↑"), screen.text)
        XCTAssertFalse(screen.text.contains("↓"), screen.text)
        // Zoomed in on the kernel, its launch (ended 7 us before it) is out of the window: no marker.
        screen = Fixtures.render(app, "++++")
        XCTAssertTrue(screen.text.contains("gemm_kernel"), screen.text)
        XCTAssertFalse(screen.text.contains("↑"), screen.text)
    }

    func testMemoryLanesShowAllocatedAndReservedAcceleratorFirst() throws {
        let cpu = "{\"ph\": \"i\", \"s\": \"t\", \"name\": \"[memory]\", \"pid\": 1, \"tid\": 1, \"ts\": 1, \"args\": {\"Device Type\": 0, "
            + "\"Device Id\": -1, \"Bytes\": 64, \"Addr\": 9, \"Total Allocated\": 64, \"Total Reserved\": 0}}"
        let json = Fixtures.smallTrace.replacingOccurrences(of: "\n]}", with: ",\n" + cpu + "\n]}")
        let model = try Fixtures.model(json)
        XCTAssertEqual(model.ranks[0].counterLanes.map(\.name),
                       ["cuda:0 allocated", "cuda:0 reserved", "cpu allocated", "cpu reserved"])
        let app = Fixtures.app(model, tab: 3)
        var screen = Fixtures.render(app)
        let row = try XCTUnwrap((2..<18).first { screen.line($0).hasPrefix("r0 cuda:0 alloca") }, screen.text)
        XCTAssertTrue(screen.line(row).contains("▁") && screen.line(row).contains("█"), screen.line(row))
        screen = Fixtures.render(app, String(repeating: "j", count: row - 2))
        // Mid-run (80 us): the level after the free at 60 us, in bytes.
        XCTAssertTrue(screen.text.contains("memory cuda:0 allocated"), screen.text)
        XCTAssertTrue(screen.text.contains("at +80.0 us: 4.00 KiB · range 4.00 KiB to 12.0 KiB · 4 samples"), screen.text)
        // The memory view opens on the accelerator, not on `cpu`.
        let memory = Fixtures.render(Fixtures.app(model, tab: 5))
        XCTAssertTrue(memory.line(23).hasPrefix(" cuda:0 (2/2)"), memory.line(23))
    }

    func testACounterSpikeShorterThanACellIsDrawn() throws {
        // 1 us at 9 KiB within 1 ms at 1 KiB: 16 ns of the run per cell at 80 columns is 16 us.
        let json = TestSupport.kineto([
            Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "1000"),
            Fixtures.mem("0", 1024, addr: 1, total: 1024, reserved: 1024),
            Fixtures.mem("505", 8192, addr: 2, total: 9216, reserved: 9216),
            Fixtures.mem("506", -8192, addr: 2, total: 1024, reserved: 9216),
        ])
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(json), tab: 3))
        let row = try XCTUnwrap((2..<18).first { screen.line($0).hasPrefix("r0 cuda:0 alloca") }, screen.text)
        XCTAssertEqual(screen.line(row).filter { $0 == "█" }.count, 1, screen.line(row))
    }

    func testLabelsGrowWithTheScreenAndTheOverheadTrackIsNamed() throws {
        let json = TestSupport.kineto([
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 1460981, "args": {"name": "pt_main_thread"}}"#,
            Fixtures.x("aten::mm", ts: "0", dur: "100", tid: "1460981"),
            Fixtures.x("Lazy Function Loading", cat: "overhead", ts: "10", dur: "5", pid: "-1", tid: "0"),
        ])
        let app = Fixtures.app(try Fixtures.model(json), tab: 3)
        let wide = Fixtures.render(app, rows: 24, cols: 200)
        let label = try XCTUnwrap((2..<18).map { wide.line($0) }.first { $0.contains("aten::mm") }, wide.text)
        XCTAssertFalse(label.prefix(40).contains("…"), label)
        XCTAssertTrue(label.hasPrefix("r0 thread 1460981 (pt_main_thread)") || label.hasPrefix("r0 pt_main_thread"), label)
        XCTAssertTrue(wide.text.contains("r0 profiler overhead"), wide.text)
        XCTAssertFalse(wide.text.contains("-1/0"), wide.text)
    }

    func testMultiLineArgsAreShownOnOneLine() throws {
        let json = TestSupport.kineto([
            Fixtures.x("gemm", cat: "kernel", ts: "0", dur: "100", pid: "0", tid: "7", args: "\"grid\": [\n  80,\n  1,\n  1\n], \"device\": 0"),
        ])
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(json), tab: 3))
        XCTAssertTrue(screen.text.contains("args: grid=[80, 1, 1] device=0"), screen.text)
        XCTAssertFalse(screen.text.contains("\\n"), screen.text)
    }
}
