/// Navigation state of an icicle: the zoom stack, the selected frame and the search matches.
public struct IcicleState: Sendable {
    /// Frames zoomed into, the last one at the top of the graph (the root when empty).
    public var zoom: [Int32] = []
    public var selected: Int32 = 0
    public var matches: [Int32] = []
    public var matchIndex = 0
    public var query = ""
    public init() {}
    public var root: Int32 { zoom.last ?? 0 }
}

/// Draws a `FlameTree` as an icicle (root on top) and moves around in it.
struct Icicle {
    let tree: FlameTree
    let weight: [Int64]

    /// A frame drawn on screen: node and its columns (in eighths of a cell).
    struct Placed { var node: Int32; var row: Int; var from: Int; var to: Int }

    /// Frames laid out in `area` from `root`, at least one cell wide (positions in eighths of a cell).
    func layout(_ area: Rect, root: Int32) -> [Placed] {
        guard area.width > 0, area.height > 0, weight[Int(root)] > 0 else { return [] }
        var out: [Placed] = []
        let total = Double(weight[Int(root)])
        let scale = Double(area.width * 8) / total
        var queue: [(node: Int32, from: Double, row: Int)] = [(root, 0, 0)]
        var k = 0
        while k < queue.count {
            let (node, from, row) = queue[k]
            k += 1
            let w = Double(weight[Int(node)]) * scale
            out.append(Placed(node: node, row: row, from: Int(from.rounded()), to: Int((from + w).rounded())))
            guard row + 1 < area.height else { continue }
            var childSum = 0.0
            for c in tree.children[Int(node)] { childSum += Double(weight[Int(c)]) }
            // A node is at least as heavy as its children; rounding can leave them a hair over.
            let fit = childSum * scale > w && childSum > 0 ? w / (childSum * scale) : 1
            var x = from
            for c in tree.children[Int(node)] {
                let cw = Double(weight[Int(c)]) * scale * fit
                if cw >= 8 { queue.append((c, x, row + 1)) }
                x += cw
            }
        }
        return out
    }

    /// Draws the frames: a colour block per frame with its label, clipped with an ellipsis, partial
    /// cells at a frame's right edge drawn with an eighth block.
    func draw(_ screen: inout ScreenBuffer, area: Rect, state: IcicleState, color: (Int32) -> Int16) {
        let placed = layout(area, root: state.root)
        let matched = Set(state.matches)
        for p in placed {
            let y = area.row + p.row
            let c0 = p.from / 8, c1 = p.to / 8  // full cells c0 ..< c1 (c0 partial when from is not aligned)
            var bg = color(p.node)
            var fg: Int16 = 16
            var attrs: UInt8 = 0
            if matched.contains(p.node) { bg = Theme.match.bg; attrs |= Style.bold }
            if p.node == state.selected { fg = 231; bg = 236; attrs |= Style.bold }
            let style = Style(fg: fg, bg: bg, attrs: attrs)
            let first = p.from % 8 == 0 ? c0 : c0 + 1
            if first < c1 {
                screen.fill(row: y, col: area.col + first, height: 1, width: c1 - first, style: style)
                if c1 - first >= 3 {
                    screen.text(tree.name[Int(p.node)], row: y, col: area.col + first, width: c1 - first, style: style)
                }
            }
            // The cell holding the right edge: an eighth block in the frame's colour.
            let rem = p.to % 8
            if rem > 0, c1 < area.width, c1 >= c0 {
                let below = screen[y, area.col + c1]
                screen.put(Unicode.Scalar(leftEighths[rem])!, row: y, col: area.col + c1, style: Style(fg: bg, bg: below.style.bg))
            }
            // A partial first cell: the previous frame's eighth block sits there; fill the rest in this colour.
            if p.from % 8 != 0, c0 < area.width {
                var cell = screen[y, area.col + c0]
                if cell.scalar == 0x20 || cell.style.bg == -1 {
                    cell.style.bg = bg
                    if cell.scalar == 0x20 { cell.style.fg = bg }
                    screen[y, area.col + c0] = cell
                }
            }
        }
    }

    /// Applies a navigation key to `state`; true when it was one.
    func handle(_ key: Key, area: Rect, state: inout IcicleState) -> Bool {
        let placed = layout(area, root: state.root)
        guard let current = placed.first(where: { $0.node == state.selected }) ?? placed.first else { return false }
        func pick(_ candidates: [Placed]) {
            if let c = candidates.min(by: { abs($0.from - current.from) < abs($1.from - current.from) }) { state.selected = c.node }
        }
        switch key {
        case .left, .char("h"):
            if let prev = placed.filter({ $0.row == current.row && $0.to <= current.from }).max(by: { $0.from < $1.from }) { state.selected = prev.node }
        case .right, .char("l"):
            if let next = placed.filter({ $0.row == current.row && $0.from >= current.to }).min(by: { $0.from < $1.from }) { state.selected = next.node }
        case .up, .char("k"):
            if current.node != state.root { state.selected = tree.parent[Int(current.node)] }
        case .down, .char("j"):
            pick(placed.filter { $0.row == current.row + 1 && tree.parent[Int($0.node)] == current.node })
        case .enter:
            if current.node != state.root { state.zoom.append(current.node) }
        case .escape:
            if state.zoom.popLast() == nil { return false }
        case .mouse(let m) where m.action == .click:
            let col8 = (m.col - area.col) * 8 + 4
            if let hit = placed.first(where: { $0.row == m.row - area.row && $0.from <= col8 && col8 < $0.to }) { state.selected = hit.node }
        default:
            return false
        }
        return true
    }

    /// The search keys: while `input` is active every key edits the query (Enter runs the search);
    /// `/` starts a query; `n`, `N` go to the next and previous match. Nil for any other key, else
    /// whether a search ran.
    func handleSearch(_ key: Key, input: inout TextInput, state: inout IcicleState) -> Bool? {
        if input.active {
            guard input.handle(key) == .accepted else { return false }
            _ = search(input.text, state: &state)
            return true
        }
        switch key {
        case .char("/"):
            input = TextInput()
            input.active = true
        case .char("n"): nextMatch(true, state: &state)
        case .char("N"): nextMatch(false, state: &state)
        default: return nil
        }
        return false
    }

    /// Runs a search: matches in node order; returns the share of the total weight they cover
    /// (frames inside another match are counted once).
    func search(_ query: String, state: inout IcicleState) -> Int64 {
        state.query = query
        state.matches = tree.search(query)
        state.matchIndex = 0
        if let first = state.matches.first { select(first, state: &state) }
        return matchedWeight(state.matches)
    }

    /// Weight of `matches`, not counting a match inside another.
    func matchedWeight(_ matches: [Int32]) -> Int64 {
        let set = Set(matches)
        var total: Int64 = 0
        for m in matches {
            var p = tree.parent[Int(m)]
            var nested = false
            while p >= 0 {
                if set.contains(p) { nested = true; break }
                p = tree.parent[Int(p)]
            }
            if !nested { total += weight[Int(m)] }
        }
        return total
    }

    /// Selects `node`, leaving the zoom when the node is outside it.
    func select(_ node: Int32, state: inout IcicleState) {
        while let z = state.zoom.last, !tree.isDescendant(node, of: z) { state.zoom.removeLast() }
        state.selected = node
    }

    /// Moves to the next (or previous) match.
    func nextMatch(_ forward: Bool, state: inout IcicleState) {
        guard !state.matches.isEmpty else { return }
        state.matchIndex = (state.matchIndex + (forward ? 1 : state.matches.count - 1)) % state.matches.count
        select(state.matches[state.matchIndex], state: &state)
    }
}
