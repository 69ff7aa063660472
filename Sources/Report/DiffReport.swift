import Analysis
import TraceModel

/// Output formats of `stepscope diff`.
public enum DiffFormat: String, CaseIterable, Sendable {
    case text, json, markdown, junit, folded
}

extension DiffResult {
    /// Version of the diff JSON schema (docs/diff.md).
    public static let schemaVersion = 1

    /// The comparison in `format`.
    public func render(_ format: DiffFormat) -> String {
        switch format {
        case .text: return renderText()
        case .json: return renderJSON()
        case .markdown: return renderMarkdown()
        case .junit: return renderJUnit()
        case .folded: return renderFolded()
        }
    }

    /// Gate rows first (step, phases, ...), then operators, each by kind then name.
    /// Gate metrics other than operators; a phase or device at zero in both runs is left out.
    public var gateRows: [MetricDiff] {
        metrics.filter { $0.key.kind.gates && $0.key.kind != .opSelf && $0.key.kind != .opGPU
            && ($0.key.kind == .step || $0.baseMedian != 0 || $0.candidateMedian != 0) }
    }
    /// Operator (self and GPU time) and kernel rows, largest change first.
    var operatorRows: [MetricDiff] {
        metrics.filter { [.opSelf, .opGPU, .kernel].contains($0.key.kind) }
            .sorted { changeOf($0) != changeOf($1) ? changeOf($0) > changeOf($1) : $0.key < $1.key }
    }
    var regressions: [MetricDiff] { metrics.filter { $0.key.kind.gates && $0.verdict == .regression } }

    func changeOf(_ m: MetricDiff) -> Double { abs(m.candidateMedian - m.baseMedian) }

    /// How a metric is named in tables (`phase forward`, `op self aten::mm [forward]`).
    public func label(_ key: MetricKey) -> String {
        switch key.kind {
        case .step: return "step time"
        case .phase: return "phase \(key.name)"
        case .memory: return "memory peak \(key.name)"
        case .exposedComm: return "exposed communication"
        case .commWait: return "collective wait"
        case .opSelf: return "op self \(key.name)"
        case .opGPU: return "op GPU \(key.name)"
        case .opTotal: return "op total \(key.name)"
        case .kernel: return "kernel \(key.name)"
        }
    }

    /// A metric value in its unit (bytes for memory, else a duration).
    public func value(_ key: MetricKey, _ v: Double) -> String {
        key.kind == .memory ? formatBytes(saturatingInt64(v)) : formatDuration(saturatingInt64(v))
    }

    /// The change with its interval: `+12.0% [+8.1%, +15.9%]`, `-` without one.
    public func ratioText(_ m: MetricDiff) -> String {
        guard let e = m.estimate else { return "-" }
        return "\(signedPercent(e.ratio)) [\(signedPercent(e.lower)), \(signedPercent(e.upper))]"
    }

    func signedPercent(_ ratio: Double) -> String {
        let pct = (ratio - 1) * 100
        return (pct >= 0 ? "+" : "") + formatFixed(pct, 1) + "%"
    }

    var verdictLine: String {
        let steps = "\(base.steps.count) vs \(candidate.steps.count) steps"
        switch verdict {
        case .regression:
            return "REGRESSION: " + regressions.map { label($0.key) + " " + (($0.estimate).map { signedPercent($0.ratio) } ?? "") }
                .joined(separator: ", ") + " (\(steps))"
        case .inconclusive: return "INCONCLUSIVE: too few steps to decide (\(steps))"
        case .pass: return "PASS: no significant regression (\(steps))"
        }
    }

    func row(_ m: MetricDiff) -> [String] {
        [m.verdict.symbol, safe(clip(label(m.key), 70)), value(m.key, m.baseMedian), value(m.key, m.candidateMedian), ratioText(m),
         formatP(m.adjustedP)]
    }

    func formatP(_ p: Double) -> String { p < 0.001 ? "<0.001" : formatFixed(p, 3) }

    // MARK: Text

    func renderText() -> String {
        var out = verdictLine + "\n"
        if !base.skipped.isEmpty || !candidate.skipped.isEmpty {
            out += "warm-up dropped: base \(base.skipped.isEmpty ? "none" : base.skipped.joined(separator: ", ")); "
                + "candidate \(candidate.skipped.isEmpty ? "none" : candidate.skipped.joined(separator: ", "))\n"
        }
        out += "\n" + table(["", "metric", "base", "candidate", "change [95% CI]", "p"], gateRows.map(row), rightAligned: [2, 3, 4, 5])
        let ops = operatorRows.filter { $0.verdict == .regression || $0.verdict == .improvement }.prefix(15)
        if !ops.isEmpty {
            out += "\nOperators and kernels with a significant change\n"
            out += table(["", "operator", "base", "candidate", "change [95% CI]", "p"], ops.map(row), rightAligned: [2, 3, 4, 5])
        }
        if !contributors.isEmpty {
            out += "\nStep time change \(formatSignedDuration(stepChangeNs)), by operator self time:\n"
            out += table(["change", "operator"], contributors.map { [formatSignedDuration($0.deltaNs), safe(clip($0.name, 80))] }, rightAligned: [0])
        }
        out += listSection("Added in the candidate", added)
        out += listSection("Removed from the candidate", removed)
        if !structural.isEmpty {
            out += "\nStructural changes\n" + structural.prefix(20).map { "  " + safe(clip($0, 120)) + "\n" }.joined()
        }
        return out
    }

    func listSection(_ title: String, _ keys: [MetricKey]) -> String {
        let shown = keys.filter { $0.kind != .opTotal }
        guard !shown.isEmpty else { return "" }
        return "\n\(title) (\(shown.count))\n" + shown.prefix(20).map { "  " + safe(clip(label($0), 120)) + "\n" }.joined()
            + (shown.count > 20 ? "  ... and \(shown.count - 20) more\n" : "")
    }

    func formatSignedDuration(_ ns: Double) -> String {
        (ns >= 0 ? "+" : "-") + formatDuration(saturatingInt64(abs(ns)))
    }

    // MARK: Markdown

    func renderMarkdown() -> String {
        let icon = verdict == .regression ? "❌" : (verdict == .pass ? "✅" : "⚠️")
        var out = "### \(icon) stepscope diff: \(md(verdictLine))\n\n"
        out += "| | metric | base | candidate | change [95% CI] | p |\n|---|---|---:|---:|---:|---:|\n"
        for m in gateRows { out += "| " + row(m).map(md).joined(separator: " | ") + " |\n" }
        if !contributors.isEmpty {
            out += "\n**Step time change \(formatSignedDuration(stepChangeNs))**, by operator self time (adds up to the change):\n\n"
            out += "| change | operator |\n|---:|---|\n"
            for c in contributors { out += "| \(formatSignedDuration(c.deltaNs)) | `\(md(clip(c.name, 100)))` |\n" }
        }
        let ops = operatorRows.filter { $0.verdict == .regression || $0.verdict == .improvement }.prefix(15)
        if !ops.isEmpty {
            out += "\n<details><summary>Operators with a significant change (\(ops.count))</summary>\n\n"
            out += "| | operator | base | candidate | change [95% CI] | p |\n|---|---|---:|---:|---:|---:|\n"
            for m in ops { out += "| " + row(m).map(md).joined(separator: " | ") + " |\n" }
            out += "\n</details>\n"
        }
        for (title, keys) in [("Added", added), ("Removed", removed)] where !keys.filter({ $0.kind != .opTotal }).isEmpty {
            let shown = keys.filter { $0.kind != .opTotal }
            out += "\n<details><summary>\(title) (\(shown.count))</summary>\n\n"
                + shown.prefix(50).map { "- `\(md(clip(label($0), 120)))`\n" }.joined() + "\n</details>\n"
        }
        if !structural.isEmpty {
            out += "\n<details><summary>Structural changes (\(structural.count))</summary>\n\n"
                + structural.prefix(50).map { "- \(md(clip($0, 160)))\n" }.joined() + "\n</details>\n"
        }
        out += """

        <details><summary>Method</summary>

        Each step is one sample (a multi-rank step counts as its slowest rank); warm-up steps \
        dropped: base \(base.skipped.count), candidate \(candidate.skipped.count). Two-sided \
        Mann-Whitney U test (exact for small samples), Hodges-Lehmann ratio with a 95% interval; a \
        metric regresses only when significant after Holm correction across the gate metrics \
        (Benjamini-Hochberg across operators) and its interval clears the threshold. `+` \
        regression, `-` improvement, `~` no significant change, `?` too few steps.

        </details>

        """
        return out
    }

    // MARK: JSON

    func renderJSON() -> String {
        let w = JSONWriter()
        w.object {
            w.key("schema"); w.string("stepscope.diff")
            w.key("version"); w.int(DiffResult.schemaVersion)
            w.key("verdict"); w.string(verdict.rawValue)
            w.key("base"); runJSON(w, base)
            w.key("candidate"); runJSON(w, candidate)
            w.key("step_change_ns"); w.raw(formatFixed(stepChangeNs, 1))
            w.key("metrics")
            w.array {
                for m in metrics {
                    w.object {
                        w.key("kind"); w.string(m.key.kind.rawValue)
                        w.key("name"); w.string(m.key.name)
                        w.key("gate"); w.raw(m.key.kind.gates ? "true" : "false")
                        w.key("base_median"); w.raw(formatFixed(m.baseMedian, 1))
                        w.key("candidate_median"); w.raw(formatFixed(m.candidateMedian, 1))
                        if let e = m.estimate {
                            w.key("ratio"); w.raw(formatFixed(e.ratio, 6))
                            w.key("ci_low"); w.raw(formatFixed(e.lower, 6))
                            w.key("ci_high"); w.raw(formatFixed(e.upper, 6))
                        }
                        w.key("p"); w.raw(formatFixed(m.p, 6))
                        w.key("p_adjusted"); w.raw(formatFixed(m.adjustedP, 6))
                        w.key("threshold"); w.raw(formatFixed(m.threshold, 4))
                        w.key("verdict"); w.string(verdictName(m.verdict))
                    }
                }
            }
            w.key("contributors")
            w.array {
                for c in contributors {
                    w.object {
                        w.key("name"); w.string(c.name)
                        w.key("delta_ns"); w.raw(formatFixed(c.deltaNs, 1))
                    }
                }
            }
            for (name, keys) in [("added", added), ("removed", removed)] {
                w.key(name)
                w.array {
                    for k in keys {
                        w.object {
                            w.key("kind"); w.string(k.kind.rawValue)
                            w.key("name"); w.string(k.name)
                        }
                    }
                }
            }
            w.key("structural")
            w.array { for s in structural { w.string(s) } }
        }
        return w.output + "\n"
    }

    func runJSON(_ w: JSONWriter, _ r: RunSamples) {
        w.object {
            w.key("ranks"); w.int(r.ranks)
            w.key("steps"); w.array { for s in r.steps { w.string(s) } }
            w.key("skipped"); w.array { for s in r.skipped { w.string(s) } }
        }
    }

    func verdictName(_ v: MetricVerdict) -> String {
        switch v {
        case .regression: return "regression"
        case .improvement: return "improvement"
        case .noise: return "noise"
        case .inconclusive: return "inconclusive"
        }
    }

    // MARK: JUnit

    func renderJUnit() -> String {
        let cases = gateRows + operatorRows.filter { $0.key.kind.gates && $0.verdict == .regression }
        let failures = cases.filter { $0.verdict == .regression }.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuite name=\"stepscope diff\" tests=\"\(cases.count)\" failures=\"\(failures)\" skipped=\"\(cases.filter { $0.verdict == .inconclusive }.count)\">\n"
        for m in cases {
            out += "  <testcase classname=\"stepscope.\(m.key.kind.rawValue)\" name=\"\(xml(label(m.key)))\">"
            let detail = "\(value(m.key, m.baseMedian)) -> \(value(m.key, m.candidateMedian)), \(ratioText(m)), p=\(formatP(m.adjustedP))"
            switch m.verdict {
            case .regression: out += "<failure message=\"\(xml("regression: " + detail))\"/>"
            case .inconclusive: out += "<skipped message=\"\(xml("inconclusive, too few steps: " + detail))\"/>"
            default: out += "<system-out>\(xml(verdictName(m.verdict) + ": " + detail))</system-out>"
            }
            out += "</testcase>\n"
        }
        return out + "</testsuite>\n"
    }

    func xml(_ s: String) -> String {
        var out = ""
        for u in safe(s).unicodeScalars {
            switch u {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    // MARK: Folded

    /// Two-count folded stacks (`stack base candidate`, self ns per step), as difffolded writes
    /// them; stacks found in one run only get 0 on the other side.
    func renderFolded() -> String {
        let stacks = Set(base.folded.keys).union(candidate.folded.keys).sorted()
        return stacks.map { s in
            let clean = safe(s).replacingAll(" ", with: "_")
            return "\(clean) \(saturatingInt64(base.folded[s] ?? 0)) \(saturatingInt64(candidate.folded[s] ?? 0))"
        }.joined(separator: "\n") + (stacks.isEmpty ? "" : "\n")
    }
}

func md(_ s: String) -> String {
    safe(s).replacingAll("|", with: "\\|").replacingAll("`", with: "'")
}
