import Analysis
import Formatting
import TraceModel

/// One row of the kernel summary: a GPU activity name's calls with their duration statistics, the
/// launch configurations and resources the trace gives, and the operators that launched it.
public struct KernelSummary: Sendable {
    /// Terminal-safe kernel (or memcpy, memset) name.
    public var name: String
    public var count: Int
    public var total: Int64
    public var min: Int64
    public var max: Int64
    public var median: Int64
    /// The longest call (a slice index), for showing it in the timeline.
    public var longest: Int
    public var mean: Int64 { count > 0 ? total / Int64(count) : 0 }
    /// Distinct values of each launch arg (`grid`, `block`, `registers per thread`,
    /// `shared memory`) with their call counts, most calls first; empty when the trace has none.
    public var configs: [(arg: String, values: [(value: String, count: Int)])]
    /// Operators that launched it (the nearest operator above the launching runtime call), most calls first.
    public var launchedBy: [(name: String, count: Int)]

    /// Args of a kernel shown in the summary, in Kineto's spelling.
    static let configArgs = ["grid", "block", "registers per thread", "shared memory"]

    /// The summary of a rank's GPU activities, most total time first.
    public static func summaries(_ trace: RankTrace, attribution ops: OperatorAttribution) -> [KernelSummary] {
        let s = trace.slices
        var calls: [UInt32: [Int]] = [:]
        for i in 0..<s.count where s.kind[i].isGPUActivity { calls[s.name[i], default: []].append(i) }
        let argKeys = configArgs.map { trace.strings.lookup($0) }
        return calls.map { name, list in
            let durs = list.map { s.dur[$0] }.sorted()
            let longest = list.max { s.dur[$0] != s.dur[$1] ? s.dur[$0] < s.dur[$1] : $0 > $1 }!
            var configs: [(arg: String, values: [(value: String, count: Int)])] = []
            for (k, key) in argKeys.enumerated() {
                guard let key else { continue }
                var counts: [String: Int] = [:]
                for i in list { if let v = trace.arg(ofSlice: i, key: key) { counts[safe(collapsedWhitespace(trace.argText(v))), default: 0] += 1 } }
                if !counts.isEmpty { configs.append((configArgs[k], ranked(counts))) }
            }
            var owners: [String: Int] = [:]
            for i in list {
                let l = s.launcher.isEmpty ? -1 : Int(s.launcher[i])
                var o = l >= 0 ? Int(ops.owner[l]) : -1
                while o >= 0 && s.kind[o].isLaunch { o = ops.caller(of: o, in: trace) }  // the operator, not the runtime call
                owners[o >= 0 ? safe(trace.strings[s.name[o]]) : l >= 0 ? "(no operator)" : "(launch unknown)", default: 0] += 1
            }
            return KernelSummary(name: safe(trace.strings[name]), count: list.count, total: durs.reduce(0, +), min: durs.first ?? 0,
                                 max: durs.last ?? 0, median: median(durs), longest: longest, configs: configs, launchedBy: ranked(owners))
        }.sorted { $0.total != $1.total ? $0.total > $1.total : $0.name < $1.name }
    }

    /// The middle value of sorted durations (the mean of the two middle ones for an even count).
    static func median(_ sorted: [Int64]) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let m = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2
    }

    private static func ranked(_ counts: [String: Int]) -> [(String, Int)] {
        counts.map { ($0.key, $0.value) }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
    }
}

/// The kernel summary of the selected rank, in the style of nsys `cuda_gpu_kern_sum`: per kernel
/// its share of GPU time, total, count, mean, median, min and max, sortable; the selected kernel's
/// grid, block, registers, shared memory and launching operators below; a text filter; Enter shows
/// its longest call in the timeline.
public final class KernelsView: View {
    /// Sort orders, cycled with `s`.
    public enum Sort: String, CaseIterable { case total, count, mean, max }

    let context: ViewContext
    public private(set) var sort = Sort.total
    public private(set) var cursor = ListCursor()
    private var field = FilterField()
    /// The text filter in force.
    public var filter: String { field.text }
    /// Summaries of a rank, by total time and in the current order.
    private var cache: (rank: Int, rows: [KernelSummary])?
    private var sorted: (rank: Int, sort: Sort, filter: String, rows: [KernelSummary])?

    public init(_ context: ViewContext) { self.context = context }

    public var title: String { "Kernels" }
    public var isEditing: Bool { field.isEditing }
    public var keyHelp: [(String, String)] {
        [("j k, PgUp PgDn", "select a kernel (its launch configuration and operators below)"), ("s", "sort: total, count, mean, max"), ("f or /", "filter by text; Esc clears it"),
         ("Enter", "show the kernel's longest call in the timeline")]
    }

    public var status: String {
        if field.isEditing { return field.prompt }
        let rows = summaries()
        return "rank \(context.rankModel.analysis.rank): \(rows.count) kernels, \(formatDuration(rows.reduce(0) { $0 + $1.total })) │ sort \(sort.rawValue)"
            + (filter.isEmpty ? "" : " │ filter \"\(safe(filter))\"")
    }

    /// The selected rank's summaries matching the filter, in the current order.
    func summaries() -> [KernelSummary] {
        if cache?.rank != context.rank {
            let m = context.rankModel
            cache = (context.rank, KernelSummary.summaries(m.trace, attribution: m.analysis.attribution))
        }
        if let s = sorted, s.rank == context.rank, s.sort == sort, s.filter == filter { return s.rows }
        let q = filter.lowercased()
        let rows = q.isEmpty ? cache!.rows : cache!.rows.filter { $0.name.lowercased().contains(q) }
        let value: (KernelSummary) -> Int64
        switch sort {
        case .total: value = { $0.total }
        case .count: value = { Int64($0.count) }
        case .mean: value = { $0.mean }
        case .max: value = { $0.max }
        }
        sorted = (context.rank, sort, filter, rows.sorted { value($0) != value($1) ? value($0) > value($1) : $0.name < $1.name })
        return sorted!.rows
    }

    private func tableHeight(_ area: Rect) -> Int { area.height - 8 }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let rows = summaries()
        guard !rows.isEmpty else {
            screen.text(filter.isEmpty ? "no \(context.rankModel.deviceLabel) kernels in this rank" : "no kernels match", row: area.row + 1, col: area.col + 2, style: Theme.dim)
            return
        }
        let h = tableHeight(area)
        cursor.clamp(count: rows.count, visible: h - 1)
        let all = max(1, rows.reduce(0) { $0 + $1.total })
        let cols = [TableColumn("time", width: 6, right: true), TableColumn("total", width: 9, right: true), TableColumn("count", width: 7, right: true),
                    TableColumn("mean", width: 9, right: true), TableColumn("median", width: 9, right: true), TableColumn("min", width: 9, right: true),
                    TableColumn("max", width: 9, right: true), TableColumn("kernel", width: 0)]
        screen.table(Rect(row: area.row, col: area.col + 1, height: h, width: area.width - 2), columns: cols, count: rows.count,
                     first: cursor.first, selected: cursor.selected) { i, c in
            let r = rows[i]
            switch c {
            case 0: return formatFixed(Double(r.total) * 100 / Double(all), 1) + "%"
            case 1: return formatDuration(r.total)
            case 2: return String(r.count)
            case 3: return formatDuration(r.mean)
            case 4: return formatDuration(r.median)
            case 5: return formatDuration(r.min)
            case 6: return formatDuration(r.max)
            default: return r.name
            }
        }
        let sortColumn = [Sort.total: 1, .count: 2, .mean: 3, .max: 6][sort]!
        screen.put("▼", row: area.row, col: area.col + 1 + cols.prefix(sortColumn).reduce(0) { $0 + $1.width + 1 }, style: Theme.heading)
        drawDetail(&screen, rows[cursor.selected], Rect(row: area.row + h, col: area.col, height: area.height - h, width: area.width))
    }

    private func drawDetail(_ screen: inout ScreenBuffer, _ k: KernelSummary, _ r: Rect) {
        let inner = screen.box(r, title: clipped(k.name, r.width - 8))
        func list(_ values: [(value: String, count: Int)]) -> String {
            values.count == 1 ? values[0].value : values.prefix(3).map { "\($0.value) x\($0.count)" }.joined(separator: ", ") + (values.count > 3 ? ", …" : "")
        }
        var lines = k.configs.map { "\($0.arg): \(list($0.values))" }
        if lines.isEmpty { lines = ["launch configuration: not in the trace"] }
        lines.append("launched by: " + k.launchedBy.prefix(3).map { "\($0.name) x\($0.count)" }.joined(separator: ", ") + (k.launchedBy.count > 3 ? ", …" : ""))
        for (n, l) in lines.prefix(inner.height).enumerated() {
            screen.text(l, row: inner.row + n, col: inner.col + 1, width: inner.width - 2, style: n == lines.count - 1 ? .plain : Theme.dim)
        }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        if field.handle(key) {
            cursor = ListCursor()
            return true
        }
        switch key {
        case .char("f"), .char("/"):
            field.open()
            return true
        case .escape:
            guard field.clear() else { return false }
            cursor = ListCursor()
            return true
        case .char("s"):
            sort = sort.cycled
            cursor = ListCursor()
            return true
        case .enter:
            let rows = summaries()
            if cursor.selected < rows.count, let reveal = context.reveal { reveal(context.rank, rows[cursor.selected].longest) }
            return true
        default:
            return cursor.handle(key, count: summaries().count, visible: tableHeight(area) - 1)
        }
    }
}
