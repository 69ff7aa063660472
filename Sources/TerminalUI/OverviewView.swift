import Analysis
import Formatting
import TraceModel

/// The overview: steps as bars split by phase, the step-time distribution, top operators, the GPU
/// breakdown and the warnings of the selected rank.
public final class OverviewView: View {
    let context: ViewContext
    public private(set) var cursor = ListCursor()
    public init(_ context: ViewContext) { self.context = context }

    public var title: String { "Overview" }
    public var isEditing: Bool { false }
    public var keyHelp: [(String, String)] { [("j k, PgUp PgDn, wheel", "select a step (its phases in the status line)")] }

    private var steps: [Step] { context.rankModel.analysis.steps }

    public var status: String {
        let a = context.rankModel.analysis
        guard cursor.selected < a.steps.count else { return "rank \(a.rank): no steps" }
        let s = a.steps[cursor.selected]
        let top = Phase.allCases.filter { s.phases[$0] > 0 }.sorted { s.phases[$0] > s.phases[$1] }.prefix(3)
        return "\(safe(s.name)) \(formatDuration(s.dur)): " + top.map { "\($0.name) \(percent(s.phases[$0], s.phases.total))" }.joined(separator: ", ")
    }

    /// Rows the step bars get in `area`.
    private func stepRows(_ area: Rect) -> Int { max(1, min(steps.count, (area.height - 12) / 2 + 2)) }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let rm = context.rankModel
        let a = rm.analysis
        var y = area.row
        // Legend.
        var x = area.col + 1
        // `startup` (module import, in recordings) only where there is some, so the rest fits 80 columns.
        for p in Phase.allCases where (p != .startup || a.phases[p] > 0) && x + displayWidth(p.name) + 3 < area.right {
            screen.put("█", row: y, col: x, style: Theme.phase(p))
            x += 2
            x += screen.text(p.name, row: y, col: x) + 1
        }
        y += 1
        // Step bars.
        let rows = stepRows(area)
        cursor.clamp(count: steps.count, visible: rows)
        let maxDur = steps.map(\.dur).max() ?? 1
        let nameWidth = min(18, max(6, steps.map { displayWidth(safe($0.name)) }.max() ?? 6))
        let barWidth = area.width - nameWidth - 13
        for k in 0..<rows where cursor.first + k < steps.count {
            let i = cursor.first + k
            let s = steps[i]
            let sel = i == cursor.selected
            screen.text(safe(s.name), row: y + k, col: area.col + 1, width: nameWidth, style: sel ? Theme.selected : .plain)
            screen.textRight(formatDuration(s.dur), row: y + k, end: area.col + nameWidth + 11, style: sel ? Theme.selected : .plain)
            let segments = Phase.allCases.map { (value: s.phases[$0], style: Theme.phase($0)) }
            screen.stackedBar(row: y + k, col: area.col + nameWidth + 12, width: barWidth, segments: segments, scale: Double(maxDur) / Double(barWidth))
        }
        y += rows + 1
        // Distribution and GPU breakdown side by side.
        let half = area.width / 2
        let distHeight = 4
        screen.text("Steps of rank \(a.rank) (\(a.steps.count)): distribution", row: y, col: area.col + 1, width: half - 2, style: Theme.heading)
        if let st = rm.report.stepStats {
            screen.text("min \(formatDuration(st.min))  median \(formatDuration(st.median))", row: y + distHeight, col: area.col + 1, width: half - 2, style: Theme.dim)
            screen.text("p90 \(formatDuration(st.p90))  max \(formatDuration(st.max))", row: y + distHeight + 1, col: area.col + 1, width: half - 2, style: Theme.dim)
            drawHistogram(&screen, Rect(row: y + 1, col: area.col + 1, height: distHeight - 1, width: half - 2), st)
        }
        let device = rm.deviceLabel
        screen.text("\(device) (all steps)", row: y, col: area.col + half, style: Theme.heading)
        if let g = a.gpu {
            let whole = g.busy + g.idle
            let lines = ["busy \(formatDuration(g.busy)) (\(percent(g.busy, whole))), idle \(formatDuration(g.idle))",
                         "compute \(formatDuration(g.compute)), comm \(formatDuration(g.communication))",
                         "memcpy \(formatDuration(g.memcpy)), memset \(formatDuration(g.memset))"]
                + IdleCause.allCases.filter { g[$0] > 0 }.sorted { g[$0] > g[$1] }.prefix(2).map { "idle: \($0.name) \(formatDuration(g[$0]))" }
            for (k, l) in lines.prefix(distHeight + 1).enumerated() { screen.text(l, row: y + 1 + k, col: area.col + half, width: area.width - half - 1) }
        } else {
            screen.text("no \(device) activity in this trace", row: y + 1, col: area.col + half, style: Theme.dim)
        }
        y += distHeight + 3
        // Top operators and warnings.
        let left = Rect(row: y, col: area.col + 1, height: area.bottom - y, width: half - 2)
        screen.text("Top operators (self)", row: left.row, col: left.col, style: Theme.heading)
        let ops = a.operators
        screen.table(Rect(row: left.row + 1, col: left.col, height: left.height - 1, width: left.width),
                     columns: [TableColumn("self", width: 9, right: true), TableColumn("gpu", width: 9, right: true), TableColumn("name", width: 0)],
                     count: ops.count, first: 0, selected: nil) { i, c in
            switch c {
            case 0: return formatDuration(ops[i].selfNs)
            case 1: return formatDuration(ops[i].gpuNs)
            default: return safe(ops[i].name)
            }
        }
        let warnings = context.model.report.warnings.map { ("run", $0) } + rm.report.warnings.map { ("rank \(a.rank)", $0) }
        screen.text("Warnings (\(warnings.count))", row: y, col: area.col + half, style: Theme.heading)
        for (k, w) in warnings.enumerated() where y + 1 + k < area.bottom {
            screen.text("\(w.0): \(w.1.code) x\(w.1.count): \(safe(w.1.example))", row: y + 1 + k, col: area.col + half,
                        width: area.width - half - 1, style: Theme.warning)
        }
        if warnings.isEmpty { screen.text("none", row: y + 1, col: area.col + half, style: Theme.dim) }
    }

    /// Step durations as a braille area chart: one dot column per bucket between min and max.
    private func drawHistogram(_ screen: inout ScreenBuffer, _ r: Rect, _ st: StepStats) {
        let durs = steps.map(\.dur)
        let buckets = r.width * 2
        var counts = [Double](repeating: 0, count: buckets)
        let span = max(1, st.max - st.min)
        for d in durs { counts[min(buckets - 1, Int(Double(d - st.min) / Double(span) * Double(buckets - 1)))] += 1 }
        screen.brailleArea(r, values: counts, maxValue: counts.max() ?? 1, style: Style(fg: 75))
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        cursor.handle(key, count: steps.count, visible: stepRows(area))
    }
}
