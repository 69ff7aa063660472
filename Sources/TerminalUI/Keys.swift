/// A key press or terminal event, decoded by the backend (or scripted by tests).
public enum Key: Equatable, Sendable {
    case char(Unicode.Scalar)
    case up, down, left, right, pageUp, pageDown, home, end
    case enter, escape, tab, backTab, backspace
    /// The terminal changed size (the app re-reads it from the frame size).
    case resize
    case mouse(MouseEvent)

    /// Keys from a script: one per character, with `<Tab>`, `<S-Tab>`, `<Enter>`, `<Esc>`, `<Up>`, `<Down>`,
    /// `<Left>`, `<Right>`, `<PgUp>`, `<PgDn>`, `<Home>`, `<End>`, `<BS>` for the others.
    public static func script(_ text: String) -> [Key] {
        let named: [String: Key] = [
            "Tab": .tab, "S-Tab": .backTab, "Enter": .enter, "Esc": .escape, "Up": .up, "Down": .down,
            "Left": .left, "Right": .right, "PgUp": .pageUp, "PgDn": .pageDown, "Home": .home, "End": .end, "BS": .backspace,
        ]
        var keys: [Key] = []
        var rest = Substring(text)
        while let c = rest.unicodeScalars.first {
            if c == "<", let close = rest.firstIndex(of: ">"), let k = named[String(rest[rest.index(after: rest.startIndex)..<close])] {
                keys.append(k)
                rest = rest[rest.index(after: close)...]
            } else {
                keys.append(.char(c))
                rest = Substring(rest.unicodeScalars.dropFirst())
            }
        }
        return keys
    }
}

/// A mouse event at a screen cell.
public struct MouseEvent: Equatable, Sendable {
    /// What happened: a left click, or the wheel.
    public enum Action: Equatable, Sendable { case click, rightClick, scrollUp, scrollDown }
    public var action: Action
    public var row: Int
    public var col: Int
    public init(action: Action, row: Int, col: Int) {
        self.action = action
        self.row = row
        self.col = col
    }
}
