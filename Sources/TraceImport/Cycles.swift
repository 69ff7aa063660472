import TraceModel

// Files written by one process, one per profiler cycle (`schedule(..., repeat=0)`), are one rank:
// `assembleRun` merges them (docs/definitions.md, "Ranks and cycles").

extension TraceLoader {
    /// Merges the traces that are cycles of one process: same host, same pids of the CPU threads that hold slices, the same
    /// claimed rank (from `distributedInfo` or the file name, or none), and time ranges that do not
    /// overlap. Each group becomes its earliest trace, holding the others' rows, with the warning
    /// `profiler-cycles`; the files list keeps the earliest file of each group.
    static func mergingCycles(_ traces: [RankTrace], files: [String]) -> (traces: [RankTrace], files: [String]) {
        var groups: [String: [Int]] = [:]
        var order: [String] = []
        var solo: [Int] = []
        for (i, t) in traces.enumerated() {
            guard let key = processKey(t, fromName: rankFromFileName(files[i])) else { solo.append(i); continue }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        var keep = Set(solo)
        for key in order {
            let members = groups[key]!.sorted { (traces[$0].timeBounds?.start ?? 0) < (traces[$1].timeBounds?.start ?? 0) }
            var disjoint = members.count > 1
            for (a, b) in zip(members, members.dropFirst()) {
                guard let ea = traces[a].timeBounds?.end, let sb = traces[b].timeBounds?.start, ea <= sb else { disjoint = false; break }
            }
            guard disjoint else { keep.formUnion(members); continue }
            let first = traces[members[0]]
            for m in members.dropFirst() { merge(traces[m], into: first) }
            let pids = processPids(first).joined(separator: ",")
            first.warnings.add("profiler-cycles", count: members.count,
                               "\(members.count) files of one process (pid \(pids)) are profiler cycles of one rank: "
                                   + members.map { files[$0] }.joined(separator: ", "))
            keep.insert(members[0])
        }
        let kept = keep.sorted()
        return (kept.map { traces[$0] }, kept.map { files[$0] })
    }

    /// The process a trace came from, or nil when it has no CPU threads.
    static func processKey(_ t: RankTrace, fromName: Int?) -> String? {
        let pids = processPids(t)
        guard !pids.isEmpty else { return nil }
        let claimed = (t.metadata.distributed?.rank ?? fromName).map(String.init) ?? "-"
        return [t.metadata.hostName ?? "", pids.joined(separator: ","), claimed].joined(separator: "\u{0}")
    }

    /// The pids of the CPU threads that hold slices, sorted.
    static func processPids(_ t: RankTrace) -> [String] {
        Set(t.cpuTracks.filter { !t.tracks.sliceRange[$0].isEmpty }.map { t.strings[t.tracks.pid[$0]] }).sorted()
    }

    /// Appends `b`'s rows to `a` (`b` lies wholly after `a` in time, so per-track order, nesting
    /// and launch links carry over): strings are re-interned, tracks of the same (pid, tid, kind)
    /// joined, slice indices renumbered.
    static func merge(_ b: RankTrace, into a: RankTrace) {
        var strings = [UInt32](repeating: 0, count: b.strings.count)
        for id in 1..<max(1, b.strings.count) {
            strings[id] = b.strings.withBytes(UInt32(id)) { bytes in
                bytes.isEmpty ? a.strings.intern("") : a.strings.intern(UnsafeRawPointer(bytes.baseAddress!), bytes.count)
            }
        }
        struct TrackKey: Hashable { let pid: UInt32, tid: UInt32, kind: UInt8 }
        var trackOf: [TrackKey: Int] = [:]
        for t in 0..<a.tracks.count { trackOf[TrackKey(pid: a.tracks.pid[t], tid: a.tracks.tid[t], kind: a.tracks.kind[t].rawValue)] = t }
        var trackMap = [UInt32](repeating: 0, count: b.tracks.count)
        let oldTrackCount = a.tracks.count
        for t in 0..<b.tracks.count {
            let key = TrackKey(pid: strings[Int(b.tracks.pid[t])], tid: strings[Int(b.tracks.tid[t])], kind: b.tracks.kind[t].rawValue)
            if let found = trackOf[key] {
                trackMap[t] = UInt32(found)
                if a.tracks.name[found] == 0 { a.tracks.name[found] = strings[Int(b.tracks.name[t])] }
            } else {
                let n = a.tracks.count
                a.tracks.pid.append(key.pid)
                a.tracks.tid.append(key.tid)
                a.tracks.kind.append(b.tracks.kind[t])
                a.tracks.name.append(strings[Int(b.tracks.name[t])])
                a.tracks.sortIndex.append(b.tracks.sortIndex[t])
                trackOf[key] = n
                trackMap[t] = UInt32(n)
            }
        }
        // New slice order: per merged track, a's slices then b's.
        var bTracksOf = [[Int]](repeating: [], count: a.tracks.count)
        for t in 0..<b.tracks.count { bTracksOf[Int(trackMap[t])].append(t) }
        var fromA = [Int32](repeating: -1, count: a.slices.count)
        var fromB = [Int32](repeating: -1, count: b.slices.count)
        var sources: [(inB: Bool, index: Int)] = []
        sources.reserveCapacity(a.slices.count + b.slices.count)
        var ranges: [Range<Int>] = []
        for t in 0..<a.tracks.count {
            let lo = sources.count
            if t < oldTrackCount {
                for i in a.tracks.sliceRange[t] { fromA[i] = Int32(sources.count); sources.append((false, i)) }
            }
            for bt in bTracksOf[t] {
                for j in b.tracks.sliceRange[bt] { fromB[j] = Int32(sources.count); sources.append((true, j)) }
            }
            ranges.append(lo..<sources.count)
        }
        let argBase = UInt32(a.args.count)
        var s = SliceTable()
        let linked = !a.slices.launcher.isEmpty || !b.slices.launcher.isEmpty
        let n = sources.count
        let start = PackedColumn<Int64>.Builder(capacity: n), dur = PackedColumn<Int64>.Builder(capacity: n)
        let clip = PackedColumn<Int64>.Builder(capacity: n), name = PackedColumn<UInt32>.Builder(capacity: n)
        let category = PackedColumn<UInt32>.Builder(capacity: n), track = PackedColumn<UInt32>.Builder(capacity: n)
        let depth = PackedColumn<UInt16>.Builder(capacity: n), parent = ParentColumn.Builder(capacity: n)
        let correlation = PackedColumn<Int64>.Builder(capacity: n), externalID = PackedColumn<Int64>.Builder(capacity: n)
        let argStart = PackedColumn<UInt32>.Builder(capacity: n), argCount = PackedColumn<UInt16>.Builder(capacity: n)
        let launcher = PackedColumn<Int32>.Builder(capacity: linked ? n : 0)
        for (inB, i) in sources {
            let t = inB ? b.slices : a.slices
            let map = inB ? fromB : fromA
            start.append(t.start[i])
            dur.append(t.dur[i])
            s.kind.append(t.kind[i])
            clip.append(t.clip[i])
            name.append(inB ? strings[Int(t.name[i])] : t.name[i])
            category.append(inB ? strings[Int(t.category[i])] : t.category[i])
            track.append(inB ? trackMap[Int(t.track[i])] : t.track[i])
            depth.append(t.depth[i])
            parent.append(t.parent[i] >= 0 ? map[Int(t.parent[i])] : -1)
            correlation.append(t.correlation[i])
            externalID.append(t.externalID[i])
            argStart.append(inB ? t.argStart[i] + argBase : t.argStart[i])
            argCount.append(t.argCount[i])
            if linked {
                let l = t.launcher.isEmpty ? -1 : t.launcher[i]
                launcher.append(l >= 0 ? map[Int(l)] : -1)
            }
        }
        (s.start, s.dur) = (start.finish(), dur.finish())
        (s.clip, s.name, s.category, s.track) = (clip.finish(), name.finish(), category.finish(), track.finish())
        (s.depth, s.parent, s.correlation, s.externalID) = (depth.finish(), parent.finish(), correlation.finish(), externalID.finish())
        (s.argStart, s.argCount, s.launcher) = (argStart.finish(), argCount.finish(), launcher.finish())
        a.slices = s
        a.tracks.sliceRange = ranges
        let remap = RowRemap(strings: strings, tracks: trackMap, argBase: argBase)
        a.args.append(contentsOf: &b.args, remap: remap)
        a.instants.append(contentsOf: &b.instants, remap: remap)
        a.memory.append(contentsOf: &b.memory, remap: remap)
        a.operatorAllocations.append(contentsOf: &b.operatorAllocations, remap: remap)
        a.counters.append(contentsOf: &b.counters, remap: remap)
        for p in b.processes where !a.processes.contains(where: { $0.pid == strings[Int(p.pid)] }) {
            var q = p
            q.pid = strings[Int(p.pid)]
            q.name = strings[Int(p.name)]
            q.labels = strings[Int(p.labels)]
            a.processes.append(q)
        }
        for w in b.warnings.entries { a.warnings.add(w.code, count: w.count, w.example) }
        for (ph, n) in b.eventCounts { a.eventCounts[ph, default: 0] += n }
    }
}
