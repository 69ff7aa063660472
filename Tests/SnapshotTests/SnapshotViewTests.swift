import Analysis
@testable import TerminalUI
import TestSupport
import TraceImport
import TraceModel
import XCTest

final class SnapshotViewTests: XCTestCase {
    /// The Memory view of a snapshot: the replayed chart, then the live blocks at the peak as a
    /// flame graph whose frames are as wide as their bytes.
    func testMemoryViewShowsTheLiveBlocksAsAFlameGraph() throws {
        guard let path = pickled(handWritten, proto: 4) else { return }
        defer { unlink(path) }
        let run = try TraceLoader.loadRun(paths: [path])
        let app = App.forRun(RunModel(run: run, report: RunReport(run: run)), name: "snap.pickle")
        var screen = ScreenBuffer(rows: 24, cols: 80)
        app.render(into: &screen)
        // A snapshot alone opens on the Memory view (key 5), not an empty Overview.
        XCTAssertTrue(app.views[app.active] is MemoryView)
        XCTAssertTrue(screen.text.contains("▼ peak 7.48 KiB"), screen.text)
        app.step(.char("1"), into: &screen)
        XCTAssertTrue(app.views[app.active] is OverviewView)
        app.step(.char("5"), into: &screen)
        let text = screen.text
        XCTAssertTrue(text.contains("▼ peak 7.48 KiB"), text)
        XCTAssertTrue(text.contains("Live at the peak: 7.48 KiB in 4 blocks"), text)
        // Root "all" spans the 80 columns; below it the outermost frames by name: main (train.py:3)
        // with 512 of 7656 bytes takes 80 * 512 / 7656 = 5.35 cells, so main (train.py:9) (the
        // other 7144 bytes) starts at the first whole cell after it, column 6.
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let row = lines.firstIndex(where: { $0.contains("main (train.py:9)") }) else { return XCTFail(text) }
        let start = try XCTUnwrap(lines[row].range(of: "main (train.py:9)")).lowerBound
        XCTAssertEqual(lines[row].distance(from: lines[row].startIndex, to: start), Int((80.0 * 512 / 7656).rounded(.up)), lines[row])
        XCTAssertTrue(lines[row].hasPrefix("main…"), lines[row])
        XCTAssertTrue(lines[row + 1].contains("step (train.py:6)"), lines[row + 1])
        // Moving down selects the heaviest child and names its bytes.
        app.step(.char("j"), into: &screen)
        XCTAssertTrue(screen.text.contains(": 7.48 KiB") || screen.text.contains(": 6.98 KiB"), screen.text)
    }
}
