import Analysis
import Formatting
import TraceModel

// The memory-snapshot parts of the report (docs/memory-snapshots.md): per device the replay's
// peak, the live blocks at the peak by folded allocation stack, and the first oom.

extension RunReport {
    /// Where an event happened: its time when the snapshot has times, else its index.
    static func snapshotWhen(_ d: SnapshotDeviceMemory, event: Int, ts: Int64) -> String {
        if event < 0 { return "before the trace" }
        return d.timed ? "at event \(event) (ts \(ts) ns)" : "at event \(event) of \(d.events)"
    }

    /// The text section of one rank's snapshot devices.
    func snapshotText(_ r: RankReport, top: Int) -> String {
        var out = ""
        for d in r.snapshot {
            out += "\n  Memory snapshot \(d.name): peak \(formatBytes(d.peakAllocated)) allocated "
                + Self.snapshotWhen(d, event: d.peakEvent, ts: d.peakTs)
                + ", \(formatBytes(d.reservedAtPeak)) reserved (highest \(formatBytes(d.peakReserved)));"
                + " at the start \(formatBytes(d.initialAllocated)) allocated, \(formatBytes(d.initialReserved)) reserved\n"
            out += "    live at the peak: \(counted(d.liveCountAtPeak, "block")) by allocation stack (innermost frame first):\n"
            out += indent(indent(stackTable(d.liveAtPeak.prefix(top))))
            if let o = d.oom {
                out += "    out of memory " + Self.snapshotWhen(d, event: o.event, ts: o.ts)
                    + ": \(formatBytes(o.requested)) requested"
                    + (o.deviceFree.map { ", \(formatBytes($0)) free on the device" } ?? "")
                    + "; just before: \(formatBytes(o.allocated)) allocated, \(formatBytes(o.reserved)) reserved\n"
                out += indent(indent(stackTable(o.live.prefix(5))))
            }
        }
        return out
    }

    func stackTable(_ groups: ArraySlice<SnapshotStackGroup>) -> String {
        table(["bytes", "blocks", "allocated at"], groups.map { g in
            [formatBytes(g.bytes), String(g.count), safe(clip(g.stack.prefix(3).joined(separator: " < "), 110))]
        }, rightAligned: [0, 1])
    }

    /// The markdown section of one rank's snapshot devices.
    func snapshotMarkdown(_ r: RankReport, top: Int) -> String {
        var out = ""
        for d in r.snapshot {
            out += "**Memory snapshot \(d.name)**: peak \(formatBytes(d.peakAllocated)) allocated "
                + Self.snapshotWhen(d, event: d.peakEvent, ts: d.peakTs) + ", \(formatBytes(d.reservedAtPeak)) reserved\n\n"
            out += "| bytes | blocks | allocated at (innermost first) |\n|---:|---:|---|\n"
            for g in d.liveAtPeak.prefix(top) {
                out += "| \(formatBytes(g.bytes)) | \(g.count) | " + g.stack.prefix(4).map { "`\(md($0))`" }.joined(separator: " < ") + " |\n"
            }
            if let o = d.oom {
                out += "\nOut of memory " + Self.snapshotWhen(d, event: o.event, ts: o.ts)
                    + ": \(formatBytes(o.requested)) requested; just before: \(formatBytes(o.allocated)) allocated, \(formatBytes(o.reserved)) reserved\n"
            }
            out += "\n"
        }
        return out
    }

    /// One `memory[]` entry of a snapshot device (docs/report-json.md).
    func snapshotJSON(_ w: JSONWriter, _ d: SnapshotDeviceMemory) {
        func groups(_ gs: ArraySlice<SnapshotStackGroup>) {
            w.array {
                for g in gs {
                    w.object {
                        w.key("stack"); w.array { for f in g.stack { w.string(f) } }
                        w.key("bytes"); w.int(g.bytes)
                        w.key("count"); w.int(g.count)
                    }
                }
            }
        }
        w.object {
            w.key("device"); w.string(d.name)
            w.key("source"); w.string("snapshot")
            w.key("events"); w.int(d.events)
            w.key("peak_bytes"); w.int(d.peakAllocated)
            w.key("peak_event"); w.int(d.peakEvent)
            w.key("peak_ts_ns"); if d.timed && d.peakEvent >= 0 { w.int(d.peakTs) } else { w.null() }
            w.key("reserved_at_peak_bytes"); w.int(d.reservedAtPeak)
            w.key("peak_reserved_bytes"); w.int(d.peakReserved)
            w.key("initial_bytes"); w.int(d.initialAllocated)
            w.key("initial_reserved_bytes"); w.int(d.initialReserved)
            w.key("step_peaks"); w.array {}
            w.key("top_live"); groups(d.liveAtPeak.prefix(50))
            w.key("oom")
            if let o = d.oom {
                w.object {
                    w.key("event"); w.int(o.event)
                    w.key("ts_ns"); if d.timed { w.int(o.ts) } else { w.null() }
                    w.key("requested_bytes"); w.int(o.requested)
                    w.key("device_free_bytes"); if let f = o.deviceFree { w.int(f) } else { w.null() }
                    w.key("allocated_bytes"); w.int(o.allocated)
                    w.key("reserved_bytes"); w.int(o.reserved)
                    w.key("top_live"); groups(o.live.prefix(20))
                }
            } else {
                w.null()
            }
            w.key("unmatched_frees"); w.int(d.unmatchedFrees)
        }
    }
}

extension DiffResult {
    /// Memory snapshots: the allocation stacks whose live bytes at the peak grew, per device,
    /// largest growth first (at most `top`), as text.
    func grownStacksText(top: Int = 15) -> String {
        guard !grownStacks.isEmpty else { return "" }
        var out = "\nMemory snapshot: stacks that grew at the peak (innermost frame first)\n"
        out += indent(table(["device", "growth", "base", "candidate", "allocated at"], grownStacks.prefix(top).map { c in
            [safe(c.device), "+" + formatBytes(c.growth), formatBytes(c.baseBytes), formatBytes(c.newBytes),
             safe(clip(c.stack.prefix(3).joined(separator: " < "), 90))]
        }, rightAligned: [1, 2, 3]))
        return out
    }

    /// The same as a markdown table in a collapsed section.
    func grownStacksMarkdown(top: Int = 15) -> String {
        guard !grownStacks.isEmpty else { return "" }
        var out = "\n<details><summary>Memory snapshot: stacks that grew at the peak (\(grownStacks.count))</summary>\n\n"
        out += "| device | growth | base | candidate | allocated at (innermost first) |\n|---|---:|---:|---:|---|\n"
        for c in grownStacks.prefix(top) {
            out += "| \(md(c.device)) | +\(formatBytes(c.growth)) | \(formatBytes(c.baseBytes)) | \(formatBytes(c.newBytes)) | "
                + c.stack.prefix(3).map { "`\(md(clip($0, 80)))`" }.joined(separator: " < ") + " |\n"
        }
        return out + "\n</details>\n"
    }

    /// The same as JSON: `grown_stacks` (every stack, innermost frame first).
    func grownStacksJSON(_ w: JSONWriter) {
        w.key("grown_stacks")
        w.array {
            for c in grownStacks {
                w.object {
                    w.key("device"); w.string(c.device)
                    w.key("stack"); w.array { for f in c.stack { w.string(f) } }
                    w.key("base_bytes"); w.int(Int(c.baseBytes))
                    w.key("candidate_bytes"); w.int(Int(c.newBytes))
                    w.key("growth_bytes"); w.int(Int(c.growth))
                }
            }
        }
    }
}
