import CCurses
import TerminalUI
#if canImport(Glibc)
import Glibc
#endif

/// True between setup and teardown: the signal and exit handlers restore the terminal only then.
nonisolated(unsafe) private var cursesActive: sig_atomic_t = 0

/// Restores the terminal from a signal handler, then lets the signal do what it would have done.
private let restoreOnSignal: @convention(c) (Int32) -> Void = { sig in
    if cursesActive != 0 {
        cursesActive = 0
        _ = ccurses_endwin()
    }
    signal(sig, SIG_DFL)
    raise(sig)
}

/// The real terminal through ncursesw: setup and teardown, drawing changed cells, reading keys.
/// The only type in stepscope that talks to curses.
public final class Terminal {
    private let screen: OpaquePointer
    private let window: UnsafeMutablePointer<WINDOW>
    private let utf8: Bool
    private let colors: Int32
    private var pairs: [UInt32: Int32] = [:]
    private var previous: ScreenBuffer?
    private var closed = false

    /// Takes over the terminal on standard input and output: UTF-8 locale, cbreak (Ctrl-C still
    /// interrupts), no echo, keypad and mouse decoding, colours, hidden cursor. Installs handlers
    /// that restore the terminal on SIGINT, SIGTERM, SIGHUP, SIGQUIT, on crash signals and at exit.
    public init() throws {
        utf8 = ccurses_setlocale()
        setenv("ESCDELAY", "25", 0)  // Esc answers at once instead of after a second
        guard let output = fdopen(1, "w"), let input = fdopen(0, "r"),
              let s = ccurses_newterm(nil, output, input), let w = ccurses_stdscr() else {
            throw TerminalError(message: "cannot open the terminal (is TERM set?)")
        }
        screen = s
        window = w
        cursesActive = 1
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGTRAP] { signal(sig, restoreOnSignal) }
        atexit {
            if cursesActive != 0 {
                cursesActive = 0
                _ = ccurses_endwin()
            }
        }
        cbreak()
        noecho()
        _ = ccurses_keypad(window, true)
        curs_set(0)
        if ccurses_start_color() == OK {
            _ = ccurses_use_default_colors()
            colors = ccurses_colors()
        } else {
            colors = 0
        }
        _ = ccurses_enable_mouse(false)
    }

    /// Rows and columns of the terminal now.
    public var size: (rows: Int, cols: Int) {
        var rows: Int32 = 0, cols: Int32 = 0
        ccurses_getmaxyx(window, &rows, &cols)
        return (Int(rows), Int(cols))
    }

    /// Copies the cells that changed since the last frame to the terminal.
    public func draw(_ frame: ScreenBuffer) {
        if let p = previous, p.rows != frame.rows || p.cols != frame.cols {
            werase(window)
            previous = nil
        }
        for run in frame.changes(from: previous) {
            for c in run.col..<run.col + run.count {
                let cell = frame[run.row, c]
                if cell.isContinuation { continue }
                var scalar = cell.scalar
                if !utf8 && scalar > 0x7E { scalar = scalar >= 0x2580 && scalar < 0x25A0 || scalar >= 0x2800 && scalar < 0x2900 ? 0x23 : 0x3F }
                _ = ccurses_put_wch(window, Int32(run.row), Int32(c), wchar_t(scalar), attributes(cell.style), pair(cell.style))
            }
        }
        wrefresh(window)
        previous = frame
    }

    /// Forgets what is on screen, so the next `draw` repaints every cell.
    public func invalidate() {
        previous = nil
        clearok(window, true)
    }

    private func attributes(_ s: Style) -> attr_t {
        var a: attr_t = 0
        if s.attrs & Style.bold != 0 { a |= ccurses_attr(CCURSES_ATTR_BOLD) }
        if s.attrs & Style.dim != 0 { a |= ccurses_attr(CCURSES_ATTR_DIM) }
        if s.attrs & Style.reverse != 0 { a |= ccurses_attr(CCURSES_ATTR_REVERSE) }
        if s.attrs & Style.underline != 0 { a |= ccurses_attr(CCURSES_ATTR_UNDERLINE) }
        return a
    }

    /// The colour pair for a style's colours, made on first use (colours folded to 8 on small terminals).
    private func pair(_ s: Style) -> Int32 {
        guard colors > 0, s.fg >= 0 || s.bg >= 0 else { return 0 }
        let key = UInt32(UInt16(bitPattern: s.fg)) << 16 | UInt32(UInt16(bitPattern: s.bg))
        if let p = pairs[key] { return p }
        let n = Int32(pairs.count + 1)
        guard n < ccurses_color_pairs() else { return 0 }
        func fit(_ c: Int16) -> Int32 { c < 0 ? -1 : (Int32(c) < colors ? Int32(c) : Int32(basicColor(c))) }
        _ = ccurses_init_pair(n, fit(s.fg), fit(s.bg))
        pairs[key] = n
        return n
    }

    /// Waits up to `timeoutMs` (-1: forever) for a key; nil on timeout.
    public func readKey(timeoutMs: Int32 = -1) -> Key? {
        wtimeout(window, timeoutMs)
        let ch = wgetch(window)
        switch ch {
        case ERR: return nil
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_BTAB: return .backTab
        case KEY_ENTER, 10, 13: return .enter
        case KEY_BACKSPACE, 8, 127: return .backspace
        case KEY_RESIZE: return .resize
        case 9: return .tab
        case 27: return .escape
        case KEY_MOUSE:
            var m = ccurses_mouse()
            guard ccurses_get_mouse(&m) == OK else { return nil }
            let action: MouseEvent.Action
            switch (m.button, m.action) {
            case (4, _): action = .scrollUp
            case (5, _): action = .scrollDown
            case (1, CCURSES_MOUSE_PRESS), (1, CCURSES_MOUSE_CLICK): action = .click
            case (3, CCURSES_MOUSE_PRESS), (3, CCURSES_MOUSE_CLICK): action = .rightClick
            default: return nil
            }
            return .mouse(MouseEvent(action: action, row: Int(m.y), col: Int(m.x)))
        case 0..<0x80:
            return .char(Unicode.Scalar(UInt8(ch)))
        case 0xC0..<0x100:
            // The lead byte of a UTF-8 sequence: read its continuation bytes.
            var bytes = [UInt8(ch)]
            let extra = ch >= 0xF0 ? 3 : ch >= 0xE0 ? 2 : 1
            wtimeout(window, 10)
            for _ in 0..<extra {
                let b = wgetch(window)
                guard b >= 0x80 && b < 0xC0 else { break }
                bytes.append(UInt8(b))
            }
            return String(decoding: bytes, as: UTF8.self).unicodeScalars.first.map { .char($0) }
        default:
            return nil
        }
    }

    /// Gives the terminal back (normal screen, echo, cursor). Safe to call more than once.
    public func close() {
        guard !closed else { return }
        closed = true
        cursesActive = 0
        _ = ccurses_endwin()
        ccurses_delscreen(screen)
    }

    deinit { close() }
}

/// The terminal could not be set up.
public struct TerminalError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The nearest of the 8 basic colours to an xterm-256 colour.
func basicColor(_ c: Int16) -> Int16 {
    if c < 16 { return c % 8 }
    let rgb: (Int, Int, Int)
    if c >= 232 {
        let v = 8 + Int(c - 232) * 10
        rgb = (v, v, v)
    } else {
        let i = Int(c - 16)
        let level = [0, 95, 135, 175, 215, 255]
        rgb = (level[i / 36], level[(i / 6) % 6], level[i % 6])
    }
    // Bit 0 red, 1 green, 2 blue: the curses colour numbers.
    return Int16((rgb.0 > 127 ? 1 : 0) | (rgb.1 > 127 ? 2 : 0) | (rgb.2 > 127 ? 4 : 0))
}

/// Runs `app` until it quits: renders a frame, draws what changed, waits for a key.
public func runApp(_ app: App, on terminal: Terminal) {
    var frame = ScreenBuffer(rows: 0, cols: 0)
    while !app.quit {
        let (rows, cols) = terminal.size
        if frame.rows != rows || frame.cols != cols { frame = ScreenBuffer(rows: rows, cols: cols) }
        app.render(into: &frame)
        terminal.draw(frame)
        guard let key = terminal.readKey() else { continue }
        if key == .resize { terminal.invalidate() }
        app.handle(key, rows: rows, cols: cols)
    }
}
