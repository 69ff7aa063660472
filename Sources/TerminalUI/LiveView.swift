import Analysis
import Formatting

/// What `stepscope top` shows at one refresh: the last seconds of samples of a running process.
/// Shares are fractions of the window's samples; names are made terminal-safe by the views.
public struct LiveSnapshot: Sendable {
    /// A function or operator: self and total share of the samples.
    public struct Row: Sendable, Equatable {
        public var name: String
        public var location: String
        public var selfShare: Double
        public var totalShare: Double
        public init(name: String, location: String = "", selfShare: Double, totalShare: Double) {
            (self.name, self.location, self.selfShare, self.totalShare) = (name, location, selfShare, totalShare)
        }
    }

    /// A thread: its state now and what it did in the window.
    public struct Thread: Sendable, Equatable {
        public var pid: Int32
        public var tid: Int32
        public var name: String
        public var active: Bool
        public var activeShare: Double
        public var gilShare: Double
        public init(pid: Int32, tid: Int32, name: String, active: Bool, activeShare: Double, gilShare: Double) {
            (self.pid, self.tid, self.name, self.active, self.activeShare, self.gilShare) = (pid, tid, name, active, activeShare, gilShare)
        }
    }

    /// The process, e.g. `pid 4242 (CPython 3.11)`.
    public var title = ""
    public var windowSeconds = 0.0
    /// Seconds the samples cover: the window once full, less while sampling starts.
    public var coveredSeconds = 0.0
    public var samples = 0
    public var phaseShares: [Phase: Double] = [:]
    public var functions: [Row] = []
    public var operators: [Row] = []
    public var threads: [Thread] = []
    /// Resident memory over time, oldest first, bytes.
    public var rss: [Int64] = []
    /// Stacks (`a;b;c`, root first) with their sample counts in the window.
    public var folded: [String: Double] = [:]
    /// Lines about the sampling itself (late samples, torn reads).
    public var notes: [String] = []
    public init() {}
}

/// The live summary of `stepscope top`: phase shares, top functions and operators, threads and RSS.
public final class LiveView: View {
    public private(set) var snapshot: LiveSnapshot
    public private(set) var cursor = ListCursor()
    /// Sort the function and operator tables by total instead of self share.
    public private(set) var byTotal = false

    public init(_ snapshot: LiveSnapshot) { self.snapshot = snapshot }

    /// Shows a newer snapshot, keeping the scroll position.
    public func update(_ snapshot: LiveSnapshot) { self.snapshot = snapshot }

    public var title: String { "Live" }
    public var isEditing: Bool { false }
    public var keyHelp: [(String, String)] { [("s", "sort by self or total share"), ("j k, PgUp PgDn", "scroll the functions")] }
    public var status: String {
        "\(safe(snapshot.title)) │ \(snapshot.samples) samples in \(covered) │ by "
            + (byTotal ? "total" : "self") + (snapshot.notes.first.map { " │ " + safe($0) } ?? "")
    }

    /// The seconds the samples cover, and of which window while it is not full yet.
    private var covered: String {
        let c = snapshot.coveredSeconds, w = snapshot.windowSeconds
        return c < w ? "\(formatFixed(c, 1)) s of \(formatFixed(w, 0)) s" : "\(formatFixed(w, 0)) s"
    }

    private func sorted(_ rows: [LiveSnapshot.Row]) -> [LiveSnapshot.Row] {
        rows.sorted { a, b in
            let (x, y) = byTotal ? (a.totalShare, b.totalShare) : (a.selfShare, b.selfShare)
            return x != y ? x > y : a.name < b.name
        }
    }

    private func percent(_ share: Double) -> String { formatFixed(share * 100, 1) + "%" }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        var y = area.row
        // Phase shares: one stacked bar and a legend with percentages.
        let shares = Phase.allCases.map { (phase: $0, share: snapshot.phaseShares[$0] ?? 0) }
        let barWidth = area.width - 2
        screen.stackedBar(row: y, col: area.col + 1, width: barWidth,
                          segments: shares.map { (Int64(($0.share * 1_000_000).rounded()), Theme.phase($0.phase)) }, scale: 1_000_000 / Double(barWidth))
        y += 1
        var x = area.col + 1
        for s in shares where s.share > 0 {
            let label = "\(s.phase.name) \(percent(s.share))"
            guard x + displayWidth(label) + 2 < area.right else { break }
            screen.text("█", row: y, col: x, style: Theme.phase(s.phase))
            screen.text(label, row: y, col: x + 2)
            x += displayWidth(label) + 4
        }
        if snapshot.samples == 0 { screen.text("waiting for samples…", row: y, col: area.col + 1, style: Theme.dim) }
        y += 2
        // Functions (left, wider) and operators (right).
        let bottomHeight = max(5, min(area.height / 3, snapshot.threads.count + 2))
        let tablesHeight = area.bottom - y - bottomHeight - 1
        let leftWidth = area.width * 3 / 5
        let functions = sorted(snapshot.functions), operators = sorted(snapshot.operators)
        let fr = Rect(row: y + 1, col: area.col + 1, height: tablesHeight - 1, width: leftWidth - 2)
        screen.text("Functions", row: y, col: area.col + 1, style: Theme.heading)
        cursor.clamp(count: functions.count, visible: fr.height - 1)
        screen.table(fr, columns: [TableColumn("self", width: 6, right: true), TableColumn("total", width: 6, right: true), TableColumn("function", width: 0)],
                     count: functions.count, first: cursor.first, selected: nil) { i, c in
            let r = functions[i]
            switch c {
            case 0: return self.percent(r.selfShare)
            case 1: return self.percent(r.totalShare)
            default: return safe(r.name) + (r.location.isEmpty ? "" : "  " + safe(String(r.location.split(separator: "/").last ?? "")))
            }
        }
        let or = Rect(row: y + 1, col: area.col + leftWidth + 1, height: tablesHeight - 1, width: area.width - leftWidth - 2)
        screen.text("Operators", row: y, col: or.col, style: Theme.heading)
        if operators.isEmpty {
            screen.text("no operator frames (PyTorch ops show with --native)", row: or.row, col: or.col, width: or.width, style: Theme.dim)
        } else {
            screen.table(or, columns: [TableColumn("self", width: 6, right: true), TableColumn("total", width: 6, right: true), TableColumn("operator", width: 0)],
                         count: operators.count, first: 0, selected: nil) { i, c in
                let r = operators[i]
                switch c {
                case 0: return self.percent(r.selfShare)
                case 1: return self.percent(r.totalShare)
                default: return safe(r.name)
                }
            }
        }
        // Threads (left) and RSS over time (right).
        y = area.bottom - bottomHeight
        let threads = snapshot.threads
        let tr = Rect(row: y + 1, col: area.col + 1, height: bottomHeight - 1, width: leftWidth - 2)
        screen.text("Threads", row: y, col: tr.col, style: Theme.heading)
        screen.table(tr, columns: [TableColumn("tid", width: 8, right: true), TableColumn("state", width: 7), TableColumn("active", width: 6, right: true),
                                   TableColumn("GIL", width: 6, right: true), TableColumn("name", width: 0)],
                     count: threads.count, first: 0, selected: nil, cell: { i, c in
            let t = threads[i]
            switch c {
            case 0: return String(t.tid)
            case 1: return t.active ? "running" : "idle"
            case 2: return self.percent(t.activeShare)
            case 3: return self.percent(t.gilShare)
            default: return safe(t.name)
            }
        }, rowStyle: { threads[$0].active ? nil : Theme.dim })
        let rr = Rect(row: y + 1, col: area.col + leftWidth + 1, height: bottomHeight - 1, width: area.width - leftWidth - 2)
        let now = snapshot.rss.last ?? 0
        screen.text("RSS " + formatBytes(now) + (snapshot.rss.isEmpty ? "" : " (max \(formatBytes(snapshot.rss.max() ?? 0)))"),
                    row: y, col: rr.col, width: rr.width, style: Theme.heading)
        // Drawn from a floor below the smallest value, so changes show and a flat line sits mid-height.
        let points = Array(snapshot.rss.suffix(rr.width * 2)).map(Double.init)
        if let lo = points.min(), let hi = points.max() {
            let floor = max(0, lo - max(hi - lo, 1_048_576.0))
            screen.brailleArea(rr, values: points.map { $0 - floor }, maxValue: hi - floor, style: Style(fg: 75))
        }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        switch key {
        case .char("s"):
            byTotal.toggle()
            return true
        case .char("j"), .char("k"), .down, .up, .pageUp, .pageDown, .home, .end:
            return cursor.handle(key, count: snapshot.functions.count, visible: max(1, area.height / 2))
        default:
            return false
        }
    }
}

/// The live flame graph of `stepscope top`: the window's stacks as an icicle, zoom and search as in
/// the browsing flame graph; the zoom follows the same call path across refreshes.
public final class LiveFlameView: View {
    private var tree: FlameTree
    private var weight: [Int64]
    public private(set) var state = IcicleState()
    private var samples = 0
    private var input = TextInput()

    public init(_ snapshot: LiveSnapshot) {
        tree = FlameTree(folded: [snapshot.folded])
        weight = tree.weights(FlameFilter(step: 0)).cpu
        samples = snapshot.samples
    }

    /// Shows a newer snapshot; the zoomed and selected frames are found again by their call paths.
    public func update(_ snapshot: LiveSnapshot) {
        let zoomPaths = state.zoom.map { tree.path($0) }, selectedPath = tree.path(state.selected)
        tree = FlameTree(folded: [snapshot.folded])
        weight = tree.weights(FlameFilter(step: 0)).cpu
        samples = snapshot.samples
        state.zoom = zoomPaths.compactMap { tree.node(at: $0) }
        state.selected = tree.node(at: selectedPath) ?? state.root
        state.matches = state.query.isEmpty ? [] : tree.search(state.query)
        state.matchIndex = min(state.matchIndex, max(0, state.matches.count - 1))
    }

    public var title: String { "Flame" }
    public var isEditing: Bool { input.active }
    public var keyHelp: [(String, String)] {
        [("arrows, hjkl", "select a frame (parent, child, siblings)"), ("Enter", "zoom into the frame"), ("Esc", "zoom out"),
         ("/", "search; n N next and previous match"), ("click", "select a frame")]
    }

    public var status: String {
        if input.active { return "search: " + input.text + "▏" }
        let n = Int(state.selected)
        var parts = [clipped(tree.name[n], 50) + " " + percent(weight[n], weight[0]), "\(samples) samples"]
        if !state.query.isEmpty {
            parts.insert("/\(state.query): \(state.matches.count) matches, \(percent(icicle.matchedWeight(state.matches), weight[0]))", at: 1)
        }
        return parts.joined(separator: " │ ")
    }

    private var icicle: Icicle { Icicle(tree: tree, weight: weight) }

    public func draw(_ screen: inout ScreenBuffer, area: Rect) {
        guard weight[0] > 0 else {
            screen.text("no stacks sampled yet", row: area.row + 1, col: area.col + 2, style: Theme.dim)
            return
        }
        let tree = self.tree
        icicle.draw(&screen, area: area, state: state) { Theme.hashed(tree.name[Int($0)]) }
    }

    public func handle(_ key: Key, area: Rect) -> Bool {
        let icicle = self.icicle
        if icicle.handleSearch(key, input: &input, state: &state) != nil { return true }
        return icicle.handle(key, area: area, state: &state)
    }
}
