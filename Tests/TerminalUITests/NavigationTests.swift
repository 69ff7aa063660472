import TerminalUI
import XCTest

/// Scripted key sequences through the app and its views.
final class NavigationTests: XCTestCase {
    func testSwitchingViews() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace))
        XCTAssertEqual(app.active, 0)
        _ = Fixtures.render(app, "<Tab><Tab>")
        XCTAssertEqual(app.active, 2)
        _ = Fixtures.render(app, "<S-Tab>")
        XCTAssertEqual(app.active, 1)
        _ = Fixtures.render(app, "<S-Tab><S-Tab>")
        XCTAssertEqual(app.active, app.views.count - 1)
        XCTAssertEqual(app.views.last?.title, "Kernels")
        _ = Fixtures.render(app, "4")
        XCTAssertEqual(app.active, 3)
        _ = Fixtures.render(app, "9")  // no such view
        XCTAssertEqual(app.active, 3)
        let help = Fixtures.render(app, "?")
        XCTAssertTrue(app.showingHelp)
        XCTAssertTrue(help.text.contains("keys: Operators"))
        let closed = Fixtures.render(app, "x")
        XCTAssertFalse(app.showingHelp)
        XCTAssertFalse(closed.text.contains("keys: Operators"))
        XCTAssertFalse(app.quit)
        _ = Fixtures.render(app, "q")
        XCTAssertTrue(app.quit)
    }

    func testMouseClickOnTab() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace))
        var screen = Fixtures.render(app)
        let col = try XCTUnwrap(screen.line(0).range(of: "Timeline")).lowerBound.utf16Offset(in: screen.line(0))
        app.step(.mouse(MouseEvent(action: .click, row: 0, col: col)), into: &screen)
        XCTAssertEqual(app.active, 2)
    }

    func testFlameZoomSearchAndFilters() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 2)
        let flame = try XCTUnwrap(app.views[1] as? FlameView)
        // Down to the first child (backward), right to forward, down to aten::linear, zoom in.
        var screen = Fixtures.render(app, "jlj")
        XCTAssertTrue(screen.line(23).hasPrefix(" aten::linear 70.0 us"), screen.line(23))
        screen = Fixtures.render(app, "<Enter>")
        XCTAssertEqual(flame.state.zoom.count, 1)
        XCTAssertTrue(screen.line(1).contains("all › aten::linear"), screen.line(1))
        XCTAssertTrue(screen.line(2).hasPrefix("aten::linear"), screen.line(2))
        screen = Fixtures.render(app, "<Esc>")
        XCTAssertEqual(flame.state.zoom.count, 0)
        // Search: one node matches "mm" (aten::mm under aten::linear), 50 of 135 us.
        screen = Fixtures.render(app, "/mm")
        XCTAssertTrue(flame.isEditing)
        XCTAssertTrue(screen.line(23).contains("search: mm"))
        screen = Fixtures.render(app, "<Enter>")
        XCTAssertFalse(flame.isEditing)
        XCTAssertEqual(flame.state.matches.count, 1)
        XCTAssertTrue(screen.line(23).contains("/mm: 1 matches, 37.0%"), screen.line(23))
        // The match is highlighted.
        let row = try XCTUnwrap((0..<24).first { screen.line($0).contains("aten::mm") })
        let col = screen.line(row).distance(from: screen.line(row).startIndex, to: screen.line(row).range(of: "aten::mm")!.lowerBound)
        XCTAssertEqual(screen[row, col + 2].style.attrs & Style.bold, Style.bold)
        // Step filter, phase filter, GPU weight, colour mode.
        screen = Fixtures.render(app, "]")
        XCTAssertEqual(flame.filter.step, 0)
        XCTAssertTrue(flame.status.contains("step ProfilerStep#1"), flame.status)
        screen = Fixtures.render(app, "]]")
        XCTAssertNil(flame.filter.step)
        screen = Fixtures.render(app, "pp")
        XCTAssertEqual(flame.filter.phase, .forward)
        screen = Fixtures.render(app, "w")
        XCTAssertTrue(flame.weightGPU)
        XCTAssertTrue(screen.line(23).contains("GPU time"), screen.line(23))
        screen = Fixtures.render(app, "c")
        XCTAssertEqual(flame.colorMode, .category)
        // Quitting keys do nothing while typing.
        _ = Fixtures.render(app, "/q")
        XCTAssertFalse(app.quit)
        _ = Fixtures.render(app, "<Esc>")
        XCTAssertFalse(flame.isEditing)
    }

    func testOperatorsSortFilterDetail() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 4)
        let ops = try XCTUnwrap(app.views[3] as? OperatorsView)
        var screen = Fixtures.render(app)
        XCTAssertTrue(screen.line(2).hasPrefix("    46.0 us    50.0 us    35.0 us        2    25.0 us aten::mm"), screen.line(2))
        screen = Fixtures.render(app, "s")
        XCTAssertEqual(ops.sort, .inclusive)
        XCTAssertTrue(screen.line(2).contains("forward"), screen.line(2))
        XCTAssertTrue(screen.line(3).contains("aten::linear"), screen.line(3))
        screen = Fixtures.render(app, "fadd<Enter>")
        XCTAssertEqual(ops.filter, "add")
        XCTAssertTrue(screen.line(2).contains("aten::add_"), screen.line(2))
        XCTAssertFalse(screen.text.contains("aten::mm"))
        screen = Fixtures.render(app, "<Esc>")
        XCTAssertEqual(ops.filter, "")
        screen = Fixtures.render(app, "gjj")  // the third row by inclusive time: aten::mm
        screen = Fixtures.render(app, "<Enter>")
        XCTAssertEqual(ops.detail, "aten::mm")
        XCTAssertTrue(screen.text.contains("called from (1)"), screen.text)
        XCTAssertTrue(screen.text.contains("aten::linear"))
        XCTAssertTrue(screen.text.contains("GPU kernels launched inside (1)"))
        XCTAssertTrue(screen.text.contains("35.0 us gemm_kernel"), screen.text)
        screen = Fixtures.render(app, "p")
        XCTAssertEqual(ops.phase, .data)
        XCTAssertTrue(screen.line(23).contains("phase data"))
    }

    func testTimelineZoomPanAndSteps() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 3)
        let timeline = try XCTUnwrap(app.views[2] as? TimelineView)
        let full = timeline.window
        XCTAssertEqual(full, 0..<160_000)
        _ = Fixtures.render(app, "+")
        XCTAssertEqual(timeline.window.count, 80_000)
        _ = Fixtures.render(app, "--")
        XCTAssertEqual(timeline.window.count, 320_000)
        _ = Fixtures.render(app, "0")
        XCTAssertEqual(timeline.window, full)
        var screen = Fixtures.render(app, "]")
        XCTAssertEqual(timeline.window.lowerBound, 100_000 - 3_000)
        XCTAssertTrue(screen.text.contains("ProfilerStep#2"))
        // Click the kernel on the GPU lane: its details name what launched it.
        let gpuLane = try XCTUnwrap((0..<24).first { screen.line($0).hasPrefix("r0 gpu") })
        let line = screen.line(gpuLane)
        let col = line.distance(from: line.startIndex, to: try XCTUnwrap(line.range(of: "gemm")).lowerBound)
        app.step(.mouse(MouseEvent(action: .click, row: gpuLane, col: col + 2)), into: &screen)
        XCTAssertTrue(screen.text.contains("launched by: cudaLaunchKernel in aten::mm"), screen.text)
        let before = timeline.cursorTime
        _ = Fixtures.render(app, "l")
        XCTAssertGreaterThan(timeline.cursorTime, before)
        _ = Fixtures.render(app, "H")
        XCTAssertLessThan(timeline.window.lowerBound, 100_000)
    }

    func testRankKeyCyclesRanks() throws {
        let app = Fixtures.app(try Fixtures.sample("ddp2_straggler"))
        XCTAssertEqual(app.context?.rank, 0)
        let screen = Fixtures.render(app, "r", cols: 120)
        XCTAssertEqual(app.context?.rank, 1)
        XCTAssertTrue(screen.text.contains("Steps of rank 1 "), screen.text)
        XCTAssertTrue(screen.line(0).contains("rank 1 of 2"), screen.line(0))
    }
}
