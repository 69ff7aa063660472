import Sampler
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A process started by a test: waits for its "ready" line, killed and reaped in teardown.
final class TestProcess {
    let pid: pid_t
    private var reaped = false

    /// Starts `argv` with stdout on a pipe and waits (up to 30 s) for a line "ready" (or, with
    /// `readyOnStderr`, for any line on stderr, where stepscope announces that it is sampling).
    init(_ argv: [String], readyOnStderr: Bool = false) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw XCTSkip("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], readyOnStderr ? 2 : 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var pid: pid_t = 0
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        posix_spawn_file_actions_destroy(&actions)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw XCTSkip("cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        var line: [UInt8] = []
        var byte: UInt8 = 0
        var pfd = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        while poll(&pfd, 1, 30_000) > 0, read(fds[0], &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") {
                if readyOnStderr || String(decoding: line, as: UTF8.self) == "ready" { break }
                line = []
            } else {
                line.append(byte)
            }
        }
        // The read end stays open until the process is reaped: later writes (a few lines) never hit EPIPE.
        drain = fds[0]
    }

    private var drain: Int32 = -1

    /// SIGKILLs and reaps the process (idempotent).
    func kill() {
        guard !reaped else { return }
        reaped = true
        Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        if drain >= 0 { close(drain); drain = -1 }
    }

    /// Waits for the process to exit by itself; its exit status.
    func wait() -> Int32 {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        reaped = true
        if drain >= 0 { close(drain); drain = -1 }
        return status
    }

    deinit { kill() }
}

enum Programs {
    static let dir = TestSupport.packageRoot + "/Tests/SamplerTests/Programs"

    /// Interpreters of CPython 3.10-3.13 found on this machine: the local `python3` (resolved
    /// through a pyenv shim) and pyenv's versions.
    static var pythons: [String] {
        var found: [String] = []
        var candidates: [String] = []
        if let local = TestSupport.shellOutput("python3 -c 'import sys; print(sys.executable)' 2>/dev/null") { candidates.append(local) }
        for minor in 10...13 {
            if let dirs = TestSupport.shellOutput("ls -d /root/.pyenv/versions/3.\(minor).*/bin/python3.\(minor) 2>/dev/null") {
                candidates += dirs.split(separator: "\n").map(String.init)
            }
        }
        for c in candidates where !c.isEmpty && access(c, X_OK) == 0 {
            let real = realpathString(c)
            if !found.map(realpathString).contains(real) { found.append(c) }
        }
        return found
    }

    /// The local interpreter, or a skip.
    static func python() throws -> String {
        guard let p = TestSupport.python3() else { throw XCTSkip("no python3 on PATH") }
        return p
    }

    static func realpathString(_ path: String) -> String {
        guard let r = realpath(path, nil) else { return path }
        defer { free(r) }
        return String(cString: r)
    }
}

/// Samples per frame name (innermost frame) and per innermost-or-any frame, for share checks.
extension SampledProfile {
    /// Samples of thread `tid` whose stack contains a frame named `name`.
    func samples(ofThread tid: Int32, containing name: String) -> Int {
        (0..<samples.count).filter { i in
            threads.tid[Int(samples.thread[i])] == tid && samples.stack[i] >= 0
                && stacks.frames(samples.stack[i]).contains { strings[frames.name[Int($0)]] == name }
        }.count
    }

    /// Samples of thread `tid`.
    func samples(ofThread tid: Int32) -> [Int] {
        (0..<samples.count).filter { threads.tid[Int(samples.thread[$0])] == tid }
    }
}
