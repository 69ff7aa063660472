import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// The shared Nsight Systems export against independent SQL over its own tables.
final class NsysConformanceTests: XCTestCase {
    struct Export {
        let path: String
        let db: SQLiteDatabase
        let run: TraceRun
    }

    func export() throws -> Export? {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent (Nsight Systems conformance)")
            return nil
        }
        let path = shared + "/nsys/h100_2gpu_1s.sqlite"
        return Export(path: path, db: try SQLiteDatabase(path: path), run: try TraceLoader.loadRun(paths: [path]))
    }

    /// The rank whose host tracks are process `pid`.
    func rank(_ e: Export, pid: Int64) throws -> RankTrace {
        try XCTUnwrap(e.run.ranks.first { r in r.cpuTracks.contains { r.strings[r.tracks.pid[$0]] == String(pid) } }, "pid \(pid)")
    }

    func testKernelCountAndTimePerDeviceEqualTheTable() throws {
        guard let e = try export() else { return }
        let rows = try e.db.prepare("""
            SELECT (globalPid >> 24) & 16777215 AS pid, deviceId, count(*) AS n, sum("end" - start) AS total
            FROM CUPTI_ACTIVITY_KIND_KERNEL GROUP BY 1, 2
            """)
        var devices = 0
        while try rows.step() {
            let pid = try rows.int(0)!, device = try rows.int(1)!
            let r = try rank(e, pid: pid)
            let kernels = (0..<r.slices.count).filter {
                r.slices.kind[$0] == .kernel && r.strings[r.tracks.pid[Int(r.slices.track[$0])]] == String(device)
            }
            XCTAssertEqual(Int64(kernels.count), try rows.int(2), "device \(device)")
            XCTAssertEqual(kernels.reduce(0) { $0 + r.slices.dur[$1] }, try rows.int(3), "device \(device)")
            devices += 1
        }
        XCTAssertEqual(devices, 2)
        XCTAssertEqual(e.run.ranks.count, 2)
    }

    func testBusyAndIdlePerDeviceEqualTheUnionOfActivityRows() throws {
        guard let e = try export() else { return }
        for r in e.run.ranks {
            let pid = try XCTUnwrap(r.cpuTracks.first.map { Int64(r.strings[r.tracks.pid[$0]])! })
            // The capture window of the process: every row kept for it.
            let window = try e.db.prepare("""
                SELECT min(s), max(t) FROM (
                  SELECT start AS s, "end" AS t, globalPid AS g FROM CUPTI_ACTIVITY_KIND_KERNEL
                  UNION ALL SELECT start, "end", globalPid FROM CUPTI_ACTIVITY_KIND_MEMCPY
                  UNION ALL SELECT start, "end", globalPid FROM CUPTI_ACTIVITY_KIND_MEMSET
                  UNION ALL SELECT start, "end", globalPid FROM CUPTI_ACTIVITY_KIND_SYNCHRONIZATION
                  UNION ALL SELECT start, "end", globalTid FROM CUPTI_ACTIVITY_KIND_RUNTIME
                  UNION ALL SELECT start, "end", globalTid FROM NVTX_EVENTS WHERE "end" IS NOT NULL AND eventType IN (59, 60))
                WHERE (g >> 24) & 16777215 = ?
                """, bind: [.integer(pid)])
            XCTAssertTrue(try window.step())
            let (lo, hi) = (try window.int(0)!, try window.int(1)!)
            let rows = try e.db.prepare("""
                SELECT start, "end" FROM (
                  SELECT start, "end", globalPid AS g FROM CUPTI_ACTIVITY_KIND_KERNEL
                  UNION ALL SELECT start, "end", globalPid FROM CUPTI_ACTIVITY_KIND_MEMCPY
                  UNION ALL SELECT start, "end", globalPid FROM CUPTI_ACTIVITY_KIND_MEMSET)
                WHERE (g >> 24) & 16777215 = ? AND "end" > start ORDER BY start
                """, bind: [.integer(pid)])
            var busy: Int64 = 0, coveredTo = Int64.min
            while try rows.step() {
                let s = max(try rows.int(0)!, coveredTo), t = try rows.int(1)!
                if t > s { busy += t - s }
                coveredTo = max(coveredTo, t)
            }
            let gpu = try XCTUnwrap(Analyzer.analyze(r).gpu)
            XCTAssertEqual(gpu.busy, busy, "rank \(r.rank)")
            XCTAssertEqual(gpu.idle, hi - lo - busy, "rank \(r.rank)")
            XCTAssertEqual(gpu.idleByCause.reduce(0, +), gpu.idle)
        }
    }

    func testNVTXOperatorTableCountsEveryEmitNVTXRange() throws {
        guard let e = try export() else { return }
        for r in e.run.ranks {
            let pid = try XCTUnwrap(r.cpuTracks.first.map { Int64(r.strings[r.tracks.pid[$0]])! })
            let rows = try e.db.prepare("""
                SELECT substr(text, 1, instr(text, ', op_id = ') - 1), count(*), sum("end" - start) FROM NVTX_EVENTS
                WHERE instr(text, ', op_id = ') > 0 AND "end" IS NOT NULL AND (globalTid >> 24) & 16777215 = ? GROUP BY 1
                """, bind: [.integer(pid)])
            var expected: [String: Int] = [:]
            while try rows.step() { expected[rows.string(0)!] = Int(try rows.int(1)!) }
            XCTAssertGreaterThan(expected.count, 10)
            let ops = Analyzer.analyze(r).operators.filter { $0.kind == .cpuOp }
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: ops.map { ($0.name, $0.count) }), expected, "rank \(r.rank)")
            // emit_nvtx ranges enclose their launches, so their kernels' time reaches them.
            XCTAssertGreaterThan(try XCTUnwrap(ops.first { $0.name == "aten::mm" }).gpuNs, 0)
        }
    }
}
