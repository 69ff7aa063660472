import Analysis
import ArgumentParser
import Report
import Sampler

// The command line's choices as argument types: each parses (and lists its values in --help)
// where it is declared, so the commands only read typed values.

extension ReportFormat: ExpressibleByArgument {}
extension DiffFormat: ExpressibleByArgument {}
extension ProfileFormat: ExpressibleByArgument {}

/// What makes `stepscope diff` fail: a regression (exit 1), or also an undecided result (exit 3).
enum FailOn: String, CaseIterable, ExpressibleByArgument {
    case regression, inconclusive
}

/// `--skip-steps`: a count of leading warm-up steps, or `auto`.
extension SkipSteps: ExpressibleByArgument {
    public init?(argument: String) {
        if argument == "auto" { self = .auto } else if let n = Int(argument), n >= 0 { self = .count(n) } else { return nil }
    }

    public var defaultValueDescription: String {
        if case let .count(n) = self { return String(n) }
        return "auto"
    }
}

/// `--threshold METRIC=PCT`: a minimum relative change for a kind of metric.
struct ThresholdSpec: ExpressibleByArgument {
    let kinds: [MetricKind]
    /// The threshold as a fraction (5% is 0.05).
    let fraction: Double

    init?(argument: String) {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, let pct = Double(parts[1].hasSuffix("%") ? String(parts[1].dropLast()) : parts[1]), pct >= 0,
              pct.isFinite else { return nil }
        switch parts[0] {
        case "step": kinds = [.step]
        case "phase": kinds = [.phase]
        case "operator", "op": kinds = [.opSelf, .opTotal]
        case "kernel": kinds = [.kernel]
        case "memory": kinds = [.memory]
        case "comm": kinds = [.exposedComm, .commWait]
        case "efficiency": kinds = [.mfu, .opFLOPS]
        default: return nil
        }
        fraction = pct / 100
    }
}

/// `--output FORMAT=PATH`: one more diff output written to a file.
struct OutputSpec: ExpressibleByArgument {
    let format: DiffFormat
    let path: String

    init?(argument: String) {
        guard let eq = argument.firstIndex(of: "="), let f = DiffFormat(rawValue: String(argument[..<eq])),
              argument.index(after: eq) < argument.endIndex else { return nil }
        format = f
        path = String(argument[argument.index(after: eq)...])
    }
}
