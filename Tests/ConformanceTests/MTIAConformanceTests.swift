import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// The MTIA trace (`hta/mtia_trace_single_rank`): device time from `mtia_ccp_events`, launches
/// from `mtia_runtime`.
final class MTIAConformanceTests: XCTestCase {
    func testDeviceEventsAreActivityLinkedToTheirLaunches() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("MTIAConformanceTests: ../shared/traces is absent; skipped")
            return
        }
        let trace = try TraceLoader.load(path: shared + "/hta/mtia_trace_single_rank/mtia_rank_0.json.gz")
        let s = trace.slices
        let category = trace.strings.lookup("mtia_ccp_events"), runtime = trace.strings.lookup("mtia_runtime")
        let device = (0..<s.count).filter { s.category[$0] == category }
        let launches = (0..<s.count).filter { s.category[$0] == runtime }
        XCTAssertFalse(device.isEmpty)
        // Every device event is activity on a device stream: DMA requests memcpys, the rest kernels.
        for i in device {
            XCTAssertEqual(s.kind[i], trace.name(ofSlice: i) == "dma_request" ? .memcpy : .kernel)
            XCTAssertEqual(trace.tracks.kind[Int(s.track[i])], .gpuStream)
        }
        // Each launch (one correlation each) finds its kernel; DMA requests carry no correlation.
        let linked = device.filter { s.launcher[$0] >= 0 }
        XCTAssertEqual(linked.count, launches.count)
        XCTAssertTrue(linked.allSatisfy { s.kind[Int(s.launcher[$0])] == .runtime && s.kind[$0] == .kernel })
        let a = Analyzer.analyze(trace)
        XCTAssertEqual(a.gpuActivityNs, device.reduce(0) { $0 + s.dur[$1] })
        let g = try XCTUnwrap(a.gpu)
        XCTAssertGreaterThan(g.compute, 0)
        XCTAssertGreaterThan(g.memcpy, 0)
        XCTAssertEqual(g.busy + g.idle, a.steps.reduce(0) { $0 + $1.dur })
    }
}
