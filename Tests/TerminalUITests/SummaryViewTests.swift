import Analysis
import TestSupport
import TerminalUI
import TraceImport
import TraceModel
import XCTest

/// The UI on a run read from summaries (docs/scale.md): each rank's report without its trace.
final class SummaryViewTests: XCTestCase {
    /// The bundled two-rank run as the reduce sees it from summaries: trace-less analyses, and
    /// empty traces beside them (as `stepscope` opens summaries).
    func summaryModel() throws -> RunModel {
        let run = try TraceLoader.loadRun(paths: [TestSupport.packageRoot + "/sample-traces/ddp2_straggler"])
        let ranks = RunReport(run: run, samples: true).ranks.map { r -> RankReport in
            var r = r
            let a = r.analysis
            r.analysis = RankAnalysis(rank: a.rank, source: a.source, steps: a.steps, stepsInferred: a.stepsInferred, phases: a.phases,
                                      gpu: a.gpu, operators: a.operators, kernels: a.kernels, gpuActivityNs: a.gpuActivityNs)
            return r
        }
        let report = RunReport(ranks: ranks, warnings: run.warnings)
        return RunModel(run: TraceRun(ranks: ranks.map { RankTrace(source: $0.analysis.source, rank: $0.analysis.rank) }), report: report)
    }

    func testEveryViewOpensOnSummaries() throws {
        let model = try summaryModel()
        for tab in 1...7 {
            // Move around and switch ranks in each view: nothing may index the missing timeline.
            let screen = Fixtures.render(Fixtures.app(model, tab: tab), "jjjkl<Enter>r<Tab>jh", rows: 30, cols: 120)
            XCTAssertFalse(screen.text.isEmpty, "tab \(tab)")
        }
        XCTAssertTrue(Fixtures.render(Fixtures.app(model, tab: 1), rows: 30, cols: 120).text.contains("ProfilerStep#4"))
        XCTAssertTrue(Fixtures.render(Fixtures.app(model, tab: 4), rows: 30, cols: 120).text.contains("aten::"))
        XCTAssertTrue(Fixtures.render(Fixtures.app(model, tab: 6), rows: 30, cols: 120).text.contains("all_reduce"))
    }
}
