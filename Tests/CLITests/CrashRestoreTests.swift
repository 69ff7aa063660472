import Foundation
import TestSupport
import XCTest

/// The terminal comes back when the UI crashes (docs/tui.md): the binary in a tmux pane, crashed on
/// purpose by its test hook (`STEPSCOPE_TEST_CRASH`) once the UI is on screen; tmux then reports
/// the pane's modes.
final class CrashRestoreTests: XCTestCase {
    private var session = ""

    override func setUpWithError() throws {
        guard system("command -v tmux >/dev/null 2>&1") == 0 else {
            print("CrashRestoreTests: tmux is not installed (scripts/setup.sh installs it); skipping")
            throw XCTSkip("tmux is not installed")
        }
    }

    override func tearDown() {
        if !session.isEmpty { _ = tmux("kill-session -t \(session)") }
        super.tearDown()
    }

    @discardableResult
    private func tmux(_ args: String) -> Int32 { system("tmux -L \(session) \(args) >/dev/null 2>&1") }

    private func output(_ args: String) -> String {
        let path = TestSupport.temporaryPath(".txt")
        defer { unlink(path) }
        _ = system("tmux -L \(session) \(args) > \(path) 2>/dev/null")
        return TestSupport.readFile(path)
    }

    /// The pane's alternate-screen, cursor-visible and mouse-tracking flags, as "1 0 1".
    private func modes() -> String {
        output("display-message -p -t \(session) '#{alternate_on} #{cursor_flag} #{mouse_any_flag}'")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func waitFor(_ seconds: Double = 20, _ done: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if done() { return true }
            usleep(100_000)
        }
        return false
    }

    /// Runs the UI with the crash hook set to `kind`; returns the pane once the shell is back.
    private func crash(_ kind: String) -> (pane: String, modesInUI: String, modesAfter: String) {
        session = "stepscope-crash-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(tmux("new-session -d -s \(session) -x 100 -y 30 \"env PS1='READY$ ' TERM=xterm-256color bash --norc --noprofile\""), 0)
        XCTAssertTrue(waitFor { output("capture-pane -p -t \(session)").contains("READY$") })
        // The Swift runtime's backtracer (which the handler hands the signal to) without its prompt.
        let command = "env SWIFT_BACKTRACE=interactive=no STEPSCOPE_TEST_CRASH=\(kind) \(TestSupport.binary) "
            + TestSupport.packageRoot + "/sample-traces/single; echo status=$?"
        tmux("send-keys -t \(session) '\(command)' Enter")
        var inUI = ""
        _ = waitFor { inUI = modes(); return inUI.hasPrefix("1") }
        var pane = ""
        _ = waitFor(60) {
            pane = output("capture-pane -p -S -200 -t \(session)")
            return pane.range(of: #"status=[0-9]+"#, options: .regularExpression) != nil
        }
        return (pane, inUI, modes())
    }

    func testTheTerminalIsRestoredAfterACrash() throws {
        // A Swift runtime failure (SIGILL/SIGTRAP), a bad pointer (SIGSEGV), abort (SIGABRT) and a
        // stack overflow (SIGSEGV on the alternate stack).
        for (kind, statuses) in [("trap", [132, 133]), ("segv", [139]), ("abort", [134]), ("overflow", [139])] {
            let r = crash(kind)
            XCTAssertEqual(r.modesInUI, "1 0 1", "\(kind): the UI was on the alternate screen, cursor hidden, mouse on")
            XCTAssertEqual(r.modesAfter, "0 1 0", "\(kind): normal screen, cursor visible, mouse off\n\(r.pane)")
            let status = r.pane.range(of: #"status=[0-9]+"#, options: .regularExpression).flatMap { Int(r.pane[$0].dropFirst(7)) }
            XCTAssertTrue(statuses.contains(status ?? -1), "\(kind): \(r.pane)")
            // Echo and line editing are back: typed text shows up.
            tmux("send-keys -t \(session) 'echo vis''ible' Enter")
            XCTAssertTrue(waitFor { output("capture-pane -p -t \(session)").contains("\nvisible") }, kind)
            tmux("kill-session -t \(session)")
            session = ""
        }
    }
}
