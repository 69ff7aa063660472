@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// Small hand-made Nsight Systems exports, written with SQL, one rule per test (docs/nsys.md).
final class NsysTests: XCTestCase {
    /// Global ids as nsys serializes them: pid in bits 24-47, tid in the low 24 bits.
    static func gtid(_ pid: Int64, _ tid: Int64) -> Int64 { 1 << 56 | pid << 24 | tid }
    static let p1 = gtid(100, 0), p2 = gtid(200, 0)

    /// The tables every test uses (columns as nsys 2026.2 writes them, only those read).
    static let schema = """
        CREATE TABLE StringIds (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER, end INTEGER, deviceId INTEGER, contextId INTEGER,
            streamId INTEGER, correlationId INTEGER, globalPid INTEGER, demangledName INTEGER, shortName INTEGER,
            gridX INTEGER, gridY INTEGER, gridZ INTEGER, blockX INTEGER, blockY INTEGER, blockZ INTEGER);
        CREATE TABLE CUPTI_ACTIVITY_KIND_RUNTIME (start INTEGER, end INTEGER, eventClass INTEGER, globalTid INTEGER,
            correlationId INTEGER, nameId INTEGER, returnValue INTEGER);
        CREATE TABLE NVTX_EVENTS (start INTEGER, end INTEGER, eventType INTEGER, text TEXT, globalTid INTEGER,
            textId INTEGER, domainId INTEGER);
        INSERT INTO StringIds VALUES (1, 'void gemm<float>(int)'), (2, 'gemm'), (3, 'cudaLaunchKernel_v7000'),
            (4, 'ncclDevKernel_AllReduce_Sum_f32_RING_LL(ncclDevKernelArgsStorage<4096>)'), (5, 'ncclDevKernel_AllReduce'),
            (6, 'cudaStreamSynchronize_v3020'), (7, 'main'), (8, 'registered range');
        """

    func write(_ sql: String, schema: String = NsysTests.schema) throws -> String {
        let path = TestSupport.temporaryPath(".sqlite")
        try SQLiteDatabase.create(path: path, script: schema + sql)
        addTeardownBlock { unlink(path) }
        return path
    }

    func load(_ path: String) throws -> [RankTrace] { try TraceLoader.loadRun(paths: [path]).ranks }

    func testEachGPUProcessIsARankOrderedByDevice() throws {
        // Process 200 uses GPU 0, process 100 GPU 1: rank 0 is process 200.
        let path = try write("""
            INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (1000, 1500, 1, 1, 7, 11, \(Self.p1), 1, 2, 1, 1, 1, 128, 1, 1),
                (2000, 2100, 0, 1, 7, 11, \(Self.p2), 1, 2, 4, 1, 1, 256, 1, 1);
            INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (900, 950, 1, \(Self.gtid(100, 101)), 11, 3, 0),
                (1900, 1950, 1, \(Self.gtid(200, 201)), 11, 3, 0), (1900, 1950, 1, \(Self.gtid(300, 301)), 11, 3, 0);
            """)
        let ranks = try load(path)
        XCTAssertEqual(ranks.count, 2, "process 300 has no GPU rows")
        XCTAssertEqual(ranks[0].warnings.entries.first { $0.code == "nsys-other-process" }?.count, 1)
        XCTAssertEqual(ranks.map(\.rank), [0, 1])
        let r0 = ranks[0]
        XCTAssertEqual(r0.gpuTracks.map { r0.strings[r0.tracks.pid[$0]] }, ["0"])
        XCTAssertEqual(r0.cpuTracks.map { r0.strings[r0.tracks.pid[$0]] + "/" + r0.strings[r0.tracks.tid[$0]] }, ["200/201"])
        XCTAssertEqual(ranks[1].cpuTracks.map { ranks[1].strings[ranks[1].tracks.tid[$0]] }, ["101"])
        // Same correlation id in both processes: each kernel links to its own process's launch.
        for r in ranks {
            let k = try XCTUnwrap((0..<r.slices.count).first { r.slices.kind[$0] == .kernel })
            let l = Int(r.slices.launcher[k])
            XCTAssertGreaterThanOrEqual(l, 0)
            XCTAssertEqual(r.name(ofSlice: l), "cudaLaunchKernel", "version suffix dropped")
            XCTAssertEqual(r.slices.start[l] + 100, r.slices.start[k])
            XCTAssertEqual(r.name(ofSlice: k), "void gemm<float>(int)", "demangled name")
        }
        let k1 = try XCTUnwrap((0..<ranks[1].slices.count).first { ranks[1].slices.kind[$0] == .kernel })
        XCTAssertEqual(ranks[1].slices.dur[k1], 500)
        XCTAssertEqual(ranks[1].args(ofSlice: k1).first { $0.key == "grid" }?.value, "[1, 1, 1]")
        XCTAssertEqual(ranks[1].args(ofSlice: k1).first { $0.key == "block" }?.value, "[128, 1, 1]")
    }

    func testNVTXRangesBecomeOperatorsAnnotationsAndCommunication() throws {
        let t = Self.gtid(100, 101)
        let path = try write("""
            INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (5000, 6000, 0, 1, 7, 12, \(Self.p1), 4, 5, 1, 1, 1, 1, 1, 1);
            INSERT INTO NVTX_EVENTS VALUES (100, 10000, 59, 'ProfilerStep#3', \(t), NULL, 0),
                (200, 900, 59, 'aten::mm, op_id = 42', \(t), NULL, 0),
                (300, 400, 59, 'aten::mm, seq = 7, op_id = 43, sizes = [[2, 3]]', \(t), NULL, 0),
                (1000, 2000, 60, NULL, \(t), 8, 0),
                (2500, 2500, 34, 'checkpoint', \(t), NULL, 0),
                (0, NULL, 75, 'NCCL', \(t), NULL, 5),
                (3000, 4000, 59, 'ncclAllReduce', \(t), NULL, 5),
                (4100, NULL, 59, 'never closed', \(t), NULL, 0);
            """)
        let r = try XCTUnwrap(load(path).first)
        var byName: [String: (SliceKind, String)] = [:]
        for i in 0..<r.slices.count { byName[r.name(ofSlice: i)] = (r.slices.kind[i], r.strings[r.slices.category[i]]) }
        XCTAssertEqual(byName["aten::mm"]?.0, .cpuOp)
        XCTAssertEqual(byName["ProfilerStep#3"]?.0, .userAnnotation)
        XCTAssertEqual(byName["registered range"]?.0, .userAnnotation, "text from StringIds")
        XCTAssertEqual(byName["nccl:AllReduce"]?.1, "nccl", "NCCL domain range")
        XCTAssertNil(byName["never closed"])
        XCTAssertEqual(r.warnings.entries.first { $0.code == "unclosed-begin" }?.count, 1)
        XCTAssertEqual((0..<r.slices.count).filter { r.name(ofSlice: $0) == "aten::mm" }.count, 2)
        let mm = try XCTUnwrap((0..<r.slices.count).first { r.name(ofSlice: $0) == "aten::mm" })
        XCTAssertEqual(r.slices.parent[mm] >= 0 ? r.name(ofSlice: Int(r.slices.parent[mm])) : nil, "ProfilerStep#3")
        XCTAssertEqual(r.instants.count, 1)
        XCTAssertEqual(r.strings[r.instants.name[0]], "checkpoint")
    }

    func testRangeNames() {
        XCTAssertEqual(NsysDecoder.rangeName("aten::add, op_id = 9").name, "aten::add")
        XCTAssertEqual(NsysDecoder.rangeName("aten::add, op_id = 9").kind, .cpuOp)
        XCTAssertEqual(NsysDecoder.rangeName("ProfilerStep#2, op_id = 9").kind, .userAnnotation)
        XCTAssertEqual(NsysDecoder.rangeName("forward, backward").name, "forward, backward")
        XCTAssertEqual(NsysDecoder.rangeName("forward, backward").kind, .userAnnotation)
        // Only the first ", " counts; sizes and seq keys too; non-ASCII names are kept whole.
        XCTAssertEqual(NsysDecoder.rangeName("aten::mm, seq = 3, op_id = 4").name, "aten::mm")
        XCTAssertEqual(NsysDecoder.rangeName("aten::mm, sizes = [[2, 3]]").name, "aten::mm")
        XCTAssertEqual(NsysDecoder.rangeName("a, b, op_id = 4").name, "a, b, op_id = 4")
        XCTAssertEqual(NsysDecoder.rangeName("ünïcode_op, op_id = 1").name, "ünïcode_op")
        XCTAssertEqual(NsysDecoder.rangeName("trailing, ").name, "trailing, ")
        XCTAssertEqual(NsysDecoder.rangeName(",").name, ",")
        XCTAssertEqual(NsysDecoder.rangeName("").name, "")
        XCTAssertEqual(NsysDecoder.apiName("cudaLaunchKernelExC_v11060"), "cudaLaunchKernelExC")
        XCTAssertEqual(NsysDecoder.apiName("my_value"), "my_value")
        XCTAssertEqual(NsysDecoder.apiName("cuda_v"), "cuda_v")
    }

    func testMemcpyMemsetAndSyncRowsWithEnumLabels() throws {
        let path = try write("""
            CREATE TABLE CUPTI_ACTIVITY_KIND_MEMCPY (start INTEGER, end INTEGER, deviceId INTEGER, streamId INTEGER,
                correlationId INTEGER, globalPid INTEGER, bytes INTEGER, copyKind INTEGER);
            CREATE TABLE CUPTI_ACTIVITY_KIND_MEMSET (start INTEGER, end INTEGER, deviceId INTEGER, streamId INTEGER,
                correlationId INTEGER, globalPid INTEGER, value INTEGER, bytes INTEGER, memKind INTEGER);
            CREATE TABLE CUPTI_ACTIVITY_KIND_SYNCHRONIZATION (start INTEGER, end INTEGER, deviceId INTEGER, streamId INTEGER,
                correlationId INTEGER, globalPid INTEGER, syncType INTEGER);
            CREATE TABLE ENUM_CUDA_MEMCPY_OPER (id INTEGER, name TEXT, label TEXT);
            CREATE TABLE ENUM_CUPTI_SYNC_TYPE (id INTEGER, name TEXT, label TEXT);
            INSERT INTO ENUM_CUDA_MEMCPY_OPER VALUES (1, 'CUDA_MEMCPY_KIND_HTOD', 'Host-to-Device');
            INSERT INTO ENUM_CUPTI_SYNC_TYPE VALUES (3, 'STREAM_SYNCHRONIZE', 'Stream sync');
            INSERT INTO CUPTI_ACTIVITY_KIND_MEMCPY VALUES (100, 300, 0, 7, 1, \(Self.p1), 4096, 1);
            INSERT INTO CUPTI_ACTIVITY_KIND_MEMSET VALUES (400, 450, 0, 7, 2, \(Self.p1), 0, 64, NULL);
            INSERT INTO CUPTI_ACTIVITY_KIND_SYNCHRONIZATION VALUES (500, 900, 0, 7, 3, \(Self.p1), 3),
                (500, 900, 1, 9, 3, \(Self.p1), 3);
            INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (480, 910, 1, \(Self.gtid(100, 100)), 3, 6, 0);
            """)
        let r = try XCTUnwrap(load(path).first)
        let names = (0..<r.slices.count).map { "\(r.slices.kind[$0]) \(r.name(ofSlice: $0))" }.sorted()
        XCTAssertEqual(names, ["cudaSync Stream sync", "memcpy Memcpy Host-to-Device", "memset Memset (Unknown)",
                               "runtime cudaStreamSynchronize"])
        let copy = try XCTUnwrap((0..<r.slices.count).first { r.slices.kind[$0] == .memcpy })
        XCTAssertEqual(r.args(ofSlice: copy).first { $0.key == "bytes" }?.value, "4096")
        XCTAssertEqual(r.gpuTracks.count, 1, "sync rows share the stream track")
        XCTAssertEqual(r.cpuTracks.count, 1, "a sync row of a device with no activity makes no track")
        XCTAssertEqual(r.warnings.entries.first { $0.code == "nsys-sync-without-activity" }?.count, 1)
        let missing = try XCTUnwrap(r.warnings.entries.first { $0.code == "nsys-missing-table" })
        XCTAssertTrue(missing.example.contains("ThreadNames"), missing.example)
        XCTAssertFalse(missing.example.contains("CUPTI_ACTIVITY_KIND_MEMSET"), missing.example)
    }

    func testNamesFromThreadAndProcessTablesAndSessionStart() throws {
        let path = try write("""
            CREATE TABLE ThreadNames (nameId INTEGER, priority INTEGER, globalTid INTEGER);
            CREATE TABLE PROCESSES (globalPid INTEGER, pid INTEGER, name TEXT);
            CREATE TABLE TARGET_INFO_SESSION_START_TIME (utcEpochNs INTEGER, utcTime TEXT);
            INSERT INTO ThreadNames VALUES (7, 0, \(Self.gtid(100, 101)));
            INSERT INTO PROCESSES VALUES (\(Self.p1), 100, 'python3');
            INSERT INTO TARGET_INFO_SESSION_START_TIME VALUES (1000000000, '');
            INSERT INTO CUPTI_ACTIVITY_KIND_RUNTIME VALUES (10, 20, 1, \(Self.gtid(100, 101)), 1, 3, 0);
            INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (30, 40, 0, 1, 7, 1, \(Self.p1), 1, 2, 1, 1, 1, 1, 1, 1);
            """)
        let r = try XCTUnwrap(load(path).first)
        let cpu = try XCTUnwrap(r.cpuTracks.first)
        XCTAssertEqual(r.trackName(cpu), "main")
        XCTAssertEqual(r.processes.first { r.strings[$0.pid] == "100" }.map { r.strings[$0.name] }, "python3")
        XCTAssertEqual(r.processes.first { r.strings[$0.pid] == "0" }.map { r.strings[$0.name] }, "GPU 0")
        XCTAssertEqual(r.slices.start.min(), 1_000_000_010)
    }

    // MARK: - Bad input

    func assertRefused(_ path: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try TraceLoader.loadRun(paths: [path]), file: file, line: line) { e in
            let text = "\(e)"
            XCTAssertTrue(text.hasPrefix(path), text, file: file, line: line)
            XCTAssertTrue(text.contains(fragment), text, file: file, line: line)
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
        }
    }

    func testNonNsysDatabaseIsRefused() throws {
        assertRefused(try write("CREATE TABLE t (x INTEGER);", schema: ""), "not an Nsight Systems export (no StringIds table)")
        assertRefused(try write("CREATE TABLE StringIds (id INTEGER, value TEXT);", schema: ""), "no CUPTI_ACTIVITY_KIND_* or NVTX_EVENTS")
    }

    func testMissingRequiredColumnIsRefused() throws {
        let path = try write("""
            CREATE TABLE StringIds (id INTEGER, value TEXT);
            CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start INTEGER, deviceId INTEGER, globalPid INTEGER);
            INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES (1, 0, \(Self.p1));
            """, schema: "")
        assertRefused(path, "CUPTI_ACTIVITY_KIND_KERNEL lacks column(s) start, end")
    }

    /// A time or id stored as text, a real or a blob would read as 0 or a saturated value through
    /// SQLite's conversion: it is an error naming the table, column and value; text of digits is
    /// the integer it spells.
    func testAValueThatIsNotAnIntegerIsRefused() throws {
        let kernel = "INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES"
        assertRefused(try write("\(kernel) ('abc', 1500, 0, 1, 7, 11, \(Self.p1), 1, 2, 1, 1, 1, 128, 1, 1);"),
                      "CUPTI_ACTIVITY_KIND_KERNEL.start: not an integer: 'abc'")
        assertRefused(try write("\(kernel) (1000, 1.5e300, 0, 1, 7, 11, \(Self.p1), 1, 2, 1, 1, 1, 128, 1, 1);"),
                      "CUPTI_ACTIVITY_KIND_KERNEL.end: not an integer: '1.5e+300'")
        assertRefused(try write("\(kernel) (1000, 1500, 0, 1, 7, 11, X'1b5b33316d', 1, 2, 1, 1, 1, 128, 1, 1);"),
                      #"CUPTI_ACTIVITY_KIND_KERNEL.globalPid: not an integer: '\x1b[31m'"#)
        assertRefused(try write("""
            \(kernel) (1000, 1500, 0, 1, 7, 11, \(Self.p1), 1, 2, 1, 1, 1, 128, 1, 1);
            INSERT INTO NVTX_EVENTS VALUES (900, 2.5, 59, 'step', \(Self.gtid(100, 101)), NULL, 0);
            """), "NVTX_EVENTS.end: not an integer: '2.5'")
        let ranks = try load(try write("""
            CREATE TABLE K2 AS SELECT * FROM CUPTI_ACTIVITY_KIND_KERNEL;
            DROP TABLE CUPTI_ACTIVITY_KIND_KERNEL;
            CREATE TABLE CUPTI_ACTIVITY_KIND_KERNEL (start, end, deviceId, streamId, correlationId, globalPid, shortName);
            INSERT INTO CUPTI_ACTIVITY_KIND_KERNEL VALUES ('1000', '1500', 0, 7, 11, \(Self.p1), 2);
            """))
        XCTAssertEqual(ranks.first.map { Array($0.slices.start) }, [1000])
        XCTAssertEqual(ranks.first.map { Array($0.slices.dur) }, [500])
    }

    func testCorruptDatabaseIsRefused() throws {
        let path = TestSupport.temporaryPath(".sqlite")
        defer { unlink(path) }
        TestSupport.writeFile(path, sqliteMagic + [UInt8](repeating: 0xAB, count: 4000))
        assertRefused(path, "file is not a database")
    }

    func testEmptyExportIsRefused() throws {
        assertRefused(try write(""), "no GPU, CUDA runtime or NVTX rows")
    }

    func testNsysReportIsRefusedWithTheExportCommand() throws {
        let path = TestSupport.temporaryPath(".nsys-rep")
        defer { unlink(path) }
        TestSupport.writeFile(path, [UInt8]("not readable".utf8))
        assertRefused(path, "nsys export --type sqlite -o FILE.sqlite \(path)")
    }

    func testReaderIsReadOnlyAndImmutable() throws {
        let path = try write("INSERT INTO StringIds VALUES (99, 'x');")
        let db = try SQLiteDatabase(path: path)
        XCTAssertTrue(try db.tables().contains("StringIds"))
        XCTAssertEqual(try db.columns(of: "StringIds"), ["id", "value"])
        XCTAssertEqual(try db.columns(of: "absent"), [])
        XCTAssertThrowsError(try db.prepare("INSERT INTO StringIds VALUES (100, 'y')").step())
        XCTAssertEqual(SQLiteDatabase.uri("/a b/x?y#z%.sqlite"), "file:/a b/x%3Fy%23z%25.sqlite?mode=ro&immutable=1")
        XCTAssertThrowsError(try SQLiteDatabase(path: path + ".missing")) { e in
            XCTAssertTrue("\(e)".hasPrefix(path + ".missing: "), "\(e)")
        }
    }
}
