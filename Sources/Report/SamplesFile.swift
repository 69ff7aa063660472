import Analysis
import Formatting
import TraceModel

/// A run's per-step samples saved as JSON (`stepscope summary`), so a baseline is loaded once and
/// diffed against many candidates. Schema `stepscope.samples`, version 2 (docs/diff.md); version 1
/// files (without operator rows by shapes) are read too.
public enum SamplesFile {
    public static let schema = "stepscope.samples"
    public static let version = 2

    /// The samples as JSON text.
    public static func encode(_ r: RunSamples) -> String {
        let w = JSONWriter()
        w.object {
            w.key("schema"); w.string(schema)
            w.key("version"); w.int(version)
            w.key("ranks"); w.int(r.ranks)
            w.key("steps"); w.array { for s in r.steps { w.string(s) } }
            w.key("skipped"); w.array { for s in r.skipped { w.string(s) } }
            w.key("metrics")
            w.array {
                for (key, values) in r.metrics.sorted(by: { $0.key < $1.key }) { metric(w, key, nil, values) }
            }
            w.key("shape_metrics")
            w.array {
                for (key, byShape) in r.shapeMetrics.sorted(by: { $0.key < $1.key }) {
                    for (shape, values) in byShape.sorted(by: { $0.key < $1.key }) { metric(w, key, shape, values) }
                }
            }
            w.key("calls"); w.object { for (k, v) in r.calls.sorted(by: { $0.key < $1.key }) { w.key(k); w.raw(formatFixed(v, 3)) } }
            w.key("folded"); w.object { for (k, v) in r.folded.sorted(by: { $0.key < $1.key }) { w.key(k); w.raw(formatFixed(v, 1)) } }
            encodeCallSamples(w, r)
            encodeSnapshotStacks(w, r)
        }
        return w.output + "\n"
    }

    private static func metric(_ w: JSONWriter, _ key: MetricKey, _ shape: String?, _ values: [Double]) {
        w.object {
            w.key("kind"); w.string(key.kind.rawValue)
            w.key("name"); w.string(key.name)
            if let shape { w.key("shape"); w.string(shape) }
            w.key("values"); w.array { for v in values { w.raw(formatFixed(v, 1)) } }
        }
    }

    /// Whether `bytes` (the start of a document; `complete` when they are all of it) are a samples
    /// file: a JSON object whose `schema` member, found before any `traceEvents`, names this schema.
    /// Decided by parsing, so pretty-printed files and any key order are recognised; nil when the
    /// bytes end before it can be told.
    public static func isSamples(_ bytes: [UInt8], complete: Bool) -> Bool? {
        SummaryFile.savedSchema(bytes, complete: complete).map { $0 == schema }
    }

    /// Parses a samples file; the error names the file and what is wrong (strings from the file
    /// terminal-safe).
    public static func decode(_ bytes: [UInt8], file: String) throws(ImportError) -> RunSamples {
        let doc: JSONValue
        do throws(JSONValueError) { doc = try JSONValue.parse(bytes) } catch {
            throw ImportError(file: file, offset: Int64(error.offset), message: error.message)
        }
        guard doc["schema"]?.string == schema else { throw ImportError(file: file, message: "not a stepscope samples file (schema)") }
        guard let v = doc["version"]?.int, (1...version).contains(v) else { throw ImportError(file: file, message: "unsupported samples version") }
        func number(_ v: JSONValue, _ field: String) throws(ImportError) -> Double {
            guard case let .number(t) = v, let d = Double(t) else { throw ImportError(file: file, message: "\(field) must be a number") }
            guard d.isFinite else { throw ImportError(file: file, message: "\(field): \(t) is out of range (not a finite number)") }
            return d
        }
        func array(_ field: String) throws(ImportError) -> [JSONValue] {
            guard let a = doc[field]?.array else { throw ImportError(file: file, message: "missing \(field) (an array)") }
            return a
        }
        var r = RunSamples()
        r.ranks = doc["ranks"]?.int ?? 0
        r.steps = try array("steps").compactMap(\.string)
        r.skipped = (doc["skipped"]?.array ?? []).compactMap(\.string)
        // Version 1 files have no rows by shapes.
        let fields = [("metrics", try array("metrics")), ("shape_metrics", doc["shape_metrics"]?.array ?? [])]
        for (field, rows) in fields {
            for m in rows {
                guard let kindName = m["kind"]?.string, let kind = MetricKind(rawValue: kindName), let name = m["name"]?.string else {
                    throw ImportError(file: file, message: "\(field)[]: unknown kind or missing name")
                }
                let shown = name.isEmpty ? kindName : JSONText.terminalSafe(name)
                var values: [Double] = []
                for v in m["values"]?.array ?? [] { values.append(try number(v, "\(field)[] \(shown) values")) }
                guard values.count == r.steps.count else {
                    throw ImportError(file: file, message: "\(field)[] \(shown): \(values.count) values for \(r.steps.count) steps")
                }
                if field == "metrics" {
                    r.metrics[MetricKey(kind, name)] = values
                } else {
                    guard let shape = m["shape"]?.string else { throw ImportError(file: file, message: "shape_metrics[] \(shown): missing shape") }
                    r.shapeMetrics[MetricKey(kind, name), default: [:]][shape] = values
                }
            }
        }
        // `summary` writes every step's duration; without them nothing can be decided (except for
        // memory snapshots: their one step, `snapshot`, has only the devices' peaks).
        if !r.steps.isEmpty && r.metrics[MetricKey(.step, "")] == nil && (r.metrics.isEmpty || !r.metrics.keys.allSatisfy { $0.kind == .memory }) {
            throw ImportError(file: file, message: "metrics: no step row (kind step) for the \(r.steps.count) steps")
        }
        if case let .object(members)? = doc["calls"] {
            for (k, v) in members { r.calls[k] = try number(v, "calls \(JSONText.terminalSafe(k))") }
        }
        if case let .object(members)? = doc["folded"] {
            for (k, v) in members { r.folded[k] = try number(v, "folded \(JSONText.terminalSafe(k))") }
        }
        try decodeCallSamples(doc, into: &r, file: file)
        try decodeSnapshotStacks(doc, into: &r, file: file)
        return r
    }
}

// Per-call samples (`RunSamples.callSamples`), an optional section of version 2:
// "call_samples": [{"kind": "op_self"|"kernel", "name": KEY, "steps": [[ns, ...] per step]}].
extension SamplesFile {
    static func encodeCallSamples(_ w: JSONWriter, _ r: RunSamples) {
        w.key("call_samples")
        w.array {
            for (key, steps) in r.callSamples.sorted(by: { $0.key < $1.key }) {
                w.object {
                    w.key("kind"); w.string(key.kind.rawValue)
                    w.key("name"); w.string(key.name)
                    w.key("steps"); w.array { for calls in steps { w.array { for v in calls { w.raw(formatFixed(v, 1)) } } } }
                }
            }
        }
    }

    static func decodeCallSamples(_ doc: JSONValue, into r: inout RunSamples, file: String) throws(ImportError) {
        for m in doc["call_samples"]?.array ?? [] {
            guard let kindName = m["kind"]?.string, let kind = MetricKind(rawValue: kindName), let name = m["name"]?.string,
                  let steps = m["steps"]?.array, steps.count == r.steps.count else {
                throw ImportError(file: file, message: "call_samples[]: unknown kind, missing name, or not one list per step")
            }
            var lists: [[Double]] = []
            for calls in steps {
                var values: [Double] = []
                for v in calls.array ?? [] {
                    guard case let .number(t) = v, let d = Double(t), d.isFinite else {
                        throw ImportError(file: file, message: "call_samples[] \(name): values must be numbers")
                    }
                    values.append(d)
                }
                lists.append(values)
            }
            r.callSamples[MetricKey(kind, name)] = lists
        }
    }
}

// Memory snapshots' live bytes at the peak by stack (`RunSamples.snapshotStacks`), an optional
// section of version 2: "snapshot_stacks": [{"device": NAME, "frames": [outermost first, ...],
// "bytes": N, "count": N}], per device by bytes descending.
extension SamplesFile {
    static func encodeSnapshotStacks(_ w: JSONWriter, _ r: RunSamples) {
        w.key("snapshot_stacks")
        w.array {
            for (device, groups) in r.snapshotStacks.sorted(by: { $0.key < $1.key }) {
                for g in groups {
                    w.object {
                        w.key("device"); w.string(device)
                        w.key("frames"); w.array { for f in g.frames { w.string(f) } }
                        w.key("bytes"); w.int(Int(g.bytes))
                        w.key("count"); w.int(g.count)
                    }
                }
            }
        }
    }

    static func decodeSnapshotStacks(_ doc: JSONValue, into r: inout RunSamples, file: String) throws(ImportError) {
        for (k, m) in (doc["snapshot_stacks"]?.array ?? []).enumerated() {
            guard let device = m["device"]?.string, let frames = m["frames"]?.array, let bytes = m["bytes"]?.int, let count = m["count"]?.int,
                  bytes >= 0, count >= 0 else {
                throw ImportError(file: file, message: "snapshot_stacks[\(k)]: needs device, frames, bytes and count (non-negative integers)")
            }
            var names: [String] = []
            for f in frames {
                guard case let .string(s) = f else { throw ImportError(file: file, message: "snapshot_stacks[\(k)].frames: not a list of strings") }
                names.append(s)
            }
            r.snapshotStacks[device, default: []].append(SnapshotStackGroup(frames: names, bytes: Int64(bytes), count: count))
        }
    }
}

extension RunReport {
    /// The run reduced to per-step samples: every metric `stepscope diff` compares (operator rows
    /// from the ranks' `samples`, made when the report was asked for them).
    public var samples: RunSamples { Analyzer.samples(ranks: ranks, communication: communication) }
}
