import TraceModel

/// Training phases that time is attributed to.
public enum Phase: Int, CaseIterable, Sendable, Comparable {
    case data, forward, backward, optimizer, communication, startup, other, idle

    /// The name used in reports, JSON and rule files.
    public var name: String {
        switch self {
        case .data: return "data"
        case .forward: return "forward"
        case .backward: return "backward"
        case .optimizer: return "optimizer"
        case .communication: return "communication"
        case .startup: return "startup"
        case .other: return "other"
        case .idle: return "idle"
        }
    }

    /// The phase named `name` (as in `name`), if any.
    public init?(name: String) {
        guard let p = Phase.allCases.first(where: { $0.name == name }) else { return nil }
        self = p
    }

    public static func < (a: Phase, b: Phase) -> Bool { a.rawValue < b.rawValue }
}

/// Nanoseconds per phase.
public struct PhaseTimes: Sendable, Equatable {
    public private(set) var values = [Int64](repeating: 0, count: Phase.allCases.count)
    public init() {}
    public subscript(p: Phase) -> Int64 {
        get { values[p.rawValue] }
        set { values[p.rawValue] = newValue }
    }
    /// Sum over all phases.
    public var total: Int64 { values.reduce(0, +) }
    public static func += (a: inout PhaseTimes, b: PhaseTimes) {
        for i in a.values.indices { a.values[i] += b.values[i] }
    }
}

/// A user rule: slices whose name matches `pattern` (a glob) belong to `phase`.
public struct PhaseRule: Sendable, Equatable {
    public var phase: Phase
    public var pattern: String
    public init(phase: Phase, pattern: String) {
        self.phase = phase
        self.pattern = pattern
    }

    /// Parses a rules file: `phase: glob` per line, `#` comments. Errors name the line.
    public static func parse(_ text: String, file: String) throws(PhaseRuleError) -> [PhaseRule] {
        var rules: [PhaseRule] = []
        // Split on any line ending: "\r\n" is a single Character, so splitting on "\n" would miss it.
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = Substring(raw)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingSpaces
            if trimmed.isEmpty { continue }
            guard let colon = trimmed.firstIndex(of: ":") else {
                throw PhaseRuleError(file: file, line: n + 1, message: "expected 'phase: pattern'")
            }
            let phaseName = trimmed[..<colon].trimmingSpaces
            let pattern = trimmed[trimmed.index(after: colon)...].trimmingSpaces
            guard let phase = Phase(name: String(phaseName)), phase != .idle else {
                throw PhaseRuleError(file: file, line: n + 1,
                                     message: "unknown phase '\(phaseName)' (data, forward, backward, optimizer, communication, startup, other)")
            }
            guard !pattern.isEmpty else { throw PhaseRuleError(file: file, line: n + 1, message: "empty pattern") }
            rules.append(PhaseRule(phase: phase, pattern: String(pattern)))
        }
        return rules
    }
}

/// A malformed phase-rules file.
public struct PhaseRuleError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var description: String { "\(file): line \(line): \(message)" }
}

extension Substring {
    /// The text without leading and trailing spaces, tabs and line breaks.
    var trimmingSpaces: Substring {
        func isSpace(_ c: Character) -> Bool { c == " " || c == "\t" || c == "\r" || c == "\n" || c == "\r\n" }
        var s = self
        while let f = s.first, isSpace(f) { s = s.dropFirst() }
        while let l = s.last, isSpace(l) { s = s.dropLast() }
        return s
    }
}

/// Glob matching over Unicode scalars: `*` any run, `?` one character.
public func globMatch(_ pattern: [Unicode.Scalar], _ text: [Unicode.Scalar]) -> Bool {
    var p = 0, t = 0
    var starP = -1, starT = 0
    while t < text.count {
        if p < pattern.count && (pattern[p] == "?" || pattern[p] == text[t]) {
            p += 1; t += 1
        } else if p < pattern.count && pattern[p] == "*" {
            starP = p; starT = t; p += 1
        } else if starP >= 0 {
            p = starP + 1; starT += 1; t = starT
        } else {
            return false
        }
    }
    while p < pattern.count && pattern[p] == "*" { p += 1 }
    return p == pattern.count
}

/// Gives each slice name its own phase (docs/definitions.md, "Phases"), cached per name id.
public final class PhaseClassifier {
    private let strings: StringTable
    private let rules: [(Phase, [Unicode.Scalar])]
    private var cache: [Int8] = []  // -2 unknown, -1 none, else Phase.rawValue

    public init(strings: StringTable, rules: [PhaseRule] = []) {
        self.strings = strings
        self.rules = rules.map { ($0.phase, Array($0.pattern.unicodeScalars)) }
    }

    /// The slice name's own phase, or nil when it has none.
    public func ownPhase(_ name: UInt32) -> Phase? {
        let i = Int(name)
        if i >= cache.count { cache.append(contentsOf: repeatElement(-2, count: i + 1 - cache.count)) }
        if cache[i] == -2 { cache[i] = Int8(classify(name)?.rawValue ?? -1) }
        return cache[i] < 0 ? nil : Phase(rawValue: Int(cache[i]))
    }

    private func classify(_ id: UInt32) -> Phase? {
        if strings.hasPrefix(id, StepNames.prefix) { return nil }
        if !rules.isEmpty {
            let scalars = Array(strings[id].unicodeScalars)
            for (phase, pattern) in rules where globMatch(pattern, scalars) { return phase }
        }
        return strings.withBytes(id) { Self.builtIn(utf8: $0) }
    }

    /// The built-in rules 2-8 for a name.
    public static func builtIn(_ name: String) -> Phase? {
        var name = name
        return name.withUTF8 { builtIn(utf8: $0) }
    }

    /// The built-in rules 2-8 for a name's UTF-8 bytes. "Lower-cased" lowers ASCII letters only.
    public static func builtIn(utf8 name: UnsafeBufferPointer<UInt8>) -> Phase? {
        func prefix(_ p: StaticString) -> Bool {
            p.utf8CodeUnitCount <= name.count && memcmp(name.baseAddress!, p.utf8Start, p.utf8CodeUnitCount) == 0
        }
        func suffix(_ p: StaticString) -> Bool {
            p.utf8CodeUnitCount <= name.count
                && memcmp(name.baseAddress! + name.count - p.utf8CodeUnitCount, p.utf8Start, p.utf8CodeUnitCount) == 0
        }
        func lowerContains(_ p: StaticString) -> Bool {
            let m = p.utf8CodeUnitCount, n = name.count, q = p.utf8Start
            guard m <= n else { return false }
            var i = 0
            while i <= n - m {
                var j = 0
                while j < m, name[i + j] | (name[i + j] &- 0x41 < 26 ? 0x20 : 0) == q[j] { j += 1 }
                if j == m { return true }
                i += 1
            }
            return false
        }
        guard !name.isEmpty else { return nil }
        if prefix("c10d::") || prefix("nccl:") || prefix("gloo:") || prefix("ncclKernel") || prefix("ncclDevKernel")
            || prefix("rcclKernel") || prefix("rccl") || (name.count == 18 && prefix("record_param_comms")) {
            return .communication
        }
        if prefix("Optimizer.") || lowerContains("optimizer") { return .optimizer }
        if prefix("autograd::engine::evaluate_function:") || lowerContains("backward") { return .backward }
        if lowerContains("forward") { return .forward }
        if prefix("enumerate(DataLoader)") || lowerContains("dataloader") || lowerContains("data_loader")
            || lowerContains("data loading") {
            return .data
        }
        // A module being loaded, as `with_stack` traces name the frame, and the sampler's marker.
        if prefix("[sampled] startup") || prefix("<frozen importlib._bootstrap>") && suffix("_find_and_load") { return .startup }
        return nil
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
