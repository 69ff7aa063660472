import Analysis
import CursesBackend
import Dispatch
import Formatting
import Report
import TerminalUI
import TraceImport
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// Opens the terminal UI on a run: a loading screen with bytes and events per file, then the views.
/// Errors while loading restore the terminal first, then surface as the usual one-line error. When
/// the terminal cannot be driven (an unknown TERM), prints `report` instead.
func browse(_ load: LoadOptions, report: ReportOptions) throws {
    _ = try load.analysisOptions()  // a bad rules file fails before the terminal opens
    if let jobs = load.jobs, jobs < 1 { throw CLIError(description: "--jobs must be at least 1") }
    guard let terminal = try? Terminal() else { return try report.print(load) }
    defer { terminal.close() }
    let progress = LoadProgress(sizeOf: fileSize)
    let outcome = Outcome()
    let started = monotonicSeconds()
    DispatchQueue.global().async {
        Terminal.prepareThreadForCrashes()
        do {
            let (loaded, report) = try loadReport(load) { progress.add($0, bytes: $1, events: $2) }
            progress.setStage("preparing views")
            // Summaries have no timeline: each rank's views get an empty trace beside its report.
            let run = loaded ?? TraceRun(ranks: report.ranks.map { RankTrace(source: $0.analysis.source, rank: $0.analysis.rank) })
            outcome.finish(.success(RunModel(run: run, report: report)))
        } catch {
            outcome.finish(.failure(error))
        }
    }
    var frame = ScreenBuffer(rows: 0, cols: 0)
    while outcome.result == nil {
        let (rows, cols) = terminal.size
        if frame.rows != rows || frame.cols != cols { frame = ScreenBuffer(rows: rows, cols: cols) }
        progress.render(into: &frame, elapsed: monotonicSeconds() - started)
        terminal.draw(frame)
        if terminal.readKey(timeoutMs: 100) == .char("q") { return }
    }
    switch outcome.result! {
    case let .failure(error):
        terminal.close()
        throw error
    case let .success(model):
        let name = load.paths.count == 1 ? load.paths[0] : "\(load.paths[0]) +\(load.paths.count - 1)"
        runApp(App.forRun(model, name: safe(name)), on: terminal)
    }
}

/// Shows a diff in the terminal UI; false when the terminal cannot be driven (the caller prints the text).
func browseDiff(_ result: DiffResult, name: String) -> Bool {
    guard let terminal = try? Terminal() else { return false }
    defer { terminal.close() }
    runApp(App(views: [DiffView(result)], name: safe(name)), on: terminal)
    return true
}

/// The loaded model or the error, handed from the loading thread to the UI thread.
private final class Outcome: @unchecked Sendable {
    private let value = Locked<Result<RunModel, Error>?>(nil)
    func finish(_ r: Result<RunModel, Error>) { value.withLock { $0 = r } }
    var result: Result<RunModel, Error>? { value.withLock { $0 } }
}

/// Size of a file in bytes (0 when it cannot be read), for the progress bars.
private func fileSize(_ path: String) -> Int64 {
    var st = stat()
    return stat(path, &st) == 0 ? Int64(st.st_size) : 0
}
