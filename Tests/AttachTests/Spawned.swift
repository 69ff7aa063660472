import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A process started by a test with extra environment variables (KINETO_USE_DAEMON removed
/// unless given): waits for its "ready" line, killed and reaped at the end.
final class Spawned {
    let pid: pid_t
    private var reaped = false
    private var stdout: Int32 = -1

    init(_ argv: [String], environment: [String: String], waitForReady: Bool = true) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw XCTSkip("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var env: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if !s.hasPrefix("KINETO_") { env.append(s) }
            p += 1
        }
        env += environment.map { "\($0.key)=\($0.value)" }
        let cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        posix_spawn_file_actions_destroy(&actions)
        posix_spawnattr_destroy(&attributes)
        close(fds[1])
        guard rc == 0 else {
            close(fds[0])
            throw XCTSkip("cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        stdout = fds[0]
        guard waitForReady else { return }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        var pfd = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        while poll(&pfd, 1, 60_000) > 0, read(fds[0], &byte, 1) == 1 {
            if byte == UInt8(ascii: "\n") {
                if String(decoding: line, as: UTF8.self) == "ready" { return }
                line = []
            } else {
                line.append(byte)
            }
        }
        kill()
        throw XCTSkip("\(argv.joined(separator: " ")) did not get ready")
    }

    /// SIGKILLs the process (with `group`, its process group: a launcher's children too) and reaps it.
    func kill(group: Bool = false) {
        guard !reaped else { return }
        reaped = true
        Glibc.kill(group ? -pid : pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        if stdout >= 0 { close(stdout); stdout = -1 }
    }

    deinit { kill(group: true) }

    /// Whether `pid` runs (not a zombie).
    static func alive(_ pid: pid_t) -> Bool {
        guard let stat = TestSupport.shellOutput("cat /proc/\(pid)/stat 2>/dev/null") else { return false }
        guard let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
}
