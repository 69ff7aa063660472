import Analysis
import Foundation
import Formatting
import TerminalUI
import TestSupport
import TraceImport
import XCTest

/// Every view rendered into the virtual screen at 80x24, compared with its snapshot (text and
/// styles), plus concrete content checks so a re-recorded snapshot cannot hide a broken view.
final class ViewSnapshotTests: XCTestCase {
    func testOverview() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace)))
        XCTAssertTrue(screen.line(0).contains("1 Overview"))
        XCTAssertTrue(screen.text.contains("ProfilerStep#1  100.0 us"), screen.text)
        XCTAssertTrue(screen.text.contains("aten::mm"))
        // The selected step's phases are in the status line.
        XCTAssertTrue(screen.line(23).hasPrefix(" ProfilerStep#1 100.0 us: forward 50.0%"), screen.line(23))
        // The step bar is drawn in phase colours: forward green first.
        let barStart = try XCTUnwrap(screen.line(2).unicodeScalars.firstIndex(of: "█"))
        let col = screen.line(2).unicodeScalars.distance(from: screen.line(2).unicodeScalars.startIndex, to: barStart)
        XCTAssertEqual(screen[2, col].style.fg, Theme.color(.forward))
        assertSnapshot(screen, "overview")
    }

    func testFlameGraph() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 2))
        let text = screen.text
        XCTAssertTrue(screen.line(2).hasPrefix("all"), text)
        XCTAssertTrue(text.contains("aten::linear"), text)
        XCTAssertTrue(text.contains("aten::mm"), text)
        XCTAssertTrue(screen.line(23).contains("CPU time"), screen.line(23))
        assertSnapshot(screen, "flame")
    }

    func testTimeline() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 3))
        let text = screen.text
        XCTAssertTrue(text.contains("ProfilerStep#1"), text)
        XCTAssertTrue(text.contains("r0 gpu"), text)
        // The details of the slice under the cursor (the lane of the steps, mid-run).
        XCTAssertTrue(text.contains("rank 0 · user_annotation"), text)
        assertSnapshot(screen, "timeline")
    }

    func testOperators() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 4))
        XCTAssertTrue(screen.line(1).contains("self"))
        XCTAssertTrue(screen.line(1).contains("operator"))
        XCTAssertTrue(screen.text.contains("evil\\x1b[31mop"), screen.text)
        assertSnapshot(screen, "operators")
    }

    func testMemory() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 5))
        XCTAssertTrue(screen.text.contains("▼ peak 12.0 KiB"), screen.text)
        XCTAssertTrue(screen.text.contains("Peak per step"))
        XCTAssertTrue(screen.line(23).contains("cuda:0"), screen.line(23))
        assertSnapshot(screen, "memory")
    }

    func testCommunicationOnTwoRanks() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.sample("ddp2_straggler"), tab: 6))
        let text = screen.text
        XCTAssertTrue(text.contains("all_reduce"), text)
        XCTAssertTrue(text.contains("Wait per rank and step"))
        XCTAssertTrue(text.contains("ProfilerStep#4: rank 1"), text)
        assertSnapshot(screen, "communication")
    }

    func testCommunicationWithoutCollectives() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 6))
        XCTAssertTrue(screen.text.contains("no collectives in this run"))
    }

    func testDiff() throws {
        let base = try Fixtures.model(Fixtures.smallTrace)
        let cand = try Fixtures.model(Fixtures.smallTrace.replacingOccurrences(of: "\"dur\": 30}", with: "\"dur\": 33}"))
        func samples(_ m: RunModel) -> RunSamples {
            Analyzer.samples(ranks: RunReport(run: m.run, samples: true).ranks, communication: nil)
        }
        let result = Analyzer.diff(base: samples(base), candidate: samples(cand), options: DiffOptions())
        let app = App(views: [DiffView(result)], name: "a → b")
        let screen = Fixtures.render(app)
        XCTAssertTrue(screen.text.contains("INCONCLUSIVE"), screen.text)
        XCTAssertTrue(screen.text.contains("step time"))
        XCTAssertTrue(screen.text.contains("Differential flame graph"))
        assertSnapshot(screen, "diff")
    }

    func testHelpOverlay() throws {
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 2), "?")
        XCTAssertTrue(screen.text.contains("keys: Flame"))
        XCTAssertTrue(screen.text.contains("zoom into the frame"))
        assertSnapshot(screen, "help")
    }

    func testLoadingScreen() {
        let progress = LoadProgress { _ in 10_000_000 }
        progress.add("rank0.json", bytes: 2_500_000, events: 1234)
        progress.add("rank1.json", bytes: 10_000_000, events: 99)
        var screen = ScreenBuffer(rows: 24, cols: 80)
        progress.render(into: &screen, elapsed: 1.25)
        XCTAssertEqual(screen.line(0).trimmingCharacters(in: .whitespaces), "stepscope: reading… 1.2 s")
        XCTAssertTrue(screen.line(2).hasPrefix(" 2.5 MB / 10.0 MB"), screen.line(2))
        XCTAssertTrue(screen.line(2).contains("1234 events  rank0.json"))
        XCTAssertTrue(screen.line(3).contains("99 events  rank1.json"))
    }
}

/// The flame graph of a sampled profile (`stepscope record`: Python frames, no operators).
final class SampledFlameTests: XCTestCase {
    func testPythonFramesMakeTheTreeWhenThereAreNoOperators() throws {
        let json = TestSupport.kineto([
            Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            Fixtures.x("main", cat: "python_function", ts: "0", dur: "100"),
            Fixtures.x("Model.forward", cat: "python_function", ts: "0", dur: "60"),
            Fixtures.x("matmul", cat: "python_function", ts: "10", dur: "40"),
            Fixtures.x("SGD.step", cat: "python_function", ts: "60", dur: "40"),
        ])
        let screen = Fixtures.render(Fixtures.app(try Fixtures.model(json), tab: 2))
        XCTAssertTrue(screen.text.contains("main"), screen.text)
        XCTAssertTrue(screen.text.contains("Model.forward"), screen.text)
        XCTAssertTrue(screen.text.contains("SGD.step"), screen.text)
        XCTAssertFalse(screen.text.contains("no operators here"), screen.text)
        // With an operator in the trace, the frames nest with it; `f` leaves only the operators.
        let withOp = TestSupport.kineto([Fixtures.x("main", cat: "python_function", ts: "0", dur: "100"), Fixtures.x("aten::mm", cat: "cpu_op", ts: "10", dur: "40")])
        let app = Fixtures.app(try Fixtures.model(withOp), tab: 2)
        let both = Fixtures.render(app)
        XCTAssertTrue(both.text.contains("main"), both.text)
        let ops = Fixtures.render(app, "f")
        XCTAssertTrue(ops.text.contains("aten::mm"), ops.text)
        XCTAssertFalse(ops.text.contains("main"), ops.text)
    }
}
