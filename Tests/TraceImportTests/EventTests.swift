@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// Event phases and their tables (docs/definitions.md, "Events").
final class EventTests: XCTestCase {
    // MARK: X

    func testCompleteEvent() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("aten::mm", ts: "10.5", dur: "2.25", pid: "3", tid: "4", args: #""Input Dims": [[2, 3], [3, 4]], "Sequence number": 7"#),
        ]))
        XCTAssertEqual(t.slices.count, 1)
        XCTAssertEqual(t.name(ofSlice: 0), "aten::mm")
        XCTAssertEqual(t.strings[t.slices.category[0]], "cpu_op")
        XCTAssertEqual(t.slices.kind[0], .cpuOp)
        XCTAssertEqual(t.slices.start[0], 10_500)
        XCTAssertEqual(t.slices.dur[0], 2_250)
        XCTAssertEqual(t.slices.end(0), 12_750)
        XCTAssertEqual(argDict(t, 0), ["Input Dims": "[[2, 3], [3, 4]]", "Sequence number": "7"])
        XCTAssertEqual(t.slices.correlation[0], -1)
        XCTAssertEqual(t.slices.externalID[0], -1)
        XCTAssertEqual(t.tracks.count, 1)
        XCTAssertEqual(t.strings[t.tracks.pid[0]], "3")
        XCTAssertEqual(t.strings[t.tracks.tid[0]], "4")
        XCTAssertEqual(t.eventCounts, [UInt8(ascii: "X"): 1])
    }

    func testCompleteEventWithoutDurationHasZeroDuration() throws {
        let t = try load(TestSupport.kineto([#"{"ph": "X", "name": "z", "pid": 1, "tid": 1, "ts": 3}"#]))
        XCTAssertEqual(t.slices.count, 1)
        XCTAssertEqual(t.slices.dur, [0])
        XCTAssertEqual(t.slices.start, [3_000])
    }

    func testNegativeDurationDropped() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("neg", ts: "1", dur: "-5", args: #""x": 1"#),
            TestSupport.x("neg2", ts: "1", dur: "-0.0005"),
            TestSupport.x("ok", ts: "2", dur: "1", args: #""y": 2"#),
        ]))
        XCTAssertEqual(t.slices.count, 1)
        XCTAssertEqual(t.name(ofSlice: 0), "ok")
        XCTAssertEqual(t.warnings.count("negative-duration"), 2)
        XCTAssertEqual(argDict(t, 0), ["y": "2"])
        XCTAssertEqual(t.args.count, 1)  // the dropped event's args are gone too
        XCTAssertEqual(t.eventCounts[UInt8(ascii: "X")], 3)
    }

    func testNumericCorrelationAndExternalIDColumns() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("cudaLaunchKernel", cat: "cuda_runtime", ts: "1", dur: "1", args: #""External id": 12, "correlation": 345, "cbid": 211"#),
            TestSupport.x("aten::mm", ts: "0", dur: "5", tid: "2", args: #""external id": 77"#),
        ]))
        let launch = slice(t, "cudaLaunchKernel")
        XCTAssertEqual(t.slices.correlation[launch], 345)
        XCTAssertEqual(t.slices.externalID[launch], 12)
        XCTAssertEqual(argDict(t, launch), ["cbid": "211"])
        XCTAssertEqual(t.slices.externalID[slice(t, "aten::mm")], 77)
        XCTAssertEqual(t.slices.kind[launch], .runtime)
    }

    // MARK: Missing ts

    func testEventWithoutTimestampIsDroppedWithAWarning() throws {
        // The spec does not say; the importer drops the event and counts it.
        let t = try load(TestSupport.kineto([
            #"{"ph": "X", "name": "nots", "pid": 1, "tid": 1, "dur": 5, "args": {"a": 1}}"#,
            #"{"ph": "i", "name": "nots-instant", "pid": 1, "tid": 1}"#,
            TestSupport.x("ok", ts: "1", dur: "1"),
        ]))
        XCTAssertEqual(t.slices.count, 1)
        XCTAssertEqual(t.name(ofSlice: 0), "ok")
        XCTAssertEqual(t.instants.count, 0)
        XCTAssertEqual(t.warnings.count("missing-timestamp"), 2)
        XCTAssertEqual(t.args.count, 0)
    }

    // MARK: B/E

    func testBeginEndPairsNestAndMatchPerThread() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "B", "name": "outer", "cat": "cpu_op", "pid": 1, "tid": 1, "ts": 0, "args": {"a": 1}}"#,
            #"{"ph": "B", "name": "inner", "cat": "cpu_op", "pid": 1, "tid": 1, "ts": 1}"#,
            #"{"ph": "B", "name": "other-thread", "cat": "cpu_op", "pid": 1, "tid": 2, "ts": 2}"#,
            #"{"ph": "E", "name": "ignored-name", "pid": 1, "tid": 1, "ts": 3, "args": {"ignored": 2}}"#,
            #"{"ph": "E", "pid": 1, "tid": 2, "ts": 4}"#,
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 10}"#,
        ]))
        XCTAssertEqual(t.slices.count, 3)
        let outer = slice(t, "outer"), inner = slice(t, "inner"), other = slice(t, "other-thread")
        XCTAssertEqual(t.slices.start[outer], 0)
        XCTAssertEqual(t.slices.dur[outer], 10_000)
        XCTAssertEqual(t.slices.start[inner], 1_000)
        XCTAssertEqual(t.slices.dur[inner], 2_000)
        XCTAssertEqual(t.slices.start[other], 2_000)
        XCTAssertEqual(t.slices.dur[other], 2_000)
        XCTAssertEqual(t.slices.parent[inner], Int32(outer))
        XCTAssertEqual(t.slices.depth[inner], 1)
        XCTAssertEqual(t.slices.parent[other], -1)
        XCTAssertEqual(argDict(t, outer), ["a": "1"])
        XCTAssertEqual(argDict(t, inner), [:])
        XCTAssertFalse(t.args.key.contains(t.strings.intern("ignored")))
        XCTAssertEqual(t.warnings.count("unmatched-end"), 0)
        XCTAssertEqual(t.warnings.count("unclosed-begin"), 0)
    }

    func testUnmatchedEndAndUnclosedBegin() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 0}"#,
            #"{"ph": "B", "name": "open-on-2", "pid": 1, "tid": 2, "ts": 1}"#,
            #"{"ph": "B", "name": "pair", "pid": 1, "tid": 1, "ts": 2}"#,
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 3}"#,
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 4}"#,  // closes nothing: tid 2's B is another thread
            #"{"ph": "B", "name": "never", "pid": 1, "tid": 1, "ts": 5}"#,
        ]))
        XCTAssertEqual(t.warnings.count("unmatched-end"), 2)
        XCTAssertEqual(t.warnings.count("unclosed-begin"), 2)
        XCTAssertEqual((0..<t.slices.count).map { t.name(ofSlice: $0) }, ["pair"])
        XCTAssertEqual(t.slices.dur, [1_000])
        XCTAssertEqual(t.eventCounts[UInt8(ascii: "B")], 3)
        XCTAssertEqual(t.eventCounts[UInt8(ascii: "E")], 3)
    }

    func testEndBeforeBeginGivesZeroDuration() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "B", "name": "back", "pid": 1, "tid": 1, "ts": 5}"#,
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 4}"#,
        ]))
        XCTAssertEqual(t.slices.dur, [0])
        XCTAssertEqual(t.slices.start, [5_000])
    }

    func testBeginEndPairKeepsTheBeginFilePositionForTies() throws {
        // Same start and duration: file order decides, and the pair's position is its B's.
        let t = try load(TestSupport.kineto([
            #"{"ph": "B", "name": "first", "pid": 1, "tid": 1, "ts": 0}"#,
            TestSupport.x("second", ts: "0", dur: "4"),
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 4}"#,
        ]))
        XCTAssertEqual((0..<t.slices.count).map { t.name(ofSlice: $0) }, ["first", "second"])
        XCTAssertEqual(t.slices.parent[1], 0)
    }

    // MARK: Instants, counters, memory

    func testInstants() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "i", "name": "mark", "pid": 1, "tid": 1, "ts": 2, "s": "g", "args": {"k": "v"}}"#,
            #"{"ph": "I", "name": "mark2", "pid": 1, "tid": 2, "ts": 3}"#,
            #"{"ph": "i", "name": "mark3", "pid": 1, "tid": 1, "ts": 4, "s": "p"}"#,
        ]))
        XCTAssertEqual(t.slices.count, 0)
        XCTAssertEqual(t.instants.count, 3)
        XCTAssertEqual(t.instants.name.map { t.strings[$0] }, ["mark", "mark2", "mark3"])
        XCTAssertEqual(t.instants.ts, [2_000, 3_000, 4_000])
        XCTAssertEqual(t.instants.scope, [UInt8(ascii: "g"), UInt8(ascii: "t"), UInt8(ascii: "p")])
        XCTAssertEqual(t.instants.argCount, [1, 0, 0])
        XCTAssertEqual(t.strings[t.args.key[Int(t.instants.argStart[0])]], "k")
        XCTAssertEqual(t.argString(t.args.value[Int(t.instants.argStart[0])]), "v")
        XCTAssertEqual(t.instants.track[0], t.instants.track[2])
        XCTAssertNotEqual(t.instants.track[0], t.instants.track[1])
    }

    func testCountersTwoSeries() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "C", "name": "GPU Memory", "pid": 1, "ts": 1, "args": {"used": 10, "free": 2.5, "label": "x"}}"#,
            #"{"ph": "C", "name": "GPU Memory", "pid": 1, "ts": 2, "args": {"used": -3, "free": "4"}}"#,
        ]))
        XCTAssertEqual(t.counters.count, 4)
        XCTAssertEqual(t.counters.series.map { t.strings[$0] }, ["used", "free", "used", "free"])
        XCTAssertEqual(t.counters.value, [10, 2.5, -3, 4])
        XCTAssertEqual(t.counters.ts, [1_000, 1_000, 2_000, 2_000])
        XCTAssertEqual(Set(t.counters.name.map { t.strings[$0] }), ["GPU Memory"])
        XCTAssertEqual(Set(t.counters.pid.map { t.strings[$0] }), ["1"])
        XCTAssertEqual(t.args.count, 0)
    }

    func testMemoryEvents() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "i", "cat": "cpu_instant_event", "s": "t", "name": "[memory]", "pid": 1, "tid": 7, "ts": 5, "args": {"Total Reserved": 2097152, "Total Allocated": 1024, "Bytes": 512, "Addr": 140234567890, "Device Type": 1, "Device Id": 3}}"#,
            #"{"ph": "i", "name": "[memory]", "pid": 1, "tid": 7, "ts": 6, "args": {"Total Reserved": 2097152, "Total Allocated": 512, "Bytes": -512, "Addr": 140234567890, "Device Type": 0, "Device Id": -1}}"#,
        ]))
        XCTAssertEqual(t.instants.count, 0)
        XCTAssertEqual(t.memory.count, 2)
        XCTAssertEqual(t.memory.ts, [5_000, 6_000])
        XCTAssertEqual(t.memory.bytes, [512, -512])
        XCTAssertEqual(t.memory.totalAllocated, [1024, 512])
        XCTAssertEqual(t.memory.totalReserved, [2_097_152, 2_097_152])
        XCTAssertEqual(t.memory.addr, [140_234_567_890, 140_234_567_890])
        XCTAssertEqual(t.memory.deviceType, [1, 0])
        XCTAssertEqual(t.memory.deviceID, [3, -1])
        XCTAssertEqual(t.memory.track[0], UInt32(track(t, pid: "1", tid: "7")!))
        XCTAssertEqual(t.args.count, 0)
    }

    // MARK: Metadata

    func testProcessAndThreadNames() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "args": {"name": "python3"}}"#,
            #"{"ph": "M", "name": "process_labels", "pid": 1, "tid": 0, "args": {"labels": "CPU"}}"#,
            #"{"ph": "M", "name": "process_sort_index", "pid": 1, "tid": 0, "args": {"sort_index": 5}}"#,
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 9, "args": {"name": "pt_autograd_0"}}"#,
            #"{"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": 9, "args": {"sort_index": 3}}"#,
            TestSupport.x("a", ts: "1", dur: "1", pid: "1", tid: "9"),
        ]))
        XCTAssertEqual(t.processes.count, 1)
        XCTAssertEqual(t.strings[t.processes[0].pid], "1")
        XCTAssertEqual(t.strings[t.processes[0].name], "python3")
        XCTAssertEqual(t.strings[t.processes[0].labels], "CPU")
        XCTAssertEqual(t.processes[0].sortIndex, 5)
        let k = try XCTUnwrap(track(t, pid: "1", tid: "9"))
        XCTAssertEqual(t.trackName(k), "pt_autograd_0")
        XCTAssertEqual(t.tracks.sortIndex[k], 3)
        XCTAssertEqual(t.slices.track[0], UInt32(k))
        XCTAssertEqual(t.warnings.entries.count, 0)
        XCTAssertEqual(t.eventCounts[UInt8(ascii: "M")], 5)
    }

    func testConflictingThreadNameLastWinsWithAWarning() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 9, "args": {"name": "first"}}"#,
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 9, "args": {"name": "second"}}"#,
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 9, "args": {"name": "third"}}"#,
        ]))
        XCTAssertEqual(t.trackName(try XCTUnwrap(track(t, pid: "1", tid: "9"))), "third")
        XCTAssertEqual(t.warnings.count("conflicting-metadata"), 2)
    }

    func testIdenticalRepeatedThreadNameIsNoConflict() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "M", "name": "thread_name", "pid": 1, "tid": 9, "args": {"name": "same"}}"#,
            #"{"ph": "M", "name": "thread_name", "pid": "1", "tid": "9", "args": {"name": "same"}}"#,
            #"{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "p"}}"#,
            #"{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "p"}}"#,
        ]))
        XCTAssertEqual(t.trackName(try XCTUnwrap(track(t, pid: "1", tid: "9"))), "same")
        XCTAssertEqual(t.warnings.count("conflicting-metadata"), 0)
        XCTAssertEqual(t.tracks.count, 1)
    }

    func testConflictingProcessName() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "a"}}"#,
            #"{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": "b"}}"#,
        ]))
        XCTAssertEqual(t.strings[t.processes[0].name], "b")
        XCTAssertEqual(t.warnings.count("conflicting-metadata"), 1)
    }

    // MARK: Flows

    func testFlows() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "s", "id": 42, "pid": 1, "tid": 1, "ts": 1, "cat": "ac2g", "name": "ac2g"}"#,
            #"{"ph": "t", "id": "0x2a", "pid": 1, "tid": 1, "ts": 2, "cat": "fwdbwd", "name": "fwdbwd"}"#,
            #"{"ph": "f", "id": 42, "pid": 0, "tid": 7, "ts": 3, "cat": "ac2g", "name": "ac2g", "bp": "e"}"#,
            #"{"ph": "f", "id": 43, "pid": 0, "tid": 7, "ts": 4, "cat": "ac2g", "name": "ac2g"}"#,
        ]))
        // Flows are counted, not kept: device activity links by correlation and External id.
        XCTAssertEqual(t.eventCounts, [UInt8(ascii: "s"): 1, UInt8(ascii: "t"): 1, UInt8(ascii: "f"): 2])
        XCTAssertEqual(t.slices.count, 0)
        XCTAssertEqual(t.warnings.entries.count, 0)
    }

    // MARK: Async

    func testAsyncSlices() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "b", "cat": "req", "id": "0x1", "name": "request", "pid": 1, "tid": 1, "ts": 0, "args": {"k": 1}}"#,
            #"{"ph": "b", "cat": "other", "id": "0x1", "name": "other-cat", "pid": 1, "tid": 1, "ts": 1}"#,
            #"{"ph": "n", "cat": "req", "id": "0x1", "name": "progress", "pid": 1, "tid": 1, "ts": 2}"#,
            #"{"ph": "e", "cat": "req", "id": "0x1", "pid": 1, "tid": 1, "ts": 5}"#,
            #"{"ph": "e", "cat": "req", "id": "0x2", "pid": 1, "tid": 1, "ts": 6}"#,
            #"{"ph": "b", "cat": "req", "id": "0x3", "name": "never", "pid": 1, "tid": 1, "ts": 7}"#,
        ]))
        let r = slice(t, "request")
        XCTAssertEqual(t.slices.start[r], 0)
        XCTAssertEqual(t.slices.dur[r], 5_000)
        XCTAssertEqual(argDict(t, r), ["k": "1"])
        XCTAssertEqual(t.tracks.kind[Int(t.slices.track[r])], .async)
        XCTAssertTrue(slices(t, "other-cat").isEmpty)  // a different cat: never closed
        XCTAssertTrue(slices(t, "never").isEmpty)
        XCTAssertEqual(t.warnings.count("unmatched-end"), 1)
        XCTAssertEqual(t.warnings.count("unclosed-begin"), 2)
        XCTAssertEqual(t.instants.count, 1)
        XCTAssertEqual(t.instants.track[0], t.slices.track[r])
        XCTAssertEqual(t.instants.ts, [2_000])
        XCTAssertEqual(t.cpuTracks, [])
    }

    // MARK: Unknown phases

    func testUnknownPhasesAreCountedAndSkipped() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "Z", "name": "z1", "pid": 1, "tid": 1, "ts": 1, "args": {"a": 1}}"#,
            #"{"ph": "Z", "name": "z2", "pid": 1, "tid": 1, "ts": 2}"#,
            #"{"ph": "P", "name": "sample", "pid": 1, "tid": 1, "ts": 3}"#,
            TestSupport.x("ok", ts: "1", dur: "1"),
        ]))
        XCTAssertEqual(t.slices.count, 1)
        XCTAssertEqual(t.instants.count, 0)
        XCTAssertEqual(t.warnings.count("unknown-phase"), 3)
        XCTAssertEqual(t.eventCounts[UInt8(ascii: "Z")], 2)
        XCTAssertEqual(t.eventCounts[UInt8(ascii: "P")], 1)
        XCTAssertEqual(t.eventCounts[UInt8(ascii: "X")], 1)
        XCTAssertEqual(t.args.count, 0)
    }

    // MARK: Tracks

    func testNumericAndStringIdsAreTheSameTrack() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("a", ts: "1", dur: "1", pid: "\"7\"", tid: "\"25738\""),
            TestSupport.x("b", ts: "3", dur: "1", pid: "7", tid: "25738"),
            #"{"ph": "s", "id": 1, "pid": 7, "tid": 25738, "ts": 1, "cat": "fwdbwd"}"#,
            #"{"ph": "i", "name": "[memory]", "pid": 7, "tid": 25738, "ts": 2, "args": {"Bytes": 1}}"#,
            TestSupport.x("c", ts: "1", dur: "1", pid: "7", tid: "25739"),
        ]))
        XCTAssertEqual(t.tracks.count, 2)
        let k = try XCTUnwrap(track(t, pid: "7", tid: "25738"))
        XCTAssertEqual(t.slices.track[slice(t, "a")], UInt32(k))
        XCTAssertEqual(t.slices.track[slice(t, "b")], UInt32(k))
        XCTAssertNotEqual(t.slices.track[slice(t, "c")], UInt32(k))
        XCTAssertEqual(t.memory.track, [UInt32(k)])
        XCTAssertEqual(t.tracks.sliceRange[k].count, 2)
    }

    func testTrackKinds() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("PyTorch Profiler (0)", cat: "Trace", ts: "0", dur: "100", pid: "\"Spans\"", tid: "\"PyTorch Profiler\""),
            TestSupport.x("aten::mm", ts: "1", dur: "1", pid: "1", tid: "1"),
            TestSupport.x("gemm", cat: "kernel", ts: "1", dur: "1", pid: "0", tid: "7"),
            TestSupport.x("sync", cat: "cuda_sync", ts: "3", dur: "1", pid: "0", tid: "7"),
            TestSupport.x("Memcpy HtoD", cat: "gpu_memcpy", ts: "1", dur: "1", pid: "0", tid: "8"),
            TestSupport.x("Memset", cat: "gpu_memset", ts: "1", dur: "1", pid: "0", tid: "9"),
            TestSupport.x("annot", cat: "gpu_user_annotation", ts: "1", dur: "1", pid: "0", tid: "10"),
            TestSupport.x("py", cat: "python_function", ts: "1", dur: "1", pid: "1", tid: "2"),
            TestSupport.x("spans-and-op", cat: "Trace", ts: "1", dur: "1", pid: "1", tid: "3"),
            TestSupport.x("op", ts: "2", dur: "1", pid: "1", tid: "3"),
        ]))
        func kind(_ pid: String, _ tid: String) -> TrackKind? { track(t, pid: pid, tid: tid).map { t.tracks.kind[$0] } }
        XCTAssertEqual(kind("Spans", "PyTorch Profiler"), .spans)
        XCTAssertEqual(kind("1", "1"), .cpuThread)
        XCTAssertEqual(kind("0", "7"), .gpuStream)
        XCTAssertEqual(kind("0", "8"), .gpuStream)
        XCTAssertEqual(kind("0", "9"), .gpuStream)
        XCTAssertEqual(kind("0", "10"), .gpuStream)
        XCTAssertEqual(kind("1", "2"), .cpuThread)
        XCTAssertEqual(kind("1", "3"), .cpuThread)  // not all Trace
    }

    // MARK: Top-level metadata

    func testDistributedInfo() throws {
        let t = try load(TestSupport.kineto([], extra: #"""
        "distributedInfo": {"backend": "nccl", "rank": 3, "world_size": 8, "pg_count": 2,
          "pg_config": [{"pg_name": "0", "pg_desc": "default_pg", "backend_config": "cuda:nccl", "pg_size": 8, "ranks": [0, 1, 2, 3, 4, 5, 6, 7]},
                        {"pg_name": "1", "pg_size": "2", "ranks": [2, 3]}],
          "nccl_version": "2.18.1"}
        """#))
        let d = try XCTUnwrap(t.metadata.distributed)
        XCTAssertEqual(d.backend, "nccl")
        XCTAssertEqual(d.rank, 3)
        XCTAssertEqual(d.worldSize, 8)
        XCTAssertEqual(d.processGroups, [
            ProcessGroup(name: "0", description: "default_pg", size: 8, ranks: [0, 1, 2, 3, 4, 5, 6, 7]),
            ProcessGroup(name: "1", description: nil, size: 2, ranks: [2, 3]),
        ])
        XCTAssertEqual(t.rank, 3)
    }

    func testDistributedInfoAfterEventsSetsTheRank() throws {
        let t = try load(#"{"traceEvents": [], "distributedInfo": {"rank": 5}}"#)
        XCTAssertEqual(t.rank, 5)
        XCTAssertEqual(t.metadata.distributed?.worldSize, nil)
    }

    func testDeviceProperties() throws {
        let t = try load(TestSupport.kineto([], extra: #"""
        "deviceProperties": [
          {"id": 0, "name": "NVIDIA H100 80GB HBM3", "totalGlobalMem": 85029158912, "computeMajor": 9, "numSms": 132},
          {"id": 1, "name": "NVIDIA H100 80GB HBM3"},
          {"name": "no id"}
        ]
        """#))
        XCTAssertEqual(t.metadata.devices, [
            DeviceInfo(id: 0, name: "NVIDIA H100 80GB HBM3", totalGlobalMemory: 85_029_158_912, smCount: 132),
            DeviceInfo(id: 1, name: "NVIDIA H100 80GB HBM3", totalGlobalMemory: nil, smCount: nil),
        ])
    }
}
