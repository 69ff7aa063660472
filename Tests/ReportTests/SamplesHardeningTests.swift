import Analysis
import Report
import TraceImport
import TraceModel
import XCTest

/// Saved summaries from other tools and hostile ones: recognised by parsing, validated field by field.
final class SamplesHardeningTests: XCTestCase {
    private let compact = #"{"schema":"stepscope.samples","version":2,"ranks":1,"steps":["s1","s2"],"skipped":[],"#
        + #""metrics":[{"kind":"step","name":"","values":[5.0,6.0]}],"shape_metrics":[],"calls":{},"folded":{}}"#

    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testRecognisedPrettyPrintedAndInAnyKeyOrder() throws {
        XCTAssertEqual(SamplesFile.isSamples(bytes(compact), complete: true), true)
        let pretty = "{\n  \"schema\" : \"stepscope.samples\",\n  \"version\" : 2\n}\n"
        XCTAssertEqual(SamplesFile.isSamples(bytes(pretty), complete: true), true)
        // `schema` last, after nested members of any depth.
        let reordered = #"{"metrics":[{"kind":"step","name":"}]","values":[[[1]]]}],"steps":[],"schema":"stepscope.samples"}"#
        XCTAssertEqual(SamplesFile.isSamples(bytes(reordered), complete: true), true)
        let escaped = #"{"sch\u0065ma": "stepscope.sampl\u0065s"}"#
        XCTAssertEqual(SamplesFile.isSamples(bytes(escaped), complete: true), true)
    }

    func testTracesAndOtherDocumentsAreNotSamples() throws {
        for doc in [#"{"traceEvents": [], "schema": "stepscope.samples"}"#, #"[{"ph": "X"}]"#, #"{"schema": "stepscope.report"}"#,
                    #"{"schema": 1}"#, "{}", "", "   ", "not json", #"{"a": 1 "schema": "stepscope.samples"}"#] {
            XCTAssertEqual(SamplesFile.isSamples(bytes(doc), complete: true), false, doc)
        }
    }

    func testAPrefixIsUndecidedUntilTheSchemaOrTheEvents() throws {
        let reordered = #"{"steps": ["a", "b"], "metrics": [{"kind": "step", "name": "x\"y", "values": [1.0]}], "schema": "stepscope.samples"}"#
        let decided = reordered.utf8.count - 1  // once the schema's value is whole
        for cut in 0..<decided {
            let prefix = Array(reordered.utf8.prefix(cut))
            XCTAssertNil(SamplesFile.isSamples(prefix, complete: false), "cut at \(cut)")
            XCTAssertEqual(SamplesFile.isSamples(prefix, complete: true), false, "cut at \(cut)")
        }
        XCTAssertEqual(SamplesFile.isSamples(Array(reordered.utf8.prefix(decided)), complete: false), true)
        XCTAssertEqual(SamplesFile.isSamples(bytes(#"{"schemaVersion": 1, "traceEvents": ["#), complete: false), false)
    }

    private func decodeError(_ doc: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try SamplesFile.decode(bytes(doc), file: "s.json")
            XCTFail("expected an error", file: file, line: line)
        } catch {
            return error.description
        }
        return ""
    }

    func testNonFiniteValuesAreErrorsNamingTheField() {
        XCTAssertEqual(decodeError(compact.replacingOccurrences(of: "[5.0,6.0]", with: "[5.0,1e400]")),
                       "s.json: metrics[] step values: 1e400 is out of range (not a finite number)")
        XCTAssertEqual(decodeError(compact.replacingOccurrences(of: #""calls":{}"#, with: #""calls":{"aten::mm":-1e999}"#)),
                       "s.json: calls aten::mm: -1e999 is out of range (not a finite number)")
        XCTAssertEqual(decodeError(compact.replacingOccurrences(of: #""folded":{}"#, with: #""folded":{"a;b":1e309}"#)),
                       "s.json: folded a;b: 1e309 is out of range (not a finite number)")
    }

    func testMissingMetricsOrStepsAreErrors() {
        XCTAssertEqual(decodeError(#"{"schema":"stepscope.samples","version":2,"steps":["s1"]}"#), "s.json: missing metrics (an array)")
        XCTAssertEqual(decodeError(#"{"schema":"stepscope.samples","version":2,"steps":[],"metrics":{}}"#), "s.json: missing metrics (an array)")
        XCTAssertEqual(decodeError(#"{"schema":"stepscope.samples","version":2,"metrics":[]}"#), "s.json: missing steps (an array)")
        XCTAssertEqual(decodeError(#"{"schema":"stepscope.samples","version":2,"steps":["s1"],"metrics":[]}"#),
                       "s.json: metrics: no step row (kind step) for the 1 steps")
    }

    func testStringsFromTheFileInErrorsAreTerminalSafe() {
        let name = "evil\u{1B}]2;title\u{07}\u{1B}[2J"
        let doc = #"{"schema":"stepscope.samples","version":2,"steps":["s1"],"metrics":[{"kind":"op_self","name":""#
            + name.replacingOccurrences(of: "\u{1B}", with: "\\u001b").replacingOccurrences(of: "\u{07}", with: "\\u0007")
            + #"","values":[]}]}"#
        let message = decodeError(doc)
        XCTAssertEqual(message, #"s.json: metrics[] evil\x1b]2;title\x07\x1b[2J: 0 values for 1 steps"#)
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 40_000) + String(repeating: "]", count: 40_000)
        let message = decodeError(#"{"schema":"stepscope.samples","version":2,"x":"# + deep + "}")
        // The document's object is the first level: the 512th bracket is one too many.
        XCTAssertEqual(message, "s.json: byte \(46 + JSONValue.maxDepth - 1): nested deeper than 512 levels")
        // Recognition steps over any depth without recursion.
        XCTAssertEqual(SamplesFile.isSamples(bytes(#"{"x":"# + deep + #","schema":"stepscope.samples"}"#), complete: true), true)
    }
}
