import Analysis
import TraceImport
import TraceModel

/// A run's per-step samples saved as JSON (`stepscope summary`), so a baseline is loaded once and
/// diffed against many candidates. Schema `stepscope.samples`, version 1 (docs/diff.md).
public enum SamplesFile {
    public static let schema = "stepscope.samples"
    public static let version = 1

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
                for (key, values) in r.metrics.sorted(by: { $0.key < $1.key }) {
                    w.object {
                        w.key("kind"); w.string(key.kind.rawValue)
                        w.key("name"); w.string(key.name)
                        w.key("values"); w.array { for v in values { w.raw(formatFixed(v, 1)) } }
                    }
                }
            }
            w.key("calls"); w.object { for (k, v) in r.calls.sorted(by: { $0.key < $1.key }) { w.key(k); w.raw(formatFixed(v, 3)) } }
            w.key("shapes"); w.object {
                for (k, v) in r.shapes.sorted(by: { $0.key < $1.key }) { w.key(k); w.array { for s in v.sorted() { w.string(s) } } }
            }
            w.key("folded"); w.object { for (k, v) in r.folded.sorted(by: { $0.key < $1.key }) { w.key(k); w.raw(formatFixed(v, 1)) } }
        }
        return w.output + "\n"
    }

    /// Whether `bytes` (the start of a file) look like a samples file.
    public static func looksLikeSamples(_ bytes: [UInt8]) -> Bool {
        String(decoding: bytes.prefix(256), as: UTF8.self).contains("\"schema\":\"\(schema)\"")
    }

    /// Parses a samples file; the error names the file and what is wrong.
    public static func decode(_ bytes: [UInt8], file: String) throws(ImportError) -> RunSamples {
        let doc: JSONValue
        do throws(JSONValueError) { doc = try JSONValue.parse(bytes) } catch {
            throw ImportError(file: file, offset: Int64(error.offset), message: error.message)
        }
        guard doc["schema"]?.string == schema else { throw ImportError(file: file, message: "not a stepscope samples file (schema)") }
        guard doc["version"]?.int == version else { throw ImportError(file: file, message: "unsupported samples version") }
        func number(_ v: JSONValue, _ field: String) throws(ImportError) -> Double {
            guard case let .number(t) = v, let d = Double(t) else { throw ImportError(file: file, message: "\(field) must be a number") }
            return d
        }
        var r = RunSamples()
        r.ranks = doc["ranks"]?.int ?? 0
        r.steps = (doc["steps"]?.array ?? []).compactMap(\.string)
        r.skipped = (doc["skipped"]?.array ?? []).compactMap(\.string)
        for m in doc["metrics"]?.array ?? [] {
            guard let kindName = m["kind"]?.string, let kind = MetricKind(rawValue: kindName), let name = m["name"]?.string else {
                throw ImportError(file: file, message: "metrics[]: unknown kind or missing name")
            }
            var values: [Double] = []
            for v in m["values"]?.array ?? [] { values.append(try number(v, "metrics[].values")) }
            guard values.count == r.steps.count else { throw ImportError(file: file, message: "metrics[] \(name): \(values.count) values for \(r.steps.count) steps") }
            r.metrics[MetricKey(kind, name)] = values
        }
        if case let .object(members)? = doc["calls"] { for (k, v) in members { r.calls[k] = try number(v, "calls") } }
        if case let .object(members)? = doc["shapes"] { for (k, v) in members { r.shapes[k] = Set((v.array ?? []).compactMap(\.string)) } }
        if case let .object(members)? = doc["folded"] { for (k, v) in members { r.folded[k] = try number(v, "folded") } }
        return r
    }
}
