import Analysis
import Sampler
import TestSupport
import TraceImport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Samples real interpreters running programs whose hot functions and phases are known.
final class LiveSamplingTests: XCTestCase {
    func record(_ pid: Int32, seconds: Double, native: Bool = false, rate: Double = 100) throws -> SamplingSession {
        var options = SamplerOptions()
        options.rate = rate
        options.duration = seconds
        options.native = native
        let session = try SamplingSession(pid: pid, options: options)
        session.run()
        return session
    }

    /// Line numbers of the lines of `function` in `file` (the `def` line excluded).
    func bodyLines(_ file: String, _ function: String) -> ClosedRange<Int> {
        let lines = TestSupport.readFile(file).split(separator: "\n", omittingEmptySubsequences: false)
        let def = lines.firstIndex { $0.hasPrefix("def \(function)(") }!
        var end = def + 1
        while end + 1 < lines.count && (lines[end + 1].hasPrefix(" ") || lines[end + 1].isEmpty) { end += 1 }
        while lines[end].isEmpty { end -= 1 }
        return (def + 2)...(end + 1)
    }

    /// Every installed CPython 3.10-3.13: the heavy function gets about three quarters of the
    /// busy samples (it runs 3x the iterations), lines fall in its body, and the sleeping
    /// thread is idle.
    func testHotFunctionSharesOnEveryInstalledPython() throws {
        let pythons = Programs.pythons
        if pythons.isEmpty { throw XCTSkip("no CPython 3.10-3.13 found") }
        let file = Programs.dir + "/hot.py"
        let heavyLines = bodyLines(file, "heavy_work")
        for python in pythons {
            let target = try TestProcess([python, file, "60"])
            defer { target.kill() }
            let session = try record(target.pid, seconds: 1.5)
            let p = session.profile
            let heavy = p.samples(ofThread: target.pid, containing: "heavy_work")
            let light = p.samples(ofThread: target.pid, containing: "light_work")
            XCTAssertGreaterThan(heavy + light, 60, "\(python): too few samples")
            let share = Double(heavy) / Double(max(heavy + light, 1))
            XCTAssertEqual(share, 0.75, accuracy: 0.15, "\(python): heavy_work share \(share)")
            // Innermost frames inside heavy_work are on its body's lines.
            for i in p.samples(ofThread: target.pid) where p.samples.stack[i] >= 0 {
                let f = Int(p.stacks.frame[Int(p.samples.stack[i])])
                if p.strings[p.frames.name[f]] == "heavy_work" {
                    XCTAssertTrue(heavyLines.contains(Int(p.frames.line[f])), "\(python): line \(p.frames.line[f])")
                }
            }
            // The sleeper thread (found by its frame) is idle most of the time; the main thread holds the GIL mostly.
            let attributor = Attributor(profile: p)
            let sleeperThreads = Set((0..<p.samples.count).filter { i in
                p.samples.stack[i] >= 0 && p.stacks.frames(p.samples.stack[i]).contains { p.strings[p.frames.name[Int($0)]] == "sleeper" }
            }.map { p.samples.thread[$0] })
            XCTAssertEqual(sleeperThreads.count, 1, python)
            let sleeperSamples = (0..<p.samples.count).filter { sleeperThreads.contains(p.samples.thread[$0]) }
            let idle = sleeperSamples.filter { attributor.phase(sample: $0) == .idle }.count
            // Not all: each 50 ms wake-up waits up to the 5 ms GIL switch interval for the busy main
            // thread, runnable, and on a loaded machine also for a core (0.79 seen with load 8 on 2 cores).
            XCTAssertGreaterThan(Double(idle), 0.6 * Double(sleeperSamples.count), python)
            let main = p.samples(ofThread: target.pid)
            XCTAssertGreaterThan(Double(main.filter { p.samples.holdsGIL[$0] }.count), 0.5 * Double(main.count), python)
            XCTAssertEqual(session.stats.dropped, 0, python)
        }
    }

    /// The stand-in training loop: phases from frames in the spun proportions (1:4:3:2), and the
    /// Chrome trace read back by the importer gives the same shares as the sampler's attribution.
    func testPhasesFromFramesAndReportConsistency() throws {
        let target = try TestProcess([try Programs.python(), Programs.dir + "/phases.py", "60"])
        defer { target.kill() }
        // Its steps last 20-50 ms (by machine load): 400 Hz resolves them (100 Hz may not, and
        // then one step spans the recording, see testStepsOfALiveLoopAtTheDefaultRate).
        let session = try record(target.pid, seconds: 2.5, rate: 400)
        let p = session.profile
        let attributor = Attributor(profile: p)
        let main = p.samples(ofThread: target.pid)
        var counts: [Phase: Int] = [:]
        for i in main { counts[attributor.phase(sample: i), default: 0] += 1 }
        let total = Double(main.count)
        XCTAssertGreaterThan(main.count, 150)
        let expected: [Phase: Double] = [.data: 0.1, .forward: 0.4, .backward: 0.3, .optimizer: 0.2]
        for (phase, share) in expected {
            XCTAssertEqual(Double(counts[phase, default: 0]) / total, share, accuracy: 0.1, "\(phase.name): \(counts)")
        }

        let json = ProfileWriter(profile: p).chrome()
        let trace = try TraceLoader.load(bytes: Array(json.utf8), name: "sampled.json")
        let analysis = Analyzer.analyze(trace)
        XCTAssertGreaterThan(analysis.steps.count, 10, "the loop frame's lines should delimit steps: \(ProfileWriter(profile: p).steps()?.warning ?? "")")
        XCTAssertEqual(analysis.steps.first?.name, "ProfilerStep#0")
        // Inside the steps, each sample lasts until the thread's next sample (at most five mean
        // intervals, the rest of a longer gap being idle): the report's phase times are those
        // durations summed by the sampler's phase.
        let first = analysis.steps.first!.start, last = analysis.steps.last!.start + analysis.steps.last!.dur
        var weighted = PhaseTimes()
        for (k, i) in main.enumerated() where k + 1 < main.count {
            let t = p.samples.time[i]
            guard t >= first && t < last else { continue }
            let next = p.samples.time[main[k + 1]], covered = min(next, t + 5 * p.intervalNs) - t
            weighted[attributor.phase(sample: i)] += covered
            weighted[.idle] += next - t - covered  // sampling fell behind: uncovered time is idle in the trace
        }
        let reported = analysis.phases
        for phase in Phase.allCases {
            let got = Double(reported[phase]) / Double(reported.total)
            XCTAssertEqual(got, Double(weighted[phase]) / Double(weighted.total), accuracy: 0.01, "\(phase.name) in the report")
        }
    }

    /// A live loop of 65 ms steps sampled at the default 100 Hz: about one step per iteration with
    /// the program's own median step time (it writes its step starts), no fake short steps.
    func testStepsOfALiveLoopAtTheDefaultRate() throws {
        let truthFile = TestSupport.temporaryPath(".txt")
        defer { unlink(truthFile) }
        let steps = 46
        let target = try TestProcess([try Programs.python(), Programs.dir + "/steps.py", "\(steps)", truthFile])
        defer { target.kill() }
        let session = try record(target.pid, seconds: 30)  // ends when the program exits
        let starts = TestSupport.readFile(truthFile).split(separator: "\n").compactMap { Int64($0) }
        XCTAssertEqual(starts.count, steps + 1)
        let truth = zip(starts, starts.dropFirst()).map { $1 - $0 }.sorted()
        let found = try XCTUnwrap(ProfileWriter(profile: session.profile).steps())
        if found.intervals.count == 1 {
            // Sampling fell far behind on a loaded machine: then the steps must not be invented.
            XCTAssertTrue(found.warning?.contains("--rate") == true, found.warning ?? "no warning")
            throw XCTSkip("sampling too slow here to resolve 65 ms steps: \(found.warning ?? "")")
        }
        // The first and last iterations are partial: steps - 2 whole steps at most.
        XCTAssertLessThanOrEqual(found.intervals.count, steps - 2)
        XCTAssertGreaterThanOrEqual(found.intervals.count, (steps - 2) * 8 / 10, found.warning ?? "")
        let durations = found.intervals.map { $0.upperBound - $0.lowerBound }.sorted()
        let median = Double(durations[durations.count / 2]), trueMedian = Double(truth[truth.count / 2])
        XCTAssertEqual(median / trueMedian, 1, accuracy: 0.15, "median \(median / 1e6) ms, the program's \(trueMedian / 1e6) ms")
        XCTAssertGreaterThan(Double(durations.first!), 0.4 * trueMedian, "no fake short steps")
    }

    /// `stepscope record` end to end: Chrome JSON that `stepscope report` reads; folded and
    /// speedscope outputs; a shim process followed to its Python child.
    func testRecordCommandOutputs() throws {
        let python = try Programs.python()
        let shim = TestSupport.temporaryPath(".sh")
        TestSupport.writeFile(shim, Array("#!/bin/bash\n\"\(python)\" \"\(Programs.dir)/phases.py\" 60\n".utf8))
        chmod(shim, 0o755)
        defer { unlink(shim) }
        let target = try TestProcess([shim])
        defer {
            for child in ProcFS.children(target.pid) { kill(child, SIGKILL) }
            target.kill()
        }
        let out = TestSupport.temporaryPath(".json")
        defer { unlink(out) }
        let r = TestSupport.run(["record", "--pid", "\(target.pid)", "--duration", "1.5", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("sampling its descendant"), r.stderr)
        let report = TestSupport.run(["report", out, "--format", "json"])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("\"forward\""), report.stdout)
        XCTAssertTrue(report.stdout.contains("ProfilerStep#"), String(report.stdout.prefix(400)))

        for (format, marker) in [("folded", "phases.py"), ("speedscope", "\"type\":\"sampled\"")] {
            let file = TestSupport.temporaryPath("." + format)
            defer { unlink(file) }
            let r = TestSupport.run(["record", "--pid", "\(target.pid)", "--duration", "0.5", "--format", format, "-o", file])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(TestSupport.readFile(file).contains(marker), format)
        }
    }

    func testLaunchModeFollowsThePythonChildAndStopsAtExit() throws {
        let python = try Programs.python()
        let out = TestSupport.temporaryPath(".folded")
        defer { unlink(out) }
        let r = TestSupport.run(["record", "--format", "folded", "-o", out, "--", "/bin/bash", "-c",
                                 "\"\(python)\" \"\(Programs.dir)/hot.py\" 1.5 >/dev/null"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(TestSupport.readFile(out).contains("heavy_work"))
    }

    /// Launch mode: a slow import under torch/optim is startup, not optimizer, in the written
    /// trace's report; the optimizer that runs afterwards is still optimizer.
    func testLaunchModeCountsImportsAsStartup() throws {
        let python = try Programs.python()
        let out = TestSupport.temporaryPath(".json")
        defer { unlink(out) }
        let r = TestSupport.run(["record", "-o", out, "--", python, Programs.dir + "/startup.py", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let trace = try TraceLoader.load(path: out)
        // The phase markers' time by phase (the import runs before any step, so outside the steps).
        let s = trace.slices
        func markers(_ phase: Phase) -> [Int] { (0..<s.count).filter { trace.strings[s.name[$0]] == ProfileWriter.markerName(phase) } }
        func seconds(_ phase: Phase) -> Double { Double(markers(phase).reduce(0) { $0 + s.dur[$1] }) / 1e9 }
        XCTAssertEqual(seconds(.startup), 0.8, accuracy: 0.3, "the 0.8 s import")
        XCTAssertGreaterThan(seconds(.optimizer), 0.5, "the 1 s of SGD.step after it")
        // No sample inside the import counts as optimizer.
        let importEnd = markers(.startup).map { s.end($0) }.max() ?? 0
        let earlyOptimizer = markers(.optimizer).filter { s.start[$0] < importEnd - 100_000_000 }
        XCTAssertEqual(earlyOptimizer.count, 0, "optimizer markers before the import ended")
    }

    func testBadTargetsGiveOneLineErrors() {
        for args in [["record", "--pid", "999999999"], ["record", "--pid", "\(getpid())", "--rate", "0"], ["record"],
                     ["record", "--pid", "1", "--format", "svg"], ["record", "--pid", "\(getpid())", "-o", "/nonexistent/x.json"]] {
            let r = TestSupport.run(args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        }
        // A process that is not Python (this test runner) says so.
        let r = TestSupport.run(["record", "--pid", "\(getpid())", "--duration", "0.2"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("does not run CPython"), r.stderr)
        // A failed attach leaves no empty output file behind.
        XCTAssertNotEqual(access("stepscope-\(getpid()).json", F_OK), 0)
    }
}
