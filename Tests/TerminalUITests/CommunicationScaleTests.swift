import Analysis
import TerminalUI
import TestSupport
import TraceModel
import XCTest

/// The communication view on a 1,024-rank run: heat map rows group ranks, zoom and scroll reach
/// every rank, and the collectives table names the longest wait instead of 1,024 columns.
final class CommunicationScaleTests: XCTestCase {
    static let worldSize = 1024, lateRank = 777

    /// Three steps, one all-reduce each (Seq = step); in step 2 every rank but `lateRank` arrives at
    /// 1,010 us and `lateRank` at 1,510 us, so the others wait 500 us; elsewhere all arrive together.
    static func run() throws -> RunModel {
        let ranks = try concurrentMap(worldSize) { r -> Result<RankTrace, Error> in
            var events: [String] = []
            for step in 1...3 {
                let start = (step - 1) * 1000
                let arrival = start + (step == 2 ? (r == lateRank ? 510 : 10) : 10)
                let end = start + (step == 2 ? 560 : 60)
                events.append(TestSupport.x("ProfilerStep#\(step)", cat: "user_annotation", ts: "\(start)", dur: "1000"))
                events.append(TestSupport.x("ncclDevKernel_AllReduce_Sum_f32_RING_LL", cat: "kernel", ts: "\(arrival)", dur: "\(end - arrival)",
                                            pid: "0", tid: "7",
                                            args: "\"Collective name\": \"allreduce\", \"Process Group Name\": \"0\", \"Group size\": \(worldSize), "
                                                + "\"dtype\": \"Float\", \"In msg nelems\": 1000, \"Out msg nelems\": 1000, \"Seq\": \(step)"))
            }
            return Result { try TestSupport.trace(TestSupport.kineto(events, extra: "\"distributedInfo\": {\"rank\": \(r), \"world_size\": \(worldSize)}")) }
        }.map { try $0.get() }
        let run = TraceRun(ranks: ranks)
        return RunModel(run: run, report: RunReport(run: run))
    }

    /// The screen row whose heat map label is `label`, and the background of its cell for step `step` (1-based).
    func heat(_ screen: ScreenBuffer, label: String, step: Int) -> Int16? {
        for row in 0..<screen.rows where screen.line(row).hasPrefix(" " + label + " ") {
            let col = screen.line(row).range(of: label).map { screen.line(row).distance(from: screen.line(row).startIndex, to: $0.upperBound) } ?? 0
            var c = col
            while c < screen.cols && screen[row, c].style.bg == -1 { c += 1 }  // the label's padding
            return screen[row, c + (step - 1) * 2].style.bg
        }
        return nil
    }

    func testHeatMapGroupsRanksAndZoomsToOne() throws {
        let model = try Self.run()
        XCTAssertEqual(model.report.communication?.matched.count, 3)
        let app = Fixtures.app(model, tab: 6)
        var screen = Fixtures.render(app, rows: 40, cols: 120)
        let text = screen.text
        // 40 rows: the table takes 19, the heat map 18 less its heading and legend: 16 rows of 64 ranks.
        XCTAssertTrue(text.contains("Wait per rank and step (largest of 64 ranks a row)"), text)
        XCTAssertTrue(text.contains("max wait"), text)
        XCTAssertFalse(text.contains("wait r1 "), "no column per rank at 1,024 ranks")
        // Step 2's all-reduce: everyone but rank 777 waited 500 us, the most is rank 0 (ties: lowest).
        XCTAssertTrue(screen.text.split(separator: "\n").contains { $0.contains("ProfilerStep#2") && $0.contains("500.0 us") && $0.contains("r0 ") && $0.trimmingCharacters(in: .whitespaces).hasSuffix("r777") },
                      text)
        // Every row of step 2 waits 500 us at most: all hot, steps 1 and 3 cold.
        XCTAssertEqual(heat(screen, label: "r768-831", step: 2), Theme.heat(1))
        XCTAssertEqual(heat(screen, label: "r768-831", step: 1), Theme.heat(0))
        XCTAssertTrue(text.contains(" r960-1023"), "the last group ends at the last rank")
        // Zoom in until one rank a row, then scroll down to rank 777: the only cold cell in step 2.
        for _ in 0..<7 { app.handle(.char("+"), rows: 40, cols: 120) }
        screen = Fixtures.render(app, rows: 40, cols: 120)
        XCTAssertFalse(screen.text.contains("ranks a row"), screen.text)
        for _ in 0..<1024 where heat(screen, label: "r777", step: 2) == nil {
            app.handle(.char("J"), rows: 40, cols: 120)
            screen = Fixtures.render(app, rows: 40, cols: 120)
        }
        XCTAssertEqual(heat(screen, label: "r777", step: 2), Theme.heat(0), screen.text)
        XCTAssertEqual(heat(screen, label: "r776", step: 2), Theme.heat(1), screen.text)
        XCTAssertTrue(screen.text.contains("of 1024"), screen.text)
        // Zooming out all the way gives the first screen back.
        for _ in 0..<8 { app.handle(.char("-"), rows: 40, cols: 120) }
        for _ in 0..<1024 { app.handle(.char("K"), rows: 40, cols: 120) }
        XCTAssertEqual(Fixtures.render(app, rows: 40, cols: 120).text, text)
    }
}
