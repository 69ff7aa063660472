import Analysis
import Formatting

/// Communication across ranks: the collectives table (duration, exposed time, bandwidth, wait per
/// rank), a rank x step heat map of wait, and each step's straggler with what it was doing.
public final class CommunicationView: View {
    let context: ViewContext
    public private(set) var cursor = ListCursor()
    /// Ranks and steps of the heat map, and each rank's wait per step (`wait[rank index][step index]`).
    let ranks: [Int]
    let steps: [String]
    let wait: [[Int64]]
    /// Heat map zoom: ranks per row (nil: as many as make every rank fit), first row and step shown.
    private(set) var ranksPerRow: Int?
    private var firstRow = 0, firstStep = 0
    /// Rows and step columns the heat map had when last drawn (zoom and scroll keys use them).
    private var heatRows = 1, heatSteps = 1

    public init(_ context: ViewContext) {
        self.context = context
        let comm = context.model.report.communication
        ranks = context.model.ranks.map(\.analysis.rank)
        var steps: [String] = []
        var stepIndex: [String: Int] = [:]
        var rankIndex: [Int: Int] = [:]
        for (i, r) in ranks.enumerated() { rankIndex[r] = i }
        for w in comm?.waits ?? [] where stepIndex[w.step] == nil {
            stepIndex[w.step] = steps.count
            steps.append(w.step)
        }
        var wait = [[Int64]](repeating: [Int64](repeating: 0, count: steps.count), count: ranks.count)
        for w in comm?.waits ?? [] {
            if let r = rankIndex[w.rank], let s = stepIndex[w.step] { wait[r][s] = w.wait }
        }
        self.steps = steps
        self.wait = wait
    }

    public var title: String { "Comm" }
    public var isEditing: Bool { false }
    public var keyHelp: [(String, String)] {
        [("j k, PgUp PgDn", "scroll the collectives"), ("+ -", "zoom the heat map in and out (ranks per row)"),
         ("J K", "scroll the heat map's ranks"), ("H L", "scroll the heat map's steps")]
    }

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
        enum Column { case name, step, dur, exposed, bandwidth, wait(Int), maxWait, worst, last }
        var kinds: [(Column, TableColumn)] = [(.name, TableColumn("collective", width: 14)), (.step, TableColumn("step", width: 14)),
                                              (.dur, TableColumn("dur", width: 9, right: true))]
        if hasExposed { kinds.append((.exposed, TableColumn("exposed", width: 9, right: true))) }
        if hasBandwidth { kinds.append((.bandwidth, TableColumn("busBW", width: 11, right: true))) }
        // One wait column per rank when they all fit; else the largest wait and the rank that had it.
        let fixed = kinds.reduce(0) { $0 + $1.1.width + 1 } + 5
        if ranks.count <= max(1, (area.width - 2 - fixed) / 10) {
            for r in ranks { kinds.append((.wait(r), TableColumn("wait r\(r)", width: 9, right: true))) }
        } else {
            kinds.append((.maxWait, TableColumn("max wait", width: 9, right: true)))
            kinds.append((.worst, TableColumn("at", width: 6)))
        }
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
            case .maxWait: return Self.longestWait(mc).map { formatDuration($0.wait) } ?? "-"
            case .worst: return Self.longestWait(mc).map { "r\($0.rank)" } ?? "-"
            case .last: return "r\(mc.straggler)"
            }
        }
        let y = area.row + tableHeight + 1
        drawHeatMap(&screen, Rect(row: y, col: area.col + 1, height: area.bottom - y, width: area.width / 2 - 2))
        drawStragglers(&screen, comm.stragglers, Rect(row: y, col: area.col + area.width / 2, height: area.bottom - y, width: area.width - area.width / 2 - 1))
    }

    /// The rank that waited longest for collective `c` (lowest rank on ties), with its wait.
    static func longestWait(_ c: MatchedCollective) -> (rank: Int, wait: Int64)? {
        c.waits.max { ($0.value, -$0.key) < ($1.value, -$1.key) }.map { ($0.key, $0.value) }
    }

    /// Ranks per heat map row: the zoom, or as many as make every rank fit in `rows`.
    private func groupSize(rows: Int) -> Int {
        let fit = max(1, (ranks.count + rows - 1) / max(1, rows))
        return min(fit, max(1, ranksPerRow ?? fit))
    }

    /// A rank x step heat map of wait. With more ranks than rows, a row is a group of consecutive
    /// ranks and shows the largest wait among them; `+`/`-` zoom, `J`/`K` and `H`/`L` scroll.
    private func drawHeatMap(_ screen: inout ScreenBuffer, _ r: Rect) {
        let rows = max(1, r.height - 2)
        let g = groupSize(rows: rows)
        let groups = (ranks.count + g - 1) / g
        heatRows = rows
        firstRow = max(0, min(firstRow, groups - rows))
        screen.text("Wait per rank and step" + (g > 1 ? " (largest of \(g) ranks a row)" : ""), row: r.row, col: r.col, width: r.width,
                    style: Theme.heading)
        func label(_ k: Int) -> String {
            let a = ranks[k * g], b = ranks[min(ranks.count, (k + 1) * g) - 1]
            return g == 1 ? "r\(a)" : "r\(a)-\(b)"
        }
        let labelWidth = max(5, (0..<groups).suffix(1).map { label($0).count }.first ?? 0) + 1
        let cellWidth = 2
        heatSteps = max(1, (r.width - labelWidth) / cellWidth)
        firstStep = max(0, min(firstStep, steps.count - heatSteps))
        let visibleSteps = max(0, min(steps.count - firstStep, heatSteps))
        let maxWait = max(1, wait.lazy.compactMap { $0.max() }.max() ?? 1)
        for k in firstRow..<min(groups, firstRow + rows) {
            let y = r.row + 1 + k - firstRow
            screen.text(label(k), row: y, col: r.col, width: labelWidth - 1, style: Theme.dim)
            let members = (k * g)..<min(ranks.count, (k + 1) * g)
            for s in 0..<visibleSteps {
                let w = members.lazy.map { self.wait[$0][self.firstStep + s] }.max() ?? 0
                screen.fill(row: y, col: r.col + labelWidth + s * cellWidth, height: 1, width: cellWidth,
                            style: Style(bg: Theme.heat(Double(w) / Double(maxWait))))
            }
        }
        let legendRow = min(r.bottom - 1, r.row + 1 + min(rows, groups - firstRow))
        screen.text("0", row: legendRow, col: r.col + labelWidth, style: Theme.dim)
        for k in 0..<8 { screen.fill(row: legendRow, col: r.col + labelWidth + 2 + k, height: 1, width: 1, style: Style(bg: Theme.heat(Double(k) / 7))) }
        var note = formatDuration(maxWait)
        if visibleSteps < steps.count { note += "  steps \(firstStep + 1)-\(firstStep + visibleSteps) of \(steps.count)" }
        if groups > rows { note += "  rows \(firstRow + 1)-\(min(groups, firstRow + rows)) of \(groups)" }
        screen.text(note, row: legendRow, col: r.col + labelWidth + 11, width: r.width - labelWidth - 11, style: Theme.dim)
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
        switch key {
        case .char("+"), .char("="):
            let g = groupSize(rows: heatRows)
            guard g > 1 else { return false }
            let middle = (firstRow + heatRows / 2) * g  // the rank index in the middle stays in view
            ranksPerRow = g / 2
            firstRow = max(0, middle / (g / 2) - heatRows / 2)
        case .char("-"):
            guard ranksPerRow != nil else { return false }
            let g = groupSize(rows: heatRows), fit = max(1, (ranks.count + heatRows - 1) / heatRows)
            let middle = (firstRow + heatRows / 2) * g
            ranksPerRow = g * 2 >= fit ? nil : g * 2
            firstRow = max(0, middle / groupSize(rows: heatRows) - heatRows / 2)
        case .char("J"): firstRow += 1
        case .char("K"): firstRow = max(0, firstRow - 1)
        case .char("L"): firstStep += 1
        case .char("H"): firstStep = max(0, firstStep - 1)
        default: return cursor.handle(key, count: matched.count, visible: max(5, area.height / 2) - 1)
        }
        return true
    }
}
