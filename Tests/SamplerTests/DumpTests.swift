import Foundation
import Sampler
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `stepscope dump` on a live program with two named threads: names, states, GIL, stacks most
/// recent call first, the target left running; and a missing pid.
final class DumpTests: XCTestCase {
    /// The lines of the block of the thread named `name` (its header first), up to the next blank line.
    func block(_ text: String, thread name: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("Thread ") && $0.contains("\"\(name)\"") }) else { return [] }
        return Array(lines[start...].prefix { !$0.isEmpty })
    }

    func checkLeftRunning(_ pid: Int32) {
        XCTAssertEqual(ProcFS.tracer(of: pid), 0, "not traced after the dump")
        for tid in ProcFS.threads(pid) {
            let state = ProcFS.threadState(pid, tid)
            XCTAssertTrue(state != .stopped && state != .tracingStop, "thread \(tid) left \(String(describing: state))")
        }
    }

    func testDumpShowsEveryThreadWithNameStateAndStack() throws {
        let target = try TestProcess([try Programs.python(), Programs.dir + "/named_threads.py", "60"])
        defer { target.kill() }
        let r = TestSupport.run(["dump", "--pid", "\(target.pid)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = r.stdout
        XCTAssertTrue(text.hasPrefix("Process \(target.pid): "), text)
        XCTAssertTrue(text.contains("3 threads; stacks most recent call first"), text)
        let loader = block(text, thread: "loader-0"), reducer = block(text, thread: "reducer-1")
        XCTAssertTrue(loader.first?.contains("(sleeping)") == true, "\(loader)")
        XCTAssertTrue(reducer.first?.contains("(running") == true, "\(reducer)")
        // Innermost first: the waiting function above its caller, above the thread's entry.
        let names = loader.dropFirst().map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? "" }
        let wait = try XCTUnwrap(names.firstIndex(of: "wait_for_batch"), "\(loader)")
        let caller = try XCTUnwrap(names.firstIndex(of: "loader"), "\(loader)")
        XCTAssertLessThan(wait, caller)
        XCTAssertTrue(reducer.contains { $0.contains("reduce_gradients (") && $0.contains("named_threads.py:") }, "\(reducer)")
        // The main thread joins; some thread holds the GIL or none does, but never two.
        XCTAssertTrue(text.contains("join"), text)
        XCTAssertLessThanOrEqual(text.components(separatedBy: "holds the GIL").count - 1, 1, text)
        checkLeftRunning(target.pid)

        let json = TestSupport.run(["dump", "--pid", "\(target.pid)", "--format", "json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(doc["schema"] as? String, "stepscope.dump")
        let threads = try XCTUnwrap(doc["threads"] as? [[String: Any]])
        XCTAssertEqual(Set(threads.compactMap { $0["name"] as? String }).intersection(["loader-0", "reducer-1"]).count, 2)
        let first = try XCTUnwrap(threads.first { $0["name"] as? String == "loader-0" }?["frames"] as? [[String: Any]])
        XCTAssertEqual(first.first?["name"] as? String == "wait_for_batch" || first.contains { $0["name"] as? String == "wait_for_batch" }, true)
    }

    func testNativeDumpStopsThreadsOnlyBriefly() throws {
        let target = try TestProcess([try Programs.python(), Programs.dir + "/named_threads.py", "60"])
        defer { target.kill() }
        let r = TestSupport.run(["dump", "--pid", "\(target.pid)", "--native"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let reducer = block(r.stdout, thread: "reducer-1")
        XCTAssertTrue(reducer.contains { $0.contains("reduce_gradients (") }, "\(reducer)")
        XCTAssertTrue(r.stdout.contains("(libc.so"), "native frames name their module: \(r.stdout)")
        checkLeftRunning(target.pid)
        // The target still makes progress: its spinning thread keeps using CPU.
        let before = cpuTicks(target.pid)
        usleep(300_000)
        XCTAssertGreaterThan(cpuTicks(target.pid), before)
    }

    func testMissingProcessIsOneLineExitTwo() {
        let r = TestSupport.run(["dump", "--pid", "999999999"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("no process 999999999"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    /// utime + stime of `pid` from /proc/PID/stat.
    func cpuTicks(_ pid: Int32) -> Int {
        guard let text = ProcFS.text("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return -1 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}
