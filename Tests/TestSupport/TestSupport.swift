import TraceImport
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the test targets: hand-written traces, the shared real traces, the binary.
public enum TestSupport {
    /// The package root (found from this file's path).
    public static let packageRoot: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/TestSupport/TestSupport.swift
        return parts.joined(separator: "/")
    }()

    /// `../shared/traces` beside the checkout, or nil when it is absent (a user's fresh clone).
    public static var sharedTraces: String? {
        let path = packageRoot + "/../shared/traces"
        var st = stat()
        return stat(path, &st) == 0 ? path : nil
    }

    /// Loads a trace written inline as JSON text.
    public static func trace(_ json: String, name: String = "test.json") throws -> RankTrace {
        try TraceLoader.load(bytes: Array(json.utf8), name: name)
    }

    /// A Kineto-style trace object around `events` (each a JSON object text).
    public static func kineto(_ events: [String], extra: String = "") -> String {
        "{\"schemaVersion\": 1, \(extra)\(extra.isEmpty ? "" : ", ")\"traceEvents\": [\n" + events.joined(separator: ",\n") + "\n]}"
    }

    /// An `X` event; times in microseconds as written.
    public static func x(_ name: String, cat: String = "cpu_op", ts: String, dur: String, pid: String = "1", tid: String = "1",
                         args: String = "") -> String {
        "{\"ph\": \"X\", \"cat\": \"\(cat)\", \"name\": \"\(name)\", \"pid\": \(pid), \"tid\": \(tid), \"ts\": \(ts), \"dur\": \(dur)"
            + (args.isEmpty ? "" : ", \"args\": {\(args)}") + "}"
    }

    /// The built `stepscope` executable next to the test bundle.
    public static var binary: String {
        let exe = CommandLine.arguments[0]
        let dir = exe.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        return (dir.isEmpty ? "." : dir) + "/stepscope"
    }

    /// Runs the `stepscope` binary with `args`; returns exit status, stdout and stderr.
    public static func run(_ args: [String], stdin: String? = nil) -> (status: Int32, stdout: String, stderr: String) {
        let dir = "/tmp/stepscope-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(dir, 0o700)
        defer {
            unlink(dir + "/out"); unlink(dir + "/err"); unlink(dir + "/in")
            rmdir(dir)
        }
        var command = ([binary] + args).map(shellQuote).joined(separator: " ") + " >\(dir)/out 2>\(dir)/err"
        if let stdin {
            writeFile(dir + "/in", Array(stdin.utf8))
            command += " <\(dir)/in"
        } else {
            command += " </dev/null"
        }
        let status = system(command)
        let exit = (status >> 8) & 0xFF
        return (exit, readFile(dir + "/out"), readFile(dir + "/err"))
    }

    /// Writes bytes to a new file at `path`.
    public static func writeFile(_ path: String, _ bytes: [UInt8]) {
        guard let f = fopen(path, "wb") else { return }
        _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
        fclose(f)
    }

    /// A fresh temporary file path with `suffix`.
    public static func temporaryPath(_ suffix: String) -> String {
        "/tmp/stepscope-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))\(suffix)"
    }

    /// Reads a whole file as text ("" when missing).
    public static func readFile(_ path: String) -> String {
        String(decoding: (try? FileSource.readAll(path: path)) ?? [], as: UTF8.self)
    }

    static func shellQuote(_ s: String) -> String {
        "'" + s.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// Standard output of a shell command without its trailing newlines; nil when it fails.
    public static func shellOutput(_ command: String) -> String? {
        guard let f = popen(command, "r") else { return nil }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        guard pclose(f) == 0 else { return nil }
        var s = String(decoding: out, as: UTF8.self)
        while s.last == "\n" { s.removeLast() }
        return s
    }

    /// The `python3` on PATH (its `sys.executable`), or nil when there is none.
    public static func python3() -> String? {
        guard let p = shellOutput("python3 -c 'import sys; print(sys.executable)' 2>/dev/null"), !p.isEmpty else { return nil }
        return p
    }
}

extension TestSupport {
    /// Eight 1 ms steps on an A100, each with a 64x64x64 fp32 `aten::mm` whose kernel lasts `kernelUs[k]`.
    public static func mmSteps(kernelUs: [Int]) -> String {
        var events: [String] = []
        for (k, us) in kernelUs.enumerated() {
            let t = k * 1000
            events.append(x("ProfilerStep#\(k + 1)", cat: "user_annotation", ts: "\(t)", dur: "1000"))
            events.append(x("aten::mm", ts: "\(t + 1)", dur: "20",
                            args: #""Input Dims": [[64, 64], [64, 64]], "Input type": ["float", "float"], "Concrete Inputs": ["", ""]"#))
            events.append(x("cudaLaunchKernel", cat: "cuda_runtime", ts: "\(t + 2)", dur: "1", args: "\"correlation\": \(k + 1)"))
            events.append(x("sm80_xmma_gemm_f32f32", cat: "kernel", ts: "\(t + 5)", dur: "\(us)", pid: "0", tid: "7",
                            args: "\"correlation\": \(k + 1)"))
        }
        return kineto(events, extra: #""deviceProperties": [{"id": 0, "name": "NVIDIA A100-SXM4-80GB"}]"#)
    }
}
