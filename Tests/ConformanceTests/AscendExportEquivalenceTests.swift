import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// One torch_npu run written both ways from one set of rows (`NPUSample`): the text export and the
/// db export give the same steps, device breakdown, collectives and memory peak per rank.
final class AscendExportEquivalenceTests: XCTestCase {
    func load(db: Bool, gatherAndScatter: Bool = false) throws -> TraceRun {
        let root = TestSupport.temporaryPath(db ? "-npu-db" : "-npu-text")
        for r in 0...1 { try NPUSample.rank(r, gatherAndScatter: gatherAndScatter).write(root: root, db: db) }
        return try TraceLoader.loadRun(paths: [root])
    }

    /// HCCL's count of an all-gather is each rank's input, of a reduce-scatter each rank's output:
    /// both exports give the full size (count x 4 bytes x n, n = 2 ranks matched) and the bus
    /// bandwidth (size / duration x (n - 1) / n) of nccl-tests.
    func testAllGatherAndReduceScatterHaveTheirFullSizeInBothExports() throws {
        let sample = (0...1).map { NPUSample.rank($0, gatherAndScatter: true) }
        var figures: [[[String]]] = []
        for db in [false, true] {
            let run = try load(db: db, gatherAndScatter: true)
            let ranks = run.ranks.map { RankReport(trace: $0, analysis: Analyzer.analyze($0)) }
            let comm = Analyzer.communication(ranks)
            XCTAssertEqual(comm.matched.map(\.name), ["allreduce", "allgather", "reducescatter"])
            XCTAssertEqual(comm.unmatched, 0)
            var perRank: [[String]] = []
            for r in 0...1 {
                let list = try XCTUnwrap(comm.instances[r])
                for op in sample[r].hccl {
                    let name = String(op.name.dropFirst(5).prefix { $0 != "_" }).lowercased()
                    let c = try XCTUnwrap(list.first { $0.name == name }, name)
                    let n: Int64 = 2, share = op.count * 4
                    let size = name == "allreduce" ? share : share * n
                    let factor = name == "allreduce" ? 2.0 * Double(n - 1) / Double(n) : Double(n - 1) / Double(n)
                    XCTAssertEqual(c.groupSize, Int(n))
                    XCTAssertEqual(c.bytes, size, "\(name), db \(db)")
                    XCTAssertEqual(c.shareBytes, name == "allreduce" ? nil : share)
                    XCTAssertEqual(c.dur, op.end - op.start)
                    let expected = Double(size) / (Double(op.end - op.start) / 1e9) * factor
                    XCTAssertEqual(try XCTUnwrap(c.busBandwidth), expected, accuracy: expected * 1e-12, "\(name), db \(db)")
                    perRank.append([name, "\(c.bytes ?? -1)", "\(c.busBandwidth ?? -1)", "\(c.dur)"])
                }
            }
            figures.append(perRank)
        }
        XCTAssertEqual(figures[0], figures[1], "text and db exports")
    }

    func testBothExportsGiveTheSameFigures() throws {
        let text = try load(db: false), db = try load(db: true)
        XCTAssertEqual(text.ranks.map(\.rank), [0, 1])
        XCTAssertEqual(db.ranks.map(\.rank), [0, 1])
        let pairs = [text, db].map { run in run.ranks.map { (trace: $0, analysis: Analyzer.analyze($0)) } }
        for r in 0...1 {
            let (t, d) = (pairs[0][r].analysis, pairs[1][r].analysis)
            XCTAssertEqual(t.steps.map(\.name), ["ProfilerStep#7"])
            XCTAssertEqual(t.steps.map(\.name), d.steps.map(\.name))
            XCTAssertEqual(t.steps.map(\.start), d.steps.map(\.start))
            XCTAssertEqual(t.steps.map(\.dur), d.steps.map(\.dur))
            let g = try XCTUnwrap(t.steps.first?.gpu)
            XCTAssertEqual(g, d.steps.first?.gpu, "rank \(r)")
            // By hand: two matmuls and a cast; the HCCL tasks minus rank 1's later arrival; the
            // second matmul overlaps them for 5 ms.
            XCTAssertEqual(g.compute, 9_500_000)
            XCTAssertEqual(g.totalCommunication, 28_000_000 - Int64(r) * 3_000_000)
            XCTAssertEqual(g.overlappedCommunication, 5_000_000)
            XCTAssertEqual(g.memcpy, 1_000_000)
            let devices = [text, db].map { MemoryAnalysis.analyze($0.ranks[r], analysis: Analyzer.analyze($0.ranks[r])) }
            XCTAssertEqual(devices[0].map(\.peakAllocated), [2 << 30 + 4096 * Int64(r)])
            XCTAssertEqual(devices[0].map(\.peakAllocated), devices[1].map(\.peakAllocated))
            // The operators' allocations: the same peak and the same groups live at it.
            XCTAssertEqual(devices[0].first?.operatorPeak?.bytes, 9 << 20 + 4096 * Int64(r))
            XCTAssertEqual(devices[0].map(\.operatorPeak), devices[1].map(\.operatorPeak))
            XCTAssertEqual(devices[0].map(\.liveAtPeak), devices[1].map(\.liveAtPeak))
            // Every task that a torch operator launched is linked to it in both.
            for run in [text, db] {
                let trace = run.ranks[r], s = trace.slices
                let kernels = (0..<s.count).filter { s.kind[$0] == .kernel }
                XCTAssertEqual(kernels.map { trace.name(ofSlice: Int(s.launcher[$0])) }, ["aten::mm", "Node@launch", "aten::mm"])
            }
        }
        let comm = pairs.map { Analyzer.communication($0.map { RankReport(trace: $0.trace, analysis: $0.analysis) }) }
        XCTAssertEqual(comm[0].matched.count, 1)
        XCTAssertEqual(comm[1].matched.count, 1)
        XCTAssertEqual(comm[0].matched.map(\.straggler), [1])
        XCTAssertEqual(comm[0].matched.map(\.waits), comm[1].matched.map(\.waits))
        for r in 0...1 {
            let (t, d) = (comm[0].instances[r] ?? [], comm[1].instances[r] ?? [])
            XCTAssertEqual(t.map(\.bytes), [4_000_000])
            XCTAssertEqual(t.map(\.bytes), d.map(\.bytes))
            XCTAssertEqual(t.map(\.name), d.map(\.name))
            XCTAssertEqual(t.map(\.dur), d.map(\.dur))
            XCTAssertEqual(t.map(\.exposed), d.map(\.exposed))
            XCTAssertEqual(t.map(\.busBandwidth), d.map(\.busBandwidth))
        }
    }
}
