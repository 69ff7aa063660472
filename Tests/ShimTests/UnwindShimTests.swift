import CUnwind
import Glibc
import XCTest

final class UnwindShimTests: XCTestCase {
    func testRemoteAddressSpaceLifecycle() throws {
        let space = try XCTUnwrap(cunwind_remote_space_create())
        cunwind_remote_space_destroy(space)
    }

    func testLocalBacktraceCountsCallerFrames() {
        var ips = [UInt64](repeating: 0, count: 256)
        let count = cunwind_local_backtrace(&ips, Int32(ips.count))
        // This test method, XCTest's invocation machinery and the thread's start frames at least.
        XCTAssertGreaterThan(count, 2, count < 0 ? String(cString: cunwind_strerror(count)) : "")
        XCTAssertFalse(ips.prefix(Int(max(count, 0))).contains(0))
        XCTAssertEqual(String(cString: cunwind_strerror(-Int32(UNW_EBADFRAME.rawValue))),
                       String(cString: cunwind_strerror(Int32(UNW_EBADFRAME.rawValue))))
    }

    /// Seizes a sleeping child, stops it, unwinds it remotely and lets it go, as the sampler will.
    func testPtraceStopAndRemoteUnwindOfChild() throws {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/sleep"), strdup("5"), nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        let spawned = posix_spawn(&pid, "/bin/sleep", nil, nil, argv, envp)
        guard spawned == 0 else { return XCTFail("posix_spawn /bin/sleep: \(String(cString: strerror(spawned)))") }
        defer {
            kill(pid, SIGKILL)
            var reaped = cunwind_wait_status()
            XCTAssertEqual(cunwind_waitpid(pid, 0, &reaped), pid)
            XCTAssertEqual(reaped.kind, CUNWIND_WAIT_KILLED)
            XCTAssertEqual(reaped.value, SIGKILL)
        }
        XCTAssertTrue(waitUntilSleeping(pid), "child never reached its sleep")

        let seized = cunwind_ptrace_seize(pid, 0)
        if seized == -EPERM { throw XCTSkip("ptrace is not permitted here (yama ptrace_scope 3 or seccomp)") }
        XCTAssertEqual(seized, 0)
        // Runs before the kill above: the child is never left stopped or traced.
        defer { XCTAssertEqual(cunwind_ptrace_detach(pid, 0), 0) }
        XCTAssertEqual(cunwind_ptrace_interrupt(pid), 0)
        var status = cunwind_wait_status()
        XCTAssertEqual(cunwind_waitpid(pid, 0, &status), pid)
        XCTAssertEqual(status.kind, CUNWIND_WAIT_STOPPED)
        XCTAssertEqual(status.value, SIGTRAP)
        XCTAssertEqual(status.event, Int32(PTRACE_EVENT_STOP.rawValue))
        var info = siginfo_t()
        XCTAssertEqual(cunwind_ptrace_getsiginfo(pid, &info), 0)
        XCTAssertEqual(info.si_signo, SIGTRAP)

        let space = try XCTUnwrap(cunwind_remote_space_create())
        defer { cunwind_remote_space_destroy(space) }
        let upt = try XCTUnwrap(cunwind_upt_create(pid))
        defer { cunwind_upt_destroy(upt) }

        var ips = [UInt64](repeating: 0, count: 64)
        var sps = [UInt64](repeating: 0, count: 64)
        let count = cunwind_remote_backtrace(space, upt, &ips, &sps, Int32(ips.count))
        XCTAssertGreaterThanOrEqual(count, 1, count < 0 ? String(cString: cunwind_strerror(count)) : "")

        var cursor = unw_cursor_t()
        XCTAssertEqual(cunwind_init_remote(&cursor, space, upt), 0)
        var names: [String] = []
        var frame = 0
        repeat {
            var ip: UInt64 = 0
            var sp: UInt64 = 0
            XCTAssertEqual(cunwind_get_ip_sp(&cursor, &ip, &sp), 0)
            if frame < count {
                XCTAssertEqual(ip, ips[frame])
                XCTAssertEqual(sp, sps[frame])
            }
            var name = [CChar](repeating: 0, count: 256)
            var offset: UInt64 = 0
            if cunwind_get_proc_name(&cursor, &name, name.count, &offset) == 0 {
                names.append(name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            }
            frame += 1
        } while cunwind_step(&cursor) > 0 && frame < ips.count
        XCTAssertEqual(frame, Int(count))
        XCTAssertTrue(names.contains { $0.contains("sleep") }, "frames: \(names)")

        var word: UInt64 = 0
        XCTAssertEqual(cunwind_ptrace_peekdata(pid, sps[0], &word), 0)
        XCTAssertEqual(cunwind_ptrace_peekdata(pid, 0, &word), -EIO)

        // Resume and stop again without detaching, as a sampler that keeps threads seized does.
        XCTAssertEqual(cunwind_ptrace_cont(pid, 0), 0)
        XCTAssertEqual(cunwind_ptrace_interrupt(pid), 0)
        XCTAssertEqual(cunwind_waitpid(pid, 0, &status), pid)
        XCTAssertEqual(status.kind, CUNWIND_WAIT_STOPPED)
        XCTAssertEqual(status.event, Int32(PTRACE_EVENT_STOP.rawValue))
    }

    func testPtraceErrorsAreNegativeErrno() {
        var status = cunwind_wait_status()
        XCTAssertEqual(cunwind_ptrace_interrupt(getpid()), -ESRCH)  // not a tracee of ours
        XCTAssertEqual(cunwind_waitpid(getpid(), WNOHANG, &status), -ECHILD)
    }

    /// Waits up to 5 s for pid to block in clock_nanosleep (x86_64 syscall 230).
    private func waitUntilSleeping(_ pid: pid_t) -> Bool {
        for _ in 0..<500 {
            let syscall = readProcFile("/proc/\(pid)/syscall")
            if syscall?.hasPrefix("230 ") == true { return true }
            usleep(10_000)
        }
        return false
    }
}
