@testable import Analysis
import TestSupport
import TraceModel
import XCTest

/// A slice's own phase (docs/definitions.md, "Phases", rules 1-7).
final class PhaseClassifierTests: XCTestCase {
    func testBuiltInRules() {
        let cases: [(String, Phase?)] = [
            // 2. communication
            ("c10d::allreduce_", .communication), ("c10d::broadcast_", .communication),
            ("nccl:all_reduce", .communication), ("nccl:_all_gather_base", .communication),
            ("gloo:all_reduce", .communication),
            ("ncclKernel_AllReduce_RING_LL_Sum_float(ncclWorkElem)", .communication),
            ("ncclDevKernel_AllGather_RING_LL(ncclDevComm*, unsigned long, ncclWork*)", .communication),
            ("rcclKernel_x", .communication), ("rccl_AllReduce", .communication),
            ("record_param_comms", .communication),
            ("record_param_comms_extra", nil), ("my_c10d::allreduce", nil), ("NCCL:all_reduce", nil),
            // 3. optimizer
            ("Optimizer.step#AdamW.step", .optimizer), ("Optimizer.zero_grad#AdamW.zero_grad", .optimizer),
            ("optimizer", .optimizer), ("MyOptimizerHook", .optimizer), ("run_OPTIMIZER", .optimizer),
            // 4. backward
            ("autograd::engine::evaluate_function: AddmmBackward0", .backward),
            ("autograd::engine::evaluate_function: torch::autograd::AccumulateGrad", .backward),
            ("backward", .backward), ("AddmmBackward0", .backward), ("loss.BACKWARD", .backward),
            // 5. forward
            ("forward", .forward), ("## forward ##", .forward), ("MyModel.Forward", .forward),
            // 6. data
            ("enumerate(DataLoader)#_SingleProcessDataLoaderIter.__next__", .data),
            ("dataloader", .data), ("MyDataLoader.fetch", .data), ("data_loader_next", .data),
            ("Data Loading", .data),
            // 7. none
            ("aten::mm", nil), ("cudaLaunchKernel", nil), ("", nil), ("data", nil), ("load data", nil),
        ]
        for (name, phase) in cases {
            XCTAssertEqual(PhaseClassifier.builtIn(name), phase, name)
        }
    }

    func testOnlyASCIILettersAreLowered() {
        XCTAssertEqual(PhaseClassifier.builtIn("Ëncoder.FORWARD"), .forward)  // non-ASCII elsewhere in the name
        XCTAssertEqual(PhaseClassifier.builtIn("日本語 backward 🚀"), .backward)
        XCTAssertNil(PhaseClassifier.builtIn("ＦＯＲＷＡＲＤ"))  // full-width letters are not ASCII
        XCTAssertNil(PhaseClassifier.builtIn("bac\u{212A}ward"))  // the Kelvin sign is not a K
        XCTAssertNil(PhaseClassifier.builtIn("forwar"))
        XCTAssertEqual(PhaseClassifier.builtIn("record_param_comms"), .communication)
        XCTAssertNil(PhaseClassifier.builtIn("record_param_comms_extra"))
    }

    func testRuleOrder() {
        // Earlier rules win when several match.
        XCTAssertEqual(PhaseClassifier.builtIn("nccl:optimizer_backward"), .communication)
        XCTAssertEqual(PhaseClassifier.builtIn("optimizer backward forward"), .optimizer)
        XCTAssertEqual(PhaseClassifier.builtIn("Optimizer.backward"), .optimizer)
        XCTAssertEqual(PhaseClassifier.builtIn("backward_then_forward"), .backward)
        XCTAssertEqual(PhaseClassifier.builtIn("autograd::engine::evaluate_function: forward"), .backward)
        XCTAssertEqual(PhaseClassifier.builtIn("DataLoader forward"), .forward)
        XCTAssertEqual(PhaseClassifier.builtIn("enumerate(DataLoader)#forward"), .forward)
    }

    func testProfilerStepNeverHasAnOwnPhase() {
        let strings = StringTable()
        let rules = [PhaseRule(phase: .forward, pattern: "Profiler*"), PhaseRule(phase: .data, pattern: "*")]
        let c = PhaseClassifier(strings: strings, rules: rules)
        XCTAssertNil(c.ownPhase(strings.intern("ProfilerStep#1")))
        XCTAssertNil(c.ownPhase(strings.intern("ProfilerStep#forward")))
        XCTAssertEqual(c.ownPhase(strings.intern("ProfilerStepX")), .forward)
        XCTAssertEqual(c.ownPhase(strings.intern("aten::mm")), .data)
        XCTAssertNil(PhaseClassifier(strings: strings).ownPhase(strings.intern("ProfilerStep#1")))
    }

    func testOwnPhaseIsCachedPerNameButCorrectForEach() {
        let strings = StringTable()
        let c = PhaseClassifier(strings: strings)
        let names = ["aten::mm", "forward", "nccl:all_reduce", "aten::mm", "backward", "forward"]
        let expected: [Phase?] = [nil, .forward, .communication, nil, .backward, .forward]
        for _ in 0..<2 {
            for (n, e) in zip(names, expected) { XCTAssertEqual(c.ownPhase(strings.intern(n)), e, n) }
        }
    }

    // MARK: User rules

    func testUserRulesComeFirstInFileOrder() throws {
        let rules = try PhaseRule.parse("""
        data: aten::*
        forward: aten::mm
        other: nccl:*
        """, file: "rules.txt")
        let strings = StringTable()
        let c = PhaseClassifier(strings: strings, rules: rules)
        XCTAssertEqual(c.ownPhase(strings.intern("aten::mm")), .data)
        XCTAssertEqual(c.ownPhase(strings.intern("nccl:all_reduce")), .other)
        XCTAssertEqual(c.ownPhase(strings.intern("forward")), .forward)  // built-ins still apply
        XCTAssertEqual(c.ownPhase(strings.intern("c10d::allreduce_")), .communication)
    }

    func testGlobs() throws {
        let rules = try PhaseRule.parse("""
        forward: MyModel.encode*
        communication: *all_to_all*
        data: prefetch_batch
        optimizer: step?
        backward: a*b*c
        """, file: "rules.txt")
        let strings = StringTable()
        let c = PhaseClassifier(strings: strings, rules: rules)
        func own(_ n: String) -> Phase? { c.ownPhase(strings.intern(n)) }
        XCTAssertEqual(own("MyModel.encode"), .forward)
        XCTAssertEqual(own("MyModel.encode_layer3"), .forward)
        XCTAssertNil(own("mymodel.encode"))            // case-sensitive
        XCTAssertNil(own("xMyModel.encode"))           // anchored at the start
        XCTAssertEqual(own("all_to_all"), .communication)
        XCTAssertEqual(own("x_all_to_all_single"), .communication)
        XCTAssertEqual(own("prefetch_batch"), .data)
        XCTAssertNil(own("prefetch_batch2"))            // anchored at the end
        XCTAssertNil(own("my_prefetch_batch"))
        XCTAssertEqual(own("step1"), .optimizer)
        XCTAssertEqual(own("stepX"), .optimizer)
        XCTAssertNil(own("step"))                       // ? is exactly one
        XCTAssertNil(own("step12"))
        XCTAssertEqual(own("abc"), .backward)
        XCTAssertEqual(own("a__b__b__c"), .backward)
        XCTAssertNil(own("a__b__c__d"))
        XCTAssertNil(own("acb"))
    }

    func testQuestionMarkMatchesOneCharacterNotOneByte() throws {
        // "`?` one character": a non-ASCII character is several UTF-8 bytes but one character.
        let rules = try PhaseRule.parse("forward: caf?\ndata: ?-batch", file: "rules.txt")
        let strings = StringTable()
        let c = PhaseClassifier(strings: strings, rules: rules)
        XCTAssertEqual(c.ownPhase(strings.intern("café")), .forward)
        XCTAssertEqual(c.ownPhase(strings.intern("λ-batch")), .data)
    }

    func testParseRulesFile() throws {
        let rules = try PhaseRule.parse("""
        # a comment line

          forward: MyModel.encode*   # trailing comment
        communication:*all_to_all*
        \tdata :  prefetch_batch \t
        other: c10d::* 
        """, file: "rules.txt")
        XCTAssertEqual(rules, [
            PhaseRule(phase: .forward, pattern: "MyModel.encode*"),
            PhaseRule(phase: .communication, pattern: "*all_to_all*"),
            PhaseRule(phase: .data, pattern: "prefetch_batch"),
            PhaseRule(phase: .other, pattern: "c10d::*"),
        ])
        XCTAssertEqual(try PhaseRule.parse("", file: "empty"), [])
        XCTAssertEqual(try PhaseRule.parse("# only\n\n", file: "empty"), [])
    }

    func testWindowsLineEndings() throws {
        // One rule a line, whatever the line ending: CRLF files split into the same rules.
        let rules = try PhaseRule.parse("forward: a*\r\n# comment\r\ndata: b*\r\n", file: "crlf.rules")
        XCTAssertEqual(rules, [PhaseRule(phase: .forward, pattern: "a*"), PhaseRule(phase: .data, pattern: "b*")])
        do {
            _ = try PhaseRule.parse("forward: a*\r\nbogus: x\r\n", file: "crlf.rules")
            XCTFail("no error")
        } catch {
            XCTAssertEqual(error.line, 2)
        }
    }

    func testRuleErrorsNameTheLine() {
        func parseError(_ text: String) -> PhaseRuleError? {
            do {
                _ = try PhaseRule.parse(text, file: "my.rules")
                XCTFail("no error for \(text.debugDescription)")
                return nil
            } catch {
                return error
            }
        }
        let unknown = parseError("forward: a\nbogus: x\n")
        XCTAssertEqual(unknown?.line, 2)
        XCTAssertEqual(unknown?.file, "my.rules")
        XCTAssertTrue(unknown?.message.contains("unknown phase 'bogus'") ?? false)
        XCTAssertTrue(unknown?.description.hasPrefix("my.rules: line 2: ") ?? false, unknown?.description ?? "")

        let noColon = parseError("# c\n\nforward x\n")
        XCTAssertEqual(noColon?.line, 3)
        XCTAssertEqual(noColon?.message, "expected 'phase: pattern'")

        let empty = parseError("forward:   # nothing\n")
        XCTAssertEqual(empty?.line, 1)
        XCTAssertEqual(empty?.message, "empty pattern")

        let caseSensitive = parseError("a: b\n")
        XCTAssertEqual(caseSensitive?.line, 1)
        XCTAssertEqual(parseError("data: x\nForward: y")?.line, 2)
    }

    func testPhaseNames() {
        XCTAssertEqual(Phase.allCases.map(\.name), ["data", "forward", "backward", "optimizer", "communication", "startup", "other", "idle"])
        for p in Phase.allCases { XCTAssertEqual(Phase(name: p.name), p) }
        XCTAssertNil(Phase(name: "Forward"))
    }
}
