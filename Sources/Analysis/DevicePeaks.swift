import TraceModel

/// A device's peak dense throughput per precision and its memory bandwidth (docs/efficiency.md,
/// "Device peaks"; each built-in number's source is listed there).
public struct DevicePeaks: Sendable, Equatable {
    /// The device's name as the table (or the `--device-peak` file) gives it.
    public var name: String
    /// Peak dense TFLOP/s per precision key (`Precision.peakKey`: fp64, fp32, tf32, bf16, fp16, fp8, fp4, int8).
    public var tflops: [String: Double]
    /// Peak memory bandwidth in GB/s (10^9 bytes per second).
    public var memoryGBps: Double

    public init(name: String, tflops: [String: Double], memoryGBps: Double) {
        self.name = name
        self.tflops = tflops
        self.memoryGBps = memoryGBps
    }

    /// Peak FLOP/ns (= TFLOP/s × 1000) of `precision`, nil when the table has none for it.
    public func flopsPerNs(_ precision: Precision) -> Double? {
        tflops[precision.peakKey].map { $0 * 1000 }
    }

    /// Bytes per ns (= GB/s).
    public var bytesPerNs: Double { memoryGBps }

    /// The roofline at `intensity` FLOP/byte in TFLOP/s: the memory slope (intensity × bandwidth),
    /// capped by the peak of `precision` where the table has one (the same bound as an operator's
    /// time at the roofline, max(FLOPs / peak, bytes / bandwidth)).
    public func attainableTFLOPs(intensity: Double, precision: Precision?) -> Double {
        let memory = intensity * memoryGBps / 1000
        guard let p = precision, let peak = tflops[p.peakKey] else { return memory }
        return min(peak, memory)
    }

    /// The ridge point of `precision` in FLOP/byte (where the memory slope meets its peak), nil without a peak.
    public func ridgeIntensity(_ precision: Precision) -> Double? { tflops[precision.peakKey].map { $0 * 1000 / memoryGBps } }

    /// The built-in entry for a device name from the trace (`deviceProperties`), nil when none
    /// matches: the first entry whose every pattern is in the lowercased name.
    public static func lookup(deviceName: String) -> DevicePeaks? {
        let n = deviceName.lowercased()
        return table.first { entry in entry.patterns.allSatisfy { n.contains($0) } }?.peaks
    }

    /// Built-in devices, most specific first (docs/efficiency.md, "Device peaks").
    static let table: [(patterns: [String], peaks: DevicePeaks)] = [
        (["a100", "pcie", "40gb"], DevicePeaks(name: "NVIDIA A100 PCIe 40GB", tflops: a100, memoryGBps: 1555)),
        (["a100", "pcie"], DevicePeaks(name: "NVIDIA A100 PCIe 80GB", tflops: a100, memoryGBps: 1935)),
        (["a100", "40gb"], DevicePeaks(name: "NVIDIA A100 SXM 40GB", tflops: a100, memoryGBps: 1555)),
        (["a100"], DevicePeaks(name: "NVIDIA A100 SXM 80GB", tflops: a100, memoryGBps: 2039)),
        (["h100", "pcie"], DevicePeaks(name: "NVIDIA H100 PCIe", tflops: [
            "fp64": 51, "fp32": 51, "tf32": 378, "bf16": 756, "fp16": 756, "fp8": 1513, "int8": 1513,
        ], memoryGBps: 2000)),
        (["h100"], DevicePeaks(name: "NVIDIA H100 SXM", tflops: hopperSXM, memoryGBps: 3350)),
        (["h200"], DevicePeaks(name: "NVIDIA H200 SXM", tflops: hopperSXM, memoryGBps: 4800)),
        (["b200"], DevicePeaks(name: "NVIDIA B200", tflops: [
            "fp64": 37, "fp32": 75, "tf32": 1125, "bf16": 2250, "fp16": 2250, "fp8": 4500, "fp4": 9000, "int8": 4500,
        ], memoryGBps: 8000)),
        (["l40s"], DevicePeaks(name: "NVIDIA L40S", tflops: [
            "fp32": 91.6, "tf32": 183, "bf16": 362.05, "fp16": 362.05, "fp8": 733, "int8": 733,
        ], memoryGBps: 864)),
        (["mi250"], DevicePeaks(name: "AMD Instinct MI250X", tflops: [
            "fp64": 95.7, "fp32": 95.7, "bf16": 383, "fp16": 383, "int8": 383,
        ], memoryGBps: 3276.8)),
        (["mi300x"], DevicePeaks(name: "AMD Instinct MI300X", tflops: cdna3, memoryGBps: 5300)),
        (["mi325x"], DevicePeaks(name: "AMD Instinct MI325X", tflops: cdna3, memoryGBps: 6000)),
        (["910b"], DevicePeaks(name: "Huawei Ascend 910B", tflops: ["bf16": 280, "fp16": 280], memoryGBps: 1600)),
    ]

    static let a100: [String: Double] = ["fp64": 19.5, "fp32": 19.5, "tf32": 156, "bf16": 312, "fp16": 312, "int8": 624]
    static let hopperSXM: [String: Double] = [
        "fp64": 67, "fp32": 67, "tf32": 494.5, "bf16": 989.5, "fp16": 989.5, "fp8": 1979, "int8": 1979,
    ]
    static let cdna3: [String: Double] = [
        "fp64": 163.4, "fp32": 163.4, "tf32": 653.7, "bf16": 1307.4, "fp16": 1307.4, "fp8": 2614.9, "int8": 2614.9,
    ]

    /// Reads a `--device-peak` file: a JSON object `{"name": "...", "memory_gbps": 3350, "tflops":
    /// {"bf16": 989.5, ...}}` (keys of `tflops` are precision keys), or the same in TOML (a file
    /// whose first character outside comments is not `{`; `PeakTOML`). Errors name the file and
    /// the byte offset, line or field.
    public static func parse(_ bytes: [UInt8], file: String) throws(ImportError) -> DevicePeaks {
        let doc: JSONValue
        if PeakTOML.looksLikeTOML(bytes) {
            doc = try PeakTOML.parse(bytes, file: file)
        } else {
            do { doc = try JSONValue.parse(bytes) } catch { throw ImportError(file: file, offset: Int64(error.offset), message: error.message) }
        }
        guard case .object = doc else { throw ImportError(file: file, message: "expected a JSON object") }
        guard let name = doc["name"]?.string, case .string = doc["name"]! else {
            throw ImportError(file: file, message: "field \"name\": expected a string")
        }
        guard let bw = doc["memory_gbps"].flatMap(number), bw > 0 else {
            throw ImportError(file: file, message: "field \"memory_gbps\": expected a positive number")
        }
        guard case let .object(members)? = doc["tflops"] else {
            throw ImportError(file: file, message: "field \"tflops\": expected an object of precision: TFLOP/s")
        }
        let keys = Set(Precision.allCases.map(\.peakKey))
        var tflops: [String: Double] = [:]
        for (k, v) in members {
            guard keys.contains(k) else {
                throw ImportError(file: file, message: "field \"tflops.\(k)\": unknown precision (expected one of \(keys.sorted().joined(separator: ", ")))")
            }
            guard let x = number(v), x > 0 else { throw ImportError(file: file, message: "field \"tflops.\(k)\": expected a positive number") }
            tflops[k] = x
        }
        return DevicePeaks(name: name, tflops: tflops, memoryGBps: bw)
    }

    static func number(_ v: JSONValue) -> Double? {
        if case let .number(t) = v, let x = Double(t), x.isFinite { return x }
        return nil
    }
}

/// The TOML a `--device-peak` file may be written in: `key = value` lines (bare or quoted keys;
/// basic strings, integers and floats with `_` separators, inline tables of those), `[table]`
/// headers one level deep, `#` comments. Enough for the peak file's shape, read into the same
/// `JSONValue` the JSON form gives, so both are checked by one set of rules.
enum PeakTOML {
    /// Whether the first byte outside whitespace and `#` comments is not `{` (so not JSON).
    static func looksLikeTOML(_ bytes: [UInt8]) -> Bool {
        var i = 0, comment = false
        while i < bytes.count {
            let b = bytes[i]
            if comment { if b == 0x0A { comment = false } } else if b == 0x23 { comment = true } else if b > 0x20 { return b != 0x7B }
            i += 1
        }
        return false
    }

    static func parse(_ bytes: [UInt8], file: String) throws(ImportError) -> JSONValue {
        var root: [(String, JSONValue)] = []
        var table: String?  // the current [table]
        var tableMembers: [(String, JSONValue)] = []
        func close() throws(ImportError) {
            if let t = table { try put(&root, t, .object(tableMembers), line: 0) }
            table = nil
            tableMembers = []
        }
        func put(_ members: inout [(String, JSONValue)], _ key: String, _ v: JSONValue, line: Int) throws(ImportError) {
            guard !members.contains(where: { $0.0 == key }) else {
                throw ImportError(file: file, message: line > 0 ? "line \(line): key \"\(key)\" given twice" : "table [\(key)] given twice")
            }
            members.append((key, v))
        }
        for (n, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
            var c = Cursor(bytes: Array(raw), file: file, line: n + 1)
            c.skipSpaces()
            if c.atEnd || c.peek == 0x23 { continue }
            if c.peek == 0x5B {  // [table]
                c.i += 1
                c.skipSpaces()
                let name = try c.key()
                c.skipSpaces()
                guard c.peek == 0x5D else { throw c.error("expected ']' after the table name (one level of tables)") }
                c.i += 1
                try c.endOfLine()
                try close()
                table = name
                continue
            }
            let key = try c.key()
            c.skipSpaces()
            guard c.peek == 0x3D else { throw c.error("expected '=' after the key") }
            c.i += 1
            c.skipSpaces()
            let value = try c.value(inline: true)
            try c.endOfLine()
            if table != nil { try put(&tableMembers, key, value, line: n + 1) } else { try put(&root, key, value, line: n + 1) }
        }
        try close()
        return .object(root)
    }

    /// A position in one line.
    struct Cursor {
        let bytes: [UInt8]
        let file: String
        let line: Int
        var i = 0
        init(bytes: [UInt8], file: String, line: Int) {
            // A CRLF file's lines end in \r.
            self.bytes = bytes.last == 0x0D ? Array(bytes.dropLast()) : bytes
            self.file = file
            self.line = line
        }
        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8 { atEnd ? 0 : bytes[i] }
        func error(_ message: String) -> ImportError { ImportError(file: file, message: "line \(line), column \(i + 1): \(message)") }
        mutating func skipSpaces() { while !atEnd && (peek == 0x20 || peek == 0x09) { i += 1 } }
        mutating func endOfLine() throws(ImportError) {
            skipSpaces()
            guard atEnd || peek == 0x23 else { throw error("unexpected text after the value") }
        }
        static func isBare(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F || b == 0x2D
        }
        mutating func key() throws(ImportError) -> String {
            if peek == 0x22 { return try string() }
            let start = i
            while !atEnd && Self.isBare(peek) { i += 1 }
            guard i > start else { throw error("expected a key") }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }
        mutating func string() throws(ImportError) -> String {
            i += 1  // the opening quote
            var out: [UInt8] = []
            while !atEnd {
                let b = peek
                i += 1
                if b == 0x22 { return String(decoding: out, as: UTF8.self) }
                if b == 0x5C {
                    guard !atEnd else { break }
                    let e = peek
                    i += 1
                    switch e {
                    case 0x22, 0x5C: out.append(e)
                    case 0x6E: out.append(0x0A)
                    case 0x74: out.append(0x09)
                    default: throw error("unsupported escape in a string")
                    }
                } else {
                    out.append(b)
                }
            }
            throw error("unterminated string")
        }
        mutating func value(inline: Bool) throws(ImportError) -> JSONValue {
            switch peek {
            case 0x22: return .string(try string())
            case 0x7B where inline:
                i += 1
                var members: [(String, JSONValue)] = []
                skipSpaces()
                if peek == 0x7D { i += 1; return .object(members) }
                while true {
                    skipSpaces()
                    let k = try key()
                    skipSpaces()
                    guard peek == 0x3D else { throw error("expected '=' in the inline table") }
                    i += 1
                    skipSpaces()
                    let v = try value(inline: false)
                    guard !members.contains(where: { $0.0 == k }) else { throw error("key \"\(k)\" given twice") }
                    members.append((k, v))
                    skipSpaces()
                    if peek == 0x2C { i += 1; continue }
                    guard peek == 0x7D else { throw error("expected ',' or '}' in the inline table") }
                    i += 1
                    return .object(members)
                }
            default:
                let start = i
                while !atEnd && (Self.isBare(peek) || peek == 0x2E || peek == 0x2B) { i += 1 }
                let text = String(decoding: bytes[start..<i].filter { $0 != 0x5F }, as: UTF8.self)
                guard !text.isEmpty, Double(text) != nil, text.first != "+" || text.count > 1 else {
                    throw error(i > start ? "expected a number or a string" : "expected a value")
                }
                return .number(text.first == "+" ? String(text.dropFirst()) : text)
            }
        }
    }
}
