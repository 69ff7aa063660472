import TraceModel

/// A step's window before attribution: its name, its time range, and the slice on the step track
/// after which the partition looks for the step's slices (the step slice itself, or the optimizer
/// step that opens an inferred step).
struct StepWindow {
    var name: String
    var window: Range<Int64>
    var slice: Int
}

extension Analyzer {
    /// The name prefix of the optimizer's annotation, one per `optimizer.step()` (`Optimizer.step#SGD.step`).
    static let optimizerStepPrefix: StaticString = "Optimizer.step#"

    /// The warning code a report shows when steps were inferred.
    public static let stepsInferredWarning = "steps-inferred"

    /// Steps of a trace without `ProfilerStep#N`, from the optimizer (docs/definitions.md): on the
    /// CPU thread with the most `Optimizer.step#` slices (not nested in another), those of its most
    /// frequent name mark each iteration's end, and a step runs from the end of one to the end of
    /// the next, named `step#1`, `step#2`... The part before the first end (an iteration the trace
    /// caught midway) and after the last are in no step. Nil with fewer than two ends.
    static func inferredSteps(_ trace: RankTrace) -> (steps: [StepWindow], track: Int)? {
        let s = trace.slices
        var best: (track: Int, slices: [Int])?
        for t in trace.cpuTracks {
            var byName: [UInt32: [Int]] = [:]
            var order: [UInt32] = []
            for i in trace.tracks.sliceRange[t] where trace.strings.hasPrefix(s.name[i], optimizerStepPrefix) {
                var p = Int(s.parent[i])
                while p >= 0 && !trace.strings.hasPrefix(s.name[p], optimizerStepPrefix) { p = Int(s.parent[p]) }
                guard p < 0 else { continue }
                if byName[s.name[i]] == nil { order.append(s.name[i]) }
                byName[s.name[i], default: []].append(i)
            }
            guard let name = order.max(by: { byName[$0]!.count < byName[$1]!.count }) else { continue }
            if byName[name]!.count > (best?.slices.count ?? 1) { best = (t, byName[name]!) }
        }
        guard let best else { return nil }
        var steps: [StepWindow] = []
        for k in 1..<best.slices.count {
            let opening = best.slices[k - 1], closing = best.slices[k]
            let from = s.start[opening] + s.dur[opening], to = s.start[closing] + s.dur[closing]
            guard to > from else { continue }
            steps.append(StepWindow(name: "step#\(steps.count + 1)", window: from..<to, slice: opening))
        }
        return steps.isEmpty ? nil : (steps, best.track)
    }
}

extension RankAnalysis {
    /// The trace's warnings, with `steps-inferred` added when the steps came from the optimizer.
    public func warnings(of trace: RankTrace) -> Warnings {
        var w = trace.warnings
        if stepsInferred {
            w.add(Analyzer.stepsInferredWarning, count: steps.count,
                  "no ProfilerStep#N: each step runs from the end of one Optimizer.step# to the end of the next")
        }
        return w
    }
}
