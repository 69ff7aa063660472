import Dispatch
import TraceModel
#if canImport(Glibc)
import Glibc
#endif

/// What a load keeps and how many cores it may use.
public struct ImportOptions: Sendable {
    /// Arg keys to keep (beyond those the importer reads itself, and every arg of counter and
    /// metadata events); nil keeps every arg. Dropping the rest skips interning their values,
    /// for callers that read only a few args (`stepscope diff`). Such a load also skips the args
    /// of `python_function` events unread (their slices then have no args, correlation or
    /// External id: Kineto writes none there, and no operator or flow rule reads them), and flow
    /// events after their `ph` (counted in `eventCounts`, as in every load: the model keeps no flows,
    /// since device activity is linked by correlation and External id args).
    public var argKeys: Set<String>?
    /// Cores this load may use (default: all); with one, a file is not split in two.
    public var cores: Int?

    public init(argKeys: Set<String>? = nil, cores: Int? = nil) {
        self.argKeys = argKeys
        self.cores = cores
    }
}

/// Loads trace files into the model: one file, several files, or directories of per-rank files.
public enum TraceLoader {
    /// Progress callback: (file, bytes read, events read), both since the file's previous call.
    /// Called every few MB per parsing thread (a split file reports from two threads), and at the end.
    public typealias Progress = @Sendable (String, Int64, Int) -> Void

    /// Loads one Chrome-trace JSON file, plain or gzip (detected by its magic bytes).
    public static func load(path: String, rank: Int = 0, progress: Progress? = nil) throws(ImportError) -> RankTrace {
        try load(path: path, rank: rank, progress: progress, splitThreshold: splitThreshold, options: ImportOptions())
    }

    /// Plain files at least `splitThreshold` bytes long are parsed as two halves on two cores.
    static func load(path: String, rank: Int, progress: Progress?, splitThreshold: Int64,
                     options: ImportOptions = ImportOptions()) throws(ImportError) -> RankTrace {
        if sniff(path) == .sqlite {
            let ranks = try loadDatabase(path: path, rank: rank)
            guard ranks.count == 1 else { throw ImportError(file: path, message: "holds \(ranks.count) ranks; load it as a run") }
            return ranks[0]
        }
        var file = try FileSource(path: path)
        defer { file.close() }
        let type = file.fileType
        if type == S_IFDIR { throw ImportError(file: path, message: "is a directory") }
        let magic = file.magic()  // none from a pipe, which is sniffed below from the bytes it gives
        let trace = RankTrace(source: path, rank: rank)
        let npu = NPUExport.isTextExport(path: path)
        func parseGzip<S: ByteSource>(_ compressed: S) throws(ImportError) {
            let source = try GzipSource(compressed, path: path)
            defer { source.close() }
            // Inflate on another core while this one parses.
            try parse(source: PrefetchSource(source), name: path, into: trace, expectedBytes: file.inflatedSizeGuess(), progress: progress,
                      options: options, npu: npu)
        }
        if type != S_IFREG {
            // A pipe, FIFO or process substitution: sniff the first bytes read, then replay them.
            let head = try file.readHead(2)
            let stream = ReplaySource(head, then: file)
            if head.withUnsafeBytes({ isGzip($0) }) {
                try parseGzip(stream)
            } else if head.withUnsafeBytes({ SnapshotDecoder.isPickle($0) }) {
                try SnapshotDecoder.decode(source: stream, name: path, size: nil, referenced: nil, into: trace)
            } else if let refusal = head.withUnsafeBytes({ SnapshotDecoder.refusal($0, path: path) }) {
                throw refusal
            } else {
                try parse(source: stream, name: path, into: trace, expectedBytes: file.size, progress: progress, options: options, npu: npu)
            }
        } else if magic.withUnsafeBytes({ isGzip($0) }) {
            // Only with ISA-L: the second part's thread inflates the first part's bytes too, which
            // costs zlib about 0.5 s of CPU on the benchmark trace, ISA-L 0.07 s (docs/performance.md).
            let inflated = file.inflatedSizeGuess()
            if Inflater.preferred == .isal, inflated >= splitThreshold {
                try parseGzipInTwo(file: file, path: path, inflatedSize: inflated, into: trace, progress: progress, options: options, npu: npu)
            } else {
                try parseGzip(file)
            }
        } else if magic.withUnsafeBytes({ SnapshotDecoder.isPickle($0) }) {
            try SnapshotDecoder.load(path: path, into: trace)
        } else if let refusal = magic.withUnsafeBytes({ SnapshotDecoder.refusal($0, path: path) }) {
            throw refusal
        } else if file.size >= splitThreshold, let split = try splitPoint(path: path, size: file.size) {
            func inTwo<D: SplittableDecoder>(_: D.Type) throws(ImportError) {
                try parseInTwo(first: file, path: path, expectedBytes: file.size, into: trace, progress: progress, options: options,
                               stop: { (parser: TraceParser<D>) in parser.stopAt = split.offset }) { second throws(ImportError) in
                    let part = try FileSource(path: path, offset: split.offset)
                    defer { part.close() }
                    return try second.parse(part, at: split.offset, bareArray: split.bareArray, expectedBytes: part.size - split.offset)
                }
            }
            if npu { try inTwo(NPUTraceDecoder.self) } else { try inTwo(KinetoDecoder.self) }
        } else {
            try parse(source: file, name: path, into: trace, expectedBytes: file.size, progress: progress, options: options, npu: npu)
        }
        if npu, let r = NPUExport.rank(ofTrace: path) {
            var d = trace.metadata.distributed ?? DistributedInfo()
            d.rank = r
            trace.metadata.distributed = d
        }
        if let r = trace.metadata.distributed?.rank { trace.rank = r }
        return trace
    }

    /// Files at least this large (inflated, for gzip inflated by ISA-L) are parsed as two parts on
    /// two cores by default.
    static let splitThreshold: Int64 = 32 << 20

    /// Where the second half of a plain file can start: an event's `{` near the middle
    /// (`eventStart`), and whether the document is a bare array.
    static func splitPoint(path: String, size: Int64) throws(ImportError) -> (offset: Int64, bareArray: Bool)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ImportError(file: path, message: String(cString: strerror(errno))) }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 4096)
        let h = pread(fd, &head, head.count, 0)
        guard h > 0, let first = head.withUnsafeBytes({ firstSignificantByte(UnsafeRawBufferPointer(rebasing: $0[0..<h])) }) else { return nil }
        var window = [UInt8](repeating: 0, count: 1 << 20)
        let start = size / 2
        let n = pread(fd, &window, window.count, off_t(start))
        guard n > 0, let k = window.withUnsafeBytes({ eventStart(in: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else { return nil }
        return (start + Int64(k), first == 0x5B)
    }

    /// The first byte of `head` that is neither whitespace nor part of a UTF-8 byte-order mark
    /// (`[` opens a bare array).
    static func firstSignificantByte(_ head: UnsafeRawBufferPointer) -> UInt8? {
        head.first { $0 > 0x20 && $0 != 0xEF && $0 != 0xBB && $0 != 0xBF }
    }

    /// Where an event can begin in `window`: the index of a `{` found after a newline (JSON
    /// strings cannot hold a raw newline) that follows a `,`, blanks allowed around the newline;
    /// in a window without one (torch_npu writes its whole export on one line), the first `{`
    /// that follows `}` and `,`, blanks allowed between. Only a guess: the first part's parser
    /// confirms that an event really begins there.
    static func eventStart(in window: UnsafeRawBufferPointer) -> Int? {
        let n = window.count
        func blank(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
        var i = 0
        while i < n, let nl = window[i..<n].firstIndex(of: 0x0A) {
            var before = nl - 1
            while before >= 0, window[before] == 0x20 || window[before] == 0x09 || window[before] == 0x0D { before -= 1 }
            var after = nl + 1
            while after < n, window[after] == 0x20 || window[after] == 0x09 || window[after] == 0x0D { after += 1 }
            if before >= 0, window[before] == 0x2C, after < n, window[after] == 0x7B { return after }
            i = nl + 1
        }
        i = 0
        while i < n, let close = window[i..<n].firstIndex(of: 0x7D) {
            var k = close + 1
            while k < n, blank(window[k]) { k += 1 }
            if k < n, window[k] == 0x2C {
                k += 1
                while k < n, blank(window[k]) { k += 1 }
                if k < n, window[k] == 0x7B { return k }
            }
            i = close + 1
        }
        return nil
    }

    /// Parses a file as two parts on two cores: `source` from the start on this thread, and on
    /// another the part `second` opens (nil: it found no start) and parses with `SecondHalf.parse`;
    /// then appends the second to the first. `stop` tells the first part's parser where the second
    /// begins (or arranges that it is told). When the first part finds no event there, it simply
    /// parses on and the second is dropped. Returns where the second part began, when it was used.
    @discardableResult
    private static func parseInTwo<D: SplittableDecoder>(
        first source: any ByteSource, path: String, expectedBytes: Int64, into trace: RankTrace, progress: Progress?,
        options: ImportOptions, stop: (TraceParser<D>) -> Void,
        second body: @escaping @Sendable (SecondHalf<D>) throws(ImportError) -> D?
    ) throws(ImportError) -> Int64? {
        let second = SecondHalf<D>(path: path, rank: trace.rank, progress: progress, options: options)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { second.run(body) }
        // Sized for the whole file: the second part is appended without regrowing (untouched
        // reserved pages cost no memory).
        let decoder = D(builder: TimelineBuilder(rank: trace, expectedBytes: expectedBytes), argKeys: options.argKeys)
        let parser = TraceParser(source: source, file: path, decoder: decoder)
        stop(parser)
        if let progress { parser.progress = { progress(path, $0, $1) } }
        let firstResult: Result<Void, ImportError>
        do throws(ImportError) { try parser.run(); firstResult = .success(()) } catch { firstResult = .failure(error) }
        group.wait()
        if case let .failure(e) = firstResult { throw e }
        if parser.stopped {
            switch second.result {
            case let .failure(e)?: throw e
            case let .success(part)?:
                do { try decoder.absorb(part) } catch let e as ImportError { throw e } catch {
                    throw ImportError(file: path, message: "invalid top-level member after the events")
                }
            case nil: throw ImportError(file: path, message: "second half not parsed")
            }
        }
        try decoder.finish()
        return parser.stopped ? parser.stopAt : nil
    }

    /// Parses a gzip file as two parts on two cores, each with its own inflater (`GzipSplit`, which
    /// skips `blockSize` bytes at a time). Returns where the second part began, when it was used.
    @discardableResult
    static func parseGzipInTwo(file: FileSource, path: String, inflatedSize: Int64, into trace: RankTrace, progress: Progress?,
                               options: ImportOptions, npu: Bool = false, inflater: Inflater = .preferred,
                               blockSize: Int = 1 << 20) throws(ImportError) -> Int64? {
        let split = GzipSplit(compressedSize: file.size, blockSize: blockSize)
        let gzip = try GzipSource(file, path: path, inflater: inflater)
        defer { gzip.close() }
        let first = GzipSplit.FirstPart(gzip, split: split)
        func inTwo<D: SplittableDecoder>(_: D.Type) throws(ImportError) -> Int64? {
            try parseInTwo(first: first, path: path, expectedBytes: inflatedSize, into: trace, progress: progress, options: options,
                           stop: { (parser: TraceParser<D>) in first.stop = { [unowned parser] in parser.stopAt = $0 } }) { second throws(ImportError) in
                let part = try FileSource(path: path)
                defer { part.close() }
                let gzip = try GzipSource(part, path: path, inflater: inflater)
                defer { gzip.close() }
                guard let start = split.findStart(gzip) else { return nil }
                return try second.parse(start.source, at: start.offset, bareArray: start.bareArray,
                                        expectedBytes: max(0, inflatedSize - start.offset))
            }
        }
        return npu ? try inTwo(NPUTraceDecoder.self) : try inTwo(KinetoDecoder.self)
    }

    /// The second part of a split file, parsed on another thread.
    private final class SecondHalf<D: SplittableDecoder>: @unchecked Sendable {
        let path: String
        let rank: Int
        let progress: Progress?
        let options: ImportOptions
        /// Nil until `run` ends, and when the part found no start.
        var result: Result<D, ImportError>?

        init(path: String, rank: Int, progress: Progress?, options: ImportOptions) {
            self.path = path
            self.rank = rank
            self.progress = progress
            self.options = options
        }

        /// Runs `body` (which opens the part and parses it) and keeps what it gave.
        func run(_ body: (SecondHalf) throws(ImportError) -> D?) {
            do throws(ImportError) {
                result = try body(self).map { .success($0) }
            } catch {
                result = .failure(error)
            }
        }

        /// Parses `source`, the input from byte `offset` on, as the events after a split.
        func parse(_ source: any ByteSource, at offset: Int64, bareArray: Bool, expectedBytes: Int64) throws(ImportError) -> D {
            let builder = TimelineBuilder(rank: RankTrace(source: path, rank: rank), expectedBytes: expectedBytes)
            builder.isContinuation = true
            let decoder = D(builder: builder, argKeys: options.argKeys)
            let parser = TraceParser(source: source, file: path, decoder: decoder, continuationAt: offset, bareArray: bareArray)
            if let progress { parser.progress = { [path] in progress(path, $0, $1) } }
            try parser.run()
            return decoder
        }
    }

    /// Loads a trace held in memory (plain or gzip); `name` stands for the file in errors.
    public static func load(bytes: [UInt8], name: String, rank: Int = 0) throws(ImportError) -> RankTrace {
        let trace = RankTrace(source: name, rank: rank)
        let gzip = bytes.withUnsafeBytes { isGzip($0) }
        if bytes.withUnsafeBytes({ SnapshotDecoder.isPickle($0) }) {
            try SnapshotDecoder.load(bytes: bytes, name: name, into: trace)
        } else if let refusal = bytes.prefix(2).withUnsafeBytes({ SnapshotDecoder.refusal($0, path: name) }) {
            throw refusal
        } else if gzip {
            let source = try GzipSource(MemorySource(bytes), path: name)
            defer { source.close() }
            try parse(source: source, name: name, into: trace, progress: nil, options: ImportOptions())
        } else {
            let npu = bytes.prefix(NPUExport.sniffBytes).withUnsafeBytes { NPUExport.hasQuotedTimestamp($0) }
            try parse(source: MemorySource(bytes), name: name, into: trace, progress: nil, options: ImportOptions(), npu: npu)
        }
        if let r = trace.metadata.distributed?.rank { trace.rank = r }
        return trace
    }

    static func parse(source: any ByteSource, name: String, into trace: RankTrace, expectedBytes: Int64 = 0,
                      progress: Progress?, options: ImportOptions, npu: Bool = false) throws(ImportError) {
        func parse<D: SplittableDecoder>(_: D.Type) throws(ImportError) {
            let decoder = D(builder: TimelineBuilder(rank: trace, expectedBytes: expectedBytes), argKeys: options.argKeys)
            let parser = TraceParser(source: source, file: name, decoder: decoder)
            if let progress { parser.progress = { progress(name, $0, $1) } }
            try parser.run()
            try decoder.finish()
        }
        if npu { try parse(NPUTraceDecoder.self) } else { try parse(KinetoDecoder.self) }
    }

    /// Loads paths (files or directories of trace files) as one run, up to `jobs` files at a time
    /// (default: one per core this load may use, `options.cores`).
    ///
    /// A rank comes from `distributedInfo`, else from the file name (`rank3`, `rank-3`, `rank_3`),
    /// else from the load order. Files loaded one at a time use two cores each (split parse, gzip
    /// prefetch); files loaded side by side use one core each, so the machine is not oversubscribed.
    public static func loadRun(paths: [String], jobs: Int? = nil, progress: Progress? = nil,
                               options: ImportOptions = ImportOptions()) throws(ImportError) -> TraceRun {
        var found: [String] = []
        for p in paths { found += try expand(p) }
        let files = found
        guard !files.isEmpty else { throw ImportError(file: paths.joined(separator: " "), message: "no trace files found") }
        let cores = max(1, options.cores ?? processorCount)
        let workers = max(1, min(jobs ?? cores, files.count))
        let threshold = workers == 1 && cores > 1 ? splitThreshold : .max
        let results = concurrentMap(files.count, workers: workers) { i -> Result<[RankTrace], ImportError> in
            do throws(ImportError) {
                switch sniff(files[i]) {
                case .sqlite: return .success(try loadDatabase(path: files[i], rank: i))
                case .nsysReport:
                    throw ImportError(file: files[i], message: "an Nsight Systems report, which only nsys can read; export it first: "
                                      + "nsys export --type sqlite -o FILE.sqlite \(files[i])")
                case .chromeTrace:
                    return .success([try load(path: files[i], rank: i, progress: progress, splitThreshold: threshold, options: options)])
                }
            } catch {
                return .failure(error)
            }
        }
        var traces: [RankTrace] = [], traceFiles: [String] = []
        for (i, r) in results.enumerated() {
            switch r {
            case let .success(t): traces += t; traceFiles += t.map { _ in files[i] }
            case let .failure(e): throw e
            }
        }
        return assembleRun(traces, files: traceFiles)
    }

    /// Loads an SQLite file: a torch_npu db export (one rank) or an Nsight Systems export (a rank
    /// per GPU process), told apart by their tables.
    static func loadDatabase(path: String, rank: Int) throws(ImportError) -> [RankTrace] {
        do {
            let db = try SQLiteDatabase(path: path)
            if NPUDatabaseDecoder.isExport(tables: try db.tables()) { return [try NPUDatabaseDecoder(db: db, rank: rank).decode()] }
            return try NsysDecoder(db: db).decode()
        } catch let e as SQLiteError {
            throw e.importError
        } catch let e as ImportError {
            throw e
        } catch {
            throw ImportError(file: path, message: "\(error)")
        }
    }

    /// What a file holds, from its first bytes (else its name).
    enum FileFormat { case chromeTrace, sqlite, nsysReport }

    /// Sniffs a regular file's first bytes: SQLite databases (Nsight Systems exports) by their
    /// magic, Nsight Systems reports by their extension; anything else is read as a Chrome trace.
    static func sniff(_ path: String) -> FileFormat {
        // Only a regular file is opened here: opening a FIFO would take (and lose) its writer.
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return .chromeTrace }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .chromeTrace }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return .chromeTrace }
        var head = [UInt8](repeating: 0, count: sqliteMagic.count)
        if pread(fd, &head, head.count, 0) == head.count, head == sqliteMagic { return .sqlite }
        if path.hasSuffix(".nsys-rep") || path.hasSuffix(".qdrep") { return .nsysReport }
        return .chromeTrace
    }

    /// Orders traces into a run and settles their rank numbers; the files of one process's
    /// profiler cycles become one rank first (`mergingCycles`).
    static func assembleRun(_ loaded: [RankTrace], files loadedFiles: [String]) -> TraceRun {
        let (traces, files) = mergingCycles(loaded, files: loadedFiles)
        let run = TraceRun(ranks: [])
        let ranks = settleRanks(claims: traces.indices.map { traces[$0].metadata.distributed?.rank ?? rankFromFileName(files[$0]) },
                                files: files, worldSizes: traces.map { $0.metadata.distributed?.worldSize }, warnings: &run.warnings)
        for (t, r) in zip(traces, ranks) { t.rank = r }
        run.ranks = traces.sorted { $0.rank < $1.rank }
        return run
    }

    /// Rank numbers of a run's files, in load order: a claimed rank (`distributedInfo`, else the
    /// file name) is kept unless an earlier file took it (`duplicate-rank`); the others get the
    /// lowest free numbers in order. More than one file with a larger world size than files is
    /// `missing-ranks`. Traces and summaries (`stepscope summary`) are numbered alike.
    public static func settleRanks(claims: [Int?], files: [String], worldSizes: [Int?], warnings: inout Warnings) -> [Int] {
        var ranks = [Int](repeating: -1, count: claims.count)
        var used = Set<Int>()
        var pending: [Int] = []
        for (i, claimed) in claims.enumerated() {
            if let r = claimed, !used.contains(r) {
                ranks[i] = r
                used.insert(r)
            } else {
                if let r = claimed { warnings.add("duplicate-rank", "\(files[i]) also claims rank \(r)") }
                pending.append(i)
            }
        }
        var next = 0
        for i in pending {
            while used.contains(next) { next += 1 }
            ranks[i] = next
            used.insert(next)
        }
        if claims.count > 1, let world = worldSizes.compactMap({ $0 }).max(), world > claims.count {
            warnings.add("missing-ranks", count: world - claims.count, "world size \(world) but \(claims.count) rank files")
        }
        return ranks
    }

    /// The rank number in a file name: `rank3`, `rank-3`, `rank_3`, `rank.3` (any case).
    public static func rankFromFileName(_ path: String) -> Int? {
        let base = Array((path.split(separator: "/").last.map(String.init) ?? path).lowercased().utf8)
        let word = Array("rank".utf8)
        var i = 0
        while i + word.count <= base.count {
            if Array(base[i..<i + word.count]) == word {
                var j = i + word.count
                if j < base.count, base[j] == UInt8(ascii: "-") || base[j] == UInt8(ascii: "_") || base[j] == UInt8(ascii: ".") { j += 1 }
                let digitsStart = j
                while j < base.count, base[j] >= UInt8(ascii: "0"), base[j] <= UInt8(ascii: "9") { j += 1 }
                if j > digitsStart, j - digitsStart < 9 { return Int(String(decoding: base[digitsStart..<j], as: UTF8.self)) }
            }
            i += 1
        }
        return nil
    }

    /// The names of the files a directory's expansion keeps: traces, Nsight Systems exports and
    /// memory snapshots.
    static let traceSuffixes = [".json", ".json.gz", ".sqlite", ".pkl", ".pickle"]

    /// A file stays as it is; a directory becomes its trace files (`traceSuffixes`), sorted, or
    /// the `trace_view.json` of the torch_npu profiles it is or holds (`NPUExport`).
    public static func expand(_ path: String) throws(ImportError) -> [String] {
        var st = stat()
        guard stat(path, &st) == 0 else { throw ImportError(file: path, message: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return [path] }
        if let npu = NPUExport.traceFiles(inDirectory: path) { return npu }
        guard let dir = opendir(path) else { throw ImportError(file: path, message: String(cString: strerror(errno))) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if traceSuffixes.contains(where: name.hasSuffix) { names.append(name) }
        }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        return names.sorted().map { prefix + $0 }
    }
}
