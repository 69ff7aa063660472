import Analysis
import Sampler
import TestSupport
import TraceImport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A real PyTorch CPU training loop: the sampled phase shares match those of the torch.profiler
/// trace the same script writes.
final class TorchTests: XCTestCase {
    func testSampledPhasesMatchTheProfilerTrace() throws {
        let python = try Programs.python()
        guard system("'\(python)' -c 'import torch' >/dev/null 2>&1") == 0 else {
            throw XCTSkip("torch is not installed for \(python): skipping the PyTorch comparison")
        }
        let script = Programs.dir + "/torch_train.py"
        let tracePath = TestSupport.temporaryPath(".json")
        defer { unlink(tracePath) }
        XCTAssertEqual(system("'\(python)' '\(script)' profile \(tracePath) >/dev/null 2>&1"), 0)
        let profiled = Analyzer.analyze(try TraceLoader.load(path: tracePath)).phases

        let target = try TestProcess([python, script, "run", "120"])
        defer { target.kill() }
        var options = SamplerOptions()
        options.duration = 4
        let session = try SamplingSession(pid: target.pid, options: options)
        session.run()
        let p = session.profile
        let attributor = Attributor(profile: p)
        let main = p.samples(ofThread: target.pid)
        XCTAssertGreaterThan(main.count, 200)
        var counts: [Phase: Int] = [:]
        for i in main { counts[attributor.phase(sample: i), default: 0] += 1 }
        // Tolerance: 0.15 of the total. The profiler's own overhead (with_stack) still inflates the data
        // loader's share in its trace a little, and 10 profiled steps against ~400 samples are noisy
        // (on a loaded 2-core machine the largest difference seen was 0.06).
        for phase in [Phase.data, .forward, .backward, .optimizer] {
            let sampled = Double(counts[phase, default: 0]) / Double(main.count)
            let traced = Double(profiled[phase]) / Double(profiled.total)
            XCTAssertEqual(sampled, traced, accuracy: 0.15, "\(phase.name): sampled \(sampled), traced \(traced)")
            if phase != .data { XCTAssertGreaterThan(sampled, 0.05, phase.name) }
        }
    }
}
