// tui-bench: frame times of the terminal UI on a real trace, through the virtual screen.
//
//   swift build -c release --product tui-bench
//   .build/release/tui-bench [--size ROWSxCOLS] TRACE...
//
// Loads the run, builds the report and the view models once (timed), then drives every view with
// a scripted key sequence; each key is one frame: handle the key, render the whole screen. Prints
// the worst and p99 frame time per view (docs/performance.md).
import Dispatch
import Analysis
import TerminalUI
import TraceImport
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func ms(_ s: Double) -> String {
    let v = Int((s * 1e5).rounded())
    return "\(v / 100).\(v % 100 < 10 ? "0" : "")\(v % 100) ms"
}

var args = Array(CommandLine.arguments.dropFirst())
var rows = 50, cols = 200
if let i = args.firstIndex(of: "--size"), i + 1 < args.count {
    let parts = args[i + 1].split(separator: "x").compactMap { Int($0) }
    if parts.count == 2 { rows = parts[0]; cols = parts[1] }
    args.removeSubrange(i...i + 1)
}
guard !args.isEmpty else {
    print("usage: tui-bench [--size ROWSxCOLS] TRACE...")
    exit(2)
}

var t = now()
let run: TraceRun
do { run = try TraceLoader.loadRun(paths: args) } catch {
    print("tui-bench: error: \(error)")
    exit(2)
}
let events = run.ranks.reduce(0) { $0 + $1.eventCounts.values.reduce(0, +) }
print("load: \(ms(now() - t)) (\(run.ranks.count) ranks, \(events) events)")
t = now()
let report = RunReport(run: run)
print("analysis: \(ms(now() - t))")
t = now()
let model = RunModel(run: run, report: report)
print("view models: \(ms(now() - t))")

let app = App.forRun(model, name: args[0])
var screen = ScreenBuffer(rows: rows, cols: cols)
app.render(into: &screen)

/// Per view: the keys that drive it (`Key.script` syntax), all repeated once more after a reset.
let scripts: [(view: String, keys: String)] = [
    ("Overview", "1" + String(repeating: "j", count: 20) + "<PgDn><PgDn>" + String(repeating: "k", count: 10) + "<End><Home>"),
    ("Flame", "2jlj<Enter>jj<Enter><Esc><Esc>/aten<Enter>nnnnnN]]][pppwwccchlk"),
    ("Timeline", "3" + String(repeating: "+", count: 12) + String(repeating: "l", count: 30) + "HLHL" + String(repeating: "-", count: 6)
        + String(repeating: "j", count: 12) + "<Enter>][0" + String(repeating: "k", count: 6) + "<PgDn><PgUp>" + "e/aten<Enter>nnnNfe<Esc>0"),
    ("Operators", "4sssss" + String(repeating: "j", count: 20) + "fmm<Enter><Enter><Esc><Esc>pp<PgDn><Enter>jjj<Esc>"),
    ("Memory", "5djjjjj<PgDn>d"),
    ("Comm", "6" + String(repeating: "j", count: 15) + "<PgDn><PgUp>"),
    ("Kernels", "7ssss" + String(repeating: "j", count: 10) + "<PgDn><Home><Enter>"),
]

print("frames at \(cols)x\(rows), each one key handled and the whole screen rendered:")
print("view        frames     worst       p99    median")
var all: [Double] = []
for (view, keys) in scripts {
    var times: [Double] = []
    for key in Key.script(keys) {
        let start = now()
        app.step(key, into: &screen)
        times.append(now() - start)
    }
    all += times
    times.sort()
    let p99 = times[min(times.count - 1, Int((Double(times.count) * 0.99).rounded(.up)) - 1)]
    func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
    print(view + String(repeating: " ", count: 10 - view.count) + pad(String(times.count), 8) + pad(ms(times.last!), 10)
          + pad(ms(p99), 10) + pad(ms(times[times.count / 2]), 10))
}
all.sort()
print("all views: \(all.count) frames, worst \(ms(all.last!)), p99 \(ms(all[min(all.count - 1, Int((Double(all.count) * 0.99).rounded(.up)) - 1)]))")
