import Analysis
import Formatting
import TraceModel

/// The timeline: one row per thread (and nesting level), GPU stream, counter series and rank,
/// slices drawn to scale with the instants of their thread marked; zoom, pan, a selected slice
/// (or counter, or instant) with its details and the other end of its launch link marked, lanes
/// expanded to every depth, and a name search that jumps from match to match.
public final class TimelineView: View {
    let context: ViewContext
    /// One timeline row: slices of a lane, or a counter series, of the rank at `rank` (an index).
    enum Row {
        case slices(rank: Int, lane: Lane)
        case counter(rank: Int, lane: CounterLane)
    }
    /// Rows of every rank, in rank order: its slice lanes, then its counters.
    private(set) var lanes: [Row] = []
    /// Tracks shown at every depth, as (rank index, track).
    private var expanded = Set<[Int]>()
    public private(set) var window: Range<Int64>
    /// Time under the cursor column.
    public private(set) var cursorTime: Int64
    public private(set) var laneCursor = ListCursor()
    private var input = TextInput()
    /// The accepted search (lowercased) and its matches by start time: (start, rank, slice).
    private var query = ""
    private var matches: [(start: Int64, rank: Int, slice: Int)] = []
    private var matchIndex = -1
    /// Per rank and name id: 0 not tested yet, 1 no match, 2 a match (filled as names are met).
    private var nameMatches: [[UInt8]] = []
    static let detailRows = 5

    /// Label columns for a screen `width` wide: a fifth of it, 18 to 40.
    static func labelWidth(_ width: Int) -> Int { max(18, min(40, width / 5)) }

    public init(_ context: ViewContext) {
        self.context = context
        window = context.model.bounds
        cursorTime = window.lowerBound + (window.upperBound - window.lowerBound) / 2
        rebuildRows()
    }

    /// Rows from the ranks' lanes, the expanded tracks at every depth.
    private func rebuildRows() {
        lanes = context.model.ranks.enumerated().flatMap { r, m -> [Row] in
            var rows: [Row] = []
            var k = 0
            while k < m.lanes.count {
                let t = m.lanes[k].track
                var e = k
                while e < m.lanes.count && m.lanes[e].track == t { e += 1 }
                let shown = expanded.contains([r, t]) ? Lane.lanes(of: m.trace, track: t, allDepths: true) : Array(m.lanes[k..<e])
                rows += shown.map { Row.slices(rank: r, lane: $0) }
                k = e
            }
            return rows + m.counterLanes.map { Row.counter(rank: r, lane: $0) }
        }
    }

    public var title: String { "Timeline" }
    public var isEditing: Bool { input.active }
    public var keyHelp: [(String, String)] {
        [("j k, up down", "select a lane"), ("h l, left right", "move the cursor (pans at the edges)"),
         ("H L", "pan by half a screen"), ("+ -", "zoom in, out around the cursor"), ("Enter", "zoom to the selected slice"),
         ("e", "expand the lane's thread to every depth, or back"), ("/, n N", "search slice names; next, previous match"),
         ("f", "go to the other end of the launch link"),
         ("[ ]", "show the previous, next step"), ("0", "show the whole run"), ("click", "select lane and time")]
    }

    public var status: String {
        if input.active { return "search: " + input.text + "▏" }
        let found = query.isEmpty ? "" : "/\(safe(query)): " + (matches.isEmpty ? "no match" : "\(matchIndex + 1) of \(matches.count)") + " │ "
        return found + "window \(formatDuration(window.upperBound - window.lowerBound)) from +\(formatDuration(window.lowerBound - context.model.bounds.lowerBound))"
            + " │ cursor +\(formatDuration(cursorTime - context.model.bounds.lowerBound)) │ \(lanes.count) lanes"
    }

    private func lanesRect(_ area: Rect) -> Rect {
        let lw = TimelineView.labelWidth(area.width)
        return Rect(row: area.row + 1, col: area.col + lw, height: area.height - 1 - TimelineView.detailRows, width: area.width - lw)
    }

    private func nsPerCol(_ width: Int) -> Double { Double(window.upperBound - window.lowerBound) / Double(max(1, width)) }

    private func column(of t: Int64, width: Int) -> Int { Int(Double(t - window.lowerBound) / nsPerCol(width)) }

    /// The slice of the selected lane under the cursor (or the nearest in the cursor's column).
    public func selectedSlice(width: Int) -> (rank: Int, slice: Int)? {
        guard laneCursor.selected < lanes.count, case let .slices(r, lane) = lanes[laneCursor.selected] else { return nil }
        let s = context.model.ranks[r].trace.slices
        let half = Int64(nsPerCol(width) / 2)
        var k = lane.firstEnding(after: cursorTime - half)
        var best: Int?
        while k < lane.slices.count && lane.starts[k] <= cursorTime + half {
            let i = Int(lane.slices[k])
            if s.start[i] <= cursorTime && cursorTime < s.start[i] + s.dur[i] { return (r, i) }
            if best == nil && s.start[i] + s.dur[i] > cursorTime - half { best = i }
            k += 1
        }
        return best.map { (r, $0) }
    }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let lr = lanesRect(area)
        laneCursor.clamp(count: lanes.count, visible: lr.height)
        drawAxis(&screen, row: area.row, rect: lr)
        for k in 0..<lr.height where laneCursor.first + k < lanes.count {
            let li = laneCursor.first + k
            let sel = li == laneCursor.selected
            let style = sel ? Theme.selected : Theme.dim, width = lr.col - area.col - 1
            switch lanes[li] {
            case let .slices(r, lane):
                let open = expanded.contains([r, lane.track]) ? "▾" : ""
                screen.text(open + lane.label(width: width - displayWidth(open)), row: lr.row + k, col: area.col, width: width, style: style)
                drawLane(&screen, lane, rank: r, row: lr.row + k, rect: lr)
                if li == 0 || !isSameTrack(lanes[li - 1], rank: r, track: lane.track) {
                    drawInstants(&screen, lane, model: context.model.ranks[r], row: lr.row + k, rect: lr)
                }
            case let .counter(_, lane):
                screen.text(lane.label(width: width), row: lr.row + k, col: area.col, width: width, style: style)
                drawCounter(&screen, lane, row: lr.row + k, rect: lr)
            }
        }
        let cc = column(of: cursorTime, width: lr.width)
        if cc >= 0 && cc < lr.width {
            for y in lr.row..<lr.bottom { screen.restyle(row: y, col: lr.col + cc, width: 1) { $0.attrs |= Style.reverse } }
        }
        drawLinks(&screen, rect: lr)
        drawDetails(&screen, Rect(row: lr.bottom, col: area.col, height: TimelineView.detailRows, width: area.width), width: lr.width)
    }

    private func isSameTrack(_ row: Row, rank: Int, track: Int) -> Bool {
        if case let .slices(r, l) = row { return r == rank && l.track == track }
        return false
    }

    /// The other ends of the selected slice's launch links: its launch for a GPU activity, the
    /// activities it launched for a runtime call.
    private func linked(rank r: Int, slice i: Int) -> [Int] {
        let s = context.model.ranks[r].trace.slices
        if s.kind[i].isGPUActivity { return s.launcher.isEmpty || s.launcher[i] < 0 ? [] : [Int(s.launcher[i])] }
        return context.model.ranks[r].launchedActivities(i).map { Int($0) }
    }

    /// The index of the row showing slice `i` of rank `r`, or nil when no row shows it.
    private func row(ofSlice i: Int, rank r: Int) -> Int? {
        let s = context.model.ranks[r].trace.slices
        return lanes.firstIndex { row in
            guard case let .slices(rr, lane) = row, rr == r, lane.track == Int(s.track[i]), lane.depth == Int(s.depth[i]) else { return false }
            return lane.position(of: i, start: s.start[i]) != nil
        }
    }

    /// Marks the linked slices of the selection: highlighted, with `↓` (below the selected row) or
    /// `↑` (above it) in their first column.
    private func drawLinks(_ screen: inout ScreenBuffer, rect: Rect) {
        guard let (r, i) = selectedSlice(width: rect.width) else { return }
        let s = context.model.ranks[r].trace.slices
        for j in linked(rank: r, slice: i).prefix(64) {
            guard s.start[j] < window.upperBound, s.start[j] + s.dur[j] >= window.lowerBound, let li = row(ofSlice: j, rank: r),
                  li >= laneCursor.first, li < laneCursor.first + rect.height else { continue }
            let y = rect.row + li - laneCursor.first
            let a = max(0, column(of: s.start[j], width: rect.width)), b = min(rect.width, column(of: s.start[j] + s.dur[j], width: rect.width) + 1)
            guard a < rect.width, b > 0 else { continue }
            screen.restyle(row: y, col: rect.col + a, width: max(1, b - a)) { $0 = Theme.match }
            screen.put(li > laneCursor.selected ? "↓" : "↑", row: y, col: rect.col + a, style: Theme.match)
        }
    }

    private func drawAxis(_ screen: inout ScreenBuffer, row: Int, rect: Rect) {
        let origin = context.model.bounds.lowerBound
        screen.text("time (+ from start)", row: row, col: 0, width: rect.col - 1, style: Theme.dim)
        var c = 0
        while c < rect.width {
            let t = window.lowerBound + Int64(Double(c) * nsPerCol(rect.width))
            screen.put("╷", row: row, col: rect.col + c, style: Theme.dim)
            screen.text(formatDuration(t - origin), row: row, col: rect.col + c + 1, width: min(13, rect.width - c - 1), style: Theme.dim)
            c += 16
        }
    }

    /// Draws one lane: slices at least a cell wide as coloured blocks with their names; smaller
    /// ones merged per cell into a shaded cell, skipping ahead with a binary search so a frame costs
    /// O(columns x log slices) however many slices the window holds.
    private func drawLane(_ screen: inout ScreenBuffer, _ lane: Lane, rank: Int, row: Int, rect: Rect) {
        let model = context.model.ranks[rank]
        let s = model.trace.slices
        let phase = model.analysis.facts.phase
        let npc = nsPerCol(rect.width)
        var k = lane.firstEnding(after: window.lowerBound)
        while k < lane.slices.count && lane.starts[k] < window.upperBound {
            let i = Int(lane.slices[k])
            let a = max(0, Double(s.start[i] - window.lowerBound) / npc)
            let b = min(Double(rect.width), Double(s.start[i] + s.dur[i] - window.lowerBound) / npc)
            let color = Theme.color(phase[i]), hit = isMatch(rank: rank, name: s.name[i])
            let c0 = Int(a)
            if b - a >= 1 {
                let from = Int(a.rounded()), to = Int(b.rounded())
                let style = hit ? Theme.match : Style(fg: 16, bg: color)
                screen.fill(row: row, col: rect.col + from, height: 1, width: to - from, style: style)
                if to - from >= 4 { screen.text(safe(model.trace.strings[s.name[i]]), row: row, col: rect.col + from, width: to - from, style: style) }
                k += 1
            } else {
                // Everything else ending in this cell shares it: one shaded cell, then jump past it.
                if c0 < rect.width, screen[row, rect.col + c0].scalar == 0x20 {
                    screen.put("▒", row: row, col: rect.col + c0, style: hit ? Style(fg: Theme.match.bg) : Style(fg: color))
                }
                let next = window.lowerBound + Int64(Double(c0 + 1) * npc)
                k = max(k + 1, lane.firstEnding(after: next))
            }
        }
    }

    /// Draws a counter series as a bar per column: the highest value in force during the column
    /// (so a short spike, like a memory peak, shows at any zoom), scaled between the series'
    /// minimum and maximum.
    private func drawCounter(_ screen: inout ScreenBuffer, _ lane: CounterLane, row: Int, rect: Rect) {
        let bars: [Unicode.Scalar] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let npc = nsPerCol(rect.width), span = lane.high - lane.low
        var k = lane.ts.partitionPoint { $0 > window.lowerBound }  // the first sample after the window's start
        for c in 0..<rect.width {
            var high = lane.value(at: window.lowerBound + Int64(Double(c) * npc))
            let end = window.lowerBound + Int64(Double(c + 1) * npc)
            while k < lane.ts.count && lane.ts[k] < end {
                high = max(high ?? lane.values[k], lane.values[k])
                k += 1
            }
            guard let v = high else { continue }
            let level = span > 0 ? min(7, Int((v - lane.low) / span * 7.999)) : 3
            screen.put(bars[level], row: row, col: rect.col + c, style: Theme.dim)
        }
    }

    /// Marks the instants of the lane's thread (drawn on its outermost lane only) as `◆`.
    private func drawInstants(_ screen: inout ScreenBuffer, _ lane: Lane, model: RankModel, row: Int, rect: Rect) {
        let npc = nsPerCol(rect.width)
        for instant in model.instants(on: lane.track, in: window) {
            let c = Int(Double(instant.ts - window.lowerBound) / npc)
            if c >= 0 && c < rect.width { screen.put("◆", row: row, col: rect.col + c, style: Theme.heading) }
        }
    }

    /// The instant of the selected lane's thread in the cursor's column, if any.
    private func selectedInstant(width: Int) -> (rank: Int, ts: Int64, name: String)? {
        guard laneCursor.selected < lanes.count, case let .slices(r, lane) = lanes[laneCursor.selected] else { return nil }
        let m = context.model.ranks[r]
        let half = Int64(nsPerCol(width) / 2)
        guard let i = m.instants(on: lane.track, in: cursorTime - half..<cursorTime + half + 1).first else { return nil }
        return (r, i.ts, m.trace.strings[i.name])
    }

    private func drawDetails(_ screen: inout ScreenBuffer, _ r: Rect, width: Int) {
        screen.fill(row: r.row, col: r.col, height: 1, width: r.width, scalar: 0x2500, style: Theme.dim)
        let origin = context.model.bounds.lowerBound
        if laneCursor.selected < lanes.count, case let .counter(_, lane) = lanes[laneCursor.selected] {
            screen.text((lane.bytes ? "memory " : "") + lane.name, row: r.row + 1, col: r.col + 1, width: r.width - 2, style: Theme.heading)
            let now = lane.value(at: cursorTime).map { lane.format($0) } ?? "no sample yet"
            screen.text("at +\(formatDuration(cursorTime - origin)): \(now) · range \(lane.format(lane.low)) to \(lane.format(lane.high))"
                        + " · \(lane.ts.count) samples", row: r.row + 2, col: r.col + 1, width: r.width - 2)
            return
        }
        if let instant = selectedInstant(width: width) {
            screen.text(safe(instant.name), row: r.row + 1, col: r.col + 1, width: r.width - 2, style: Theme.heading)
            screen.text("rank \(context.model.ranks[instant.rank].trace.rank) · instant at +\(formatDuration(instant.ts - origin))",
                        row: r.row + 2, col: r.col + 1, width: r.width - 2)
            return
        }
        guard let (ri, i) = selectedSlice(width: width) else {
            screen.text("no slice under the cursor", row: r.row + 1, col: r.col + 1, style: Theme.dim)
            return
        }
        let m = context.model.ranks[ri]
        let t = m.trace, s = t.slices
        screen.text(safe(t.name(ofSlice: i)), row: r.row + 1, col: r.col + 1, width: r.width - 2, style: Theme.heading)
        let process = m.processName(of: Int(s.track[i])).map { " · " + safe($0) } ?? ""
        let head = "rank \(t.rank)\(process) · \(kindName(s.kind[i])) · \(formatDuration(s.dur[i])) at +\(formatDuration(s.start[i] - origin))"
            + " · phase \(m.analysis.facts.phase[i].name) · self \(formatDuration(m.analysis.facts.selfTime[i]))"
        screen.text(head, row: r.row + 2, col: r.col + 1, width: r.width - 2)
        let args = t.args(ofSlice: i).map { "\($0.key)=\(collapsedWhitespace($0.value))" }.joined(separator: " ")
        screen.text("args: " + (args.isEmpty ? "none" : safe(args)), row: r.row + 3, col: r.col + 1, width: r.width - 2, style: Theme.dim)
        var related = ""
        if s.kind[i].isGPUActivity {
            let l = s.launcher.isEmpty ? -1 : Int(s.launcher[i])
            var op = l
            while op >= 0, !t.isOperator(op) || s.kind[op].isLaunch { op = Int(s.parent[op]) }
            related = l < 0 ? "launched by: unknown" : "launched by: \(safe(t.name(ofSlice: l)))" + (op >= 0 ? " in \(safe(t.name(ofSlice: op)))" : "")
        } else {
            // Kernels launched by this slice and what it contains (bounded, for very long slices).
            var names: [UInt32: (count: Int, ns: Int64)] = [:]
            var j = i
            let end = s.start[i] + s.dur[i], last = t.tracks.sliceRange[Int(s.track[i])].upperBound
            while j < last && (j == i || s.start[j] < end) && j - i < 20_000 {
                for g in m.launchedActivities(j) {
                    names[s.name[Int(g)], default: (0, 0)].count += 1
                    names[s.name[Int(g)], default: (0, 0)].ns += s.dur[Int(g)]
                }
                j += 1
            }
            let top = names.sorted { $0.value.ns > $1.value.ns }.prefix(3)
            related = names.isEmpty ? "\(m.deviceLabel) kernels: none" : "\(m.deviceLabel) kernels (\(names.count)): "
                + top.map { "\(safe(t.strings[$0.key])) x\($0.value.count) \(formatDuration($0.value.ns))" }.joined(separator: ", ")
        }
        screen.text(related, row: r.row + 4, col: r.col + 1, width: r.width - 2)
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        let lr = lanesRect(area)
        if input.active {
            switch input.handle(key) {
            case .accepted: search(input.text, visible: lr.height)
            case .cancelled: input.text = query
            case .editing: break
            }
            return true
        }
        let span = window.upperBound - window.lowerBound
        let step = max(1, Int64(nsPerCol(lr.width)))
        switch key {
        case .char("/"):
            input.active = true
            input.text = ""
        case .char("n"), .char("N"):
            guard !matches.isEmpty else { return !query.isEmpty }
            jump(to: (matchIndex + (key == .char("n") ? 1 : matches.count - 1)) % matches.count, visible: lr.height)
        case .escape where !query.isEmpty:
            search("", visible: lr.height)
        case .char("e"):
            guard laneCursor.selected < lanes.count, case let .slices(r, lane) = lanes[laneCursor.selected] else { return true }
            if expanded.remove([r, lane.track]) == nil { expanded.insert([r, lane.track]) }
            rebuildRows()
            laneCursor.selected = lanes.firstIndex { isSameTrack($0, rank: r, track: lane.track) } ?? 0
        case .char("f"):
            guard let (r, i) = selectedSlice(width: lr.width), let j = linked(rank: r, slice: i).first, let li = row(ofSlice: j, rank: r) else { return true }
            // Both ends in the window, the cursor on the other end.
            let s = context.model.ranks[r].trace.slices
            show(min(s.start[i], s.start[j])..<max(s.start[i] + max(1, s.dur[i]), s.start[j] + max(1, s.dur[j])))
            laneCursor.selected = li
            cursorTime = s.start[j] + s.dur[j] / 2
        case .left, .char("h"): moveCursor(-step)
        case .right, .char("l"): moveCursor(step)
        case .char("H"): pan(-span / 2)
        case .char("L"): pan(span / 2)
        case .char("+"), .char("="): zoom(0.5)
        case .char("-"): zoom(2)
        case .char("0"):
            window = context.model.bounds
            cursorTime = window.lowerBound + span / 2
            cursorTime = max(window.lowerBound, min(window.upperBound - 1, cursorTime))
        case .enter:
            if let (r, i) = selectedSlice(width: lr.width) {
                let s = context.model.ranks[r].trace.slices
                show(s.start[i]..<s.start[i] + max(1, s.dur[i]))
            }
        case .char("["), .char("]"):
            let steps = context.rankModel.analysis.steps
            guard !steps.isEmpty else { return true }
            let k = key == .char("]") ? steps.firstIndex { $0.start > cursorTime } ?? steps.count - 1
                : steps.lastIndex { $0.start + $0.dur <= cursorTime } ?? 0
            show(steps[k].start..<steps[k].start + max(1, steps[k].dur))
        case .mouse(let m) where m.action == .click && lr.contains(row: m.row, col: m.col):
            laneCursor.selected = laneCursor.first + m.row - lr.row
            cursorTime = window.lowerBound + Int64(Double(m.col - lr.col) * nsPerCol(lr.width))
        default:
            return laneCursor.handle(key, count: lanes.count, visible: lr.height)
        }
        laneCursor.clamp(count: lanes.count, visible: lr.height)
        return true
    }

    /// Finds the slices of the timeline's threads and streams (at every depth) whose names
    /// contain `text` (case-insensitive) and, when `moving`, jumps to the first at or after the cursor.
    private func search(_ text: String, visible: Int, moving: Bool = true) {
        query = text.lowercased()
        matches = []
        matchIndex = -1
        nameMatches = context.model.ranks.map { [UInt8](repeating: 0, count: query.isEmpty ? 0 : $0.trace.strings.count) }
        guard !query.isEmpty else { return }
        for (r, m) in context.model.ranks.enumerated() {
            let s = m.trace.slices
            for t in Set(m.lanes.map(\.track)) {
                for i in m.trace.tracks.sliceRange[t] where isMatch(rank: r, name: s.name[i]) { matches.append((s.start[i], r, i)) }
            }
        }
        matches.sort { ($0.start, $0.rank, $0.slice) < ($1.start, $1.rank, $1.slice) }
        if moving, !matches.isEmpty { jump(to: matches.firstIndex { $0.start >= cursorTime } ?? 0, visible: visible) }
    }

    /// Whether a slice name matches the search (cached per name).
    private func isMatch(rank r: Int, name: UInt32) -> Bool {
        guard !query.isEmpty, r < nameMatches.count, Int(name) < nameMatches[r].count else { return false }
        if nameMatches[r][Int(name)] != 0 { return nameMatches[r][Int(name)] == 2 }
        let hit = context.model.ranks[r].trace.strings[name].lowercased().contains(query)
        nameMatches[r][Int(name)] = hit ? 2 : 1
        return hit
    }

    /// Selects match `k` (see `reveal`).
    private func jump(to k: Int, visible: Int) {
        matchIndex = k
        reveal(rank: matches[k].rank, slice: matches[k].slice)
        laneCursor.clamp(count: lanes.count, visible: visible)
    }

    /// Selects slice `slice` of the rank at index `rank`: its row (expanding its thread when its
    /// depth is not shown), and the window zoomed to it with the cursor on it.
    public func reveal(rank: Int, slice: Int) {
        let s = context.model.ranks[rank].trace.slices
        if row(ofSlice: slice, rank: rank) == nil {
            expanded.insert([rank, Int(s.track[slice])])
            rebuildRows()
        }
        if let li = row(ofSlice: slice, rank: rank) { laneCursor.selected = li }
        show(s.start[slice]..<s.start[slice] + max(1, s.dur[slice]))
    }

    /// Shows `range` with a little margin, the cursor at its middle.
    private func show(_ range: Range<Int64>) {
        let margin = (range.upperBound - range.lowerBound) / 20
        window = range.lowerBound - margin..<range.upperBound + margin
        cursorTime = range.lowerBound + (range.upperBound - range.lowerBound) / 2
    }

    private func moveCursor(_ delta: Int64) {
        cursorTime += delta
        if cursorTime < window.lowerBound { pan(cursorTime - window.lowerBound) }
        if cursorTime >= window.upperBound { pan(cursorTime - window.upperBound + 1) }
    }

    private func pan(_ delta: Int64) {
        window = window.lowerBound + delta..<window.upperBound + delta
        if !window.contains(cursorTime) { cursorTime = min(max(cursorTime, window.lowerBound), window.upperBound - 1) }
    }

    private func zoom(_ factor: Double) {
        let span = Double(window.upperBound - window.lowerBound)
        let newSpan = max(1000, min(span * factor, Double(context.model.bounds.upperBound - context.model.bounds.lowerBound) * 4))
        let frac = (Double(cursorTime - window.lowerBound)) / span
        let lo = cursorTime - Int64(newSpan * frac)
        window = lo..<lo + Int64(newSpan)
    }
}
