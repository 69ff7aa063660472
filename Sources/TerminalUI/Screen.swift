import TraceModel

/// A text style: foreground and background colour (xterm-256 index, -1 the terminal's own) and attributes.
public struct Style: Hashable, Sendable {
    public var fg: Int16
    public var bg: Int16
    public var attrs: UInt8

    public static let bold: UInt8 = 1
    public static let dim: UInt8 = 2
    public static let reverse: UInt8 = 4
    public static let underline: UInt8 = 8

    public init(fg: Int16 = -1, bg: Int16 = -1, attrs: UInt8 = 0) {
        self.fg = fg
        self.bg = bg
        self.attrs = attrs
    }

    /// The terminal's default look.
    public static let plain = Style()

    /// This style with `attr` added.
    public func with(_ attr: UInt8) -> Style { Style(fg: fg, bg: bg, attrs: attrs | attr) }

    /// Short text for snapshots: `fg=71 bg=-1 bold`.
    public var summary: String {
        var parts = ["fg=\(fg)", "bg=\(bg)"]
        if attrs & Style.bold != 0 { parts.append("bold") }
        if attrs & Style.dim != 0 { parts.append("dim") }
        if attrs & Style.reverse != 0 { parts.append("reverse") }
        if attrs & Style.underline != 0 { parts.append("underline") }
        return parts.joined(separator: " ")
    }
}

/// One character cell: a Unicode scalar (0 for the right half of a wide character) and its style.
public struct Cell: Equatable, Sendable {
    public var scalar: UInt32
    public var style: Style
    public init(scalar: UInt32, style: Style) {
        self.scalar = scalar
        self.style = style
    }
    public static let blank = Cell(scalar: 0x20, style: .plain)
    /// True for the right half of a wide character (drawn by the cell to its left).
    public var isContinuation: Bool { scalar == 0 }
}

/// Columns a Unicode scalar takes on a terminal: 0 (combining marks, format characters), 1, or 2
/// (East Asian wide and fullwidth characters, emoji presentation). Controls count as 0 here; text
/// from traces goes through `JSONText.terminalSafe` first.
@inline(__always)
public func columnWidth(_ u: Unicode.Scalar) -> Int {
    let v = u.value
    if v < 0x300 { return v < 0x20 || (0x7F...0x9F).contains(v) ? 0 : 1 }
    switch u.properties.generalCategory {
    case .nonspacingMark, .enclosingMark, .format, .control: return 0
    default: break
    }
    if (0xFE00...0xFE0F).contains(v) || (0x200B...0x200F).contains(v) { return 0 }
    if (0x1100...0x115F).contains(v) || (0x2E80...0x303E).contains(v) || (0x3041...0x33FF).contains(v)
        || (0x3400...0x4DBF).contains(v) || (0x4E00...0x9FFF).contains(v) || (0xA000...0xA4CF).contains(v)
        || (0xAC00...0xD7A3).contains(v) || (0xF900...0xFAFF).contains(v) || (0xFE30...0xFE4F).contains(v)
        || (0xFF00...0xFF60).contains(v) || (0xFFE0...0xFFE6).contains(v) || (0x1F300...0x1F64F).contains(v)
        || (0x1F900...0x1F9FF).contains(v) || (0x20000...0x3FFFD).contains(v) {
        return 2
    }
    return u.properties.isEmojiPresentation ? 2 : 1
}

/// Display width of `s` in columns.
public func displayWidth(_ s: String) -> Int {
    var w = 0
    for u in s.unicodeScalars { w += columnWidth(u) }
    return w
}

/// `s` cut to at most `width` columns, ending in `…` when cut.
public func clipped(_ s: String, _ width: Int) -> String {
    guard width > 0 else { return "" }
    if displayWidth(s) <= width { return s }
    var out = ""
    var w = 0
    for u in s.unicodeScalars {
        let cw = columnWidth(u)
        if w + cw > width - 1 { break }
        out.unicodeScalars.append(u)
        w += cw
    }
    return out + "…"
}

/// A virtual screen: rows x columns of cells that views draw into and the backend copies out.
public struct ScreenBuffer: Equatable, Sendable {
    public private(set) var rows: Int
    public private(set) var cols: Int
    public private(set) var cells: [Cell]

    public init(rows: Int, cols: Int) {
        self.rows = max(0, rows)
        self.cols = max(0, cols)
        cells = [Cell](repeating: .blank, count: self.rows * self.cols)
    }

    public subscript(row: Int, col: Int) -> Cell {
        get { cells[row * cols + col] }
        set { cells[row * cols + col] = newValue }
    }

    /// Blanks every cell.
    public mutating func clear() {
        for i in cells.indices { cells[i] = .blank }
    }

    /// Fills a rectangle (clipped to the screen) with `scalar` in `style`.
    public mutating func fill(row: Int, col: Int, height: Int, width: Int, scalar: UInt32 = 0x20, style: Style = .plain) {
        let r0 = max(0, row), r1 = min(rows, row + height)
        let c0 = max(0, col), c1 = min(cols, col + width)
        guard r0 < r1, c0 < c1 else { return }
        for r in r0..<r1 {
            for c in c0..<c1 { cells[r * cols + c] = Cell(scalar: scalar, style: style) }
        }
    }

    /// Puts one scalar at (row, col); a wide one takes two cells (and is dropped when only one is left
    /// before `limit`). Returns the columns used.
    @discardableResult
    public mutating func put(_ u: Unicode.Scalar, row: Int, col: Int, style: Style, limit: Int? = nil) -> Int {
        let w = columnWidth(u)
        let end = min(cols, limit ?? cols)
        guard w > 0, row >= 0, row < rows, col >= 0, col + w <= end else { return 0 }
        // Overwriting half of a wide character blanks its other half.
        let i = row * cols + col
        if cells[i].isContinuation && col > 0 { cells[i - 1] = Cell(scalar: 0x20, style: cells[i - 1].style) }
        if col + w < cols && cells[i + w].isContinuation { cells[i + w] = Cell(scalar: 0x20, style: cells[i + w].style) }
        cells[i] = Cell(scalar: u.value, style: style)
        if w == 2 { cells[i + 1] = Cell(scalar: 0, style: style) }
        return w
    }

    /// Draws `text` (already terminal-safe) from (row, col), clipped at `width` columns (default: the
    /// screen edge) with an ellipsis when cut. Returns the columns used.
    @discardableResult
    public mutating func text(_ text: String, row: Int, col: Int, width: Int? = nil, style: Style = .plain) -> Int {
        guard row >= 0, row < rows, col < cols else { return 0 }
        let avail = min(width ?? (cols - col), cols - col)
        guard avail > 0 else { return 0 }
        let shown = clipped(text, avail)
        var c = col
        for u in shown.unicodeScalars {
            if c < 0 { c += columnWidth(u); continue }
            c += put(u, row: row, col: c, style: style, limit: col + avail)
        }
        return c - col
    }

    /// Draws `text` right-aligned so that it ends at column `end` (exclusive).
    public mutating func textRight(_ text: String, row: Int, end: Int, style: Style = .plain) {
        let w = displayWidth(text)
        self.text(text, row: row, col: end - w, width: w, style: style)
    }

    /// Sets the style of cells in a row span, keeping their characters.
    public mutating func restyle(row: Int, col: Int, width: Int, _ change: (inout Style) -> Void) {
        guard row >= 0, row < rows else { return }
        for c in max(0, col)..<max(max(0, col), min(cols, col + width)) { change(&cells[row * cols + c].style) }
    }

    /// The text of one row (continuation cells left out, trailing spaces kept).
    public func line(_ row: Int) -> String {
        var s = ""
        for c in 0..<cols {
            let cell = self[row, c]
            if cell.isContinuation { continue }
            s.unicodeScalars.append(Unicode.Scalar(cell.scalar) ?? "?")
        }
        return s
    }

    /// The whole screen as text, trailing spaces of each row removed.
    public var text: String {
        (0..<rows).map { r in
            var l = line(r)
            while l.last == " " { l.removeLast() }
            return l
        }.joined(separator: "\n")
    }

    /// The styles as a map: one letter per cell (`.` for the plain style), then a legend line per letter.
    public var styleMap: String {
        var letters: [Style: Character] = [.plain: "."]
        var legend: [String] = []
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var lines: [String] = []
        for r in 0..<rows {
            var l = ""
            for c in 0..<cols {
                let st = self[r, c].style
                if let ch = letters[st] { l.append(ch); continue }
                let ch = letters.count - 1 < alphabet.count ? alphabet[letters.count - 1] : "*"
                letters[st] = ch
                legend.append("\(ch): \(st.summary)")
                l.append(ch)
            }
            lines.append(l)
        }
        return (lines + legend).joined(separator: "\n")
    }

    /// Runs of cells that differ from `previous` (everything when the size changed), row by row.
    public func changes(from previous: ScreenBuffer?) -> [ChangedRun] {
        var runs: [ChangedRun] = []
        let full = previous == nil || previous!.rows != rows || previous!.cols != cols
        for r in 0..<rows {
            var c = 0
            while c < cols {
                let i = r * cols + c
                if !full && previous!.cells[i] == cells[i] { c += 1; continue }
                var start = c
                // A changed continuation cell redraws from its wide character.
                if cells[i].isContinuation && start > 0 { start -= 1 }
                var end = c + 1
                while end < cols && (full || previous!.cells[r * cols + end] != cells[r * cols + end] || cells[r * cols + end].isContinuation) {
                    end += 1
                }
                if let last = runs.last, last.row == r, last.col + last.count >= start {
                    runs[runs.count - 1].count = end - last.col
                } else {
                    runs.append(ChangedRun(row: r, col: start, count: end - start))
                }
                c = end
            }
        }
        return runs
    }
}

/// Cells `col ..< col + count` of `row` changed since the previous frame.
public struct ChangedRun: Equatable, Sendable {
    public var row: Int
    public var col: Int
    public var count: Int
    public init(row: Int, col: Int, count: Int) {
        self.row = row
        self.col = col
        self.count = count
    }
}
