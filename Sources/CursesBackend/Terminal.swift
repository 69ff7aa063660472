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

/// What a crash handler needs, prepared at setup so that the handler only makes async-signal-safe
/// calls: the bytes that give the terminal back (normal screen, cursor, keypad, attributes, mouse
/// tracking off), the terminal modes from before setup, and the handlers that were there before.
private enum CrashReset {
    nonisolated(unsafe) static let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: 512)
    nonisolated(unsafe) static var count = 0
    nonisolated(unsafe) static let modes = UnsafeMutablePointer<termios>.allocate(capacity: 1)
    nonisolated(unsafe) static var haveModes = false
    nonisolated(unsafe) static let previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
    static let signals = [SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP]

    /// Saves the modes of standard input (before curses changes them).
    static func saveModes() { haveModes = tcgetattr(0, modes) == 0 }

    /// Fills `bytes` from terminfo (rmcup, cnorm, rmkx, sgr0; xterm's sequences where absent) and
    /// the xterm mouse modes off.
    static func prepare() {
        var text = ""
        for (cap, fallback) in [("sgr0", "\u{1B}[0m"), ("rmkx", "\u{1B}[?1l\u{1B}>"), ("cnorm", "\u{1B}[?25h"), ("rmcup", "\u{1B}[?1049l")] {
            let value = cap.withCString { tigetstr(UnsafeMutablePointer(mutating: $0)) }
            let valid = value.map { Int(bitPattern: $0) != -1 } ?? false
            text += valid ? String(cString: value!) : fallback
        }
        text += "\u{1B}[?1000l\u{1B}[?1002l\u{1B}[?1003l\u{1B}[?1005l\u{1B}[?1006l\u{1B}[?1015l"
        let utf8 = Array(text.utf8.prefix(512))
        bytes.update(from: utf8, count: utf8.count)
        count = utf8.count
    }

    nonisolated(unsafe) static var installed = false

    /// Installs `handler` for the crash signals (on the alternate stack, so a stack overflow can
    /// run it), keeping the handlers that were there (the Swift runtime's backtracer). Once per
    /// process: a second terminal must not keep the first one's handler as "previous".
    static func install() {
        guard !installed else { return }
        installed = true
        for sig in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_sigaction = handler
            action.sa_flags = SA_SIGINFO | SA_ONSTACK
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, previous + Int(sig))
        }
    }

    /// Writes the reset bytes and restores the modes (both async-signal-safe), puts the previous
    /// handler back (the default one if it ignored the signal), and lets the signal go to it: a
    /// fault is re-executed on return; a sent signal (abort, raise, kill) is raised again.
    static let handler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = { sig, info, _ in
        if cursesActive != 0 {
            cursesActive = 0
            var done = 0
            while done < count {
                let n = write(1, bytes + done, count - done)
                if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { break }
            }
            if haveModes { _ = tcsetattr(0, TCSANOW, modes) }
        }
        let old = previous + Int(sig)
        if unsafeBitCast(old.pointee.__sigaction_handler.sa_handler, to: Int.self) == 1 {  // SIG_IGN
            signal(sig, SIG_DFL)
        } else {
            sigaction(sig, old, nil)
        }
        if (info?.pointee.si_code ?? 0) <= 0 { raise(sig) }
    }

    /// An alternate signal stack for the calling thread, unless it has one.
    static func ensureAltStack() {
        var current = stack_t()
        guard sigaltstack(nil, &current) == 0, current.ss_flags & Int32(SS_DISABLE) != 0 else { return }
        let size = 1 << 16
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)  // kept for the thread's life
        stack.ss_size = size
        stack.ss_flags = 0
        _ = sigaltstack(&stack, nil)
    }
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
    /// that restore the terminal on SIGINT, SIGTERM, SIGHUP, SIGQUIT (through curses), on crash
    /// signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP: async-signal-safe writes, on an
    /// alternate stack, then the handler from before) and at exit.
    public init() throws {
        utf8 = ccurses_setlocale()
        setenv("ESCDELAY", "25", 0)  // Esc answers at once instead of after a second
        CrashReset.saveModes()
        guard let output = fdopen(1, "w"), let input = fdopen(0, "r"),
              let s = ccurses_newterm(nil, output, input), let w = ccurses_stdscr() else {
            throw TerminalError(message: "cannot open the terminal (is TERM set?)")
        }
        screen = s
        window = w
        CrashReset.prepare()
        CrashReset.ensureAltStack()
        cursesActive = 1
        for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] { signal(sig, restoreOnSignal) }
        CrashReset.install()
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

    /// Gives the calling thread an alternate signal stack, so that the crash handler can restore
    /// the terminal even when the thread overflows its stack (the UI's loading thread calls this).
    public static func prepareThreadForCrashes() { CrashReset.ensureAltStack() }
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
    var first = true
    while !app.quit {
        let (rows, cols) = terminal.size
        if frame.rows != rows || frame.cols != cols { frame = ScreenBuffer(rows: rows, cols: cols) }
        app.render(into: &frame)
        terminal.draw(frame)
        if first {
            first = false
            crashIfTestAsks()
        }
        guard let key = terminal.readKey() else { continue }
        if key == .resize { terminal.invalidate() }
        app.handle(key, rows: rows, cols: cols)
    }
}

/// The crash test hook (Tests/CLITests/HardeningTests.swift): with `STEPSCOPE_TEST_CRASH` set, the UI
/// crashes on purpose once its first frame is on screen: `trap` (or `1`: a Swift runtime failure),
/// `segv` (a bad pointer), `abort`, or `overflow` (unbounded recursion).
private func crashIfTestAsks() {
    guard let value = getenv("STEPSCOPE_TEST_CRASH").map({ String(cString: $0) }) else { return }
    switch value {
    case "segv": UnsafeMutablePointer<Int>(bitPattern: 8)!.pointee = 1
    case "abort": abort()
    case "overflow": _ = recurseForever(1)
    default: fatalError("STEPSCOPE_TEST_CRASH=\(value)")
    }
}

@inline(never)
private func recurseForever(_ n: Int) -> Int {
    var frame = (n, n &+ 1, n &+ 2, n &+ 3)
    return withUnsafeMutablePointer(to: &frame) { recurseForever($0.pointee.1) &+ $0.pointee.0 }
}
