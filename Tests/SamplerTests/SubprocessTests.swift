import Sampler
import TestSupport
import TraceImport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `--subprocesses` and the RSS counter track.
final class SubprocessTests: XCTestCase {
    func testChildrenAreFollowedWithTheirOwnRSS() throws {
        let target = try TestProcess([try Programs.python(), Programs.dir + "/workers.py", "60"])
        let children = ProcFS.children(target.pid)
        defer {
            for child in children { kill(child, SIGKILL); var s: Int32 = 0; waitpid(child, &s, WNOHANG) }
            target.kill()
        }
        XCTAssertEqual(children.count, 2)
        var options = SamplerOptions()
        options.duration = 2.5
        options.subprocesses = true
        let session = try SamplingSession(pid: target.pid, options: options)
        session.run()
        let p = session.profile
        XCTAssertEqual(Set(p.processes.map(\.pid)), Set([target.pid] + children))
        for child in children {
            let samples = (0..<p.samples.count).filter { p.threads.pid[Int(p.samples.thread[$0])] == child }
            XCTAssertGreaterThan(samples.count, 20, "child \(child)")
            let inWorker = samples.filter { i in
                p.samples.stack[i] >= 0 && p.stacks.frames(p.samples.stack[i]).contains { p.strings[p.frames.name[Int($0)]] == "worker_loop" }
            }
            XCTAssertGreaterThan(inWorker.count, samples.count * 8 / 10)
            XCTAssertGreaterThan((0..<p.rss.count).filter { p.rss.pid[$0] == child }.count, 5)
        }
        // The parent never runs worker_loop.
        XCTAssertEqual(p.samples(ofThread: target.pid, containing: "worker_loop"), 0)
        XCTAssertGreaterThan(p.samples(ofThread: target.pid, containing: "parent_loop"), 20)
        // The Chrome trace carries one RSS counter per process, read back by the importer.
        let trace = try TraceLoader.load(bytes: Array(ProfileWriter(profile: p).chrome().utf8), name: "t.json")
        XCTAssertGreaterThan(trace.counters.count, 15)
    }
}
