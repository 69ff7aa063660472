/// What a sampled frame is.
public enum FrameKind: UInt8, Sendable {
    case python, native
}

/// Distinct frames of a sampled profile, struct-of-arrays, interned by (kind, name, file, line).
public struct FrameTable: Sendable {
    public var kind: [FrameKind] = []
    /// Function name (Python qualified name, or demangled native symbol).
    public var name: [UInt32] = []
    /// Python file, or native module (shared object) path.
    public var file: [UInt32] = []
    /// Python line, or 0 for native frames.
    public var line: [Int32] = []
    private var index: [Key: Int32] = [:]
    private struct Key: Hashable { var kind: FrameKind; var name: UInt32; var file: UInt32; var line: Int32 }

    public init() {}
    public var count: Int { name.count }

    /// The index of the frame, added when new.
    public mutating func intern(kind: FrameKind, name: UInt32, file: UInt32, line: Int32) -> Int32 {
        let key = Key(kind: kind, name: name, file: file, line: line)
        if let i = index[key] { return i }
        let i = Int32(self.name.count)
        self.kind.append(kind); self.name.append(name); self.file.append(file); self.line.append(line)
        index[key] = i
        return i
    }
}

/// Distinct stacks as a prefix tree (as in samply/Firefox profiles): stack i is frame `frame[i]`
/// called from stack `parent[i]` (-1 at the root), so a parent always precedes its children.
public struct StackTable: Sendable {
    public var parent: [Int32] = []
    public var frame: [Int32] = []
    private var index: [Int64: Int32] = [:]

    public init() {}
    public var count: Int { frame.count }

    /// The index of the stack `frame` under `parent`, added when new.
    public mutating func intern(parent: Int32, frame: Int32) -> Int32 {
        let key = Int64(parent) << 32 | Int64(UInt32(bitPattern: frame))
        if let i = index[key] { return i }
        let i = Int32(self.frame.count)
        self.parent.append(parent); self.frame.append(frame)
        index[key] = i
        return i
    }

    /// The frames of stack `i`, outermost first.
    public func frames(_ i: Int32) -> [Int32] {
        var out: [Int32] = []
        var s = i
        while s >= 0 { out.append(frame[Int(s)]); s = parent[Int(s)] }
        return out.reversed()
    }
}

/// Threads of the sampled processes.
public struct SampledThreadTable: Sendable {
    public var pid: [Int32] = []
    public var tid: [Int32] = []
    /// Thread name (comm) at the first sample.
    public var name: [UInt32] = []
    public init() {}
    public var count: Int { tid.count }
}

/// Samples in time order, struct-of-arrays.
public struct SampleTable: Sendable {
    /// Wall-clock time of the sample, ns since the epoch.
    public var time: [Int64] = []
    /// Index into the thread table.
    public var thread: [Int32] = []
    /// Stack index, or -1 when the thread had no frames.
    public var stack: [Int32] = []
    /// Whether the thread was running (scheduler state R or D) when sampled.
    public var active: [Bool] = []
    /// Whether the thread held the GIL.
    public var holdsGIL: [Bool] = []
    public init() {}
    public var count: Int { time.count }
}

/// A counter sampled over time per process (resident set size).
public struct SampledCounterTable: Sendable {
    public var pid: [Int32] = []
    public var time: [Int64] = []
    public var value: [Int64] = []
    public init() {}
    public var count: Int { time.count }
}

/// A sampled profile of one or more processes: the tables a sampling profiler records.
public final class SampledProfile: @unchecked Sendable {
    public let strings = StringTable()
    public var frames = FrameTable()
    public var stacks = StackTable()
    public var threads = SampledThreadTable()
    public var samples = SampleTable()
    /// Resident set size in bytes.
    public var rss = SampledCounterTable()
    /// Processes in the order first seen: pid and command line.
    public var processes: [(pid: Int32, command: String)] = []
    /// The mean interval between samples that was asked for, ns.
    public var intervalNs: Int64
    private var threadIndex: [Int64: Int32] = [:]

    public init(intervalNs: Int64) { self.intervalNs = intervalNs }

    /// The thread table index of (pid, tid), added with `name` when new.
    public func thread(pid: Int32, tid: Int32, name: @autoclosure () -> String) -> Int32 {
        let key = Int64(pid) << 32 | Int64(UInt32(bitPattern: tid))
        if let i = threadIndex[key] { return i }
        let i = Int32(threads.count)
        threads.pid.append(pid); threads.tid.append(tid); threads.name.append(strings.intern(name()))
        threadIndex[key] = i
        return i
    }

    /// Forgets the samples and RSS values taken so far (frames, stacks and threads stay, so their
    /// indices remain valid): a live view that has consumed them keeps memory bounded.
    public func discardSamples() {
        samples = SampleTable()
        rss = SampledCounterTable()
    }

    /// Records one sample; `frames` are frame indices, outermost first.
    public func addSample(time: Int64, thread: Int32, frames: [Int32], active: Bool, holdsGIL: Bool) {
        var stack: Int32 = -1
        for f in frames { stack = stacks.intern(parent: stack, frame: f) }
        samples.time.append(time); samples.thread.append(thread); samples.stack.append(stack)
        samples.active.append(active); samples.holdsGIL.append(holdsGIL)
    }
}
