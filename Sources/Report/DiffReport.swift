import Analysis
import Formatting
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

    var verdictLine: String {
        let steps = "\(base.steps.count) vs \(candidate.steps.count) steps"
        switch verdict {
        case .regression:
            return "REGRESSION: " + regressions.map { label($0.key) + " " + medianChangeText($0) }
                .joined(separator: ", ") + " (\(steps))"
        case .inconclusive where decision != nil: return "INCONCLUSIVE: the steps and the calls do not agree (\(steps))"
        case .inconclusive: return "INCONCLUSIVE: too few steps to decide (\(steps))"
        case .pass: return "PASS: no significant regression (\(steps))"
        }
    }

    /// Column titles of a metric table after the values; the change is that of the medians
    /// shown, the Hodges-Lehmann shift the median of all pairwise ratios.
    static let columns = ["change", "HL shift [95% CI]", "p"]

    /// A metric's table row; the step time decided from the calls shows `calls` for its p (the
    /// step test's p could not decide; the decision line says how it was decided).
    func row(_ m: MetricDiff) -> [String] {
        let decided = m.key.kind == .step && decision.map { [.regression, .improvement, .noise].contains($0.outcome) } == true
        return [m.verdict.symbol, safe(clip(label(m.key), 70)), value(m.key, m.baseMedian), value(m.key, m.candidateMedian),
                medianChangeText(m), ratioText(m), decided ? "calls" : formatP(m.adjustedP)]
    }

    /// Keys slower or faster call by call, largest change per step first (at most `limit`).
    func significantCalls(_ limit: Int) -> [CallDiff] {
        Array(calls.filter { $0.metric.verdict == .regression || $0.metric.verdict == .improvement }
            .sorted { abs($0.stepChangeNs) != abs($1.stepChangeNs) ? abs($0.stepChangeNs) > abs($1.stepChangeNs) : $0.metric.key < $1.metric.key }
            .prefix(limit))
    }

    func callRow(_ c: CallDiff) -> [String] {
        row(c.metric) + [groupedCount(c.pairs), formatSignedDuration(c.stepChangeNs)]
    }

    static let callColumns = ["", "operator or kernel (per call)", "base", "candidate", "change", "pair ratio [95% CI]", "p", "pairs", "per step"]

    /// The structural changes but the `input shapes changed` lines of operators in a shape group.
    var ungroupedStructural: [String] {
        let grouped = Set(shapeGroups.flatMap(\.operators))
        return structural.filter { line in !grouped.contains { line.hasPrefix($0 + ": input shapes changed") } }
    }

    /// Added or removed metrics that no shape group stands for.
    func ungrouped(_ keys: [MetricKey]) -> [MetricKey] {
        let members = Set(shapeGroups.flatMap(\.members))
        return keys.filter { !members.contains($0) }
    }

    func formatP(_ p: Double) -> String { p < 0.001 ? "<0.001" : formatFixed(p, 3) }

    // MARK: Text

    func renderText() -> String {
        var out = verdictLine + "\n"
        if !base.skipped.isEmpty || !candidate.skipped.isEmpty {
            out += "warm-up dropped: base \(base.skipped.isEmpty ? "none" : base.skipped.joined(separator: ", ")); "
                + "candidate \(candidate.skipped.isEmpty ? "none" : candidate.skipped.joined(separator: ", "))\n"
        }
        if let d = decisionText { out += d + "\n" }
        out += "\n" + table(["", "metric", "base", "candidate"] + DiffResult.columns, gateRows.map(row), rightAligned: [2, 3, 4, 5, 6])
        let ops = operatorRows.filter { $0.verdict == .regression || $0.verdict == .improvement }.prefix(15)
        if !ops.isEmpty {
            out += "\nOperators and kernels with a significant change\n"
            out += table(["", "operator", "base", "candidate"] + DiffResult.columns, ops.map(row), rightAligned: [2, 3, 4, 5, 6])
        }
        let efficiency = efficiencyRows.prefix(15)
        if !efficiency.isEmpty {
            out += "\nEfficiency with a significant change (docs/efficiency.md; a fall is the regression)\n"
            out += table(["", "metric", "base", "candidate"] + DiffResult.columns, efficiency.map(row), rightAligned: [2, 3, 4, 5, 6])
        }
        let callRows = significantCalls(15)
        if !callRows.isEmpty {
            out += "\nSlower or faster call by call (median per call)\n"
            out += table(DiffResult.callColumns, callRows.map(callRow), rightAligned: [2, 3, 4, 5, 6, 7, 8])
        }
        if !contributors.isEmpty {
            out += "\nStep time change \(formatSignedDuration(stepChangeNs)), by operator self time:\n"
            out += table(["change", "operator"], contributors.map { [formatSignedDuration($0.deltaNs), safe(clip($0.name, 80))] }, rightAligned: [0])
        }
        out += listSection("Added in the candidate", ungrouped(added))
        out += listSection("Removed from the candidate", ungrouped(removed))
        let lines = ungroupedStructural
        if !lines.isEmpty || !shapeGroups.isEmpty {
            out += "\nStructural changes\n"
            for g in shapeGroups {
                out += "  " + g.summary + "\n"
                out += g.operators.prefix(8).map { "    " + safe(clip($0, 116)) + "\n" }.joined()
                    + (g.operators.count > 8 ? "    ... and \(g.operators.count - 8) more (--format json: shape_groups)\n" : "")
            }
            out += lines.prefix(20).map { "  " + safe(clip($0, 120)) + "\n" }.joined()
        }
        return out + grownStacksText()
    }

    func listSection(_ title: String, _ keys: [MetricKey]) -> String {
        let shown = keys.filter { $0.kind != .opTotal }
        guard !shown.isEmpty else { return "" }
        return "\n\(title) (\(shown.count))\n" + shown.prefix(20).map { "  " + safe(clip(label($0), 120)) + "\n" }.joined()
            + (shown.count > 20 ? "  ... and \(shown.count - 20) more\n" : "")
    }

    // MARK: Markdown

    func renderMarkdown() -> String {
        let icon = verdict == .regression ? "❌" : (verdict == .pass ? "✅" : "⚠️")
        var out = "### \(icon) stepscope diff: \(md(verdictLine))\n\n"
        if let d = decisionText { out += md(d) + "\n\n" }
        out += "| | metric | base | candidate | change | HL shift [95% CI] | p |\n|---|---|---:|---:|---:|---:|---:|\n"
        for m in gateRows { out += "| " + row(m).map(md).joined(separator: " | ") + " |\n" }
        if !contributors.isEmpty {
            out += "\n**Step time change \(formatSignedDuration(stepChangeNs))**, by operator self time (adds up to the change):\n\n"
            out += "| change | operator |\n|---:|---|\n"
            for c in contributors { out += "| \(formatSignedDuration(c.deltaNs)) | `\(md(clip(c.name, 100)))` |\n" }
        }
        let ops = operatorRows.filter { $0.verdict == .regression || $0.verdict == .improvement }.prefix(15)
        if !ops.isEmpty {
            out += "\n<details><summary>Operators with a significant change (\(ops.count))</summary>\n\n"
            out += "| | operator | base | candidate | change | HL shift [95% CI] | p |\n|---|---|---:|---:|---:|---:|---:|\n"
            for m in ops { out += "| " + row(m).map(md).joined(separator: " | ") + " |\n" }
            out += "\n</details>\n"
        }
        let efficiency = efficiencyRows.prefix(15)
        if !efficiency.isEmpty {
            out += "\n<details><summary>Efficiency with a significant change (\(efficiency.count))</summary>\n\n"
            out += "| | metric | base | candidate | change | HL shift [95% CI] | p |\n|---|---|---:|---:|---:|---:|---:|\n"
            for m in efficiency { out += "| " + row(m).map(md).joined(separator: " | ") + " |\n" }
            out += "\n</details>\n"
        }
        let callRows = significantCalls(15)
        if !callRows.isEmpty {
            out += "\n<details><summary>Slower or faster call by call (\(callRows.count))</summary>\n\n"
            out += "| " + DiffResult.callColumns.joined(separator: " | ") + " |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
            for c in callRows { out += "| " + callRow(c).map(md).joined(separator: " | ") + " |\n" }
            out += "\n</details>\n"
        }
        for (title, keys) in [("Added", ungrouped(added)), ("Removed", ungrouped(removed))] where !keys.filter({ $0.kind != .opTotal }).isEmpty {
            let shown = keys.filter { $0.kind != .opTotal }
            out += "\n<details><summary>\(title) (\(shown.count))</summary>\n\n"
                + shown.prefix(50).map { "- `\(md(clip(label($0), 120)))`\n" }.joined() + "\n</details>\n"
        }
        let lines = ungroupedStructural
        if !lines.isEmpty || !shapeGroups.isEmpty {
            out += "\n<details><summary>Structural changes (\(lines.count + shapeGroups.count))</summary>\n\n"
            for g in shapeGroups {
                out += "- \(md(g.summary)): " + g.operators.prefix(50).map { "`\(md(clip($0, 100)))`" }.joined(separator: ", ") + "\n"
            }
            out += lines.prefix(50).map { "- \(md(clip($0, 160)))\n" }.joined() + "\n</details>\n"
        }
        out += grownStacksMarkdown()
        out += """

        <details><summary>Method</summary>

        Each step is one sample (a multi-rank step counts as its slowest rank); warm-up steps \
        dropped: base \(base.skipped.count), candidate \(candidate.skipped.count). Two-sided \
        Mann-Whitney U test (exact for small samples), Hodges-Lehmann ratio with a 95% interval; a \
        metric regresses only when significant after Holm correction across the gate metrics \
        (Benjamini-Hochberg across operators) and its interval clears the threshold. `+` \
        regression, `-` improvement, `~` no significant change, `?` too few steps. The change is \
        that of the medians shown; the HL shift is the median of all pairwise ratios. With too few \
        steps for the test, the step time is decided from the operator and kernel calls: every \
        call is a sample, the calls of an operator at the same input shapes compared across the runs.

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
                        if let r = m.medianChange { w.key("median_change_pct"); w.raw(formatFixed((r - 1) * 100, 3)) }
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
            grownStacksJSON(w)
            w.key("shape_groups")
            w.array {
                for g in shapeGroups {
                    w.object {
                        w.key("from"); w.int(g.from)
                        w.key("to"); w.int(g.to)
                        w.key("summary"); w.string(g.summary)
                        w.key("operators"); w.array { for o in g.operators { w.string(o) } }
                        w.key("scaled"); w.array { for o in g.scaled { w.string(o) } }
                        w.key("members"); w.int(g.members.count)
                    }
                }
            }
            if let d = decision {
                w.key("call_decision")
                w.object {
                    w.key("outcome"); w.string(d.outcome.rawValue)
                    w.key("paired_calls"); w.int(d.pairedCalls)
                    w.key("keys"); w.int(d.keys)
                    w.key("separated"); w.raw(d.separated ? "true" : "false")
                    w.key("step_ratio"); w.raw(formatFixed(d.stepRatio, 6))
                    w.key("slower_keys"); w.int(d.slowerKeys)
                    w.key("faster_keys"); w.int(d.fasterKeys)
                    w.key("explained_ns"); w.raw(formatFixed(d.explainedNs, 1))
                    w.key("summary"); w.string(decisionText ?? "")
                }
                w.key("call_metrics")
                w.array {
                    for c in significantCalls(.max) {
                        w.object {
                            w.key("kind"); w.string(c.metric.key.kind.rawValue)
                            w.key("name"); w.string(c.metric.key.name)
                            w.key("pairs"); w.int(c.pairs)
                            w.key("base_median"); w.raw(formatFixed(c.metric.baseMedian, 1))
                            w.key("candidate_median"); w.raw(formatFixed(c.metric.candidateMedian, 1))
                            if let e = c.metric.estimate {
                                w.key("ratio"); w.raw(formatFixed(e.ratio, 6))
                                w.key("ci_low"); w.raw(formatFixed(e.lower, 6))
                                w.key("ci_high"); w.raw(formatFixed(e.upper, 6))
                            }
                            w.key("p"); w.raw(formatFixed(c.metric.p, 6))
                            w.key("p_adjusted"); w.raw(formatFixed(c.metric.adjustedP, 6))
                            w.key("step_change_ns"); w.raw(formatFixed(c.stepChangeNs, 1))
                            w.key("verdict"); w.string(verdictName(c.metric.verdict))
                        }
                    }
                }
            }
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
        let slowerCalls = verdict == .regression ? significantCalls(.max).filter { $0.metric.verdict == .regression } : []
        let cases = gateRows + operatorRows.filter { $0.key.kind.gates && $0.verdict == .regression }
        let failures = cases.filter { $0.verdict == .regression }.count + slowerCalls.count
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuite name=\"stepscope diff\" tests=\"\(cases.count + slowerCalls.count)\" failures=\"\(failures)\" skipped=\"\(cases.filter { $0.verdict == .inconclusive }.count)\">\n"
        for m in cases {
            out += "  <testcase classname=\"stepscope.\(m.key.kind.rawValue)\" name=\"\(xml(label(m.key)))\">"
            var detail = "\(value(m.key, m.baseMedian)) -> \(value(m.key, m.candidateMedian)) (\(medianChangeText(m))), "
                + "HL shift \(ratioText(m)), p=\(formatP(m.adjustedP))"
            if m.key.kind == .step, let d = decisionText { detail += "; " + d }
            switch m.verdict {
            case .regression: out += "<failure message=\"\(xml("regression: " + detail))\"/>"
            case .inconclusive: out += "<skipped message=\"\(xml("inconclusive, too few steps: " + detail))\"/>"
            default: out += "<system-out>\(xml(verdictName(m.verdict) + ": " + detail))</system-out>"
            }
            out += "</testcase>\n"
        }
        for c in slowerCalls {
            let m = c.metric
            let detail = "per call \(value(m.key, m.baseMedian)) -> \(value(m.key, m.candidateMedian)) (\(medianChangeText(m))), "
                + "median pair ratio \(ratioText(m)), p=\(formatP(m.adjustedP)), \(c.pairs) pairs of calls, "
                + "\(formatSignedDuration(c.stepChangeNs)) per step"
            out += "  <testcase classname=\"stepscope.calls.\(m.key.kind.rawValue)\" name=\"\(xml(label(m.key)))\">"
                + "<failure message=\"\(xml("slower call by call: " + detail))\"/></testcase>\n"
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
