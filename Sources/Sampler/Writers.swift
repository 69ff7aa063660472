import Analysis
import TraceModel

/// Output formats of `stepscope record`.
public enum ProfileFormat: String, CaseIterable, Sendable {
    case chrome, folded, speedscope
}

/// Writes a sampled profile as a Chrome trace, folded stacks or a speedscope file
/// (docs/sampler.md, "What the Chrome trace contains").
public struct ProfileWriter {
    let profile: SampledProfile
    let attributor: Attributor

    public init(profile: SampledProfile, rules: [PhaseRule] = []) {
        self.profile = profile
        attributor = Attributor(profile: profile, rules: rules)
    }

    public func render(_ format: ProfileFormat) -> String {
        switch format {
        case .chrome: return chrome()
        case .folded: return folded()
        case .speedscope: return speedscope()
        }
    }

    /// The label of frame `f` in folded and speedscope output: `name (file:line)` for Python.
    func label(_ f: Int32) -> String {
        let name = profile.strings[profile.frames.name[Int(f)]]
        guard profile.frames.kind[Int(f)] == .python else { return name }
        return "\(name) (\(profile.strings[profile.frames.file[Int(f)]]):\(profile.frames.line[Int(f)]))"
    }

    /// Folded stacks (`thread;outer;...;inner count`), one line per distinct stack, for flamegraph.pl.
    public func folded() -> String {
        var counts: [String: Int] = [:]
        var order: [String] = []
        for i in 0..<profile.samples.count {
            let t = Int(profile.samples.thread[i])
            var parts = ["\(profile.strings[profile.threads.name[t]]) (\(profile.threads.tid[t]))"]
            let stack = profile.samples.stack[i]
            if stack >= 0 { parts += profile.stacks.frames(stack).map { label($0).replacingSemicolons } }
            let key = parts.joined(separator: ";")
            if counts[key] == nil { order.append(key) }
            counts[key, default: 0] += 1
        }
        return order.map { "\($0) \(counts[$0]!)\n" }.joined()
    }

    /// A speedscope file: one sampled profile per thread, weights in nanoseconds.
    public func speedscope() -> String {
        var out = "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\",\"exporter\":\"stepscope\","
        out += "\"name\":\(JSONText.quote(profile.processes.first?.command ?? "stepscope record")),\"shared\":{\"frames\":["
        out += (0..<profile.frames.count).map { f in
            let name = JSONText.quote(profile.strings[profile.frames.name[f]])
            let file = JSONText.quote(profile.strings[profile.frames.file[f]])
            return profile.frames.kind[f] == .python ? "{\"name\":\(name),\"file\":\(file),\"line\":\(profile.frames.line[f])}"
                : "{\"name\":\(name),\"file\":\(file)}"
        }.joined(separator: ",")
        out += "]},\"profiles\":["
        let perThread = samplesByThread()
        out += perThread.indices.compactMap { t -> String? in
            let samples = perThread[t]
            guard let first = samples.first else { return nil }
            let ends = sampleEnds(samples)
            let stacks = samples.map { i -> String in
                let s = profile.samples.stack[i]
                return "[" + (s >= 0 ? profile.stacks.frames(s).map(String.init).joined(separator: ",") : "") + "]"
            }
            let weights = samples.indices.map { String(ends[$0] - profile.samples.time[samples[$0]]) }
            let name = "\(profile.strings[profile.threads.name[t]]) (pid \(profile.threads.pid[t]), tid \(profile.threads.tid[t]))"
            return "{\"type\":\"sampled\",\"name\":\(JSONText.quote(name)),\"unit\":\"nanoseconds\",\"startValue\":0,"
                + "\"endValue\":\(ends.last! - profile.samples.time[first]),\"samples\":[\(stacks.joined(separator: ","))],"
                + "\"weights\":[\(weights.joined(separator: ","))]}"
        }.joined(separator: ",")
        return out + "]}\n"
    }

    /// Sample indices of each thread, in time order.
    func samplesByThread() -> [[Int]] {
        var result = [[Int]](repeating: [], count: profile.threads.count)
        for i in 0..<profile.samples.count { result[Int(profile.samples.thread[i])].append(i) }
        return result
    }

    /// When each sample of one thread ends: at the thread's next sample, at most five mean
    /// intervals later (sampling fell behind or the thread vanished), and one interval for the last.
    func sampleEnds(_ samples: [Int]) -> [Int64] {
        let t = profile.samples.time
        return samples.indices.map { k in
            let start = t[samples[k]]
            guard k + 1 < samples.count else { return start + profile.intervalNs }
            return min(t[samples[k + 1]], start + 5 * profile.intervalNs)
        }
    }

    /// A Chrome trace (JSON object format) that Perfetto opens and `stepscope report` analyses.
    public func chrome() -> String {
        var events: [String] = []
        var warnings: [String] = []
        let perThread = samplesByThread()
        let stepThread = self.stepThread(perThread)
        for (index, process) in profile.processes.enumerated() {
            events.append(meta("process_name", pid: process.pid, tid: 0, name: "\(process.command) (pid \(process.pid))"))
            events.append("{\"ph\":\"M\",\"name\":\"process_sort_index\",\"pid\":\(process.pid),\"tid\":0,\"args\":{\"sort_index\":\(index)}}")
        }
        for t in perThread.indices where !perThread[t].isEmpty {
            let pid = profile.threads.pid[t], tid = profile.threads.tid[t]
            let name = profile.strings[profile.threads.name[t]]
            let samples = perThread[t]
            let ends = sampleEnds(samples)
            events.append(meta("thread_name", pid: pid, tid: phaseTid(tid), name: "\(name) (phases)"))
            events.append(meta("thread_name", pid: pid, tid: Int64(tid), name: name))
            events.append("{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":\(pid),\"tid\":\(phaseTid(tid)),\"args\":{\"sort_index\":\(2 * t)}}")
            events.append("{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":\(pid),\"tid\":\(tid),\"args\":{\"sort_index\":\(2 * t + 1)}}")
            if t == stepThread {
                let found = StepFinder(profile: profile, attributor: attributor).steps(samples, ends)
                if let w = found.warning { warnings.append(w) }
                for (n, step) in found.intervals.enumerated() {
                    events.append(slice("ProfilerStep#\(n)", cat: "user_annotation", pid: pid, tid: phaseTid(tid), step.lowerBound, step.upperBound))
                }
            }
            phaseAndOperatorSlices(samples, ends, pid: pid, tid: tid, into: &events)
            flameChart(samples, ends, pid: pid, tid: tid, into: &events)
        }
        for i in 0..<profile.rss.count {
            events.append("{\"ph\":\"C\",\"name\":\"RSS\",\"cat\":\"memory\",\"pid\":\(profile.rss.pid[i]),\"tid\":0,"
                + "\"ts\":\(micros(profile.rss.time[i])),\"args\":{\"bytes\":\(profile.rss.value[i])}}")
        }
        let notes = warnings.isEmpty ? "" : ",\"warnings\":[" + warnings.map(JSONText.quote).joined(separator: ",") + "]"
        return "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"profiler\":\"stepscope record\",\"interval_ns\":\(profile.intervalNs)\(notes)},"
            + "\"traceEvents\":[\n" + events.joined(separator: ",\n") + "\n]}\n"
    }

    /// The tid of a thread's phase track: phase markers and operators live apart from the frames
    /// so that frame names can never change the phase partition.
    func phaseTid(_ tid: Int32) -> Int64 { 1_000_000_000 + Int64(tid) }

    /// The thread whose phase track carries the steps: the one with the most optimizer samples,
    /// else the most active samples, in the first process.
    func stepThread(_ perThread: [[Int]]) -> Int {
        var best = -1
        var bestKey = (-1, -1)
        for t in perThread.indices where !perThread[t].isEmpty && profile.threads.pid[t] == profile.processes.first?.pid {
            let optimizer = perThread[t].filter { attributor.phase(sample: $0) == .optimizer }.count
            let active = perThread[t].filter { profile.samples.active[$0] }.count
            if (optimizer, active) > bestKey { bestKey = (optimizer, active); best = t }
        }
        return best
    }

    /// The steps of the step thread (docs/sampler.md, "Steps"), nil when nothing was sampled.
    public func steps() -> SampledSteps? {
        let perThread = samplesByThread()
        let t = stepThread(perThread)
        guard t >= 0 else { return nil }
        return StepFinder(profile: profile, attributor: attributor).steps(perThread[t], sampleEnds(perThread[t]))
    }

    /// Phase markers (runs of samples with one phase, idle left empty) with nested operator slices.
    func phaseAndOperatorSlices(_ samples: [Int], _ ends: [Int64], pid: Int32, tid: Int32, into events: inout [String]) {
        var runStart = 0
        for k in 1...samples.count {
            let phase = attributor.phase(sample: samples[runStart])
            let contiguous = k < samples.count && ends[k - 1] == profile.samples.time[samples[k]]
            if k < samples.count && contiguous && attributor.phase(sample: samples[k]) == phase { continue }
            if phase != .idle {
                let start = profile.samples.time[samples[runStart]]
                events.append(slice(Self.markerName(phase), cat: "sampled_phase", pid: pid, tid: phaseTid(tid), start, ends[k - 1]))
                nested(samples[runStart..<k], ends[runStart..<k], pid: pid, tid: phaseTid(tid), cat: "cpu_op",
                       path: { self.attributor.operators(sample: $0) }, into: &events, slice: { ($0, "") })
            }
            runStart = k
        }
    }

    /// The flame chart of a thread: consecutive samples sharing a frame prefix merge into one slice.
    func flameChart(_ samples: [Int], _ ends: [Int64], pid: Int32, tid: Int32, into events: inout [String]) {
        nested(samples[...], ends[...], pid: pid, tid: Int64(tid), cat: "python_function", path: { i in
            let s = self.profile.samples.stack[i]
            return s >= 0 ? self.profile.stacks.frames(s) : []
        }, into: &events, slice: { f in
            let file = JSONText.quote(self.profile.strings[self.profile.frames.file[Int(f)]])
            let native = self.profile.frames.kind[Int(f)] == .native
            return (self.profile.strings[self.profile.frames.name[Int(f)]],
                    native ? "\"module\":\(file)" : "\"file\":\(file),\"line\":\(self.profile.frames.line[Int(f)])")
        })
    }

    /// Nested slices from per-sample paths (outermost first): a slice stays open while consecutive,
    /// contiguous samples share the path up to it. Each slice is written where it opened, so a
    /// caller always precedes its callees, also when both have the same start and duration (the
    /// importer keeps file order for such ties, as Kineto writes parents first).
    func nested<T: Equatable>(_ samples: ArraySlice<Int>, _ ends: ArraySlice<Int64>, pid: Int32, tid: Int64, cat: String,
                              path: (Int) -> [T], into events: inout [String], slice: (T) -> (String, String)) {
        var open: [(item: T, start: Int64, slot: Int)] = []
        var lastEnd: Int64 = 0
        func close(to depth: Int, at time: Int64) {
            while open.count > depth {
                let o = open.removeLast()
                let (name, args) = slice(o.item)
                events[o.slot] = self.slice(name, cat: cat, pid: pid, tid: tid, o.start, time, args: args)
            }
        }
        for (i, end) in zip(samples, ends) {
            let start = profile.samples.time[i]
            if start != lastEnd { close(to: 0, at: lastEnd) }
            let items = path(i)
            var common = 0
            while common < open.count && common < items.count && open[common].item == items[common] { common += 1 }
            close(to: common, at: start)
            for item in items[common...] {
                open.append((item, start, events.count))
                events.append("")  // filled when the slice closes
            }
            lastEnd = end
        }
        close(to: 0, at: lastEnd)
    }

    /// A name that the trace analysis's built-in rules give `phase` (docs/definitions.md).
    public static func markerName(_ phase: Phase) -> String {
        switch phase {
        case .data: return "[sampled] data loading"
        case .forward: return "[sampled] forward"
        case .backward: return "[sampled] backward"
        case .optimizer: return "[sampled] optimizer"
        case .communication: return "c10d::[sampled] communication"
        case .startup: return "[sampled] startup"
        case .other, .idle: return "[sampled] other"
        }
    }

    func slice(_ name: String, cat: String, pid: Int32, tid: Int64, _ start: Int64, _ end: Int64, args: String = "") -> String {
        "{\"ph\":\"X\",\"cat\":\"\(cat)\",\"name\":\(JSONText.quote(name)),\"pid\":\(pid),\"tid\":\(tid),"
            + "\"ts\":\(micros(start)),\"dur\":\(micros(end - start))" + (args.isEmpty ? "}" : ",\"args\":{\(args)}}")
    }

    func meta(_ what: String, pid: Int32, tid: Int64, name: String) -> String {
        "{\"ph\":\"M\",\"name\":\"\(what)\",\"pid\":\(pid),\"tid\":\(tid),\"args\":{\"name\":\(JSONText.quote(name))}}"
    }

    /// Nanoseconds as exact decimal microseconds.
    func micros(_ ns: Int64) -> String {
        let frac = ns % 1000
        let pad = frac < 10 ? "00" : frac < 100 ? "0" : ""
        return "\(ns / 1000).\(pad)\(frac)"
    }
}

extension String {
    /// Semicolons separate frames in folded stacks: replaced by commas inside a frame.
    var replacingSemicolons: String { String(map { $0 == ";" ? "," : $0 }) }
}
