import Analysis
import Sampler
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// The data side of `stepscope top`, and its plain-text command.
final class LiveProfileTests: XCTestCase {
    /// Adds samples at `seconds` for thread tid with frames (name, file) outermost first.
    func add(_ p: SampledProfile, tid: Int32, at seconds: Double, _ frames: [(String, String)], active: Bool = true) {
        let t = p.thread(pid: 1, tid: tid, name: "t\(tid)")
        let ids = frames.map { p.frames.intern(kind: .python, name: p.strings.intern($0.0), file: p.strings.intern($0.1), line: 1) }
        p.addSample(time: Int64(seconds * 1e9), thread: t, frames: ids, active: active, holdsGIL: active)
    }

    func testWindowSharesFunctionsThreadsAndFlameGraph() {
        let live = LiveProfile(windowSeconds: 2)
        let p = SampledProfile(intervalNs: 10_000_000)
        let fwd = ("Module._call_impl", "/x/torch/nn/modules/module.py"), opt = ("Adam.step", "/x/torch/optim/adam.py")
        let loop = ("train", "/app/t.py"), leaf = ("matmul_py", "/app/t.py")
        // Old samples (t < 1 s) fall out of a 2 s window ending at 3 s.
        for k in 0..<10 { add(p, tid: 1, at: 0.05 * Double(k), [loop, opt]) }
        for k in 0..<30 { add(p, tid: 1, at: 1.0 + 0.05 * Double(k), [loop, fwd, leaf]) }
        for k in 0..<10 { add(p, tid: 1, at: 2.5 + 0.05 * Double(k), [loop, opt]) }
        for k in 0..<5 { add(p, tid: 2, at: 2.0 + 0.1 * Double(k), [("sleep_loop", "/app/s.py")], active: false) }
        p.rss.pid = [1, 1]; p.rss.time = [0, 2_900_000_000]; p.rss.value = [100, 200]
        live.absorb(p)
        XCTAssertEqual(p.samples.count, 0, "absorbed samples are discarded from the recording")
        XCTAssertEqual(live.sampleCount, 45)
        let shares = live.phaseShares
        XCTAssertEqual(shares[.forward] ?? 0, 0.75, accuracy: 1e-9, "thread 2 never runs and is left out")
        XCTAssertEqual(shares[.optimizer] ?? 0, 0.25, accuracy: 1e-9)
        let top = live.topFunctions(3)
        XCTAssertEqual(top.first?.name, "matmul_py")
        XCTAssertEqual(top.first?.location, "/app/t.py")
        XCTAssertEqual(top.first?.selfCount, 30)
        XCTAssertEqual(top.first?.totalCount, 30)
        XCTAssertEqual(top.first { $0.name == "train" }?.totalCount, 40)
        let threads = live.threads
        XCTAssertEqual(threads.map(\.tid), [1, 2])
        XCTAssertEqual(threads[1].active, false)
        XCTAssertEqual(threads[1].activeSamples, 0)
        XCTAssertEqual(live.rssHistory(pid: 1), [200])
        let flame = live.flameGraph()
        XCTAssertEqual(flame.count, 40)
        XCTAssertEqual(flame.children.map(\.name), ["train"])
        XCTAssertEqual(flame.children[0].children.map(\.name), ["Module._call_impl", "Adam.step"])
        XCTAssertEqual(flame.children[0].children.map(\.count), [30, 10])
        // Target strings reach the terminal escaped.
        add(p, tid: 1, at: 3.0, [("evil\u{1b}[2J", "/app/t.py")])
        live.absorb(p)
        XCTAssertFalse(live.text(title: "t").contains("\u{1b}"))
    }

    /// The summary says how long its samples cover: 1 s after 1 s of samples, not the window.
    func testSummarySaysTheCoveredDuration() {
        let live = LiveProfile(windowSeconds: 10)
        let p = SampledProfile(intervalNs: 10_000_000)
        for k in 0..<100 { add(p, tid: 1, at: 5 + 0.01 * Double(k), [("train", "/app/t.py")]) }
        live.absorb(p)
        XCTAssertEqual(live.coveredNs, 1_000_000_000)
        XCTAssertTrue(live.text(title: "t").hasPrefix("t — last 1.0 s, 100 samples\n"), live.text(title: "t"))
        for k in 0..<1500 { add(p, tid: 1, at: 6 + 0.01 * Double(k), [("train", "/app/t.py")]) }
        live.absorb(p)
        XCTAssertTrue(live.text(title: "t").hasPrefix("t — last 10.0 s, "), "a full window: \(live.text(title: "t").prefix(40))")
    }

    func testTopCommandPrintsTheRequestedRefreshes() throws {
        let target = try TestProcess([try Programs.python(), Programs.dir + "/hot.py", "60"])
        defer { target.kill() }
        let r = TestSupport.run(["top", "--pid", "\(target.pid)", "--iterations", "2", "--refresh", "0.5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").filter { $0.hasPrefix("stepscope top: pid") }.count, 2, r.stdout)
        XCTAssertTrue(r.stdout.contains("heavy_work"), r.stdout)
        XCTAssertTrue(r.stdout.contains("RSS \(target.pid)"), r.stdout)
        // `--once` after one refresh (1 s) covers about that second, not the 10 s window.
        let once = TestSupport.run(["top", "--pid", "\(target.pid)", "--once"])
        XCTAssertEqual(once.status, 0, once.stderr)
        XCTAssertTrue(once.stdout.contains(" — last 1.0 s, ") || once.stdout.contains(" — last 0.9 s, ")
                      || once.stdout.contains(" — last 1.1 s, "), once.stdout)
    }
}
