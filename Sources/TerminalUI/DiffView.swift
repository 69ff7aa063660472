import Analysis
import Formatting

/// Two runs compared: the verdict and gate table, and a differential flame graph of the
/// candidate's stacks (red slower, blue faster, grey when not significant), with vanished frames apart.
public final class DiffView: View {
    let result: DiffResult
    let tree: FlameTree
    let base: [Int64]
    let candidate: [Int64]
    /// Operator names (without the phase) whose self time changed significantly.
    let slower: Set<String>
    let faster: Set<String>
    public private(set) var state = IcicleState()
    public private(set) var cursor = ListCursor()
    /// Names of frames present in the base only.
    let vanished: [(name: String, ns: Int64)]

    public init(_ result: DiffResult) {
        self.result = result
        tree = FlameTree(folded: [result.base.folded, result.candidate.folded])
        base = tree.weights(FlameFilter(step: 0)).cpu
        candidate = tree.weights(FlameFilter(step: 1)).cpu
        func names(_ v: MetricVerdict) -> Set<String> {
            Set(result.metrics.filter { $0.key.kind == .opSelf && $0.verdict == v }.map { safe(String($0.key.name.split(separator: " [").first ?? "")) })
        }
        slower = names(.regression)
        faster = names(.improvement)
        let tree = self.tree, base = self.base, candidate = self.candidate
        vanished = (1..<max(1, tree.count)).filter { candidate[$0] == 0 && base[$0] > 0 && candidate[Int(tree.parent[$0])] > 0 }
            .map { (tree.name[$0], base[$0]) }.sorted { $0.1 > $1.1 }
    }

    public var title: String { "Diff" }
    public var isEditing: Bool { false }
    public var keyHelp: [(String, String)] {
        [("j k, PgUp PgDn", "scroll the gate table"), ("arrows, h l", "select a frame (up: parent, down: child)"),
         ("Enter, Esc", "zoom into the frame, zoom out"), ("click", "select a frame")]
    }

    public var status: String {
        let n = Int(state.selected)
        let change = candidate[n] - base[n]
        return "verdict \(result.verdict.rawValue) │ \(clipped(tree.name[n], 40)): base \(formatDuration(base[n])) → \(formatDuration(candidate[n])) per step ("
            + (change >= 0 ? "+" : "") + formatDuration(change) + ")"
    }

    private func color(_ node: Int32) -> Int16 {
        let n = tree.name[Int(node)]
        if slower.contains(n) { return Theme.regression.bg }
        if faster.contains(n) { return Theme.improvement.bg }
        return Theme.neutral.bg
    }

    private func layout(_ area: Rect) -> (gates: Rect, flame: Rect, vanished: Rect) {
        let gateHeight = min(result.gateRows.count + 1, max(4, area.height / 3))
        let flameTop = area.row + 1 + gateHeight + 1
        let sideWidth = vanished.isEmpty ? 0 : min(30, area.width / 4)
        return (Rect(row: area.row + 1, col: area.col + 1, height: gateHeight, width: area.width - 2),
                Rect(row: flameTop, col: area.col, height: area.bottom - flameTop, width: area.width - sideWidth),
                Rect(row: flameTop, col: area.right - sideWidth, height: area.bottom - flameTop, width: sideWidth))
    }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        let verdictStyle: Style
        switch result.verdict {
        case .regression: verdictStyle = Theme.regression.with(Style.bold)
        case .pass: verdictStyle = Style(fg: 16, bg: 71, attrs: Style.bold)
        case .inconclusive: verdictStyle = Theme.neutral.with(Style.bold)
        }
        let head = " \(result.verdict.rawValue.uppercased()) "
        screen.text(head, row: area.row, col: area.col + 1, style: verdictStyle)
        screen.text("\(result.base.steps.count) base steps, \(result.candidate.steps.count) candidate steps; median step change "
                    + (result.stepChangeNs >= 0 ? "+" : "") + formatDuration(saturatingInt64(result.stepChangeNs))
                    + (result.decisionText.map { "; " + $0 } ?? ""),
                    row: area.row, col: area.col + displayWidth(head) + 2, width: area.width - displayWidth(head) - 3)
        let (gr, fr, vr) = layout(area)
        let gates = result.gateRows
        cursor.clamp(count: gates.count, visible: gr.height - 1)
        screen.table(gr, columns: [TableColumn("", width: 1), TableColumn("metric", width: 26), TableColumn("base", width: 10, right: true),
                                   TableColumn("candidate", width: 10, right: true), TableColumn("change", width: 8, right: true),
                                   TableColumn("HL shift [95% CI]", width: 0)],
                     count: gates.count, first: cursor.first, selected: nil, cell: { i, c in
            let m = gates[i]
            switch c {
            case 0: return m.verdict.symbol
            case 1: return safe(self.result.label(m.key))
            case 2: return self.result.value(m.key, m.baseMedian)
            case 3: return self.result.value(m.key, m.candidateMedian)
            case 4: return self.result.medianChangeText(m)
            default: return self.result.ratioText(m)
            }
        }, rowStyle: { i in
            switch gates[i].verdict {
            case .regression: return Style(fg: 203)
            case .improvement: return Style(fg: 75)
            default: return nil
            }
        })
        screen.text("Differential flame graph (candidate stacks; red slower, blue faster, grey not significant)", row: fr.row - 1, col: area.col + 1,
                    width: area.width - 2, style: Theme.heading)
        if candidate[0] > 0 {
            Icicle(tree: tree, weight: candidate).draw(&screen, area: fr, state: state, color: color)
        } else {
            screen.text("no operator stacks in the candidate", row: fr.row, col: fr.col + 1, style: Theme.dim)
        }
        if vr.width > 0 {
            screen.text("Vanished (base only)", row: vr.row, col: vr.col, width: vr.width, style: Theme.heading)
            for (k, v) in vanished.enumerated() where vr.row + 1 + k < vr.bottom {
                screen.text(formatDuration(v.ns) + " " + v.name, row: vr.row + 1 + k, col: vr.col, width: vr.width, style: Theme.dim)
            }
        }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        let (gr, fr, _) = layout(area)
        switch key {
        case .char("j"), .char("k"), .pageUp, .pageDown:
            // No row is selected: the table scrolls with the (hidden) cursor at its top.
            let count = result.gateRows.count, visible = gr.height - 1
            _ = cursor.handle(key, count: count, visible: visible)
            cursor.first = min(cursor.selected, max(0, count - visible))
            return true
        default:
            return Icicle(tree: tree, weight: candidate).handle(key, area: fr, state: &state)
        }
    }
}
