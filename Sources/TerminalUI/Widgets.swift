import Analysis

/// A rectangle of the screen.
public struct Rect: Equatable, Sendable {
    public var row: Int
    public var col: Int
    public var height: Int
    public var width: Int
    public init(row: Int, col: Int, height: Int, width: Int) {
        self.row = row
        self.col = col
        self.height = max(0, height)
        self.width = max(0, width)
    }
    public var bottom: Int { row + height }
    public var right: Int { col + width }
    public func contains(row r: Int, col c: Int) -> Bool { r >= row && r < bottom && c >= col && c < right }
}

/// Colours and styles shared by the views (xterm-256 indices).
public enum Theme {
    public static let title = Style(fg: 231, bg: 24, attrs: Style.bold)
    public static let tab = Style(fg: 250, bg: 236)
    public static let activeTab = Style(fg: 231, bg: 31, attrs: Style.bold)
    public static let header = Style(fg: 252, attrs: Style.bold | Style.underline)
    public static let heading = Style(fg: 75, attrs: Style.bold)
    public static let selected = Style(fg: 231, bg: 238, attrs: Style.bold)
    public static let status = Style(fg: 252, bg: 236)
    public static let dim = Style(fg: 244)
    public static let warning = Style(fg: 214)
    public static let match = Style(fg: 16, bg: 220, attrs: Style.bold)
    public static let regression = Style(fg: 231, bg: 160)
    public static let improvement = Style(fg: 231, bg: 25)
    public static let neutral = Style(fg: 16, bg: 248)
    public static let peak = Style(fg: 196, attrs: Style.bold)

    /// The colour of a phase.
    public static func color(_ p: Phase) -> Int16 {
        switch p {
        case .data: return 37
        case .forward: return 71
        case .backward: return 172
        case .optimizer: return 133
        case .communication: return 167
        case .startup: return 110
        case .other: return 245
        case .idle: return 238
        }
    }

    /// A block of a phase's colour (foreground), for bars.
    public static func phase(_ p: Phase) -> Style { Style(fg: color(p)) }

    /// A warm colour picked by a name's hash (stable across runs), for flame frames.
    public static func hashed(_ name: String) -> Int16 {
        var h: UInt32 = 2166136261
        for b in name.utf8 { h = (h ^ UInt32(b)) &* 16777619 }
        let warm: [Int16] = [166, 172, 178, 208, 214, 130, 136, 167, 173, 179, 203, 209]
        return warm[Int(h % UInt32(warm.count))]
    }

    /// A background ramp from dark to hot for heat maps, `level` in 0...1.
    public static func heat(_ level: Double) -> Int16 {
        let ramp: [Int16] = [236, 22, 28, 64, 100, 136, 172, 166, 160, 196]
        let i = Int((max(0, min(1, level)) * Double(ramp.count - 1)).rounded())
        return ramp[i]
    }
}

/// Eighth blocks `▏▎▍▌▋▊▉█` for the partial cell at the end of a horizontal bar (index 1...8).
let leftEighths: [UInt32] = [0x20, 0x258F, 0x258E, 0x258D, 0x258C, 0x258B, 0x258A, 0x2589, 0x2588]
/// Eighth blocks `▁▂▃▄▅▆▇█` for the top cell of a vertical bar (index 1...8).
let lowerEighths: [UInt32] = [0x20, 0x2581, 0x2582, 0x2583, 0x2584, 0x2585, 0x2586, 0x2587, 0x2588]

extension ScreenBuffer {
    /// A horizontal bar of `eighths` eighths of a cell from (row, col), the last cell partial.
    public mutating func hbar(row: Int, col: Int, eighths: Int, style: Style) {
        guard eighths > 0 else { return }
        let full = eighths / 8
        for c in 0..<full { put(Unicode.Scalar(leftEighths[8])!, row: row, col: col + c, style: style) }
        if eighths % 8 > 0 { put(Unicode.Scalar(leftEighths[eighths % 8])!, row: row, col: col + full, style: style) }
    }

    /// A horizontal bar of consecutive segments (value, style), `scale` value units per cell.
    /// Each segment starts on the eighth where the previous ended; a cell shared by two segments
    /// takes the colour of the larger part.
    public mutating func stackedBar(row: Int, col: Int, width: Int, segments: [(value: Int64, style: Style)], scale: Double) {
        guard scale > 0, width > 0 else { return }
        var owner = [Int](repeating: -1, count: width * 8)
        var pos = 0.0
        for (k, seg) in segments.enumerated() where seg.value > 0 {
            let a = Int((pos * 8).rounded()), b = Int(((pos + Double(seg.value) / scale) * 8).rounded())
            for e in max(0, a)..<min(width * 8, max(a, b)) { owner[e] = k }
            pos += Double(seg.value) / scale
        }
        var counts = [Int](repeating: 0, count: segments.count)
        for c in 0..<width {
            for k in counts.indices { counts[k] = 0 }
            var filled = 0, best = -1
            for e in c * 8..<(c + 1) * 8 where owner[e] >= 0 {
                counts[owner[e]] += 1
                filled += 1
                if best < 0 || counts[owner[e]] > counts[best] { best = owner[e] }
            }
            guard best >= 0 else { continue }
            put(Unicode.Scalar(leftEighths[filled])!, row: row, col: col + c, style: segments[best].style)
        }
    }

    /// A framed box with a title; returns the inner rectangle.
    @discardableResult
    public mutating func box(_ r: Rect, title: String, style: Style = Theme.dim) -> Rect {
        guard r.width >= 2, r.height >= 2 else { return Rect(row: r.row, col: r.col, height: 0, width: 0) }
        fill(row: r.row, col: r.col, height: r.height, width: r.width)
        for c in r.col + 1..<r.right - 1 {
            put("─", row: r.row, col: c, style: style)
            put("─", row: r.bottom - 1, col: c, style: style)
        }
        for rr in r.row + 1..<r.bottom - 1 {
            put("│", row: rr, col: r.col, style: style)
            put("│", row: rr, col: r.right - 1, style: style)
        }
        put("┌", row: r.row, col: r.col, style: style)
        put("┐", row: r.row, col: r.right - 1, style: style)
        put("└", row: r.bottom - 1, col: r.col, style: style)
        put("┘", row: r.bottom - 1, col: r.right - 1, style: style)
        text(" " + title + " ", row: r.row, col: r.col + 2, width: r.width - 4, style: Theme.heading)
        return Rect(row: r.row + 1, col: r.col + 1, height: r.height - 2, width: r.width - 2)
    }

    /// A chart of `values` (one per dot column, two per cell) in braille, scaled so `maxValue` fills `r`.
    /// Each column is filled from the bottom up to its value.
    public mutating func brailleArea(_ r: Rect, values: [Double], maxValue: Double, style: Style) {
        guard r.height > 0, r.width > 0, maxValue > 0 else { return }
        let dotRows = r.height * 4
        let left = brailleDots[0], right = brailleDots[1]
        for cell in 0..<r.width {
            var heights = [0, 0]
            for half in 0..<2 {
                let i = cell * 2 + half
                guard i < values.count else { continue }
                heights[half] = Int((values[i] / maxValue * Double(dotRows)).rounded())
            }
            for row in 0..<r.height {
                var bits: UInt32 = 0
                let base = (r.height - 1 - row) * 4  // dots below this cell
                for d in 0..<4 {
                    let dotFromBottom = base + (3 - d)
                    if heights[0] > dotFromBottom { bits |= left[d] }
                    if heights[1] > dotFromBottom { bits |= right[d] }
                }
                if bits != 0 { put(Unicode.Scalar(0x2800 + bits)!, row: r.row + row, col: r.col + cell, style: style) }
            }
        }
    }

    /// A table: header row, then rows from `first`, the `selected` one highlighted. Columns wider than
    /// the rectangle are clipped; the last column takes the remaining width.
    public mutating func table(_ r: Rect, columns: [TableColumn], count: Int, first: Int, selected: Int?,
                               cell: (Int, Int) -> String, rowStyle: ((Int) -> Style?)? = nil) {
        guard r.height > 0 else { return }
        var x = r.col
        var starts: [Int] = []
        for (k, column) in columns.enumerated() {
            starts.append(x)
            let w = k == columns.count - 1 ? r.right - x : column.width
            if column.alignRight { textRight(column.title, row: r.row, end: min(r.right, x + w), style: Theme.header) } else {
                text(column.title, row: r.row, col: x, width: min(w, r.right - x), style: Theme.header)
            }
            x += column.width + 1
            if x >= r.right { break }
        }
        for line in 0..<r.height - 1 {
            let i = first + line
            guard i < count else { break }
            let y = r.row + 1 + line
            let base = i == selected ? Theme.selected : (rowStyle?(i) ?? .plain)
            if i == selected { fill(row: y, col: r.col, height: 1, width: r.width, style: base) }
            for (k, column) in columns.enumerated() where k < starts.count {
                let x = starts[k]
                let w = min(k == columns.count - 1 ? r.right - x : column.width, r.right - x)
                let value = cell(i, k)
                if column.alignRight {
                    let shown = clipped(value, w)
                    textRight(shown, row: y, end: x + w, style: base)
                } else {
                    text(value, row: y, col: x, width: w, style: base)
                }
            }
        }
    }
}

/// Dot bits of a braille cell (U+2800 + bits) per dot column, top to bottom: left 0x01 0x02 0x04
/// 0x40, right 0x08 0x10 0x20 0x80.
let brailleDots: [[UInt32]] = [[0x01, 0x02, 0x04, 0x40], [0x08, 0x10, 0x20, 0x80]]

/// Dots set one by one on a grid of 2 x 4 dots per cell (for line charts), then drawn as braille.
struct BrailleCanvas {
    let width: Int
    let height: Int
    private var bits: [UInt32]

    /// A canvas of `width` x `height` cells.
    init(width: Int, height: Int) {
        self.width = max(0, width)
        self.height = max(0, height)
        bits = [UInt32](repeating: 0, count: self.width * self.height)
    }

    /// Dots across and down.
    var dotWidth: Int { width * 2 }
    var dotHeight: Int { height * 4 }

    /// Sets the dot `x` from the left, `y` from the bottom; outside the grid it is ignored.
    mutating func set(x: Int, y: Int) {
        guard x >= 0, x < dotWidth, y >= 0, y < dotHeight else { return }
        let top = dotHeight - 1 - y
        bits[(top / 4) * width + x / 2] |= brailleDots[x % 2][top % 4]
    }

    /// Draws the cells that have a dot, from (row, col).
    func draw(_ screen: inout ScreenBuffer, row: Int, col: Int, style: Style) {
        for r in 0..<height {
            for c in 0..<width where bits[r * width + c] != 0 {
                screen.put(Unicode.Scalar(0x2800 + bits[r * width + c])!, row: row + r, col: col + c, style: style)
            }
        }
    }
}

/// A column of a table: title, width in cells, alignment.
public struct TableColumn: Sendable {
    public var title: String
    public var width: Int
    public var alignRight: Bool
    public init(_ title: String, width: Int, right: Bool = false) {
        self.title = title
        self.width = width
        alignRight = right
    }
}

/// A list position that keeps the selection on screen: selected row and first visible row.
public struct ListCursor: Equatable, Sendable {
    public var selected = 0
    public var first = 0
    public init() {}

    /// Moves by `delta` rows within `count` rows, scrolling so the selection stays within `visible` rows.
    public mutating func move(_ delta: Int, count: Int, visible: Int) {
        guard count > 0 else { selected = 0; first = 0; return }
        selected = max(0, min(count - 1, selected + delta))
        clamp(count: count, visible: visible)
    }

    /// Scrolls so the selection is visible and the list does not end early.
    public mutating func clamp(count: Int, visible: Int) {
        selected = max(0, min(max(0, count - 1), selected))
        let v = max(1, visible)
        if selected < first { first = selected }
        if selected >= first + v { first = selected - v + 1 }
        first = max(0, min(first, max(0, count - v)))
    }

    /// Applies a navigation key; true when it was one.
    public mutating func handle(_ key: Key, count: Int, visible: Int) -> Bool {
        switch key {
        case .up, .char("k"): move(-1, count: count, visible: visible)
        case .down, .char("j"): move(1, count: count, visible: visible)
        case .pageUp: move(-max(1, visible - 1), count: count, visible: visible)
        case .pageDown: move(max(1, visible - 1), count: count, visible: visible)
        case .home, .char("g"): move(-count, count: count, visible: visible)
        case .end, .char("G"): move(count, count: count, visible: visible)
        case .mouse(let m) where m.action == .scrollUp: move(-3, count: count, visible: visible)
        case .mouse(let m) where m.action == .scrollDown: move(3, count: count, visible: visible)
        default: return false
        }
        return true
    }
}

/// `s` with every run of whitespace (newlines, tabs, indentation) as one space, none just inside
/// brackets and braces, trimmed: a multi-line JSON arg on one details line (`[80, 1, 1]`).
func collapsedWhitespace(_ s: String) -> String {
    var out = String.UnicodeScalarView()
    var pending = false
    for c in s.unicodeScalars {
        if c == " " || c == "\n" || c == "\r" || c == "\t" {
            pending = !out.isEmpty
        } else {
            if pending, c != "]", c != "}", let last = out.last, last != "[", last != "{" { out.append(" ") }
            pending = false
            out.append(c)
        }
    }
    return String(out)
}

/// `s` in `width` columns keeping its end (`…` first when cut): step names differ at the end.
func clippedKeepingEnd(_ s: String, _ width: Int) -> String {
    guard displayWidth(s) > width, width > 0 else { return s }
    var tail = String.UnicodeScalarView()
    for c in s.unicodeScalars.reversed() {
        let next = String(String.UnicodeScalarView([c] + tail))
        if displayWidth(next) > width - 1 { break }
        tail = next.unicodeScalars
    }
    return "…" + String(tail)
}

extension CaseIterable where Self: Equatable {
    /// The case after this one, the first after the last (what a view's `s` sort key steps through).
    var cycled: Self {
        let all = Array(Self.allCases)
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }
}
