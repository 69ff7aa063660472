import Formatting
import TraceModel

/// Bytes and events read per file while a run loads; written by loader threads, read by the UI.
public final class LoadProgress: @unchecked Sendable {
    /// One file's figures.
    public struct File: Sendable, Equatable {
        public var path: String
        public var size: Int64
        public var bytes: Int64 = 0
        public var events = 0
    }
    private let lock = Locked(())
    private var files: [File] = []
    private var index: [String: Int] = [:]
    private var stage = "reading"
    private let sizeOf: (String) -> Int64

    /// Progress over the files the loader reports; `sizeOf` gives a file's size (0 when unknown).
    public init(sizeOf: @escaping (String) -> Int64) { self.sizeOf = sizeOf }

    /// Adds bytes and events read from `path` (the loader's progress callback).
    public func add(_ path: String, bytes: Int64, events: Int) {
        locked {
            let k: Int
            if let found = index[path] { k = found } else {
                k = files.count
                index[path] = k
                files.append(File(path: path, size: sizeOf(path)))
            }
            files[k].bytes += bytes
            files[k].events += events
        }
    }

    /// Sets what is happening now (`reading`, `analysing`, `preparing views`).
    public func setStage(_ s: String) { locked { stage = s } }

    /// A consistent copy of the figures.
    public var snapshot: (stage: String, files: [File]) { locked { (stage, files) } }

    private func locked<R>(_ body: () -> R) -> R { lock.locked(body) }

    /// Draws the loading screen: one line per file with a bar, bytes and events.
    public func render(into screen: inout ScreenBuffer, elapsed: Double) {
        screen.clear()
        let (stage, files) = snapshot
        let secs = Int(elapsed * 10)
        screen.text("stepscope: \(stage)… \(secs / 10).\(secs % 10) s", row: 0, col: 1, style: Theme.heading)
        let barWidth = max(10, min(30, screen.cols - 60))
        for (k, f) in files.enumerated() where k + 2 < screen.rows {
            let y = k + 2
            let shown = f.size > 0 ? min(f.bytes, f.size) : f.bytes
            screen.text(mb(shown) + (f.size > 0 ? " / " + mb(f.size) : ""), row: y, col: 1, width: 22)
            if f.size > 0 {
                screen.text("[", row: y, col: 24)
                screen.hbar(row: y, col: 25, eighths: Int(Double(shown) / Double(f.size) * Double(barWidth * 8)), style: Style(fg: 71))
                screen.text("]", row: y, col: 25 + barWidth)
            }
            screen.text("\(f.events) events  " + safe(f.path), row: y, col: 27 + barWidth)
        }
        if screen.rows > files.count + 3 { screen.text("Ctrl-C cancels", row: min(screen.rows - 1, files.count + 3), col: 1, style: Theme.dim) }
    }

    private func mb(_ b: Int64) -> String {
        let tenths = b * 10 / 1_000_000
        return "\(tenths / 10).\(tenths % 10) MB"
    }
}
