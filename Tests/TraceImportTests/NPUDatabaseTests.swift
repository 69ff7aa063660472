@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// torch_npu's db export (`ascend_pytorch_profiler_N.db`), one rule per test on small databases
/// written with SQL (`NPUSample.schema`: torch_npu's tables and columns).
final class NPUDatabaseTests: XCTestCase {
    static let tid: Int64 = 4242 << 32 | 11

    func write(_ sql: String, schema: String = NPUSample.schema) throws -> String {
        let path = TestSupport.temporaryPath(".db")
        try SQLiteDatabase.create(path: path, script: schema + sql)
        addTeardownBlock { unlink(path) }
        return path
    }

    func load(_ path: String) throws -> RankTrace {
        let ranks = try TraceLoader.loadRun(paths: [path]).ranks
        XCTAssertEqual(ranks.count, 1)
        return ranks[0]
    }

    func error(_ path: String) -> ImportError? {
        do {
            _ = try TraceLoader.loadRun(paths: [path])
            return nil
        } catch {
            return error
        }
    }

    func testTablesBecomeTheTextExportsModel() throws {
        let t = try load(write("""
            INSERT INTO STRING_IDS VALUES (1, 'aten::mm'), (2, 'Enqueue'), (3, 'Dequeue@aclnnMm'), (4, 'aclnnMm'),
                (5, 'aclnnMm_MatMulCommon_MatMulV2'), (6, 'AI_CORE'), (7, 'KERNEL_AICORE'), (8, 'MEMCPY_ASYNC'),
                (9, 'EVENT_RECORD'), (10, 'module.py(10): forward');
            INSERT INTO PYTORCH_API VALUES ('1736408883731508790', '1736408883731600000', \(Self.tid), 0, 1, 5, 0, NULL, NULL, NULL, 50001),
                ('1736408883731509000', '1736408883731510000', \(Self.tid), 1, 2, NULL, NULL, NULL, NULL, NULL, 50002),
                ('1736408883731520000', '1736408883731530000', \(4242 << 32 | 12), 1, 3, NULL, NULL, NULL, NULL, NULL, 50002),
                ('1736408883731500000', '1736408883731700000', \(Self.tid), NULL, 10, NULL, NULL, NULL, NULL, NULL, 50003);
            INSERT INTO CONNECTION_IDS VALUES (0, 70), (0, 71), (1, 9000);
            INSERT INTO CANN_API VALUES (1736408883731540000, 1736408883731550000, 20000, \(4242 << 32 | 12), 70, 4),
                (1736408883731551000, 1736408883731552000, 20000, \(4242 << 32 | 12), 72, 4);
            INSERT INTO TASK VALUES (1736408883731560000, 1736408883731570000, 0, 70, 0, 4242, 7, 0, 2, 1, 0),
                (1736408883731571000, 1736408883731572000, 0, 71, 1, 4242, 8, 0, 2, 2, 0),
                (1736408883731573000, 1736408883731574000, 0, 72, 2, 4242, 9, 0, 2, 3, 0);
            INSERT INTO COMPUTE_TASK_INFO (name, globalTaskId, taskType) VALUES (5, 0, 6);
            """))
        let s = t.slices
        // Times written as text are exact nanoseconds (no Double on the way).
        let mm = slice(t, "aten::mm")
        XCTAssertEqual(s.start[mm], 1_736_408_883_731_508_790)
        XCTAssertEqual(s.dur[mm], 91_210)
        XCTAssertEqual(s.kind[mm], .cpuOp)
        XCTAssertEqual(argDict(t, mm)["Sequence number"], "5")
        XCTAssertEqual(t.strings[s.category[slice(t, "Enqueue")]], "enqueue")
        XCTAssertEqual(t.strings[s.category[slice(t, "Dequeue@aclnnMm")]], "dequeue")
        XCTAssertEqual(argDict(t, slice(t, "Dequeue@aclnnMm"))["correlation_id"], "9000")
        XCTAssertEqual(s.kind[slice(t, "module.py(10): forward")], .pythonFunction)
        XCTAssertEqual(slices(t, "AscendCL@aclnnMm").map { s.kind[$0] }, [.runtime, .runtime])
        // Kernels are named by COMPUTE_TASK_INFO, other tasks by their type.
        let kernel = slice(t, "aclnnMm_MatMulCommon_MatMulV2")
        XCTAssertEqual(s.kind[kernel], .kernel)
        XCTAssertEqual(argDict(t, kernel)["Task Type"], "\"AI_CORE\"")
        XCTAssertEqual(s.kind[slice(t, "MEMCPY_ASYNC")], .memcpy)
        XCTAssertEqual(s.kind[slice(t, "EVENT_RECORD")], .other)
        XCTAssertEqual(t.strings[t.tracks.name[Int(s.track[kernel])]], "Stream 2")
        XCTAssertEqual(t.processes.first { $0.pid == t.tracks.pid[Int(s.track[kernel])] }.map { t.strings[$0.name] }, "Ascend Hardware")
        // Launchers: the operator whose CONNECTION_IDS name the task, else the CANN call with its connectionId.
        XCTAssertEqual(t.name(ofSlice: Int(s.launcher[kernel])), "aten::mm")
        XCTAssertEqual(t.name(ofSlice: Int(s.launcher[slice(t, "MEMCPY_ASYNC")])), "aten::mm")
        XCTAssertEqual(s.launcher[slice(t, "EVENT_RECORD")], -1, "bookkeeping is no device activity")
        XCTAssertEqual(t.metadata.deviceKind, .npu)
        XCTAssertEqual(t.metadata.distributed?.backend, "hccl")
        XCTAssertEqual(t.metadata.traceName, "torch_npu db export (schema 1.0.0)")
        XCTAssertEqual(t.strings[t.tracks.name[Int(s.track[mm])]], "Thread 11")
    }

    func testHCCLOpsAreCollectivesAndTheirTasksCommunication() throws {
        let t = try load(write("""
            INSERT INTO STRING_IDS VALUES (1, 'HcclAllreduce'), (2, 'hcom_allReduce__586_0_1'), (3, 'grp'), (4, 'MESH-RING'),
                (5, 'Notify Wait'), (6, 'SDMA'), (7, 'SOME_NEW_TYPE'), (8, 'AI_CORE'), (9, 'N/A');
            INSERT INTO PYTORCH_API VALUES ('100', '200', \(Self.tid), 0, 1, NULL, NULL, NULL, NULL, NULL, 50001);
            INSERT INTO CONNECTION_IDS VALUES (0, 50);
            INSERT INTO COMMUNICATION_OP VALUES (2, 1000, 2000, 50, 3, 1, 0, 0, 3, 4, 1000, 9);
            INSERT INTO TASK VALUES (1100, 1500, 0, 50, 0, 4242, 5, 0, 4, 1, 0), (1600, 1700, 0, 50, 1, 4242, 6, 0, 4, 2, 0),
                (1750, 1800, 0, 50, 2, 4242, 7, 0, 4, 3, 0), (1000, 2000, 0, 50, 3, 4242, 8, 0, 4, 4, 0);
            INSERT INTO COMMUNICATION_TASK_INFO (name, globalTaskId, taskType) VALUES (2, 0, 5), (2, 1, 6);
            INSERT INTO COMPUTE_TASK_INFO (name, globalTaskId, taskType) VALUES (7, 2, 7);
            """))
        let s = t.slices
        let op = slice(t, "hcom_allReduce__586_0_1")
        XCTAssertEqual(s.kind[op], .gpuUserAnnotation)
        XCTAssertEqual(t.name(ofSlice: Int(s.launcher[op])), "HcclAllreduce")
        let args = argDict(t, op)
        XCTAssertEqual(args["Collective name"], "\"allreduce\"")
        XCTAssertEqual(args["dtype"], "\"float16\"")
        XCTAssertEqual(args["In msg nelems"], "1000")
        XCTAssertEqual(args["alg_type"], "\"MESH-RING\"")
        XCTAssertEqual(args["Process Group Name"], "\"grp\"")
        XCTAssertEqual(t.strings[t.tracks.name[Int(s.track[op])]], "Group 0 Communication")
        XCTAssertEqual(t.tracks.pid[Int(s.track[op])], t.tracks.pid[Int(s.track[slice(t, "SDMA")])], "drawn with its device")
        XCTAssertEqual(s.kind[slice(t, "Notify Wait")], .communication)
        XCTAssertEqual(s.kind[slice(t, "SDMA")], .communication)
        // A kernel HCCL does not list but on HCCL's stream: HCCL's too, as in the text export.
        XCTAssertEqual(s.kind[slice(t, "SOME_NEW_TYPE")], .communication)
        // A kernel neither info table names is left out (the text export leaves it out).
        XCTAssertEqual(slices(t, "AI_CORE"), [])
        XCTAssertEqual(t.warnings.count("npu-unnamed-task"), 1)
    }

    /// HCCL's count is each rank's input for an all-gather (`In msg nelems`) and each rank's
    /// output for a reduce-scatter (`Out msg nelems`), as in the text export.
    func testGatherCountIsInputScatterCountIsOutput() throws {
        let t = try load(write("""
            INSERT INTO STRING_IDS VALUES (1, 'aten::mm'), (2, 'hcom_allGather__586_1_1'), (3, 'hcom_reduceScatter__586_2_1'), (4, 'grp');
            INSERT INTO PYTORCH_API VALUES ('100', '200', \(Self.tid), NULL, 1, NULL, NULL, NULL, NULL, NULL, 50001);
            INSERT INTO COMMUNICATION_OP VALUES (2, 1000, 2000, 50, 4, 1, 0, 0, 4, NULL, 300, NULL),
                (3, 3000, 4000, 51, 4, 2, 0, 0, 4, NULL, 300, NULL);
            """))
        let gather = argDict(t, slice(t, "hcom_allGather__586_1_1")), scatter = argDict(t, slice(t, "hcom_reduceScatter__586_2_1"))
        XCTAssertEqual(gather["Collective name"], "\"allgather\"")
        XCTAssertEqual(gather["dtype"], "\"float32\"")
        XCTAssertEqual(gather["In msg nelems"], "300")
        XCTAssertNil(gather["Out msg nelems"])
        XCTAssertEqual(scatter["Collective name"], "\"reducescatter\"")
        XCTAssertEqual(scatter["Out msg nelems"], "300")
        XCTAssertNil(scatter["In msg nelems"])
    }

    /// `OP_MEMORY`: one allocation per row, its operator from `STRING_IDS`; a NULL `releaseTime`
    /// is never released; a release without its allocation (negative size) is left out, counted;
    /// a value that is not an integer is an error naming the column.
    func testOperatorMemoryRowsBecomeAllocations() throws {
        let rows = """
            INSERT INTO STRING_IDS VALUES (1, 'aten::empty_strided'), (2, 'aten::mm');
            INSERT INTO PYTORCH_API VALUES ('100', '200', \(Self.tid), NULL, 2, NULL, NULL, NULL, NULL, NULL, 50001);
            INSERT INTO OP_MEMORY (name, size, allocationTime, releaseTime, deviceId) VALUES
                (1, 19268096, 1736407067941861830, NULL, 0), (2, 512, 1736407067947349130, 1736407067947349999, 1),
                (NULL, -2048, NULL, 1736407067947350000, 0);
            """
        let t = try load(write(rows))
        let a = t.operatorAllocations
        XCTAssertEqual(a.name.map { t.strings[$0] }, ["aten::empty_strided", "aten::mm"])
        XCTAssertEqual(a.bytes, [19_268_096, 512])
        XCTAssertEqual(a.allocated, [1_736_407_067_941_861_830, 1_736_407_067_947_349_130])
        XCTAssertEqual(a.released, [OperatorAllocationTable.notReleased, 1_736_407_067_947_349_999])
        XCTAssertEqual(a.deviceID, [0, 1])
        XCTAssertEqual(t.warnings.count("npu-operator-memory-before-capture"), 1)
        let e = try XCTUnwrap(error(write("INSERT INTO STRING_IDS VALUES (1, 'a'); INSERT INTO OP_MEMORY (name, size, allocationTime) VALUES (1, 'abc', 5);")))
        XCTAssertEqual(e.message, "OP_MEMORY.size: not an integer: 'abc'")
        let untimed = try XCTUnwrap(error(write("INSERT INTO STRING_IDS VALUES (1, 'a'); INSERT INTO OP_MEMORY (name, size) VALUES (1, 64);")))
        XCTAssertEqual(untimed.message, "OP_MEMORY row 1: an allocation without its time")
    }

    /// Some torch_npu versions write the dims under `inputDtypes` and the types under
    /// `inputShapes`; either way the operator gets Kineto's `Input Dims` and `Input type`.
    func testShapeColumnsEitherWayBecomeKinetoLists() throws {
        let t = try load(write("""
            INSERT INTO STRING_IDS VALUES (1, 'aten::mm'), (2, '8,512;' || char(13, 10) || '512,512'), (3, 'float;' || char(13, 10) || 'float'),
                (4, 'aten::add');
            INSERT INTO PYTORCH_API VALUES ('100', '200', \(Self.tid), NULL, 1, NULL, NULL, 2, 3, NULL, 50001),
                ('300', '400', \(Self.tid), NULL, 4, NULL, NULL, 3, 2, NULL, 50001);
            """))
        for name in ["aten::mm", "aten::add"] {
            XCTAssertEqual(argDict(t, slice(t, name))["Input Dims"], "[[8, 512], [512, 512]]", name)
            XCTAssertEqual(argDict(t, slice(t, name))["Input type"], #"["float", "float"]"#, name)
        }
    }

    func testStepTimeGivesStepsWhenNoProfilerStepIsRecorded() throws {
        let t = try load(write("""
            INSERT INTO STRING_IDS VALUES (1, 'aten::mm');
            INSERT INTO PYTORCH_API VALUES ('150', '200', \(Self.tid), NULL, 1, NULL, NULL, NULL, NULL, NULL, 50001);
            INSERT INTO STEP_TIME VALUES (3, 100, 500), (4, 500, 900);
            """))
        XCTAssertEqual(slices(t, "ProfilerStep#3").map { t.slices.dur[$0] }, [400])
        XCTAssertEqual(slices(t, "ProfilerStep#4").map { t.slices.start[$0] }, [500])
        // With ProfilerStep rows of its own, STEP_TIME adds nothing.
        let own = try load(write("""
            INSERT INTO STRING_IDS VALUES (1, 'ProfilerStep#3');
            INSERT INTO PYTORCH_API VALUES ('100', '500', \(Self.tid), NULL, 1, NULL, NULL, NULL, NULL, NULL, 50001);
            INSERT INTO STEP_TIME VALUES (3, 110, 490);
            """))
        XCTAssertEqual(slices(own, "ProfilerStep#3").map { own.slices.start[$0] }, [100])
    }

    func testNPUMemAndMemoryRecordBecomeCountersAndMemoryRows() throws {
        let t = try load(write("""
            INSERT INTO STRING_IDS VALUES (1, 'app'), (2, 'device'), (3, 'PTA'), (4, 'aten::mm');
            INSERT INTO PYTORCH_API VALUES ('100', '200', \(Self.tid), NULL, 4, NULL, NULL, NULL, NULL, NULL, 50001);
            INSERT INTO NPU_MEM VALUES (1, 0, 2097152, 10, 0), (2, 0, 9999999, 10, 0), (1, 0, 1048576, 20, 0);
            INSERT INTO MEMORY_RECORD VALUES (3, 15, 1048576, 2097152, 1048576, 0, 0);
            """))
        XCTAssertEqual(t.memory.totalAllocated, [2_097_152, 1_048_576])
        XCTAssertEqual(t.memory.bytes, [2_097_152, -1_048_576])
        XCTAssertEqual(t.memory.deviceType, [20, 20])
        let names = (0..<t.counters.count).map { t.strings[t.counters.name[$0]] + "/" + t.strings[t.counters.series[$0]] }
        XCTAssertEqual(Set(names), ["APP/HBM/KB", "APP/DDR/KB", "Device/HBM/KB", "Device/DDR/KB", "PTA/Total Allocated(MB)",
                                    "PTA/Total Reserved(MB)", "PTA/Total Active(MB)"])
        XCTAssertEqual((0..<t.counters.count).first { names[$0] == "PTA/Total Reserved(MB)" }.map { t.counters.value[$0] }, 2)
    }

    // MARK: - Bad and partial input

    func testMissingRequiredTableIsOneError() throws {
        let e = try XCTUnwrap(error(write("CREATE TABLE STRING_IDS (id INTEGER PRIMARY KEY, value TEXT); CREATE TABLE TASK (startNs INTEGER);", schema: "")))
        XCTAssertEqual(e.message, "a torch_npu db export without table(s) PYTORCH_API")
    }

    func testMissingOptionalTablesAreAWarning() throws {
        let t = try load(write("""
            CREATE TABLE STRING_IDS (id INTEGER PRIMARY KEY, value TEXT);
            CREATE TABLE PYTORCH_API (startNs TEXT, endNs TEXT, globalTid INTEGER, connectionId INTEGER, name INTEGER, type INTEGER);
            INSERT INTO STRING_IDS VALUES (1, 'ProfilerStep#1');
            INSERT INTO PYTORCH_API VALUES ('100', '200', \(Self.tid), NULL, 1, 50001);
            """, schema: ""))
        XCTAssertEqual(slices(t, "ProfilerStep#1").count, 1)
        let w = try XCTUnwrap(t.warnings.entries.first { $0.code == "npu-db-missing-table" })
        XCTAssertEqual(w.count, NPUDatabaseDecoder.optionalTables.count)
        XCTAssertTrue(w.example.contains("TASK"))
        XCTAssertNil(t.metadata.deviceKind, "no device rows")
    }

    func testMalformedTextTimeNamesTheField() throws {
        let e = try XCTUnwrap(error(write("""
            INSERT INTO STRING_IDS VALUES (1, 'a');
            INSERT INTO PYTORCH_API VALUES ('12x5', '200', \(Self.tid), NULL, 1, NULL, NULL, NULL, NULL, NULL, 50001);
            """)))
        XCTAssertEqual(e.message, "PYTORCH_API.startNs: not an integer: '12x5'")
    }

    func testMissingColumnIsOneError() throws {
        let e = try XCTUnwrap(error(write("""
            CREATE TABLE STRING_IDS (id INTEGER PRIMARY KEY, value TEXT);
            CREATE TABLE PYTORCH_API (startNs TEXT, globalTid INTEGER, name INTEGER);
            """, schema: "")))
        XCTAssertEqual(e.message, "table PYTORCH_API lacks column(s) startNs, endNs, globalTid, name")
    }

    func testCorruptDatabaseIsOneError() throws {
        let path = TestSupport.temporaryPath("-ascend_pytorch_profiler_0.db")
        TestSupport.writeFile(path, sqliteMagic + [UInt8](repeating: 0xFF, count: 4000))
        addTeardownBlock { unlink(path) }
        let e = try XCTUnwrap(error(path))
        XCTAssertEqual(e.file, path)
        XCTAssertFalse(e.message.contains("\n"))
    }

    // MARK: - Paths and ranks

    /// A rank directory, its output directory, the file itself and a folder of rank directories;
    /// the rank from RANK_DEVICE_MAP.
    func testEveryPathFormFindsTheDatabase() throws {
        let root = TestSupport.temporaryPath("-npu-db-run")
        let files = try [3, 1].map { try NPUSample.rank($0).write(root: root, db: true) }
        let dir = root + "/rank3_ascend_pt"
        for path in [dir, dir + "/ASCEND_PROFILER_OUTPUT", files[0]] {
            XCTAssertEqual(try TraceLoader.loadRun(paths: [path]).ranks.map(\.rank), [3], path)
        }
        let run = try TraceLoader.loadRun(paths: [root])
        XCTAssertEqual(run.ranks.map(\.rank), [1, 3])
        XCTAssertEqual(run.ranks.map(\.source), [files[1], files[0]])
        XCTAssertEqual(try TraceLoader.load(path: files[1]).rank, 1)
    }

    /// A database with neither torch_npu's nor Nsight Systems' tables is refused in one line.
    func testOtherDatabasesAreRefused() throws {
        let e = try XCTUnwrap(error(write("CREATE TABLE StepTraceTime (step TEXT, computing NUMERIC);", schema: "")))
        XCTAssertTrue(e.message.hasPrefix("an SQLite database but not an Nsight Systems export"), e.message)
    }
}
