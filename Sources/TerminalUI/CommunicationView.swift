import Analysis
import Formatting

/// Communication across ranks: the collectives table (duration, exposed time, bandwidth, wait per
/// rank), a rank x step heat map of wait, and each step's straggler with what it was doing.
public final class CommunicationView: View {
    let context: ViewContext
    public private(set) var cursor = ListCursor()
    /// Ranks and steps of the heat map, and the wait of each (rank, step) pair.
    let ranks: [Int]
    let steps: [String]
    let wait: [String: Int64]

    public init(_ context: ViewContext) {
        self.context = context
        let comm = context.model.report.communication
        ranks = context.model.ranks.map(\.analysis.rank)
        var steps: [String] = []
        var seen = Set<String>()
        var wait: [String: Int64] = [:]
        for w in comm?.waits ?? [] {
            if seen.insert(w.step).inserted { steps.append(w.step) }
            wait["\(w.rank)|\(w.step)"] = w.wait
        }
        self.steps = steps
        self.wait = wait
    }

    public var title: String { "Comm" }
    public var isEditing: Bool { false }
    public var keyHelp: [(String, String)] { [("j k, PgUp PgDn", "scroll the collectives")] }

    private var matched: [MatchedCollective] { context.model.report.communication?.matched ?? [] }

    public var status: String {
        guard let comm = context.model.report.communication else { return "no collectives in this run" }
        return "\(comm.matched.count) collectives matched across \(ranks.count) ranks" + (comm.unmatched > 0 ? ", \(comm.unmatched) unmatched" : "")
    }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        guard let comm = context.model.report.communication else {
            screen.text("no collectives in this run (single rank without communication, or none recorded)", row: area.row + 1, col: area.col + 2, style: Theme.dim)
            return
        }
        let tableHeight = max(5, area.height / 2)
        // Exposed time and bandwidth only when some collective has them (GPU collectives with sizes).
        let all = comm.instances.values.joined()
        let hasExposed = all.contains { $0.exposed != nil }, hasBandwidth = all.contains { $0.busBandwidth != nil }
        enum Column { case name, step, dur, exposed, bandwidth, wait(Int), last }
        var kinds: [(Column, TableColumn)] = [(.name, TableColumn("collective", width: 14)), (.step, TableColumn("step", width: 14)),
                                              (.dur, TableColumn("dur", width: 9, right: true))]
        if hasExposed { kinds.append((.exposed, TableColumn("exposed", width: 9, right: true))) }
        if hasBandwidth { kinds.append((.bandwidth, TableColumn("busBW", width: 11, right: true))) }
        // As many per-rank wait columns as fit before the last one (the rank that arrived last).
        let fixed = kinds.reduce(0) { $0 + $1.1.width + 1 } + 5
        for r in ranks.prefix(max(1, (area.width - 2 - fixed) / 10)) { kinds.append((.wait(r), TableColumn("wait r\(r)", width: 9, right: true))) }
        kinds.append((.last, TableColumn("last", width: 0)))
        let m = matched
        cursor.clamp(count: m.count, visible: tableHeight - 1)
        func instance(_ c: MatchedCollective) -> CollectiveInstance? {
            let r = c.straggler
            guard let idx = c.instanceIndex[r], let list = comm.instances[r], idx < list.count else { return nil }
            return list[idx]
        }
        screen.table(Rect(row: area.row, col: area.col + 1, height: tableHeight, width: area.width - 2), columns: kinds.map(\.1), count: m.count,
                     first: cursor.first, selected: cursor.selected) { i, c in
            let mc = m[i]
            switch kinds[c].0 {
            case .name: return safe(mc.name)
            case .step: return safe(mc.step ?? "-")
            case .dur: return instance(mc).map { formatDuration($0.dur) } ?? "-"
            case .exposed: return instance(mc)?.exposed.map(formatDuration) ?? "-"
            case .bandwidth: return instance(mc)?.busBandwidth.map { formatBytes(Int64($0)) + "/s" } ?? "-"
            case let .wait(r): return mc.waits[r].map(formatDuration) ?? "-"
            case .last: return "r\(mc.straggler)"
            }
        }
        let y = area.row + tableHeight + 1
        drawHeatMap(&screen, Rect(row: y, col: area.col + 1, height: area.bottom - y, width: area.width / 2 - 2))
        drawStragglers(&screen, comm.stragglers, Rect(row: y, col: area.col + area.width / 2, height: area.bottom - y, width: area.width - area.width / 2 - 1))
    }

    private func drawHeatMap(_ screen: inout ScreenBuffer, _ r: Rect) {
        screen.text("Wait per rank and step", row: r.row, col: r.col, style: Theme.heading)
        let maxWait = max(1, wait.values.max() ?? 1)
        let cellWidth = 2
        let visibleSteps = min(steps.count, max(0, (r.width - 6) / cellWidth))
        for (k, rank) in ranks.enumerated() where r.row + 1 + k < r.bottom - 1 {
            let y = r.row + 1 + k
            screen.text("r\(rank)", row: y, col: r.col, width: 5, style: Theme.dim)
            for s in 0..<visibleSteps {
                let w = wait["\(rank)|\(steps[s])"] ?? 0
                screen.fill(row: y, col: r.col + 6 + s * cellWidth, height: 1, width: cellWidth, style: Style(bg: Theme.heat(Double(w) / Double(maxWait))))
            }
        }
        let legendRow = min(r.bottom - 1, r.row + 1 + ranks.count)
        screen.text("0", row: legendRow, col: r.col + 6, style: Theme.dim)
        for k in 0..<8 { screen.fill(row: legendRow, col: r.col + 8 + k, height: 1, width: 1, style: Style(bg: Theme.heat(Double(k) / 7))) }
        screen.text(formatDuration(maxWait) + (visibleSteps < steps.count ? "  (first \(visibleSteps) of \(steps.count) steps)" : ""),
                    row: legendRow, col: r.col + 17, width: r.width - 17, style: Theme.dim)
    }

    private func drawStragglers(_ screen: inout ScreenBuffer, _ list: [StepStraggler], _ r: Rect) {
        screen.text("Straggler of each step", row: r.row, col: r.col, style: Theme.heading)
        var y = r.row + 1
        for st in list where y < r.bottom {
            screen.text("\(safe(st.step)): rank \(st.rank), others waited up to \(formatDuration(st.causedWait))", row: y, col: r.col, width: r.width)
            y += 1
            guard y < r.bottom else { break }
            let busiest = Phase.allCases.filter { st.phases[$0] > 0 }.sorted { st.phases[$0] > st.phases[$1] }.prefix(2)
            var doing = "  before: " + busiest.map { "\($0.name) \(formatDuration(st.phases[$0]))" }.joined(separator: ", ")
            if let op = st.topOperators.first { doing += "; in \(safe(op.name))" }
            screen.text(doing, row: y, col: r.col, width: r.width, style: Theme.dim)
            y += 1
        }
        if list.isEmpty { screen.text("none", row: y, col: r.col, style: Theme.dim) }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        cursor.handle(key, count: matched.count, visible: max(5, area.height / 2) - 1)
    }
}
