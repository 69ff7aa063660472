import Analysis
import Formatting

/// Memory of the selected rank: allocated and reserved bytes over time per device (a block chart,
/// the peak marked), the live allocations at the peak by operator and phase, and per-step peaks;
/// for a memory snapshot, the live blocks at the peak as a flame graph of their allocation stacks.
public final class MemoryView: View {
    let context: ViewContext
    public private(set) var device = 0
    public private(set) var cursor = ListCursor()
    /// Column maxima of the chart, cached per (rank, device, width).
    private var columns: (key: [Int], allocated: [Int64], reserved: [Int64])?
    /// Flame graph of a snapshot device's live blocks at the peak (bytes as width), per (rank, device).
    private var flame: (key: [Int], tree: FlameTree, weight: [Int64])?
    public private(set) var icicle = IcicleState()

    public init(_ context: ViewContext) {
        self.context = context
        device = context.rankModel.report.memory.firstIndex { $0.deviceType != 0 } ?? 0  // the accelerator, not `cpu`, first
    }

    public var title: String { "Memory" }
    public var isEditing: Bool { false }
    public var keyHelp: [(String, String)] {
        [("d", "next device"), ("j k", "scroll the live allocations at the peak (snapshot: move in the flame graph)"),
         ("h l", "snapshot: previous / next frame"), ("enter esc", "snapshot: zoom in / out")]
    }

    private var devices: [DeviceMemory] { context.rankModel.report.memory }

    /// The snapshot replay of the selected device, when the rank is a memory snapshot.
    private var snapshotDevice: SnapshotDeviceMemory? {
        guard device < devices.count else { return nil }
        return context.rankModel.report.snapshot.first { $0.name == devices[device].name }
    }

    /// The flame graph of the live blocks at the peak: folded stacks outermost first, bytes as weights.
    private func snapshotFlame(_ d: SnapshotDeviceMemory) -> (tree: FlameTree, weight: [Int64]) {
        let key = [context.rank, device]
        if let f = flame, f.key == key { return (f.tree, f.weight) }
        var stacks: [String: Double] = [:]
        for g in d.liveAtPeak {
            stacks[g.frames.map { String($0.map { $0 == ";" ? "," : $0 }) }.joined(separator: ";"), default: 0] += Double(g.bytes)
        }
        let tree = FlameTree(folded: [stacks])
        let weight = tree.weights(FlameFilter()).cpu
        flame = (key, tree, weight)
        return (tree, weight)
    }

    /// The lower half for a snapshot: the selected frame's bytes, then the flame graph.
    private func drawSnapshot(_ d: SnapshotDeviceMemory, _ screen: inout ScreenBuffer, area: Rect) {
        let (tree, weight) = snapshotFlame(d)
        let sel = Int(icicle.selected) < tree.count ? Int(icicle.selected) : 0
        screen.text("Live at the peak: \(formatBytes(d.peakAllocated)) in \(counted(d.liveCountAtPeak, "block")) by allocation stack │ "
                    + "\(tree.name[sel]): \(formatBytes(weight[sel]))", row: area.row, col: area.col + 1, width: area.width - 2, style: Theme.heading)
        let graph = Rect(row: area.row + 1, col: area.col, height: area.height - 1, width: area.width)
        Icicle(tree: tree, weight: weight).draw(&screen, area: graph, state: icicle) { node in
            Int16(71 + Int(tree.depth[Int(node)] % 6) * 6)
        }
    }

    public var status: String {
        guard device < devices.count else { return "rank \(context.rankModel.analysis.rank): no memory events" }
        let d = devices[device]
        return "\(safe(d.name)) (\(device + 1)/\(devices.count)) │ peak \(formatBytes(d.peakAllocated)) allocated"
            + (d.reservedAtPeak.map { ", \(formatBytes($0)) reserved" } ?? "") + " │ \(d.samples.count) samples"
    }

    /// Largest allocated and reserved value per chart column over the samples falling in it.
    private func columnMaxima(_ d: DeviceMemory, width: Int) -> (allocated: [Int64], reserved: [Int64]) {
        let key = [context.rank, device, width]
        if let c = columns, c.key == key { return (c.allocated, c.reserved) }
        var alloc = [Int64](repeating: -1, count: width), res = [Int64](repeating: -1, count: width)
        let ts = d.samples.ts
        if let first = ts.first, let last = ts.last {
            let span = Double(max(1, last - first))
            for k in ts.indices {
                let c = min(width - 1, Int(Double(ts[k] - first) / span * Double(width)))
                alloc[c] = max(alloc[c], d.samples.allocated[k])
                res[c] = max(res[c], d.samples.reserved[k])
            }
            // A column without samples keeps the level of the one before.
            for c in 1..<max(1, width) where alloc[c] < 0 {
                alloc[c] = alloc[c - 1]
                res[c] = res[c - 1]
            }
        }
        columns = (key, alloc, res)
        return (alloc, res)
    }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let devs = devices
        guard device < devs.count else {
            screen.text("no [memory] events in this rank (profile with profile_memory=True)", row: area.row + 1, col: area.col + 2, style: Theme.dim)
            return
        }
        let d = devs[device]
        let chartHeight = max(4, area.height / 2 - 1)
        let chart = Rect(row: area.row + 1, col: area.col + 11, height: chartHeight, width: area.width - 12)
        // Legend at the right end of the first row; the peak label goes above the peak's column.
        screen.put("█", row: area.row, col: area.right - 22, style: Style(fg: 71))
        screen.text(" allocated", row: area.row, col: area.right - 21, style: Theme.heading)
        screen.put("─", row: area.row, col: area.right - 10, style: Style(fg: 244))
        screen.text(" reserved", row: area.row, col: area.right - 9, style: Theme.heading)
        let (alloc, res) = columnMaxima(d, width: chart.width)
        let top = max(1, max(alloc.max() ?? 1, res.max() ?? 1))
        screen.textRight(formatBytes(top), row: chart.row, end: chart.col - 1, style: Theme.dim)
        screen.textRight("0", row: chart.bottom - 1, end: chart.col - 1, style: Theme.dim)
        let peakCol = alloc.indices.max { alloc[$0] < alloc[$1] } ?? 0
        for c in 0..<chart.width where alloc[c] >= 0 {
            let eighths = Int((Double(alloc[c]) / Double(top) * Double(chart.height * 8)).rounded())
            let style = c == peakCol ? Style(fg: 196) : Style(fg: 71)
            for row in 0..<chart.height {
                let fromBottom = chart.height - 1 - row
                let filled = min(8, max(0, eighths - fromBottom * 8))
                if filled > 0 { screen.put(Unicode.Scalar(lowerEighths[filled])!, row: chart.row + row, col: chart.col + c, style: style) }
            }
            let rrow = chart.height - 1 - min(chart.height - 1, Int(Double(res[c]) / Double(top) * Double(chart.height)))
            if res[c] > 0, screen[chart.row + rrow, chart.col + c].scalar == 0x20 {
                screen.put("─", row: chart.row + rrow, col: chart.col + c, style: Style(fg: 244))
            }
        }
        let label = "▼ peak \(formatBytes(d.peakAllocated))"
        screen.text(label, row: area.row, col: chart.col + min(peakCol, max(0, chart.width - 24 - displayWidth(label))), style: Theme.peak)
        // Live allocations at the peak, and per-step peaks (a snapshot: its flame graph).
        let y = chart.bottom + 1
        if let snap = snapshotDevice {
            drawSnapshot(snap, &screen, area: Rect(row: y, col: area.col, height: area.bottom - y, width: area.width))
            return
        }
        let half = area.width * 3 / 5
        let at = d.operatorPeak == nil ? "the peak" : "the peak of operator allocations"
        screen.text("Live at \(at): \(formatBytes(d.liveBytesAtPeak)) in \(d.liveCountAtPeak) allocations", row: y, col: area.col + 1, style: Theme.heading)
        let live = d.liveAtPeak
        let tableRect = Rect(row: y + 1, col: area.col + 1, height: area.bottom - y - 1, width: half - 2)
        cursor.clamp(count: live.count, visible: tableRect.height - 1)
        screen.table(tableRect, columns: [TableColumn("bytes", width: 10, right: true), TableColumn("allocs", width: 7, right: true),
                                          TableColumn("phase", width: 9), TableColumn("allocated in", width: 0)],
                     count: live.count, first: cursor.first, selected: cursor.selected) { i, c in
            let g = live[i]
            switch c {
            case 0: return formatBytes(g.bytes)
            case 1: return String(g.count)
            case 2: return g.phase.name
            default: return safe(g.op + (g.module.map { " (\($0))" } ?? ""))
            }
        }
        screen.text("Peak per step", row: y, col: area.col + half, style: Theme.heading)
        let peaks = d.stepPeaks
        let maxPeak = max(1, peaks.map(\.peak).max() ?? 1)
        for (k, p) in peaks.enumerated() where y + 1 + k < area.bottom {
            let row = y + 1 + k
            screen.text(clippedKeepingEnd(safe(p.step), 14), row: row, col: area.col + half, width: 14)
            screen.textRight(formatBytes(p.peak), row: row, end: area.col + half + 25)
            let w = area.width - half - 27
            screen.hbar(row: row, col: area.col + half + 26, eighths: Int(Double(p.peak) / Double(maxPeak) * Double(w * 8)), style: Style(fg: 71))
        }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        switch key {
        case .char("d"):
            device = devices.isEmpty ? 0 : (device + 1) % devices.count
            cursor = ListCursor()
            icicle = IcicleState()
            return true
        default:
            if let snap = snapshotDevice {
                let (tree, weight) = snapshotFlame(snap)
                let graphHeight = max(1, area.height - max(4, area.height / 2 - 1) - 3)
                let graph = Rect(row: area.bottom - graphHeight, col: area.col, height: graphHeight, width: area.width)
                return Icicle(tree: tree, weight: weight).handle(key, area: graph, state: &icicle)
            }
            let live = device < devices.count ? devices[device].liveAtPeak.count : 0
            return cursor.handle(key, count: live, visible: max(1, area.height / 2 - 3))
        }
    }
}
