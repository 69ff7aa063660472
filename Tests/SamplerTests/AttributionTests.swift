import Analysis
@testable import Sampler
import TraceImport
import TraceModel
import XCTest

/// Phases and operators from frames, on hand-made profiles.
final class AttributionTests: XCTestCase {
    /// A profile with one thread and one sample per stack; frames are (kind, name, file).
    func profile(_ stacks: [[(FrameKind, String, String)]], active: Bool = true, thread: String = "python") -> SampledProfile {
        let p = SampledProfile(intervalNs: 10_000_000)
        let t = p.thread(pid: 1, tid: 1, name: thread)
        for (k, stack) in stacks.enumerated() {
            let frames = stack.map { p.frames.intern(kind: $0.0, name: p.strings.intern($0.1), file: p.strings.intern($0.2), line: 1) }
            p.addSample(time: Int64(k) * 10_000_000, thread: t, frames: frames, active: active, holdsGIL: active)
        }
        return p
    }

    let loop = (FrameKind.python, "train", "/app/train.py")

    func testPythonFramesGivePhases() {
        let p = profile([
            [loop, (.python, "_SingleProcessDataLoaderIter.__next__", "/x/torch/utils/data/dataloader.py"), (.python, "MyData.__getitem__", "/app/data.py")],
            [loop, (.python, "Module._call_impl", "/x/torch/nn/modules/module.py"), (.python, "Net.layer", "/app/net.py")],
            [loop, (.python, "Tensor.backward", "/x/torch/_tensor.py"), (.python, "backward", "/x/torch/autograd/__init__.py")],
            [loop, (.python, "Adam.step", "/x/torch/optim/adam.py")],
            [loop, (.python, "all_reduce", "/x/torch/distributed/distributed_c10d.py")],
            [loop, (.python, "helper", "/app/util.py")],
        ])
        let a = Attributor(profile: p)
        XCTAssertEqual((0..<6).map { a.phase(sample: $0) }, [.data, .forward, .backward, .optimizer, .communication, .other])
    }

    func testUserRulesComeFirstAndIdleNeedsASleepingThread() {
        let p = profile([[loop, (.python, "MyModel.encode_tokens", "/app/m.py")], [loop, (.python, "helper", "/app/util.py")]], active: false)
        let rules = [PhaseRule(phase: .forward, pattern: "MyModel.encode*")]
        let a = Attributor(profile: p, rules: rules)
        XCTAssertEqual(a.phase(sample: 0), .idle, "a sleeping thread outside data/communication/backward is idle")
        let active = profile([[loop, (.python, "MyModel.encode_tokens", "/app/m.py")]])
        XCTAssertEqual(Attributor(profile: active, rules: rules).phase(sample: 0), .forward)
        XCTAssertEqual(Attributor(profile: active).phase(sample: 0), .other)
        let waiting = profile([[loop, (.python, "Tensor.backward", "/x/torch/_tensor.py")]], active: false)
        XCTAssertEqual(Attributor(profile: waiting).phase(sample: 0), .backward)
    }

    func testNativeOperatorsAndEngineThreads() {
        let p = profile([[loop, (.python, "Module._call_impl", "/x/torch/nn/modules/module.py"),
                          (.native, "at::_ops::linear::call(at::Tensor const&)", "/x/libtorch_cpu.so"),
                          (.native, "at::_ops::addmm::call(at::Tensor const&)", "/x/libtorch_cpu.so"),
                          (.native, "at::_ops::addmm::redispatch(c10::DispatchKeySet)", "/x/libtorch_cpu.so"),
                          (.native, "mkl_sgemm", "/x/libmkl.so")],
                         [(.native, "at::_ops::add__Tensor::redispatch(c10::DispatchKeySet)", "/x/libtorch_cpu.so")],
                         [loop, (.native, "at::_ops::threshold_backward::call(at::Tensor const&)", "/x/libtorch_cpu.so")]])
        let a = Attributor(profile: p)
        XCTAssertEqual(a.operators(sample: 0), ["aten::linear", "aten::addmm"])
        XCTAssertEqual(a.phase(sample: 0), .forward)
        XCTAssertEqual(a.operators(sample: 1), ["aten::add_"])
        XCTAssertEqual(a.phase(sample: 2), .backward, "an operator named for a phase decides, as in the trace analysis")
        let engine = profile([[(.native, "torch::autograd::Engine::thread_main(std::shared_ptr<torch::autograd::GraphTask> const&)", "/x/libtorch_cpu.so")]],
                             thread: "pt_autograd_0")
        XCTAssertEqual(Attributor(profile: engine).phase(sample: 0), .backward)
        XCTAssertEqual(Attributor.stripOverload("select_int"), "select")
        XCTAssertEqual(Attributor.stripOverload("lerp__Scalar"), "lerp_")
        XCTAssertEqual(Attributor.stripOverload("threshold_backward"), "threshold_backward")
    }

    /// `import torch` in launch mode: the imported packages' own frames (torch/optim,
    /// torch/distributed) run under the import machinery, and that is startup, sleeping or not.
    func testModuleImportIsStartup() throws {
        let module = (FrameKind.python, "<module>", "/app/train.py")
        let load = (FrameKind.python, "_find_and_load", "<frozen importlib._bootstrap>")
        let exec = (FrameKind.python, "exec_module", "<frozen importlib._bootstrap_external>")
        let stacks = [
            [module, load, exec, (.python, "<module>", "/x/torch/optim/__init__.py"), (.python, "<module>", "/x/torch/optim/adam.py")],
            [module, load, exec, (.python, "<module>", "/x/torch/distributed/__init__.py"), (.python, "all_reduce", "/x/torch/distributed/c10d.py")],
            [module, (.python, "import_module", "/usr/lib/python3.11/importlib/__init__.py"), load],
            [module, (.python, "main", "/app/train.py"), (.python, "Adam.step", "/x/torch/optim/adam.py")],
            // `from torch.optim import adam` inside a function, the module loaded already.
            [module, (.python, "main", "/app/train.py"), (.python, "_handle_fromlist", "<frozen importlib._bootstrap>")],
        ]
        let a = Attributor(profile: profile(stacks))
        XCTAssertEqual((0..<5).map { a.phase(sample: $0) }, [.startup, .startup, .startup, .optimizer, .other])
        XCTAssertEqual(Attributor(profile: profile(stacks, active: false)).phase(sample: 0), .startup, "waiting for the disk while importing")
        // The marker the writer uses reads back as startup in the trace analysis.
        XCTAssertEqual(PhaseClassifier.builtIn(ProfileWriter.markerName(.startup)), .startup)
        XCTAssertEqual(PhaseClassifier.builtIn("<frozen importlib._bootstrap>(1176): _find_and_load"), .startup, "a with_stack trace's frame")
        XCTAssertNil(PhaseClassifier.builtIn("<frozen importlib._bootstrap>(1390): _handle_fromlist"))
        let trace = try TraceLoader.load(bytes: Array(ProfileWriter(profile: profile(stacks)).chrome().utf8), name: "import.json")
        let phases = Analyzer.analyze(trace).phases
        XCTAssertGreaterThan(phases[.startup], 0)
        XCTAssertEqual(phases[.communication], 0)
    }

    /// The Chrome writer's flame chart nests frames and merges consecutive samples sharing a prefix.
    func testFlameChartMergesPrefixes() throws {
        let a = (FrameKind.python, "a", "/f.py"), b = (FrameKind.python, "b", "/f.py"), c = (FrameKind.python, "c", "/f.py")
        let p = profile([[a, b], [a, b], [a, c], [a]])
        let json = ProfileWriter(profile: p).chrome()
        let frames = json.split(separator: "\n").filter { $0.contains("\"python_function\"") }
        XCTAssertEqual(frames.count, 3, "a once, b once (two samples), c once: \(frames)")
        XCTAssertTrue(frames.contains { $0.contains("\"name\":\"a\"") && $0.contains("\"dur\":40000.000") })
        XCTAssertTrue(frames.contains { $0.contains("\"name\":\"b\"") && $0.contains("\"dur\":20000.000") })
    }
}
