import Analysis
import Formatting
import TraceModel

/// A per-rank summary (`stepscope summary TRACE -o FILE`, docs/scale.md): each rank's report
/// (`RankReport`: steps, phases, operator and kernel tables, device breakdown, memory peaks,
/// collective instances with their activity tiles, the diff's rows) as JSON, so `report`,
/// `diff` and the UI reduce a run from its summaries as they do from its traces. Schema
/// `stepscope.summary`, version 3 (versions 1, without the efficiency figures, and 2, without
/// collectives' share bytes and memory's operator peak, are still read).
public enum SummaryFile {
    public static let schema = "stepscope.summary"
    public static let version = 3
    /// The versions this build reads: 1 has no efficiency figures (`efficiency` and the operator
    /// rows' work); 1 and 2 have no share bytes in collective rows and no `operator_peak`.
    static let readableVersions = 1...3
    /// Bound on every integer in a file (2^61, past epoch nanoseconds); durations, sizes and
    /// counts stay within `durationLimit` (2^59), so sums of a few and differences of times stay
    /// within 64 bits (a run's times must also span less than `spanLimit`, checked by the reduce).
    static let limit: Int64 = 1 << 61
    static let durationLimit: Int64 = 1 << 59
    /// The most a run of summaries may span (its earliest start to its latest end): 2^59 ns, 18 years.
    public static let spanLimit: Int64 = 1 << 59

    // MARK: Encoding

    /// The ranks' reports as JSON text (each with its `samples`).
    public static func encode(_ ranks: [RankReport]) -> String {
        let w = JSONWriter()
        w.object {
            w.key("schema"); w.string(schema)
            w.key("version"); w.int(version)
            w.key("ranks"); w.array { for r in ranks { rank(w, r) } }
        }
        return w.output + "\n"
    }

    private static func rank(_ w: JSONWriter, _ r: RankReport) {
        let a = r.analysis
        w.object {
            w.key("rank"); w.int(a.rank)
            w.key("source"); w.string(a.source)
            metadata(w, r.metadata)
            w.key("steps_inferred"); w.raw(a.stepsInferred ? "true" : "false")
            // [name, start, dur, from a slice (1) or the whole trace (0), truncated, phases, device|null]
            w.key("steps")
            w.array {
                for s in a.steps {
                    w.array {
                        w.string(s.name); w.int(s.start); w.int(s.dur); w.int(s.slice >= 0 ? 1 : 0); w.int(s.truncated ? 1 : 0)
                        phases(w, s.phases); breakdown(w, s.gpu)
                    }
                }
            }
            w.key("phases"); phases(w, a.phases)
            w.key("gpu"); breakdown(w, a.gpu)
            w.key("gpu_activity_ns"); w.int(a.gpuActivityNs)
            // [name, shape|null, kind, count, total, self, device, [[phase, count, total, self, device]], work|null]
            w.key("ops"); w.array { for o in a.operators { op(w, o) } }
            w.key("python_functions"); w.array { for o in r.pythonFunctions { op(w, o) } }
            // [name, kind, count, total, [[phase, ns]]]
            w.key("kernels")
            w.array {
                for k in a.kernels {
                    w.array {
                        w.string(k.name); w.int(k.kind.rawValue); w.int(k.count); w.int(k.totalNs)
                        w.array { for p in Phase.allCases { if let v = k.byPhase[p] { w.array { w.int(p.rawValue); w.int(v) } } } }
                    }
                }
            }
            w.key("efficiency"); efficiency(w, a.efficiency)
            // [step, ns, [[name, python 0|1, ns]]]
            w.key("host_bound")
            w.array {
                for h in r.hostBound {
                    w.array {
                        w.string(h.step); w.int(h.hostBound)
                        w.array { for x in h.top { w.array { w.string(x.name); w.int(x.python ? 1 : 0); w.int(x.ns) } } }
                    }
                }
            }
            w.key("event_counts"); w.object { for e in r.eventCounts { w.key(e.phase); w.int(e.count) } }
            w.key("warnings"); w.array { for x in r.warnings { w.array { w.string(x.code); w.int(x.count); w.string(x.example) } } }
            w.key("memory"); w.array { for d in r.memory { memory(w, d) } }
            // [group, seq|null, name, start, dur, bytes|null, group size|null, dtype|null, exposed|null, algorithm|null, step|null,
            //  share bytes|null]
            w.key("collectives")
            w.array {
                for c in r.collectives {
                    w.array {
                        w.string(c.group); optional(w, c.seq); w.string(c.name); w.int(c.start); w.int(c.dur); optional(w, c.bytes)
                        optional(w, c.groupSize); optional(w, c.dtype); optional(w, c.exposed); optional(w, c.algorithm); optional(w, c.step)
                        optional(w, c.shareBytes)
                    }
                }
            }
            // [start, end, phases, [[name, ns]]]
            w.key("tiles")
            w.array {
                for t in r.tiles {
                    w.array {
                        w.int(t.window.lowerBound); w.int(t.window.upperBound); phases(w, t.phases)
                        w.array { for x in t.top { w.array { w.string(x.name); w.int(x.ns) } } }
                    }
                }
            }
            if let s = r.samples { samples(w, s) }
        }
    }

    private static func metadata(_ w: JSONWriter, _ m: TraceMetadata) {
        w.key("metadata")
        w.object {
            if let h = m.hostName { w.key("host_name"); w.string(h) }
            if let k = m.deviceKind { w.key("device_kind"); w.string(k.rawValue) }
            if let d = m.distributed {
                w.key("distributed")
                w.object {
                    if let b = d.backend { w.key("backend"); w.string(b) }
                    if let r = d.rank { w.key("rank"); w.int(r) }
                    if let ws = d.worldSize { w.key("world_size"); w.int(ws) }
                }
            }
            // [id, name, total memory|null, SM count|null]
            w.key("devices")
            w.array { for d in m.devices { w.array { w.int(d.id); w.string(d.name); optional(w, d.totalGlobalMemory); optional(w, d.smCount) } } }
        }
    }

    private static func op(_ w: JSONWriter, _ o: OperatorStat) {
        w.array {
            w.string(o.name); optional(w, o.shape); w.int(o.kind.rawValue); w.int(o.count); w.int(o.totalNs); w.int(o.selfNs); w.int(o.gpuNs)
            w.array {
                for p in Phase.allCases {
                    guard let s = o.byPhase[p] else { continue }
                    w.array { w.int(p.rawValue); w.int(s.count); w.int(s.totalNs); w.int(s.selfNs); w.int(s.gpuNs) }
                }
            }
            // [kind, calls, flops, bytes, device, roofline device, at roofline, compute-bound, memory-bound, precision|null]
            if let k = o.work {
                w.array {
                    w.string(k.kind.rawValue); w.int(k.calls); w.int(k.flops); w.int(k.bytes); w.int(k.deviceNs); w.int(k.rooflineDeviceNs)
                    w.raw(number(k.rooflineNs)); w.raw(number(k.computeBoundNs)); w.raw(number(k.memoryBoundNs)); optional(w, k.precision?.rawValue)
                }
            } else {
                w.null()
            }
        }
    }

    /// A rank's efficiency figures (docs/efficiency.md) or null: its device, the peaks used, per
    /// step and over the steps, and each kernel name's precision.
    private static func efficiency(_ w: JSONWriter, _ e: RankEfficiency?) {
        guard let e else { w.null(); return }
        w.object {
            w.key("device_name"); optional(w, e.deviceName)
            // [name, memory GB/s, [[precision key, TFLOP/s]]] or null
            w.key("peaks")
            if let p = e.peaks {
                w.array {
                    w.string(p.name); w.raw(number(p.memoryGBps))
                    w.array { for k in p.tflops.keys.sorted() { w.array { w.string(k); w.raw(number(p.tflops[k]!)) } } }
                }
            } else {
                w.null()
            }
            w.key("steps"); w.array { for s in e.steps { summary(w, s) } }
            w.key("total"); summary(w, e.total)
            w.key("modelled_calls"); w.int(e.modelledCalls)
            w.key("unmodelled_calls"); w.int(e.unmodelledCalls)
            // [kernel name, precision]
            w.key("kernel_precision")
            w.array { for (k, p) in e.kernelPrecision.sorted(by: { $0.key < $1.key }) { w.array { w.string(k); w.string(p.rawValue) } } }
        }
    }

    /// [step|null, duration, busy|null, flops, [[precision|null, device, flops]], dominant|null, mfu|null, busy utilisation|null]
    private static func summary(_ w: JSONWriter, _ s: EfficiencySummary) {
        w.array {
            optional(w, s.step); w.int(s.durationNs); optional(w, s.busyNs); w.int(s.flops)
            w.array { for p in s.byPrecision { w.array { optional(w, p.precision?.rawValue); w.int(p.deviceNs); w.int(p.flops) } } }
            optional(w, s.dominant?.rawValue)
            if let m = s.mfu { w.raw(number(m)) } else { w.null() }
            if let u = s.busyUtilization { w.raw(number(u)) } else { w.null() }
        }
    }

    private static func memory(_ w: JSONWriter, _ d: DeviceMemory) {
        w.object {
            w.key("type"); w.int(d.deviceType)
            w.key("id"); w.int(d.deviceID)
            w.key("name"); w.string(d.name)
            w.key("peak_bytes"); w.int(d.peakAllocated)
            w.key("peak_ts_ns"); w.int(d.peakTs)
            w.key("reserved_at_peak_bytes"); optional(w, d.reservedAtPeak)
            w.key("initial_bytes"); w.int(d.initialAllocated)
            w.key("derived_samples"); w.int(d.derivedSamples)
            w.key("unmatched_frees"); w.int(d.unmatchedFrees)
            w.key("reused_live_addresses"); w.int(d.reusedLiveAddresses)
            w.key("unaddressed_events"); w.int(d.unaddressedEvents)
            w.key("step_peaks"); w.array { for p in d.stepPeaks { w.array { w.string(p.step); w.int(p.peak); w.int(p.ts) } } }
            // [op, phase, module|null, bytes, count], the largest `liveLimit`
            w.key("top_live")
            w.array {
                for g in d.liveAtPeak.prefix(liveLimit) {
                    w.array { w.string(g.op); w.int(g.phase.rawValue); optional(w, g.module); w.int(g.bytes); w.int(g.count) }
                }
            }
            // [bytes, ts, allocations, unreleased] or null
            w.key("operator_peak")
            if let p = d.operatorPeak { w.array { w.int(p.bytes); w.int(p.ts); w.int(p.allocations); w.int(p.unreleased) } } else { w.null() }
        }
    }

    /// Live allocation groups kept per device (the JSON report's).
    static let liveLimit = 50

    private static func samples(_ w: JSONWriter, _ s: RankSamples) {
        w.key("samples")
        w.object {
            w.key("steps"); w.array { for x in s.steps { w.string(x) } }
            // [kind, name, [values]] and [kind, name, shape, [values]]
            w.key("metrics")
            w.array { for (k, v) in s.metrics.sorted(by: { $0.key < $1.key }) { w.array { w.string(k.kind.rawValue); w.string(k.name); numbers(w, v) } } }
            w.key("shape_metrics")
            w.array {
                for (k, byShape) in s.shapeMetrics.sorted(by: { $0.key < $1.key }) {
                    for (shape, v) in byShape.sorted(by: { $0.key < $1.key }) {
                        w.array { w.string(k.kind.rawValue); w.string(k.name); w.string(shape); numbers(w, v) }
                    }
                }
            }
            w.key("call_samples")
            w.array {
                for (k, lists) in s.callSamples.sorted(by: { $0.key < $1.key }) {
                    w.array { w.string(k.kind.rawValue); w.string(k.name); w.array { for l in lists { numbers(w, l) } } }
                }
            }
            // [column|null (the untruncated steps), {folded}, {calls}]
            w.key("parts")
            w.array {
                for (k, p) in s.parts.enumerated() {
                    w.array {
                        if k == 0 { w.null() } else { w.int(s.partColumns[k - 1]) }
                        w.object { for (x, v) in p.folded.sorted(by: { $0.key < $1.key }) { w.key(x); w.raw(number(v)) } }
                        w.object { for (x, v) in p.calls.sorted(by: { $0.key < $1.key }) { w.key(x); w.raw(number(v)) } }
                    }
                }
            }
        }
    }

    private static func phases(_ w: JSONWriter, _ p: PhaseTimes) { w.array { for v in p.values { w.int(v) } } }

    /// [busy, idle, compute, comm, memcpy, memset, overlapped comm, [idle by cause]] or null.
    private static func breakdown(_ w: JSONWriter, _ g: GPUBreakdown?) {
        guard let g else { w.null(); return }
        w.array {
            for v in [g.busy, g.idle, g.compute, g.communication, g.memcpy, g.memset, g.overlappedCommunication] { w.int(v) }
            w.array { for v in g.idleByCause { w.int(v) } }
        }
    }

    private static func numbers(_ w: JSONWriter, _ values: [Double]) { w.array { for v in values { w.raw(number(v)) } } }

    /// A finite double as the shortest JSON text that reads back to it exactly.
    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    private static func optional<I: BinaryInteger>(_ w: JSONWriter, _ v: I?) { if let v { w.int(v) } else { w.null() } }
    private static func optional(_ w: JSONWriter, _ v: String?) { if let v { w.string(v) } else { w.null() } }
}
