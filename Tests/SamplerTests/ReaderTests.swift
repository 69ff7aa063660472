import Sampler
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A byte buffer with little-endian field writes, for laying out fake interpreter structures.
struct Bytes {
    var data: [UInt8]
    init(_ size: Int) { data = [UInt8](repeating: 0, count: size) }
    mutating func put(_ offset: Int, _ value: UInt64, size: Int = 8) {
        for i in 0..<size { data[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }
}

/// The frame reader over the memory test double, with a hand-built CPython 3.11 thread.
final class ReaderTests: XCTestCase {
    let layout = PythonLayout.builtIn(minor: 11)!
    let codeType: UInt64 = 0x9000, unicodeType: UInt64 = 0xA000
    let runtimeAddr: UInt64 = 0x1000, interp: UInt64 = 0x2000, tstate: UInt64 = 0x3000, cframe: UInt64 = 0x4000
    let chunk: UInt64 = 0x5000

    /// A compact ASCII str object.
    func string(_ s: String) -> [UInt8] {
        var b = Bytes(max(layout.compactData, layout.asciiData + s.utf8.count + 1))
        b.put(layout.objectType, unicodeType)
        b.put(layout.unicodeLength, UInt64(s.utf8.count))
        b.put(layout.unicodeState, 0x20 | 0x40 | (1 << 2), size: 4)  // compact, ascii, kind 1
        for (i, c) in s.utf8.enumerated() { b.data[layout.asciiData + i] = c }
        return b.data
    }

    /// A code object at `at` with its strings and a location table after it.
    func code(_ memory: BufferMemory, at: UInt64, name: String, file: String, firstLine: Int, table: [UInt8]) {
        var c = Bytes(layout.codeSize)
        c.put(layout.objectType, codeType)
        c.put(layout.codeFilename, at + 0x100)
        c.put(layout.codeName, at + 0x200)
        c.put(layout.codeQualname!, at + 0x200)
        c.put(layout.codeFirstLine, UInt64(firstLine), size: 4)
        c.put(layout.codeLinetable, at + 0x300)
        memory.map(at, c.data)
        memory.map(at + 0x100, string(file))
        memory.map(at + 0x200, string(name))
        var t = Bytes(layout.bytesData + table.count)
        t.put(layout.bytesSize, UInt64(table.count))
        t.data.replaceSubrange(layout.bytesData..<layout.bytesData + table.count, with: table)
        memory.map(at + 0x300, t.data)
    }

    /// One thread, outer frame `main` (an entry frame) calling `work`, at instruction `index` of work.
    func makeMemory(index: Int, cycle: Bool = false) -> BufferMemory {
        let memory = BufferMemory()
        var runtime = Bytes(1024)
        runtime.put(layout.interpretersHead, interp)
        runtime.put(layout.tstateCurrent!, tstate)
        memory.map(runtimeAddr, runtime.data)
        var i = Bytes(64)
        i.put(layout.interpThreadsHead, tstate)
        memory.map(interp, i.data)
        let outer = chunk + 24, inner = outer + UInt64(layout.frameSize)
        var t = Bytes(layout.tstateSize)
        t.put(layout.tstateInterp, interp)
        t.put(layout.tstateFrame, cframe)
        t.put(layout.tstateNativeThreadID!, 4242)
        t.put(layout.tstateDatastackChunk!, chunk)
        t.put(layout.tstateDatastackChunk! + 8, inner + UInt64(layout.frameSize))
        memory.map(tstate, t.data)
        var cf = Bytes(16)
        cf.put(layout.cframeCurrent!, inner)
        memory.map(cframe, cf.data)
        // Location table: units 0-1 on the first line (code 13, delta 0), units 2-5 two lines on (delta +2).
        let table: [UInt8] = [0x80 | 13 << 3 | 1, 0x00, 0x80 | 13 << 3 | 3, 0x04]
        code(memory, at: 0x6000, name: "main", file: "/app/train.py", firstLine: 10, table: table)
        code(memory, at: 0x7000, name: "Model.work", file: "/app/model.py", firstLine: 20, table: table)
        var stack = Bytes(24 + 2 * layout.frameSize)
        let o = 24, n = 24 + layout.frameSize
        stack.put(o + layout.frameCode, 0x6000)
        stack.put(o + layout.frameInstr, 0x6000 + UInt64(layout.codeAdaptive!))  // unit 0
        stack.put(o + layout.framePrevious, cycle ? inner : 0)
        stack.data[o + 68] = 1  // is_entry
        stack.put(n + layout.frameCode, 0x7000)
        stack.put(n + layout.frameInstr, 0x7000 + UInt64(layout.codeAdaptive!) + UInt64(2 * index))
        stack.put(n + layout.framePrevious, outer)
        memory.map(chunk, stack.data)
        return memory
    }

    func runtime() -> PythonRuntime {
        PythonRuntime(pid: 0, version: "3.11.0", layout: layout, runtimeAddress: runtimeAddr, codeType: codeType,
                      unicodeType: unicodeType, binary: "")
    }

    func testReadsThreadFramesLinesAndGIL() throws {
        let memory = makeMemory(index: 3)
        let reader = PythonStackReader(runtime: runtime(), memory: memory)
        let threads = try reader.sample()
        XCTAssertEqual(threads.count, 1)
        let t = try XCTUnwrap(threads.first)
        XCTAssertEqual(t.tid, 4242)
        XCTAssertTrue(t.holdsGIL)
        XCTAssertEqual(t.frames.map(\.name), ["Model.work", "main"])
        XCTAssertEqual(t.frames.map(\.file), ["/app/model.py", "/app/train.py"])
        XCTAssertEqual(t.frames.map(\.line), [22, 10])
        XCTAssertEqual(t.frames.map(\.isEntry), [false, true])
        // Second sample: code objects come from the cache, and fewer reads are needed.
        let before = memory.calls
        _ = try reader.sample()
        let cached = memory.calls - before
        XCTAssertLessThan(cached, before)
        XCTAssertEqual(reader.dropped, 0)
    }

    func testLineOfFirstUnits() throws {
        let reader = PythonStackReader(runtime: runtime(), memory: makeMemory(index: 1))
        XCTAssertEqual(try reader.sample().first?.frames.first?.line, 20)
    }

    func testCyclicFrameChainIsDroppedAfterRetries() throws {
        let reader = PythonStackReader(runtime: runtime(), memory: makeMemory(index: 3, cycle: true))
        XCTAssertEqual(try reader.sample(), [])
        XCTAssertEqual(reader.dropped, 1)
        XCTAssertEqual(reader.retries, 2)
    }

    func testWrongCodeTypeIsATornRead() throws {
        let memory = makeMemory(index: 3)
        var bad = Bytes(8)
        bad.put(0, 0xdead)
        memory.write(0x7000 + UInt64(layout.objectType), bad.data)
        let reader = PythonStackReader(runtime: runtime(), memory: memory)
        XCTAssertEqual(try reader.sample(), [])
        XCTAssertEqual(reader.dropped, 1)
    }

    /// Garbage anywhere (a torn read of a running target) never traps: the reader drops or keeps threads.
    func testGarbageMemoryNeverTraps() throws {
        var seed: UInt64 = 0x9E3779B97F4A7C15
        func next() -> UInt64 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return seed
        }
        let regions: [(UInt64, Int)] = [(tstate, layout.tstateSize), (chunk, 24 + 2 * layout.frameSize), (0x7000, layout.codeSize),
                                        (0x7100, 80), (0x7300, 40), (cframe, 16)]
        for round in 0..<300 {
            let memory = makeMemory(index: 3)
            let (base, size) = regions[round % regions.count]
            var bytes = [UInt8](repeating: 0, count: size)
            for k in 0..<size where next() % 4 == 0 { bytes[k] = UInt8(truncatingIfNeeded: next() >> 32) }
            // Keep some structure: sometimes plant pointers back into the fake heap.
            if round % 3 == 0, size >= 16 { for k in stride(from: 0, to: size - 8, by: 8) where next() % 5 == 0 {
                let ptr = [chunk + 24, 0x7000, 0x6000, tstate, UInt64.max - 3][Int(next() % 5)]
                for b in 0..<8 { bytes[k + b] = UInt8(truncatingIfNeeded: ptr >> (8 * UInt64(b))) }
            } }
            memory.write(base, bytes)
            let reader = PythonStackReader(runtime: runtime(), memory: memory)
            let threads = try reader.sample()
            XCTAssertLessThanOrEqual(threads.count, 1)
        }
    }

    func testLineTable311Forms() {
        // Long form (14): line delta +5 then three varints; one-line form (11): delta +1; none (15).
        let table: [UInt8] = [0x80 | 14 << 3 | 0, 10, 0, 0, 0, 0x80 | 11 << 3 | 1, 0, 0, 0x80 | 15 << 3 | 0]
        XCTAssertEqual(LineTable.line311(table, firstLine: 100, index: 0), 105)
        XCTAssertEqual(LineTable.line311(table, firstLine: 100, index: 2), 106)
        XCTAssertEqual(LineTable.line311(table, firstLine: 100, index: 3), 100)
        // A negative svarint delta: 3 encodes -1.
        XCTAssertEqual(LineTable.line311([0x80 | 13 << 3, 3], firstLine: 50, index: 0), 49)
    }

    func testLineTable310() {
        // (6 bytes, +1), (4 bytes, no line), (2 bytes, +3)
        let table: [UInt8] = [6, 1, 4, 0x80, 2, 3]
        XCTAssertEqual(LineTable.line310(table, firstLine: 7, offset: 0), 8)
        XCTAssertEqual(LineTable.line310(table, firstLine: 7, offset: 7), 7)
        XCTAssertEqual(LineTable.line310(table, firstLine: 7, offset: 10), 11)
    }

    func testDebugOffsetsNeedTheCookie() {
        var d = Bytes(PythonLayout.debugOffsetsSize)
        XCTAssertNil(PythonLayout.fromDebugOffsets(d.data))
        d.data.replaceSubrange(0..<8, with: Array("xdebugpy".utf8))
        d.put(8, 0x030D00F0)
        d.put(40, 632)
        d.put(72, 7344)
        XCTAssertEqual(PythonLayout.fromDebugOffsets(d.data)?.interpretersHead, 632)
        XCTAssertEqual(PythonLayout.fromDebugOffsets(d.data)?.interpThreadsHead, 7344)
        d.put(16, 1)  // free-threaded
        XCTAssertNil(PythonLayout.fromDebugOffsets(d.data))
    }

    func testLiveMemoryBatchesAndSkipsUnmappedRanges() throws {
        let values: [UInt64] = [0x1122334455667788, 0x99aabbccddeeff00]
        try values.withUnsafeBufferPointer { buf in
            let base = UInt64(UInt(bitPattern: buf.baseAddress!))
            let memory = LiveMemory(pid: getpid())
            let got = try memory.read([MemoryRange(base, 8), MemoryRange(8, 8), MemoryRange(base + 8, 8)])
            XCTAssertEqual(got[0]?.count, 8)
            XCTAssertNil(got[1])
            XCTAssertEqual(got[2].map { Array($0) }, withUnsafeBytes(of: values[1].littleEndian) { Array($0) })
            XCTAssertEqual(memory.calls, 2)  // the kernel stops at the unmapped range; the rest is one more call
        }
    }

    func testPermissionMessages() {
        XCTAssertTrue(SamplerError.permission(pid: 5, ptraceScope: "1\n", tracer: 77, isRoot: false).description.contains("traced by process 77"))
        XCTAssertTrue(SamplerError.permission(pid: 5, ptraceScope: "1\n", tracer: 0, isRoot: false).description.contains("ptrace_scope"))
        XCTAssertTrue(SamplerError.permission(pid: 5, ptraceScope: "1\n", tracer: 0, isRoot: true).description.contains("CAP_SYS_PTRACE"))
        XCTAssertTrue(SamplerError.permission(pid: 5, ptraceScope: nil, tracer: nil, isRoot: false).description.contains("CAP_SYS_PTRACE"))
        for e in [SamplerError.permission(pid: 5, ptraceScope: "2", tracer: 0, isRoot: false)] {
            XCTAssertFalse(e.description.contains("\n"))
        }
    }

    func testProcParsers() {
        let maps = ProcFS.parseMaps("""
        55d0a000-55d0b000 r--p 00000000 08:01 123 /usr/bin/python3.11
        7f00-8f00 r-xp 00001000 08:01 124 /lib/libpython3.11.so.1.0
        7fff0000-7fff1000 rw-p 00000000 00:00 0 [stack]
        """)
        XCTAssertEqual(maps.count, 3)
        XCTAssertEqual(maps[1].offset, 0x1000)
        XCTAssertTrue(maps[1].isExecutable)
        XCTAssertEqual(maps[0].path, "/usr/bin/python3.11")
        XCTAssertEqual(ProcFS.threadState(getpid(), getpid()), .running)
        XCTAssertTrue(ProcFS.threads(getpid()).contains(getpid()))
        XCTAssertGreaterThan(ProcFS.rss(getpid()) ?? 0, 0)
    }

    func testElfLoadBiasOfOwnExecutable() throws {
        let exe = try XCTUnwrap(ProcFS.executable(getpid()))
        let elf = try XCTUnwrap(ElfFile(path: exe))
        let bias = try XCTUnwrap(elf.loadBias(in: ProcFS.maps(getpid())))
        // A function of this binary, found through its symbol, lies in an executable mapping.
        let sym = try XCTUnwrap(elf.symbols.first { $0.isFunction && $0.name == "main" })
        let address = sym.value &+ bias
        XCTAssertTrue(ProcFS.maps(getpid()).contains { $0.path == exe && $0.isExecutable && $0.start <= address && address < $0.end })
    }

    func testDemangle() {
        XCTAssertEqual(Symbolizer.demangle("_ZN2at4_ops2mm4callERKNS_6TensorES4_"), "at::_ops::mm::call(at::Tensor const&, at::Tensor const&)")
        XCTAssertEqual(Symbolizer.demangle("PyEval_EvalCode"), "PyEval_EvalCode")
    }
}
