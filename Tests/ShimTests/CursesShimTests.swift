import CCurses
import Glibc
import XCTest

/// Drives ncursesw through CCurses on a pseudo terminal: the test plays the terminal on the
/// master side, reading what curses draws and typing keys and mouse reports into it.
final class CursesShimTests: XCTestCase {
    func testScreenOnPseudoTerminal() throws {
        var master: Int32 = -1
        var slave: Int32 = -1
        var size = winsize(ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
        XCTAssertEqual(openpty(&master, &slave, nil, nil, &size), 0)
        defer { close(master) }
        let output = try XCTUnwrap(fdopen(slave, "w"))
        defer { fclose(output) }
        let input = try XCTUnwrap(fdopen(dup(slave), "r"))
        defer { fclose(input) }

        var rows: Int32 = -1
        var cols: Int32 = -1
        XCTAssertEqual(ccurses_terminal_size(slave, &rows, &cols), 0)
        XCTAssertEqual(rows, 40)
        XCTAssertEqual(cols, 120)
        let devNull = open("/dev/null", O_RDONLY)
        defer { close(devNull) }
        XCTAssertEqual(ccurses_terminal_size(devNull, &rows, &cols), -ENOTTY)

        let savedLocale = String(cString: setlocale(LC_ALL, nil))
        let savedLCAll = getenv("LC_ALL").map { String(cString: $0) }
        setenv("LC_ALL", "C.UTF-8", 1)
        defer {
            if let savedLCAll { setenv("LC_ALL", savedLCAll, 1) } else { unsetenv("LC_ALL") }
            setlocale(LC_ALL, savedLocale)
        }
        XCTAssertTrue(ccurses_setlocale())

        let screen = try XCTUnwrap(ccurses_newterm("xterm-256color", output, input))
        var ended = false
        defer {
            if !ended { _ = ccurses_endwin() }
            ccurses_delscreen(screen)
        }
        let win = try XCTUnwrap(ccurses_stdscr())

        ccurses_getmaxyx(win, &rows, &cols)
        XCTAssertGreaterThan(rows, 0)
        XCTAssertGreaterThan(cols, 0)
        XCTAssertFalse(ccurses_is_term_resized(rows, cols))
        XCTAssertTrue(ccurses_is_term_resized(30, 100))
        XCTAssertEqual(ccurses_resizeterm(30, 100), OK)
        ccurses_getmaxyx(win, &rows, &cols)
        XCTAssertEqual(rows, 30)
        XCTAssertEqual(cols, 100)

        XCTAssertEqual(ccurses_attr(CCURSES_ATTR_NORMAL), 0)
        for id in [CCURSES_ATTR_BOLD, CCURSES_ATTR_DIM, CCURSES_ATTR_REVERSE, CCURSES_ATTR_UNDERLINE,
                   CCURSES_ATTR_ITALIC, CCURSES_ATTR_STANDOUT] {
            XCTAssertNotEqual(ccurses_attr(id), 0, "attribute \(id.rawValue)")
        }
        XCTAssertNotEqual(ccurses_attr(CCURSES_ATTR_BOLD), ccurses_attr(CCURSES_ATTR_REVERSE))
        for id in [CCURSES_ACS_HLINE, CCURSES_ACS_VLINE, CCURSES_ACS_ULCORNER, CCURSES_ACS_LRCORNER,
                   CCURSES_ACS_PLUS, CCURSES_ACS_BLOCK, CCURSES_ACS_BULLET] {
            XCTAssertNotEqual(ccurses_acs(id), 0, "glyph \(id.rawValue)")
        }

        XCTAssertEqual(ccurses_start_color(), OK)
        XCTAssertEqual(ccurses_use_default_colors(), OK)
        XCTAssertEqual(ccurses_colors(), 256)
        XCTAssertGreaterThan(ccurses_color_pairs(), 1)
        XCTAssertEqual(ccurses_init_pair(1, Int32(COLOR_RED), -1), OK)

        drain(master)
        let bold = ccurses_attr(CCURSES_ATTR_BOLD)
        XCTAssertEqual(ccurses_put_wch(win, 0, 0, wchar_t(0x2588), bold, 1), OK)  // full block
        XCTAssertEqual(ccurses_put_wch(win, 0, 1, wchar_t(0x2581), 0, 0), OK)     // lower eighth block
        XCTAssertEqual(ccurses_put_wch(win, 0, 2, wchar_t(0x28FF), 0, 1), OK)     // braille, all dots
        XCTAssertEqual(ccurses_put_str(win, 1, 0, "step μs", -1, 0, 1), OK)
        XCTAssertEqual(wrefresh(win), OK)
        let drawn = readUntil(master, contains: Array("μs".utf8))
        for glyph in ["\u{2588}", "\u{2581}", "\u{28FF}", "step μs"] {
            XCTAssertTrue(drawn.contains(Array(glyph.utf8)), "terminal did not receive \(glyph)")
        }

        XCTAssertEqual(cbreak(), OK)
        XCTAssertEqual(noecho(), OK)
        XCTAssertEqual(ccurses_keypad(win, true), OK)
        wtimeout(win, 2000)
        XCTAssertNotEqual(ccurses_enable_mouse(false), 0)
        drain(master)

        XCTAssertEqual(wgetch(win), KEY_RESIZE)  // queued by ccurses_resizeterm above
        type(master, "\u{1B}OA")
        XCTAssertEqual(wgetch(win), KEY_UP)

        type(master, "\u{1B}[<0;5;3M")  // SGR report: left button pressed at column 5, row 3
        XCTAssertEqual(wgetch(win), KEY_MOUSE)
        var event = ccurses_mouse()
        XCTAssertEqual(ccurses_get_mouse(&event), OK)
        XCTAssertEqual(event.x, 4)
        XCTAssertEqual(event.y, 2)
        XCTAssertEqual(event.button, 1)
        XCTAssertEqual(event.action, CCURSES_MOUSE_PRESS)
        XCTAssertNotEqual(event.bstate, 0)

        type(master, "\u{1B}[<65;2;2M")  // wheel down at column 2, row 2
        XCTAssertEqual(wgetch(win), KEY_MOUSE)
        XCTAssertEqual(ccurses_get_mouse(&event), OK)
        XCTAssertEqual(event.button, 5)
        XCTAssertEqual(event.action, CCURSES_MOUSE_PRESS)

        XCTAssertEqual(ccurses_endwin(), OK)
        ended = true
    }

    /// Discards whatever the terminal side has been sent so far.
    private func drain(_ fd: Int32) {
        _ = readUntil(fd, contains: nil, timeoutMs: 50)
    }

    /// Reads from fd until `needle` has been seen (or, with no needle, until fd goes quiet).
    private func readUntil(_ fd: Int32, contains needle: [UInt8]?, timeoutMs: Int32 = 2000) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while poll(&pfd, 1, timeoutMs) > 0 {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            received += buffer[0..<n]
            if let needle, received.contains(needle) { break }
        }
        return received
    }

    /// Types text into the terminal, as if from the keyboard.
    private func type(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        XCTAssertEqual(write(fd, bytes, bytes.count), bytes.count)
    }
}
