import Analysis
import TraceModel

// The units every output shares, the reports and the terminal UI alike: durations, bytes,
// percentages, fixed decimals, slice kinds, and trace text made safe for a terminal.

/// Human units for nanoseconds: `830.0 ms`, `12.3 us`, `4.56 s`.
public func formatDuration(_ ns: Int64) -> String {
    let a = ns.magnitude
    func fixed(_ v: Int64, _ unit: Int64, _ digits: Int, _ suffix: String) -> String {
        // Whole units and the rounded fraction apart, so that no product passes Int64.
        let scale = Int64([1, 10, 100, 1000][digits])
        var whole = v / unit
        var frac = ((v % unit).magnitude * UInt64(scale) + UInt64(unit / 2)) / UInt64(unit)
        if frac == UInt64(scale) { frac = 0; whole += v >= 0 ? 1 : -1 }
        let fracText = digits == 0 ? "" : "." + String(repeating: "0", count: digits - String(frac).count) + String(frac)
        return (v < 0 && whole == 0 && frac > 0 ? "-" : "") + String(whole) + fracText + " " + suffix
    }
    if a >= 1_000_000_000 { return fixed(ns, 1_000_000_000, 3, "s") }
    if a >= 1_000_000 { return fixed(ns, 1_000_000, 1, "ms") }
    if a >= 1_000 { return fixed(ns, 1_000, 1, "us") }
    return "\(ns) ns"
}

/// `v` rounded to an integer and clamped to Int64 (NaN: 0): sums of hostile values can pass it.
public func saturatingInt64(_ v: Double) -> Int64 {
    if v.isNaN { return 0 }
    if v >= 0x1p63 { return .max }
    if v <= -0x1p63 { return .min }
    return Int64(v.rounded())
}

/// `v` with `digits` decimals, for JSON and text.
public func formatFixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    // Past Int64 (sums of hostile values): the shortest exact text, still a JSON number.
    guard abs(v * scale) < 9.2e18 else { return "\(v.rounded())" }
    let scaled = Int64((v * scale).rounded())
    let whole = scaled / Int64(scale), frac = abs(scaled % Int64(scale))
    guard digits > 0 else { return String(whole) }
    let fracText = String(frac)
    return (scaled < 0 && whole == 0 ? "-" : "") + String(whole) + "." + String(repeating: "0", count: digits - fracText.count) + fracText
}

/// Bytes in binary units: `512 B`, `3.2 MiB`, `6.17 GiB`.
public func formatBytes(_ b: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(b)
    var u = 0
    while abs(v) >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(b) B" : formatFixed(v, abs(v) >= 100 ? 0 : (abs(v) >= 10 ? 1 : 2)) + " " + units[u]
}

/// A percentage with one decimal.
public func percent(_ part: Int64, _ whole: Int64) -> String {
    guard whole > 0 else { return "-" }
    let (scaled, overflow) = part.multipliedReportingOverflow(by: 1000)
    let tenths = overflow || scaled > Int64.max - whole / 2
        ? saturatingInt64(Double(part) * 1000 / Double(whole)) : (scaled + whole / 2) / whole
    return "\(tenths / 10).\(tenths % 10)%"
}

/// The JSON name of a slice kind.
public func kindName(_ k: SliceKind) -> String {
    switch k {
    case .cpuOp: return "cpu_op"
    case .userAnnotation: return "user_annotation"
    case .gpuUserAnnotation: return "gpu_user_annotation"
    case .kernel: return "kernel"
    case .memcpy: return "gpu_memcpy"
    case .memset: return "gpu_memset"
    case .runtime: return "cuda_runtime"
    case .driver: return "cuda_driver"
    case .pythonFunction: return "python_function"
    case .cudaSync: return "cuda_sync"
    case .trace: return "trace"
    case .other: return "other"
    case .communication: return "communication"
    }
}

/// Trace text made safe for a terminal.
public func safe(_ s: String) -> String { JSONText.terminalSafe(s) }

/// Long names cut to `limit` characters with an ellipsis.
public func clip(_ s: String, _ limit: Int = 90) -> String {
    s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
}

/// "bf16 81.2%, fp32 18.8%": an efficiency summary's device time by precision (docs/efficiency.md).
public func precisionShares(_ s: EfficiencySummary) -> String {
    let total = s.byPrecision.reduce(Int64(0)) { $0 + $1.deviceNs }
    return s.byPrecision.filter { $0.deviceNs > 0 }
        .map { "\($0.precision?.rawValue ?? "unknown") \(percent($0.deviceNs, total))" }.joined(separator: ", ")
}

/// `n` and `noun`, plural unless `n` is 1: "1 block", "3 blocks".
public func counted(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }
