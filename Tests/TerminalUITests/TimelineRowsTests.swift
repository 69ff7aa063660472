import TerminalUI
import TestSupport
import XCTest

/// The timeline shows the model's counters, instants and process names, not only slices.
final class TimelineRowsTests: XCTestCase {
    static let trace = TestSupport.kineto([
        #"{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "trainer"}}"#,
        Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
        Fixtures.x("aten::mm", ts: "10", dur: "80"),
        #"{"ph": "i", "s": "t", "name": "checkpoint saved", "pid": 1, "tid": 1, "ts": 50}"#,
        #"{"ph": "C", "name": "RSS", "pid": 1, "ts": 0, "args": {"bytes": 100}}"#,
        #"{"ph": "C", "name": "RSS", "pid": 1, "ts": 50, "args": {"bytes": 900}}"#,
    ])

    func testCounterLaneDrawsBarsAndItsValueAtTheCursor() throws {
        let app = Fixtures.app(try Fixtures.model(Self.trace), tab: 3)
        var screen = Fixtures.render(app)
        let row = try XCTUnwrap((0..<24).first { screen.line($0).hasPrefix("r0 RSS: bytes") }, screen.text)
        let bars = screen.line(row)
        XCTAssertTrue(bars.contains("▁") && bars.contains("█"), bars)
        // Select the counter lane: the details give its value at the cursor (mid-run: the second sample).
        for _ in 0..<(row - 2) { app.step(.char("j"), into: &screen) }
        XCTAssertTrue(screen.text.contains("900.00 · range 100.00 to 900.00 · 2 samples"), screen.text)
    }

    func testInstantIsMarkedAndNamedAndTheProcessNamed() throws {
        let app = Fixtures.app(try Fixtures.model(Self.trace), tab: 3)
        let screen = Fixtures.render(app)
        // The cursor starts mid-run, where the instant is: its marker on the thread's outer lane, its details below.
        XCTAssertTrue(screen.line(2).contains("◆"), screen.line(2))
        XCTAssertFalse(screen.line(3).contains("◆"), screen.line(3))
        XCTAssertTrue(screen.text.contains("checkpoint saved"), screen.text)
        XCTAssertTrue(screen.text.contains("instant at +50.0 us"), screen.text)
        // Away from the instant, the slice's details name its process.
        let moved = Fixtures.render(app, "hhhhhhhhhh")
        XCTAssertTrue(moved.text.contains("rank 0 · trainer · user_annotation"), moved.text)
    }
}

/// Lanes follow the trace's process and thread sort indexes.
final class TimelineOrderTests: XCTestCase {
    func testSortIndexesOrderTheLanes() throws {
        let model = try Fixtures.model(TestSupport.kineto([
            Fixtures.x("first", ts: "0", dur: "10", pid: "1", tid: "1"),
            Fixtures.x("second", ts: "0", dur: "10", pid: "1", tid: "2"),
            Fixtures.x("third", ts: "0", dur: "10", pid: "2", tid: "3"),
            #"{"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": 1, "args": {"sort_index": 9}}"#,
            #"{"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": 2, "args": {"sort_index": 3}}"#,
            #"{"ph": "M", "name": "process_sort_index", "pid": 2, "args": {"sort_index": -1}}"#,
        ]))
        let t = model.ranks[0].trace
        XCTAssertEqual(model.ranks[0].lanes.map { t.name(ofSlice: Int($0.slices[0])) }, ["third", "second", "first"])
    }
}
