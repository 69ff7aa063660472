import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// Where torch_npu's profiles keep their export, and which rank wrote it: a rank directory
/// (`*_ascend_pt`) holds `profiler_info_N.json` (its `rank_id`) and
/// `ASCEND_PROFILER_OUTPUT/trace_view.json` (the text export) or
/// `ASCEND_PROFILER_OUTPUT/ascend_pytorch_profiler*.db` (the db export).
enum NPUExport {
    static let outputDirectory = "ASCEND_PROFILER_OUTPUT"
    static let traceFile = "trace_view.json"
    /// How the db export's file name begins (`ascend_pytorch_profiler_0.db`).
    static let databasePrefix = "ascend_pytorch_profiler"
    /// How much of a file's head `hasQuotedTimestamp` looks at.
    static let sniffBytes = 1 << 16

    /// Whether `path` is a torch_npu text export: named `trace_view.json`, or a plain file whose
    /// first events write `ts` as a string (Kineto never does).
    static func isTextExport(path: String) -> Bool {
        if baseName(path) == traceFile { return true }
        guard isFile(path) else { return false }  // a pipe is read once, by the parser
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: sniffBytes)
        let n = read(fd, &head, head.count)
        guard n > 0 else { return false }
        return head[0..<n].withUnsafeBytes { hasQuotedTimestamp($0) }
    }

    /// Whether `bytes` hold a `"ts"` member whose value is a quoted number (`"ts": "1736...`).
    static func hasQuotedTimestamp(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let b = bytes.bindMemory(to: UInt8.self)
        var i = 0
        while i + 6 < b.count {
            if b[i] == 0x22, b[i + 1] == 0x74, b[i + 2] == 0x73, b[i + 3] == 0x22 {
                var j = i + 4
                while j < b.count, b[j] == 0x20 || b[j] == 0x3A { j += 1 }
                return j + 1 < b.count && b[j] == 0x22 && (b[j + 1] == 0x2D || (b[j + 1] >= 0x30 && b[j + 1] <= 0x39))
            }
            i += 1
        }
        return false
    }

    /// The exports a directory stands for: its own (a rank directory or its
    /// `ASCEND_PROFILER_OUTPUT`), or those of the rank directories it holds, sorted; nil when it
    /// is none of these.
    static func traceFiles(inDirectory path: String) -> [String]? {
        let dir = path.hasSuffix("/") ? String(path.dropLast()) : path
        if let own = ownTrace(dir) { return [own] }
        let found = entries(dir).sorted().compactMap { ownTrace(dir + "/" + $0) }
        return found.isEmpty ? nil : found
    }

    /// The export of a rank directory or of its output directory, when it has one: the text
    /// export, else the first db export by name.
    private static func ownTrace(_ dir: String) -> String? {
        guard baseName(dir) == outputDirectory || dir.hasSuffix("_ascend_pt") else { return nil }
        for out in [dir + "/" + outputDirectory, dir] {
            if isFile(out + "/" + traceFile) { return out + "/" + traceFile }
            if let db = entries(out).sorted().first(where: { $0.hasPrefix(databasePrefix) && $0.hasSuffix(".db") && isFile(out + "/" + $0) }) {
                return out + "/" + db
            }
        }
        return nil
    }

    /// The rank of the profile a trace belongs to: `rank_id` of `profiler_info_N.json` in its rank
    /// directory, else that file's N; nil without one (the loader then falls back to the order).
    static func rank(ofTrace path: String) -> Int? {
        var dir = parent(path)
        if baseName(dir) == outputDirectory { dir = parent(dir) }
        guard let info = entries(dir).sorted().first(where: { $0.hasPrefix("profiler_info") && $0.hasSuffix(".json") }) else {
            return nil
        }
        if let bytes = readSmallFile(dir + "/" + info), let value = try? JSONValue.parse(bytes), let r = value["rank_id"]?.int, r >= 0 {
            return r
        }
        let digits = info.dropFirst("profiler_info".count).drop { $0 == "_" }.prefix { $0.isNumber }
        return Int(digits)
    }

    static let operatorMemoryFile = "operator_memory.csv"

    /// `operator_memory.csv` beside a text export (in the directory of its `trace_view.json`), each allocation with the
    /// operator that made it into `b` (`NPUKeys.appendOperatorAllocation`): columns `Name`,
    /// `Size(KB)`, `Allocation Time(us)` and `Release Time(us)` (µs text, empty when not released in
    /// the capture), `Device Type` (`NPU:N`; device 0 without it). Nothing when there is no such
    /// file; a missing column or a malformed value is an error naming the file, line and column.
    static func readOperatorMemory(besideTrace trace: String, into b: TimelineBuilder) throws(ImportError) {
        let path = parent(trace) + "/" + operatorMemoryFile
        guard baseName(trace) == traceFile, isFile(path) else { return }
        // Lines split on bytes: "\r\n" is one Character, which a String split on "\n" keeps whole.
        var reader = LineReader(try FileSource(path: path), name: path)
        func nextLine() throws(ImportError) -> Substring? { try reader.next().map { Substring(String(decoding: $0, as: UTF8.self)) } }
        guard let header = try nextLine() else { return }
        let names = csvFields(header)
        func column(_ name: String) throws(ImportError) -> Int {
            guard let i = names.firstIndex(of: name) else { throw ImportError(file: path, message: "no column \(name)") }
            return i
        }
        let (name, size, allocation, release) = (try column("Name"), try column("Size(KB)"), try column("Allocation Time(us)"),
                                                 try column("Release Time(us)"))
        let device = names.firstIndex(of: "Device Type")
        var number = 1
        while let line = try nextLine() {
            number += 1
            if line.unicodeScalars.allSatisfy({ $0 == "\r" || $0 == " " }) { continue }
            let f = csvFields(line)
            func field(_ i: Int) -> String { i < f.count ? trimmed(f[i]) : "" }
            func fail(_ column: Int, _ what: String) -> ImportError {
                ImportError(file: path, message: "line \(number), \(names[column]): \(what): '\(JSONText.terminalSafe(String(field(column).prefix(40))))'")
            }
            func micros(_ column: Int) throws(ImportError) -> Int64? {
                let text = field(column)
                if text.isEmpty { return nil }
                var t = text
                guard let ns = t.withUTF8({ DecimalTime.nanoseconds(fromMicros: $0) }) else { throw fail(column, "not a time in µs") }
                return ns
            }
            // Size(KB) is bytes / 1024 as a shortest decimal: exact through a Double.
            guard let kb = Double(field(size)), kb.isFinite, abs(kb) < 0x1p52 / 1024, (kb * 1024).rounded() == kb * 1024 else {
                throw fail(size, "not a size in KB")
            }
            var d: Int64 = 0
            if let device, !field(device).isEmpty {
                let text = field(device)
                guard text.hasPrefix("NPU:"), let n = Int64(text.dropFirst(4)), n >= 0 else { throw fail(device, "not NPU:N") }
                d = n
            }
            try NPUKeys.appendOperatorAllocation(b, name: b.rank.strings.intern(field(name)), bytes: Int64(kb * 1024),
                                                 allocated: try micros(allocation), released: try micros(release), device: d, file: path,
                                                 source: "\(operatorMemoryFile) line \(number)")
        }
    }

    /// `s` without the spaces and tabs around it (torch_npu ends its times with a tab).
    private static func trimmed(_ s: String) -> String {
        String(s.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    /// The fields of one CSV line (quoted fields with `""` inside them; a trailing `\r` dropped).
    private static func csvFields(_ line: Substring) -> [String] {
        var fields: [String] = [], current = "", quoted = false, chars = Array(line.unicodeScalars)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if quoted {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" { current.append("\""); i += 1 } else { quoted = false }
                } else {
                    current.unicodeScalars.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == "," {
                fields.append(current); current = ""
            } else if c != "\r" || i + 1 < chars.count {
                current.unicodeScalars.append(c)
            }
            i += 1
        }
        fields.append(current)
        return fields
    }

    private static func baseName(_ path: String) -> String {
        let p = path.hasSuffix("/") ? String(path.dropLast()) : path
        return p.split(separator: "/").last.map(String.init) ?? p
    }

    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    private static func entries(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// The first MiB of a file (profiler_info is a few hundred bytes), or nil when it cannot be read.
    private static func readSmallFile(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < limit {
            let n = read(fd, &chunk, chunk.count)
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return nil }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }
}
