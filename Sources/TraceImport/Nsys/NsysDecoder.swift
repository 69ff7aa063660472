import TraceModel

/// Nsight Systems SQLite exports (`nsys export --type sqlite`, docs/nsys.md): each process with
/// GPU activity becomes one rank, its GPUs device stream tracks and its threads CPU tracks; CUPTI
/// kernel, memcpy, memset, runtime and synchronization rows and NVTX ranges are streamed table by
/// table into one `TimelineBuilder` per rank, reading every column by name.
final class NsysDecoder {
    let db: SQLiteDatabase
    let path: String
    private let tables: Set<String>
    /// `StringIds` (id -> text).
    private var texts: [Int64: String] = [:]
    /// Labels of the `ENUM_*` tables read (id -> label).
    private var memcpyKinds: [Int64: String] = [:]
    private var memoryKinds: [Int64: String] = [:]
    private var syncTypes: [Int64: String] = [:]
    /// Stream type labels (`TARGET_INFO_CUDA_STREAM` + `ENUM_CUPTI_STREAM_TYPE`) by (pid, stream).
    private var streamTypes: [Int64: String] = [:]
    private var ranks: [Rank] = []
    /// Rank index by serialized global process id (`globalTid` with its low 24 bits cleared).
    private var rankOfProcess: [Int64: Int] = [:]
    private var absent: [String] = []
    private var otherProcessRows = 0

    /// Tables whose absence makes the file something other than an Nsight Systems export.
    static let activityTables = ["CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET",
                                 "CUPTI_ACTIVITY_KIND_RUNTIME", "NVTX_EVENTS"]
    /// Tables read when present; their absence is a warning.
    static let optionalTables = activityTables + ["CUPTI_ACTIVITY_KIND_SYNCHRONIZATION", "ThreadNames", "PROCESSES",
                                                  "TARGET_INFO_CUDA_STREAM", "TARGET_INFO_GPU", "ENUM_CUDA_MEMCPY_OPER",
                                                  "ENUM_CUDA_MEM_KIND", "ENUM_CUPTI_SYNC_TYPE", "ENUM_NSYS_EVENT_TYPE",
                                                  "TARGET_INFO_SESSION_START_TIME"]

    /// One rank being built: a process and its GPUs.
    private final class Rank {
        let globalPid: Int64
        /// Position in `ranks`.
        let index: Int
        let builder: TimelineBuilder
        var strings: StringTable { builder.rank.strings }
        var interned: [Int64: UInt32] = [:]
        var threadTracks: [Int64: UInt32] = [:]
        var streamTracks: [Int64: UInt32] = [:]
        var devices: Set<Int64> = []
        let pidText: UInt32
        let names: (kernel: UInt32, memcpy: UInt32, memset: UInt32, runtime: UInt32, sync: UInt32, cpuOp: UInt32,
                    annotation: UInt32, nccl: UInt32, bytes: UInt32, grid: UInt32, block: UInt32)

        /// `expectedRows` sizes the builder's tables up front (untouched reserved pages cost nothing).
        init(globalPid: Int64, index: Int, path: String, expectedRows: Int64) {
            self.globalPid = globalPid
            self.index = index
            // The builder sizes its tables from an input size, at 400 bytes a slice.
            builder = TimelineBuilder(rank: RankTrace(source: path, rank: 0), expectedBytes: expectedRows * 400)
            let s = builder.rank.strings
            pidText = s.intern(String(NsysDecoder.pid(ofGlobal: globalPid)))
            names = (s.intern("kernel"), s.intern("gpu_memcpy"), s.intern("gpu_memset"), s.intern("cuda_runtime"),
                     s.intern("cuda_sync"), s.intern("cpu_op"), s.intern("user_annotation"), s.intern("nccl"),
                     s.intern("bytes"), s.intern("grid"), s.intern("block"))
        }
    }

    /// The pid in a serialized global id: bits 24-47 (`globalTid` and `globalPid` alike).
    static func pid(ofGlobal id: Int64) -> Int64 { (id >> 24) & 0xFF_FFFF }
    /// The tid in a serialized global thread id: its low 24 bits.
    static func tid(ofGlobal id: Int64) -> Int64 { id & 0xFF_FFFF }
    /// The serialized global process id of a global thread id.
    static func process(ofGlobal id: Int64) -> Int64 { id & ~0xFF_FFFF }

    init(db: SQLiteDatabase) throws(SQLiteError) {
        self.db = db
        path = db.path
        tables = try db.tables()
    }

    /// Decodes the ranks of the export (numbered from 0 in `distributedInfo`).
    func decode() throws -> [RankTrace] {
        guard tables.contains("StringIds"), Self.activityTables.contains(where: tables.contains) else {
            let what = tables.contains("StringIds") ? "no CUPTI_ACTIVITY_KIND_* or NVTX_EVENTS table" : "no StringIds table"
            throw ImportError(file: path, message: "an SQLite database but not an Nsight Systems export (\(what))")
        }
        absent = Self.optionalTables.filter { !tables.contains($0) }
        try readStrings()
        memcpyKinds = try enumLabels("ENUM_CUDA_MEMCPY_OPER")
        memoryKinds = try enumLabels("ENUM_CUDA_MEM_KIND")
        syncTypes = try enumLabels("ENUM_CUPTI_SYNC_TYPE")
        try readStreamTypes()
        try findRanks()
        guard !ranks.isEmpty else { throw ImportError(file: path, message: "Nsight Systems export with no GPU, CUDA runtime or NVTX rows") }
        try readProcesses()
        try readDeviceActivity("CUPTI_ACTIVITY_KIND_KERNEL", kind: .kernel)
        try readDeviceActivity("CUPTI_ACTIVITY_KIND_MEMCPY", kind: .memcpy)
        try readDeviceActivity("CUPTI_ACTIVITY_KIND_MEMSET", kind: .memset)
        try readDeviceActivity("CUPTI_ACTIVITY_KIND_SYNCHRONIZATION", kind: .cudaSync)
        try readRuntime()
        try readNVTX()
        try readThreadNames()
        nameDevices()
        let base = try sessionStart()
        let devices = try gpuInfo()
        var result: [RankTrace] = []
        for (i, r) in ranks.enumerated() {
            let trace = r.builder.rank
            trace.rank = i
            var info = DistributedInfo()
            info.rank = i
            info.worldSize = ranks.count
            trace.metadata.distributed = info
            trace.metadata.baseTimeNanoseconds = base
            trace.metadata.traceName = "Nsight Systems export"
            trace.metadata.devices = devices.filter { r.devices.contains(Int64($0.id)) }
            if !absent.isEmpty {
                trace.warnings.add("nsys-missing-table", count: absent.count, "tables absent from the export: " + absent.joined(separator: ", "))
            }
            if otherProcessRows > 0 {
                trace.warnings.add("nsys-other-process", count: otherProcessRows, "host rows of processes with no GPU activity are not read")
            }
            try r.builder.finish()
            result.append(trace)
        }
        return result
    }

    // MARK: - Lookup tables

    private func readStrings() throws {
        let rows = try all("StringIds")
        guard let id = rows.column("id"), let value = rows.column("value") else { throw missingColumn("StringIds", "id, value") }
        while try rows.step() {
            if let i = try rows.int(id) { texts[i] = rows.string(value) ?? "" }
        }
    }

    private func enumLabels(_ table: String) throws -> [Int64: String] {
        guard tables.contains(table) else { return [:] }
        let rows = try all(table)
        guard let id = rows.column("id"), let label = rows.column("label") ?? rows.column("name") else { return [:] }
        var labels: [Int64: String] = [:]
        while try rows.step() { if let i = try rows.int(id) { labels[i] = rows.string(label) ?? "" } }
        return labels
    }

    /// Every row and column of `table`.
    private func all(_ table: String) throws -> SQLiteRows { try db.prepare("SELECT * FROM \(table)", table: table) }

    /// The rows of `table` with those of `wanted` it has (by name, as versions differ): SQLite
    /// decodes only the columns selected, and a kernel row has some forty.
    private func select(_ table: String, _ wanted: [String]) throws -> SQLiteRows {
        let have = try db.columns(of: table)
        let columns = wanted.filter(have.contains).map { "\"\($0)\"" }
        return try db.prepare("SELECT \(columns.isEmpty ? "*" : columns.joined(separator: ", ")) FROM \(table)", table: table)
    }

    private func missingColumn(_ table: String, _ columns: String) -> ImportError {
        ImportError(file: path, message: "table \(table) lacks column(s) \(columns)")
    }

    /// Ranks: processes with GPU rows (ordered by their lowest device), else every process with
    /// runtime or NVTX rows (ordered by pid).
    private func findRanks() throws {
        var lowestDevice: [Int64: Int64] = [:]
        var deviceSets: [Int64: Set<Int64>] = [:]
        for table in ["CUPTI_ACTIVITY_KIND_KERNEL", "CUPTI_ACTIVITY_KIND_MEMCPY", "CUPTI_ACTIVITY_KIND_MEMSET"] where tables.contains(table) {
            let cols = try db.columns(of: table)
            guard cols.contains("globalPid"), cols.contains("deviceId") else { throw missingColumn(table, "globalPid, deviceId") }
            let rows = try db.prepare("SELECT DISTINCT globalPid, deviceId FROM \(table)", table: table)
            while try rows.step() {
                guard let p = try rows.int(0), let d = try rows.int(1) else { continue }
                let g = Self.process(ofGlobal: p)
                lowestDevice[g] = min(lowestDevice[g] ?? .max, d)
                deviceSets[g, default: []].insert(d)
            }
        }
        if lowestDevice.isEmpty {
            for table in ["CUPTI_ACTIVITY_KIND_RUNTIME", "NVTX_EVENTS"] where tables.contains(table) {
                guard try db.columns(of: table).contains("globalTid") else { throw missingColumn(table, "globalTid") }
                let rows = try db.prepare("SELECT DISTINCT globalTid FROM \(table) WHERE globalTid IS NOT NULL", table: table)
                while try rows.step() {
                    if let t = try rows.int(0) { lowestDevice[Self.process(ofGlobal: t)] = Self.pid(ofGlobal: t) }
                }
            }
        }
        // Row counts (the largest rowid: O(log n), unlike count(*)), shared evenly between the ranks.
        var rows: Int64 = 0
        for table in Self.activityTables + ["CUPTI_ACTIVITY_KIND_SYNCHRONIZATION"] where tables.contains(table) {
            let max = try db.prepare("SELECT max(rowid) FROM \(table)", table: table)
            if try max.step() { rows += try max.int(0) ?? 0 }
        }
        let perRank = rows / Int64(Swift.max(1, lowestDevice.count))
        for (g, _) in lowestDevice.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) {
            rankOfProcess[g] = ranks.count
            let r = Rank(globalPid: g, index: ranks.count, path: path, expectedRows: perRank)
            r.devices = deviceSets[g] ?? []
            ranks.append(r)
        }
    }

    // MARK: - Tracks and strings

    private func interned(_ r: Rank, _ id: Int64?) -> UInt32 {
        guard let id else { return 0 }
        if let s = r.interned[id] { return s }
        let s = r.strings.intern(texts[id] ?? "<string \(id)>")
        r.interned[id] = s
        return s
    }

    private func threadTrack(_ r: Rank, globalTid: Int64) -> UInt32 {
        if let t = r.threadTracks[globalTid] { return t }
        let t = r.builder.thread(pid: r.pidText, tid: r.strings.intern(String(Self.tid(ofGlobal: globalTid))))
        r.threadTracks[globalTid] = t
        return t
    }

    private func streamTrack(_ r: Rank, device: Int64, stream: Int64) -> UInt32 {
        let key = Self.streamKey(device, stream)
        if let t = r.streamTracks[key] { return t }
        let t = r.builder.thread(pid: r.strings.intern(String(device)), tid: r.strings.intern(String(stream)))
        let type = streamTypes[Self.pid(ofGlobal: r.globalPid) << 32 | (stream & 0xFFFF_FFFF)].map { " (\($0))" } ?? ""
        r.builder.nameTrack(Int(t), r.strings.intern("stream \(stream)" + type))
        r.streamTracks[key] = t
        return t
    }

    static func streamKey(_ device: Int64, _ stream: Int64) -> Int64 { device << 32 | (stream & 0xFFFF_FFFF) }

    /// The rank of a row's global id (thread or process), or nil (counted) for other processes.
    private func rank(ofGlobal id: Int64?) -> Rank? {
        guard let id, let i = rankOfProcess[Self.process(ofGlobal: id)] else { otherProcessRows += 1; return nil }
        return ranks[i]
    }

    // MARK: - Tables

    private func readDeviceActivity(_ table: String, kind: SliceKind) throws {
        guard tables.contains(table) else { return }
        let rows = try select(table, ["start", "end", "deviceId", "streamId", "globalPid", "correlationId", "demangledName", "shortName",
                                      "bytes", "copyKind", "memKind", "syncType", "gridX", "gridY", "gridZ", "blockX", "blockY", "blockZ"])
        guard let start = rows.column("start"), let end = rows.column("end"), let device = rows.column("deviceId"),
              let stream = rows.column("streamId"), let pid = rows.column("globalPid") else {
            throw missingColumn(table, "start, end, deviceId, streamId, globalPid")
        }
        let correlation = rows.column("correlationId")
        let nameColumn = rows.column("demangledName") ?? rows.column("shortName")
        let (bytes, copyKind, memKind, syncType) = (rows.column("bytes"), rows.column("copyKind"), rows.column("memKind"), rows.column("syncType"))
        let (gx, gy, gz) = (rows.column("gridX"), rows.column("gridY"), rows.column("gridZ"))
        let (bx, by, bz) = (rows.column("blockX"), rows.column("blockY"), rows.column("blockZ"))
        var labelNames: [Int64: UInt32] = [:]  // memcpy/memset/sync names per (rank, enum) pair
        var dimsNames: [Dims: UInt32] = [:]  // "[x, y, z]" of grids and blocks, formatted once per rank
        var negative = 0, orphanSyncs = 0
        while try rows.step() {
            guard let r = rank(ofGlobal: try rows.int(pid)), let s = try rows.int(start), let e = try rows.int(end) else { continue }
            guard e >= s else { negative += 1; continue }
            let d = try rows.int(device) ?? 0, st = try rows.int(stream) ?? 0
            let b = r.builder, n = r.names
            let argStart = b.argMark
            let name: UInt32, category: UInt32
            func label(_ key: Int64, _ text: @autoclosure () -> String) -> UInt32 {
                let k = Int64(r.index) << 40 | key
                if let found = labelNames[k] { return found }
                let id = r.strings.intern(text())
                labelNames[k] = id
                return id
            }
            switch kind {
            case .kernel:
                name = interned(r, try rows.int(nameColumn))
                category = n.kernel
                if let gx, let bx {
                    func dims(_ x: Int32, _ y: Int32?, _ z: Int32?) throws -> UInt32 {
                        let key = Dims(rank: r.index, x: try rows.int(x) ?? 1, y: try rows.int(y) ?? 1, z: try rows.int(z) ?? 1)
                        if let found = dimsNames[key] { return found }
                        let id = r.strings.intern("[\(key.x), \(key.y), \(key.z)]")
                        dimsNames[key] = id
                        return id
                    }
                    b.appendArg(key: n.grid, value: ArgValue(text: try dims(gx, gy, gz)))
                    b.appendArg(key: n.block, value: ArgValue(text: try dims(bx, by, bz)))
                }
            case .memcpy:
                let k = try rows.int(copyKind) ?? 0
                name = label(k, "Memcpy " + (self.memcpyKinds[k] ?? "kind \(k)"))
                category = n.memcpy
            case .memset:
                let k = try rows.int(memKind) ?? -1
                name = label(1 << 20 | (k & 0xFFFF), "Memset (" + (self.memoryKinds[k] ?? "Unknown") + ")")
                category = n.memset
            default:
                let k = try rows.int(syncType) ?? 0
                name = label(2 << 20 | (k & 0xFFFF), self.syncTypes[k] ?? "Synchronization \(k)")
                category = n.sync
            }
            if let bytes, let v = try rows.int(bytes) { b.appendArg(key: n.bytes, value: ArgValue(integer: v)) }
            let track: UInt32
            if kind == .cudaSync {
                // Synchronization alone does not make a stream a device track: it goes to its stream
                // when that ran activity, else to the device's first stream that did.
                guard let t = r.streamTracks[Self.streamKey(d, st)] ?? r.streamTracks.filter({ $0.key >> 32 == d }).min(by: { $0.key < $1.key })?.value else {
                    b.discardArgs(from: argStart)
                    orphanSyncs += 1
                    continue
                }
                track = t
            } else {
                r.devices.insert(d)
                track = streamTrack(r, device: d, stream: st)
            }
            b.appendSlice(start: s, dur: e - s, name: name, category: category, kind: kind, track: track,
                          correlation: try rows.int(correlation) ?? -1, externalID: -1, argStart: argStart)
        }
        if orphanSyncs > 0 {
            for r in ranks { r.builder.rank.warnings.add("nsys-sync-without-activity", count: orphanSyncs, "synchronization rows on a device with no activity rows are not read") }
        }
        if negative > 0 { for r in ranks { r.builder.rank.warnings.add("negative-duration", count: negative, "\(table) rows ending before they start") } }
    }

    /// A kernel's grid or block size in one rank.
    private struct Dims: Hashable {
        let rank: Int, x: Int64, y: Int64, z: Int64
    }

    private func readRuntime() throws {
        let table = "CUPTI_ACTIVITY_KIND_RUNTIME"
        guard tables.contains(table) else { return }
        let rows = try select(table, ["start", "end", "globalTid", "nameId", "correlationId"])
        guard let start = rows.column("start"), let end = rows.column("end"), let tid = rows.column("globalTid"),
              let nameID = rows.column("nameId") else { throw missingColumn(table, "start, end, globalTid, nameId") }
        let correlation = rows.column("correlationId")
        var apiNames: [Int64: UInt32] = [:]  // per (rank, string id)
        while try rows.step() {
            guard let g = try rows.int(tid), let r = rank(ofGlobal: g), let s = try rows.int(start), let e = try rows.int(end), e >= s else { continue }
            let id = try rows.int(nameID) ?? 0
            let key = Int64(r.index) << 40 | id
            let name: UInt32
            if let found = apiNames[key] { name = found } else {
                name = r.strings.intern(Self.apiName(texts[id] ?? "<string \(id)>"))
                apiNames[key] = name
            }
            r.builder.appendSlice(start: s, dur: e - s, name: name, category: r.names.runtime, kind: .runtime,
                                  track: threadTrack(r, globalTid: g), correlation: try rows.int(correlation) ?? -1,
                                  externalID: -1, argStart: r.builder.argMark)
        }
    }

    /// A CUDA API name without the version suffix nsys appends (`cudaLaunchKernel_v7000`).
    static func apiName(_ name: String) -> String {
        guard let u = name.lastIndex(of: "_"), name[name.index(after: u)...].first == "v" else { return name }
        let digits = name[name.index(u, offsetBy: 2)...]
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) ? String(name[..<u]) : name
    }

    private func readNVTX() throws {
        let table = "NVTX_EVENTS"
        guard tables.contains(table) else { return }
        let types = try enumLabels("ENUM_NSYS_EVENT_TYPE")
        func type(_ label: String, _ fallback: Int64) -> Int64 { types.first { $0.value == label }?.key ?? fallback }
        let mark = type("NvtxMark", 34), pushPop = type("NvtxPushPopRange", 59), startEnd = type("NvtxStartEndRange", 60)
        let domainCreate = type("NvtxDomainCreate", 75)
        let rows = try select(table, ["start", "end", "eventType", "globalTid", "text", "textId", "domainId"])
        guard let start = rows.column("start"), let eventType = rows.column("eventType"), let tid = rows.column("globalTid") else {
            throw missingColumn(table, "start, eventType, globalTid")
        }
        let end = rows.column("end"), text = rows.column("text"), textID = rows.column("textId"), domain = rows.column("domainId")
        var ncclDomains = Set<Int64>()
        var unclosed = 0
        while try rows.step() {
            let t = try rows.int(eventType) ?? -1
            let raw = try text.flatMap { rows.string($0) } ?? rows.int(textID).flatMap { texts[$0] } ?? ""
            let dom = try rows.int(domain) ?? 0
            if t == domainCreate {
                if raw == "NCCL" { ncclDomains.insert(dom) }
                continue
            }
            guard t == mark || t == pushPop || t == startEnd else { continue }
            guard let g = try rows.int(tid), let r = rank(ofGlobal: g), let s = try rows.int(start) else { continue }
            let b = r.builder, track = threadTrack(r, globalTid: g)
            if t == mark {
                b.appendInstant(ts: s, track: track, name: r.strings.intern(raw), scope: 0x74, argStart: b.argMark)
                continue
            }
            guard let e = try rows.int(end), e >= s else { unclosed += 1; continue }
            let nccl = ncclDomains.contains(dom)
            let parsed: (name: String, kind: SliceKind)
            if nccl {
                parsed = ("nccl:" + (raw.hasPrefix("nccl") ? String(raw.dropFirst(4)) : raw), .userAnnotation)
            } else {
                // Not cached by text: emit_nvtx texts are unique (their op_id), so a cache would grow with the rows.
                parsed = Self.rangeName(raw)
            }
            b.appendSlice(start: s, dur: e - s, name: r.strings.intern(parsed.name),
                          category: nccl ? r.names.nccl : parsed.kind == .cpuOp ? r.names.cpuOp : r.names.annotation,
                          kind: parsed.kind, track: track, correlation: -1, externalID: -1, argStart: b.argMark)
        }
        if unclosed > 0 {
            for r in ranks { r.builder.rank.warnings.add("unclosed-begin", count: unclosed, "NVTX ranges with no end") }
        }
    }

    /// The operator name in a PyTorch `emit_nvtx` range (`aten::mm, op_id = 123`, also with
    /// `seq = N` and `sizes = [...]`): the text before the first `, key = `; other ranges keep
    /// their text and are annotations.
    static func rangeName(_ text: String) -> (name: String, kind: SliceKind) {
        // On the UTF-8 bytes: a Character search (`firstRange(of:)`) took a fifth of an export's load.
        var text = text
        let name: String? = text.withUTF8 { u in
            guard let comma = (0..<max(0, u.count - 1)).first(where: { u[$0] == 0x2C && u[$0 + 1] == 0x20 }) else { return nil }
            let rest = UnsafeBufferPointer(rebasing: u[(comma + 2)...])
            guard emitNVTXKeys.contains(where: { rest.starts(with: $0) }) else { return nil }
            return String(decoding: UnsafeBufferPointer(rebasing: u[..<comma]), as: UTF8.self)
        }
        guard let name else { return (text, .userAnnotation) }
        return (name, name.hasPrefix(String(describing: StepNames.prefix)) ? .userAnnotation : .cpuOp)
    }

    /// The keys `emit_nvtx` writes after an operator's name.
    private static let emitNVTXKeys: [[UInt8]] = ["op_id = ", "seq = ", "sizes = ", "input_op_ids = "].map { Array($0.utf8) }

    private func readThreadNames() throws {
        guard tables.contains("ThreadNames") else { return }
        let rows = try all("ThreadNames")
        guard let name = rows.column("nameId"), let tid = rows.column("globalTid") else { return }
        while try rows.step() {
            guard let g = try rows.int(tid), let i = rankOfProcess[Self.process(ofGlobal: g)] else { continue }
            let r = ranks[i]
            // Only threads with rows get a track.
            if let t = r.threadTracks[g] { r.builder.nameTrack(Int(t), interned(r, try rows.int(name))) }
        }
    }

    private func readProcesses() throws {
        var named = Set<Int64>()
        if tables.contains("PROCESSES") {
            let rows = try all("PROCESSES")
            if let g = rows.column("globalPid"), let name = rows.column("name") {
                while try rows.step() {
                    guard let gp = try rows.int(g), let i = rankOfProcess[Self.process(ofGlobal: gp)], !named.contains(gp) else { continue }
                    named.insert(gp)
                    let r = ranks[i]
                    r.builder.nameProcess(r.builder.process(r.pidText), r.strings.intern(rows.string(name) ?? ""))
                }
            }
        }
    }

    private func readStreamTypes() throws {
        guard tables.contains("TARGET_INFO_CUDA_STREAM") else { return }
        let labels = try enumLabels("ENUM_CUPTI_STREAM_TYPE")
        let rows = try all("TARGET_INFO_CUDA_STREAM")
        guard let pid = rows.column("processId"), let stream = rows.column("streamId"), let flag = rows.column("flag") else { return }
        while try rows.step() {
            guard let p = try rows.int(pid), let s = try rows.int(stream), let f = try rows.int(flag), let label = labels[f] else { continue }
            streamTypes[p << 32 | (s & 0xFFFF_FFFF)] = label
        }
    }

    /// Names the GPU processes `GPU N`.
    private func nameDevices() {
        for r in ranks {
            for d in r.devices.sorted() {
                r.builder.nameProcess(r.builder.process(r.strings.intern(String(d))), r.strings.intern("GPU \(d)"))
            }
        }
    }

    /// `utcEpochNs` of the session start (times in the tables are relative to it), or 0.
    private func sessionStart() throws -> Int64 {
        guard tables.contains("TARGET_INFO_SESSION_START_TIME") else { return 0 }
        let rows = try all("TARGET_INFO_SESSION_START_TIME")
        guard let c = rows.column("utcEpochNs"), try rows.step() else { return 0 }
        return try rows.int(c) ?? 0
    }

    /// GPUs from `TARGET_INFO_GPU` (id from `cuDevice`, else `id`), when present.
    private func gpuInfo() throws -> [DeviceInfo] {
        guard tables.contains("TARGET_INFO_GPU") else { return [] }
        let rows = try all("TARGET_INFO_GPU")
        guard let id = rows.column("cuDevice") ?? rows.column("id") else { return [] }
        let name = rows.column("name"), memory = rows.column("totalMemory"), sms = rows.column("smCount")
        var result: [DeviceInfo] = []
        while try rows.step() {
            guard let i = try rows.int(id) else { continue }
            result.append(DeviceInfo(id: Int(i), name: name.flatMap { rows.string($0) } ?? "",
                                     totalGlobalMemory: try rows.int(memory),
                                     smCount: try rows.int(sms).map(Int.init)))
        }
        return result
    }
}
