@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A gzip file parsed as two parts on two cores, each part inflating its own stream (`GzipSplit`),
/// gives the model one inflating stream gives, and the same errors.
final class GzipSplitTests: XCTestCase {
    let inflaters: [Inflater] = [.isal, .zlib]

    /// Loads the gzip file at `path` in two parts: the trace, and where its second part began (nil
    /// when it was parsed as one).
    func loadSplit(_ path: String, _ inflater: Inflater, blockSize: Int,
                   progress: TraceLoader.Progress? = nil) throws(ImportError) -> (trace: RankTrace, start: Int64?) {
        let trace = RankTrace(source: path, rank: 0)
        let file = try FileSource(path: path)
        defer { file.close() }
        let start = try TraceLoader.parseGzipInTwo(file: file, path: path, inflatedSize: file.inflatedSizeGuess(), into: trace,
                                                   progress: progress, options: ImportOptions(), inflater: inflater, blockSize: blockSize)
        return (trace, start)
    }

    /// Loads the gzip file at `path` through one inflating stream and one parser.
    func loadWhole(_ path: String, _ inflater: Inflater) throws(ImportError) -> RankTrace {
        let trace = RankTrace(source: path, rank: 0)
        let file = try FileSource(path: path)
        defer { file.close() }
        let gzip = try GzipSource(file, path: path, inflater: inflater)
        defer { gzip.close() }
        try TraceLoader.parse(source: gzip, name: path, into: trace, progress: nil, options: ImportOptions())
        return trace
    }

    /// The error a load throws (nil when it loads).
    func error(_ load: () throws(ImportError) -> Void) -> ImportError? {
        do throws(ImportError) {
            try load()
            return nil
        } catch {
            return error
        }
    }

    /// `text` gzipped as `members` members, cut at uneven points.
    func gzip(_ text: [UInt8], members: Int) -> [UInt8] {
        let cuts = [0] + (1..<max(1, members)).map { text.count * $0 / members + 37 * $0 } + [text.count]
        return (0..<cuts.count - 1).flatMap { gzipped(Array(text[cuts[$0]..<cuts[$0 + 1]])) }
    }

    /// Writes `bytes` to a new temporary `.json.gz` file.
    func write(_ bytes: [UInt8]) -> String {
        let path = TestSupport.temporaryPath(".json.gz")
        TestSupport.writeFile(path, bytes)
        return path
    }

    func testTwoPartsGiveTheModelOfOneStream() throws {
        for bare in [false, true] {
            let text = Array(SplitTests.makeTrace(bare: bare).utf8)
            let plain = dump(try TraceLoader.load(bytes: text, name: "t.json"))
            for members in [1, 3] {
                let path = write(gzip(text, members: members))
                defer { unlink(path) }
                for inflater in inflaters {
                    let whole = try loadWhole(path, inflater)
                    XCTAssertEqual(dump(whole), plain, "bare \(bare) members \(members) \(inflater)")
                    for blockSize in [1024, 8192] {
                        let what = "bare \(bare) members \(members) \(inflater) block \(blockSize)"
                        let split = try loadSplit(path, inflater, blockSize: blockSize)
                        // The second part was used: it began at an event, at least halfway through
                        // the compressed file (where the two parts' work evens out).
                        let start = try XCTUnwrap(split.start, what)
                        XCTAssertEqual(text[Int(start)], UInt8(ascii: "{"), what)
                        XCTAssertEqual(Array(text[Int(start) - 4..<Int(start)]), Array(",\n  ".utf8), what)
                        XCTAssertGreaterThan(start, Int64(text.count / 4), what)
                        XCTAssertEqual(dump(split.trace), dump(whole), what)
                    }
                }
            }
        }
    }

    func testAStreamWithoutABoundaryAfterItsMiddleIsParsedAsOne() throws {
        // One event, so no boundary anywhere (a one-line file has one between any two events):
        // the second part finds no start, the first reads it all. Its letters do not repeat, so
        // that the file is long compressed too.
        var seed: UInt32 = 1
        let letters = (0..<60_000).map { _ in
            seed = seed &* 1_103_515_245 &+ 12_345
            return Character(UnicodeScalar(UInt8(97 + (seed >> 16) % 26)))
        }
        let text = Array(("{\"traceEvents\": [" + TestSupport.x("e0", ts: "0", dur: "1", args: "\"s\": \"" + String(letters) + "\"") + "]}").utf8)
        let path = write(gzipped(text))
        defer { unlink(path) }
        for inflater in inflaters {
            let split = try loadSplit(path, inflater, blockSize: 512)
            XCTAssertNil(split.start)
            XCTAssertEqual(split.trace.slices.count, 1)
            XCTAssertEqual(dump(split.trace), dump(try loadWhole(path, inflater)))
        }
    }

    func testProgressOfTheTwoPartsAddsUpToTheCompressedFile() throws {
        let text = Array(SplitTests.makeTrace(bare: false).utf8)
        let gz = gzip(text, members: 2)
        let path = write(gz)
        defer { unlink(path) }
        final class Totals: @unchecked Sendable {
            var bytes: Int64 = 0
            var events = 0
            var calls = 0
            let lock = Locked(())
        }
        for inflater in inflaters {
            let totals = Totals()
            let split = try loadSplit(path, inflater, blockSize: 2048) { file, bytes, events in
                XCTAssertEqual(file, path)
                totals.lock.locked {
                    totals.bytes += bytes
                    totals.events += events
                    totals.calls += 1
                }
            }
            XCTAssertNotNil(split.start)
            XCTAssertEqual(totals.calls, 2, "one report at the end from each part")
            XCTAssertEqual(totals.bytes, Int64(gz.count), "\(inflater)")
            XCTAssertEqual(totals.events, split.trace.eventCounts.values.reduce(0, +), "\(inflater)")
        }
    }

    func testTruncatedAndCorruptStreamsGiveTheErrorsOfOneStream() throws {
        let text = Array(SplitTests.makeTrace(bare: false).utf8)
        let gz = gzipped(text)
        var inputs: [(String, [UInt8])] = [gz.count / 5, gz.count / 2, gz.count * 4 / 5, gz.count - 9, gz.count - 4].map {
            ("kept \($0) bytes", Array(gz.prefix($0)))
        }
        for at in [gz.count / 5, gz.count * 3 / 5, gz.count * 9 / 10] {
            var bad = gz
            bad[at] ^= 0xFF
            inputs.append(("byte \(at) flipped", bad))
        }
        var badCRC = gz
        badCRC[gz.count - 7] ^= 0x10
        inputs.append(("CRC flipped", badCRC))
        for (what, bytes) in inputs {
            let path = write(bytes)
            defer { unlink(path) }
            for inflater in inflaters {
                let whole = try XCTUnwrap(error { () throws(ImportError) in _ = try loadWhole(path, inflater) }, "\(what) \(inflater)")
                let split = try XCTUnwrap(error { () throws(ImportError) in _ = try loadSplit(path, inflater, blockSize: 1024) },
                                          "\(what) \(inflater)")
                XCTAssertEqual(split, whole, "\(what) \(inflater)")
                let offset = try XCTUnwrap(split.offset, "\(what) \(inflater)")
                XCTAssertEqual(split.description, "\(path): byte \(offset): \(split.message)")
                XCTAssertFalse(split.description.contains("\n"))
            }
        }
        // A CRC error only shows at the end of the stream: in the second part.
        let path = write(badCRC)
        defer { unlink(path) }
        let e = try XCTUnwrap(error { () throws(ImportError) in _ = try loadSplit(path, .isal, blockSize: 1024) })
        XCTAssertEqual(e.message, "corrupt gzip data: incorrect data check")
    }

    func testTheCommandReportsAnErrorInTheSecondPartInOneLineWithExitTwo() throws {
        // 37 MB of JSON (mostly blanks) in a small gzip file: large enough to be split by default.
        let padding = String(repeating: " ", count: 200)
        let events = (0..<120_000).map { i in TestSupport.x("aten::op\(i % 50)", ts: "\(i * 2)", dur: "1") + padding }
        let big = Array(TestSupport.kineto(events).utf8)
        XCTAssertGreaterThan(big.count, Int(TraceLoader.splitThreshold))
        var gz = gzipped(big)
        gz[gz.count - 7] ^= 0x10  // the CRC: found at the end of the stream, by the second part
        let path = write(gz)
        defer { unlink(path) }
        let file = try FileSource(path: path)
        XCTAssertEqual(file.inflatedSizeGuess(), Int64(big.count))
        file.close()
        let r = TestSupport.run(["report", path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stdout, "")
        XCTAssertTrue(r.stderr.hasPrefix("stepscope: error: \(path): byte "), r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix(": corrupt gzip data: incorrect data check\n"), r.stderr)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1)
    }

    func testTwoPartsOnTheSharedTracesGiveTheModelOfOneStream() throws {
        guard let root = TestSupport.sharedTraces else { throw XCTSkip("../shared/traces is absent: the real-trace check is skipped") }
        // Two schemas (torch 2.15 on CPU, TraceLens' newest on GPU); larger traces take minutes here.
        for name in ["torch-cpu/single/single.pt.trace.json.gz", "tracelens/h100/Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz"] {
            let path = root + "/" + name
            let whole = try loadWhole(path, .isal)
            let split = try loadSplit(path, .isal, blockSize: 64 << 10)
            XCTAssertNotNil(split.start, "\(name) was not parsed in two parts")
            XCTAssertEqual(dump(split.trace), dump(whole), name)
        }
    }
}
