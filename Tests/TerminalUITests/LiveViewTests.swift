import Analysis
import TerminalUI
import XCTest

/// The views of `stepscope top` on hand-made snapshots: layout, sorting, and the flame graph
/// keeping its zoom across refreshes.
final class LiveViewTests: XCTestCase {
    func snapshot(_ scale: Double = 1) -> LiveSnapshot {
        var s = LiveSnapshot()
        s.title = "pid 4242 (CPython 3.11)"
        s.windowSeconds = 10
        s.coveredSeconds = 10
        s.samples = 1000
        s.phaseShares = [.forward: 0.5, .backward: 0.3, .optimizer: 0.1, .idle: 0.1]
        s.functions = [
            LiveSnapshot.Row(name: "matmul", location: "model.py:12", selfShare: 0.4, totalShare: 0.4),
            LiveSnapshot.Row(name: "train_step", location: "train.py:30", selfShare: 0.05, totalShare: 0.9),
            LiveSnapshot.Row(name: "evil\u{1b}[31m", location: "x.py:1", selfShare: 0.1, totalShare: 0.2),
        ]
        s.operators = [LiveSnapshot.Row(name: "aten::mm", selfShare: 0.35, totalShare: 0.4)]
        s.threads = [LiveSnapshot.Thread(pid: 4242, tid: 4242, name: "MainThread", active: true, activeShare: 0.9, gilShare: 0.85),
                     LiveSnapshot.Thread(pid: 4242, tid: 4250, name: "autograd", active: false, activeShare: 0.2, gilShare: 0)]
        s.rss = [100, 200, 300, 400].map { Int64($0 * scale) << 20 }
        s.folded = ["train.py:main;train_step;forward;matmul": 400 * scale, "train.py:main;train_step;backward": 300, "train.py:main;train_step;step": 100]
        return s
    }

    func render(_ app: App, _ script: String = "") -> ScreenBuffer {
        var screen = ScreenBuffer(rows: 24, cols: 80)
        app.render(into: &screen)
        for key in Key.script(script) { app.step(key, into: &screen) }
        return screen
    }

    func testSummaryShowsPhasesTablesThreadsAndMemory() {
        let live = LiveView(snapshot())
        let screen = render(App(views: [live, LiveFlameView(snapshot())], name: "top"))
        let text = screen.text
        XCTAssertTrue(screen.line(0).contains("1 Live"), screen.line(0))
        XCTAssertTrue(screen.line(0).contains("2 Flame"), screen.line(0))
        XCTAssertTrue(screen.line(2).contains("forward 50.0%") && screen.line(2).contains("backward 30.0%"), screen.line(2))
        // Sorted by self share: matmul first, the escaped name, then train_step.
        let rows = screen.text.split(separator: "\n").map(String.init).filter { $0.contains("%") && ($0.contains("matmul") || $0.contains("train_step") || $0.contains("evil")) }
        XCTAssertEqual(rows.count, 3, text)
        XCTAssertTrue(rows[0].contains("40.0%") && rows[0].contains("matmul  model.py:12"), rows[0])
        XCTAssertTrue(rows[1].contains("evil\\x1b[31m"), rows[1])
        XCTAssertTrue(text.contains("aten::mm"), text)
        XCTAssertTrue(text.contains("MainThread") && text.contains("running") && text.contains("idle"), text)
        XCTAssertTrue(text.contains("RSS 400 MiB"), text)
        XCTAssertTrue(screen.line(23).contains("1000 samples in 10 s"), screen.line(23))
        // The first phase segment of the bar is in the forward colour.
        XCTAssertEqual(screen[1, 1].style.fg, Theme.color(.forward))
    }

    func testSortByTotal() {
        let app = App(views: [LiveView(snapshot())], name: "top")
        let screen = render(app, "s")
        let first = screen.text.split(separator: "\n").map(String.init).first { $0.contains("train_step") || $0.contains("matmul") } ?? ""
        XCTAssertTrue(first.contains("train_step"), screen.text)
        XCTAssertTrue(screen.line(23).contains("by total"), screen.line(23))
    }

    func testFlameKeepsItsZoomAcrossRefreshes() {
        let flame = LiveFlameView(snapshot())
        let app = App(views: [flame], name: "top")
        // Select train.py:main, then train_step, zoom into it.
        var screen = render(app, "j")
        XCTAssertTrue(screen.line(23).hasPrefix(" train.py:main 100.0%"), screen.line(23))
        screen = render(app, "j<Enter>")
        XCTAssertEqual(flame.state.zoom.count, 1)
        flame.update(snapshot(2))
        app.render(into: &screen)
        XCTAssertEqual(flame.state.zoom.count, 1, "the zoom survives the refresh")
        XCTAssertTrue(screen.line(23).hasPrefix(" train_step 100.0%"), screen.line(23))
        XCTAssertTrue(screen.text.contains("forward"), screen.text)
        // Search highlights the matches and says their share.
        screen = render(app, "<Esc>/matmul<Enter>")
        XCTAssertTrue(screen.line(23).contains("/matmul: 1 matches, 66.7%"), screen.line(23))
        // A refresh where the zoomed path is gone falls back to the root.
        var gone = snapshot()
        gone.folded = ["other;x": 5]
        flame.update(gone)
        XCTAssertEqual(flame.state.zoom, [])
    }

    /// The help of `top` lists only keys that work there: two views, no ranks to switch.
    func testHelpListsOnlyTopsKeys() {
        let screen = render(App(views: [LiveView(snapshot()), LiveFlameView(snapshot())], name: "top"), "?")
        let text = screen.text
        XCTAssertTrue(text.contains("1-2, Tab, S-Tab"), text)
        XCTAssertFalse(text.contains("1-6"), text)
        XCTAssertFalse(text.contains("next rank"), text)
        XCTAssertTrue(text.contains("sort by self or total share"), text)
    }

    /// While the window fills, the status line says how long the samples cover.
    func testStatusSaysTheCoveredSeconds() {
        var s = snapshot()
        s.coveredSeconds = 1.04
        s.samples = 100
        let screen = render(App(views: [LiveView(s)], name: "top"))
        XCTAssertTrue(screen.line(23).contains("100 samples in 1.0 s of 10 s"), screen.line(23))
    }

    func testEmptySnapshot() {
        let screen = render(App(views: [LiveView(LiveSnapshot()), LiveFlameView(LiveSnapshot())], name: "top"))
        XCTAssertTrue(screen.text.contains("waiting for samples"), screen.text)
        let flame = render(App(views: [LiveFlameView(LiveSnapshot())], name: "top"))
        XCTAssertTrue(flame.text.contains("no stacks sampled yet"), flame.text)
    }
}
