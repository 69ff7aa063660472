import Analysis
import TraceModel

// Reading a summary back: every field checked, so a hostile file is a one-line error naming the
// file and the field (`ranks[2].steps[5][2]: ...`), never a crash.
extension SummaryFile {
    /// Whether `bytes` (the start of a document; `complete` when they are all of it) are a summary
    /// file: a JSON object whose `schema` member, found before any `traceEvents`, names this schema.
    /// Nil when the bytes end before it can be told.
    public static func isSummary(_ bytes: [UInt8], complete: Bool) -> Bool? {
        savedSchema(bytes, complete: complete).map { $0 == schema }
    }

    /// The `schema` of a saved stepscope file (a summary or a samples file) at the start of
    /// `bytes`, "" for anything else (a trace), nil when the bytes end before it can be told.
    public static func savedSchema(_ bytes: [UInt8], complete: Bool) -> String? {
        switch JSONValue.firstMember(among: ["schema", "traceEvents"], in: bytes) {
        case let .found(name, value?):
            guard name == "schema" else { return "" }
            return (try? JSONValue.parse(Array(bytes[value])))?.string ?? ""
        case let .found(name, nil):
            return name == "schema" && !complete ? nil : ""
        case .absent: return ""
        case .truncated: return complete ? "" : nil
        }
    }

    /// Parses a summary file into its ranks' reports; without `samples` (a report, which does not
    /// read them) the diff's rows are skipped unread and the reports have none.
    public static func decode(_ bytes: [UInt8], file: String, samples: Bool = true) throws(ImportError) -> [RankReport] {
        let doc: JSONValue
        do throws(JSONValueError) { doc = try JSONValue.parse(bytes, skipping: samples ? [] : ["samples"]) } catch {
            throw ImportError(file: file, offset: Int64(error.offset), message: error.message)
        }
        var d = Decoder(file: file, samples: samples)
        guard doc["schema"]?.string == schema else { throw d.fail("schema", "not a stepscope summary file") }
        guard let v = doc["version"]?.int, readableVersions.contains(v) else {
            throw d.fail("version", "unsupported summary version (this build reads \(readableVersions.lowerBound) to \(readableVersions.upperBound))")
        }
        d.version = v
        var ranks: [RankReport] = []
        for (i, r) in try d.array(doc["ranks"], "ranks").enumerated() { ranks.append(try d.rank(r, "ranks[\(i)]")) }
        return ranks
    }
}

/// Typed reads of a summary's values; each failure names the field.
private struct Decoder {
    let file: String
    /// Whether the diff's rows are read (else skipped: `samples` nil).
    let samples: Bool
    /// The file's version: 1 has no efficiency figures, 1 and 2 no collectives' share bytes and no
    /// memory `operator_peak`.
    var version = SummaryFile.version

    func fail(_ field: String, _ message: String) -> ImportError { ImportError(file: file, message: "\(field): \(message)") }

    func int(_ v: JSONValue?, _ field: String, min: Int64 = -SummaryFile.limit, max: Int64 = SummaryFile.limit) throws(ImportError) -> Int64 {
        guard case let .number(t)? = v, let n = Int64(t) else { throw fail(field, "expected an integer") }
        guard n >= min && n <= max else { throw fail(field, "\(n) is out of range (\(min)...\(max))") }
        return n
    }
    func count(_ v: JSONValue?, _ field: String) throws(ImportError) -> Int { Int(try int(v, field, min: 0, max: SummaryFile.durationLimit)) }
    /// A duration, size or count: 0...2^59.
    func ns(_ v: JSONValue?, _ field: String) throws(ImportError) -> Int64 { try int(v, field, min: 0, max: SummaryFile.durationLimit) }
    func optionalInt(_ v: JSONValue?, _ field: String, min: Int64 = -SummaryFile.limit) throws(ImportError) -> Int64? {
        if v == nil || v == .null { return nil }
        return try int(v, field, min: min)
    }
    func string(_ v: JSONValue?, _ field: String) throws(ImportError) -> String {
        guard case let .string(s)? = v else { throw fail(field, "expected a string") }
        return s
    }
    func optionalString(_ v: JSONValue?, _ field: String) throws(ImportError) -> String? {
        if v == nil || v == .null { return nil }
        return try string(v, field)
    }
    func bool(_ v: JSONValue?, _ field: String) throws(ImportError) -> Bool {
        guard case let .bool(b)? = v else { throw fail(field, "expected true or false") }
        return b
    }
    func flag(_ v: JSONValue?, _ field: String) throws(ImportError) -> Bool {
        let n = try int(v, field)
        guard n == 0 || n == 1 else { throw fail(field, "expected 0 or 1") }
        return n == 1
    }
    func double(_ v: JSONValue?, _ field: String) throws(ImportError) -> Double {
        guard case let .number(t)? = v, let d = Double(t), d.isFinite else { throw fail(field, "expected a finite number") }
        return d
    }
    func array(_ v: JSONValue?, _ field: String, count: Int? = nil) throws(ImportError) -> [JSONValue] {
        guard case let .array(a)? = v else { throw fail(field, "expected an array") }
        if let count, a.count != count { throw fail(field, "expected \(count) elements, found \(a.count)") }
        return a
    }
    func object(_ v: JSONValue?, _ field: String) throws(ImportError) -> [(String, JSONValue)] {
        guard case let .object(m)? = v else { throw fail(field, "expected an object") }
        return m
    }
    func phase(_ v: JSONValue?, _ field: String) throws(ImportError) -> Phase {
        guard let p = Phase(rawValue: Int(try int(v, field))) else { throw fail(field, "unknown phase") }
        return p
    }
    func kind(_ v: JSONValue?, _ field: String) throws(ImportError) -> SliceKind {
        let n = try int(v, field)
        guard let k = UInt8(exactly: n).flatMap(SliceKind.init(rawValue:)) else { throw fail(field, "unknown slice kind") }
        return k
    }

    func phases(_ v: JSONValue?, _ field: String) throws(ImportError) -> PhaseTimes {
        var t = PhaseTimes()
        for (p, x) in zip(Phase.allCases, try array(v, field, count: Phase.allCases.count)) { t[p] = try ns(x, "\(field)[\(p.rawValue)]") }
        return t
    }

    func breakdown(_ v: JSONValue?, _ field: String) throws(ImportError) -> GPUBreakdown? {
        if v == .null { return nil }
        let a = try array(v, field, count: 8)
        var g = GPUBreakdown()
        var values: [Int64] = []
        for k in 0..<7 { values.append(try ns(a[k], "\(field)[\(k)]")) }
        (g.busy, g.idle, g.compute, g.communication, g.memcpy, g.memset, g.overlappedCommunication)
            = (values[0], values[1], values[2], values[3], values[4], values[5], values[6])
        let causes = try array(a[7], "\(field)[7]", count: IdleCause.allCases.count)
        for (k, c) in causes.enumerated() { g.idleByCause[k] = try ns(c, "\(field)[7][\(k)]") }
        return g
    }

    func op(_ v: JSONValue, _ f: String) throws(ImportError) -> OperatorStat {
        let a = try array(v, f, count: version == 1 ? 8 : 9)
        var o = OperatorStat(name: try string(a[0], "\(f)[0]"), shape: try optionalString(a[1], "\(f)[1]"), kind: try kind(a[2], "\(f)[2]"))
        o.count = try count(a[3], "\(f)[3]")
        (o.totalNs, o.selfNs, o.gpuNs) = (try ns(a[4], "\(f)[4]"), try int(a[5], "\(f)[5]"), try ns(a[6], "\(f)[6]"))
        for (k, x) in try array(a[7], "\(f)[7]").enumerated() {
            let g = "\(f)[7][\(k)]", p = try array(x, g, count: 5)
            o.byPhase[try phase(p[0], "\(g)[0]")] = OperatorPhaseStat(count: try count(p[1], "\(g)[1]"), totalNs: try ns(p[2], "\(g)[2]"),
                                                                       selfNs: try int(p[3], "\(g)[3]"), gpuNs: try ns(p[4], "\(g)[4]"))
        }
        if version > 1 && a[8] != .null { o.work = try work(a[8], "\(f)[8]") }
        return o
    }

    func precision(_ v: JSONValue?, _ field: String) throws(ImportError) -> Precision? {
        guard let p = try optionalString(v, field) else { return nil }
        guard let x = Precision(rawValue: p) else { throw fail(field, "unknown precision") }
        return x
    }
    /// A non-negative finite number.
    func amount(_ v: JSONValue?, _ field: String) throws(ImportError) -> Double {
        let d = try double(v, field)
        guard d >= 0 else { throw fail(field, "\(d) is negative") }
        return d
    }
    func optionalAmount(_ v: JSONValue?, _ field: String) throws(ImportError) -> Double? {
        if v == nil || v == .null { return nil }
        return try amount(v, field)
    }

    func work(_ v: JSONValue, _ f: String) throws(ImportError) -> OperatorWork {
        let a = try array(v, f, count: 10)
        guard let kind = WorkKind(rawValue: try string(a[0], "\(f)[0]")) else { throw fail("\(f)[0]", "unknown work kind") }
        var w = OperatorWork(kind: kind)
        w.calls = try count(a[1], "\(f)[1]")
        (w.flops, w.bytes) = (try int(a[2], "\(f)[2]", min: 0), try int(a[3], "\(f)[3]", min: 0))
        (w.deviceNs, w.rooflineDeviceNs) = (try ns(a[4], "\(f)[4]"), try ns(a[5], "\(f)[5]"))
        (w.rooflineNs, w.computeBoundNs, w.memoryBoundNs) = (try amount(a[6], "\(f)[6]"), try amount(a[7], "\(f)[7]"), try amount(a[8], "\(f)[8]"))
        w.precision = try precision(a[9], "\(f)[9]")
        return w
    }

    func efficiency(_ v: JSONValue?, _ f: String) throws(ImportError) -> RankEfficiency? {
        if version == 1 || v == .null { return nil }
        _ = try object(v, f)
        var peaks: DevicePeaks?
        if let p = v?["peaks"], p != .null {
            let a = try array(p, "\(f).peaks", count: 3)
            var tflops: [String: Double] = [:]
            for (i, x) in try array(a[2], "\(f).peaks[2]").enumerated() {
                let t = try array(x, "\(f).peaks[2][\(i)]", count: 2)
                tflops[try string(t[0], "\(f).peaks[2][\(i)][0]")] = try amount(t[1], "\(f).peaks[2][\(i)][1]")
            }
            peaks = DevicePeaks(name: try string(a[0], "\(f).peaks[0]"), tflops: tflops, memoryGBps: try amount(a[1], "\(f).peaks[1]"))
        }
        var steps: [EfficiencySummary] = []
        for (i, x) in try array(v?["steps"], "\(f).steps").enumerated() { steps.append(try summary(x, "\(f).steps[\(i)]")) }
        var kernels: [String: Precision] = [:]
        for (i, x) in try array(v?["kernel_precision"], "\(f).kernel_precision").enumerated() {
            let g = "\(f).kernel_precision[\(i)]", a = try array(x, g, count: 2)
            guard let p = try precision(a[1], "\(g)[1]") else { throw fail("\(g)[1]", "expected a string") }
            kernels[try string(a[0], "\(g)[0]")] = p
        }
        return RankEfficiency(deviceName: try optionalString(v?["device_name"], "\(f).device_name"), peaks: peaks, steps: steps,
                              total: try summary(v?["total"], "\(f).total"), modelledCalls: try count(v?["modelled_calls"], "\(f).modelled_calls"),
                              unmodelledCalls: try count(v?["unmodelled_calls"], "\(f).unmodelled_calls"), kernelPrecision: kernels)
    }

    func summary(_ v: JSONValue?, _ f: String) throws(ImportError) -> EfficiencySummary {
        let a = try array(v, f, count: 8)
        var shares: [PrecisionShare] = []
        for (i, x) in try array(a[4], "\(f)[4]").enumerated() {
            let g = "\(f)[4][\(i)]", p = try array(x, g, count: 3)
            shares.append(PrecisionShare(precision: try precision(p[0], "\(g)[0]"), deviceNs: try ns(p[1], "\(g)[1]"),
                                         flops: try int(p[2], "\(g)[2]", min: 0)))
        }
        return EfficiencySummary(step: try optionalString(a[0], "\(f)[0]"), durationNs: try ns(a[1], "\(f)[1]"),
                                 busyNs: try optionalInt(a[2], "\(f)[2]", min: 0), flops: try int(a[3], "\(f)[3]", min: 0),
                                 byPrecision: shares, dominant: try precision(a[5], "\(f)[5]"),
                                 mfu: try optionalAmount(a[6], "\(f)[6]"), busyUtilization: try optionalAmount(a[7], "\(f)[7]"))
    }

    func rank(_ v: JSONValue, _ f: String) throws(ImportError) -> RankReport {
        let rankNumber = Int(try count(v["rank"], "\(f).rank"))
        let source = try string(v["source"], "\(f).source")
        var steps: [Step] = []
        for (i, s) in try array(v["steps"], "\(f).steps").enumerated() {
            let g = "\(f).steps[\(i)]", a = try array(s, g, count: 7)
            var step = Step(name: try string(a[0], "\(g)[0]"), start: try int(a[1], "\(g)[1]"), dur: try ns(a[2], "\(g)[2]"),
                            slice: try flag(a[3], "\(g)[3]") ? 0 : -1, phases: try phases(a[5], "\(g)[5]"), gpu: try breakdown(a[6], "\(g)[6]"))
            step.truncated = try flag(a[4], "\(g)[4]")
            steps.append(step)
        }
        var operators: [OperatorStat] = [], python: [OperatorStat] = [], kernels: [KernelStat] = []
        for (i, o) in try array(v["ops"], "\(f).ops").enumerated() { operators.append(try op(o, "\(f).ops[\(i)]")) }
        for (i, o) in try array(v["python_functions"], "\(f).python_functions").enumerated() {
            python.append(try op(o, "\(f).python_functions[\(i)]"))
        }
        for (i, k) in try array(v["kernels"], "\(f).kernels").enumerated() {
            let g = "\(f).kernels[\(i)]", a = try array(k, g, count: 5)
            var stat = KernelStat(name: try string(a[0], "\(g)[0]"), kind: try kind(a[1], "\(g)[1]"))
            stat.count = try count(a[2], "\(g)[2]")
            stat.totalNs = try ns(a[3], "\(g)[3]")
            for (j, x) in try array(a[4], "\(g)[4]").enumerated() {
                let p = try array(x, "\(g)[4][\(j)]", count: 2)
                stat.byPhase[try phase(p[0], "\(g)[4][\(j)][0]")] = try ns(p[1], "\(g)[4][\(j)][1]")
            }
            kernels.append(stat)
        }
        var analysis = RankAnalysis(rank: rankNumber, source: source, steps: steps, stepsInferred: try bool(v["steps_inferred"], "\(f).steps_inferred"),
                                    phases: try phases(v["phases"], "\(f).phases"), gpu: try breakdown(v["gpu"], "\(f).gpu"),
                                    operators: operators, kernels: kernels, gpuActivityNs: try ns(v["gpu_activity_ns"], "\(f).gpu_activity_ns"))
        analysis.efficiency = try efficiency(v["efficiency"], "\(f).efficiency")
        var hostBound: [HostBoundActivity] = []
        for (i, h) in try array(v["host_bound"], "\(f).host_bound").enumerated() {
            let g = "\(f).host_bound[\(i)]", a = try array(h, g, count: 3)
            var top: [HostSlice] = []
            for (j, x) in try array(a[2], "\(g)[2]").enumerated() {
                let t = try array(x, "\(g)[2][\(j)]", count: 3)
                top.append(HostSlice(name: try string(t[0], "\(g)[2][\(j)][0]"), python: try flag(t[1], "\(g)[2][\(j)][1]"), ns: try ns(t[2], "\(g)[2][\(j)][2]")))
            }
            hostBound.append(HostBoundActivity(step: try string(a[0], "\(g)[0]"), hostBound: try ns(a[1], "\(g)[1]"), top: top))
        }
        var eventCounts: [(phase: String, count: Int)] = []
        for (k, n) in try object(v["event_counts"], "\(f).event_counts") { eventCounts.append((k, try count(n, "\(f).event_counts"))) }
        var warnings = Warnings()
        for (i, x) in try array(v["warnings"], "\(f).warnings").enumerated() {
            let g = "\(f).warnings[\(i)]", a = try array(x, g, count: 3)
            let example = try string(a[2], "\(g)[2]")
            warnings.add(try string(a[0], "\(g)[0]"), count: try count(a[1], "\(g)[1]"), example)
        }
        var memory: [DeviceMemory] = []
        for (i, m) in try array(v["memory"], "\(f).memory").enumerated() { memory.append(try device(m, "\(f).memory[\(i)]")) }
        var collectives: [CollectiveInstance] = []
        for (i, c) in try array(v["collectives"], "\(f).collectives").enumerated() {
            let g = "\(f).collectives[\(i)]", a = try array(c, g, count: version < 3 ? 11 : 12)
            let start = try int(a[3], "\(g)[3]")
            if let previous = collectives.last, start < previous.start { throw fail(g, "collectives out of arrival order") }
            collectives.append(CollectiveInstance(
                rank: rankNumber, group: try string(a[0], "\(g)[0]"), seq: try optionalInt(a[1], "\(g)[1]").map(Int.init),
                name: try string(a[2], "\(g)[2]"), start: start, dur: try ns(a[4], "\(g)[4]"), bytes: try optionalInt(a[5], "\(g)[5]", min: 0),
                shareBytes: version < 3 ? nil : try optionalInt(a[11], "\(g)[11]", min: 0),
                groupSize: try optionalInt(a[6], "\(g)[6]", min: 0).map(Int.init), dtype: try optionalString(a[7], "\(g)[7]"),
                exposed: try optionalInt(a[8], "\(g)[8]", min: 0), algorithm: try optionalString(a[9], "\(g)[9]"),
                step: try optionalString(a[10], "\(g)[10]")))
        }
        var tiles: [ActivityTile] = []
        for (i, t) in try array(v["tiles"], "\(f).tiles").enumerated() {
            let g = "\(f).tiles[\(i)]", a = try array(t, g, count: 4)
            let lo = try int(a[0], "\(g)[0]"), hi = try int(a[1], "\(g)[1]")
            guard lo < hi, tiles.last.map({ lo >= $0.window.upperBound }) ?? true else { throw fail(g, "tiles must be non-empty and in order") }
            let p = try phases(a[2], "\(g)[2]")
            var top: [NamedTime] = []
            for (j, x) in try array(a[3], "\(g)[3]").enumerated() {
                let n = try array(x, "\(g)[3][\(j)]", count: 2)
                top.append(NamedTime(name: try string(n[0], "\(g)[3][\(j)][0]"), ns: try ns(n[1], "\(g)[3][\(j)][1]")))
            }
            // A tile's times lie within it, so sums over tiles stay within the run's span.
            guard p.total <= hi - lo, top.allSatisfy({ $0.ns <= hi - lo }) else { throw fail(g, "more time than the tile spans") }
            tiles.append(ActivityTile(window: lo..<hi, phases: p, top: top))
        }
        let samples = self.samples ? try self.samples(v["samples"], "\(f).samples") : nil
        return RankReport(analysis: analysis, hostBound: hostBound, pythonFunctions: python,
                          stepStats: StepStats(steps.filter { !$0.truncated }.map(\.dur)), eventCounts: eventCounts,
                          warnings: warnings.entries, metadata: try metadata(v["metadata"], "\(f).metadata"), memory: memory,
                          collectives: collectives, tiles: tiles, samples: samples)
    }

    func metadata(_ v: JSONValue?, _ f: String) throws(ImportError) -> TraceMetadata {
        _ = try object(v, f)
        var m = TraceMetadata()
        m.hostName = try optionalString(v?["host_name"], "\(f).host_name")
        if let k = try optionalString(v?["device_kind"], "\(f).device_kind") {
            guard let kind = DeviceKind(rawValue: k) else { throw fail("\(f).device_kind", "unknown device kind") }
            m.deviceKind = kind
        }
        if let d = v?["distributed"] {
            _ = try object(d, "\(f).distributed")
            var info = DistributedInfo()
            info.backend = try optionalString(d["backend"], "\(f).distributed.backend")
            info.rank = try optionalInt(d["rank"], "\(f).distributed.rank", min: 0).map(Int.init)
            info.worldSize = try optionalInt(d["world_size"], "\(f).distributed.world_size", min: 0).map(Int.init)
            m.distributed = info
        }
        for (i, x) in try array(v?["devices"], "\(f).devices").enumerated() {
            let g = "\(f).devices[\(i)]", a = try array(x, g, count: 4)
            m.devices.append(DeviceInfo(id: Int(try int(a[0], "\(g)[0]")), name: try string(a[1], "\(g)[1]"),
                                        totalGlobalMemory: try optionalInt(a[2], "\(g)[2]", min: 0),
                                        smCount: try optionalInt(a[3], "\(g)[3]", min: 0).map(Int.init)))
        }
        return m
    }

    func device(_ v: JSONValue, _ f: String) throws(ImportError) -> DeviceMemory {
        _ = try object(v, f)
        var d = DeviceMemory(deviceType: Int(try int(v["type"], "\(f).type")), deviceID: Int(try int(v["id"], "\(f).id")),
                             name: try string(v["name"], "\(f).name"))
        d.peakAllocated = try int(v["peak_bytes"], "\(f).peak_bytes")
        d.peakTs = try int(v["peak_ts_ns"], "\(f).peak_ts_ns")
        d.reservedAtPeak = try optionalInt(v["reserved_at_peak_bytes"], "\(f).reserved_at_peak_bytes")
        d.initialAllocated = try int(v["initial_bytes"], "\(f).initial_bytes")
        d.derivedSamples = try count(v["derived_samples"], "\(f).derived_samples")
        d.unmatchedFrees = try count(v["unmatched_frees"], "\(f).unmatched_frees")
        d.reusedLiveAddresses = try count(v["reused_live_addresses"], "\(f).reused_live_addresses")
        d.unaddressedEvents = try count(v["unaddressed_events"], "\(f).unaddressed_events")
        for (i, x) in try array(v["step_peaks"], "\(f).step_peaks").enumerated() {
            let g = "\(f).step_peaks[\(i)]", a = try array(x, g, count: 3)
            d.stepPeaks.append(StepMemoryPeak(step: try string(a[0], "\(g)[0]"), peak: try int(a[1], "\(g)[1]"), ts: try int(a[2], "\(g)[2]")))
        }
        for (i, x) in try array(v["top_live"], "\(f).top_live").enumerated() {
            let g = "\(f).top_live[\(i)]", a = try array(x, g, count: 5)
            d.liveAtPeak.append(LiveAllocationGroup(op: try string(a[0], "\(g)[0]"), phase: try phase(a[1], "\(g)[1]"),
                                                    module: try optionalString(a[2], "\(g)[2]"), bytes: try int(a[3], "\(g)[3]"),
                                                    count: try count(a[4], "\(g)[4]")))
        }
        if version > 2, let p = v["operator_peak"], p != .null {
            let g = "\(f).operator_peak", a = try array(p, g, count: 4)
            d.operatorPeak = OperatorAllocationPeak(bytes: try int(a[0], "\(g)[0]", min: 0), ts: try int(a[1], "\(g)[1]"),
                                                    allocations: try count(a[2], "\(g)[2]"), unreleased: try count(a[3], "\(g)[3]"))
        }
        return d
    }

    func metricKey(_ kind: JSONValue, _ name: JSONValue, _ f: String) throws(ImportError) -> MetricKey {
        guard let k = MetricKind(rawValue: try string(kind, "\(f)[0]")) else { throw fail("\(f)[0]", "unknown metric kind") }
        return MetricKey(k, try string(name, "\(f)[1]"))
    }

    func numbers(_ v: JSONValue, _ f: String, count: Int? = nil) throws(ImportError) -> [Double] {
        var out: [Double] = []
        for (i, x) in try array(v, f, count: count).enumerated() { out.append(try double(x, "\(f)[\(i)]")) }
        return out
    }

    func samples(_ v: JSONValue?, _ f: String) throws(ImportError) -> RankSamples {
        _ = try object(v, f)
        var s = RankSamples()
        for (i, x) in try array(v?["steps"], "\(f).steps").enumerated() { s.steps.append(try string(x, "\(f).steps[\(i)]")) }
        let columns = s.steps.count
        for (i, x) in try array(v?["metrics"], "\(f).metrics").enumerated() {
            let g = "\(f).metrics[\(i)]", a = try array(x, g, count: 3)
            s.metrics[try metricKey(a[0], a[1], g)] = try numbers(a[2], "\(g)[2]", count: columns)
        }
        for (i, x) in try array(v?["shape_metrics"], "\(f).shape_metrics").enumerated() {
            let g = "\(f).shape_metrics[\(i)]", a = try array(x, g, count: 4)
            s.shapeMetrics[try metricKey(a[0], a[1], g), default: [:]][try string(a[2], "\(g)[2]")] = try numbers(a[3], "\(g)[3]", count: columns)
        }
        for (i, x) in try array(v?["call_samples"], "\(f).call_samples").enumerated() {
            let g = "\(f).call_samples[\(i)]", a = try array(x, g, count: 3)
            var lists: [[Double]] = []
            for (j, l) in try array(a[2], "\(g)[2]", count: columns).enumerated() { lists.append(try numbers(l, "\(g)[2][\(j)]")) }
            s.callSamples[try metricKey(a[0], a[1], g)] = lists
        }
        s.parts = []
        for (i, x) in try array(v?["parts"], "\(f).parts").enumerated() {
            let g = "\(f).parts[\(i)]", a = try array(x, g, count: 3)
            if i == 0 {
                guard a[0] == .null else { throw fail("\(g)[0]", "the first part is the untruncated steps' (null)") }
            } else {
                let c = try count(a[0], "\(g)[0]")
                guard c < columns else { throw fail("\(g)[0]", "column \(c) of \(columns)") }
                s.partColumns.append(c)
            }
            var part = RankSamples.Part()
            for (k, n) in try object(a[1], "\(g)[1]") { part.folded[k] = try double(n, "\(g)[1]") }
            for (k, n) in try object(a[2], "\(g)[2]") { part.calls[k] = try double(n, "\(g)[2]") }
            s.parts.append(part)
        }
        guard !s.parts.isEmpty else { throw fail("\(f).parts", "missing the untruncated steps' part") }
        return s
    }
}
