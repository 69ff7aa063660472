import Analysis
import TraceModel

/// The steps found in one thread's samples, or why none could be (docs/sampler.md, "Steps").
public struct SampledSteps: Sendable, Equatable {
    /// Step intervals in time order (one over the whole thread when steps could not be told apart).
    public var intervals: [Range<Int64>]
    /// Why the steps are not to be trusted or were not delimited; nil when they were resolved.
    public var warning: String?
}

/// Finds step boundaries in a thread's samples from the training loop's frame: the Python frame
/// that calls the optimizer. Each sample with that frame on its stack (at the same depth, under the
/// same callers) gives a position, the line the loop frame is at; the loop runs its body in line
/// order, so a position lower than the one before means a new iteration began in between.
struct StepFinder {
    let profile: SampledProfile
    let attributor: Attributor
    /// Fewer samples per step than this (at the median step) cannot place the boundaries.
    static let minimumSamplesPerStep = 3.0
    /// A step longer than this factor of the median that holds a sampling gap of over half the
    /// median (where a whole iteration could have passed unseen) looks like two merged steps; a
    /// step that is long while samples stay dense is a slow step (an evaluation, a stall).
    static let mergedFactor = 1.5

    /// The loop frame: the callers' stack node (-1 at the root), and the function's name and file.
    struct LoopFrame: Hashable {
        var callers: Int32
        var name: UInt32
        var file: UInt32
    }

    /// Stack node ids of `stack`, outermost first.
    func nodes(_ stack: Int32) -> [Int32] {
        var out: [Int32] = []
        var s = stack
        while s >= 0 { out.append(s); s = profile.stacks.parent[Int(s)] }
        return out.reversed()
    }

    /// The Python frame that calls the optimizer in most optimizer samples: the innermost Python
    /// frame outside the outermost frame with the optimizer phase.
    func loopFrame(_ samples: [Int]) -> LoopFrame? {
        var votes: [LoopFrame: Int] = [:]
        for i in samples where attributor.phase(sample: i) == .optimizer {
            let path = nodes(profile.samples.stack[i])
            guard let first = path.firstIndex(where: { attributor.phase(frame: profile.stacks.frame[Int($0)]) == .optimizer }),
                  let caller = path[..<first].lastIndex(where: { profile.frames.kind[Int(profile.stacks.frame[Int($0)])] == .python })
            else { continue }
            let f = Int(profile.stacks.frame[Int(path[caller])])
            votes[LoopFrame(callers: profile.stacks.parent[Int(path[caller])], name: profile.frames.name[f], file: profile.frames.file[f]), default: 0] += 1
        }
        return votes.max { ($0.value, $1.key.callers) < ($1.value, $0.key.callers) }?.key
    }

    /// The line the loop frame is at in sample `i`, nil when the loop frame is not on its stack.
    func position(_ i: Int, in loop: LoopFrame) -> Int32? {
        let stack = profile.samples.stack[i]
        guard stack >= 0 else { return nil }
        // Walk up to the node whose parent is the loop frame's callers.
        var s = stack
        while s >= 0 {
            let parent = profile.stacks.parent[Int(s)]
            if parent == loop.callers {
                let f = Int(profile.stacks.frame[Int(s)])
                return profile.frames.name[f] == loop.name && profile.frames.file[f] == loop.file ? profile.frames.line[f] : nil
            }
            s = parent
        }
        return nil
    }

    /// Steps of a thread whose samples (time order) end at `ends`.
    func steps(_ samples: [Int], _ ends: [Int64]) -> SampledSteps {
        let time = profile.samples.time
        let whole = [time[samples[0]]..<ends.last!]
        guard let loop = loopFrame(samples) else {
            return SampledSteps(intervals: whole, warning: "no optimizer call was sampled: steps are not delimited (one step spans the recording)")
        }
        // A boundary lies after the last sample of one iteration: the next sample starts the next step.
        var boundaries: [Int64] = []
        // Gaps between consecutive positions that show no boundary: (start, length).
        var gaps: [(start: Int64, length: Int64)] = []
        var last: (position: Int32, k: Int)?
        for (k, i) in samples.enumerated() {
            guard let p = position(i, in: loop) else { continue }
            if let l = last {
                if p < l.position {
                    boundaries.append(time[samples[l.k + 1]])
                } else {
                    gaps.append((time[samples[l.k]], time[i] - time[samples[l.k]]))
                }
            }
            last = (p, k)
        }
        guard boundaries.count >= 2 else {
            return SampledSteps(intervals: whole, warning: "fewer than two step boundaries were found: one step spans the recording")
        }
        let intervals = zip(boundaries, boundaries.dropFirst()).map { $0..<$1 }
        let durations = intervals.map { $0.upperBound - $0.lowerBound }.sorted()
        let median = durations[durations.count / 2]
        // The sampling interval achieved on this thread (sampling can fall behind the asked rate).
        let spacing = max(1, (time[samples.last!] - time[samples[0]]) / Int64(max(1, samples.count - 1)))
        let perStep = Double(median) / Double(spacing)
        let rate = 1e9 / Double(spacing)
        // A rate that gives about 20 samples per step.
        let advice = Int((20e9 / Double(median)).rounded(.up))
        if perStep < Self.minimumSamplesPerStep {
            return SampledSteps(intervals: whole, warning: "steps of about \(formatNs(median)) are too short for sampling at \(Int(rate.rounded())) Hz "
                + "(\(formatOne(perStep)) samples per step): steps are not delimited; record with --rate \(advice) or more")
        }
        // Both in time order: one pass finds the long steps that hold a suspect gap.
        let suspect = gaps.filter { $0.length * 2 > median }.map(\.start)
        var merged = 0, g = 0
        for step in intervals {
            while g < suspect.count && suspect[g] < step.lowerBound { g += 1 }
            if g < suspect.count && suspect[g] < step.upperBound
                && Double(step.upperBound - step.lowerBound) > Self.mergedFactor * Double(median) { merged += 1 }
        }
        if merged * 4 > durations.count {
            return SampledSteps(intervals: whole, warning: "step boundaries are ambiguous (\(merged) of \(durations.count) steps last over "
                + "\(formatOne(Self.mergedFactor))x the median \(formatNs(median)) across a gap in the samples): steps are not delimited; record with --rate \(advice) or more")
        }
        if merged > 0 {
            return SampledSteps(intervals: intervals, warning: "\(merged) of \(intervals.count) steps last over \(formatOne(Self.mergedFactor))x the median "
                + "\(formatNs(median)) across a gap in the samples: their boundaries were likely missed at \(Int(rate.rounded())) Hz; --rate \(advice) resolves them better")
        }
        return SampledSteps(intervals: intervals, warning: nil)
    }

    private func formatNs(_ ns: Int64) -> String { "\(formatOne(Double(ns) / 1e6)) ms" }

    private func formatOne(_ x: Double) -> String {
        let tenths = Int((x * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }
}
