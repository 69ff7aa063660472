import Analysis
import Formatting
import TraceModel

/// An aggregated call tree (the model behind an icicle): node 0 is the root, every other node one
/// call path. Weights are arrays indexed by node; a node's weight includes its children's. Built on
/// any thread; `weights` (which fills a cache) is for the UI thread.
public final class FlameTree: @unchecked Sendable {
    /// Terminal-safe frame names (Python frames shortened, see `frameLabel`).
    public private(set) var name: [String] = ["all"]
    /// Terminal-safe full names (a Python frame's name as written, addresses normalised).
    public private(set) var detail: [String] = []
    public private(set) var parent: [Int32] = [-1]
    public private(set) var depth: [Int] = [0]
    /// Children of each node, ordered by name.
    public private(set) var children: [[Int32]] = [[]]
    /// The phase holding most of each node's CPU time (for colouring).
    public private(set) var phase: [Phase] = [.other]
    /// The slice kind of each node (for colouring by category).
    public private(set) var kind: [SliceKind] = [.other]
    /// True when parts hold self time (folded stacks), false for inclusive time (operator slices).
    let selfWeighted: Bool
    /// Per (node, step, phase) CPU and GPU time, aggregated; step -1 for time outside every step.
    private var parts: [(node: Int32, step: Int32, phase: Phase, cpu: Int64, gpu: Int64)] = []
    private var cache: [FlameFilter: (cpu: [Int64], gpu: [Int64])] = [:]

    public var count: Int { name.count }

    init(selfWeighted: Bool) { self.selfWeighted = selfWeighted }

    /// The CPU operator nesting of one rank, merged over its threads; with `python`, the Python
    /// frames (`python_function` slices) nest with the operators. Each counted slice adds the part
    /// of its nesting time inside each step's window (the rest to no step) and the GPU time it
    /// launched (to its step when it lies inside one) to the node of its call path. A rank without
    /// operators but with Python frames (a sampled profile, `stepscope record`) gives the tree of
    /// its sampled stacks either way.
    public convenience init(trace: RankTrace, analysis: RankAnalysis, python: Bool = false) {
        let windows = analysis.steps.filter { $0.slice >= 0 }.map { $0.start..<$0.start + $0.dur }
        self.init(selfWeighted: false)
        let s = trace.slices
        let hasOperators = (0..<s.count).contains { trace.isOperator($0) }
        let isFrame = { (i: Int) in s.kind[i] == .pythonFunction && trace.tracks.kind[Int(s.track[i])] == .cpuThread }
        let counts: (Int) -> Bool = !hasOperators ? isFrame : python ? { trace.isOperator($0) || isFrame($0) } : { trace.isOperator($0) }
        // Frames are keyed by their label's id, so names differing only in an address merge.
        var labels: [String] = ["all"], details: [String] = ["all"]
        // Per name id and per full name, frames (index 1) apart from other slices (index 0).
        var labelID: [[UInt32: Int32]] = [[:], [:]], labelIndex: [[String: Int32]] = [[:], [:]]
        func label(_ i: Int) -> Int32 {
            let frame = s.kind[i] == .pythonFunction, side = frame ? 1 : 0
            if let l = labelID[side][s.name[i]] { return l }
            let raw = trace.strings[s.name[i]]
            let detail = frame ? Analyzer.normalizedName(raw) : raw
            let l: Int32
            if let found = labelIndex[side][detail] { l = found } else {
                l = Int32(labels.count)
                labelIndex[side][detail] = l
                labels.append(frame ? FlameTree.frameLabel(detail) : safe(raw))
                details.append(safe(detail))
            }
            labelID[side][s.name[i]] = l
            return l
        }
        var index: [UInt64: Int32] = [:]
        var nodeLabel: [Int32] = [0]
        var sums: [UInt64: (cpu: Int64, gpu: Int64)] = [:]
        func add(_ node: Int32, _ step: Int32, _ phase: Phase, cpu: Int64, gpu: Int64) {
            let key = UInt64(UInt32(bitPattern: node)) << 32 | UInt64(step + 1) << 8 | UInt64(phase.rawValue)
            var v = sums[key] ?? (0, 0)
            v.cpu += cpu
            v.gpu += gpu
            sums[key] = v
        }
        var stack: [(slice: Int, node: Int32)] = []
        for t in trace.cpuTracks {
            stack.removeAll(keepingCapacity: true)
            for i in trace.tracks.sliceRange[t] {
                while let top = stack.last, top.slice != Int(s.parent[i]) { stack.removeLast() }
                let parentNode = stack.last?.node ?? 0
                guard counts(i) else {
                    stack.append((i, parentNode))
                    continue
                }
                let l = label(i)
                let key = UInt64(UInt32(bitPattern: parentNode)) << 32 | UInt64(UInt32(bitPattern: l))
                let node: Int32
                if let n = index[key] { node = n } else {
                    node = Int32(parent.count)
                    index[key] = node
                    parent.append(parentNode)
                    depth.append(depth[Int(parentNode)] + 1)
                    children.append([])
                    children[Int(parentNode)].append(node)
                    nodeLabel.append(l)
                    kind.append(s.kind[i])
                    phase.append(.other)
                }
                stack.append((i, node))
                let start = s.start[i], end = s.nestEnd(i)
                let phase = analysis.facts.phase[i]
                // The windows overlapping [start, end): each gets its part, the rest is outside every step.
                var k = windows.partitionPoint { $0.upperBound > start }
                var inside: Int64 = 0, steps = 0, whole: Int32 = -1
                while k < windows.count, windows[k].lowerBound < end {
                    let part = min(end, windows[k].upperBound) - max(start, windows[k].lowerBound)
                    if part > 0 {
                        add(node, Int32(k), phase, cpu: part, gpu: 0)
                        inside += part
                        steps += 1
                        whole = windows[k].lowerBound <= start && end <= windows[k].upperBound ? Int32(k) : -1
                    }
                    k += 1
                }
                // GPU time goes to a step only when the slice lies inside it; a step filter then
                // takes a longer frame's GPU time from its children.
                add(node, steps == 1 ? whole : -1, phase, cpu: end - start - inside, gpu: analysis.facts.gpuInclusive[i])
            }
        }
        for (key, v) in sums {
            let step = Int32((key >> 8) & 0xFF_FFFF) - 1
            parts.append((Int32(key >> 32), step, Phase(rawValue: Int(key & 0xFF))!, v.cpu, v.gpu))
        }
        parts.sort { ($0.node, $0.step, $0.phase) < ($1.node, $1.step, $1.phase) }
        finish(names: nodeLabel.map { labels[Int($0)] }, details: nodeLabel.map { details[Int($0)] })
    }

    /// A Python frame's name (addresses already normalised) as the flame graph shows it, terminal-safe:
    /// Kineto's `dir/file.py(123): func` as `file.py:123 func`, `<built-in method m of T object at 0x?>`
    /// as `T.m`, `<built-in function f>` as `f`; any other name unchanged.
    static func frameLabel(_ name: String) -> String {
        if let close = name.firstRange(of: "): "), let open = name[..<close.lowerBound].lastIndex(of: "("),
           case let line = name[name.index(after: open)..<close.lowerBound], !line.isEmpty, line.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            let path = name[..<open]
            let file = path.lastIndex(of: "/").map { path[path.index(after: $0)...] } ?? path
            return safe("\(file):\(line) \(name[close.upperBound...])")
        }
        if name.hasPrefix("<built-in function "), name.hasSuffix(">") {
            return safe(String(name.dropFirst("<built-in function ".count).dropLast()))
        }
        if name.hasPrefix("<built-in method "), name.hasSuffix(">"), let of = name.firstRange(of: " of ") {
            let method = name[name.index(name.startIndex, offsetBy: "<built-in method ".count)..<of.lowerBound]
            var owner = name[of.upperBound...].dropLast()
            if let at = owner.firstRange(of: " object at ") { owner = owner[..<at.lowerBound] } else if owner.hasSuffix(" object") { owner = owner.dropLast(" object".count) }
            return safe("\(owner).\(method)")
        }
        return safe(name)
    }

    /// A tree from folded stacks (`a;b;c` -> weight of the leaf), one weight per column (e.g. base and candidate).
    public convenience init(folded columns: [[String: Double]]) {
        self.init(selfWeighted: true)
        var index: [String: Int32] = [:]
        var names = ["all"]
        for (column, stacks) in columns.enumerated() {
            for (path, w) in stacks {
                var node: Int32 = 0
                var key = ""
                for frame in path.split(separator: ";") {
                    key += ";" + frame
                    if let n = index[key] { node = n; continue }
                    let n = Int32(parent.count)
                    index[key] = n
                    parent.append(node)
                    depth.append(depth[Int(node)] + 1)
                    children.append([])
                    children[Int(node)].append(n)
                    names.append(safe(String(frame)))
                    kind.append(.cpuOp)
                    phase.append(.other)
                    node = n
                }
                // Folded weights are self times; column c is stored as step c.
                parts.append((node, Int32(column), .other, Int64(w.rounded()), 0))
            }
        }
        parts.sort { ($0.node, $0.step) < ($1.node, $1.step) }
        finish(names: names)
    }

    private func finish(names: [String], details: [String]? = nil) {
        name = names
        detail = details ?? names
        for n in children.indices { children[n].sort { name[Int($0)] < name[Int($1)] } }
        var best = [Int64](repeating: -1, count: count)
        var byPhase = [Int64](repeating: 0, count: count * Phase.allCases.count)
        for p in parts { byPhase[Int(p.node) * Phase.allCases.count + p.phase.rawValue] += p.cpu }
        for n in 1..<max(1, count) {
            for ph in Phase.allCases where byPhase[n * Phase.allCases.count + ph.rawValue] > best[n] {
                best[n] = byPhase[n * Phase.allCases.count + ph.rawValue]
                phase[n] = ph
            }
        }
    }

    /// CPU and GPU weight per node for `filter`, computed once per filter and cached. For trees
    /// from folded stacks, `filter.step` picks the column and self weights are summed up the tree.
    public func weights(_ filter: FlameFilter) -> (cpu: [Int64], gpu: [Int64]) {
        if let w = cache[filter] { return w }
        var cpu = [Int64](repeating: 0, count: count), gpu = [Int64](repeating: 0, count: count)
        for p in parts where (filter.step == nil || p.step == filter.step!) && (filter.phase == nil || p.phase == filter.phase!) {
            cpu[Int(p.node)] += p.cpu
            gpu[Int(p.node)] += p.gpu
        }
        // Children come after their parents, so walking backwards finishes every child first.
        // Operator slices hold their children's time already (a node is at least the sum of
        // its children, which a phase filter can break); folded weights are self times.
        var childCPU = [Int64](repeating: 0, count: count), childGPU = [Int64](repeating: 0, count: count)
        for n in stride(from: count - 1, through: 1, by: -1) {
            if selfWeighted {
                cpu[n] += childCPU[n]
                gpu[n] += childGPU[n]
            } else {
                cpu[n] = max(cpu[n], childCPU[n])
                gpu[n] = max(gpu[n], childGPU[n])
            }
            childCPU[Int(parent[n])] += cpu[n]
            childGPU[Int(parent[n])] += gpu[n]
        }
        if count > 0 {
            cpu[0] = childCPU[0]
            gpu[0] = childGPU[0]
        }
        cache[filter] = (cpu, gpu)
        return (cpu, gpu)
    }

    /// Nodes whose name or full name contains `query` (case-insensitive), in node order.
    public func search(_ query: String) -> [Int32] {
        let q = query.lowercased()
        guard !q.isEmpty else { return [] }
        return (1..<max(1, count)).filter { name[$0].lowercased().contains(q) || detail[$0].lowercased().contains(q) }.map { Int32($0) }
    }

    /// Names from the root's child down to `node`; with `operatorsOnly`, Python frames left out.
    public func path(_ node: Int32, operatorsOnly: Bool = false) -> [String] {
        var out: [String] = []
        var k = node
        while k > 0 {
            if !operatorsOnly || kind[Int(k)] != .pythonFunction { out.append(name[Int(k)]) }
            k = parent[Int(k)]
        }
        return out.reversed()
    }

    /// The node at `path` (names from the root's child down), or nil.
    public func node(at path: [String]) -> Int32? {
        var k: Int32 = 0
        for n in path {
            guard let c = children[Int(k)].first(where: { name[Int($0)] == n }) else { return nil }
            k = c
        }
        return k
    }

    /// The first node (in node order) whose path without Python frames is `path`, or nil.
    public func node(operatorPath path: [String]) -> Int32? {
        guard let last = path.last else { return 0 }
        return (1..<max(1, count)).first { name[$0] == last && kind[$0] != .pythonFunction && self.path(Int32($0), operatorsOnly: true) == path }
            .map { Int32($0) }
    }

    /// Self weight of `node` in `weight`: its weight less its children's.
    public func selfWeight(_ node: Int32, in weight: [Int64]) -> Int64 {
        weight[Int(node)] - children[Int(node)].reduce(0) { $0 + weight[Int($1)] }
    }

    /// True when `node` lies in the subtree of `ancestor` (itself included).
    public func isDescendant(_ node: Int32, of ancestor: Int32) -> Bool {
        var n = node
        while n >= 0 {
            if n == ancestor { return true }
            n = parent[Int(n)]
        }
        return false
    }
}

/// Which part of a run a flame graph aggregates: one step (by index) or all, one phase or all.
public struct FlameFilter: Hashable, Sendable {
    public var step: Int32?
    public var phase: Phase?
    public init(step: Int32? = nil, phase: Phase? = nil) {
        self.step = step
        self.phase = phase
    }
}
