/// A screen of the UI: draws itself into an area and answers keys.
public protocol View: AnyObject {
    /// Name on the tab bar.
    var title: String { get }
    /// Keys this view adds, as (keys, what they do), for the help overlay.
    var keyHelp: [(String, String)] { get }
    /// One line about the view's state (sort, filter, selection), for the status line.
    var status: String { get }
    /// True while the view reads text (a search or filter): every key goes to it.
    var isEditing: Bool { get }
    /// Draws the view into `area` of `screen`.
    func draw(_ screen: inout ScreenBuffer, area: Rect)
    /// Handles a key; false when the view does not use it.
    func handle(_ key: Key, area: Rect) -> Bool
}

/// Smallest terminal the views are laid out for.
public let minimumSize = (rows: 24, cols: 80)

/// The whole UI: tab bar, the active view, status line and help overlay; routes keys and renders frames.
public final class App {
    public let views: [View]
    public private(set) var active = 0
    public private(set) var showingHelp = false
    public private(set) var quit = false
    /// Shared state the views read (the selected rank); nil for a diff.
    public let context: ViewContext?
    private let name: String

    /// An app over `views`; `name` heads the tab bar (the run's path).
    public init(views: [View], context: ViewContext? = nil, name: String) {
        self.views = views
        self.context = context
        self.name = name
    }

    /// The views for a loaded run, in tab order (keys 1-7, and 8 for efficiency when a rank has some).
    public static func forRun(_ model: RunModel, name: String) -> App {
        let context = ViewContext(model: model)
        let timeline = TimelineView(context)
        let efficiency: [View] = EfficiencyView.applies(to: model) ? [EfficiencyView(context)] : []
        let app = App(views: [OverviewView(context), FlameView(context), timeline, OperatorsView(context),
                              MemoryView(context), CommunicationView(context), KernelsView(context)] + efficiency, context: context, name: name)
        // A memory snapshot alone has no timeline: open on what it has.
        if model.ranks.allSatisfy({ $0.trace.slices.count == 0 }) && model.ranks.contains(where: { !$0.report.snapshot.isEmpty }) {
            app.active = app.views.firstIndex { $0 is MemoryView } ?? 0
        }
        context.reveal = { [unowned app, unowned timeline] rank, slice in
            timeline.reveal(rank: rank, slice: slice)
            app.active = 2
        }
        return app
    }

    /// The keys every view shares, as this app has them: one number per view, `r` only with ranks.
    var globalKeys: [(String, String)] {
        (views.count > 1 ? [("1-\(views.count), Tab, S-Tab", "switch view")] : []) + [("?", "this help (any key closes it)"), ("q", "quit")]
            + (context == nil ? [] : [("r", "next rank")]) + [("arrows, hjkl", "move"), ("PgUp PgDn Home End", "scroll")]
    }

    /// The area views draw in for a screen of `rows` x `cols`.
    public static func contentArea(rows: Int, cols: Int) -> Rect { Rect(row: 1, col: 0, height: rows - 2, width: cols) }

    /// Applies one key.
    public func handle(_ key: Key, rows: Int, cols: Int) {
        let area = App.contentArea(rows: rows, cols: cols)
        let view = views[active]
        if view.isEditing {
            _ = view.handle(key, area: area)
            return
        }
        if showingHelp {
            if key != .resize { showingHelp = false }
            return
        }
        if case let .mouse(m) = key, m.action == .click, m.row == 0, let tab = tabAt(col: m.col + tabShift(cols: cols)) {
            active = tab
            return
        }
        if view.handle(key, area: area) { return }
        switch key {
        case .char("q"): quit = true
        case .char("?"): showingHelp = true
        case .tab: active = (active + 1) % views.count
        case .backTab: active = (active + views.count - 1) % views.count
        case .char("r"): context?.nextRank()
        case let .char(c) where c.value >= 0x31 && c.value < 0x31 + UInt32(views.count):
            active = Int(c.value - 0x31)
        default: break
        }
    }

    /// Renders a frame into `screen` (its size is the terminal's).
    public func render(into screen: inout ScreenBuffer) {
        screen.clear()
        let rows = screen.rows, cols = screen.cols
        guard rows >= minimumSize.rows, cols >= minimumSize.cols else {
            let lines = ["stepscope needs at least \(minimumSize.cols)x\(minimumSize.rows)",
                         "this terminal is \(cols)x\(rows)", "enlarge it, or press q to quit"]
            for (k, l) in lines.enumerated() where k < rows {
                screen.text(l, row: max(0, rows / 2 - 1) + k - (rows < 3 ? rows / 2 : 0), col: max(0, (cols - displayWidth(l)) / 2))
            }
            return
        }
        drawTabs(&screen)
        let area = App.contentArea(rows: rows, cols: cols)
        views[active].draw(&screen, area: area)
        screen.fill(row: rows - 1, col: 0, height: 1, width: cols, style: Theme.status)
        let right = " ? help  q quit "
        screen.text(views[active].status, row: rows - 1, col: 1, width: cols - displayWidth(right) - 2, style: Theme.status)
        screen.textRight(right, row: rows - 1, end: cols, style: Theme.status)
        if showingHelp { drawHelp(&screen) }
    }

    /// Handles a key for a screen of the given size and renders the next frame: the benchmark's unit.
    public func step(_ key: Key, into screen: inout ScreenBuffer) {
        handle(key, rows: screen.rows, cols: screen.cols)
        render(into: &screen)
    }

    private var tabStarts: [(start: Int, end: Int)] {
        var x = displayWidth(name) + 3
        return views.enumerated().map { k, v in
            let w = displayWidth(" \(k + 1) \(v.title) ")
            defer { x += w }
            return (x, x + w)
        }
    }

    private func tabAt(col: Int) -> Int? { tabStarts.firstIndex { col >= $0.start && col < $0.end } }

    /// Columns the tabs are drawn left of their places so the last one fits a screen `cols` wide,
    /// but never so far that the active tab's start is cut (then the last ones are cut instead).
    private func tabShift(cols: Int) -> Int {
        let starts = tabStarts
        return min(max(0, (starts.last?.end ?? 0) - cols), starts.isEmpty ? 0 : starts[active].start)
    }

    private func drawTabs(_ screen: inout ScreenBuffer) {
        screen.fill(row: 0, col: 0, height: 1, width: screen.cols, style: Theme.tab)
        screen.text(" " + name + " ", row: 0, col: 0, width: screen.cols / 3, style: Theme.title)
        let starts = tabStarts
        let shift = tabShift(cols: screen.cols)
        for (k, v) in views.enumerated() {
            screen.text(" \(k + 1) \(v.title) ", row: 0, col: starts[k].start - shift, style: k == active ? Theme.activeTab : Theme.tab)
        }
        if let context, context.model.ranks.count > 1 {
            let rank = " rank \(context.rankModel.analysis.rank) of \(context.model.ranks.count) "
            guard starts.last!.end - shift + displayWidth(rank) <= screen.cols else { return }
            screen.textRight(rank, row: 0, end: screen.cols, style: Theme.tab)
        }
    }

    private func drawHelp(_ screen: inout ScreenBuffer) {
        let entries = globalKeys + [("", "")] + views[active].keyHelp
        let keyWidth = entries.map { displayWidth($0.0) }.max() ?? 0
        let width = min(screen.cols - 4, max(40, keyWidth + 3 + (entries.map { displayWidth($0.1) }.max() ?? 0)) + 4)
        let height = min(screen.rows - 2, entries.count + 2)
        let r = Rect(row: (screen.rows - height) / 2, col: (screen.cols - width) / 2, height: height, width: width)
        let inner = screen.box(r, title: "keys: \(views[active].title)")
        for (k, e) in entries.enumerated() where k < inner.height {
            screen.text(e.0, row: inner.row + k, col: inner.col + 1, style: Theme.heading)
            screen.text(e.1, row: inner.row + k, col: inner.col + keyWidth + 3, width: inner.width - keyWidth - 4)
        }
    }
}

/// State shared by the views of one run: the model and the selected rank.
public final class ViewContext {
    public let model: RunModel
    public private(set) var rank = 0
    /// Shows slice `slice` of the rank at index `rank` in the timeline (set by `App.forRun`).
    public var reveal: ((_ rank: Int, _ slice: Int) -> Void)?
    public init(model: RunModel) { self.model = model }
    public var rankModel: RankModel { model.ranks[rank] }
    /// Selects the next rank (wrapping).
    public func nextRank() { rank = model.ranks.isEmpty ? 0 : (rank + 1) % model.ranks.count }
}

/// A line of text being typed (search, filter): printable keys append, Backspace deletes, Enter
/// accepts and Esc cancels.
public struct TextInput: Sendable {
    public var text = ""
    public var active = false
    public init() {}

    /// Outcome of a key.
    public enum Outcome { case editing, accepted, cancelled }

    public mutating func handle(_ key: Key) -> Outcome {
        switch key {
        case .enter:
            active = false
            return .accepted
        case .escape:
            active = false
            return .cancelled
        case .backspace:
            if !text.isEmpty { text.unicodeScalars.removeLast() }
        case let .char(c) where c.value >= 0x20 && c.value != 0x7F:
            text.unicodeScalars.append(c)
        default: break
        }
        return .editing
    }
}

/// A text filter of a table view: the text in force, and its input while it is typed (it applies
/// as it is typed; Esc while typing clears it).
public struct FilterField: Sendable {
    public private(set) var text = ""
    private var input = TextInput()
    public init() {}

    /// Whether the filter is being typed.
    public var isEditing: Bool { input.active }
    /// The status line while typing.
    public var prompt: String { "filter: " + input.text + "▏" }

    /// Starts typing, from the text in force.
    public mutating func open() {
        input = TextInput()
        input.text = text
        input.active = true
    }

    /// Takes a key while typing (false when not typing: the key is the view's).
    public mutating func handle(_ key: Key) -> Bool {
        guard input.active else { return false }
        switch input.handle(key) {
        case .accepted, .editing: text = input.text
        case .cancelled: text = ""
        }
        return true
    }

    /// Clears the text; false when it was already empty.
    public mutating func clear() -> Bool {
        guard !text.isEmpty else { return false }
        text = ""
        return true
    }
}
