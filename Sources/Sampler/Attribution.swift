import Analysis
import TraceModel

/// Phase and operators of each sample, from its frames (docs/sampler.md, "Phases from frames").
public final class Attributor {
    let profile: SampledProfile
    private let rules: [(Phase, [Unicode.Scalar])]
    /// Per stack: the phase its frames show (nil: none) and its operator frames, outermost first.
    private var stackPhase: [Int32: Phase?] = [:]
    private var stackOps: [Int32: [String]] = [:]
    private var framePhase: [Int32: Phase?] = [:]
    private var stackImports: [Int32: Bool] = [:]

    public init(profile: SampledProfile, rules: [PhaseRule] = []) {
        self.profile = profile
        self.rules = rules.map { ($0.phase, Array($0.pattern.unicodeScalars)) }
    }

    /// The phase of sample `i`: `startup` while a module is imported (whatever the imported
    /// code does); else the innermost frame with a phase decides; a sleeping thread is `idle`
    /// unless it waits for data, communication or the autograd engine; `other` otherwise.
    public func phase(sample i: Int) -> Phase {
        let s = profile.samples
        if importing(stack: s.stack[i]) { return .startup }
        // An operator slice named for a phase (aten::convolution_backward) overrides the frames, as
        // its own phase does in the trace analysis.
        let ownOps = operators(sample: i).reversed().lazy.compactMap { self.ownPhase($0) }.first
        let fromFrames = ownOps ?? phase(stack: s.stack[i])
        if !s.active[i] {
            switch fromFrames {
            case .data?, .communication?, .backward?: return fromFrames!
            default: return .idle
            }
        }
        if let fromFrames { return fromFrames }
        let name = profile.strings[profile.threads.name[Int(s.thread[i])]]
        return name.contains("autograd") ? .backward : .other
    }

    /// Operator names (`aten::mm`) of sample `i`, outermost first; empty when its frames show none.
    public func operators(sample i: Int) -> [String] {
        let stack = profile.samples.stack[i]
        guard stack >= 0 else { return [] }
        if let known = stackOps[stack] { return known }
        var ops: [String] = []
        for f in profile.stacks.frames(stack) {
            // `call` then `redispatch` of one operator is one operator.
            if let op = Self.operatorName(frame: f, in: profile), op != ops.last { ops.append(op) }
        }
        stackOps[stack] = ops
        return ops
    }

    /// Whether `stack` holds a frame of the import machinery (cached per stack).
    func importing(stack: Int32) -> Bool {
        guard stack >= 0 else { return false }
        if let known = stackImports[stack] { return known }
        let result = isImportFrame(profile.stacks.frame[Int(stack)]) || importing(stack: profile.stacks.parent[Int(stack)])
        stackImports[stack] = result
        return result
    }

    private func isImportFrame(_ f: Int32) -> Bool {
        profile.frames.kind[Int(f)] == .python
            && Self.isModuleLoad(name: profile.strings[profile.frames.name[Int(f)]], file: profile.strings[profile.frames.file[Int(f)]])
    }

    /// Whether a Python frame loads a module: `_find_and_load` of `<frozen importlib._bootstrap>`,
    /// which runs only for a module not imported yet (`import`, `importlib.import_module`), so a
    /// function-level `from x import y` of a loaded module is not startup.
    public static func isModuleLoad(name: String, file: String) -> Bool {
        name == "_find_and_load" && file == "<frozen importlib._bootstrap>"
    }

    /// The phase the frames of `stack` show (innermost frame with one wins), nil when none does.
    func phase(stack: Int32) -> Phase? {
        guard stack >= 0 else { return nil }
        if let known = stackPhase[stack] { return known }
        var result: Phase?
        var s = stack
        while s >= 0 {
            if let p = phase(frame: profile.stacks.frame[Int(s)]) { result = p; break }
            s = profile.stacks.parent[Int(s)]
        }
        stackPhase[stack] = result
        return result
    }

    /// The phase frame `f` shows by itself (user rules, then its file and name), nil when none.
    func phase(frame f: Int32) -> Phase? {
        if let known = framePhase[f] { return known }
        let name = profile.strings[profile.frames.name[Int(f)]]
        let file = profile.strings[profile.frames.file[Int(f)]]
        let result = userPhase(name)
            ?? (profile.frames.kind[Int(f)] == .python ? Self.pythonPhase(name: name, file: file) : Self.nativePhase(name))
        framePhase[f] = result
        return result
    }

    /// A slice name's own phase as the trace analysis gives it: user rules, then built-in rules.
    private func ownPhase(_ name: String) -> Phase? { userPhase(name) ?? PhaseClassifier.builtIn(name) }

    /// The phase of the first user rule matching `name`.
    private func userPhase(_ name: String) -> Phase? {
        guard !rules.isEmpty else { return nil }
        let scalars = Array(name.unicodeScalars)
        return rules.first { globMatch($0.1, scalars) }?.0
    }

    /// The phase a Python frame shows by its file and qualified name.
    public static func pythonPhase(name: String, file: String) -> Phase? {
        if file.contains("torch/distributed/") { return .communication }
        if file.contains("torch/optim/") { return .optimizer }
        if file.contains("torch/autograd/") && (name.contains("backward") || name.contains("grad")) { return .backward }
        if file.hasSuffix("torch/_tensor.py") && name.hasSuffix("backward") { return .backward }
        if file.contains("torch/utils/data/") { return .data }
        if file.hasSuffix("torch/nn/modules/module.py") && name.contains("call_impl") { return .forward }
        return PhaseClassifier.builtIn(name)
    }

    /// The phase a native frame shows by its (demangled) name.
    public static func nativePhase(_ name: String) -> Phase? {
        if name.hasPrefix("torch::autograd::Engine::") || name.hasPrefix("torch::autograd::") && name.contains("Backward") {
            return .backward
        }
        if name.hasPrefix("c10d::") || name.hasPrefix("gloo::") || name.hasPrefix("nccl") { return .communication }
        if name.hasPrefix("at::") || name.hasPrefix("c10::") { return nil }  // operators: their phase is the caller's
        return PhaseClassifier.builtIn(name)
    }

    /// `aten::mm` for a native `at::_ops::mm::call(...)` frame (also `redispatch`), else nil.
    static func operatorName(frame f: Int32, in profile: SampledProfile) -> String? {
        guard profile.frames.kind[Int(f)] == .native else { return nil }
        return profile.strings.withBytes(profile.frames.name[Int(f)]) { bytes -> String? in
            let prefix = Array("at::_ops::".utf8)
            guard bytes.count > prefix.count, Array(bytes[0..<prefix.count]) == prefix else { return nil }
            let rest = bytes[prefix.count...]
            guard let end = rest.firstIndex(of: UInt8(ascii: ":")) else { return nil }
            let tail = String(decoding: rest[end...], as: UTF8.self)
            guard tail.hasPrefix("::call(") || tail.hasPrefix("::redispatch(") else { return nil }
            return "aten::" + stripOverload(String(decoding: rest[..<end], as: UTF8.self))
        }
    }

    /// The operator name without the overload that `at::_ops` struct names append (`add__Tensor`
    /// → `add_`, `select_int` → `select`), as Kineto names operators.
    static func stripOverload(_ name: String) -> String {
        guard let underscore = name.lastIndex(of: "_"), underscore > name.startIndex else { return name }
        let overload = name[name.index(after: underscore)...]
        guard let first = overload.first else { return name }
        let known: Set<Substring> = ["int", "out", "dim", "self", "input", "names", "dimname", "using_ints", "default"]
        return first.isUppercase || known.contains(overload) ? String(name[..<underscore]) : name
    }
}
