import Formatting
import Foundation
import TerminalUI
import XCTest

/// The virtual screen: wide and control characters, clipping, frame differences, small terminals.
final class ScreenTests: XCTestCase {
    func testWideCharactersTakeTwoColumns() {
        XCTAssertEqual(displayWidth("注意力"), 6)
        XCTAssertEqual(displayWidth("🔥a"), 3)
        XCTAssertEqual(displayWidth("e\u{301}"), 1)  // e + combining acute
        var s = ScreenBuffer(rows: 1, cols: 8)
        XCTAssertEqual(s.text("a注意力", row: 0, col: 0), 7)
        XCTAssertEqual(s.line(0), "a注意力 ")
        XCTAssertTrue(s[0, 2].isContinuation)
        XCTAssertEqual(s[0, 1].scalar, 0x6CE8)
        // Clipped at 6 columns: the ellipsis takes the last one, no half character is drawn.
        var c = ScreenBuffer(rows: 1, cols: 8)
        c.text("a注意力", row: 0, col: 0, width: 6)
        XCTAssertEqual(c.line(0), "a注意…  ")
        XCTAssertEqual(clipped("注意力", 4), "注…")
        // A wide character that would cross the right edge is not drawn.
        var e = ScreenBuffer(rows: 1, cols: 3)
        e.text("ab注", row: 0, col: 0, width: 3)
        XCTAssertEqual(e.line(0), "ab…")
        // Overwriting half of a wide character blanks the other half.
        s.put("x", row: 0, col: 2, style: .plain)
        XCTAssertEqual(s.line(0), "a x意力 ")
    }

    func testControlCharactersFromTracesAreEscaped() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 4)
        let screen = Fixtures.render(app)
        XCTAssertTrue(screen.text.contains("evil\\x1b[31mop"))
        for cell in screen.cells { XCTAssertTrue(cell.scalar == 0 || cell.scalar >= 0x20 && !(0x7F...0x9F).contains(cell.scalar)) }
        XCTAssertEqual(safe("a\tb\u{9B}"), "a\\tb\\u{9b}")
    }

    func testFrameDiffYieldsOnlyChangedCells() {
        var a = ScreenBuffer(rows: 3, cols: 10)
        a.text("hello", row: 0, col: 0)
        a.text("注意", row: 1, col: 2)
        XCTAssertEqual(a.changes(from: nil), [ChangedRun(row: 0, col: 0, count: 10), ChangedRun(row: 1, col: 0, count: 10),
                                              ChangedRun(row: 2, col: 0, count: 10)])
        var b = a
        XCTAssertEqual(b.changes(from: a), [])
        b.text("J", row: 0, col: 0)
        b.restyle(row: 2, col: 5, width: 2) { $0.attrs |= Style.bold }
        XCTAssertEqual(b.changes(from: a), [ChangedRun(row: 0, col: 0, count: 1), ChangedRun(row: 2, col: 5, count: 2)])
        // Changing the right half of a wide character redraws it from its left half.
        var c = a
        c[1, 3] = Cell(scalar: 0, style: Style(fg: 1))
        XCTAssertEqual(c.changes(from: a), [ChangedRun(row: 1, col: 2, count: 2)])
        // A new size redraws everything.
        XCTAssertEqual(ScreenBuffer(rows: 1, cols: 4).changes(from: a), [ChangedRun(row: 0, col: 0, count: 4)])
    }

    func testNarrowTerminalAsksForRoom() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace))
        let small = Fixtures.render(app, rows: 20, cols: 60)
        XCTAssertTrue(small.text.contains("stepscope needs at least 80x24"), small.text)
        XCTAssertTrue(small.text.contains("this terminal is 60x20"))
        assertSnapshot(small, "too-small")
        // Degenerate sizes and keys on them never crash; q still quits.
        for (r, c) in [(0, 0), (1, 1), (2, 5), (23, 80), (24, 79), (3, 200)] {
            for k in 1...6 { _ = Fixtures.render(app, "\(k)<Enter>jkhl+-/x<Enter>", rows: r, cols: c) }
        }
        _ = Fixtures.render(app, "<Esc>q", rows: 1, cols: 1)
        XCTAssertTrue(app.quit)
    }

    func testEveryViewAtLargeAndMinimumSizes() throws {
        for model in [try Fixtures.model(Fixtures.smallTrace), try Fixtures.sample("single")] {
            let app = Fixtures.app(model)
            for (r, c) in [(24, 80), (50, 200)] {
                for k in 1...6 {
                    let s = Fixtures.render(app, "\(k)jjl<Enter>", rows: r, cols: c)
                    XCTAssertEqual(app.active, k - 1)
                    XCTAssertTrue(s.line(r - 1).hasSuffix(" ? help  q quit "), s.line(r - 1))
                }
            }
        }
    }

    func testStackedBarSplitsByEighths() {
        var s = ScreenBuffer(rows: 1, cols: 4)
        s.stackedBar(row: 0, col: 0, width: 4, segments: [(12, Style(fg: 1)), (12, Style(fg: 2))], scale: 8)
        // 12/8 = 1.5 cells each: full, half (majority colour 1 then 2 by position), full.
        XCTAssertEqual(s.line(0), "███ ")
        XCTAssertEqual(s[0, 0].style.fg, 1)
        XCTAssertEqual(s[0, 2].style.fg, 2)
        var h = ScreenBuffer(rows: 1, cols: 3)
        h.hbar(row: 0, col: 0, eighths: 11, style: .plain)
        XCTAssertEqual(h.line(0), "█▍ ")
    }

    func testKeyScript() {
        XCTAssertEqual(Key.script("a<Tab><S-Tab>/<Enter><Esc><x"), [.char("a"), .tab, .backTab, .char("/"), .enter, .escape, .char("<"), .char("x")])
    }
}
