import TraceModel

// The units every output shares, the reports and the terminal UI alike: durations, bytes,
// percentages, fixed decimals, slice kinds, and trace text made safe for a terminal.

/// Human units for nanoseconds: `830.0 ms`, `12.3 us`, `4.56 s`.
public func formatDuration(_ ns: Int64) -> String {
    let a = abs(ns)
    func fixed(_ v: Int64, _ unit: Int64, _ digits: Int, _ suffix: String) -> String {
        let scale = [1, 10, 100, 1000][digits]
        let scaled = (Int64(scale) * v + (v >= 0 ? unit / 2 : -unit / 2)) / unit
        let whole = scaled / Int64(scale), frac = abs(scaled % Int64(scale))
        let fracText = digits == 0 ? "" : "." + String(repeating: "0", count: digits - String(frac).count) + String(frac)
        return (scaled < 0 && whole == 0 ? "-" : "") + String(whole) + fracText + " " + suffix
    }
    if a >= 1_000_000_000 { return fixed(ns, 1_000_000_000, 3, "s") }
    if a >= 1_000_000 { return fixed(ns, 1_000_000, 1, "ms") }
    if a >= 1_000 { return fixed(ns, 1_000, 1, "us") }
    return "\(ns) ns"
}

/// `v` with `digits` decimals, for JSON and text.
public func formatFixed(_ v: Double, _ digits: Int) -> String {
    guard v.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
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
    let tenths = (part * 1000 + whole / 2) / whole
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
