@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Ranks and runs: rank from distributedInfo, else the file name, else load order.
final class RunTests: XCTestCase {
    func testRankFromFileName() {
        let cases: [(String, Int?)] = [
            ("rank-3.json", 3), ("rank_3.json", 3), ("rank3.json", 3), ("rank.3.json", 3),
            ("RANK_12.pt.trace.json.gz", 12), ("worker_rank7.1623143089861.pt.trace.json", 7),
            ("/runs/a/rank0.pt.trace.json.gz", 0),
            ("ranking.json", nil), ("rank.json", nil), ("r3.json", nil), ("trace.json", nil),
            ("rank-.json", nil), ("rank--3.json", nil),
        ]
        for (path, rank) in cases {
            XCTAssertEqual(TraceLoader.rankFromFileName(path), rank, path)
        }
    }

    func testRankFromDistributedInfoOnLoad() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        let path = dir + "/rank-1.json"
        TestSupport.writeFile(path, Array(TestSupport.kineto([], extra: #""distributedInfo": {"rank": 4}"#).utf8))
        XCTAssertEqual(try TraceLoader.load(path: path).rank, 4)
        XCTAssertEqual(try TraceLoader.load(bytes: Array(TestSupport.kineto([]).utf8), name: "x", rank: 6).rank, 6)
    }

    func write(_ path: String, rank: Int? = nil, world: Int? = nil, marker: String) {
        var dist: [String] = []
        if let rank { dist.append("\"rank\": \(rank)") }
        if let world { dist.append("\"world_size\": \(world)") }
        let extra = dist.isEmpty ? "" : "\"distributedInfo\": {" + dist.joined(separator: ", ") + "}"
        TestSupport.writeFile(path, Array(TestSupport.kineto([TestSupport.x(marker, ts: "1", dur: "1")], extra: extra).utf8))
    }

    func marker(_ t: RankTrace) -> String { t.slices.count > 0 ? t.name(ofSlice: 0) : "" }

    func testDirectoryIsOneRun() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        write(dir + "/a.json", marker: "A")                       // no rank: next free number
        write(dir + "/b_rank-2.json", marker: "B")                // rank 2 from the name
        write(dir + "/c.json", rank: 0, marker: "C")              // rank 0 from distributedInfo
        write(dir + "/d_rank_2.json", marker: "D")                // claims 2 again: duplicate
        write(dir + "/rank_9_but_info.json", rank: 6, marker: "F")  // distributedInfo beats the name
        let gz = gzipped(Array(TestSupport.kineto([TestSupport.x("E", ts: "1", dur: "1")],
                                                  extra: #""distributedInfo": {"rank": 5, "world_size": 8}"#).utf8))
        TestSupport.writeFile(dir + "/e.json.gz", gz)
        TestSupport.writeFile(dir + "/notes.txt", Array("not a trace".utf8))
        TestSupport.writeFile(dir + "/f.json.bak", Array("not a trace".utf8))

        let run = try TraceLoader.loadRun(paths: [dir])
        XCTAssertEqual(run.ranks.map(\.rank), [0, 1, 2, 3, 5, 6])
        XCTAssertEqual(run.ranks.map(marker), ["C", "A", "B", "D", "E", "F"])
        XCTAssertEqual(run.ranks[1].source, dir + "/a.json")
        XCTAssertEqual(run.warnings.count("duplicate-rank"), 1)
        XCTAssertEqual(run.warnings.count("missing-ranks"), 2)  // world size 8, six files
    }

    func testSeveralFilesAreOneRun() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        write(dir + "/x.json", marker: "X")
        write(dir + "/y.json", marker: "Y")
        write(dir + "/z_rank0.json", marker: "Z")
        let run = try TraceLoader.loadRun(paths: [dir + "/y.json", dir + "/x.json", dir + "/z_rank0.json"])
        XCTAssertEqual(run.ranks.map(\.rank), [0, 1, 2])
        XCTAssertEqual(run.ranks.map(marker), ["Z", "Y", "X"])
        XCTAssertTrue(run.warnings.entries.isEmpty)
    }

    func testSingleFileRun() throws {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        write(dir + "/only_rank3.json", marker: "O")
        let run = try TraceLoader.loadRun(paths: [dir + "/only_rank3.json"])
        XCTAssertEqual(run.ranks.count, 1)
        XCTAssertEqual(run.ranks[0].rank, 3)
    }

    func testRunErrors() {
        let dir = temporaryDirectory()
        defer { removeTree(dir) }
        XCTAssertThrowsError(try TraceLoader.loadRun(paths: [dir])) { error in
            XCTAssertEqual((error as? ImportError)?.message, "no trace files found")
        }
        XCTAssertThrowsError(try TraceLoader.loadRun(paths: [dir + "/missing.json"])) { error in
            XCTAssertEqual((error as? ImportError)?.file, dir + "/missing.json")
        }
        TestSupport.writeFile(dir + "/good.json", Array(TestSupport.kineto([]).utf8))
        TestSupport.writeFile(dir + "/bad.json", Array("{\"traceEvents\": [".utf8))
        XCTAssertThrowsError(try TraceLoader.loadRun(paths: [dir])) { error in
            let e = error as? ImportError
            XCTAssertEqual(e?.file, dir + "/bad.json")
            XCTAssertEqual(e?.offset, 17)
        }
    }
}
