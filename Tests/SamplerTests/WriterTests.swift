import Analysis
@testable import Sampler
import TraceImport
import TraceModel
import XCTest

/// The Chrome trace of hand-made profiles read back by the importer: nesting of equal spans, and
/// steps found from the loop frame's positions.
final class WriterTests: XCTestCase {
    typealias Frame = (kind: FrameKind, name: String, file: String, line: Int32)

    /// Adds a sample of thread `tid` at `time` ns.
    func add(_ p: SampledProfile, _ time: Int64, _ stack: [Frame], active: Bool = true, tid: Int32 = 1) {
        if p.processes.isEmpty { p.processes.append((1, "python train.py")) }
        let t = p.thread(pid: 1, tid: tid, name: "MainThread")
        let frames = stack.map { p.frames.intern(kind: $0.kind, name: p.strings.intern($0.name), file: p.strings.intern($0.file), line: $0.line) }
        p.addSample(time: time, thread: t, frames: frames, active: active, holdsGIL: active)
    }

    /// Caller and callee with identical spans (a function whose only work is one call): the
    /// importer's parents are the callers, for Python frames, native frames and operators.
    func testCallersPrecedeCalleesWithEqualSpans() throws {
        let p = SampledProfile(intervalNs: 10_000_000)
        let stack: [Frame] = [(.python, "<module>", "/app/train.py", 40), (.python, "main", "/app/train.py", 30),
                              (.python, "_engine_run_backward", "/x/torch/autograd/graph.py", 5),
                              (.native, "at::_ops::clone::call(at::Tensor const&)", "/x/libtorch_cpu.so", 0),
                              (.native, "at::_ops::copy_::call(at::Tensor&, at::Tensor const&, bool)", "/x/libtorch_cpu.so", 0)]
        for k in 0..<3 { add(p, 1_700_000_000_000_000_000 + Int64(k) * 10_000_000, stack) }
        let json = ProfileWriter(profile: p).chrome()
        let trace = try TraceLoader.load(bytes: Array(json.utf8), name: "equal.json")
        let s = trace.slices
        func slice(_ name: String, category: String) throws -> Int {
            try XCTUnwrap((0..<s.count).first { trace.strings[s.name[$0]] == name && trace.strings[s.category[$0]] == category }, name)
        }
        func parentName(_ i: Int) -> String? { s.parent[i] < 0 ? nil : trace.strings[s.name[Int(s.parent[i])]] }
        let module = try slice("<module>", category: "python_function")
        XCTAssertNil(parentName(module), "<module> is the outermost frame")
        XCTAssertEqual(parentName(try slice("main", category: "python_function")), "<module>")
        XCTAssertEqual(parentName(try slice("_engine_run_backward", category: "python_function")), "main")
        XCTAssertEqual(parentName(try slice("at::_ops::clone::call(at::Tensor const&)", category: "python_function")), "_engine_run_backward")
        // Operators nest inside the phase marker, the outer operator first.
        let clone = try slice("aten::clone", category: "cpu_op"), copy = try slice("aten::copy_", category: "cpu_op")
        XCTAssertEqual(parentName(clone), "[sampled] backward")
        XCTAssertEqual(parentName(copy), "aten::clone")
        XCTAssertEqual(s.dur[clone], s.dur[copy], "the spans are equal, so only the order decides")
        XCTAssertEqual(s.dur[clone], 30_000_000)
    }

    /// A training loop's frames at `offset` ns into a step with the given part durations (ms):
    /// data (idle, waiting for a batch), forward, backward, optimizer, each a line of `train`.
    /// With `nested`, `main` loads the batch and calls `train_step`, which runs the other parts.
    func loopStack(_ offset: Int64, parts: [Int64], nested: Bool = false) -> (stack: [Frame], active: Bool) {
        var offset = offset
        let outer: [Frame] = [(.python, "<module>", "/app/train.py", 50), (.python, "train", "/app/train.py", 10)]
        let inner: [Frame] = [(.python, "fetch", "/app/data.py", 3), (.python, "Model.forward", "/app/model.py", 20),
                              (.python, "backward", "/x/torch/autograd/__init__.py", 200), (.python, "Adam.step", "/x/torch/optim/adam.py", 120)]
        for (k, ms) in parts.enumerated() {
            if offset < ms * 1_000_000 {
                var o = outer
                o[1].line = nested ? (k == 0 ? 10 : 11) : 10 + Int32(k)
                if nested && k > 0 { o += [(.python, "train_step", "/app/train.py", 20 + Int32(k))] }
                return (o + [inner[k]], k != 0)
            }
            offset -= ms * 1_000_000
        }
        fatalError("offset past the step")
    }

    /// Samples of a loop at random exponential intervals with mean `intervalMs`, for `steps` steps;
    /// with `slowEvery`, every such step has a forward three times as long.
    func loopProfile(parts: [Int64], steps: Int, intervalMs: Double, nested: Bool = false, slowEvery: Int = 0,
                     seed: UInt64 = 42) -> SampledProfile {
        let p = SampledProfile(intervalNs: Int64(intervalMs * 1e6))
        var state = seed
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Double(state >> 11) + 1) / Double(1 << 53)
        }
        func partsOf(_ n: Int) -> [Int64] { slowEvery > 0 && n % slowEvery == 0 ? [parts[0], 3 * parts[1]] + parts[2...] : parts }
        var t: Int64 = 0, stepStart: Int64 = 0, n = 0
        while n < steps {
            let length = partsOf(n).reduce(0, +) * 1_000_000
            if t >= stepStart + length {
                stepStart += length
                n += 1
                continue
            }
            let (stack, active) = loopStack(t - stepStart, parts: partsOf(n), nested: nested)
            add(p, 1_700_000_000_000_000_000 + t, stack, active: active)
            t += Int64(-log(uniform()) * intervalMs * 1e6)
        }
        return p
    }

    /// Slow steps (every fifth with a triple forward) under dense samples are slow steps, not
    /// missed boundaries: every step kept, no warning.
    func testSlowStepsWithDenseSamplesAreNotAmbiguous() throws {
        let p = loopProfile(parts: [5, 30, 25, 5], steps: 60, intervalMs: 2, slowEvery: 5)
        let found = try XCTUnwrap(ProfileWriter(profile: p).steps())
        XCTAssertEqual(found.intervals.count, 58)
        XCTAssertNil(found.warning)
        // Steps 0, 5, ..., 55 are slow; step 0 is the partial first one, outside the steps.
        XCTAssertEqual(found.intervals.filter { $0.upperBound - $0.lowerBound > 100_000_000 }.count, 11)
    }

    /// 151 steps of 65 ms (a 5 ms optimizer call) at 100 Hz: about one step per iteration with
    /// the right median, where optimizer samples alone miss most steps and idle data waits made
    /// fake steps.
    func testStepsFromLoopPositionsAtTheDefaultRate() throws {
        let p = loopProfile(parts: [5, 30, 25, 5], steps: 151, intervalMs: 10)
        let found = try XCTUnwrap(ProfileWriter(profile: p).steps())
        // 151 iterations: the first and the last are partial, so 149 whole steps at most.
        XCTAssertGreaterThanOrEqual(found.intervals.count, 135, "\(found.intervals.count) steps")
        XCTAssertLessThanOrEqual(found.intervals.count, 149)
        let durations = found.intervals.map { $0.upperBound - $0.lowerBound }.sorted()
        XCTAssertEqual(Double(durations[durations.count / 2]) / 1e6, 65, accuracy: 5)
        XCTAssertGreaterThan(durations.first!, 20_000_000, "no fake short steps")
        // The report reads the same steps back.
        let trace = try TraceLoader.load(bytes: Array(ProfileWriter(profile: p).chrome().utf8), name: "loop.json")
        XCTAssertEqual(Analyzer.analyze(trace).steps.count, found.intervals.count)
    }

    /// The optimizer called from a `train_step` function while the loop in `main` loads the
    /// batch: `train_step` is the loop frame, and its lines wrap around at each call.
    func testStepsWhenTheOptimizerIsCalledFromAStepFunction() throws {
        let p = loopProfile(parts: [5, 30, 25, 5], steps: 60, intervalMs: 2, nested: true)
        let found = try XCTUnwrap(ProfileWriter(profile: p).steps())
        XCTAssertEqual(found.intervals.count, 58)
        XCTAssertNil(found.warning)
        let durations = found.intervals.map { $0.upperBound - $0.lowerBound }.sorted()
        XCTAssertEqual(Double(durations[durations.count / 2]) / 1e6, 65, accuracy: 2)
    }

    /// The same loop at 500 Hz: every step resolved, no warning.
    func testStepsAtAHighRateAreExact() throws {
        let p = loopProfile(parts: [5, 30, 25, 5], steps: 60, intervalMs: 2)
        let found = try XCTUnwrap(ProfileWriter(profile: p).steps())
        XCTAssertEqual(found.intervals.count, 58)
        XCTAssertNil(found.warning)
    }

    /// Steps of 20 ms at 100 Hz (two samples a step) are not invented: one step spans the
    /// recording, and the written trace carries a warning that says why and what rate would do.
    func testUnresolvableStepsAreNotInvented() throws {
        let p = loopProfile(parts: [2, 8, 8, 2], steps: 200, intervalMs: 10)
        let writer = ProfileWriter(profile: p)
        let found = try XCTUnwrap(writer.steps())
        XCTAssertEqual(found.intervals.count, 1)
        let warning = try XCTUnwrap(found.warning)
        XCTAssertTrue(warning.contains("too short") && warning.contains("--rate"), warning)
        let json = writer.chrome()
        XCTAssertTrue(json.contains("\"warnings\":[\"steps of about"), String(json.prefix(400)))
        let trace = try TraceLoader.load(bytes: Array(json.utf8), name: "short.json")
        XCTAssertEqual(Analyzer.analyze(trace).steps.count, 1)
    }

    /// Without any optimizer sample there is nothing to delimit steps with: one step, a warning.
    func testNoOptimizerMeansOneStep() throws {
        let p = SampledProfile(intervalNs: 10_000_000)
        for k in 0..<50 { add(p, Int64(k) * 10_000_000, [(.python, "main", "/app/x.py", 1 + Int32(k % 3))]) }
        let found = try XCTUnwrap(ProfileWriter(profile: p).steps())
        XCTAssertEqual(found.intervals.count, 1)
        XCTAssertTrue(found.warning?.contains("no optimizer") == true, found.warning ?? "")
    }
}
