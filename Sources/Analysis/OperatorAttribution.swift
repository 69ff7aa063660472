import TraceModel

/// Which slices are operators, which operator each slice belongs to, and whether an operator's
/// duration counts in its name's inclusive time: computed once per rank (docs/definitions.md,
/// "Operators") and read by the operator tables, the diff's per-step samples and the UI.
public struct OperatorAttribution: Sendable {
    /// Per slice: its name id when it is an operator (`RankTrace.isOperator`), else `.max`.
    public let key: PackedColumn<UInt32>
    /// Per slice: the operator at or above it on its track (itself for an operator), or -1; empty
    /// when made without `keepOwners` (a diff reads only keys and counting).
    public let owner: PackedColumn<Int32>

    /// No attribution: what a lean analysis (a diff's, without operator tables) keeps; the diff
    /// makes the rank's attribution while it gathers its samples and drops it after.
    public init() {
        key = []
        owner = []
        counted = []
    }

    /// Whether this is the empty attribution of a lean analysis.
    public var isEmpty: Bool { key.isEmpty }
    /// Per operator slice: false when an ancestor has the same name, so its duration is already
    /// inside that ancestor's inclusive time (true for every other slice).
    public let counted: [Bool]

    /// The attribution of every slice of `trace`, in one pass (parents precede their children, so
    /// a slice's parent is settled before it; the step-name test is made once per name).
    public init(_ trace: RankTrace, keepOwners: Bool = true) {
        let s = trace.slices
        let n = s.count
        var steps = StepNames(trace.strings)
        var key = [UInt32](repeating: .max, count: n)
        var owner = [Int32](repeating: -1, count: n)
        var counted = [Bool](repeating: true, count: n)
        let parent = s.parent, name = s.name
        for i in 0..<n {
            let p = Int(parent[i])
            let above = p >= 0 ? owner[p] : -1
            guard trace.isOperatorKind(i), !steps.contains(name[i]) else {
                owner[i] = above
                continue
            }
            let k = name[i]
            key[i] = k
            owner[i] = Int32(i)
            // Counted unless an operator above it on its track has the same name.
            var o = above
            while o >= 0 {
                if key[Int(o)] == k { counted[i] = false; break }
                let op = Int(parent[Int(o)])
                o = op >= 0 ? owner[op] : -1
            }
        }
        self.key = PackedColumn(key)
        self.owner = keepOwners ? PackedColumn(owner) : []
        self.counted = counted
    }

    /// The operator that called slice `i`'s operator: the nearest operator strictly above it, or -1.
    public func caller(of i: Int, in trace: RankTrace) -> Int {
        let p = Int(trace.slices.parent[i])
        return p >= 0 ? Int(owner[p]) : -1
    }

    /// The inclusive-counting rule for any keying of the operators (`key[i]`, `.max` for a slice
    /// that is not one): a slice counts unless an ancestor on its track has the same key.
    public static func counted<Keys: RandomAccessCollection<UInt32>>(_ trace: RankTrace, key keys: Keys) -> [Bool] where Keys.Index == Int {
        let s = trace.slices
        var active = [Int32](repeating: 0, count: trace.strings.count)
        var counted = [Bool](repeating: true, count: s.count)
        var stack: [Int] = []
        for t in trace.cpuTracks {
            stack.removeAll(keepingCapacity: true)
            for i in trace.tracks.sliceRange[t] {
                let parent = Int(s.parent[i])
                while let top = stack.last, top != parent {
                    if keys[top] != .max { active[Int(keys[top])] -= 1 }
                    stack.removeLast()
                }
                if keys[i] != .max {
                    if active[Int(keys[i])] > 0 { counted[i] = false }
                    active[Int(keys[i])] += 1
                }
                stack.append(i)
            }
            for top in stack where keys[top] != .max { active[Int(keys[top])] -= 1 }
        }
        return counted
    }
}
