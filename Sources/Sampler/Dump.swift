import TraceModel

/// Every thread's stack at one instant, for a hung or stuck job (`stepscope dump`, docs/sampler.md).
public struct ThreadDump: Sendable {
    /// One frame: a Python function with file and line, or a native symbol with its module.
    public struct Frame: Sendable, Equatable {
        public var native: Bool
        public var name: String
        public var file: String
        public var line: Int32
    }

    /// One thread: its OS name (comm), scheduler state, whether it held the GIL, frames innermost first.
    public struct Thread: Sendable {
        public var pid: Int32
        public var tid: Int32
        public var name: String
        public var state: ThreadState
        public var holdsGIL: Bool
        public var frames: [Frame]
    }

    public var pid: Int32
    public var command: String
    /// What the process runs: "Python 3.11.7", or native only.
    public var version: String
    public var threads: [Thread]
    /// OS threads of the process that were not dumped (no Python thread state, without `--native`).
    public var otherThreads: Int

    /// Takes one sampling instant of `session` (its root process only) and detaches: with
    /// `--native` each thread is stopped only while it is unwound, as in `record --native`.
    public init(session: SamplingSession, pid: Int32) {
        session.sampleOnce(rss: false)
        session.detachAll()
        let p = session.profile
        self.pid = pid
        command = p.processes.first { $0.pid == pid }?.command ?? ""
        version = session.version
        let states = session.latestStates[pid] ?? [:]
        threads = (0..<p.samples.count).compactMap { i -> Thread? in
            let t = Int(p.samples.thread[i])
            guard p.threads.pid[t] == pid else { return nil }
            let tid = p.threads.tid[t]
            let stack = p.samples.stack[i]
            let frames = stack < 0 ? [] : p.stacks.frames(stack).reversed().map { f in
                Frame(native: p.frames.kind[Int(f)] == .native, name: p.strings[p.frames.name[Int(f)]],
                      file: p.strings[p.frames.file[Int(f)]], line: p.frames.line[Int(f)])
            }
            return Thread(pid: pid, tid: tid, name: p.strings[p.threads.name[t]], state: states[tid] ?? (ProcFS.threadState(pid, tid) ?? .unknown),
                          holdsGIL: p.samples.holdsGIL[i], frames: frames)
        }.sorted { $0.tid < $1.tid }
        otherThreads = max(0, ProcFS.threads(pid).count - threads.count)
    }

    /// py-spy's `dump` layout, most recent call first; target strings made terminal-safe.
    public func text() -> String {
        let safe = JSONText.terminalSafe
        var out = "Process \(pid): \(safe(command))\n\(safe(version)); \(threads.count) threads; stacks most recent call first\n"
        for t in threads {
            out += "\nThread \(t.tid) \"\(safe(t.name))\" (\(t.state.name)\(t.holdsGIL ? ", holds the GIL" : ""))\n"
            if t.frames.isEmpty { out += "    (no frames)\n" }
            for f in t.frames {
                let place = f.native ? String(f.file.split(separator: "/").last ?? "") : "\(f.file):\(f.line)"
                out += "    \(safe(f.name)) (\(safe(place)))\n"
            }
        }
        if otherThreads > 0 {
            out += "\n\(otherThreads) more threads have no Python thread state (--native shows their native stacks)\n"
        }
        return out
    }

    /// The same as one JSON object; frames innermost first.
    public func json() -> String {
        let q = JSONText.quote
        let rows = threads.map { t -> String in
            let frames = t.frames.map { f in
                "{\"kind\":\(f.native ? "\"native\"" : "\"python\""),\"name\":\(q(f.name)),"
                    + (f.native ? "\"module\":\(q(f.file))}" : "\"file\":\(q(f.file)),\"line\":\(f.line)}")
            }
            return "{\"tid\":\(t.tid),\"name\":\(q(t.name)),\"state\":\(q(t.state.name)),\"holds_gil\":\(t.holdsGIL),"
                + "\"frames\":[\(frames.joined(separator: ","))]}"
        }
        return "{\"schema\":\"stepscope.dump\",\"pid\":\(pid),\"command\":\(q(command)),\"runtime\":\(q(version)),"
            + "\"frames_order\":\"innermost first\",\"threads\":[\(rows.joined(separator: ","))],\"other_threads\":\(otherThreads)}\n"
    }
}
