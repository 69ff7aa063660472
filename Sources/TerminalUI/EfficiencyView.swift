import Analysis
import Formatting
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// The efficiency of the selected rank (docs/efficiency.md): operators by headroom with their
/// achieved TFLOP/s, GB/s, bound and share of the roofline; a text roofline chart (arithmetic
/// intensity against achieved TFLOP/s, log scales, the selected operator highlighted); and each
/// step's MFU and device time by precision.
public final class EfficiencyView: View {
    let context: ViewContext
    public private(set) var cursor = ListCursor()

    public init(_ context: ViewContext) { self.context = context }

    public var title: String { "Efficiency" }
    public var isEditing: Bool { false }
    public var keyHelp: [(String, String)] { [("j k, PgUp PgDn", "select an operator (marked ◆ on the roofline chart)")] }

    var analysis: RankAnalysis { context.rankModel.analysis }

    public var status: String {
        let a = analysis
        guard let e = a.efficiency else { return "rank \(a.rank): no efficiency analysis" }
        let mfu = e.total.mfu.map { "MFU " + formatFixed(100 * $0, 1) + "%" } ?? "no MFU"
        return "rank \(a.rank): \(safe(e.deviceName ?? "unknown device")) │ \(mfu) │ \(e.modelledCalls) calls modelled"
    }

    private func tableHeight(_ area: Rect) -> Int { max(3, area.height / 2) }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let a = analysis
        guard let e = a.efficiency, e.hasContent else {
            screen.text("no modelled operator: profile with record_shapes=True (docs/efficiency.md)",
                        row: area.row + 1, col: area.col + 2, width: area.width - 4, style: Theme.dim)
            return
        }
        let rows = a.operatorsByHeadroom
        let h = tableHeight(area)
        if rows.isEmpty {
            screen.text(e.peaks == nil ? "no peak table for this device (--device-peak FILE gives one): no roofline"
                                       : "no modelled operator launched device work", row: area.row + 1, col: area.col + 2,
                        width: area.width - 4, style: Theme.dim)
        } else {
            cursor.clamp(count: rows.count, visible: h - 1)
            let cols = [TableColumn("headroom", width: 9, right: true), TableColumn("device", width: 9, right: true),
                        TableColumn("TFLOP/s", width: 8, right: true), TableColumn("GB/s", width: 6, right: true),
                        TableColumn("FLOP/B", width: 7, right: true), TableColumn("bound", width: 7), TableColumn("roof", width: 6, right: true),
                        TableColumn("prec", width: 8), TableColumn("operator", width: 0)]
            screen.table(Rect(row: area.row, col: area.col + 1, height: h, width: area.width - 2), columns: cols, count: rows.count,
                         first: cursor.first, selected: cursor.selected) { i, c in
                let w = rows[i].work!
                switch c {
                case 0: return formatDuration(w.headroomNs ?? 0)
                case 1: return formatDuration(w.deviceNs)
                case 2: return w.tflopsPerSecond.map { formatFixed($0, 1) } ?? "-"
                case 3: return w.gigabytesPerSecond.map { formatFixed($0, 0) } ?? "-"
                case 4: return w.intensity.map { formatFixed($0, 1) } ?? "-"
                case 5: return w.bound ?? "-"
                case 6: return w.rooflinePercent.map { formatFixed($0, 0) + "%" } ?? "-"
                case 7: return w.precision?.rawValue ?? "-"
                default: return safe(rows[i].name)
                }
            }
        }
        let below = Rect(row: area.row + h, col: area.col, height: area.height - h, width: area.width)
        guard below.height >= 4 else { return }
        let chartWidth = min(below.width, max(40, below.width * 3 / 5))
        drawChart(&screen, Rect(row: below.row, col: below.col, height: below.height, width: chartWidth), rows: rows, peaks: e.peaks)
        drawSteps(&screen, Rect(row: below.row, col: below.col + chartWidth, height: below.height, width: below.width - chartWidth), e)
    }

    /// Decades shown on the chart's axes: intensity 10^-2 … 10^4 FLOP/B; TFLOP/s from the peak down 5 decades.
    static let intensityDecades = (-2.0, 4.0)

    /// Where `v` falls on `cells` cells of a log scale from 10^lo to 10^hi (nil outside).
    static func cell(_ v: Double, lo: Double, hi: Double, cells: Int) -> Int? {
        guard v > 0, cells > 0 else { return nil }
        let x = (log10(v) - lo) / (hi - lo)
        guard x >= 0, x <= 1 else { return nil }
        return min(cells - 1, Int(x * Double(cells)))
    }

    private func drawChart(_ screen: inout ScreenBuffer, _ r: Rect, rows: [OperatorStat], peaks: DevicePeaks?) {
        let inner = screen.box(r, title: "Roofline: FLOP/B (10^-2 … 10^4) → achieved TFLOP/s ↑")
        let w = inner.width - 2, h = inner.height - 1
        guard w >= 10, h >= 2 else { return }
        let selected = rows.indices.contains(cursor.selected) ? cursor.selected : -1
        let top = log10(peaks.map { $0.tflops.values.max() ?? 1000 } ?? 1000)
        let (lo, hi) = Self.intensityDecades, bottom = top - 5
        func rowOf(_ tflops: Double) -> Int? { Self.cell(tflops, lo: bottom, hi: top + 0.01, cells: h).map { h - 1 - $0 } }
        // The roofline of the dominant precision: min(peak, intensity x bandwidth), one mark per column.
        if let p = peaks, let d = analysis.efficiency?.total.dominant, let peak = p.tflops[d.peakKey] {
            for x in 0..<w {
                let intensity = pow(10, lo + (hi - lo) * (Double(x) + 0.5) / Double(w))
                if let y = rowOf(min(peak, intensity * p.memoryGBps / 1000)) {
                    _ = screen.put(intensity * p.memoryGBps / 1000 < peak ? "/" : "─", row: inner.row + y, col: inner.col + 1 + x, style: Theme.dim)
                }
            }
        }
        for (i, o) in rows.enumerated().reversed() {
            guard let wk = o.work, let t = wk.tflopsPerSecond, let intensity = wk.intensity,
                  let x = Self.cell(intensity, lo: lo, hi: hi, cells: w), let y = rowOf(t) else { continue }
            if i == selected { continue }
            _ = screen.put("•", row: inner.row + y, col: inner.col + 1 + x, style: .plain)
        }
        if selected >= 0, let wk = rows[selected].work, let t = wk.tflopsPerSecond, let intensity = wk.intensity,
           let x = Self.cell(intensity, lo: lo, hi: hi, cells: w), let y = rowOf(t) {
            _ = screen.put("◆", row: inner.row + y, col: inner.col + 1 + x, style: Theme.peak)
        }
        screen.text("top \(formatFixed(pow(10, top), 0)) TFLOP/s, 5 decades; ─ compute roof, / memory roof", row: inner.row + h,
                    col: inner.col + 1, width: w, style: Theme.dim)
    }

    private func drawSteps(_ screen: inout ScreenBuffer, _ r: Rect, _ e: RankEfficiency) {
        guard r.width >= 12 else { return }
        let inner = screen.box(r, title: "Steps: MFU, device time by precision")
        var lines: [(String, Style)] = []
        for s in e.steps + [e.total] {
            let mfu = s.mfu.map { formatFixed(100 * $0, 1) + "%" } ?? "-"
            lines.append(("\(safe(s.step ?? "all steps")): MFU \(mfu), \(formatFixed(Double(s.flops) / 1e12, 3)) TFLOP", Theme.heading))
            lines.append(("  " + precisionShares(s), .plain))
        }
        for (n, l) in lines.suffix(inner.height).enumerated() {
            screen.text(l.0, row: inner.row + n, col: inner.col + 1, width: inner.width - 2, style: l.1)
        }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        cursor.handle(key, count: analysis.operatorsByHeadroom.count, visible: tableHeight(area) - 1)
    }
}
