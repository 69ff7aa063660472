import Foundation
import TestSupport
import XCTest

/// examples/slurm/ run for real (docs/scale.md): a one-node Slurm in a temporary folder, the map
/// array job over a generated 64-rank run, the dependent reduce, and the straggler it finds.
final class SlurmTests: XCTestCase {
    func testArrayJobMapsAndTheReduceFindsTheStraggler() throws {
        let root = TestSupport.packageRoot
        guard getuid() == 0, TestSupport.shellOutput("for c in sbatch slurmctld slurmd munged; do command -v $c; done | wc -l") == "4" else {
            print("skipped: needs root and Debian's slurm-wlm and munge (scripts/setup.sh installs them)")
            return
        }
        let dir = TestSupport.temporaryPath(".slurm")
        defer { _ = TestSupport.shellOutput("'\(root)/examples/slurm/one-node.sh' stop '\(dir)'; rm -rf '\(dir)'") }
        guard let conf = TestSupport.shellOutput("'\(root)/examples/slurm/one-node.sh' start '\(dir)/cluster' 2>'\(dir).err'"),
              conf.hasSuffix("slurm.conf") else {
            print("skipped: Slurm could not start here: \(TestSupport.readFile(dir + ".err"))")
            unlink(dir + ".err")
            return
        }
        unlink(dir + ".err")
        let env = "SLURM_CONF='\(conf)' STEPSCOPE='\(TestSupport.binary)'"
        XCTAssertNotNil(TestSupport.shellOutput("python3 '\(root)/bench/gen_cluster.py' --ranks 64 --ops 120 --out '\(dir)/traces' && echo ok"))
        let ids = try XCTUnwrap(TestSupport.shellOutput("\(env) '\(root)/examples/slurm/submit.sh' '\(dir)/traces' '\(dir)/out' 2"))
        XCTAssertEqual(ids.split(separator: " ").count, 2, ids)
        // Wait for both jobs to leave the queue (10 minutes at most).
        let deadline = Date().addingTimeInterval(600)
        while Date() < deadline, TestSupport.shellOutput("\(env) squeue -h | wc -l") != "0" { usleep(500_000) }
        let summaries = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/out/summaries")) ?? []
        XCTAssertEqual(summaries.filter { $0.hasSuffix(".summary.json.gz") }.count, 64, "map logs: \(TestSupport.shellOutput("tail -n 3 '\(dir)'/out/logs/* | head -40") ?? "")")
        let text = TestSupport.readFile(dir + "/out/report.json")
        let doc = try XCTUnwrap(try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                                "no report: \(TestSupport.shellOutput("cat '\(dir)'/out/logs/reduce-*") ?? "")")
        XCTAssertEqual((doc["ranks"] as? [Any])?.count, 64)
        let run = try XCTUnwrap(doc["run"] as? [String: Any])
        // The generator's straggler is rank 64 * 3 / 4 + 1, in every step.
        let stragglers = try XCTUnwrap(run["stragglers"] as? [[String: Any]])
        XCTAssertEqual(stragglers.count, 6)
        XCTAssertEqual(Set(stragglers.map { $0["rank"] as? Int }), [49])
        // The text report (more than 16 ranks: distributions) flags the straggler and the slow link.
        let report = TestSupport.readFile(dir + "/out/report.txt")
        XCTAssertTrue(report.contains("slow ranks (lateness at collectives, modified z-score > 3.5): rank 49 late by"), report)
        XCTAssertTrue(report.contains("slow links (two-rank groups' median bus bandwidth, modified z-score < -3.5): group pp30 (ranks 60, 61)"), report)
        // Eight hosts with skewed clocks: ranks off node0 get an offset of -37 us per host.
        let offsets = try XCTUnwrap(run["clock_offsets"] as? [[String: Any]])
        XCTAssertEqual(offsets.count, 56)
        XCTAssertTrue(offsets.allSatisfy { ($0["offset_ns"] as? Int) == -37_000 * (($0["rank"] as? Int ?? 0) / 8) }, "\(offsets.prefix(3))")
    }
}
