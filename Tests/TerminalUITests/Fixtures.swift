import Analysis
import Formatting
import TerminalUI
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Small runs and helpers shared by the terminal UI tests.
enum Fixtures {
    static func x(_ name: String, cat: String = "cpu_op", ts: String, dur: String, pid: String = "1", tid: String = "1",
                  args: String = "") -> String {
        TestSupport.x(name, cat: cat, ts: ts, dur: dur, pid: pid, tid: tid, args: args)
    }

    /// A `[memory]` instant event on device 0 (CUDA).
    static func mem(_ ts: String, _ bytes: Int64, addr: Int64, total: Int64, reserved: Int64) -> String {
        "{\"ph\": \"i\", \"s\": \"t\", \"name\": \"[memory]\", \"pid\": 1, \"tid\": 1, \"ts\": \(ts), \"args\": {\"Device Type\": 1, "
            + "\"Device Id\": 0, \"Bytes\": \(bytes), \"Addr\": \(addr), \"Total Allocated\": \(total), \"Total Reserved\": \(reserved)}}"
    }

    /// Two steps on one thread: forward with nested matmuls launching kernels, backward, an
    /// optimizer; a wide-character operator name and one with an escape sequence; memory events.
    static var smallTrace: String {
        TestSupport.kineto([
            x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            x("forward", cat: "user_annotation", ts: "0", dur: "50"),
            x("aten::linear", ts: "2", dur: "40"),
            x("aten::mm", ts: "4", dur: "30"),
            x("cudaLaunchKernel", cat: "cuda_runtime", ts: "10", dur: "2", args: #""correlation": 1"#),
            x("gemm_kernel", cat: "kernel", ts: "12", dur: "20", pid: "0", tid: "7", args: #""correlation": 1"#),
            x("注意力", ts: "44", dur: "5"),
            x("backward", cat: "user_annotation", ts: "50", dur: "30"),
            x("evil\\u001b[31mop", ts: "52", dur: "20"),  // an escape sequence, JSON-escaped
            x("optimizer", cat: "user_annotation", ts: "80", dur: "15"),
            x("aten::add_", ts: "82", dur: "10"),
            x("ProfilerStep#2", cat: "user_annotation", ts: "100", dur: "60"),
            x("forward", cat: "user_annotation", ts: "100", dur: "40"),
            x("aten::linear", ts: "102", dur: "30"),
            x("aten::mm", ts: "104", dur: "20"),
            x("cudaLaunchKernel", cat: "cuda_runtime", ts: "106", dur: "2", args: #""correlation": 2"#),
            x("gemm_kernel", cat: "kernel", ts: "108", dur: "15", pid: "0", tid: "7", args: #""correlation": 2"#),
            mem("5", 4096, addr: 1, total: 4096, reserved: 8192),
            mem("20", 8192, addr: 2, total: 12288, reserved: 16384),
            mem("60", -8192, addr: 2, total: 4096, reserved: 16384),
            mem("110", 2048, addr: 3, total: 6144, reserved: 16384),
        ])
    }

    /// The run model of a trace written inline.
    static func model(_ json: String) throws -> RunModel {
        let run = TraceRun(ranks: [try TestSupport.trace(json)])
        return RunModel(run: run, report: RunReport(run: run))
    }

    /// The run model of a bundled sample (`single` or `ddp2_straggler`).
    static func sample(_ name: String) throws -> RunModel {
        let run = try TraceLoader.loadRun(paths: [TestSupport.packageRoot + "/sample-traces/" + name])
        return RunModel(run: run, report: RunReport(run: run))
    }

    /// An app on the small trace, already switched to view `tab` (1-based).
    static func app(_ model: RunModel, tab: Int = 1) -> App {
        let app = App.forRun(model, name: "test.json")
        if tab > 1 { app.handle(.char(Unicode.Scalar(UInt8(0x30 + tab))), rows: 24, cols: 80) }
        return app
    }

    /// Sends `script` (see `Key.script`) and renders the final frame at rows x cols.
    static func render(_ app: App, _ script: String = "", rows: Int = 24, cols: Int = 80) -> ScreenBuffer {
        var screen = ScreenBuffer(rows: rows, cols: cols)
        app.render(into: &screen)
        for key in Key.script(script) { app.step(key, into: &screen) }
        return screen
    }
}

/// Compares a screen with `Snapshots/<name>.txt` (text, then the style map). With
/// STEPSCOPE_RECORD_SNAPSHOTS=1 in the environment it writes the file instead.
func assertSnapshot(_ screen: ScreenBuffer, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    let path = TestSupport.packageRoot + "/Tests/TerminalUITests/Snapshots/\(name).txt"
    let actual = screen.text + "\n--- styles ---\n" + screen.styleMap + "\n"
    if getenv("STEPSCOPE_RECORD_SNAPSHOTS") != nil {
        TestSupport.writeFile(path, Array(actual.utf8))
        return
    }
    let expected = TestSupport.readFile(path)
    guard !expected.isEmpty else {
        XCTFail("no snapshot \(name).txt; record it with STEPSCOPE_RECORD_SNAPSHOTS=1", file: file, line: line)
        return
    }
    if expected != actual {
        let e = expected.split(separator: "\n", omittingEmptySubsequences: false), a = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let k = zip(e, a).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(e.count, a.count)
        XCTFail("snapshot \(name) differs at line \(k + 1):\nexpected: \(k < e.count ? String(e[k]) : "<end>")\nactual:   \(k < a.count ? String(a[k]) : "<end>")",
                file: file, line: line)
    }
}
