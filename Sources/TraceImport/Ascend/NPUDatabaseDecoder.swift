import TraceModel

/// torch_npu's db export (`ASCEND_PROFILER_OUTPUT/ascend_pytorch_profiler*.db`, SQLite;
/// docs/ascend-comparison.md): the rows its text export writes as `trace_view.json`, as tables
/// whose texts are ids into `STRING_IDS`. Each table is streamed row by row into one
/// `TimelineBuilder`, every column read by name, into the model the text export gives: torch
/// operators, the task queue and Python functions (`PYTORCH_API`) on their threads, CANN calls
/// (`CANN_API`), device tasks (`TASK`, named by `COMPUTE_TASK_INFO`, HCCL's by
/// `COMMUNICATION_TASK_INFO`) on `Ascend Hardware` streams, HCCL ops (`COMMUNICATION_OP`) as the
/// collectives, `NPU MEM` and `MEMORY_RECORD` as counters (the application's HBM as memory rows),
/// `OP_MEMORY` as the operators' allocations.
/// Links: a torch operator's `CONNECTION_IDS` name the tasks and HCCL ops it launched (the text
/// export's `async_npu` flows); a task's `connectionId` is its CANN call's.
final class NPUDatabaseDecoder {
    let db: SQLiteDatabase
    let path: String
    private let tables: Set<String>
    private let builder: TimelineBuilder
    private var rank: RankTrace { builder.rank }
    private var strings: StringTable { builder.rank.strings }
    private let npu: NPUKeys
    /// `STRING_IDS` (id -> text).
    private var texts: [Int64: String] = [:]
    /// Texts interned so far, by string id; and as JSON string args.
    private var interned: [Int64: UInt32] = [:]
    private var quoted: [Int64: UInt32] = [:]
    /// `CONNECTION_IDS`: a `PYTORCH_API` row's `connectionId` -> the connection ids it stands for.
    private var connections: [Int64: [Int64]] = [:]
    /// The torch operator (its track and start) that launched each connection id.
    private var launchers: [Int64: (track: UInt32, start: Int64)] = [:]
    /// `ENUM_API_TYPE` and `ENUM_HCCL_DATA_TYPE` (id -> name).
    private var apiTypes: [Int64: String] = [:]
    private var dataTypes: [Int64: String] = [:]
    /// The rank's device (`RANK_DEVICE_MAP`, else its tasks' lowest), for its HCCL ops.
    private var device: Int64?
    /// The host process (pid text) of the torch rows, and whether they hold `ProfilerStep#N`.
    private var hostPid: UInt32 = 0
    private var hasProfilerSteps = false
    private var devicePids: [Int64: UInt32] = [:]
    private var negative = 0

    /// Tables without which the file is no torch_npu export the model can be built from.
    static let requiredTables = ["STRING_IDS", "PYTORCH_API"]
    /// Tables read when present; their absence is a warning.
    static let optionalTables = ["TASK", "CANN_API", "COMPUTE_TASK_INFO", "COMMUNICATION_OP", "COMMUNICATION_TASK_INFO",
                                 "CONNECTION_IDS", "STEP_TIME", "NPU_MEM", "MEMORY_RECORD", "OP_MEMORY", "RANK_DEVICE_MAP", "META_DATA",
                                 "ENUM_API_TYPE", "ENUM_HCCL_DATA_TYPE"]
    /// `PYTORCH_API.type` values torch_npu writes, when `ENUM_API_TYPE` does not name them.
    static let defaultAPITypes: [Int64: String] = [50001: "op", 50002: "queue", 50003: "trace", 50004: "mstx"]
    /// `CANN_API.type` levels and the prefix the text export gives their names.
    static let cannPrefixes: [String: String] = ["acl": "AscendCL", "runtime": "Runtime", "node": "Node", "hccl": "Hccl",
                                                 "model": "Model"]
    static let defaultCANNTypes: [Int64: String] = [5000: "runtime", 5500: "hccl", 10000: "node", 15000: "model", 20000: "acl"]

    /// Whether an SQLite file's tables are torch_npu's (none of Nsight Systems' names).
    static func isExport(tables: Set<String>) -> Bool {
        ["PYTORCH_API", "STRING_IDS", "TASK", "CANN_API"].contains(where: tables.contains)
    }

    init(db: SQLiteDatabase, rank: Int) throws(SQLiteError) {
        self.db = db
        path = db.path
        tables = try db.tables()
        builder = TimelineBuilder(rank: RankTrace(source: db.path, rank: rank))
        npu = NPUKeys(builder.rank.strings)
    }

    /// Decodes the export into one rank.
    func decode() throws -> RankTrace {
        let missing = Self.requiredTables.filter { !tables.contains($0) }
        guard missing.isEmpty else {
            throw ImportError(file: path, message: "a torch_npu db export without table(s) " + missing.joined(separator: ", "))
        }
        try readStrings()
        apiTypes = try enumNames("ENUM_API_TYPE")
        dataTypes = try enumNames("ENUM_HCCL_DATA_TYPE")
        try readConnections()
        try readRankAndDevice()
        try readTorch()
        try readCANN()
        try readTasks()
        try readCommunicationOps()
        try readSteps()
        try readNPUMemory()
        try readMemoryRecord()
        try readOperatorMemory()
        try readMetadata()
        let absent = Self.optionalTables.filter { !tables.contains($0) }
        if !absent.isEmpty {
            rank.warnings.add("npu-db-missing-table", count: absent.count, "tables absent from the export: " + absent.joined(separator: ", "))
        }
        if negative > 0 { rank.warnings.add("negative-duration", count: negative, "rows ending before they start") }
        if !devicePids.isEmpty { rank.metadata.deviceKind = .npu }
        var d = rank.metadata.distributed ?? DistributedInfo()
        d.backend = "hccl"
        if d.rank == nil { d.rank = NPUExport.rank(ofTrace: path) }
        rank.metadata.distributed = d
        if let r = d.rank { rank.rank = r }
        try builder.finish()
        return rank
    }

    // MARK: - Lookup tables

    private func missingColumn(_ table: String, _ columns: String) -> ImportError {
        ImportError(file: path, message: "table \(table) lacks column(s) \(columns)")
    }

    private func readStrings() throws {
        let rows = try db.prepare("SELECT * FROM STRING_IDS")
        guard let id = rows.column("id"), let value = rows.column("value") else { throw missingColumn("STRING_IDS", "id, value") }
        while try rows.step() {
            if let i = try rows.exactInt(id, table: "STRING_IDS") { texts[i] = rows.string(value) ?? "" }
        }
    }

    private func enumNames(_ table: String) throws -> [Int64: String] {
        guard tables.contains(table) else { return [:] }
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let id = rows.column("id"), let name = rows.column("name") else { return [:] }
        var names: [Int64: String] = [:]
        while try rows.step() { if let i = try rows.exactInt(id, table: table) { names[i] = rows.string(name) ?? "" } }
        return names
    }

    private func readConnections() throws {
        guard tables.contains("CONNECTION_IDS") else { return }
        let rows = try db.prepare("SELECT * FROM CONNECTION_IDS")
        guard let id = rows.column("id"), let c = rows.column("connectionId") else { throw missingColumn("CONNECTION_IDS", "id, connectionId") }
        while try rows.step() {
            if let i = try rows.exactInt(id, table: "CONNECTION_IDS"), let v = try rows.exactInt(c, table: "CONNECTION_IDS") {
                connections[i, default: []].append(v)
            }
        }
    }

    /// The rank (`RANK_DEVICE_MAP.rankId`, when not negative) and its device.
    private func readRankAndDevice() throws {
        guard tables.contains("RANK_DEVICE_MAP") else { return }
        let rows = try db.prepare("SELECT * FROM RANK_DEVICE_MAP")
        guard let r = rows.column("rankId"), let d = rows.column("deviceId"), try rows.step() else { return }
        if let rankID = try rows.exactInt(r, table: "RANK_DEVICE_MAP"), rankID >= 0, rankID < 1 << 24 {
            var info = DistributedInfo()
            info.rank = Int(rankID)
            rank.metadata.distributed = info
        }
        device = try rows.exactInt(d, table: "RANK_DEVICE_MAP")
    }

    private func text(_ id: Int64?) -> UInt32 {
        guard let id else { return 0 }
        if let s = interned[id] { return s }
        let s = strings.intern(texts[id] ?? "<string \(id)>")
        interned[id] = s
        return s
    }

    /// A string arg's value (JSON text) for string id `id`.
    private func quotedText(_ id: Int64) -> ArgValue {
        if let s = quoted[id] { return ArgValue(text: s) }
        let s = strings.intern(JSONText.quote(texts[id] ?? "<string \(id)>"))
        quoted[id] = s
        return ArgValue(text: s)
    }

    /// `start` and `end` of the current row, or nil (counted) when it ends before it starts.
    private func interval(_ rows: SQLiteRows, _ start: Int32, _ end: Int32, _ table: String) throws -> (start: Int64, dur: Int64)? {
        guard let s = try rows.exactInt(start, table: table), let e = try rows.exactInt(end, table: table) else { return nil }
        guard e >= s else { negative += 1; return nil }
        return (s, e - s)
    }

    // MARK: - Host

    /// `PYTORCH_API`: torch operators (`cpu_op`), the task queue's `Enqueue` and `Dequeue@op`
    /// (`enqueue`, `dequeue`), Python functions, and mstx ranges, on their threads
    /// (`globalTid`: pid << 32 | tid).
    private func readTorch() throws {
        let table = "PYTORCH_API"
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let start = rows.column("startNs"), let end = rows.column("endNs"), let tid = rows.column("globalTid"),
              let name = rows.column("name") else { throw missingColumn(table, "startNs, endNs, globalTid, name") }
        let type = rows.column("type"), connection = rows.column("connectionId")
        let (sequence, fwd) = (rows.column("sequenceNumber"), rows.column("fwdThreadId"))
        let (shapes, dtypes) = (rows.column("inputShapes"), rows.column("inputDtypes"))
        let categories = (op: npu.cpuOp, enqueue: strings.intern("enqueue"), dequeue: strings.intern("dequeue"),
                          python: strings.intern("python_function"), mstx: strings.intern("user_annotation"))
        let argKeys = (sequence: strings.intern("Sequence number"), fwd: strings.intern("Fwd thread id"),
                       correlation: strings.intern("correlation_id"))
        var tracks: [Int64: UInt32] = [:]
        var dequeueName: [Int64: Bool] = [:]
        var lists: [Int64: UInt32] = [:]
        let stepPrefix = String(describing: StepNames.prefix)
        while try rows.step() {
            guard let g = try rows.exactInt(tid, table: table), let iv = try interval(rows, start, end, table) else { continue }
            let track: UInt32
            if let t = tracks[g] { track = t } else {
                let pid = strings.intern(String(g >> 32)), t = strings.intern(String(g & 0xFFFF_FFFF))
                track = builder.thread(pid: pid, tid: t)
                builder.nameTrack(Int(track), strings.intern("Thread \(g & 0xFFFF_FFFF)"))
                if hostPid == 0 {
                    hostPid = pid
                    builder.nameProcess(builder.process(pid), strings.intern("Python"))
                }
                tracks[g] = track
            }
            let nameID = try rows.exactInt(name, table: table)
            let kindName = try type.flatMap { try rows.exactInt($0, table: table) }.flatMap { apiTypes[$0] ?? Self.defaultAPITypes[$0] } ?? "op"
            let argStart = builder.argMark
            let category: UInt32, kind: SliceKind
            let links = try connection.flatMap { try rows.exactInt($0, table: table) }.flatMap { connections[$0] } ?? []
            switch kindName {
            case "queue":
                let id = nameID ?? -1
                if dequeueName[id] == nil { dequeueName[id] = texts[id]?.hasPrefix("Dequeue") ?? false }
                (category, kind) = (dequeueName[id]! ? categories.dequeue : categories.enqueue, .other)
                if let c = links.first { builder.appendArg(key: argKeys.correlation, value: ArgValue(integer: c)) }
            case "trace": (category, kind) = (categories.python, .pythonFunction)
            case "mstx": (category, kind) = (categories.mstx, .userAnnotation)
            default:
                (category, kind) = (categories.op, .cpuOp)
                if let c = sequence, let v = try rows.exactInt(c, table: table) { builder.appendArg(key: argKeys.sequence, value: ArgValue(integer: v)) }
                if let c = fwd, let v = try rows.exactInt(c, table: table) { builder.appendArg(key: argKeys.fwd, value: ArgValue(integer: v)) }
                try appendShapes(rows, shapes: shapes, dtypes: dtypes, cache: &lists)
                for c in links { launchers[c] = (track, iv.start) }
                if !hasProfilerSteps, let id = nameID, texts[id]?.hasPrefix(stepPrefix) == true { hasProfilerSteps = true }
            }
            builder.appendSlice(start: iv.start, dur: iv.dur, name: text(nameID), category: category, kind: kind, track: track,
                                correlation: -1, externalID: -1, argStart: argStart)
        }
    }

    /// `Input Dims` and `Input type` of an operator in Kineto's form. torch_npu's columns hold
    /// `;`-joined texts as the text export does, but some versions write the dims under
    /// `inputDtypes` and the types under `inputShapes`: a text of digits and separators only is
    /// taken for the dims.
    private func appendShapes(_ rows: SQLiteRows, shapes: Int32?, dtypes: Int32?, cache: inout [Int64: UInt32]) throws {
        let table = "PYTORCH_API"
        let a = try shapes.flatMap { try rows.exactInt($0, table: table) }, b = try dtypes.flatMap { try rows.exactInt($0, table: table) }
        guard a != nil || b != nil else { return }
        func looksLikeDims(_ id: Int64?) -> Bool {
            guard let id, let t = texts[id] else { return false }
            return t.unicodeScalars.contains { $0.properties.numericType != nil }
                && t.unicodeScalars.allSatisfy { "0123456789,; -\r\n".unicodeScalars.contains($0) }
        }
        let swapped = looksLikeDims(b) && !looksLikeDims(a)
        for (id, dims) in [(swapped ? b : a, true), (swapped ? a : b, false)] {
            guard let id else { continue }
            let key = id << 1 | (dims ? 1 : 0)
            let value: UInt32
            if let known = cache[key] { value = known } else {
                value = strings.intern(NPUKeys.kinetoList(texts[id] ?? "", dims: dims))
                cache[key] = value
            }
            builder.appendArg(key: dims ? npu.inputDims : npu.inputType, value: ArgValue(text: value))
        }
    }

    /// `CANN_API`: the CANN calls, named as the text export names them (`AscendCL@aclnnMm`), on the
    /// `CANN` process's threads; each task's `connectionId` links it to its call.
    private func readCANN() throws {
        let table = "CANN_API"
        guard tables.contains(table) else { return }
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let start = rows.column("startNs"), let end = rows.column("endNs"), let tid = rows.column("globalTid"),
              let name = rows.column("name") else { throw missingColumn(table, "startNs, endNs, globalTid, name") }
        let type = rows.column("type"), connection = rows.column("connectionId")
        let pid = strings.intern("CANN")
        builder.nameProcess(builder.process(pid), strings.intern("CANN"))
        var names: [Int64: UInt32] = [:]  // by type << 32 | name id
        var tracks: [Int64: UInt32] = [:]
        while try rows.step() {
            guard let g = try rows.exactInt(tid, table: table), let iv = try interval(rows, start, end, table) else { continue }
            let track: UInt32
            if let t = tracks[g] { track = t } else {
                track = builder.thread(pid: pid, tid: strings.intern(String(g & 0xFFFF_FFFF)))
                builder.nameTrack(Int(track), strings.intern("Thread \(g & 0xFFFF_FFFF)"))
                tracks[g] = track
            }
            let level = try type.flatMap { try rows.exactInt($0, table: table) } ?? 0
            let nameID = try rows.exactInt(name, table: table) ?? -1
            let key = level << 32 | (nameID & 0xFFFF_FFFF)
            let n: UInt32
            if let known = names[key] { n = known } else {
                let levelName = apiTypes[level] ?? Self.defaultCANNTypes[level] ?? ""
                let prefix = Self.cannPrefixes[levelName].map { $0 + "@" } ?? ""
                n = strings.intern(prefix + (texts[nameID] ?? "<string \(nameID)>"))
                names[key] = n
            }
            builder.appendSlice(start: iv.start, dur: iv.dur, name: n, category: 0, kind: .runtime, track: track,
                                correlation: try connection.flatMap { try rows.exactInt($0, table: table) } ?? -1, externalID: -1,
                                argStart: builder.argMark)
        }
    }

    // MARK: - Device

    /// The `Ascend Hardware` process of device `d` (pid text `NPU d`).
    private func devicePid(_ d: Int64) -> UInt32 {
        if let p = devicePids[d] { return p }
        let p = strings.intern("NPU \(d)")
        builder.nameProcess(builder.process(p), strings.intern("Ascend Hardware"))
        devicePids[d] = p
        return p
    }

    /// `TASK`: device tasks on their streams, named by `COMPUTE_TASK_INFO` (kernels) or by their
    /// task type (`MEMCPY_ASYNC`, `EVENT_RECORD`, HCCL's `SDMA`, `Notify Wait`, ...); those
    /// `COMMUNICATION_TASK_INFO` lists, and every task on a stream that runs them, are HCCL's
    /// (`NPUKeys.taskKind`). Joined in SQLite, so rows stream.
    private func readTasks() throws {
        let table = "TASK"
        guard tables.contains(table) else { return }
        let computeColumns = try db.columns(of: "COMPUTE_TASK_INFO"), hcclColumns = try db.columns(of: "COMMUNICATION_TASK_INFO")
        let compute = ["globalTaskId", "name", "taskType"].allSatisfy(computeColumns.contains)
        let hccl = hcclColumns.contains("globalTaskId")
        let taskColumns = try db.columns(of: table)
        guard ["startNs", "endNs", "globalTaskId", "taskType", "streamId", "deviceId"].allSatisfy(taskColumns.contains) else {
            throw missingColumn(table, "startNs, endNs, globalTaskId, taskType, streamId, deviceId")
        }
        var hcclStreams = Set<Int64>()
        if hccl {
            let streams = try db.prepare("SELECT DISTINCT streamId FROM TASK WHERE globalTaskId IN (SELECT globalTaskId FROM COMMUNICATION_TASK_INFO)")
            while try streams.step() { if let s = try streams.exactInt(0, table: table) { hcclStreams.insert(s) } }
        }
        let sql = "SELECT t.*, " + (compute ? "c.name AS stepscope_name, c.taskType AS stepscope_type" : "NULL AS stepscope_name, NULL AS stepscope_type")
            // `IN` over the table, not a correlated `EXISTS`: SQLite builds its set once, so a file
            // without torch_npu's index on COMMUNICATION_TASK_INFO is not read in tasks x HCCL tasks.
            + ", " + (hccl ? "t.globalTaskId IN (SELECT globalTaskId FROM COMMUNICATION_TASK_INFO)" : "0") + " AS stepscope_hccl"
            + " FROM TASK t" + (compute ? " LEFT JOIN COMPUTE_TASK_INFO c ON c.globalTaskId = t.globalTaskId" : "")
        let rows = try db.prepare(sql)
        let start = rows.column("startNs")!, end = rows.column("endNs")!, taskType = rows.column("taskType")!
        let stream = rows.column("streamId")!, deviceColumn = rows.column("deviceId")!
        let connection = rows.column("connectionId")
        let computeName = rows.column("stepscope_name")!, computeType = rows.column("stepscope_type")!, isHCCL = rows.column("stepscope_hccl")!
        var tracks: [Int64: UInt32] = [:]
        struct KindKey: Hashable { let name: Int64, type: Int64, hccl: Bool }
        var kinds: [KindKey: SliceKind] = [:]
        var unnamed = 0
        while try rows.step() {
            guard let iv = try interval(rows, start, end, table) else { continue }
            let d = try rows.exactInt(deviceColumn, table: table) ?? 0, st = try rows.exactInt(stream, table: table) ?? 0
            let key = d << 32 | (st & 0xFFFF_FFFF)
            let track: UInt32
            if let t = tracks[key] { track = t } else {
                track = builder.thread(pid: devicePid(d), tid: strings.intern(String(st)))
                builder.nameTrack(Int(track), strings.intern("Stream \(st)"))
                tracks[key] = track
            }
            let typeID = try rows.exactInt(taskType, table: table) ?? -1
            let nameID = try rows.exactInt(computeName, table: table) ?? typeID
            let detailType = try rows.exactInt(computeType, table: table) ?? typeID
            let listed = (try rows.exactInt(isHCCL, table: table) ?? 0) != 0
            let communication = listed || hcclStreams.contains(st)
            let kindKey = KindKey(name: nameID, type: detailType, hccl: communication)
            let kind: SliceKind
            if let known = kinds[kindKey] { kind = known } else {
                kind = NPUKeys.taskKind(name: texts[nameID] ?? "", type: texts[detailType] ?? "", hccl: communication)
                kinds[kindKey] = kind
            }
            // A kernel neither info table names (`KERNEL_AICORE`, `AI_CORE`: on HCCL's stream, one
            // spanning each op) is left out, as the text export leaves it out.
            if !listed, rows.isNull(computeName), kind == .kernel || kind == .communication {
                unnamed += 1
                continue
            }
            let argStart = builder.argMark
            builder.appendArg(key: npu.taskType, value: quotedText(detailType))
            let c = try connection.flatMap { try rows.exactInt($0, table: table) }
            if let c, let op = launchers[c] { builder.linkByFlow(fromTrack: op.track, fromTs: op.start, toTrack: track, toTs: iv.start) }
            builder.appendSlice(start: iv.start, dur: iv.dur, name: text(nameID), category: 0, kind: kind, track: track,
                                correlation: c ?? -1, externalID: -1, argStart: argStart)
            if device == nil || d < device! && !tables.contains("RANK_DEVICE_MAP") { device = d }
        }
        if unnamed > 0 { rank.warnings.add("npu-unnamed-task", count: unnamed, "kernel tasks without COMPUTE_TASK_INFO or COMMUNICATION_TASK_INFO are left out") }
    }

    /// `COMMUNICATION_OP`: HCCL ops (`hcom_allReduce__586_0_1`) on a `Group N Communication` track
    /// of the rank's device, with HCCL's `data_type`, `alg_type`, `count` and group name and the
    /// args collectives read (`NPUKeys.appendCollectiveArgs`); linked to the torch operator whose
    /// connection ids name them.
    private func readCommunicationOps() throws {
        let table = "COMMUNICATION_OP"
        guard tables.contains(table) else { return }
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let start = rows.column("startNs"), let end = rows.column("endNs"), let name = rows.column("opName") else {
            throw missingColumn(table, "opName, startNs, endNs")
        }
        let (group, dataType, algType, count, connection) = (rows.column("groupName"), rows.column("dataType"), rows.column("algType"),
                                                             rows.column("count"), rows.column("connectionId"))
        let keys = (dataType: npu.dataType, algType: npu.algType, count: npu.count, group: strings.intern("Process Group Name"))
        var groupTracks: [Int64: UInt32] = [:]
        let pid = devicePid(device ?? 0)
        while try rows.step() {
            guard let iv = try interval(rows, start, end, table) else { continue }
            let g = try group.flatMap { try rows.exactInt($0, table: table) } ?? -1
            let track: UInt32
            if let t = groupTracks[g] { track = t } else {
                let n = groupTracks.count
                track = builder.thread(pid: pid, tid: strings.intern("HCCL group \(n)"))
                builder.nameTrack(Int(track), strings.intern("Group \(n) Communication"))
                groupTracks[g] = track
            }
            let argStart = builder.argMark
            let typeName = try dataType.flatMap { try rows.exactInt($0, table: table) }.flatMap { dataTypes[$0] }
            if let typeName { builder.appendArg(key: keys.dataType, value: ArgValue(text: strings.intern(JSONText.quote(typeName)))) }
            if let a = try algType.flatMap({ try rows.exactInt($0, table: table) }) { builder.appendArg(key: keys.algType, value: quotedText(a)) }
            let n = try count.flatMap { try rows.exactInt($0, table: table) }
            if let n { builder.appendArg(key: keys.count, value: ArgValue(integer: n)) }
            if g >= 0 { builder.appendArg(key: keys.group, value: quotedText(g)) }
            let nameID = try rows.exactInt(name, table: table) ?? -1
            npu.appendCollectiveArgs(builder, op: texts[nameID] ?? "", dataType: typeName, count: n)
            let c = try connection.flatMap { try rows.exactInt($0, table: table) }
            if let c, let op = launchers[c] { builder.linkByFlow(fromTrack: op.track, fromTs: op.start, toTrack: track, toTs: iv.start) }
            builder.appendSlice(start: iv.start, dur: iv.dur, name: text(nameID), category: 0, kind: .gpuUserAnnotation, track: track,
                                correlation: c ?? -1, externalID: -1, argStart: argStart)
        }
    }

    // MARK: - Steps, memory, metadata

    /// `STEP_TIME`, for an export whose torch rows hold no `ProfilerStep#N`: each row becomes one
    /// (`ProfilerStep#id`) on a `Steps` thread of the host process.
    private func readSteps() throws {
        let table = "STEP_TIME"
        guard !hasProfilerSteps, tables.contains(table) else { return }
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let id = rows.column("id"), let start = rows.column("startNs"), let end = rows.column("endNs") else {
            throw missingColumn(table, "id, startNs, endNs")
        }
        if hostPid == 0 { hostPid = strings.intern("host") }
        let track = builder.thread(pid: hostPid, tid: strings.intern("steps"))
        builder.nameTrack(Int(track), strings.intern("Steps"))
        let category = strings.intern("user_annotation")
        while try rows.step() {
            guard let n = try rows.exactInt(id, table: table), let iv = try interval(rows, start, end, table) else { continue }
            builder.appendSlice(start: iv.start, dur: iv.dur, name: strings.intern("\(StepNames.prefix)\(n)"), category: category, kind: .userAnnotation,
                                track: track, correlation: -1, externalID: -1, argStart: builder.argMark)
        }
    }

    /// `NPU_MEM` (bytes of `ddr` and `hbm` the application or the whole device holds) as the text
    /// export's `NPU MEM` counters (`APP/HBM`, ... in KB); the application's HBM becomes the
    /// device's memory rows (`NPUKeys.memoryFromCounters`), as for the text export.
    private func readNPUMemory() throws {
        let table = "NPU_MEM"
        guard tables.contains(table) else { return }
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let type = rows.column("type"), let ts = rows.column("timestampNs") else { throw missingColumn(table, "type, timestampNs") }
        let series = [rows.column("hbm").map { ($0, "HBM") }, rows.column("ddr").map { ($0, "DDR") }].compactMap { $0 }
        let pid = strings.intern("NPU MEM"), kb = strings.intern("KB")
        builder.nameProcess(builder.process(pid), strings.intern("NPU MEM"))
        var names: [Int64: String] = [:]
        while try rows.step() {
            guard let t = try rows.exactInt(ts, table: table) else { continue }
            let typeID = try rows.exactInt(type, table: table) ?? -1
            if names[typeID] == nil {
                let raw = texts[typeID] ?? "type \(typeID)"
                names[typeID] = raw == "app" ? "APP" : raw == "device" ? "Device" : raw
            }
            for (c, memory) in series {
                guard let bytes = rows.double(c) else { continue }
                builder.appendCounter(ts: t, pid: pid, name: strings.intern(names[typeID]! + "/" + memory), series: kb, value: bytes / 1024)
            }
        }
        NPUKeys.memoryFromCounters(builder, device: Int16(clamping: device ?? 0)) { $0 == pid }
    }

    /// `OP_MEMORY`: each allocation with the operator that made it (`name`, a string id), its
    /// `size` in bytes, `allocationTime` and `releaseTime` (NULL: not released in the capture) in
    /// ns, and `deviceId` (`NPUKeys.appendOperatorAllocation`).
    private func readOperatorMemory() throws {
        let table = "OP_MEMORY"
        guard tables.contains(table) else { return }
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let name = rows.column("name"), let size = rows.column("size"), let allocation = rows.column("allocationTime"),
              let release = rows.column("releaseTime") else {
            throw missingColumn(table, "name, size, allocationTime, releaseTime")
        }
        let deviceColumn = rows.column("deviceId")
        var row = 0
        while try rows.step() {
            row += 1
            let d = try deviceColumn.flatMap { try rows.exactInt($0, table: table) } ?? device ?? 0
            try NPUKeys.appendOperatorAllocation(builder, name: text(try rows.exactInt(name, table: table)),
                                                 bytes: try rows.exactInt(size, table: table) ?? 0,
                                                 allocated: try rows.exactInt(allocation, table: table),
                                                 released: try rows.exactInt(release, table: table), device: d, file: path,
                                                 source: "\(table) row \(row)")
        }
    }

    /// `MEMORY_RECORD` (the allocators' totals: `PTA`, `GE`, `PTA+GE`) as counters in MB, as
    /// `memory_record.csv` writes them.
    private func readMemoryRecord() throws {
        let table = "MEMORY_RECORD"
        guard tables.contains(table) else { return }
        let rows = try db.prepare("SELECT * FROM \(table)")
        guard let component = rows.column("component"), let ts = rows.column("timestamp") else {
            throw missingColumn(table, "component, timestamp")
        }
        let series = [("totalAllocated", "Total Allocated(MB)"), ("totalReserved", "Total Reserved(MB)"), ("totalActive", "Total Active(MB)")]
            .compactMap { c, label in rows.column(c).map { ($0, strings.intern(label)) } }
        let pid = strings.intern("Memory Record")
        builder.nameProcess(builder.process(pid), strings.intern("Memory Record"))
        while try rows.step() {
            guard let t = try rows.exactInt(ts, table: table) else { continue }
            let name = text(try rows.exactInt(component, table: table))
            for (c, s) in series {
                if let bytes = try rows.exactInt(c, table: table) { builder.appendCounter(ts: t, pid: pid, name: name, series: s, value: Double(bytes) / 1_048_576) }
            }
        }
    }

    /// The device's name (`NPU_INFO`), the host (`HOST_INFO`) and the trace's name with its
    /// schema (`META_DATA`).
    private func readMetadata() throws {
        var schema = ""
        defer { rank.metadata.traceName = "torch_npu db export" + schema }
        if tables.contains("NPU_INFO") {
            let rows = try db.prepare("SELECT * FROM NPU_INFO")
            if let id = rows.column("id"), let name = rows.column("name") {
                while try rows.step() {
                    guard let i = try rows.exactInt(id, table: "NPU_INFO"), i >= 0, i < 1 << 16, devicePids[i] != nil else { continue }
                    rank.metadata.devices.append(DeviceInfo(id: Int(i), name: rows.string(name) ?? "", totalGlobalMemory: nil, smCount: nil))
                }
            }
        }
        if tables.contains("HOST_INFO") {
            let rows = try db.prepare("SELECT * FROM HOST_INFO")
            if let name = rows.column("hostName"), try rows.step() { rank.metadata.hostName = rows.string(name) }
        }
        if tables.contains("META_DATA") {
            let rows = try db.prepare("SELECT * FROM META_DATA")
            if let name = rows.column("name"), let value = rows.column("value") {
                while try rows.step() {
                    if rows.string(name) == "SCHEMA_VERSION", let v = rows.string(value) { schema = " (schema \(JSONText.terminalSafe(v)))" }
                }
            }
        }
    }
}
