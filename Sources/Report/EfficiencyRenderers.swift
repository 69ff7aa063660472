import Analysis
import Formatting
import TraceModel

// Presentation of the efficiency analysis (docs/efficiency.md): JSON fields of operator rows,
// the per-step and per-rank `efficiency` blocks, and the text/markdown sections.

extension RunReport {
    /// The efficiency fields of an operator row (null when unknown).
    func operatorWorkJSON(_ w: JSONWriter, _ work: OperatorWork?) {
        func number(_ v: Double?, _ digits: Int) { if let v { w.raw(formatFixed(v, digits)) } else { w.null() } }
        w.key("flops"); if let f = work?.flops { w.int(f) } else { w.null() }
        w.key("bytes"); if let b = work?.bytes { w.int(b) } else { w.null() }
        w.key("tflops_per_s"); number(work?.tflopsPerSecond, 3)
        w.key("gbps"); number(work?.gigabytesPerSecond, 3)
        w.key("intensity"); number(work?.intensity, 3)
        w.key("bound"); if let b = work?.bound { w.string(b) } else { w.null() }
        w.key("roofline_pct"); number(work?.rooflinePercent, 2)
        w.key("headroom_ns"); if let h = work?.headroomNs { w.int(h) } else { w.null() }
        w.key("precision"); if let p = work?.precision { w.string(p.rawValue) } else { w.null() }
        w.key("work_kind"); if let k = work?.kind { w.string(k.rawValue) } else { w.null() }
        w.key("modelled_calls"); w.int(work?.calls ?? 0)
        w.key("modelled_device_ns"); w.int(work?.deviceNs ?? 0)
    }

    /// An `efficiency` block: the device, its peaks and one summary.
    func efficiencyJSON(_ w: JSONWriter, _ e: RankEfficiency?, _ summary: EfficiencySummary?) {
        guard let e, let summary else { w.null(); return }
        func number(_ v: Double?, _ digits: Int) { if let v { w.raw(formatFixed(v, digits)) } else { w.null() } }
        w.object {
            w.key("device_name"); if let n = e.deviceName { w.string(n) } else { w.null() }
            w.key("peaks")
            if let p = e.peaks {
                w.object {
                    w.key("name"); w.string(p.name)
                    w.key("memory_gbps"); w.raw(formatFixed(p.memoryGBps, 1))
                    w.key("tflops")
                    w.object { for k in p.tflops.keys.sorted() { w.key(k); w.raw(formatFixed(p.tflops[k]!, 2)) } }
                }
            } else {
                w.null()
            }
            w.key("flops"); w.int(summary.flops)
            w.key("dominant_precision"); if let d = summary.dominant { w.string(d.rawValue) } else { w.null() }
            w.key("mfu"); number(summary.mfu, 5)
            w.key("busy_utilization"); number(summary.busyUtilization, 5)
            w.key("by_precision")
            w.array {
                for s in summary.byPrecision {
                    w.object {
                        w.key("precision"); w.string(s.precision?.rawValue ?? "unknown")
                        w.key("device_ns"); w.int(s.deviceNs)
                        w.key("flops"); w.int(s.flops)
                    }
                }
            }
            if summary.step == nil {
                w.key("modelled_calls"); w.int(e.modelledCalls)
                w.key("unmodelled_calls"); w.int(e.unmodelledCalls)
            }
        }
    }

    /// The rows of the efficiency table per step and for all steps.
    func efficiencyRows(_ e: RankEfficiency) -> [[String]] {
        func ratio(_ v: Double?) -> String { v.map { formatFixed(100 * $0, 1) + "%" } ?? "-" }
        return (e.steps + [e.total]).map { s in
            [safe(s.step ?? "all steps"), formatFixed(Double(s.flops) / 1e12, 3), ratio(s.mfu), ratio(s.busyUtilization),
             s.dominant?.rawValue ?? "-", precisionShares(s)]
        }
    }

    /// The columns of a top-ops-by-headroom row.
    func headroomRow(_ o: OperatorStat) -> [String] {
        let w = o.work!
        return [formatDuration(w.headroomNs ?? 0), formatDuration(w.deviceNs), w.tflopsPerSecond.map { formatFixed($0, 1) } ?? "-",
                w.gigabytesPerSecond.map { formatFixed($0, 0) } ?? "-", w.intensity.map { formatFixed($0, 1) } ?? "-",
                w.bound ?? "-", w.rooflinePercent.map { formatFixed($0, 1) + "%" } ?? "-", w.precision?.rawValue ?? "-",
                safe(clip(o.name + (o.shape.map { " " + $0 } ?? ""), 70))]
    }

    static let headroomHeader = ["headroom", "device", "TFLOP/s", "GB/s", "FLOP/B", "bound", "roofline", "prec", "operator"]

    /// The text section of a rank's efficiency (empty without `hasContent`).
    func efficiencyText(_ a: RankAnalysis, top: Int) -> String {
        guard let e = a.efficiency, e.hasContent else { return "" }
        var out = "\n  Efficiency: device " + safe(e.deviceName ?? "unknown")
        if let p = e.peaks {
            out += "; peaks of \(safe(p.name)): " + p.tflops.keys.sorted().map { "\($0) \(formatFixed(p.tflops[$0]!, 1))" }.joined(separator: ", ")
                + " TFLOP/s, \(formatFixed(p.memoryGBps, 0)) GB/s\n"
        } else {
            out += "; no peak table for it (--device-peak FILE gives one): no MFU or roofline\n"
        }
        out += "  \(e.modelledCalls) operator calls modelled, \(e.unmodelledCalls) with a model but no usable shapes\n"
        out += indent(table(["step", "TFLOP", "MFU", "busy util", "precision", "device time by precision"], efficiencyRows(e),
                            rightAligned: [1, 2, 3]))
        let ranked = a.operatorsByHeadroom
        if !ranked.isEmpty {
            out += "\n  Top operators by headroom (device time minus time at the roofline)\n"
            out += indent(table(Self.headroomHeader, ranked.prefix(top).map(headroomRow), rightAligned: [0, 1, 2, 3, 4, 6]))
        }
        return out
    }

    /// The markdown section of a rank's efficiency (empty as for text).
    func efficiencyMarkdown(_ a: RankAnalysis, top: Int) -> String {
        guard let e = a.efficiency, e.hasContent else { return "" }
        var out = "\n**Efficiency** on `\(md(e.deviceName ?? "unknown device"))`"
        out += e.peaks.map { " (peaks of \(md($0.name)))" } ?? " (no peak table: no MFU or roofline)"
        out += "\n\n| step | TFLOP | MFU | busy util | precision | device time by precision |\n|---|---:|---:|---:|---|---|\n"
        for r in efficiencyRows(e) { out += "| " + r.map(md).joined(separator: " | ") + " |\n" }
        let ranked = a.operatorsByHeadroom
        if !ranked.isEmpty {
            out += "\n| " + Self.headroomHeader.joined(separator: " | ") + " |\n|---:|---:|---:|---:|---:|---|---:|---|---|\n"
            for o in ranked.prefix(top) {
                var row = headroomRow(o)
                row[row.count - 1] = "`" + md(clip(o.name, 70)) + "`"
                out += "| " + row.joined(separator: " | ") + " |\n"
            }
        }
        return out
    }
}
