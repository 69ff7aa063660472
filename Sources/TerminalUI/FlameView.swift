import Analysis
import Formatting

/// The flame graph view: an icicle of one rank's CPU operator nesting (with the Python frames of a
/// `with_stack` trace, or without), by CPU or launched GPU time, for all steps or one, all phases or one.
public final class FlameView: View {
    /// How frames are coloured.
    public enum ColorMode: String, CaseIterable { case phase, category, name }

    let context: ViewContext
    public private(set) var state = IcicleState()
    public private(set) var weightGPU = false
    public private(set) var colorMode = ColorMode.phase
    public private(set) var filter = FlameFilter()
    /// Python frames nest with the operators (where the rank has both).
    public private(set) var pythonFrames = true
    private var input = TextInput()
    private var rank = -1
    private var matchShare: Int64 = 0

    public init(_ context: ViewContext) { self.context = context }

    public var title: String { "Flame" }
    public var isEditing: Bool { input.active }
    public var keyHelp: [(String, String)] {
        [("arrows, hjkl", "select a frame (parent, child, siblings)"), ("Enter", "zoom into the frame"), ("Esc", "zoom out"),
         ("/", "search; n N next and previous match"), ("w", "weight: CPU time or launched GPU time"),
         ("c", "colour by phase, category or name"), ("[ ]", "previous, next step (all steps before the first)"),
         ("p", "phase filter"), ("click", "select a frame")]
            + (context.rankModel.hasPythonFrames ? [("f", "show or hide the Python frames (with_stack)")] : [])
    }

    private var tree: FlameTree { context.rankModel.flame(python: pythonFrames) }

    private var icicle: Icicle {
        let w = tree.weights(filter)
        return Icicle(tree: tree, weight: weightGPU ? w.gpu : w.cpu)
    }

    private var steps: [Step] { context.rankModel.analysis.steps.filter { $0.slice >= 0 } }

    public var status: String {
        if input.active { return "search: " + input.text + "▏" }
        let ic = icicle
        let total = ic.weight[0]
        var parts = [weightGPU ? "\(context.rankModel.deviceLabel) time" : "CPU time",
                     filter.step.map { "step " + safe(steps[Int($0)].name) } ?? "all steps",
                     filter.phase.map { "phase " + $0.name } ?? "all phases", "colour: " + colorMode.rawValue]
        let sel = Int(state.selected)
        if sel < tree.count {
            parts.insert(clippedKeepingEnd(tree.detail[sel], 32) + " " + formatDuration(ic.weight[sel]) + " (" + percent(ic.weight[sel], total) + ")"
                         + (sel > 0 && !weightGPU && !tree.children[sel].isEmpty ? " self " + formatDuration(tree.selfWeight(state.selected, in: ic.weight)) : ""), at: 0)
        }
        if !state.query.isEmpty {
            parts.insert("/\(state.query): \(state.matches.count) matches, \(percent(matchShare, total))", at: 1)
        }
        return parts.joined(separator: " │ ")
    }

    private func syncRank() {
        guard rank != context.rank else { return }
        rank = context.rank
        state = IcicleState()
        filter.step = nil
    }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        syncRank()
        let ic = icicle
        guard ic.weight[0] > 0 else {
            screen.text(weightGPU ? "no \(context.rankModel.deviceLabel) time launched by operators here" : "no operators here", row: area.row + 1, col: 2, style: Theme.dim)
            return
        }
        let crumbs = ([Int32(0)] + state.zoom).map { tree.name[Int($0)] }.joined(separator: " › ")
        // Where the frames can be hidden, the first line's right end says which graph this is.
        let mode = context.rankModel.hasPythonFrames ? (pythonFrames ? "Python frames + operators (f)" : "operators only (f)") : ""
        screen.text(crumbs, row: area.row, col: 1, width: area.width - 3 - displayWidth(mode), style: Theme.heading)
        screen.text(mode, row: area.row, col: area.right - 1 - displayWidth(mode), style: Theme.dim)
        ic.draw(&screen, area: Rect(row: area.row + 1, col: area.col, height: area.height - 1, width: area.width), state: state, color: color)
    }

    private func color(_ node: Int32) -> Int16 {
        switch colorMode {
        case .phase: return Theme.color(tree.phase[Int(node)])
        case .category: return Theme.hashed(kindName(tree.kind[Int(node)]))
        case .name: return Theme.hashed(tree.name[Int(node)])
        }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        syncRank()
        let graph = Rect(row: area.row + 1, col: area.col, height: area.height - 1, width: area.width)
        let ic = icicle
        if let searched = ic.handleSearch(key, input: &input, state: &state) {
            if searched { matchShare = ic.matchedWeight(state.matches) }
            return true
        }
        switch key {
        case .char("w"):
            weightGPU.toggle()
            refreshSearch()
        case .char("f"):
            guard context.rankModel.hasPythonFrames else { return true }
            togglePythonFrames()
        case .char("c"):
            colorMode = colorMode.cycled
        case .char("["), .char("]"):
            let n = steps.count
            guard n > 0 else { return true }
            let cur = filter.step.map(Int.init) ?? -1
            let next = key == .char("]") ? (cur + 1 >= n ? -1 : cur + 1) : (cur <= -1 ? n - 1 : cur - 1)
            filter.step = next < 0 ? nil : Int32(next)
            refreshSearch()
        case .char("p"):
            let phases = Phase.allCases.filter { $0 != .idle }
            if let p = filter.phase, let k = phases.firstIndex(of: p) {
                filter.phase = k + 1 < phases.count ? phases[k + 1] : nil
            } else {
                filter.phase = phases[0]
            }
            refreshSearch()
        default:
            return ic.handle(key, area: graph, state: &state)
        }
        return true
    }

    /// Shows or hides the Python frames; the selection moves to the same operator call path (when
    /// hiding, a frame's nearest operator; when showing, the operator's first call site).
    private func togglePythonFrames() {
        let old = tree, operators = old.path(state.selected, operatorsOnly: true)
        pythonFrames.toggle()
        let new = tree
        let selected = (pythonFrames ? new.node(operatorPath: operators) : new.node(at: operators)) ?? 0
        state.zoom = []
        state.selected = selected
        state.matches = state.query.isEmpty ? [] : new.search(state.query)
        state.matchIndex = 0
        refreshSearch()
    }

    private func refreshSearch() {
        if !state.query.isEmpty { matchShare = icicle.matchedWeight(state.matches) }
    }
}
