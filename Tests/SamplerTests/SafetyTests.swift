import CUnwind
import Sampler
import TestSupport
import TraceImport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The target is never left stopped: SIGKILL of stepscope, signals, exiting targets, other tracers.
final class SafetyTests: XCTestCase {
    /// Field `n` (1-based, counted after the command name) of /proc/PID/stat.
    func statField(_ pid: Int32, _ n: Int) -> String? {
        guard let text = ProcFS.text("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return n - 3 < fields.count ? String(fields[n - 3]) : nil
    }

    /// Asserts that `pid` is not stopped or traced and keeps using CPU.
    func assertRunsFreely(_ pid: Int32, file: StaticString = #filePath, line: UInt = #line) {
        for tid in ProcFS.threads(pid) {
            let state = ProcFS.threadState(pid, tid)
            XCTAssertNotEqual(state, .stopped, "thread \(tid) stopped", file: file, line: line)
            XCTAssertNotEqual(state, .tracingStop, "thread \(tid) in tracing stop", file: file, line: line)
        }
        XCTAssertEqual(ProcFS.tracer(of: pid), 0, "still traced", file: file, line: line)
        let before = Int(statField(pid, 14) ?? "0") ?? 0
        usleep(400_000)
        let after = Int(statField(pid, 14) ?? "0") ?? 0
        XCTAssertGreaterThan(after, before, "the target made no progress", file: file, line: line)
    }

    func startTarget() throws -> TestProcess {
        try TestProcess([try Programs.python(), Programs.dir + "/hot.py", "60"])
    }

    func testSIGKILLOfStepscopeMidSampleLeavesTargetRunning() throws {
        let target = try startTarget()
        defer { target.kill() }
        for _ in 0..<3 {
            let recorder = try TestProcess([TestSupport.binary, "record", "--pid", "\(target.pid)", "--native", "--rate", "1000",
                                            "-o", "/dev/null"], readyOnStderr: true)
            usleep(300_000)
            XCTAssertNotEqual(ProcFS.tracer(of: target.pid), 0, "stepscope should have seized the target")
            recorder.kill()
            assertRunsFreely(target.pid)
        }
    }

    func testSignalsEndTheRecordingWithOutputAndDetach() throws {
        let target = try startTarget()
        defer { target.kill() }
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            let out = TestSupport.temporaryPath(".json")
            defer { unlink(out) }
            let recorder = try TestProcess([TestSupport.binary, "record", "--pid", "\(target.pid)", "--native", "-o", out],
                                           readyOnStderr: true)
            usleep(500_000)
            kill(recorder.pid, sig)
            let status = recorder.wait()
            XCTAssertEqual(status, 0, "signal \(sig): exit status \(status)")
            assertRunsFreely(target.pid)
            let trace = try TraceLoader.load(bytes: Array(TestSupport.readFile(out).utf8), name: out)
            XCTAssertGreaterThan(trace.slices.count, 0, "signal \(sig): empty output")
        }
    }

    func testTargetExitingDuringRecordingLeavesValidOutput() throws {
        for (program, native) in [("hot.py", false), ("hot.py", true), ("threads_exit.py", false), ("threads_exit.py", true)] {
            let target = try TestProcess([try Programs.python(), Programs.dir + "/" + program, "1"])
            defer { target.kill() }
            let out = TestSupport.temporaryPath(".json")
            defer { unlink(out) }
            // The target is this test's child: it stays a zombie until reaped, which counts as exited.
            let r = TestSupport.run(["record", "--pid", "\(target.pid)", "--duration", "30", "-o", out] + (native ? ["--native"] : []))
            XCTAssertEqual(r.status, 0, "\(program) native \(native): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("exited: \(target.pid)"), r.stderr)
            let trace = try TraceLoader.load(bytes: Array(TestSupport.readFile(out).utf8), name: out)
            XCTAssertGreaterThan(trace.slices.count, 0)
        }
    }

    func testAnotherTracerGivesOneLineErrorWithTheFix() throws {
        let target = try startTarget()
        defer { target.kill() }
        let seized = cunwind_ptrace_seize(target.pid, 0)
        if seized == -EPERM { throw XCTSkip("ptrace is not permitted here") }
        XCTAssertEqual(seized, 0)
        defer { _ = cunwind_ptrace_detach(target.pid, 0) }
        let r = TestSupport.run(["record", "--pid", "\(target.pid)", "--native", "--duration", "0.2", "-o", "/dev/null"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("already traced by process \(getpid())"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
    }
}
