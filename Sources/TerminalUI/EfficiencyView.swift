import Analysis
import Foundation
import Formatting

/// The efficiency of the selected rank (docs/efficiency.md): its modelled operators by headroom
/// (sortable, filterable), a text roofline chart of arithmetic intensity against achieved TFLOP/s
/// under the device's roof, and each step's device time and FLOPs by precision with its MFU.
public final class EfficiencyView: View {
    /// Sort orders, cycled with `s` (largest first; unknown values last).
    public enum Sort: String, CaseIterable { case headroom, device, flops = "FLOPs", tflops = "TFLOP/s", calls }

    let context: ViewContext
    public private(set) var sort = Sort.headroom
    public private(set) var cursor = ListCursor()
    /// The selected row of the precision panel: 0 is all steps, k the rank's k-th step.
    public private(set) var stepCursor = ListCursor()
    private var field = FilterField()
    /// The text filter in force.
    public var filter: String { field.text }
    private var rows: [Row] = []
    private var rowsKey = ""

    /// One table row: a modelled operator (name and shape made terminal-safe) and its work.
    struct Row {
        var shown: String
        var work: OperatorWork
    }

    public init(_ context: ViewContext) { self.context = context }

    /// Whether any rank of `model` has efficiency content (the app shows the view only then).
    public static func applies(to model: RunModel) -> Bool { model.ranks.contains { $0.analysis.efficiency?.hasContent == true } }

    public var title: String { "Effic" }
    public var isEditing: Bool { field.isEditing }
    public var keyHelp: [(String, String)] {
        [("j k, PgUp PgDn", "select an operator (highlighted in the roofline chart)"),
         ("s", "sort: headroom, device time, FLOPs, TFLOP/s, calls"), ("f or /", "filter by text; Esc clears it"),
         ("[ ]", "previous, next step in the precision panel (first: all steps)")]
    }

    private var efficiency: RankEfficiency? {
        guard let e = context.rankModel.analysis.efficiency, e.hasContent else { return nil }
        return e
    }

    public var status: String {
        if field.isEditing { return field.prompt }
        let a = context.rankModel.analysis
        guard let e = efficiency else { return "rank \(a.rank): no efficiency data" }
        let rows = currentRows()
        let selected = cursor.selected < rows.count ? rows[cursor.selected].shown + " │ " : ""
        return selected + "\(rows.count) ops │ sort \(sort.rawValue)" + (filter.isEmpty ? "" : " │ filter \"\(safe(filter))\"")
            + " │ rank \(a.rank): \(e.modelledCalls) calls modelled, \(e.unmodelledCalls) without usable shapes"
    }

    /// The modelled operators of the current rank matching the filter, in the current order.
    func currentRows() -> [Row] {
        let key = "\(context.rank)|\(sort)|\(filter)"
        if key == rowsKey { return rows }
        let q = filter.lowercased()
        rows = context.rankModel.analysis.operators.compactMap { o -> Row? in
            guard let w = o.work else { return nil }
            let shown = safe(o.name + (o.shape.map { " " + $0 } ?? ""))
            return q.isEmpty || shown.lowercased().contains(q) ? Row(shown: shown, work: w) : nil
        }
        let value: (OperatorWork) -> Double
        switch sort {
        case .headroom: value = { $0.headroomNs.map(Double.init) ?? -1 }
        case .device: value = { Double($0.deviceNs) }
        case .flops: value = { Double($0.flops) }
        case .tflops: value = { $0.tflopsPerSecond ?? -1 }
        case .calls: value = { Double($0.calls) }
        }
        rows.sort { a, b in
            let x = value(a.work), y = value(b.work)
            if x != y { return x > y }
            if a.work.deviceNs != b.work.deviceNs { return a.work.deviceNs > b.work.deviceNs }
            return a.work.flops != b.work.flops ? a.work.flops > b.work.flops : a.shown < b.shown
        }
        rowsKey = key
        return rows
    }

    /// Rows of the operator table (its header included) in `area`: as many as it has, up to 9/20
    /// of the area; the rest, below the device line, goes to the chart and the precision panel.
    private func tableHeight(_ area: Rect) -> Int { max(3, min(currentRows().count + 1, (area.height - 1) * 9 / 20)) }
    private func panelHeight(_ area: Rect) -> Int { area.height - 1 - tableHeight(area) }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let a = context.rankModel.analysis
        guard let e = efficiency else {
            let lines = ["rank \(a.rank) has no efficiency data: no operator call with recorded shapes that has a model,",
                         "and no GPU kernel of a known precision (a CPU trace without shapes).",
                         "Profile with record_shapes=True on the accelerator to get FLOPs, bytes, the roofline and MFU",
                         "(docs/efficiency.md)." + (context.model.ranks.count > 1 ? " `r` shows the next rank." : "")]
            for (k, l) in lines.enumerated() { screen.text(l, row: area.row + 1 + k, col: area.col + 2, width: area.width - 3, style: k == 0 ? .plain : Theme.dim) }
            return
        }
        screen.text(deviceLine(e), row: area.row, col: area.col + 1, width: area.width - 2, style: Theme.heading)
        let rows = currentRows()
        let h = tableHeight(area)
        cursor.clamp(count: rows.count, visible: h - 1)
        let table = Rect(row: area.row + 1, col: area.col + 1, height: h, width: area.width - 2)
        let cols = [TableColumn("headroom", width: 8, right: true), TableColumn("device", width: 8, right: true),
                    TableColumn("calls", width: 5, right: true), TableColumn("FLOPs", width: 6, right: true),
                    TableColumn("TFLOP/s", width: 7, right: true), TableColumn("GB/s", width: 5, right: true),
                    TableColumn("FLOP/B", width: 6, right: true), TableColumn("bound", width: 7), TableColumn("roof", width: 6, right: true),
                    TableColumn("operator", width: 0)]
        screen.table(table, columns: cols, count: rows.count, first: cursor.first, selected: cursor.selected) { i, c in
            let w = rows[i].work
            switch c {
            case 0: return w.headroomNs.map(formatDuration) ?? "-"
            case 1: return formatDuration(w.deviceNs)
            case 2: return String(w.calls)
            case 3: return Self.count(w.flops)
            case 4: return w.tflopsPerSecond.map(Self.compact) ?? "-"
            case 5: return w.gigabytesPerSecond.map(Self.compact) ?? "-"
            case 6: return w.intensity.map(Self.compact) ?? "-"
            case 7: return w.bound ?? "-"
            case 8: return w.rooflinePercent.map { formatFixed($0, 1) + "%" } ?? "-"
            default: return rows[i].shown
            }
        }
        let sortColumn = [Sort.headroom: 0, .device: 1, .calls: 2, .flops: 3, .tflops: 4][sort]!
        // The sorted column is marked left of its cell (the titles fill their columns).
        screen.put("▼", row: table.row, col: table.col - 1 + cols.prefix(sortColumn).reduce(0) { $0 + $1.width + 1 }, style: Theme.heading)
        if rows.isEmpty {
            let why = filter.isEmpty ? "no operator call of this rank has a model with usable shapes" : "no operators match"
            screen.text(why, row: table.row + 2, col: table.col + 1, width: table.width - 1, style: Theme.dim)
        }
        let top = area.row + 1 + h
        let panels = Rect(row: top, col: area.col, height: area.bottom - top, width: area.width)
        let chartWidth = panels.width * 11 / 20
        drawRoofline(&screen, Rect(row: panels.row, col: panels.col, height: panels.height, width: chartWidth), e, rows)
        drawPrecision(&screen, Rect(row: panels.row, col: panels.col + chartWidth, height: panels.height, width: panels.width - chartWidth), e)
    }

    /// The device, the roof the chart draws (the dominant precision's peak and the bandwidth) and the peak table's name.
    private func deviceLine(_ e: RankEfficiency) -> String {
        let device = "device " + safe(e.deviceName ?? "unknown")
        guard let p = e.peaks else { return device + " · no peak table: give --device-peak FILE" }
        let ceiling = e.total.dominant.flatMap { d in p.tflops[d.peakKey].map { "\(d.rawValue) \(formatFixed($0, 1)) TFLOP/s, " } } ?? ""
        return device + " · roof " + ceiling + "\(formatFixed(p.memoryGBps, 0)) GB/s (\(safe(p.name)))"
    }

    /// The roofline chart: log-log axes of FLOP/byte (across) and achieved TFLOP/s (up), the roof
    /// of the dominant precision in braille, one `•` per operator with both, the selected one `●`.
    private func drawRoofline(_ screen: inout ScreenBuffer, _ r: Rect, _ e: RankEfficiency, _ rows: [Row]) {
        let dominant = e.total.dominant
        let inner = screen.box(r, title: "Roofline" + (dominant.map { " (\($0.rawValue))" } ?? "") + ": TFLOP/s by FLOP/byte")
        guard inner.height >= 3, inner.width >= 16 else { return }
        guard let peaks = e.peaks else {
            let lines = ["no roof, no MFU: no peak table for", safe(e.deviceName ?? "this device (no name in the trace)"),
                         "give one with --device-peak FILE:", #"{"name": "...", "memory_gbps": 3350,"#, #" "tflops": {"bf16": 989.5, ...}}"#]
            for (k, l) in lines.prefix(inner.height).enumerated() { screen.text(l, row: inner.row + k, col: inner.col + 1, width: inner.width - 2, style: k == 0 ? .plain : Theme.dim) }
            return
        }
        let points = rows.indices.compactMap { i -> (row: Int, x: Double, y: Double)? in
            guard let x = rows[i].work.intensity, let y = rows[i].work.tflopsPerSecond, x > 0, y > 0 else { return nil }
            return (i, x, y)
        }
        guard !points.isEmpty else {
            screen.text("no operator with FLOPs, bytes and device time to plot", row: inner.row, col: inner.col + 1, width: inner.width - 2, style: Theme.dim)
            return
        }
        // Decades spanning the points, the ridge and the ceiling; two at least on each axis.
        let ridge = dominant.flatMap { peaks.ridgeIntensity($0) }
        let ceiling = dominant.flatMap { peaks.tflops[$0.peakKey] }
        func decades(_ values: [Double]) -> (lo: Double, hi: Double) {
            let lo = floor(log10(values.min()!)), hi = max(lo + 2, ceil(log10(values.max()! * 1.05)))
            return (lo, hi)
        }
        let xs = decades(points.map(\.x) + (ridge.map { [$0] } ?? []))
        let ys = decades(points.map(\.y) + (ceiling.map { [$0] } ?? []))
        let labelWidth = 6
        let plot = Rect(row: inner.row, col: inner.col + labelWidth, height: inner.height - 1, width: inner.width - labelWidth)
        var canvas = BrailleCanvas(width: plot.width, height: plot.height)
        func dotX(_ v: Double) -> Int { Int(((log10(v) - xs.lo) / (xs.hi - xs.lo) * Double(canvas.dotWidth - 1)).rounded()) }
        func dotY(_ v: Double) -> Int { Int(((log10(v) - ys.lo) / (ys.hi - ys.lo) * Double(canvas.dotHeight - 1)).rounded()) }
        // The roof, column by column, the gaps of the slope filled.
        var previous: Int?
        for dx in 0..<canvas.dotWidth {
            let intensity = pow(10, xs.lo + Double(dx) / Double(canvas.dotWidth - 1) * (xs.hi - xs.lo))
            let y = dotY(peaks.attainableTFLOPs(intensity: intensity, precision: dominant))
            for fill in min(previous ?? y, y)...max(previous ?? y, y) { canvas.set(x: dx, y: fill) }
            previous = y
        }
        canvas.draw(&screen, row: plot.row, col: plot.col, style: Theme.dim)
        // Axis labels: each decade that has room.
        func label(_ d: Double) -> String { d >= -3 && d <= 4 ? formatFixed(pow(10, d), max(0, Int(-d))) : "1e\(Int(d))" }
        var nextRow = plot.row
        for d in stride(from: ys.hi, through: ys.lo, by: -1) {
            let row = plot.row + (canvas.dotHeight - 1 - dotY(pow(10, d))) / 4
            guard row >= nextRow else { continue }
            screen.textRight(label(d), row: row, end: plot.col - 1, style: Theme.dim)
            nextRow = row + 2
        }
        var nextCol = plot.col
        for d in stride(from: xs.lo, through: xs.hi, by: 1) {
            let l = label(d)
            let col = min(plot.col + dotX(pow(10, d)) / 2, plot.right - displayWidth(l))
            guard col >= nextCol else { continue }
            screen.text(l, row: plot.bottom, col: col, style: Theme.dim)
            nextCol = col + displayWidth(l) + 1
        }
        // The operators, the selected one last so it stays on top.
        let selected = cursor.selected
        for p in points.sorted(by: { ($0.row == selected ? 1 : 0) < ($1.row == selected ? 1 : 0) }) {
            let col = plot.col + min(canvas.dotWidth - 1, max(0, dotX(p.x))) / 2
            let row = plot.row + (canvas.dotHeight - 1 - min(canvas.dotHeight - 1, max(0, dotY(p.y)))) / 4
            screen.put(p.row == selected ? "●" : "•", row: row, col: col, style: p.row == selected ? Theme.match : Style(fg: 75))
        }
    }

    /// Per step (all steps first): device time and FLOPs by precision as two stacked bars, the MFU;
    /// below, the selected row's shares in numbers.
    private func drawPrecision(_ screen: inout ScreenBuffer, _ r: Rect, _ e: RankEfficiency) {
        let inner = screen.box(r, title: "Precision per step")
        guard inner.height >= 6, inner.width >= 20 else { return }
        let precisions = e.total.byPrecision.map(\.precision)
        var x = inner.col + 1
        for p in precisions where x + 8 < inner.right {
            screen.put("█", row: inner.row, col: x, style: Style(fg: Self.color(p)))
            x += 2
            x += screen.text(Self.name(p), row: inner.row, col: x) + 1
        }
        let list = [e.total] + e.steps
        let nameWidth = min(14, max(9, inner.width / 4))
        let barWidth = max(1, (inner.width - nameWidth - 10) / 2)
        let timeCol = inner.col + 1 + nameWidth + 1, flopCol = timeCol + barWidth + 1
        screen.text("step", row: inner.row + 1, col: inner.col + 1, style: Theme.header)
        screen.text("device", row: inner.row + 1, col: timeCol, width: barWidth, style: Theme.header)
        screen.text("FLOPs", row: inner.row + 1, col: flopCol, width: barWidth, style: Theme.header)
        screen.textRight("MFU", row: inner.row + 1, end: inner.right - 1, style: Theme.header)
        let visible = inner.height - 5
        stepCursor.clamp(count: list.count, visible: visible)
        for k in 0..<visible where stepCursor.first + k < list.count {
            let i = stepCursor.first + k
            let s = list[i], y = inner.row + 2 + k
            let style = i == stepCursor.selected ? Theme.selected : .plain
            screen.text(s.step.map { clippedKeepingEnd(safe($0), nameWidth) } ?? "all steps", row: y, col: inner.col + 1, width: nameWidth, style: style)
            let time = s.byPrecision.reduce(Int64(0)) { $0 + $1.deviceNs }, flops = s.byPrecision.reduce(Int64(0)) { $0 + $1.flops }
            screen.stackedBar(row: y, col: timeCol, width: barWidth, segments: s.byPrecision.map { ($0.deviceNs, Style(fg: Self.color($0.precision))) },
                              scale: Double(time) / Double(barWidth))
            screen.stackedBar(row: y, col: flopCol, width: barWidth, segments: s.byPrecision.map { ($0.flops, Style(fg: Self.color($0.precision))) },
                              scale: Double(flops) / Double(barWidth))
            screen.textRight(Self.ratio(s.mfu), row: y, end: inner.right - 1, style: style)
        }
        let s = list[stepCursor.selected]
        let time = precisionShares(s)
        let flops = s.byPrecision.filter { $0.flops > 0 }.map { "\(Self.name($0.precision)) \(percent($0.flops, s.flops))" }.joined(separator: ", ")
        let lines = ["MFU \(Self.ratio(s.mfu)) · busy \(Self.ratio(s.busyUtilization))",
                     "device: " + (time.isEmpty ? "-" : time), "FLOPs \(Self.count(s.flops)): " + (flops.isEmpty ? "-" : flops)]
        for (k, l) in lines.enumerated() {
            screen.text(l, row: inner.bottom - 3 + k, col: inner.col + 1, width: inner.width - 2, style: k == 0 ? .plain : Theme.dim)
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
        case .escape:
            guard field.clear() else { return false }
            cursor = ListCursor()
        case .char("s"):
            sort = sort.cycled
            cursor = ListCursor()
        case .char("["), .char("]"):
            let count = (efficiency?.steps.count ?? 0) + 1
            stepCursor.move(key == .char("[") ? -1 : 1, count: count, visible: panelHeight(area) - 7)
        default:
            return cursor.handle(key, count: currentRows().count, visible: tableHeight(area) - 1)
        }
        return true
    }

    /// A ratio in percent with one decimal, `-` when unknown.
    static func ratio(_ v: Double?) -> String { v.map { formatFixed(100 * $0, 1) + "%" } ?? "-" }

    /// A rate or intensity in 3 or 4 significant digits: `611`, `56.9`, `2.10`, `0.083`.
    static func compact(_ v: Double) -> String {
        formatFixed(v, v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3)
    }

    /// A count with a decimal prefix in at most 5 columns: `512`, `33.6M`, `275G`, `1.37T`.
    static func count(_ n: Int64) -> String {
        var v = Double(n)
        var k = 0
        let prefixes = ["", "K", "M", "G", "T", "P", "E"]
        while v >= 999.5 && k < prefixes.count - 1 { v /= 1000; k += 1 }
        return k == 0 ? String(n) : formatFixed(v, v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2) + prefixes[k]
    }

    /// A precision's name in the legend and the shares; nil is `unknown`.
    static func name(_ p: Precision?) -> String { p?.rawValue ?? "unknown" }

    /// A precision's colour (xterm-256): wide formats cool, narrow ones warm, unknown grey.
    static func color(_ p: Precision?) -> Int16 {
        switch p {
        case .fp64: return 99
        case .fp32: return 33
        case .tf32: return 44
        case .bf16: return 71
        case .fp16: return 149
        case .fp8e4m3: return 208
        case .fp8e5m2: return 214
        case .fp4: return 196
        case .int8: return 170
        case nil: return 244
        }
    }
}
