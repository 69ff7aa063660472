import Foundation
import TestSupport
import XCTest

/// The terminal UI end to end: the binary in a tmux pane of fixed size, driven by keys.
final class TUITests: XCTestCase {
    private var session = ""

    override func setUpWithError() throws {
        guard system("command -v tmux >/dev/null 2>&1") == 0 else {
            print("TUITests: tmux is not installed (scripts/setup.sh installs it); skipping")
            throw XCTSkip("tmux is not installed")
        }
        session = "stepscope-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    override func tearDown() {
        if !session.isEmpty { _ = tmux("kill-session -t \(session)") }
        super.tearDown()
    }

    @discardableResult
    private func tmux(_ args: String) -> Int32 { system("tmux -L \(session) \(args) >/dev/null 2>&1") }

    private func capture() -> String {
        let path = TestSupport.temporaryPath(".txt")
        defer { unlink(path) }
        _ = system("tmux -L \(session) capture-pane -p -t \(session) > \(path) 2>/dev/null")
        return TestSupport.readFile(path)
    }

    /// Waits until the pane shows `text` (up to `seconds`); returns the last capture.
    private func waitFor(_ text: String, seconds: Double = 20) -> String {
        var pane = ""
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            pane = capture()
            if pane.contains(text) { return pane }
            usleep(100_000)
        }
        return pane
    }

    private func keys(_ k: String) { tmux("send-keys -t \(session) \(k)") }

    /// Waits until the shell prompt is the pane's last line again; returns the last capture.
    private func waitForPrompt(seconds: Double = 10) -> String {
        var pane = ""
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            pane = capture()
            if pane.split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }) == "READY$" { return pane }
            usleep(100_000)
        }
        return pane
    }

    /// A tmux session of 100x30 running a plain shell with the prompt `READY$ `.
    private func startShell() {
        XCTAssertEqual(tmux("new-session -d -s \(session) -x 100 -y 30 \"env PS1='READY$ ' TERM=xterm-256color bash --norc --noprofile\""), 0)
        XCTAssertTrue(waitForPrompt().contains("READY$"))
    }

    /// Starts the shell and runs `stepscope ARGS; echo status=$?` in it (`env` for a changed environment).
    private func launch(_ args: String, env: String = "") {
        startShell()
        keys("'\(env)\(TestSupport.binary) \(args); echo status=$?' Enter")
    }

    func testViewsAppearAndQuitRestoresTheShell() throws {
        launch(TestSupport.packageRoot + "/sample-traces/ddp2_straggler")
        var pane = waitFor("1 Overview")
        XCTAssertTrue(pane.contains("Steps of rank 0 (5): distribution"), pane)
        XCTAssertTrue(pane.contains("ProfilerStep#4"), pane)
        keys("2")
        pane = waitFor("CPU time │ all steps")
        XCTAssertTrue(pane.contains("gloo:all_reduce"), pane)
        keys("Tab")
        pane = waitFor("╷0 ns")
        XCTAssertTrue(pane.contains("r1 "), pane)
        keys("'?'")
        pane = waitFor("keys: Timeline")
        XCTAssertTrue(pane.contains("zoom in, out around the cursor"), pane)
        keys("x")
        keys("6")
        pane = waitFor("Wait per rank and step")
        XCTAssertTrue(pane.contains("all_reduce"), pane)
        keys("7")  // a CPU-only run: the kernel summary says so
        pane = waitFor("no GPU kernels in this rank")
        XCTAssertTrue(pane.contains("7 Kernels"), pane)
        keys("q")
        pane = waitForPrompt()
        // The normal screen is back: the shell prompt, the command and its status, no UI left over.
        XCTAssertFalse(pane.contains("1 Overview"), pane)
        XCTAssertTrue(pane.contains("READY$ " + TestSupport.binary), pane)
        XCTAssertTrue(pane.contains("status=0"), pane)
    }

    /// A `with_stack` trace: the flame graph nests operators under the Python frames that called
    /// them, and `f` hides the frames (the selected operator stays selected).
    func testFlameShowsPythonFramesAndHidesThem() throws {
        launch(TestSupport.packageRoot + "/sample-traces/single")
        _ = waitFor("1 Overview")
        keys("2")
        _ = waitFor("Python frames + operators (f)")
        // The header can be drawn before the rows below it: wait for the deepest frame checked.
        var pane = waitFor("_tensor.py:566 backward")
        XCTAssertTrue(pane.contains("Python frames + operators (f)"), pane)
        XCTAssertTrue(pane.contains("make_sample_traces.py:341 <module>"), pane)
        XCTAssertTrue(pane.contains("_tensor.py:566 backward"), pane)
        keys("/aten::mm Enter")
        pane = waitFor("/aten::mm: ")
        XCTAssertTrue(pane.split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty })?.hasPrefix(" aten::mm ") == true, pane)
        keys("f")
        pane = waitFor("operators only (f)")
        XCTAssertFalse(pane.contains("<module>"), pane)
        XCTAssertTrue(pane.contains(" aten::mm "), pane)
        keys("q")
        XCTAssertTrue(waitFor("status=0").contains("status=0"))
    }

    func testDiffOpensTheDiffView() throws {
        let run = TestSupport.packageRoot + "/sample-traces/single"
        launch("diff \(run) \(run)")
        let pane = waitFor("Differential flame graph")
        XCTAssertTrue(pane.contains("1 Diff"), pane)
        XCTAssertTrue(pane.contains("step time"), pane)
        keys("q")
        // Three steps a side cannot be decided: inconclusive, which exits 0 by default.
        XCTAssertTrue(waitFor("status=0").contains("status=0"))
        XCTAssertFalse(capture().contains("Differential flame graph"))
    }

    func testInterruptRestoresTheTerminal() throws {
        launch(TestSupport.packageRoot + "/sample-traces/single")
        XCTAssertTrue(waitFor("1 Overview").contains("1 Overview"))
        keys("C-c")
        let pane = waitForPrompt()  // (bash drops the rest of a line whose command died of SIGINT)
        XCTAssertFalse(pane.contains("1 Overview"), pane)
        // Echo is back on: typed text shows up.
        keys("'echo visible' Enter")
        XCTAssertTrue(waitFor("visible\nREADY$").contains("echo visible"))
    }

    func testTerminateRestoresTheTerminal() throws {
        launch(TestSupport.packageRoot + "/sample-traces/single")
        XCTAssertTrue(waitFor("1 Overview").contains("1 Overview"))
        // The UI is the shell's child: SIGTERM it by its pid.
        let pids = TestSupport.temporaryPath(".txt")
        defer { unlink(pids) }
        XCTAssertEqual(system("pgrep -P $(tmux -L \(session) list-panes -t \(session) -F '#{pane_pid}') > \(pids)"), 0)
        let pid = try XCTUnwrap(Int32(TestSupport.readFile(pids).split(separator: "\n").first ?? ""))
        XCTAssertEqual(kill(pid, SIGTERM), 0)
        let pane = waitFor("status=143")
        XCTAssertTrue(pane.contains("status=143"), pane)  // 128 + SIGTERM: the signal was re-raised
        XCTAssertFalse(pane.contains("1 Overview"), pane)
    }

    func testUnknownTerminalPrintsTheReport() throws {
        launch(TestSupport.packageRoot + "/sample-traces/single", env: "TERM=no-such-terminal ")
        // The end of the text report (its head has scrolled away), not the UI.
        let pane = waitFor("status=0")
        XCTAssertTrue(pane.contains("status=0"), pane)
        XCTAssertTrue(pane.contains("aten::"), pane)
        XCTAssertFalse(pane.contains("1 Overview"), pane)
    }

    func testLoadErrorLeavesOneLineAndAFreshPrompt() throws {
        let bad = TestSupport.temporaryPath(".json")
        TestSupport.writeFile(bad, Array("{\"traceEvents\": [{\"ph\": \"X\",, }]}".utf8))
        defer { unlink(bad) }
        launch(bad)
        let pane = waitFor("status=2")
        XCTAssertTrue(pane.contains("stepscope: error: \(bad)"), pane)
        XCTAssertTrue(pane.contains("status=2"), pane)
    }

    func testTopShowsTheLiveViewsAndLeavesTheTargetRunning() throws {
        // The real interpreter (python3 may be a pyenv shim), running a program with known hot functions.
        let exe = TestSupport.temporaryPath(".txt")
        defer { unlink(exe) }
        guard system("python3 -c 'import sys; print(sys.executable)' > \(exe) 2>/dev/null") == 0 else {
            print("TUITests: python3 is not available; skipping the top test")
            throw XCTSkip("python3 is not available")
        }
        let target = Process()
        target.executableURL = URL(fileURLWithPath: TestSupport.readFile(exe).trimmingCharacters(in: .whitespacesAndNewlines))
        target.arguments = [TestSupport.packageRoot + "/Tests/SamplerTests/Programs/hot.py", "60"]
        target.standardOutput = FileHandle.nullDevice
        try target.run()
        defer { target.terminate() }
        usleep(300_000)
        launch("top --pid \(target.processIdentifier) --refresh 0.3")
        var pane = waitFor("heavy_work")
        XCTAssertTrue(pane.contains("1 Live") && pane.contains("2 Flame"), pane)
        XCTAssertTrue(pane.contains("Threads") && pane.contains("running"), pane)
        XCTAssertTrue(pane.contains("samples in "), pane)
        keys("2")
        pane = waitFor("100.0% │ ")
        XCTAssertTrue(pane.contains("heavy_work") && !pane.contains("Threads"), pane)
        keys("q")
        pane = waitFor("status=0")
        XCTAssertTrue(pane.contains("status=0"), pane)
        XCTAssertFalse(pane.contains("1 Live"), pane)
        // The target was never stopped and still runs.
        let state = try String(contentsOfFile: "/proc/\(target.processIdentifier)/stat", encoding: .utf8)
        let fields = state.split(separator: ")").last?.split(separator: " ") ?? []
        XCTAssertTrue(["R", "S"].contains(fields.first.map(String.init) ?? ""), state)
        XCTAssertTrue(target.isRunning)
    }
}
