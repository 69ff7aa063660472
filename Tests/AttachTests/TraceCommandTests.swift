import Analysis
import Attach
import TestSupport
import TraceImport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `stepscope trace` end to end: against stand-ins for Kineto's client (no torch needed) and,
/// when torch is installed, against a real CPU training loop.
final class TraceCommandTests: XCTestCase {
    static let programs = TestSupport.packageRoot + "/Tests/AttachTests/Programs/"

    func python() throws -> String {
        guard let p = TestSupport.python3() else { throw XCTSkip("no python3 on PATH") }
        return p
    }

    /// Skips when @dynolog is held (a dynolog daemon, or another test run) on this machine.
    func requireFreeSocket() throws {
        if TestSupport.shellOutput("grep -q ' @dynolog@$' /proc/net/unix && echo held") == "held" {
            throw XCTSkip("@dynolog is held on this machine: skipping")
        }
    }

    func temporaryDirectory() -> String {
        let dir = TestSupport.temporaryPath("-dir")
        mkdir(dir, 0o755)
        return dir
    }

    func removeTree(_ dir: String) { _ = TestSupport.shellOutput("rm -rf '\(dir)'") }

    func testProcessWithoutTheHookGetsOneLine() throws {
        let target = try Spawned(["/bin/sleep", "30"], environment: [:], waitForReady: false)
        defer { target.kill() }
        let started = monotonicSeconds()
        let r = TestSupport.run(["trace", "--pid", "\(target.pid)"])
        XCTAssertLessThan(monotonicSeconds() - started, 1.0, "answers within a second")
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("was not started with KINETO_USE_DAEMON=1"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stepscope record --pid \(target.pid)"), r.stderr)
    }

    func testJobThatNeverPollsTimesOut() throws {
        try requireFreeSocket()
        let target = try Spawned(["/bin/sleep", "30"], environment: ["KINETO_USE_DAEMON": "1"], waitForReady: false)
        defer { target.kill() }
        let r = TestSupport.run(["trace", "--pid", "\(target.pid)", "--timeout", "1"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("no poll from process \(target.pid) within 1 s"), r.stderr)
        XCTAssertEqual(TestSupport.shellOutput("grep -c ' @dynolog@$' /proc/net/unix || true"), "0", "the socket is released")
    }

    /// A running dynolog holds @dynolog: stepscope says so and points at `dyno gputrace`.
    func testHeldSocketPointsAtDyno() throws {
        try requireFreeSocket()
        let dynolog = try DaemonSocket()
        defer { dynolog.close() }
        let target = try Spawned(["/bin/sleep", "30"], environment: ["KINETO_USE_DAEMON": "1"], waitForReady: false)
        defer { target.kill() }
        let r = TestSupport.run(["trace", "--pid", "\(target.pid)"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("@dynolog is held by another process"), r.stderr)
        XCTAssertTrue(r.stderr.contains("dyno gputrace --pids \(target.pid)"), r.stderr)
    }

    func testTraceOfAFakeClientWithThePidSuffix() throws {
        try requireFreeSocket()
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let client = try Spawned([try python(), Self.programs + "fake_kineto.py", "write", "0.2", dir],
                                 environment: ["KINETO_USE_DAEMON": "1", "KINETO_ONDEMAND_TRACE_DIR": dir])
        defer { client.kill() }
        let out = dir + "/out.json"
        let r = TestSupport.run(["trace", "--pid", "\(client.pid)", "--duration", "1.5", "--record-shapes", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = TestSupport.readFile(dir + "/\(client.pid).config").split(separator: "\n").map(String.init)
        XCTAssertEqual(config.prefix(2), ["ACTIVITIES_DURATION_MSECS=1500", "PROFILE_START_TIME=0"])
        XCTAssertTrue(config.contains { $0.hasPrefix("ACTIVITIES_LOG_FILE=\(dir)/stepscope-trace-") }, "\(config)")
        XCTAssertTrue(config.contains("PROFILE_REPORT_INPUT_SHAPES=true"))
        XCTAssertTrue(r.stderr.contains("trace written to \(out)"), r.stderr)
        XCTAssertTrue(r.stdout.contains("aten::mm"), r.stdout)
        XCTAssertTrue(r.stdout.contains("steps-inferred x4"), r.stdout)
        let a = Analyzer.analyze(try TraceLoader.load(path: out))
        XCTAssertEqual(a.steps.count, 4)
        XCTAssertTrue(Spawned.alive(client.pid), "the client keeps running")
    }

    func testGzipTraceKeepsItsFormat() throws {
        try requireFreeSocket()
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let client = try Spawned([try python(), Self.programs + "fake_kineto.py", "gzip", "0.2", dir],
                                 environment: ["KINETO_USE_DAEMON": "1", "KINETO_ONDEMAND_TRACE_DIR": dir])
        defer { client.kill() }
        let r = TestSupport.run(["trace", "--pid", "\(client.pid)", "-o", dir + "/out.json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(access(dir + "/out.json.gz", F_OK), 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("steps-inferred"), r.stdout)
    }

    func testProcessThatExitsBeforeWriting() throws {
        try requireFreeSocket()
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let client = try Spawned([try python(), Self.programs + "fake_kineto.py", "exit", "0.2", dir],
                                 environment: ["KINETO_USE_DAEMON": "1", "KINETO_ONDEMAND_TRACE_DIR": dir])
        defer { client.kill() }
        let r = TestSupport.run(["trace", "--pid", "\(client.pid)", "-o", dir + "/out.json"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("process \(client.pid) exited before Kineto wrote its trace"), r.stderr)
    }

    /// `--all` under a launcher: both ranks get one start time and the result is one 2-rank run.
    func testAllRanksOfALauncherShareOneWindow() throws {
        try requireFreeSocket()
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let launcher = try Spawned([try python(), Self.programs + "fake_launcher.py", "2", "write", "0.3", dir],
                                   environment: ["KINETO_ONDEMAND_TRACE_DIR": dir])
        defer { launcher.kill(group: true) }
        let out = dir + "/run"
        let r = TestSupport.run(["trace", "--pid", "\(launcher.pid)", "--all", "--duration", "1", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let configs = (TestSupport.shellOutput("cat '\(dir)'/*.config") ?? "").split(separator: "\n").filter { $0.hasPrefix("PROFILE_START_TIME=") }
        XCTAssertEqual(configs.count, 2, r.stderr)
        XCTAssertEqual(Set(configs).count, 1, "one window: \(configs)")
        XCTAssertNotEqual(configs.first, "PROFILE_START_TIME=0")
        let files = (TestSupport.shellOutput("ls '\(out)'") ?? "").split(separator: "\n")
        XCTAssertEqual(files.count, 2)
        XCTAssertTrue(files.first?.hasPrefix("stepscope-trace-rank0-") ?? false, "\(files)")
        XCTAssertTrue(files.last?.hasPrefix("stepscope-trace-rank1-") ?? false, "\(files)")
        XCTAssertTrue(r.stdout.contains("2 ranks"), r.stdout)
    }

    /// A real PyTorch CPU loop started with KINETO_USE_DAEMON=1: 2 s of trace with its operators,
    /// steps inferred from the optimizer, and the loop still training afterwards.
    func testTraceOfARealTorchLoop() throws {
        let python = try python()
        guard TestSupport.shellOutput("'\(python)' -c 'import torch' >/dev/null 2>&1 && echo ok") == "ok" else {
            throw XCTSkip("torch is not installed for \(python): skipping the PyTorch end-to-end trace")
        }
        try requireFreeSocket()
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let counter = dir + "/steps"
        let job = try Spawned([python, Self.programs + "train_loop.py", counter, "180"], environment: ["KINETO_USE_DAEMON": "1"])
        defer { job.kill() }
        let out = dir + "/trace.json"
        let r = TestSupport.run(["trace", "--pid", "\(job.pid)", "--duration", "2", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("aten::addmm"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Optimizer.step#SGD.step"), r.stdout)
        XCTAssertTrue(r.stdout.contains("steps-inferred"), r.stdout)
        let a = Analyzer.analyze(try TraceLoader.load(path: out))
        XCTAssertTrue(a.stepsInferred)
        XCTAssertGreaterThan(a.steps.count, 20)
        XCTAssertGreaterThan(a.steps.map(\.phases[.optimizer]).reduce(0, +), 0)
        let before = Int(TestSupport.readFile(counter)) ?? 0
        usleep(1_500_000)
        XCTAssertTrue(Spawned.alive(job.pid), "the job keeps running")
        XCTAssertGreaterThan(Int(TestSupport.readFile(counter)) ?? 0, before, "the job keeps training")
    }
}
