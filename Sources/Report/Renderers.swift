import Analysis
import Formatting
import TraceModel

/// Output formats of `stepscope report`.
public enum ReportFormat: String, CaseIterable, Sendable {
    case text, json, markdown
}

extension RunReport {
    /// The report in `format`; `top` limits the operator and kernel tables of text and markdown.
    public func render(_ format: ReportFormat, top: Int = 15) -> String {
        switch format {
        case .text: return renderText(top: top)
        case .json: return renderJSON()
        case .markdown: return renderMarkdown(top: top)
        }
    }

    // MARK: Text

    func renderText(top: Int) -> String {
        var out = "stepscope report: " + counted(ranks.count, "rank")
        if let st = stepStats { out += ", " + counted(st.count, "step") }
        out += "\n"
        if ranks.count > 1, let st = stepStats {
            out += "\nRun (a step's time is its slowest rank's): " + statsLine(st) + "\n"
            let rows = steps.map { [safe($0.name), formatDuration($0.dur), "rank \($0.slowestRank)"] }
            out += table(["step", "time", "slowest"], rows, rightAligned: [1])
        }
        if ranks.count > Self.perRankLimit { out += manyRanksText() }
        for r in ranks where ranks.count <= Self.perRankLimit {
            let a = r.analysis
            out += "\nRank \(a.rank)  \(safe(a.source))\n"
            if let st = r.stepStats { out += "  Steps: " + statsLine(st) + "\n" }
            let phases = Phase.allCases
            let timeline = hasTimeline(r)
            if timeline {
                var rows: [[String]] = a.steps.map { s in
                    [safe(s.name) + (s.truncated ? " (truncated)" : ""), formatDuration(s.dur)] + phases.map { formatDuration(s.phases[$0]) }
                }
                rows.append(["all steps", formatDuration(a.phases.total)] + phases.map { percent(a.phases[$0], a.phases.total) })
                out += indent(table(["step", "dur"] + phases.map(\.name), rows, rightAligned: Array(1..<(2 + phases.count))))
            }
            let device = (r.metadata.deviceKind ?? .cuda).label
            if let g = a.gpu {
                let whole = g.busy + g.idle
                out += "\n  \(device) (all steps): busy \(formatDuration(g.busy)) (\(percent(g.busy, whole))), idle \(formatDuration(g.idle))\n"
                out += "    busy: compute \(formatDuration(g.compute)), communication \(formatDuration(g.communication)) (exposed), memcpy \(formatDuration(g.memcpy)), memset \(formatDuration(g.memset))\n"
                out += "    idle: " + IdleCause.allCases.map { "\($0.name) \(formatDuration(g[$0]))" }.joined(separator: ", ") + "\n"
            }
            if !r.hostBound.isEmpty {
                out += "\n  While the \(device) waited for the host (host_bound idle), the step thread ran:\n"
                for h in r.hostBound {
                    out += "    \(safe(h.step)) \(formatDuration(h.hostBound)): " + hostSlicesText(h.top) + "\n"
                }
            }
            out += snapshotText(r, top: top)
            for d in r.memory where r.snapshot.isEmpty {
                out += "\n  Memory \(d.name): peak \(formatBytes(d.peakAllocated)) allocated"
                if let reserved = d.reservedAtPeak { out += ", \(formatBytes(reserved)) reserved" }
                if let p = d.operatorPeak {
                    out += "; at the peak of operator allocations (\(formatBytes(p.bytes)) live; \(p.allocations) allocations in the capture, \(p.unreleased) never released):\n"
                } else {
                    out += "; live at the peak:\n"
                }
                let rows = d.liveAtPeak.prefix(5).map { g in
                    [formatBytes(g.bytes), String(g.count), g.phase.name, safe(clip(g.op + (g.module.map { " (\($0))" } ?? ""), 70))]
                }
                out += indent(indent(table(["bytes", "allocs", "phase", "allocated in"], rows, rightAligned: [0, 1])))
            }
            if a.operators.isEmpty && !r.pythonFunctions.isEmpty {
                out += "\n  No operators (a recording without native frames): top Python functions by self time\n"
                out += indent(pythonTable(Array(r.pythonFunctions.prefix(top))))
                out += "\n  Top Python functions by inclusive time\n"
                out += indent(pythonTable(Array(byInclusive(r.pythonFunctions).prefix(top))))
            } else if timeline {
                out += "\n  Top operators by self time\n"
                out += indent(opTable(Array(a.operators.prefix(top)), device: device))
                out += "\n  Top operators by inclusive time\n"
                out += indent(opTable(Array(byInclusive(a.operators).prefix(top)), device: device))
            }
            out += efficiencyText(a, top: top)
            if !a.kernels.isEmpty {
                out += "\n  Top \(device) kernels\n"
                out += indent(table(["total", "count", "name"],
                                    a.kernels.prefix(top).map { [formatDuration($0.totalNs), String($0.count), safe(clip($0.name))] },
                                    rightAligned: [0, 1]))
            }
        }
        if let comm = communication, !comm.matched.isEmpty {
            out += "\nCommunication: \(comm.matched.count) collectives matched across ranks\n"
            if ranks.count > Self.perRankLimit, let lo = comm.clockOffsets.map(\.offset).min(), let hi = comm.clockOffsets.map(\.offset).max() {
                out += "  clocks of \(comm.clockOffsets.count) ranks on \(Set(comm.clockOffsets.map(\.host)).count) other hosts corrected by \(formatDuration(lo)) to \(formatDuration(hi))\n"
            }
            for o in comm.clockOffsets where ranks.count <= Self.perRankLimit {
                out += "  clock of rank \(o.rank) (host \(safe(o.host))) corrected by \(formatDuration(o.offset)), from \(o.samples) collectives\n"
            }
            for st in comm.stragglers {
                out += "  \(safe(st.step)): rank \(st.rank) arrived last, holding others up to \(formatDuration(st.causedWait)); before arriving it spent "
                let busiest = Phase.allCases.filter { st.phases[$0] > 0 }.sorted { st.phases[$0] > st.phases[$1] }.prefix(3)
                out += busiest.map { "\($0.name) \(formatDuration(st.phases[$0]))" }.joined(separator: ", ")
                if let op = st.topOperators.first { out += "; mostly in \(safe(clip(op.name, 60))) (\(formatDuration(op.ns)))" }
                out += "\n"
            }
            let rows = comm.waits.filter { $0.wait > 0 }.map {
                [safe($0.step), "rank \($0.rank)", formatDuration($0.wait), formatDuration($0.maxWait), String($0.stragglerCount)]
            }
            if !rows.isEmpty && ranks.count <= Self.perRankLimit {
                out += indent(table(["step", "rank", "waiting", "longest wait", "last to arrive"], rows, rightAligned: [2, 3, 4]))
            }
        }
        let all = allWarnings
        if !all.isEmpty {
            out += "\nWarnings\n"
            for w in all { out += "  \(scopePrefix(w.rank))\(w.entry.code) x\(w.entry.count): \(safe(w.entry.example))\n" }
        }
        return out
    }

    /// Whether the rank has a timeline to tabulate: a rank read from a memory snapshot has no
    /// slices, so its step and operator tables would be empty.
    func hasTimeline(_ r: RankReport) -> Bool { r.snapshot.isEmpty }

    func statsLine(_ st: StepStats) -> String {
        "n=\(st.count)  min \(formatDuration(st.min))  median \(formatDuration(st.median))  p90 \(formatDuration(st.p90))  max \(formatDuration(st.max))"
    }

    func opTable(_ ops: [OperatorStat], device: String = "GPU") -> String {
        table(["self", "total", device.lowercased(), "count", "name"],
              ops.map { o in
                  [formatDuration(o.selfNs), formatDuration(o.totalNs), formatDuration(o.gpuNs), String(o.count),
                   safe(clip(o.name + (o.shape.map { " " + $0 } ?? "")))]
              }, rightAligned: [0, 1, 2, 3])
    }

    func pythonTable(_ fns: [OperatorStat]) -> String {
        table(["self", "total", "count", "function"],
              fns.map { [formatDuration($0.selfNs), formatDuration($0.totalNs), String($0.count), safe(clip($0.name))] },
              rightAligned: [0, 1, 2])
    }

    /// Operators or functions by inclusive time, largest first.
    func byInclusive(_ ops: [OperatorStat]) -> [OperatorStat] {
        ops.sorted { $0.totalNs != $1.totalNs ? $0.totalNs > $1.totalNs : $0.name < $1.name }
    }

    /// "name 1.2 ms, frame.py(3): f (python) 0.5 ms", or a note when nothing ran on the thread.
    func hostSlicesText(_ top: [HostSlice]) -> String {
        if top.isEmpty { return "nothing recorded on the step thread" }
        return top.map { "\(safe(clip($0.name, 60)))\($0.python ? " (python)" : "") \(formatDuration($0.ns))" }.joined(separator: ", ")
    }

    /// Run-level warnings (rank nil) first, then each rank's.
    var allWarnings: [(rank: Int?, entry: Warnings.Entry)] {
        warnings.map { (nil, $0) } + ranks.flatMap { r in r.warnings.map { (r.analysis.rank, $0) } }
    }

    /// "run: " or "rank N: ", the prefix of a warning line.
    func scopePrefix(_ rank: Int?) -> String { rank.map { "rank \($0): " } ?? "run: " }

    // MARK: Markdown

    func renderMarkdown(top: Int) -> String {
        var out = "## stepscope report\n\n"
        if ranks.count > 1, let st = stepStats { out += "**Run**: " + statsLine(st) + "\n\n" }
        for r in ranks {
            let a = r.analysis
            out += "### Rank \(a.rank)\n\n`\(md(a.source))`\n\n"
            if let st = r.stepStats { out += "Steps: " + statsLine(st) + "\n\n" }
            let phases = Phase.allCases
            let timeline = hasTimeline(r)
            if timeline {
                out += "| step | dur | " + phases.map(\.name).joined(separator: " | ") + " |\n"
                out += "|---|---:|" + String(repeating: "---:|", count: phases.count) + "\n"
                for s in a.steps {
                    out += "| \(md(s.name))\(s.truncated ? " (truncated)" : "") | \(formatDuration(s.dur)) | " + phases.map { formatDuration(s.phases[$0]) }.joined(separator: " | ") + " |\n"
                }
            }
            let snapshot = snapshotMarkdown(r, top: top)
            if !snapshot.isEmpty { out += (timeline ? "\n" : "") + snapshot }
            if !r.hostBound.isEmpty {
                out += "\nWhile the \((r.metadata.deviceKind ?? .cuda).label) waited for the host (host_bound idle), the step thread ran:\n\n"
                for h in r.hostBound {
                    out += "- \(md(h.step)) \(formatDuration(h.hostBound)): "
                        + (h.top.isEmpty ? "nothing recorded on the step thread"
                            : h.top.map { "`\(md(clip($0.name, 60)))`\($0.python ? " (python)" : "") \(formatDuration($0.ns))" }
                                .joined(separator: ", ")) + "\n"
                }
            }
            if a.operators.isEmpty && !r.pythonFunctions.isEmpty {
                out += "\nNo operators (a recording without native frames): top Python functions.\n"
                out += "\n| self | total | count | function |\n|---:|---:|---:|---|\n"
                for f in r.pythonFunctions.prefix(top) {
                    out += "| \(formatDuration(f.selfNs)) | \(formatDuration(f.totalNs)) | \(f.count) | `\(md(clip(f.name)))` |\n"
                }
            } else if timeline {
                let device = (r.metadata.deviceKind ?? .cuda).label.lowercased()
                out += "\n| self | total | \(device) | count | operator |\n|---:|---:|---:|---:|---|\n"
                for o in a.operators.prefix(top) {
                    out += "| \(formatDuration(o.selfNs)) | \(formatDuration(o.totalNs)) | \(formatDuration(o.gpuNs)) | \(o.count) | `\(md(clip(o.name)))` |\n"
                }
            }
            out += efficiencyMarkdown(a, top: top)
            out += "\n"
        }
        let all = allWarnings
        if !all.isEmpty {
            out += "### Warnings\n\n"
            for w in all { out += "- \(scopePrefix(w.rank))`\(w.entry.code)` x\(w.entry.count): \(md(w.entry.example))\n" }
        }
        return out
    }


    // MARK: JSON

    func renderJSON() -> String {
        let w = JSONWriter()
        w.object {
            w.key("schema"); w.string("stepscope.report")
            w.key("version"); w.int(RunReport.schemaVersion)
            w.key("ranks")
            w.array {
                for r in ranks { rankJSON(w, r) }
            }
            w.key("run")
            w.object {
                w.key("steps")
                w.array {
                    for s in steps {
                        w.object {
                            w.key("name"); w.string(s.name)
                            w.key("dur_ns"); w.int(s.dur)
                            w.key("slowest_rank"); w.int(s.slowestRank)
                        }
                    }
                }
                w.key("step_stats"); statsJSON(w, stepStats)
                communicationJSON(w)
            }
            w.key("warnings")
            w.array {
                for x in allWarnings {
                    w.object {
                        w.key("scope"); w.string(x.rank == nil ? "run" : "rank")
                        if let rank = x.rank { w.key("rank"); w.int(rank) }
                        w.key("code"); w.string(x.entry.code)
                        w.key("count"); w.int(x.entry.count)
                        w.key("example"); w.string(x.entry.example)
                    }
                }
            }
        }
        return w.output + "\n"
    }

    func rankJSON(_ w: JSONWriter, _ r: RankReport) {
        let a = r.analysis
        w.object {
            w.key("rank"); w.int(a.rank)
            w.key("source"); w.string(a.source)
            if let d = r.metadata.distributed {
                w.key("distributed")
                w.object {
                    if let b = d.backend { w.key("backend"); w.string(b) }
                    if let ws = d.worldSize { w.key("world_size"); w.int(ws) }
                }
            }
            if let k = r.metadata.deviceKind { w.key("device_kind"); w.string(k.rawValue) }
            w.key("steps")
            w.array {
                for s in a.steps {
                    w.object {
                        w.key("name"); w.string(s.name)
                        w.key("start_ns"); w.int(s.start)
                        w.key("dur_ns"); w.int(s.dur)
                        w.key("truncated"); w.raw(s.truncated ? "true" : "false")
                        w.key("phases"); phasesJSON(w, s.phases)
                        if s.gpu != nil { w.key("device"); deviceJSON(w, s.gpu) }
                        w.key("efficiency"); efficiencyJSON(w, a.efficiency, a.efficiency?.steps.first { $0.step == s.name })
                    }
                }
            }
            w.key("step_stats"); statsJSON(w, r.stepStats)
            w.key("phases"); phasesJSON(w, a.phases)
            w.key("device"); deviceJSON(w, a.gpu)
            w.key("efficiency"); efficiencyJSON(w, a.efficiency, a.efficiency?.total)
            w.key("memory")
            w.array {
                for d in r.snapshot { snapshotJSON(w, d) }
                for d in r.memory where r.snapshot.isEmpty {
                    w.object {
                        w.key("device"); w.string(d.name)
                        w.key("peak_bytes"); w.int(d.peakAllocated)
                        w.key("peak_ts_ns"); w.int(d.peakTs)
                        w.key("reserved_at_peak_bytes"); if let v = d.reservedAtPeak { w.int(v) } else { w.null() }
                        w.key("initial_bytes"); w.int(d.initialAllocated)
                        w.key("step_peaks")
                        w.array {
                            for p in d.stepPeaks {
                                w.object {
                                    w.key("step"); w.string(p.step)
                                    w.key("peak_bytes"); w.int(p.peak)
                                    w.key("ts_ns"); w.int(p.ts)
                                }
                            }
                        }
                        w.key("top_live")
                        w.array {
                            for g in d.liveAtPeak.prefix(50) {
                                w.object {
                                    w.key("op"); w.string(g.op)
                                    w.key("phase"); w.string(g.phase.name)
                                    if let m = g.module { w.key("module"); w.string(m) }
                                    w.key("bytes"); w.int(g.bytes)
                                    w.key("count"); w.int(g.count)
                                }
                            }
                        }
                        if let p = d.operatorPeak {
                            w.key("operator_peak")
                            w.object {
                                w.key("bytes"); w.int(p.bytes)
                                w.key("ts_ns"); w.int(p.ts)
                                w.key("allocations"); w.int(p.allocations)
                                w.key("unreleased"); w.int(p.unreleased)
                            }
                        }
                        w.key("unmatched_frees"); w.int(d.unmatchedFrees)
                    }
                }
            }
            w.key("comm_waits")
            w.array {
                for x in communication?.waits ?? [] where x.rank == a.rank {
                    w.object {
                        w.key("step"); w.string(x.step)
                        w.key("wait_ns"); w.int(x.wait)
                        w.key("max_wait_ns"); w.int(x.maxWait)
                        w.key("straggler_count"); w.int(x.stragglerCount)
                    }
                }
            }
            w.key("gpu_activity_ns"); w.int(a.gpuActivityNs)
            w.key("ops")
            w.array {
                for o in a.operators {
                    w.object {
                        w.key("name"); w.string(o.name)
                        if let shape = o.shape { w.key("shape"); w.string(shape) }
                        w.key("kind"); w.string(kindName(o.kind))
                        w.key("count"); w.int(o.count)
                        w.key("total_ns"); w.int(o.totalNs)
                        w.key("self_ns"); w.int(o.selfNs)
                        w.key("gpu_ns"); w.int(o.gpuNs)
                        operatorWorkJSON(w, o.work)
                        w.key("phases")
                        w.object {
                            for p in Phase.allCases {
                                guard let ps = o.byPhase[p] else { continue }
                                w.key(p.name)
                                w.object {
                                    w.key("count"); w.int(ps.count)
                                    w.key("total_ns"); w.int(ps.totalNs)
                                    w.key("self_ns"); w.int(ps.selfNs)
                                    w.key("gpu_ns"); w.int(ps.gpuNs)
                                }
                            }
                        }
                    }
                }
            }
            if !r.pythonFunctions.isEmpty {
                w.key("python_functions")
                w.array {
                    for f in r.pythonFunctions {
                        w.object {
                            w.key("name"); w.string(f.name)
                            w.key("count"); w.int(f.count)
                            w.key("total_ns"); w.int(f.totalNs)
                            w.key("self_ns"); w.int(f.selfNs)
                        }
                    }
                }
            }
            w.key("host_bound")
            w.array {
                for h in r.hostBound {
                    w.object {
                        w.key("step"); w.string(h.step)
                        w.key("host_bound_ns"); w.int(h.hostBound)
                        w.key("top")
                        w.array {
                            for x in h.top {
                                w.object {
                                    w.key("name"); w.string(x.name)
                                    w.key("kind"); w.string(x.python ? "python" : "operator")
                                    w.key("ns"); w.int(x.ns)
                                }
                            }
                        }
                    }
                }
            }
            w.key("kernels")
            w.array {
                for k in a.kernels {
                    w.object {
                        w.key("name"); w.string(k.name)
                        w.key("kind"); w.string(kindName(k.kind))
                        w.key("count"); w.int(k.count)
                        w.key("total_ns"); w.int(k.totalNs)
                        w.key("precision"); if let p = a.efficiency?.kernelPrecision[k.name] { w.string(p.rawValue) } else { w.null() }
                    }
                }
            }
            w.key("event_counts")
            w.object {
                for e in r.eventCounts { w.key(e.phase); w.int(e.count) }
            }
            w.key("warnings")
            w.array {
                for x in r.warnings {
                    w.object {
                        w.key("code"); w.string(x.code)
                        w.key("count"); w.int(x.count)
                        w.key("example"); w.string(x.example)
                    }
                }
            }
        }
    }

    func phasesJSON(_ w: JSONWriter, _ t: PhaseTimes) {
        w.object {
            for p in Phase.allCases { w.key(p.name); w.int(t[p]) }
        }
    }

    func communicationJSON(_ w: JSONWriter) {
        let comm = communication
        w.key("collectives")
        w.array {
            for m in comm?.matched ?? [] {
                w.object {
                    w.key("group"); w.string(m.group)
                    w.key(m.matchedBySeq ? "seq" : "index"); w.int(m.key)
                    w.key("name"); w.string(m.name)
                    w.key("step"); if let step = m.step { w.string(step) } else { w.null() }
                    w.key("last_arrival_ns"); w.int(m.lastArrival)
                    w.key("straggler"); w.int(m.straggler)
                    w.key("ranks")
                    w.array {
                        for rank in m.arrivals.keys.sorted() {
                            let instance = comm!.instances[rank]![m.instanceIndex[rank]!]
                            w.object {
                                w.key("rank"); w.int(rank)
                                w.key("arrival_ns"); w.int(m.arrivals[rank]!)
                                w.key("wait_ns"); w.int(m.waits[rank]!)
                                w.key("dur_ns"); w.int(instance.dur)
                                if let e = instance.exposed { w.key("exposed_ns"); w.int(e) }
                                if let b = instance.bytes { w.key("bytes"); w.int(b) }
                                if let bw = instance.busBandwidth { w.key("bus_bw_gbps"); w.raw(formatFixed(bw / 1e9, 3)) }
                                if let a = instance.algorithm { w.key("algorithm"); w.string(a) }
                            }
                        }
                    }
                }
            }
        }
        w.key("clock_offsets")
        w.array {
            for o in comm?.clockOffsets ?? [] {
                w.object {
                    w.key("rank"); w.int(o.rank)
                    w.key("host"); w.string(o.host)
                    w.key("offset_ns"); w.int(o.offset)
                    w.key("samples"); w.int(o.samples)
                }
            }
        }
        w.key("stragglers")
        w.array {
            for st in comm?.stragglers ?? [] {
                w.object {
                    w.key("step"); w.string(st.step)
                    w.key("rank"); w.int(st.rank)
                    w.key("caused_wait_ns"); w.int(st.causedWait)
                    w.key("window_start_ns"); w.int(st.window.lowerBound)
                    w.key("window_end_ns"); w.int(st.window.upperBound)
                    w.key("phases"); phasesJSON(w, st.phases)
                    w.key("top_ops")
                    w.array {
                        for op in st.topOperators {
                            w.object {
                                w.key("name"); w.string(op.name)
                                w.key("ns"); w.int(op.ns)
                            }
                        }
                    }
                }
            }
        }
        // Only past the per-rank limit, so reports of smaller runs are unchanged.
        if ranks.count > Self.perRankLimit { w.key("rank_distribution"); manyRanksJSON(w) }
    }

    func deviceJSON(_ w: JSONWriter, _ g: GPUBreakdown?) {
        guard let g else { w.null(); return }
        w.object {
            w.key("busy_ns"); w.int(g.busy)
            w.key("idle_ns"); w.int(g.idle)
            w.key("compute_ns"); w.int(g.compute)
            w.key("comm_ns"); w.int(g.communication)
            w.key("memcpy_ns"); w.int(g.memcpy)
            w.key("memset_ns"); w.int(g.memset)
            w.key("exposed_comm_ns"); w.int(g.exposedCommunication)
            w.key("comm_total_ns"); w.int(g.totalCommunication)
            w.key("overlapped_comm_ns"); w.int(g.overlappedCommunication)
            w.key("idle_by_cause")
            w.object {
                for c in IdleCause.allCases { w.key(c.name); w.int(g[c]) }
            }
        }
    }

    func statsJSON(_ w: JSONWriter, _ st: StepStats?) {
        guard let st else { w.null(); return }
        w.object {
            w.key("count"); w.int(st.count)
            w.key("min_ns"); w.int(st.min)
            w.key("median_ns"); w.int(st.median)
            w.key("p90_ns"); w.int(st.p90)
            w.key("max_ns"); w.int(st.max)
        }
    }
}

func indent(_ s: String) -> String {
    s.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
}

/// A plain text table with padded columns.
func table(_ header: [String], _ rows: [[String]], rightAligned: [Int]) -> String {
    let all = [header] + rows
    var widths = [Int](repeating: 0, count: header.count)
    for r in all { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    var out = ""
    for r in all {
        var line = ""
        for (i, c) in r.enumerated() {
            let pad = String(repeating: " ", count: widths[i] - c.count)
            let last = i == r.count - 1
            line += rightAligned.contains(i) ? pad + c : (last ? c : c + pad)
            if !last { line += "  " }
        }
        out += line + "\n"
    }
    return out
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

/// A minimal streaming JSON writer with deterministic output.
final class JSONWriter {
    /// The document so far, UTF-8.
    private(set) var bytes: [UInt8] = []
    private var needsComma = [false]

    /// The document so far.
    var output: String { String(decoding: bytes, as: UTF8.self) }

    private func separator() {
        if needsComma[needsComma.count - 1] { bytes.append(0x2C) }
        needsComma[needsComma.count - 1] = true
    }

    func key(_ k: String) {
        separator()
        JSONText.appendQuoted(k, to: &bytes)
        bytes.append(0x3A)
        needsComma[needsComma.count - 1] = false
    }

    private func value(_ text: String) {
        separator()
        bytes.append(contentsOf: text.utf8)
    }

    func string(_ s: String) {
        separator()
        JSONText.appendQuoted(s, to: &bytes)
    }
    func int<I: BinaryInteger>(_ v: I) { value(String(v)) }
    func null() { value("null") }
    /// A preformatted JSON number.
    func raw(_ text: String) { value(text) }

    func object(_ body: () -> Void) { container(0x7B, 0x7D, body) }

    func array(_ body: () -> Void) { container(0x5B, 0x5D, body) }

    private func container(_ open: UInt8, _ close: UInt8, _ body: () -> Void) {
        separator()
        bytes.append(open)
        needsComma.append(false)
        body()
        needsComma.removeLast()
        bytes.append(close)
    }
}
