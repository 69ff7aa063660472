import Analysis
import Formatting

/// The operators table of the selected rank: sortable, filterable by text and phase; Enter shows an
/// operator's call sites and kernels.
public final class OperatorsView: View {
    /// Sort orders, cycled with `s`.
    public enum Sort: String, CaseIterable { case selfTime = "self", inclusive, gpu, count, mean }

    let context: ViewContext
    public private(set) var sort = Sort.selfTime
    public private(set) var phase: Phase?
    private var field = FilterField()
    /// The text filter in force.
    public var filter: String { field.text }
    public private(set) var cursor = ListCursor()
    /// The operator whose details are open.
    public private(set) var detail: String?
    private var rows: [Row] = []
    private var rowsKey = ""

    /// One table row: an operator's figures, over all phases or one.
    struct Row {
        var name: String
        var shown: String
        var count: Int
        var selfNs: Int64
        var totalNs: Int64
        var gpuNs: Int64
        var mean: Int64 { count > 0 ? totalNs / Int64(count) : 0 }
    }

    public init(_ context: ViewContext) { self.context = context }

    public var title: String { "Operators" }
    public var isEditing: Bool { field.isEditing }
    public var keyHelp: [(String, String)] {
        [("j k, PgUp PgDn", "select an operator"), ("s", "sort: self, inclusive, GPU, count, mean"), ("f or /", "filter by text"),
         ("p", "phase filter"), ("Enter", "call sites and kernels of the operator"), ("Esc", "close the details, clear the filter")]
    }

    public var status: String {
        if field.isEditing { return field.prompt }
        return "\(currentRows().count) operators │ sort \(sort.rawValue) │ phase \(phase?.name ?? "all")" + (filter.isEmpty ? "" : " │ filter \"\(filter)\"")
    }

    /// Rows for the current rank, sort and filters (recomputed only when one of them changes).
    private func currentRows() -> [Row] {
        let key = "\(context.rank)|\(sort)|\(phase?.name ?? "")|\(filter)"
        if key == rowsKey { return rows }
        let q = filter.lowercased()
        rows = context.rankModel.analysis.operators.compactMap { o -> Row? in
            let shown = safe(o.name + (o.shape.map { " " + $0 } ?? ""))
            if !q.isEmpty && !shown.lowercased().contains(q) { return nil }
            if let p = phase {
                guard let ps = o.byPhase[p] else { return nil }
                return Row(name: o.name, shown: shown, count: ps.count, selfNs: ps.selfNs, totalNs: ps.totalNs, gpuNs: ps.gpuNs)
            }
            return Row(name: o.name, shown: shown, count: o.count, selfNs: o.selfNs, totalNs: o.totalNs, gpuNs: o.gpuNs)
        }
        let value: (Row) -> Int64
        switch sort {
        case .selfTime: value = { $0.selfNs }
        case .inclusive: value = { $0.totalNs }
        case .gpu: value = { $0.gpuNs }
        case .count: value = { Int64($0.count) }
        case .mean: value = { $0.mean }
        }
        rows.sort { value($0) != value($1) ? value($0) > value($1) : $0.shown < $1.shown }
        rowsKey = key
        return rows
    }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let rows = currentRows()
        let tableHeight = detail == nil ? area.height : area.height / 2
        cursor.clamp(count: rows.count, visible: tableHeight - 1)
        let cols = [TableColumn("self", width: 10, right: true), TableColumn("inclusive", width: 10, right: true),
                    TableColumn("gpu", width: 10, right: true), TableColumn("count", width: 8, right: true),
                    TableColumn("mean", width: 10, right: true), TableColumn("operator", width: 0)]
        let sortColumn = [Sort.selfTime, .inclusive, .gpu, .count, .mean].firstIndex(of: sort)!
        screen.table(Rect(row: area.row, col: area.col + 1, height: tableHeight, width: area.width - 2), columns: cols, count: rows.count,
                     first: cursor.first, selected: cursor.selected) { i, c in
            let r = rows[i]
            switch c {
            case 0: return formatDuration(r.selfNs)
            case 1: return formatDuration(r.totalNs)
            case 2: return formatDuration(r.gpuNs)
            case 3: return String(r.count)
            case 4: return formatDuration(r.mean)
            default: return r.shown
            }
        }
        // Mark the sort column's header.
        let x = area.col + 1 + cols.prefix(sortColumn).reduce(0) { $0 + $1.width + 1 }
        screen.put("▼", row: area.row, col: x, style: Theme.heading)
        if rows.isEmpty { screen.text("no operators match", row: area.row + 2, col: area.col + 2, style: Theme.dim) }
        if let name = detail { drawDetail(&screen, name, Rect(row: area.row + tableHeight, col: area.col, height: area.height - tableHeight, width: area.width)) }
    }

    private func drawDetail(_ screen: inout ScreenBuffer, _ name: String, _ r: Rect) {
        let inner = screen.box(r, title: clipped(safe(name), r.width - 8))
        let half = inner.width / 2
        let callers = context.rankModel.callSites(of: name)
        let kernels = context.rankModel.kernels(of: name)
        screen.text("called from (\(callers.count))", row: inner.row, col: inner.col + 1, style: Theme.header)
        for (k, c) in callers.prefix(inner.height - 1).enumerated() {
            screen.textRight(String(c.count), row: inner.row + 1 + k, end: inner.col + 8)
            screen.text(c.name, row: inner.row + 1 + k, col: inner.col + 9, width: half - 10)
        }
        screen.text("\(context.rankModel.deviceLabel) kernels launched inside (\(kernels.count))", row: inner.row, col: inner.col + half, style: Theme.header)
        for (k, g) in kernels.prefix(inner.height - 1).enumerated() {
            screen.textRight(formatDuration(g.ns), row: inner.row + 1 + k, end: inner.col + half + 10)
            screen.text(g.name, row: inner.row + 1 + k, col: inner.col + half + 11, width: inner.width - half - 12)
        }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        if field.handle(key) {
            cursor = ListCursor()
            return true
        }
        let rows = currentRows()
        switch key {
        case .char("s"):
            sort = sort.cycled
            cursor = ListCursor()
        case .char("f"), .char("/"):
            field.open()
        case .char("p"):
            let phases = Phase.allCases.filter { $0 != .idle }
            if let p = phase, let k = phases.firstIndex(of: p) { phase = k + 1 < phases.count ? phases[k + 1] : nil } else { phase = phases[0] }
            cursor = ListCursor()
        case .enter:
            if cursor.selected < rows.count { detail = rows[cursor.selected].name }
        case .escape:
            if detail != nil { detail = nil } else if !field.clear() { return false }
        default:
            let visible = (detail == nil ? area.height : area.height / 2) - 1
            guard cursor.handle(key, count: rows.count, visible: visible) else { return false }
            if detail != nil, cursor.selected < rows.count { detail = rows[cursor.selected].name }
        }
        return true
    }
}
