import Analysis
import Foundation
import Formatting
@testable import TerminalUI
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// The efficiency view (`8`, shown when a rank has efficiency content) on a small hand-written
/// trace whose figures are computed by hand below, and on a real H100 trace.
final class EfficiencyViewTests: XCTestCase {
    /// Two steps (400 and 350 us) on an H100 (its name carrying an escape sequence), each with a
    /// bf16 4096^3 `aten::mm` (kernels of 250 and 200 us) and an fp32 4096x4096 `aten::add`
    /// (kernels of 80 us).
    static func trace(device: String = #"NVIDIA H100\u001b[31m 80GB HBM3"#) -> String {
        let bf = #""c10::BFloat16""#
        func mm(_ ts: Int) -> String {
            Fixtures.x("aten::mm", ts: "\(ts)", dur: "220", args: #""Input Dims": [[4096, 4096], [4096, 4096]], "Input type": [\#(bf), \#(bf)], "Concrete Inputs": ["", ""]"#)
        }
        func add(_ ts: Int) -> String {
            Fixtures.x("aten::add", ts: "\(ts)", dur: "50",
                       args: #""Input Dims": [[4096, 4096], [4096, 4096], []], "Input type": ["float", "float", "Scalar"], "Concrete Inputs": ["", "", "1"]"#)
        }
        func launch(_ ts: Int, _ corr: Int) -> String { Fixtures.x("cudaLaunchKernel", cat: "cuda_runtime", ts: "\(ts)", dur: "1", args: "\"correlation\": \(corr)") }
        func kernel(_ name: String, _ ts: Int, _ dur: Int, _ corr: Int) -> String {
            Fixtures.x(name, cat: "kernel", ts: "\(ts)", dur: "\(dur)", pid: "0", tid: "7", args: "\"correlation\": \(corr)")
        }
        let gemm = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64", ew = "vectorized_elementwise_kernel"
        return TestSupport.kineto([
            Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "400"),
            mm(1), launch(2, 1), kernel(gemm, 5, 250, 1),
            add(310), launch(311, 2), kernel(ew, 312, 80, 2),
            Fixtures.x("ProfilerStep#2", cat: "user_annotation", ts: "400", dur: "350"),
            mm(401), launch(402, 3), kernel(gemm, 405, 200, 3),
            add(622), launch(623, 4), kernel(ew, 630, 80, 4),
        ], extra: #""deviceProperties": [{"id": 0, "name": "\#(device)"}]"#)
    }

    func app(_ json: String = trace()) throws -> App { Fixtures.app(try Fixtures.model(json), tab: 8) }

    /// The whitespace-separated words of the screen line holding `text`.
    func words(_ screen: ScreenBuffer, _ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        let row = try XCTUnwrap((0..<screen.rows).first { screen.line($0).contains(text) }, screen.text, file: file, line: line)
        return screen.line(row).split(separator: " ").map(String.init)
    }

    func testOperatorsByHeadroomRooflineAndPrecisionOnHandComputedValues() throws {
        let app = try app()
        XCTAssertEqual(app.views.count, 8)
        XCTAssertTrue(app.views[7] is EfficiencyView)
        let screen = Fixtures.render(app)
        XCTAssertTrue(screen.line(0).contains("8 Effic"), screen.line(0))
        // The device name is shown escaped; the roof is bf16's (most FLOPs) on the H100 SXM entry.
        XCTAssertTrue(screen.line(1).contains(#"device NVIDIA H100\x1b[31m 80GB HBM3 · roof bf16 989.5 TFLOP/s, 3350 GB/s"#), screen.line(1))
        XCTAssertFalse(screen.text.unicodeScalars.contains("\u{1b}"))
        // mm: 2 calls of 2*4096^3 = 137438953472 FLOPs, 3*4096^2*2 = 100663296 bytes, 450 us of kernels.
        // 274877906944 / 450000 ns / 1000 = 610.8 TFLOP/s; 201326592 / 450000 = 447.4 GB/s; 1365.3 FLOP/B;
        // at the roofline 2 * 137438953472 / 989500 = 277794.8 ns (compute > 100663296 / 3350):
        // 61.7% of it, headroom 450000 - 277795 = 172205 ns.
        XCTAssertEqual(try words(screen, "aten::mm"), ["172.2", "us", "450.0", "us", "2", "275G", "611", "447", "1365", "compute", "61.7%", "aten::mm"])
        // add: 2 calls of 4096^2 FLOPs, 3*4096^2*4 bytes, 160 us; memory bound: 2 * 201326592 / 3350 =
        // 120195.0 ns at the roofline (75.1%), headroom 39805 ns; 0.210 TFLOP/s, 2517 GB/s, 1/12 FLOP/B.
        XCTAssertEqual(try words(screen, "aten::add"), ["39.8", "us", "160.0", "us", "2", "33.6M", "0.210", "2517", "0.083", "memory", "75.1%", "aten::add"])
        // By headroom: mm above add; the sorted column is marked.
        let mmRow = try XCTUnwrap((0..<24).first { screen.line($0).contains("aten::mm") })
        let addRow = try XCTUnwrap((0..<24).first { screen.line($0).contains("aten::add") })
        XCTAssertLessThan(mmRow, addRow)
        XCTAssertTrue(screen.line(2).hasPrefix("▼headroom"), screen.line(2))
        // Roofline: mm (selected, `●`) right of and above add (`•`), the roof in braille.
        func position(_ mark: Unicode.Scalar) -> (row: Int, col: Int)? {
            for r in 0..<24 {
                if let c = Array(screen.line(r).unicodeScalars).firstIndex(of: mark) { return (r, c) }
            }
            return nil
        }
        let sel = try XCTUnwrap(position("●"), screen.text), other = try XCTUnwrap(position("•"), screen.text)
        XCTAssertGreaterThan(sel.col, other.col)
        XCTAssertLessThan(sel.row, other.row)
        XCTAssertEqual(screen[sel.row, sel.col].style, Theme.match)
        XCTAssertTrue(screen.text.unicodeScalars.contains { $0.value > 0x2800 && $0.value <= 0x28FF }, screen.text)
        XCTAssertTrue(screen.text.contains("Roofline (bf16)"), screen.text)
        // Precision, all steps: device bf16 450 / 610 = 73.8%, fp32 26.2%; FLOPs bf16 99.99%;
        // MFU 2 * 137455730688 / (750000 ns * 989500 FLOP/ns) = 37.0%; the steps' 34.7% and 39.7%.
        XCTAssertTrue(screen.text.contains("device: bf16 73.8%, fp32 26.2%"), screen.text)
        XCTAssertTrue(screen.text.contains("FLOPs 275G: bf16 100.0%, fp32 0"), screen.text)
        // Busy utilisation: the same FLOPs over (250 + 80) + (200 + 80) = 610 us of kernels: 45.5%.
        XCTAssertTrue(screen.text.contains("MFU 37.0% · busy 45.5%"), screen.text)
        XCTAssertEqual(try words(screen, "all steps").suffix(2), ["37.0%", "│"])
        XCTAssertEqual(try words(screen, "Step#1").suffix(2), ["34.7%", "│"])
        XCTAssertEqual(try words(screen, "Step#2").suffix(2), ["39.7%", "│"])
        // The precision bars are drawn in the precisions' colours; the legend names them.
        XCTAssertTrue(screen.text.contains("█ bf16 █ fp32"), screen.text)
        // `]`: the first step's shares, 250 / 330 us in bf16.
        let step1 = Fixtures.render(app, "]")
        XCTAssertTrue(step1.text.contains("device: bf16 75.8%, fp32 24.2%"), step1.text)
        XCTAssertTrue(step1.text.contains("MFU 34.7%"), step1.text)
        XCTAssertTrue(try words(step1, "Step#1").contains("34.7%"), step1.text)
        assertSnapshot(screen, "efficiency")
    }

    func testSortFilterAndSelection() throws {
        let app = try app()
        let view = try XCTUnwrap(app.views[7] as? EfficiencyView)
        var screen = Fixtures.render(app, "j")
        XCTAssertEqual(view.cursor.selected, 1)
        XCTAssertTrue(screen.line(23).hasPrefix(" aten::add │ 2 ops │ sort headroom │ rank 0"), screen.line(23))
        // The selection moves the highlighted point to add's (left, lower).
        let sel = try XCTUnwrap((0..<24).first { screen.line($0).contains("●") })
        let other = try XCTUnwrap((0..<24).first { screen.line($0).contains("•") })
        XCTAssertGreaterThan(sel, other)
        // Sorts: device, FLOPs, TFLOP/s (mm first each time), calls (a tie: by device time), back to headroom.
        for expected in ["device", "FLOPs", "TFLOP/s", "calls", "headroom"] {
            screen = Fixtures.render(app, "s")
            XCTAssertEqual(view.sort.rawValue, expected)
            XCTAssertTrue(screen.line(23).contains("sort \(expected)"), screen.line(23))
            XCTAssertEqual(view.cursor.selected, 0)
            XCTAssertLessThan(try XCTUnwrap((0..<24).first { screen.line($0).contains("aten::mm") }),
                              try XCTUnwrap((0..<24).first { screen.line($0).contains("aten::add") }))
        }
        // Filter as typed; Esc clears it.
        screen = Fixtures.render(app, "/ad")
        XCTAssertTrue(view.isEditing)
        XCTAssertTrue(screen.line(23).contains("filter: ad"), screen.line(23))
        screen = Fixtures.render(app, "<Enter>")
        XCTAssertEqual(view.filter, "ad")
        XCTAssertFalse(screen.text.contains("aten::mm"), screen.text)
        XCTAssertTrue(screen.text.contains("aten::add"))
        XCTAssertTrue(screen.line(23).contains("1 ops"), screen.line(23))
        screen = Fixtures.render(app, "/zz<Enter>")
        XCTAssertTrue(screen.text.contains("no operators match"), screen.text)
        screen = Fixtures.render(app, "<Esc>")
        XCTAssertEqual(view.filter, "")
        XCTAssertTrue(screen.text.contains("aten::mm"))
        // The help overlay lists the view's keys and all eight views.
        let help = Fixtures.render(app, "?")
        XCTAssertTrue(help.text.contains("keys: Effic"), help.text)
        XCTAssertTrue(help.text.contains("1-8, Tab, S-Tab"), help.text)
        XCTAssertTrue(help.text.contains("sort: headroom"), help.text)
    }

    func testRankSwitchToARankWithoutEfficiencyData() throws {
        let a = try TestSupport.trace(Self.trace())
        let b = try TestSupport.trace(Fixtures.smallTrace)
        b.rank = 1
        let run = TraceRun(ranks: [a, b])
        let app = Fixtures.app(RunModel(run: run, report: RunReport(run: run)), tab: 8)
        XCTAssertEqual(app.active, 7)
        var screen = Fixtures.render(app, "r")
        XCTAssertEqual(app.context?.rank, 1)
        XCTAssertTrue(screen.text.contains("rank 1 has no efficiency data"), screen.text)
        XCTAssertTrue(screen.text.contains("record_shapes=True"), screen.text)
        XCTAssertTrue(screen.text.contains("`r` shows the next rank"), screen.text)
        XCTAssertTrue(screen.line(23).contains("rank 1: no efficiency data"), screen.line(23))
        // Keys on the empty rank change nothing and do not crash; back on rank 0 the table returns.
        screen = Fixtures.render(app, "jks][r")
        XCTAssertEqual(app.context?.rank, 0)
        XCTAssertTrue(screen.text.contains("aten::mm"), screen.text)
    }

    func testWithoutDevicePeaksTheChartSaysHowToGiveThem() throws {
        let screen = Fixtures.render(try app(Self.trace(device: "Acme Tensor Unit 9")))
        XCTAssertTrue(screen.line(1).contains("device Acme Tensor Unit 9 · no peak table: give --device-peak FILE"), screen.line(1))
        XCTAssertTrue(screen.text.contains("no roof, no MFU: no peak table for"), screen.text)
        XCTAssertTrue(try words(screen, "no roof").contains("for"))
        let name = try XCTUnwrap((0..<24).first { screen.line($0).contains("no roof") }) + 1
        XCTAssertTrue(screen.line(name).hasPrefix("│ Acme Tensor Unit 9 "), screen.line(name))
        XCTAssertTrue(screen.text.contains("give one with --device-peak FILE"), screen.text)
        // FLOPs and rates are known; headroom, bound, roofline and MFU are not.
        XCTAssertEqual(try words(screen, "aten::mm"), ["-", "450.0", "us", "2", "275G", "611", "447", "1365", "-", "-", "aten::mm"])
        XCTAssertEqual(try words(screen, "all steps").suffix(2), ["-", "│"])
    }

    func testNoTabWithoutEfficiencyContent() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace))
        XCTAssertEqual(app.views.count, 7)
        XCTAssertFalse(app.views.contains { $0 is EfficiencyView })
        _ = Fixtures.render(app, "8")
        XCTAssertEqual(app.active, 0)
    }

    func testNarrowTabBarKeepsTheActiveTab() throws {
        let app = try app()
        var screen = Fixtures.render(app)
        XCTAssertTrue(screen.line(0).contains(" 8 Effic "), screen.line(0))
        screen = Fixtures.render(app, "1")
        XCTAssertTrue(screen.line(0).hasPrefix(" 1 Overview "), screen.line(0))
        // A click on a tab still lands on it with the bar shifted.
        let col = try XCTUnwrap(screen.line(0).range(of: "Kernels")).lowerBound.utf16Offset(in: screen.line(0))
        app.step(.mouse(MouseEvent(action: .click, row: 0, col: col)), into: &screen)
        XCTAssertEqual(app.active, 6)
    }

    /// TraceLens H100 (BERT, record_shapes): the view's first row is the operator with the most
    /// headroom, its TFLOP/s and the all-steps MFU as computed here from the operator's FLOPs and
    /// device time and from the steps' durations and the dominant precision's peak.
    func testRealH100Trace() throws {
        guard let root = TestSupport.sharedTraces else { throw XCTSkip("../shared/traces is absent: real-trace efficiency view test skipped") }
        let run = try TraceLoader.loadRun(paths: [root + "/tracelens/h100/gaunernst_bert-small-uncased__1016001.json.gz"])
        let model = RunModel(run: run, report: RunReport(run: run))
        let a = model.ranks[0].analysis
        let e = try XCTUnwrap(a.efficiency)
        XCTAssertTrue(e.hasContent)
        let peaks = try XCTUnwrap(e.peaks, "H100 trace without an H100 peak entry: \(e.deviceName ?? "no device name")")
        let ranked = a.operators.filter { $0.work?.headroomNs != nil }.sorted { $0.work!.headroomNs! > $1.work!.headroomNs! }
        let top = try XCTUnwrap(ranked.first)
        let app = Fixtures.app(model, tab: 8)
        let screen = Fixtures.render(app, rows: 40, cols: 160)
        XCTAssertTrue(screen.line(2).contains("headroom"), screen.text)
        let first = screen.line(3)
        XCTAssertTrue(first.contains(top.name), "\(top.name) not first:\n\(screen.text)")
        let w = top.work!
        let tflops = Double(w.flops) / Double(w.deviceNs) / 1000
        let shown = first.split(separator: " ").map(String.init)
        XCTAssertEqual(shown[0] + " " + shown[1], formatDuration(w.headroomNs!), first)
        XCTAssertEqual(shown[6], EfficiencyView.compact(tflops), first)
        let flops = e.steps.reduce(Int64(0)) { $0 + $1.flops }, wall = e.steps.reduce(Int64(0)) { $0 + $1.durationNs }
        let dominant = try XCTUnwrap(e.total.dominant)
        let mfu = Double(flops) / (Double(wall) * peaks.tflops[dominant.peakKey]! * 1000)
        XCTAssertTrue(screen.text.contains("MFU \(formatFixed(100 * mfu, 1))%"), screen.text)
        XCTAssertTrue(screen.text.contains("Roofline (\(dominant.rawValue))"), screen.text)
        XCTAssertTrue(screen.text.contains("●"), screen.text)
        // Every sort and the rank key keep the view drawable.
        _ = Fixtures.render(app, "sssssjjG]]][[r", rows: 40, cols: 160)
    }
}
