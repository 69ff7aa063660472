@testable import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Memory over time, peaks and live allocations per device (docs/definitions.md, "Memory").
final class MemoryAnalysisTests: XCTestCase {
    let x = TestSupport.x

    /// A `[memory]` instant event; `total`/`reserved`/`addr` nil leave the arg out.
    func mem(_ ts: String, _ bytes: Int64, addr: Int64? = nil, total: Int64? = nil, reserved: Int64? = nil,
             type: Int = 1, id: Int = 0, pid: String = "1", tid: String = "1") -> String {
        var args = ["\"Device Type\": \(type)", "\"Device Id\": \(id)", "\"Bytes\": \(bytes)"]
        if let addr { args.append("\"Addr\": \(addr)") }
        if let total { args.append("\"Total Allocated\": \(total)") }
        if let reserved { args.append("\"Total Reserved\": \(reserved)") }
        return "{\"ph\": \"i\", \"s\": \"t\", \"name\": \"[memory]\", \"pid\": \(pid), \"tid\": \(tid), \"ts\": \(ts), "
            + "\"args\": {\(args.joined(separator: ", "))}}"
    }

    func memory(_ events: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [DeviceMemory] {
        let (t, a) = try analyzed(TestSupport.kineto(events))
        return MemoryAnalysis.analyze(t, analysis: a)
    }

    func only(_ devices: [DeviceMemory], file: StaticString = #filePath, line: UInt = #line) throws -> DeviceMemory {
        XCTAssertEqual(devices.count, 1, "devices", file: file, line: line)
        return try XCTUnwrap(devices.first, file: file, line: line)
    }

    func group(_ op: String, _ phase: Phase, _ module: String? = nil, _ bytes: Int64, _ count: Int) -> LiveAllocationGroup {
        LiveAllocationGroup(op: op, phase: phase, module: module, bytes: bytes, count: count)
    }

    // MARK: Samples and peaks

    func testPeakValueTimeAndReserved() throws {
        let d = try only(memory([
            x("aten::work", "cpu_op", "0", "100", "1", "1", ""),
            mem("12", 4096, addr: 100, total: 4096, reserved: 2_097_152),
            mem("20", 8192, addr: 200, total: 12288, reserved: 2_097_152),
            mem("30", -4096, addr: 100, total: 8192, reserved: 2_097_152),
            mem("40", 4096, addr: 300, total: 12288, reserved: 4_194_304),  // ties the peak: the first one wins
            mem("50", -8192, addr: 200, total: 4096, reserved: 4_194_304),
        ]))
        XCTAssertEqual(d.name, "cuda:0")
        XCTAssertEqual(d.deviceType, 1)
        XCTAssertEqual(d.deviceID, 0)
        XCTAssertEqual(d.samples.ts, [12_000, 20_000, 30_000, 40_000, 50_000])
        XCTAssertEqual(d.samples.allocated, [4096, 12288, 8192, 12288, 4096])
        XCTAssertEqual(d.samples.reserved, [2_097_152, 2_097_152, 2_097_152, 4_194_304, 4_194_304])
        XCTAssertEqual(d.peakAllocated, 12288)
        XCTAssertEqual(d.peakTs, 20_000)
        XCTAssertEqual(d.reservedAtPeak, 2_097_152)
        XCTAssertEqual(d.unusedReservedAtPeak, 2_097_152 - 12288)
        XCTAssertEqual(d.derivedSamples, 0)
        XCTAssertEqual(d.unmatchedFrees, 0)
        // At the first peak both allocations are live (the free at 30 comes after it).
        XCTAssertEqual(d.liveAtPeak, [group("aten::work", .other, nil, 12288, 2)])
        XCTAssertEqual(d.liveBytesAtPeak, 12288)
        XCTAssertEqual(d.liveCountAtPeak, 2)
    }

    func testEventsAreOrderedByTimeNotFileOrder() throws {
        let d = try only(memory([
            mem("30", -100, addr: 1, total: 50, reserved: 1000),
            mem("10", 100, addr: 1, total: 100, reserved: 1000),
            mem("20", 50, addr: 2, total: 150, reserved: 1000),
            mem("20", -50, addr: 2, total: 100, reserved: 1000),  // same ts: file order
        ]))
        XCTAssertEqual(d.samples.ts, [10_000, 20_000, 20_000, 30_000])
        XCTAssertEqual(d.samples.allocated, [100, 150, 100, 50])
        XCTAssertEqual(d.peakAllocated, 150)
        XCTAssertEqual(d.peakTs, 20_000)
        XCTAssertEqual(d.unmatchedFrees, 0)
        XCTAssertEqual(d.liveCountAtPeak, 2)
    }

    func testStepPeaksCountTheValueCarriedIn() throws {
        let d = try only(memory([
            x("ProfilerStep#0", "user_annotation", "0", "10", "1", "1", ""),
            x("ProfilerStep#1", "user_annotation", "100", "100", "1", "1", ""),
            x("ProfilerStep#2", "user_annotation", "200", "100", "1", "1", ""),
            x("ProfilerStep#3", "user_annotation", "300", "100", "1", "1", ""),
            x("ProfilerStep#4", "user_annotation", "400", "100", "1", "1", ""),
            // Before the first event 1000 - 500 = 500 bytes were allocated already.
            mem("50", 500, addr: 1, total: 1000, reserved: 4000),
            mem("120", 2000, addr: 2, total: 3000, reserved: 4000),
            mem("150", -2000, addr: 2, total: 1000, reserved: 4000),
            mem("160", 1500, addr: 3, total: 2500, reserved: 4000),
            // Step 2 only frees: its peak is what it started with.
            mem("210", -1500, addr: 3, total: 1000, reserved: 4000),
            // Step 3 has no events at all. Step 4 rises above its start, at its very start:
            mem("400", 700, addr: 4, total: 1700, reserved: 4000),
            // The end is exclusive.
            mem("500", 9000, addr: 5, total: 10700, reserved: 16000),
        ]))
        XCTAssertEqual(d.stepPeaks, [
            StepMemoryPeak(step: "ProfilerStep#0", peak: 500, ts: 0),
            StepMemoryPeak(step: "ProfilerStep#1", peak: 3000, ts: 120_000),
            StepMemoryPeak(step: "ProfilerStep#2", peak: 2500, ts: 200_000),
            StepMemoryPeak(step: "ProfilerStep#3", peak: 1000, ts: 300_000),
            StepMemoryPeak(step: "ProfilerStep#4", peak: 1700, ts: 400_000),
        ])
        XCTAssertEqual(d.initialAllocated, 500)
        XCTAssertEqual(d.peakAllocated, 10700)
        XCTAssertEqual(d.peakTs, 500_000)
        XCTAssertEqual(d.reservedAtPeak, 16000)
    }

    func testWholeTraceStepWithoutProfilerSteps() throws {
        let d = try only(memory([
            x("aten::a", "cpu_op", "0", "10", "1", "1", ""),
            x("aten::b", "cpu_op", "20", "10", "1", "1", ""),
            mem("5", 10, addr: 1, total: 10, reserved: 100),
            mem("25", 30, addr: 2, total: 40, reserved: 100),
            mem("40", 100, addr: 3, total: 140, reserved: 200),  // after the trace step's end
        ]))
        XCTAssertEqual(d.stepPeaks, [StepMemoryPeak(step: "trace", peak: 40, ts: 25_000)])
        XCTAssertEqual(d.peakAllocated, 140)
    }

    // MARK: Alloc/free matching

    func testAllocationsMatchFreesByAddressIncludingReuse() throws {
        let d = try only(memory([
            x("aten::first", "cpu_op", "0", "10", "1", "1", ""),
            x("aten::second", "cpu_op", "20", "10", "1", "1", ""),
            x("aten::kept", "cpu_op", "40", "10", "1", "1", ""),
            mem("5", 4096, addr: 100, total: 4096),
            mem("15", -4096, addr: 100, total: 0),
            mem("25", 1024, addr: 100, total: 1024),   // the address is reused after its free
            mem("45", 512, addr: 200, total: 1536),    // never freed
            mem("47", 64, addr: 300, total: 1600),
            mem("48", -64, addr: 300, total: 1536),
        ]))
        XCTAssertEqual(d.peakAllocated, 4096)
        XCTAssertEqual(d.peakTs, 5_000)
        XCTAssertEqual(d.liveAtPeak, [group("aten::first", .other, nil, 4096, 1)])
        XCTAssertEqual(d.unmatchedFrees, 0)
        XCTAssertEqual(d.reusedLiveAddresses, 0)
        XCTAssertEqual(d.unaddressedEvents, 0)

        // Same events with a later, higher peak: the reused address holds the second allocation.
        let later = try only(memory([
            x("aten::first", "cpu_op", "0", "10", "1", "1", ""),
            x("aten::second", "cpu_op", "20", "10", "1", "1", ""),
            x("aten::kept", "cpu_op", "40", "10", "1", "1", ""),
            x("aten::big", "cpu_op", "60", "10", "1", "1", ""),
            mem("5", 4096, addr: 100, total: 4096),
            mem("15", -4096, addr: 100, total: 0),
            mem("25", 1024, addr: 100, total: 1024),
            mem("45", 512, addr: 200, total: 1536),
            mem("47", 64, addr: 300, total: 1600),
            mem("48", -64, addr: 300, total: 1536),
            mem("65", 8192, addr: 400, total: 9728),
            mem("70", -8192, addr: 400, total: 1536),
        ]))
        XCTAssertEqual(later.peakAllocated, 9728)
        XCTAssertEqual(later.liveAtPeak, [
            group("aten::big", .other, nil, 8192, 1),
            group("aten::second", .other, nil, 1024, 1),
            group("aten::kept", .other, nil, 512, 1),
        ])
        XCTAssertEqual(later.liveBytesAtPeak, 9728)
    }

    func testUnmatchedFreesAndReusedLiveAddressesAreCounted() throws {
        let d = try only(memory([
            mem("1", -256, addr: 7, total: 0),        // freed memory allocated before the trace
            mem("2", 128, addr: 8, total: 128),
            mem("3", -128, addr: 8, total: 0),
            mem("4", -128, addr: 8, total: 0),        // freed twice
            mem("5", 64, addr: 9, total: 64),
            mem("6", 32, addr: 9, total: 96),         // allocated again while live: its free was lost
            mem("7", 16, addr: 10, total: 112),
        ]))
        XCTAssertEqual(d.unmatchedFrees, 2)
        XCTAssertEqual(d.reusedLiveAddresses, 1)
        XCTAssertEqual(d.peakAllocated, 128)
        XCTAssertEqual(d.peakTs, 2_000)
        XCTAssertEqual(d.liveAtPeak, [group("(no op)", .other, nil, 128, 1)])

        let end = try only(memory([
            mem("5", 64, addr: 9, total: 64),
            mem("6", 32, addr: 9, total: 96),
            mem("7", 16, addr: 10, total: 112),
        ]))
        // Only the second allocation at address 9 is live.
        XCTAssertEqual(end.liveAtPeak, [group("(no op)", .other, nil, 48, 2)])
        XCTAssertEqual(end.reusedLiveAddresses, 1)
    }

    // MARK: Live allocations by operator, phase and module

    func testLiveAtPeakGroupedByOperatorAndPhase() throws {
        let d = try only(memory([
            x("ProfilerStep#1", "user_annotation", "0", "100", "1", "1", ""),
            x("forward", "user_annotation", "10", "30", "1", "1", ""),
            x("aten::empty", "cpu_op", "12", "2", "1", "1", ""),
            x("aten::linear", "cpu_op", "20", "10", "1", "1", ""),
            x("aten::empty", "cpu_op", "21", "1", "1", "1", ""),
            x("backward", "user_annotation", "50", "30", "1", "1", ""),
            x("aten::mm", "cpu_op", "55", "5", "1", "1", ""),
            mem("13", 4096, addr: 100, total: 4096),
            mem("14", 256, addr: 150, total: 4352),        // aten::empty ends at 14: inside `forward` itself
            mem("21.5", 4096, addr: 200, total: 8448),
            mem("25", 1024, addr: 300, total: 9472),       // aten::linear's own allocation
            mem("26", 2048, addr: 600, total: 11520),
            mem("27", -2048, addr: 600, total: 9472),      // freed before the peak: not live
            mem("56", 16384, addr: 400, total: 25856),
            mem("90", 512, addr: 500, total: 26368),       // inside the step only: no operator
            mem("95", -512, addr: 500, total: 25856),
        ]))
        XCTAssertEqual(d.peakAllocated, 26368)
        XCTAssertEqual(d.peakTs, 90_000)
        XCTAssertEqual(d.liveAtPeak, [
            group("aten::mm", .backward, nil, 16384, 1),
            group("aten::empty", .forward, nil, 8192, 2),
            group("aten::linear", .forward, nil, 1024, 1),
            group("(no op)", .other, nil, 512, 1),
            group("forward", .forward, nil, 256, 1),
        ])
        XCTAssertEqual(d.liveCountAtPeak, 6)
    }

    func testOperatorIsLookedUpOnTheEventsOwnThread() throws {
        let d = try only(memory([
            x("aten::main", "cpu_op", "0", "100", "1", "1", ""),
            x("autograd::engine::evaluate_function: MmBackward0", "cpu_op", "0", "100", "1", "2", ""),
            x("aten::mm", "cpu_op", "10", "20", "1", "2", ""),
            mem("15", 100, addr: 1, total: 100, tid: "2"),
            mem("16", 10, addr: 2, total: 110, tid: "1"),
            mem("17", 1, addr: 3, total: 111, tid: "3"),  // a thread without slices
        ]))
        XCTAssertEqual(d.liveAtPeak, [
            group("aten::mm", .backward, nil, 100, 1),
            group("aten::main", .other, nil, 10, 1),
            group("(no op)", .other, nil, 1, 1),
        ])
    }

    func testLiveAtPeakGroupedByModule() throws {
        let d = try only(memory([
            x("nn.Module: Net_0", "python_function", "0", "100", "1", "1", ""),
            x("nn.Module: Linear_0", "python_function", "10", "20", "1", "1", ""),
            x("torch/nn/modules/linear.py(125): forward", "python_function", "11", "18", "1", "1", ""),
            x("aten::linear", "cpu_op", "12", "16", "1", "1", ""),
            x("aten::empty", "cpu_op", "13", "1", "1", "1", ""),
            x("aten::relu", "cpu_op", "40", "10", "1", "1", ""),
            mem("13.5", 4096, addr: 1, total: 4096),
            mem("20", 1024, addr: 2, total: 5120),
            mem("45", 512, addr: 3, total: 5632),
            mem("150", 8, addr: 4, total: 5640),
        ]))
        XCTAssertEqual(d.liveAtPeak, [
            group("aten::empty", .forward, "Linear_0", 4096, 1),
            group("aten::linear", .forward, "Linear_0", 1024, 1),
            group("aten::relu", .other, "Net_0", 512, 1),
            group("(no op)", .other, nil, 8, 1),
        ])
    }

    // MARK: Fallbacks and devices

    func testRunningSumWhenTotalAllocatedIsMissing() throws {
        // 2021 traces: only Bytes, Device Type and Device Id.
        let d = try only(memory([
            x("aten::a", "cpu_op", "0", "100", "1", "1", ""),
            mem("1", 100),
            mem("2", 200),
            mem("3", -100),
            mem("4", 50),
        ]))
        XCTAssertEqual(d.samples.allocated, [100, 300, 200, 250])
        XCTAssertEqual(d.samples.reserved, [-1, -1, -1, -1])
        XCTAssertEqual(d.derivedSamples, 4)
        XCTAssertEqual(d.initialAllocated, 0)
        XCTAssertEqual(d.peakAllocated, 300)
        XCTAssertEqual(d.peakTs, 2_000)
        XCTAssertNil(d.reservedAtPeak)
        XCTAssertNil(d.unusedReservedAtPeak)
        // No addresses: nothing can be matched, nothing is listed live, nothing counts as unmatched.
        XCTAssertEqual(d.unaddressedEvents, 4)
        XCTAssertEqual(d.liveAtPeak, [])
        XCTAssertEqual(d.unmatchedFrees, 0)
        XCTAssertEqual(d.stepPeaks, [StepMemoryPeak(step: "trace", peak: 300, ts: 2_000)])

        // Mixed: a missing total continues from the previous value.
        let mixed = try only(memory([
            mem("1", 100, addr: 1),
            mem("2", 900, addr: 2, total: 1000, reserved: 2000),
            mem("3", 10, addr: 3),
        ]))
        XCTAssertEqual(mixed.samples.allocated, [100, 1000, 1010])
        XCTAssertEqual(mixed.samples.reserved, [-1, 2000, -1])
        XCTAssertEqual(mixed.derivedSamples, 2)
        XCTAssertEqual(mixed.peakAllocated, 1010)
        XCTAssertNil(mixed.reservedAtPeak)
    }

    func testDevicesAreKeptApart() throws {
        let devices = try memory([
            x("aten::a", "cpu_op", "0", "100", "1", "1", ""),
            mem("1", 1000, addr: 100, total: 1000, reserved: 2000, type: 1, id: 1),
            mem("2", 10, addr: 100, total: 10, reserved: 0, type: 0, id: -1),
            mem("3", 300, addr: 100, total: 300, reserved: 1000, type: 1, id: 0),
            mem("4", -300, addr: 100, total: 0, reserved: 1000, type: 1, id: 0),
            mem("5", -5, addr: 100, total: 5, reserved: 0, type: 0, id: -1),   // only 5 of 10 freed: still matched by address
            mem("6", 20, addr: 200, total: 1020, reserved: 2000, type: 1, id: 1),
            mem("7", 4, addr: 9, total: 4, reserved: 0, type: 13, id: 0),
        ])
        XCTAssertEqual(devices.map(\.name), ["cpu", "cuda:0", "cuda:1", "mps:0"])
        XCTAssertEqual(devices.map(\.deviceType), [0, 1, 1, 13])
        XCTAssertEqual(devices.map(\.deviceID), [-1, 0, 1, 0])
        XCTAssertEqual(devices.map(\.samples.count), [2, 2, 2, 1])
        XCTAssertEqual(devices.map(\.peakAllocated), [10, 300, 1020, 4])
        XCTAssertEqual(devices.map(\.peakTs), [2_000, 3_000, 6_000, 7_000])
        XCTAssertEqual(devices.map(\.unmatchedFrees), [0, 0, 0, 0])
        // The free of address 100 on cuda:0 does not free cuda:1's allocation at the same address.
        XCTAssertEqual(devices[2].liveAtPeak, [group("aten::a", .other, nil, 1020, 2)])
        XCTAssertEqual(devices[1].liveAtPeak, [group("aten::a", .other, nil, 300, 1)])
        XCTAssertEqual(DeviceMemory.deviceName(type: 42, id: 3), "device42:3")
    }

    func testNoMemoryEvents() throws {
        XCTAssertEqual(try memory([x("aten::a", "cpu_op", "0", "10", "1", "1", "")]), [])
    }

    func testRangeMaxFindsTheLeftmostMaximum() {
        let values: [Int64] = [3, 9, 1, 9, 4, 7, 7, 2, 9, 0, 5]
        let tree = RangeMax(values)
        for lo in 0..<values.count {
            for hi in lo + 1...values.count {
                let slice = values[lo..<hi]
                let want = slice.firstIndex(of: slice.max()!)!
                XCTAssertEqual(tree.query(lo, hi), want, "\(lo)..<\(hi)")
            }
        }
    }

    // MARK: Real traces

    /// Loads a shared trace and analyses its memory, or nil (with a message) when it is absent.
    func sharedMemory(_ relative: String) throws -> [DeviceMemory]? {
        guard let shared = TestSupport.sharedTraces else {
            print("MemoryAnalysisTests: ../shared/traces is absent; skipping \(relative)")
            return nil
        }
        let trace = try TraceLoader.load(path: shared + "/" + relative)
        return MemoryAnalysis.analyze(trace, analysis: Analyzer.analyze(trace))
    }

    func testDFIndexResolverMatchesTheReference() throws {
        // Numbers printed by `python3 Tests/AnalysisTests/memory_reference.py
        // ../shared/traces/hta/df_index_resolver/df_index_resolver.json.gz`.
        guard let devices = try sharedMemory("hta/df_index_resolver/df_index_resolver.json.gz") else { return }
        XCTAssertEqual(devices.map(\.name), ["cpu", "cuda:1"])
        guard devices.count == 2 else { return }
        let cpu = devices[0], gpu = devices[1]

        XCTAssertEqual(cpu.samples.count, 1240)
        XCTAssertEqual(cpu.derivedSamples, 0)
        XCTAssertEqual(cpu.peakAllocated, 8)
        XCTAssertEqual(cpu.peakTs, 1_669_783_687_405_327_000)
        XCTAssertEqual(cpu.reservedAtPeak, 0)
        XCTAssertEqual(cpu.unmatchedFrees, 0)
        XCTAssertEqual(cpu.stepPeaks.map(\.peak), [8, 8, 8, 8, 8])
        XCTAssertEqual(cpu.stepPeaks.map(\.ts), [1_669_783_687_405_327_000, 1_669_783_687_751_252_000, 1_669_783_688_118_816_000,
                                                 1_669_783_688_462_384_000, 1_669_783_688_805_334_000])
        XCTAssertEqual(cpu.liveAtPeak, [group("CompiledFunction", .other, nil, 8, 1)])

        XCTAssertEqual(gpu.samples.count, 26770)
        XCTAssertEqual(gpu.derivedSamples, 0)
        // 4.1 GB was allocated before the first event (weights, optimizer state): the live
        // allocations at the peak account only for what was allocated inside the trace.
        XCTAssertEqual(gpu.initialAllocated, 4_096_614_400)
        XCTAssertEqual(gpu.peakAllocated, 6_629_508_096)
        XCTAssertEqual(gpu.peakTs, 1_669_783_687_579_130_000)
        XCTAssertEqual(gpu.reservedAtPeak, 12_782_141_440)
        XCTAssertEqual(gpu.unmatchedFrees, 0)
        XCTAssertEqual(gpu.reusedLiveAddresses, 0)
        XCTAssertEqual(gpu.unaddressedEvents, 0)
        XCTAssertEqual(gpu.stepPeaks.map(\.step), ["ProfilerStep#2", "ProfilerStep#3", "ProfilerStep#4", "ProfilerStep#5", "ProfilerStep#6"])
        XCTAssertEqual(gpu.stepPeaks.map(\.peak), [Int64](repeating: 6_629_508_096, count: 5))
        XCTAssertEqual(gpu.stepPeaks.map(\.ts), [1_669_783_687_579_130_000, 1_669_783_687_938_883_000, 1_669_783_688_292_492_000,
                                                 1_669_783_688_638_483_000, 1_669_783_688_971_568_000])
        XCTAssertEqual(gpu.liveCountAtPeak, 725)
        XCTAssertEqual(gpu.liveBytesAtPeak, 2_532_893_696)
        XCTAssertEqual(gpu.liveAtPeak.count, 17)
        XCTAssertEqual(Array(gpu.liveAtPeak.prefix(8)), [
            group("aten::mm", .backward, nil, 1_037_459_456, 143),
            group("aten::add", .other, nil, 591_224_832, 49),
            group("aten::addmm", .other, nil, 428_302_336, 90),
            group("aten::empty", .backward, nil, 155_876_352, 32),
            group("aten::clamp_min", .other, nil, 80_265_216, 40),
            group("aten::cat", .other, nil, 79_691_776, 8),
            group("aten::sigmoid", .other, nil, 54_714_368, 28),
            group("aten::tanh", .other, nil, 45_375_488, 12),
        ])
    }

    func testTorchCPUModulesMatchTheReference() throws {
        // Numbers printed by `python3 Tests/AnalysisTests/memory_reference.py
        // ../shared/traces/torch-cpu/single/single.pt.trace.json.gz` (a CPU-only trace with
        // python_function events, baseTimeNanoseconds and fractional-microsecond timestamps).
        guard let devices = try sharedMemory("torch-cpu/single/single.pt.trace.json.gz") else { return }
        let d = try only(devices)
        XCTAssertEqual(d.name, "cpu")
        XCTAssertEqual(d.samples.count, 5486)
        XCTAssertEqual(d.initialAllocated, 0)
        XCTAssertEqual(d.peakAllocated, 286_416_936)
        XCTAssertEqual(d.peakTs, 1_795_288_198_255_848_650)
        XCTAssertEqual(d.reservedAtPeak, 0)
        XCTAssertEqual(d.unmatchedFrees, 0)
        XCTAssertEqual(d.stepPeaks.map(\.peak), [286_416_936, 286_416_936, 286_416_936])
        XCTAssertEqual(d.stepPeaks.map(\.ts), [1_795_288_198_255_848_650, 1_795_288_199_065_278_706, 1_795_288_199_878_377_516])
        XCTAssertEqual(d.liveCountAtPeak, 80)
        XCTAssertEqual(d.liveBytesAtPeak, 286_416_936)
        XCTAssertEqual(d.liveAtPeak.count, 45)
        XCTAssertEqual(Array(d.liveAtPeak.prefix(6)), [
            group("aten::_log_softmax", .forward, nil, 32_768_000, 1),
            group("aten::_log_softmax_backward_data", .backward, nil, 32_768_000, 1),
            group("aten::addmm", .forward, "Linear_16", 32_768_000, 1),
            group("aten::nll_loss_backward", .backward, nil, 32_768_000, 1),
            group("aten::empty", .forward, "Block_0", 8_388_608, 4),
            group("aten::empty", .forward, "Block_1", 8_388_608, 4),
        ])
        XCTAssertEqual(d.liveAtPeak.last, group("aten::nll_loss_forward", .forward, nil, 4, 1))
    }

    /// torch_npu's per-operator allocations (`operator_memory.csv`, `OP_MEMORY`; definitions.md,
    /// "Memory": Operator allocations): live at the peak of their own running sum, each over
    /// `[allocated, released)`, so one never released stays live and one released at the peak's
    /// very time is not; a release without its allocation is left out, counted. Both exports.
    func testOperatorAllocationsLiveAtTheirOwnPeak() throws {
        let sample = NPUSample.rank(1)
        for db in [false, true] {
            let root = TestSupport.temporaryPath(db ? "-opmem-db" : "-opmem-text")
            let path = try sample.write(root: root, db: db)
            let trace = try TraceLoader.load(path: path)
            let d = try only(MemoryAnalysis.analyze(trace, analysis: Analyzer.analyze(trace)))
            // Independently: the sum of the allocations live at each allocation time; the first largest.
            let rows = sample.allocations.compactMap { a in a.bytes > 0 ? (a.name, a.bytes, a.allocated!, a.released ?? .max) : nil }
            func live(at t: Int64) -> [(String, Int64, Int64, Int64)] { rows.filter { $0.2 <= t && t < $0.3 } }
            let times = rows.map(\.2).sorted()
            let best = times.map { t in (t, live(at: t).reduce(0) { $0 + $1.1 }) }.reduce((0, Int64(0))) { $1.1 > $0.1 ? $1 : $0 }
            XCTAssertEqual(d.operatorPeak, OperatorAllocationPeak(bytes: best.1, ts: best.0, allocations: rows.count,
                                                                  unreleased: rows.filter { $0.3 == .max }.count), "db \(db)")
            XCTAssertEqual(best.1, 9 << 20 + 4096, "the hand-computed figure")
            var byName: [String: (Int64, Int)] = [:]
            for x in live(at: best.0) { byName[x.0, default: (0, 0)].0 += x.1; byName[x.0, default: (0, 0)].1 += 1 }
            XCTAssertEqual(d.liveAtPeak.map(\.op), byName.sorted { $0.value.0 > $1.value.0 }.map(\.key))
            XCTAssertEqual(d.liveAtPeak.map(\.bytes), byName.values.map(\.0).sorted(by: >))
            XCTAssertEqual(d.liveAtPeak.map(\.count), [1, 1])
            XCTAssertEqual(d.liveBytesAtPeak, d.operatorPeak?.bytes)
            XCTAssertFalse(d.liveAtPeak.contains { $0.bytes == 4 << 20 }, "released at the peak's time: not live")
            XCTAssertEqual(trace.warnings.count("npu-operator-memory-before-capture"), 1)
            // The memory peak itself stays the device's (NPU MEM's application HBM).
            XCTAssertEqual(d.peakAllocated, 2 << 30 + 4096)
        }
    }

}
