import TraceModel

/// What a rank's step thread did over one piece of a step between its collectives' arrivals and
/// ends (docs/definitions.md, "Communication"): the pieces a straggler's window is made of, kept
/// per rank so the run-level analysis needs no trace.
public struct ActivityTile: Sendable, Equatable {
    public var window: Range<Int64>
    public var phases: PhaseTimes
    /// Innermost slices by time within the window, largest first, at most `ActivityTile.topLimit`.
    public var top: [NamedTime]

    public init(window: Range<Int64>, phases: PhaseTimes, top: [NamedTime]) {
        self.window = window
        self.phases = phases
        self.top = top
    }

    /// The most names a tile keeps: a window made of several tiles sums each tile's top names.
    public static let topLimit = 16
}

/// A name and a time, ns.
public struct NamedTime: Sendable, Equatable {
    public var name: String
    public var ns: Int64
    public init(name: String, ns: Int64) {
        self.name = name
        self.ns = ns
    }
}

extension Analyzer {
    /// A rank's activity tiles: for each step holding collective arrivals (the first step of each
    /// name), the step is cut at its start, every arrival in it and every collective end up to its
    /// last arrival; each piece gets the step thread's phase times and innermost slices. Any
    /// window from the step start or a collective end to an arrival is a run of whole tiles.
    public static func activityTiles(_ trace: RankTrace, analysis a: RankAnalysis, instances: [CollectiveInstance]) -> [ActivityTile] {
        guard a.stepTrack >= 0, !instances.isEmpty else { return [] }
        let starts = instances.map(\.start).sorted()
        let ends = instances.map { $0.start + $0.dur }.sorted()
        var seen = Set<String>()
        var tiles: [ActivityTile] = []
        for step in a.steps where seen.insert(step.name).inserted {
            let lo = step.start, hi = step.start + step.dur
            let first = starts.partitionPoint { $0 >= lo }
            let past = starts.partitionPoint { $0 >= hi }
            guard first < past else { continue }
            let last = starts[past - 1]
            var points = Array(starts[first..<past])
            // Ends inside (lo, last); empty when every arrival is at the step start.
            let endsFrom = ends.partitionPoint { $0 > lo }
            points += ends[endsFrom..<max(endsFrom, ends.partitionPoint { $0 >= last })]
            points.append(lo)
            points.sort()
            var from = lo
            for p in points where p > from {
                let (phases, ops) = activity(trace, facts: a.facts, track: a.stepTrack, window: from..<p)
                tiles.append(ActivityTile(window: from..<p, phases: phases,
                                          top: ops.prefix(ActivityTile.topLimit).map { NamedTime(name: $0.name, ns: $0.ns) }))
                from = p
            }
        }
        // Steps that overlap (a malformed trace) keep the tiles of the earlier one.
        tiles.sort { $0.window.lowerBound < $1.window.lowerBound }
        var kept: [ActivityTile] = []
        for t in tiles where kept.last.map({ t.window.lowerBound >= $0.window.upperBound }) ?? true { kept.append(t) }
        return kept
    }

    /// Phase times and innermost slices (largest first) over the tiles lying inside `window`.
    static func activity(tiles: [ActivityTile], window: Range<Int64>) -> (PhaseTimes, [NamedTime]) {
        var phases = PhaseTimes()
        var byName: [String: Int64] = [:]
        var k = tiles.partitionPoint { $0.window.lowerBound >= window.lowerBound }
        while k < tiles.count && tiles[k].window.upperBound <= window.upperBound {
            phases += tiles[k].phases
            for t in tiles[k].top { byName[t.name, default: 0] += t.ns }
            k += 1
        }
        let ops = byName.map { NamedTime(name: $0.key, ns: $0.value) }.sorted { $0.ns != $1.ns ? $0.ns > $1.ns : $0.name < $1.name }
        return (phases, ops)
    }
}
