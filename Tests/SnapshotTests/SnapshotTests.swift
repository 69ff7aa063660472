@testable import Analysis
import Foundation
import Report
import TestSupport
@testable import TraceImport
import TraceModel
import XCTest

/// Runs python3 with `args`; nil (after a message) when python3 is missing or fails.
func python(_ args: [String], stdin: String? = nil) -> Data? {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3"] + args
    let out = Pipe(), input = Pipe()
    p.standardOutput = out
    p.standardInput = input
    do { try p.run() } catch { print("skipped: python3 not runnable (\(error))"); return nil }
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    input.fileHandleForWriting.closeFile()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { print("skipped: python3 failed (\(p.terminationStatus))"); return nil }
    return data
}

/// Writes `expression` (Python) pickled at `proto` to a temporary file and returns its path.
func pickled(_ expression: String, proto: Int) -> String? {
    let path = TestSupport.temporaryPath(".pickle")
    let script = "import pickle, sys\nv = \(expression)\nopen(sys.argv[1], 'wb').write(pickle.dumps(v, protocol=\(proto)))\n"
    guard python(["-c", script, path]) != nil else { return nil }
    return path
}

let library = "/usr/lib/python3/site-packages/torch/"

/// A hand-written snapshot (see testHandWrittenReplay for the numbers worked out by hand).
let handWritten = """
{'segments': [{'device': 0, 'address': 4096, 'total_size': 16384, 'is_expandable': False, 'stream': 0,
               'blocks': [{'address': 4096, 'size': 512, 'requested_size': 500, 'state': 'active_allocated',
                           'frames': [{'name': 'main', 'filename': '/home/u/train.py', 'line': 3}]},
                          {'address': 4608, 'size': 1000, 'requested_size': 0, 'state': 'inactive', 'frames': []},
                          {'address': 16384, 'size': 1000, 'requested_size': 1000, 'state': 'active_allocated', 'frames': []}]}],
 'device_traces': [[
   {'action': 'free_completed', 'addr': 5120, 'size': 1024, 'stream': 0, 'frames': []},
   {'action': 'alloc', 'addr': 5120, 'size': 2048, 'stream': 0, 'frames': [
       {'name': 'empty', 'filename': '\(library)x.py', 'line': 1}, {'name': 'inner', 'filename': '\(library)y.py', 'line': 2},
       {'name': 'step', 'filename': '/home/u/train.py', 'line': 5}, {'name': 'main', 'filename': '/home/u/train.py', 'line': 9}]},
   {'action': 'segment_alloc', 'addr': 12288, 'size': 8192, 'stream': 0, 'frames': []},
   {'action': 'alloc', 'addr': 12288, 'size': 4096, 'stream': 0, 'frames': [
       {'name': 'step', 'filename': '/home/u/train.py', 'line': 6}, {'name': 'main', 'filename': '/home/u/train.py', 'line': 9}]},
   {'action': 'free_requested', 'addr': 5120, 'size': 2048, 'stream': 0, 'frames': []},
   {'action': 'alloc', 'addr': 16384, 'size': 1000, 'stream': 0, 'frames': [
       {'name': 'step', 'filename': '/home/u/train.py', 'line': 6}, {'name': 'main', 'filename': '/home/u/train.py', 'line': 9}]},
   {'action': 'free_completed', 'addr': 5120, 'size': 2048, 'stream': 0, 'frames': []},
   {'action': 'free_completed', 'addr': 12288, 'size': 4096, 'stream': 0, 'frames': []},
   {'action': 'segment_free', 'addr': 12288, 'size': 8192, 'stream': 0, 'frames': []},
   {'action': 'oom', 'addr': 0, 'size': 1 << 30, 'device_free': 123, 'stream': 0, 'frames': []}]]}
"""

final class SnapshotTests: XCTestCase {
    func testHandWrittenReplay() throws {
        // By hand: at the start A (512, at the end too) and X (1024, freed by event 0) are live:
        // 1536 allocated, reserved 16384 - 8192 + 8192 = 16384. Then 512, 2560, 2560, 6656,
        // 6656 (free only requested), 7656 = the peak at event 5 with reserved 24576; then 5608,
        // 1512; the oom (event 9) asks for 1 GiB with 1512 allocated and 16384 reserved.
        guard let path = pickled(handWritten, proto: 4) else { return }
        defer { unlink(path) }
        let trace = try TraceLoader.load(path: path)
        let devices = MemorySnapshotAnalysis.analyze(trace)
        XCTAssertEqual(devices.count, 1)
        let d = try XCTUnwrap(devices.first)
        XCTAssertEqual(d.initialAllocated, 1536)
        XCTAssertEqual(d.initialReserved, 16384)
        XCTAssertEqual(d.peakAllocated, 7656)
        XCTAssertEqual(d.peakEvent, 5)
        XCTAssertEqual(d.reservedAtPeak, 24576)
        XCTAssertEqual(d.peakReserved, 24576)
        XCTAssertEqual(d.unmatchedFrees, 0)
        XCTAssertFalse(d.timed)
        // Live at the peak by folded stack: E and F share one; C's two torch frames fold into one.
        XCTAssertEqual(d.liveAtPeak, [
            SnapshotStackGroup(frames: ["main (train.py:9)", "step (train.py:6)"], bytes: 5096, count: 2),
            SnapshotStackGroup(frames: ["main (train.py:9)", "step (train.py:5)", "inner (torch/y.py:2) +1 library frames"], bytes: 2048, count: 1),
            SnapshotStackGroup(frames: ["main (train.py:3)"], bytes: 512, count: 1),
        ])
        XCTAssertEqual(d.liveAtPeak[1].stack.first, "inner (torch/y.py:2) +1 library frames")
        let oom = try XCTUnwrap(d.oom)
        XCTAssertEqual(oom.event, 9)
        XCTAssertEqual(oom.requested, 1 << 30)
        XCTAssertEqual(oom.deviceFree, 123)
        XCTAssertEqual(oom.allocated, 1512)
        XCTAssertEqual(oom.reserved, 16384)
        XCTAssertEqual(oom.live.map(\.bytes), [1000, 512])
        // The report's memory over time is the same replay: one sample per event that changes
        // allocated or reserved (events 0-3 and 5-8), after it; the rank has no [memory] rows.
        XCTAssertEqual(trace.memory.count, 0)
        let mem = RunReport(run: TraceRun(ranks: [trace])).ranks[0].memory
        XCTAssertEqual(mem.map(\.peakAllocated), [7656])
        XCTAssertEqual(mem.first?.initialAllocated, 1536)
        XCTAssertEqual(mem.first?.reservedAtPeak, 24576)
        XCTAssertEqual(mem.first?.samples.ts, [0, 1, 2, 3, 5, 6, 7, 8])
        XCTAssertEqual(mem.first?.samples.allocated, [512, 2560, 2560, 6656, 7656, 5608, 1512, 1512])
        XCTAssertEqual(mem.first?.samples.reserved, [16384, 16384, 24576, 24576, 24576, 24576, 24576, 16384])
    }

    func testBlockFreedBeforeTheTraceStartsLiveWithoutAStack() throws {
        guard let path = pickled(handWritten, proto: 4) else { return }
        defer { unlink(path) }
        let snap = try XCTUnwrap(try TraceLoader.load(path: path).memorySnapshot)
        XCTAssertEqual(snap.devices[0].initialBlocks.map(\.addr), [4096, 5120])
        XCTAssertEqual(snap.devices[0].initialBlocks.map(\.size), [512, 1024])
        XCTAssertEqual(snap.devices[0].initialBlocks[1].stack, -1)
    }

    func testEveryProtocolReadsTheSameSnapshot() throws {
        var peaks: [[Int64]] = []
        for proto in 2...5 {
            guard let path = pickled(handWritten, proto: proto) else { return }
            defer { unlink(path) }
            let d = MemorySnapshotAnalysis.analyze(try TraceLoader.load(path: path))
            peaks.append(d.map(\.peakAllocated) + d.map { Int64($0.peakEvent) } + d.map { Int64($0.liveCountAtPeak) })
        }
        XCTAssertEqual(peaks, [[Int64]](repeating: [7656, 5, 4], count: 4))
    }

    func testPlainValuesOfEveryProtocol() throws {
        let value = "{'a': [1, -2, 255, 65535, -70000, 2**40, -2**63, 2**70, 1.5, True, False, None, (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), 'é' * 300, 'x'], 'b': {'k': [[], {}]}}"
        for proto in 2...5 {
            guard let path = pickled(value, proto: proto) else { return }
            defer { unlink(path) }
            let bytes = try FileSource.readAll(path: path)
            let v = try Unpickler(source: MemorySource(bytes), name: path, size: Int64(bytes.count)).run()
            guard case let .dict(top) = v, let a = top["a"]?.items else { return XCTFail("protocol \(proto): not the dict") }
            XCTAssertEqual(a.prefix(7).map(\.int), [1, -2, 255, 65535, -70000, 1 << 40, Int64.min], "protocol \(proto)")
            guard case .largeInt(negative: false) = a[7] else { return XCTFail("protocol \(proto): 2**70") }
            guard case .float(1.5) = a[8], case .bool(true) = a[9], case .bool(false) = a[10], case .none = a[11] else {
                return XCTFail("protocol \(proto): scalars")
            }
            XCTAssertEqual(a[12...16].map { $0.items?.count }, [0, 1, 2, 3, 4], "protocol \(proto)")
            XCTAssertEqual(a[17].string, String(repeating: "é", count: 300))
            XCTAssertEqual(a[18].string, "x")
            guard case let .dict(b)? = top["b"], let k = b["k"]?.items, k.count == 2 else { return XCTFail("protocol \(proto): nested") }
        }
        // Bytes (protocol 3 and up: protocol 2 pickles them through a global, refused).
        guard let path = pickled("[b'ab' * 200, b'', bytearray(b'xyz')]", proto: 5) else { return }
        defer { unlink(path) }
        let bytes = try FileSource.readAll(path: path)
        let v = try Unpickler(source: MemorySource(bytes), name: path, size: Int64(bytes.count)).run()
        guard case let .bytes(first)? = v.items?.first else { return XCTFail("bytes") }
        XCTAssertEqual(first.count, 400)
    }

    /// Hand-written pickles that name Python objects: every one is refused at its opcode's offset.
    func testRefusesGlobalsAndReduce() throws {
        let cases: [(bytes: [UInt8], opcode: String, offset: Int)] = [
            ([0x80, 0x02] + Array("cos\nsystem\n(S'true'\ntR.".utf8), "GLOBAL", 2),
            ([0x80, 0x04, 0x8C, 0x02] + Array("os".utf8) + [0x8C, 0x06] + Array("system".utf8) + [0x93, 0x2E], "STACK_GLOBAL", 14),
            ([0x80, 0x02, 0x5D, 0x29, 0x52, 0x2E], "REDUCE", 4),
            ([0x80, 0x03, 0x7D, 0x7D, 0x62, 0x2E], "BUILD", 4),
            ([0x80, 0x02, 0x5D, 0x29, 0x81, 0x2E], "NEWOBJ", 4),
            ([0x80, 0x02, 0x82, 0x01, 0x2E], "EXT1", 2),
        ]
        for c in cases {
            XCTAssertThrowsError(try TraceLoader.load(bytes: c.bytes, name: "evil.pkl"), c.opcode) { error in
                let e = error as? ImportError
                XCTAssertEqual(e?.offset, Int64(c.offset), c.opcode)
                XCTAssertTrue(e?.message.contains("refused pickle opcode \(c.opcode)") ?? false, "\(String(describing: e))")
            }
        }
    }

    /// Protocols 0 and 1 (text pickles) and unknown protocols are refused in one line, not read
    /// as JSON; a file not named like a pickle still is.
    func testOtherProtocolsAreRefused() throws {
        for proto in 0...1 {
            guard let path = pickled(handWritten, proto: proto) else { return }
            defer { unlink(path) }
            XCTAssertThrowsError(try TraceLoader.load(path: path)) { error in
                XCTAssertTrue("\(error)".contains("byte 0: not a pickle of protocol 2 to 5"), "\(error)")
            }
        }
        XCTAssertThrowsError(try TraceLoader.load(bytes: [0x80, 0x06, 0x7D, 0x2E], name: "new.json")) { error in
            XCTAssertEqual("\(error)", "new.json: byte 1: pickle protocol 6 is not read (protocols 2 to 5 are)")
        }
        XCTAssertThrowsError(try TraceLoader.load(bytes: Array("(dp0\n.".utf8), name: "trace.json")) { error in
            XCTAssertFalse("\(error)".contains("pickle"), "\(error)")
        }
    }

    /// Memo indices are any 32-bit number: a far one reads back right, without a bit for every
    /// number below it.
    func testFarMemoIndicesAreSparse() throws {
        // LONG_BINPUT 0x7FFFFFFF of a list, LONG_BINGET it into a dict: {'a': [1], 'b': [1]}.
        let far: [UInt8] = [0xFF, 0xFF, 0xFF, 0x7F]
        let bytes: [UInt8] = [0x80, 0x04, 0x7D, 0x28, 0x8C, 0x01, 0x61, 0x5D, 0x4B, 0x01, 0x61, 0x72] + far
            + [0x8C, 0x01, 0x62, 0x6A] + far + [0x75, 0x2E]
        let refs = try Unpickler.referencedMemo(source: MemorySource(bytes), name: "far.pkl", size: Int64(bytes.count))
        XCTAssertTrue(refs.contains(0x7FFF_FFFF))
        XCTAssertFalse(refs.contains(0x7FFF_FFFE))
        XCTAssertTrue(refs.words.isEmpty)
        let v = try Unpickler(source: MemorySource(bytes), name: "far.pkl", size: Int64(bytes.count), referenced: refs).run()
        guard case let .dict(top) = v else { return XCTFail("not the dict") }
        XCTAssertEqual(top["a"]?.items?.map(\.int), [1])
        XCTAssertEqual(top["b"]?.items?.map(\.int), [1])
        var set = Bitset()
        for i in [0, 63, 64, Bitset.denseLimit - 1, Bitset.denseLimit, Int(Int32.max)] { set.insert(i) }
        XCTAssertEqual([0, 1, 63, 64, 65, Bitset.denseLimit - 1, Bitset.denseLimit, Int(Int32.max), Int(Int32.max) - 1].map(set.contains),
                       [true, false, true, true, false, true, true, true, false])
        XCTAssertLessThanOrEqual(set.words.count, Bitset.denseLimit / 64)
    }

    /// A peak in the state the segments give before the first event reads "before the trace".
    func testAPeakBeforeTheTraceIsWordedSo() throws {
        let value = """
            {'segments': [{'device': 0, 'address': 4096, 'total_size': 8192, 'stream': 0, 'blocks': [
                {'address': 4096, 'size': 4096, 'requested_size': 4096, 'state': 'active_allocated', 'frames': []},
                {'address': 8192, 'size': 4096, 'requested_size': 0, 'state': 'inactive', 'frames': []}]}],
             'device_traces': [[{'action': 'free_completed', 'addr': 8192, 'size': 512, 'stream': 0, 'frames': []}]]}
            """
        guard let path = pickled(value, proto: 4) else { return }
        defer { unlink(path) }
        let report = RunReport(run: try TraceLoader.loadRun(paths: [path]))
        XCTAssertTrue(report.render(.text).contains("peak 4.50 KiB allocated before the trace, 8.00 KiB reserved"), report.render(.text))
        XCTAssertTrue(report.render(.markdown).contains("peak 4.50 KiB allocated before the trace,"), report.render(.markdown))
    }

    func testRefusalAndTruncationAreOneLineExitTwo() throws {
        let evil = TestSupport.temporaryPath(".pkl")
        TestSupport.writeFile(evil, [0x80, 0x02] + Array("cos\nsystem\n(S'echo pwned'\ntR.".utf8))
        defer { unlink(evil) }
        var r = TestSupport.run(["report", evil])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("byte 2: refused pickle opcode GLOBAL"), r.stderr)
        XCTAssertFalse(r.stdout.contains("pwned"))

        guard let whole = pickled(handWritten, proto: 4) else { return }
        defer { unlink(whole) }
        let bytes = try FileSource.readAll(path: whole)
        let cut = TestSupport.temporaryPath(".pkl")
        TestSupport.writeFile(cut, Array(bytes.prefix(bytes.count / 2)))
        defer { unlink(cut) }
        r = TestSupport.run(["report", cut])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("byte \(bytes.count / 2): truncated pickle"), r.stderr)
        // A length field that runs past the end of the file.
        TestSupport.writeFile(cut, [0x80, 0x04, 0x58, 0xFF, 0xFF, 0xFF, 0x00, 0x61, 0x2E])
        r = TestSupport.run(["report", cut])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("byte 2: length 16777215 runs past the end of the file"), r.stderr)
    }

    func testReportFormats() throws {
        guard let path = pickled(handWritten, proto: 4) else { return }
        defer { unlink(path) }
        let report = RunReport(run: try TraceLoader.loadRun(paths: [path]))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.render(.json).utf8)) as? [String: Any])
        let memory = try XCTUnwrap(((json["ranks"] as? [[String: Any]])?.first)?["memory"] as? [[String: Any]])
        XCTAssertEqual(memory.count, 1)
        XCTAssertEqual(memory[0]["peak_bytes"] as? Int, 7656)
        XCTAssertEqual(memory[0]["source"] as? String, "snapshot")
        let top = try XCTUnwrap(memory[0]["top_live"] as? [[String: Any]])
        XCTAssertEqual(top.first?["stack"] as? [String], ["step (train.py:6)", "main (train.py:9)"])
        XCTAssertEqual((memory[0]["oom"] as? [String: Any])?["requested_bytes"] as? Int, 1 << 30)
        let text = report.render(.text)
        XCTAssertTrue(text.contains("Memory snapshot cuda:0: peak 7.48 KiB allocated at event 5 of 10"), text)
        XCTAssertTrue(text.contains("out of memory at event 9 of 10: 1.00 GiB requested"), text)
        let markdown = report.render(.markdown)
        XCTAssertTrue(markdown.contains("| 4.98 KiB | 2 | `step (train.py:6)` < `main (train.py:9)` |"))
        // A snapshot alone has no timeline: no empty step or operator tables.
        for empty in ["all steps", "Top operators", "| step | dur |", "| self | total |"] {
            XCTAssertFalse(text.contains(empty) || markdown.contains(empty), empty)
        }
    }

    /// The benchmark's generated snapshot (APPENDS batches of 1000, shared frames, `time_us`)
    /// against the independent replay in snapshot_reference.py.
    func testGeneratedSnapshotMatchesTheReferenceReplay() throws {
        let path = TestSupport.temporaryPath(".pkl")
        defer { unlink(path) }
        guard python([TestSupport.packageRoot + "/bench/gen_snapshot.py", path, "3", "2"]) != nil,
              let data = python([TestSupport.packageRoot + "/Tests/SnapshotTests/snapshot_reference.py", path]) else { return }
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        let run = try TraceLoader.loadRun(paths: [path])
        let report = RunReport(run: run)
        let devices = report.ranks[0].snapshot
        XCTAssertEqual(devices.count, 2)
        XCTAssertTrue(devices.allSatisfy { $0.events > 1000 && $0.peakAllocated > 0 }, "\(devices.map(\.events))")
        XCTAssertEqual(devices.map(\.device), reference.map { $0["device"] as? Int ?? -1 })
        XCTAssertEqual(devices.map(\.peakAllocated), reference.map { Int64($0["peak"] as? Int ?? -1) })
        XCTAssertEqual(devices.map(\.peakEvent), reference.map { $0["peak_event"] as? Int ?? -2 })
        XCTAssertEqual(devices.map(\.liveCountAtPeak), reference.map { ($0["live"] as? [[Int]])?.count ?? -1 })
        XCTAssertTrue(devices.allSatisfy(\.timed))
        // The report's memory samples peak at the same bytes; their count is the events that change totals.
        XCTAssertEqual(report.ranks[0].memory.map { $0.samples.allocated.max() }, devices.map(\.peakAllocated))
        let snap = try XCTUnwrap(run.ranks[0].memorySnapshot)
        XCTAssertEqual(report.ranks[0].memory.map(\.samples.count),
                       snap.devices.map { d in d.events.action.filter(\.changesTotals).count })
        XCTAssertEqual(run.ranks[0].warnings.count("snapshot-inconsistent"), 0)
    }

    /// A directory's `.pkl` and `.pickle` files are ranks of the run, like its traces.
    func testDirectoryExpandsToItsSnapshots() throws {
        guard let path = pickled(handWritten, proto: 4) else { return }
        defer { unlink(path) }
        let dir = NSTemporaryDirectory() + "snapdir-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bytes = try FileSource.readAll(path: path)
        TestSupport.writeFile(dir + "/b_rank1.pickle", bytes)
        TestSupport.writeFile(dir + "/a_rank0.pkl", bytes)
        TestSupport.writeFile(dir + "/c.pkl.bak", bytes)
        TestSupport.writeFile(dir + "/notes.txt", Array("not a trace".utf8))
        let run = try TraceLoader.loadRun(paths: [dir])
        XCTAssertEqual(run.ranks.map(\.source), [dir + "/a_rank0.pkl", dir + "/b_rank1.pickle"])
        XCTAssertEqual(run.ranks.map(\.rank), [0, 1])
        XCTAssertEqual(run.ranks.map { MemorySnapshotAnalysis.analyze($0).map(\.peakAllocated) }, [[7656], [7656]])
    }

    /// The shared snapshots against the independent replay in snapshot_reference.py.
    func testSharedSnapshotsMatchTheReferenceReplay() throws {
        guard let shared = TestSupport.sharedTraces else {
            print("skipped: ../shared/traces is absent")
            return
        }
        let dir = shared + "/memory-snapshots"
        let files = ["snapshot_expandable.pkl", "snapshot_with_empty_cache.pkl", "snapshot_with_multi_devices.pkl"]
        for f in files {
            let path = dir + "/" + f
            guard let data = python([TestSupport.packageRoot + "/Tests/SnapshotTests/snapshot_reference.py", path]) else { return }
            let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            let trace = try TraceLoader.load(path: path)
            let snap = try XCTUnwrap(trace.memorySnapshot)
            let devices = MemorySnapshotAnalysis.analyze(trace)
            XCTAssertEqual(devices.map(\.device), reference.map { $0["device"] as? Int ?? -1 }, f)
            for (d, ref) in zip(devices, reference) {
                XCTAssertEqual(d.peakAllocated, Int64(ref["peak"] as? Int ?? -1), f)
                XCTAssertEqual(d.peakEvent, ref["peak_event"] as? Int, f)
                XCTAssertEqual(d.reservedAtPeak, Int64(ref["reserved_at_peak"] as? Int ?? -1), f)
                XCTAssertEqual(d.unmatchedFrees, 0, f)
                // The live blocks at the peak, address by address.
                let device = try XCTUnwrap(snap.devices.first { $0.device == d.device })
                var replay = SnapshotReplay(device)
                for i in 0...max(0, d.peakEvent) where d.peakEvent >= 0 { replay.apply(i) }
                let live = replay.live.map { [Int($0.key), Int($0.value.size)] }.sorted { $0[0] < $1[0] }
                XCTAssertEqual(live, ref["live"] as? [[Int]], f)
                XCTAssertEqual(d.liveCountAtPeak, live.count, f)
                XCTAssertEqual(d.liveAtPeak.reduce(0) { $0 + $1.bytes }, d.peakAllocated, f)
            }
            XCTAssertEqual(trace.warnings.count("snapshot-inconsistent"), 0, f)
        }
    }
}

final class SnapshotDiffTests: XCTestCase {
    /// Block E (4096 bytes, stack step:6 < main:9) becomes 40960 in the candidate: its peak is
    /// 7656 + 36864 = 44520 and that stack grew by 36864 bytes (5096 -> 41960 with block F).
    func testDiffComparesPeaksAndListsGrownStacks() throws {
        let grown = handWritten.replacingOccurrences(of: "'addr': 12288, 'size': 4096", with: "'addr': 12288, 'size': 40960")
        XCTAssertNotEqual(grown, handWritten)
        guard let base = pickled(handWritten, proto: 4), let candidate = pickled(grown, proto: 5) else { return }
        defer { unlink(base); unlink(candidate) }
        let new = MemorySnapshotAnalysis.analyze(try TraceLoader.load(path: candidate))
        XCTAssertEqual(new.map(\.peakAllocated), [44520])
        let expected = [SnapshotStackChange(device: "cuda:0", stack: ["step (train.py:6)", "main (train.py:9)"], baseBytes: 5096, newBytes: 41960)]
        let changes = MemorySnapshotAnalysis.grownStacks(base: MemorySnapshotAnalysis.peakStacks(MemorySnapshotAnalysis.analyze(try TraceLoader.load(path: base))),
                                                         new: MemorySnapshotAnalysis.peakStacks(new))
        XCTAssertEqual(changes, expected)
        // The stacks travel in the samples (and in a samples file): the diff needs no second load.
        let samples = try [base, candidate].map { RunReport(run: try TraceLoader.loadRun(paths: [$0])).samples }
        XCTAssertEqual(samples[0].snapshotStacks["cuda:0"]?.map(\.bytes), [5096, 2048, 512])
        let saved = try samples.map { try SamplesFile.decode(Array(SamplesFile.encode($0).utf8), file: "s.json") }
        XCTAssertEqual(saved.map(\.snapshotStacks), samples.map(\.snapshotStacks))
        XCTAssertEqual(Analyzer.diff(base: saved[0], candidate: saved[1], options: DiffOptions()).grownStacks, expected)
        XCTAssertThrowsError(try SamplesFile.decode(Array(#"{"schema": "stepscope.samples", "version": 2, "steps": [], "metrics": [], "snapshot_stacks": [{"device": "cuda:0", "frames": [1], "bytes": 1, "count": 1}]}"#.utf8), file: "bad.json")) {
            XCTAssertTrue(($0 as? ImportError)?.message.contains("snapshot_stacks[0].frames") ?? false, "\($0)")
        }

        let r = TestSupport.run(["diff", base, candidate])
        XCTAssertTrue(r.stdout.contains("memory peak cuda:0"), r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("7.48 KiB") && r.stdout.contains("43.5 KiB"), r.stdout)
        XCTAssertTrue(r.stdout.contains("stacks that grew at the peak"), r.stdout)
        XCTAssertTrue(r.stdout.contains("+36.0 KiB  4.98 KiB   41.0 KiB  step (train.py:6) < main (train.py:9)"), r.stdout)
        let json = TestSupport.run(["diff", base, candidate, "--format", "json"])
        let doc = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let grownJSON = try XCTUnwrap(doc["grown_stacks"] as? [[String: Any]])
        XCTAssertEqual(grownJSON.first?["growth_bytes"] as? Int, 36864)
        XCTAssertEqual(grownJSON.first?["stack"] as? [String], ["step (train.py:6)", "main (train.py:9)"])
        XCTAssertTrue(TestSupport.run(["diff", base, candidate, "--format", "markdown"]).stdout.contains("| cuda:0 | +36.0 KiB | 4.98 KiB | 41.0 KiB |"))
    }
}
