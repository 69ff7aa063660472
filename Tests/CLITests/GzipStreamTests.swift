import Foundation
import TestSupport
import XCTest

/// `stepscope report` on gzip traces that arrive through a pipe, a FIFO or process substitution.
final class GzipStreamTests: XCTestCase {
    var dir = ""

    override func setUp() {
        dir = TestSupport.temporaryPath(".d")
        mkdir(dir, 0o700)
    }

    override func tearDown() {
        _ = system("rm -rf '\(dir)'")
    }

    var trace: String {
        TestSupport.kineto((0..<200).map { i in
            TestSupport.x(i % 10 == 0 ? "ProfilerStep#\(i / 10)" : "aten::op_\(i % 7)", cat: i % 10 == 0 ? "user_annotation" : "cpu_op",
                          ts: "\(i / 10 * 100 + (i % 10) * 9)", dur: i % 10 == 0 ? "95" : "8")
        })
    }

    /// Runs `command` under bash (`$BIN` is the binary); returns exit status, stdout and stderr.
    func shell(_ command: String) -> (status: Int32, stdout: String, stderr: String) {
        let script = "BIN='\(TestSupport.binary)'; cd '\(dir)'; " + command
        TestSupport.writeFile(dir + "/script", Array(script.utf8))
        let rc = system("bash '\(dir)/script' >'\(dir)/out' 2>'\(dir)/err' </dev/null")
        return ((rc >> 8) & 0xFF, TestSupport.readFile(dir + "/out"), TestSupport.readFile(dir + "/err"))
    }

    /// The report JSON without the ranks' `source` (the path differs between the ways in).
    func withoutSource(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        var doc = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], file: file, line: line)
        doc["ranks"] = (doc["ranks"] as? [[String: Any]])?.map { rank in rank.filter { $0.key != "source" } }
        return String(decoding: try JSONSerialization.data(withJSONObject: doc, options: [.sortedKeys]), as: UTF8.self)
    }

    func writeGzip() {
        TestSupport.writeFile(dir + "/t.json", Array(trace.utf8))
        XCTAssertEqual(system("gzip -n -k '\(dir)/t.json'"), 0)
    }

    func testGzipThroughAPipeAFIFOAndProcessSubstitution() throws {
        writeGzip()
        let file = shell("\"$BIN\" report t.json.gz --format json")
        XCTAssertEqual(file.status, 0, file.stderr)
        let expected = try withoutSource(file.stdout)
        for command in [
            "cat t.json.gz | \"$BIN\" report /dev/stdin --format json",
            "\"$BIN\" report <(cat t.json.gz) --format json",
            "mkfifo f && { cat t.json.gz > f & } && \"$BIN\" report f --format json",
            "cat t.json | \"$BIN\" report /dev/stdin --format json",
            "cat t.json.gz | STEPSCOPE_INFLATE=zlib \"$BIN\" report /dev/stdin --format json",
        ] {
            let r = shell(command)
            XCTAssertEqual(r.status, 0, "\(command): \(r.stderr)")
            XCTAssertEqual(r.stderr, "", command)
            XCTAssertEqual(try withoutSource(r.stdout), expected, command)
        }
    }

    func testTruncatedGzipThroughAPipeIsOneLineExitTwo() {
        writeGzip()
        let r = shell("head -c 300 t.json.gz | \"$BIN\" report /dev/stdin")
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.hasPrefix("stepscope: error: /dev/stdin: byte "), r.stderr)
        XCTAssertTrue(r.stderr.contains("truncated gzip data"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
    }
}
