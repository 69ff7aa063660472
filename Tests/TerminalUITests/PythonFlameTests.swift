import Analysis
import Foundation
import TerminalUI
import TestSupport
import TraceImport
import XCTest

/// The flame graph of a `with_stack` trace: Python frames nested with the operators, by inclusive
/// (nesting) time, shortened names, the `f` toggle; checked on a hand-written trace and against
/// `flame_reference.py` on real traces.
final class PythonFlameTests: XCTestCase {
    /// Two steps under a module frame; a frame `record_function.__enter__` cut where step 2 begins
    /// (it outlives the frame), two list appends differing only in the address, an escape sequence
    /// in a file name. Times in microseconds.
    static var withStack: String {
        func py(_ name: String, _ ts: String, _ dur: String) -> String { Fixtures.x(name, cat: "python_function", ts: ts, dur: dur) }
        return TestSupport.kineto([
            py("train.py(10): <module>", "0", "200"),
            Fixtures.x("ProfilerStep#1", cat: "user_annotation", ts: "5", dur: "100"),
            py("train.py(20): train_step", "6", "94"),
            py("torch/nn/modules/module.py(1743): _call_impl", "10", "50"),
            py("nn.Module: Linear_0", "11", "48"),
            py("torch/nn/modules/linear.py(124): forward", "12", "46"),
            py("<built-in function linear>", "13", "44"),
            Fixtures.x("aten::linear", ts: "14", dur: "42"),
            Fixtures.x("aten::mm", ts: "16", dur: "34"),
            py("<built-in method append of list object at 0x7f00aa>", "62", "2"),
            py("<built-in method append of list object at 0x7f00bb>", "66", "2"),
            Fixtures.x("aten::add_", ts: "70", dur: "20"),
            py("torch/autograd/profiler.py(700): __enter__", "100", "8"),
            Fixtures.x("ProfilerStep#2", cat: "user_annotation", ts: "105", dur: "55"),
            py("train.py(20): train_step", "106", "44"),
            py("evil\\u001b[31m.py(1): f", "110", "10"),
        ])
    }

    /// Node weights of `tree` by full-name path (`a > b > c`).
    func weights(_ tree: FlameTree, _ filter: FlameFilter = FlameFilter()) -> [String: Int64] {
        let w = tree.weights(filter).cpu
        var out: [String: Int64] = [:]
        for n in 1..<tree.count { out[detailPath(tree, Int32(n)).joined(separator: " > ")] = w[n] }
        return out
    }

    func detailPath(_ tree: FlameTree, _ node: Int32) -> [String] {
        var out: [String] = []
        var k = node
        while k > 0 {
            out.append(tree.detail[Int(k)])
            k = tree.parent[Int(k)]
        }
        return out.reversed()
    }

    func testFramesNestWithOperatorsByInclusiveTime() throws {
        let model = try Fixtures.model(Self.withStack)
        let rank = model.ranks[0]
        XCTAssertTrue(rank.hasPythonFrames)
        let tree = rank.flame(python: true)
        let w = weights(tree)
        let m = "train.py(10): <module>", step = m + " > train.py(20): train_step"
        let linear = step + " > torch/nn/modules/module.py(1743): _call_impl > nn.Module: Linear_0 > torch/nn/modules/linear.py(124): forward"
            + " > <built-in function linear> > aten::linear"
        // Inclusive time = the slice's duration, summed over the slices of the path (both steps' train_step).
        XCTAssertEqual(w[m], 200_000)
        XCTAssertEqual(w[step], 94_000 + 44_000)
        XCTAssertEqual(w[linear], 42_000)
        XCTAssertEqual(w[linear + " > aten::mm"], 34_000)
        XCTAssertEqual(w[step + " > aten::add_"], 20_000)
        // Addresses are normalised, so both appends are one frame.
        XCTAssertEqual(w[step + " > <built-in method append of list object at 0x?>"], 4_000)
        // The frame that opened step 2 is cut where the step begins (docs/definitions.md "Nesting").
        XCTAssertEqual(w[m + " > torch/autograd/profiler.py(700): __enter__"], 5_000)
        XCTAssertEqual(w.count, 12, "\(w.keys.sorted())")
        // Self time = inclusive minus children: <module> 200 - 138 - 5.
        let all = tree.weights(FlameFilter()).cpu
        let module = try XCTUnwrap(tree.node(at: ["train.py:10 <module>"]))
        XCTAssertEqual(tree.selfWeight(module, in: all), 57_000)
        XCTAssertEqual(all[0], 200_000)
        // A step: each frame's part inside the step's window.
        let s1 = weights(tree, FlameFilter(step: 0)), s2 = weights(tree, FlameFilter(step: 1))
        XCTAssertEqual(s1[m], 100_000)
        XCTAssertEqual(s2[m], 55_000)
        XCTAssertEqual(s1[step], 94_000)
        XCTAssertEqual(s2[step], 44_000)
        XCTAssertEqual(s1[m + " > torch/autograd/profiler.py(700): __enter__"], 5_000)
        XCTAssertEqual(s2[m + " > torch/autograd/profiler.py(700): __enter__"], 0)
        // Without frames: today's operator graph.
        let ops = weights(rank.flame(python: false))
        XCTAssertEqual(ops, ["aten::linear": 42_000, "aten::linear > aten::mm": 34_000, "aten::add_": 20_000])
    }

    func testFrameLabelsAreShortAndSafe() throws {
        let tree = try Fixtures.model(Self.withStack).ranks[0].flame(python: true)
        let labels = Set(tree.name)
        for expected in ["train.py:10 <module>", "module.py:1743 _call_impl", "linear.py:124 forward", "linear", "list.append",
                         "nn.Module: Linear_0", "profiler.py:700 __enter__", "evil\\x1b[31m.py:1 f", "aten::mm"] {
            XCTAssertTrue(labels.contains(expected), "\(expected) not in \(labels.sorted())")
        }
        XCTAssertFalse(tree.name.contains { $0.unicodeScalars.contains { $0.value == 0x1b } })
        XCTAssertFalse(tree.detail.contains { $0.unicodeScalars.contains { $0.value == 0x1b } })
    }

    /// Two files of the same base name stay two frames (one label, two full names); names not in
    /// Kineto's frame forms are kept.
    func testSameLabelFromTwoFilesStaysTwoFrames() throws {
        func py(_ name: String, _ ts: String, _ dur: String) -> String { Fixtures.x(name, cat: "python_function", ts: ts, dur: dur) }
        let json = TestSupport.kineto([
            py("a/utils.py(10): f", "0", "10"), Fixtures.x("aten::mm", ts: "1", dur: "5"),
            py("b/utils.py(10): f", "20", "30"), Fixtures.x("aten::mm", ts: "21", dur: "7"),
            py("f(x): y", "60", "4"), Fixtures.x("aten::add", ts: "61", dur: "1"),
            py("<built-in method is_complex of type object at 0x7f01>", "70", "3"), Fixtures.x("aten::is_complex", ts: "71", dur: "1"),
        ])
        let tree = try Fixtures.model(json).ranks[0].flame(python: true)
        let w = weights(tree)
        XCTAssertEqual(w["a/utils.py(10): f"], 10_000)
        XCTAssertEqual(w["b/utils.py(10): f"], 30_000)
        XCTAssertEqual(w["b/utils.py(10): f > aten::mm"], 7_000)
        XCTAssertEqual(tree.name.filter { $0 == "utils.py:10 f" }.count, 2)
        XCTAssertTrue(tree.name.contains("f(x): y"), "\(tree.name)")
        XCTAssertTrue(tree.name.contains("type.is_complex"), "\(tree.name)")
        XCTAssertEqual(w["<built-in method is_complex of type object at 0x?>"], 3_000)
    }

    func testFlameViewShowsFramesAndTogglesThem() throws {
        let app = Fixtures.app(try Fixtures.model(Self.withStack), tab: 2)
        let flame = try XCTUnwrap(app.views[1] as? FlameView)
        var screen = Fixtures.render(app)
        XCTAssertTrue(flame.pythonFrames)
        XCTAssertTrue(screen.line(2).hasPrefix("all"), screen.text)
        XCTAssertTrue(screen.line(3).hasPrefix("train.py:10 <module>"), screen.text)
        XCTAssertTrue(screen.text.contains("module.py:1743"), screen.text)
        XCTAssertTrue(screen.text.contains("aten::mm"), screen.text)
        XCTAssertTrue(screen.line(1).hasSuffix("Python frames + operators (f) "), screen.line(1))
        assertSnapshot(screen, "flame-python")
        // The search selects the frame; the status line gives its full name, inclusive and self time.
        screen = Fixtures.render(app, "/linear.py<Enter>")
        XCTAssertTrue(screen.line(23).hasPrefix(" …modules/linear.py(124): forward 46.0 us (23.0%) self 2.0 us"), screen.line(23))
        // aten::mm selected, then frames off: the same operator stays selected.
        screen = Fixtures.render(app, "/aten::mm<Enter>f")
        XCTAssertFalse(flame.pythonFrames)
        XCTAssertFalse(screen.text.contains("<module>"), screen.text)
        XCTAssertTrue(screen.line(23).hasPrefix(" aten::mm 34.0 us (54.8%)"), screen.line(23))
        XCTAssertTrue(screen.line(1).hasSuffix("operators only (f) "), screen.line(1))
        XCTAssertEqual(flame.state.matches.count, 1)
        assertSnapshot(screen, "flame-python-off")
        // And on again: aten::mm at its call site under the frames.
        screen = Fixtures.render(app, "f")
        XCTAssertTrue(flame.pythonFrames)
        XCTAssertTrue(screen.line(23).hasPrefix(" aten::mm 34.0 us (17.0%)"), screen.line(23))
        let help = Fixtures.render(app, "?")
        XCTAssertTrue(help.text.contains("show or hide the Python frames"), help.text)
    }

    func testToggleDoesNothingWithoutFrames() throws {
        let app = Fixtures.app(try Fixtures.model(Fixtures.smallTrace), tab: 2)
        let flame = try XCTUnwrap(app.views[1] as? FlameView)
        let before = Fixtures.render(app).text
        let after = Fixtures.render(app, "f")
        XCTAssertEqual(after.text, before)
        XCTAssertFalse(after.line(1).contains("(f)"), after.line(1))
        XCTAssertTrue(flame.pythonFrames)
        XCTAssertFalse(Fixtures.render(app, "?").text.contains("Python frames"))
    }

    /// A recording's "top Python functions" table and its flame graph say the same: a function's
    /// self time is the sum of its frames' self weights, its total the weight of its outermost frames.
    func testTopPythonFunctionsAgreeWithTheFlameGraph() throws {
        func py(_ name: String, _ ts: String, _ dur: String) -> String { Fixtures.x(name, cat: "python_function", ts: ts, dur: dur) }
        let json = TestSupport.kineto([
            py("main", "0", "100"), py("walk", "5", "60"), py("walk", "10", "30"), py("leaf", "12", "10"),
            py("leaf", "70", "20"), py("walk", "92", "4"),
        ])
        let model = try Fixtures.model(json)
        let table = model.report.ranks[0].pythonFunctions
        XCTAssertEqual(table.map(\.name).sorted(), ["leaf", "main", "walk"])
        try assertAgree(table, model.ranks[0].flame(python: true))
    }

    func assertAgree(_ table: [OperatorStat], _ tree: FlameTree, file: StaticString = #filePath, line: UInt = #line) throws {
        let w = tree.weights(FlameFilter()).cpu
        for stat in table {
            let nodes = (1..<tree.count).filter { tree.detail[$0] == stat.name }.map { Int32($0) }
            let selfSum = nodes.reduce(Int64(0)) { $0 + tree.selfWeight($1, in: w) }
            let outer = nodes.filter { n in !detailPath(tree, tree.parent[Int(n)]).contains(stat.name) }
            XCTAssertEqual(selfSum, stat.selfNs, "self of \(stat.name)", file: file, line: line)
            XCTAssertEqual(outer.reduce(Int64(0)) { $0 + w[Int($1)] }, stat.totalNs, "total of \(stat.name)", file: file, line: line)
        }
    }

    /// Every call path's inclusive time, with and without frames, equals `flame_reference.py`'s
    /// (the nesting rule of docs/definitions.md written again in Python over the JSON).
    func testRealWithStackTracesMatchTheReference() throws {
        guard let python = TestSupport.python3() else { throw XCTSkip("python3 is absent: flame reference not run") }
        var paths = [TestSupport.packageRoot + "/sample-traces/single/single.pt.trace.json.gz"]
        if let root = TestSupport.sharedTraces {
            paths += [root + "/torch-cpu/single/single.pt.trace.json.gz", root + "/tracelens/h100/gaunernst_bert-small-uncased__1016001.json.gz"]
        } else {
            print("../shared/traces is absent: flame reference checked on sample-traces only")
        }
        let script = TestSupport.packageRoot + "/Tests/TerminalUITests/flame_reference.py"
        for path in paths {
            let out = try XCTUnwrap(TestSupport.shellOutput("'\(python)' '\(script)' '\(path)'"), path)
            let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
            let run = try TraceLoader.loadRun(paths: [path])
            let model = RunModel(run: run, report: RunReport(run: run))
            let rank = model.ranks[0]
            XCTAssertTrue(rank.hasPythonFrames, path)
            for (mode, python) in [("python", true), ("operators", false)] {
                let rows = try XCTUnwrap(reference[mode] as? [[String: Any]])
                var expected: [String: Int64] = [:]
                for r in rows {
                    let p = try XCTUnwrap(r["path"] as? [String]).joined(separator: " > ")
                    expected[p] = try XCTUnwrap((r["total_ns"] as? NSNumber)?.int64Value)
                }
                let got = weights(rank.flame(python: python))
                XCTAssertEqual(got.count, expected.count, "\(path) \(mode): paths")
                let wrong = expected.filter { got[$0.key] != $0.value }
                XCTAssertTrue(wrong.isEmpty, "\(path) \(mode): \(wrong.count) paths differ, e.g. \(wrong.first.map { "\($0.key): \($0.value) vs \(got[$0.key].map(String.init) ?? "absent")" } ?? "")")
                XCTAssertGreaterThan(expected.count, 50, path)
            }
            // Frames really nest with operators: some operator sits under a frame.
            let tree = rank.flame(python: true)
            XCTAssertTrue((1..<tree.count).contains { tree.kind[$0] == .cpuOp && tree.kind[Int(tree.parent[$0])] == .pythonFunction }, path)
        }
    }
}
