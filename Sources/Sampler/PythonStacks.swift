/// One Python frame: function (qualified name on 3.11+), file and current line.
public struct PythonFrame: Hashable, Sendable {
    public var name: String
    public var file: String
    public var line: Int
    /// The outermost frame run by its `_PyEval_EvalFrameDefault` call (where native stacks splice).
    public var isEntry: Bool
    public init(name: String, file: String, line: Int, isEntry: Bool = true) {
        self.name = name
        self.file = file
        self.line = line
        self.isEntry = isEntry
    }
}

/// One Python thread at one instant.
public struct PythonThread: Sendable, Equatable {
    /// OS thread id (0 when unknown).
    public var tid: Int32
    /// Whether this thread held the GIL.
    public var holdsGIL: Bool
    /// Frames, innermost first.
    public var frames: [PythonFrame]
    /// Address of the thread's `PyThreadState` and of its interpreter.
    public var threadState: UInt64
    public var interpreter: UInt64
}

/// A read that did not validate: the target changed under it (it keeps running), or bad memory.
struct TornRead: Error {}

/// Reads every thread's Python stack from a running interpreter without stopping it.
///
/// Per thread and sample: one read of the thread state, one batched read of the `_PyCFrame` and the
/// thread's frame data stack (where 3.11+ frames live), one batched read of the code object headers;
/// strings and line tables only for code objects not seen before (cached by address and validated
/// by their name and file pointers).
public final class PythonStackReader {
    public let runtime: PythonRuntime
    let memory: ProcessMemory
    private var layout: PythonLayout { runtime.layout }
    /// Decoded code objects by address.
    private var codeCache: [UInt64: CodeInfo] = [:]
    /// Thread reads that failed validation and were retried.
    public private(set) var retries = 0
    /// Thread reads dropped after the retries failed too.
    public private(set) var dropped = 0
    static let maxDepth = 2048
    static let maxStackBytes = 1 << 20

    struct CodeInfo {
        var filenamePointer: UInt64
        var namePointer: UInt64
        var name: String
        var file: String
        var firstLine: Int
        var linetable: [UInt8]
        /// Lines already decoded, by instruction pointer or offset.
        var lines: [UInt64: Int] = [:]
    }

    public init(runtime: PythonRuntime, memory: ProcessMemory) {
        self.runtime = runtime
        self.memory = memory
    }

    /// Every thread of every interpreter, with its stack; a thread whose reads keep tearing is left out.
    public func sample() throws(MemoryError) -> [PythonThread] {
        var result: [PythonThread] = []
        let head = try memory.read(runtime.runtimeAddress &+ UInt64(layout.interpretersHead), 8).u64(0)
        var interp = head
        var interpreters = 0
        let gilHolder = try gilHolder(firstInterpreter: head)
        while interp != 0 && interpreters < 16 {
            interpreters += 1
            let state = try memory.read(interp, max(layout.interpThreadsHead, layout.interpNext) + 8)
            var tstate = state.u64(layout.interpThreadsHead)
            var count = 0
            while tstate != 0 && count < 4096 {
                count += 1
                var next: UInt64 = 0
                for attempt in 0..<3 {
                    do throws(TornRead) {
                        let (thread, following) = try readThread(tstate, interp: interp, gilHolder: gilHolder)
                        result.append(thread)
                        next = following
                        break
                    } catch {
                        if attempt == 2 {
                            dropped += 1
                            // Keep walking the list if the thread state itself is still readable.
                            next = (try? memory.read(tstate &+ UInt64(layout.tstateNext), 8).u64(0)) ?? 0
                        } else {
                            retries += 1
                        }
                    }
                }
                tstate = next
            }
            interp = state.u64(layout.interpNext)
        }
        return result
    }

    /// Reads `thread`'s stack again (while it is stopped for native unwinding, so that both stacks
    /// show the same instant); nil when the read tears.
    public func reread(_ thread: PythonThread) -> PythonThread? {
        guard var fresh = try? readThread(thread.threadState, interp: thread.interpreter, gilHolder: 0).0 else { return nil }
        fresh.holdsGIL = thread.holdsGIL
        return fresh
    }

    /// The thread state holding the GIL (0: none or unknown).
    private func gilHolder(firstInterpreter interp: UInt64) throws(MemoryError) -> UInt64 {
        if let off = layout.tstateCurrent {
            return try memory.read(runtime.runtimeAddress &+ UInt64(off), 8).u64(0)
        }
        guard let off = layout.gilState, interp != 0 else { return 0 }
        var gil = interp &+ UInt64(off)
        if layout.gilIsPointer { gil = try memory.read(gil, 8).u64(0) }
        guard gil != 0, let bytes = try memory.read([MemoryRange(gil, max(layout.gilLocked + 4, layout.gilLastHolder + 8))])[0] else { return 0 }
        return bytes.i32(layout.gilLocked) != 0 ? bytes.u64(layout.gilLastHolder) : 0
    }

    /// Reads one thread: its stack and the next thread state.
    private func readThread(_ tstate: UInt64, interp: UInt64, gilHolder: UInt64) throws(TornRead) -> (PythonThread, UInt64) {
        guard let ts = try? memory.read(tstate, layout.tstateSize), ts.u64(layout.tstateInterp) == interp else { throw TornRead() }
        var tid = Int32(0)
        if let off = layout.tstateNativeThreadID {
            tid = Int32(truncatingIfNeeded: ts.u64(off))
        } else if let pthread = Optional(ts.u64(layout.tstateThreadID)), pthread != 0,
                  let word = try? memory.read(pthread &+ 720, 4) {
            // 3.10 keeps only pthread_self(); glibc's struct pthread holds the tid at 0x2d0 on x86_64.
            tid = word.i32(0)
        }
        var frames: [PythonFrame] = []
        if layout.interpreterFrames {
            frames = try interpreterFrames(ts)
        } else {
            frames = try frameObjects(ts.u64(layout.tstateFrame))
        }
        let thread = PythonThread(tid: tid, holdsGIL: gilHolder != 0 && gilHolder == tstate, frames: frames, threadState: tstate,
                                  interpreter: interp)
        return (thread, ts.u64(layout.tstateNext))
    }

    /// 3.11+: `_PyInterpreterFrame`s, served from one read of the thread's data stack where possible.
    private func interpreterFrames(_ ts: [UInt8]) throws(TornRead) -> [PythonFrame] {
        var ranges: [MemoryRange] = []
        let frameField = ts.u64(layout.tstateFrame)
        if let cframe = layout.cframeCurrent { ranges.append(MemoryRange(frameField &+ UInt64(cframe), 8)) }
        var stackBase: UInt64 = 0
        if let chunkOff = layout.tstateDatastackChunk {
            let chunk = ts.u64(chunkOff), top = ts.u64(chunkOff + 8)
            if chunk != 0, top > chunk, top - chunk <= UInt64(Self.maxStackBytes) {
                stackBase = chunk
                ranges.append(MemoryRange(chunk, Int(top - chunk)))
            }
        }
        var current = frameField
        var stack: [UInt8] = []
        if !ranges.isEmpty {
            guard let got = try? memory.read(ranges) else { throw TornRead() }
            var k = 0
            if layout.cframeCurrent != nil {
                guard let cf = got[0] else { throw TornRead() }
                current = cf.u64(0)
                k = 1
            }
            if stackBase != 0 { stack = got[k] ?? [] }
        }
        var raw: [(code: UInt64, instr: UInt64, entry: Bool)] = []
        var seen = Set<UInt64>()
        while current != 0 {
            guard raw.count < Self.maxDepth, seen.insert(current).inserted else { throw TornRead() }
            let frame: [UInt8]
            if current >= stackBase, current - stackBase <= UInt64(stack.count), UInt64(stack.count) - (current - stackBase) >= UInt64(layout.frameSize) {
                let at = Int(current - stackBase)
                frame = Array(stack[at..<at + layout.frameSize])
            } else {
                guard let f = try? memory.read(current, layout.frameSize) else { throw TornRead() }
                frame = f
            }
            let owner = layout.frameOwner.map { frame[$0] } ?? 0
            if owner == 3 {
                // FRAME_OWNED_BY_CSTACK (3.12+): a shim frame below each C-to-Python entry.
                if !raw.isEmpty { raw[raw.count - 1].entry = true }
            } else {
                // 3.11 flags entry frames with is_entry, just before owner.
                raw.append((frame.u64(layout.frameCode), frame.u64(layout.frameInstr), layout.minor == 11 && frame[68] != 0))
            }
            current = frame.u64(layout.framePrevious)
        }
        return try resolve(raw)
    }

    /// 3.10: the `PyFrameObject` chain.
    private func frameObjects(_ first: UInt64) throws(TornRead) -> [PythonFrame] {
        var raw: [(code: UInt64, instr: UInt64, entry: Bool)] = []
        var current = first
        var seen = Set<UInt64>()
        while current != 0 {
            guard raw.count < Self.maxDepth, seen.insert(current).inserted,
                  let frame = try? memory.read(current, layout.frameSize) else { throw TornRead() }
            raw.append((frame.u64(layout.frameCode), UInt64(bitPattern: Int64(frame.i32(layout.frameInstr))), true))
            current = frame.u64(layout.framePrevious)
        }
        return try resolve(raw)
    }

    /// Turns (code object, instruction) pairs into frames: one batched read of the code headers,
    /// then strings and line tables for new code objects.
    private func resolve(_ raw: [(code: UInt64, instr: UInt64, entry: Bool)]) throws(TornRead) -> [PythonFrame] {
        guard !raw.isEmpty else { return [] }
        guard let headers = try? memory.read(raw.map { MemoryRange($0.code, layout.codeSize) }) else { throw TornRead() }
        var frames: [PythonFrame] = []
        frames.reserveCapacity(raw.count)
        for (i, (code, instr, entry)) in raw.enumerated() {
            guard let h = headers[i] else { throw TornRead() }
            if runtime.codeType != 0 && h.u64(layout.objectType) != runtime.codeType { throw TornRead() }
            var info: CodeInfo
            var changed = false
            if let cached = codeCache[code], cached.filenamePointer == h.u64(layout.codeFilename),
               cached.namePointer == h.u64(layout.codeName) {
                info = cached
            } else {
                info = try decodeCode(h)
                changed = true
            }
            let line: Int
            if let known = info.lines[instr] {
                line = known
            } else if layout.interpreterFrames, let adaptive = layout.codeAdaptive {
                let base = code &+ UInt64(adaptive)
                line = instr >= base && instr - base < 1 << 30 ? LineTable.line311(info.linetable, firstLine: info.firstLine, index: Int((instr - base) / 2))
                    : info.firstLine
            } else {
                let lasti = Int(Int64(bitPattern: instr))
                line = lasti < 0 ? info.firstLine : LineTable.line310(info.linetable, firstLine: info.firstLine, offset: lasti * 2)
            }
            if info.lines.count < 4096 && info.lines[instr] == nil {
                info.lines[instr] = line
                changed = true
            }
            if changed { codeCache[code] = info }
            frames.append(PythonFrame(name: info.name, file: info.file, line: line, isEntry: entry))
        }
        return frames
    }

    private func decodeCode(_ h: [UInt8]) throws(TornRead) -> CodeInfo {
        let namePtr = layout.codeQualname.map { h.u64($0) } ?? h.u64(layout.codeName)
        let strings = [h.u64(layout.codeFilename), namePtr]
        let table = h.u64(layout.codeLinetable)
        // Headers of the three objects first (lengths), then their bytes.
        let headerSize = layout.compactData
        guard let heads = try? memory.read(strings.map { MemoryRange($0, headerSize) } + [MemoryRange(table, layout.bytesData)]),
              let fileHead = heads[0], let nameHead = heads[1], let tableHead = heads[2] else { throw TornRead() }
        var ranges: [MemoryRange] = []
        var kinds: [Int] = []
        for (ptr, head) in zip(strings, [fileHead, nameHead]) {
            if runtime.unicodeType != 0 && head.u64(layout.objectType) != runtime.unicodeType { throw TornRead() }
            let length = Int(truncatingIfNeeded: head.u64(layout.unicodeLength))
            let state = head.u32(layout.unicodeState)
            let kind = Int((state >> 2) & 7), compact = state & 0x20 != 0, ascii = state & 0x40 != 0
            guard compact, kind == 1 || kind == 2 || kind == 4, length >= 0, length < 1 << 16 else { throw TornRead() }
            let data = ascii ? layout.asciiData : layout.compactData
            ranges.append(MemoryRange(ptr &+ UInt64(data), length * kind))
            kinds.append(kind)
        }
        let tableLength = Int(truncatingIfNeeded: tableHead.u64(layout.bytesSize))
        guard tableLength >= 0, tableLength < 1 << 22 else { throw TornRead() }
        ranges.append(MemoryRange(table &+ UInt64(layout.bytesData), tableLength))
        guard let bodies = try? memory.read(ranges), let file = bodies[0], let name = bodies[1], let linetable = bodies[2] else {
            throw TornRead()
        }
        return CodeInfo(filenamePointer: h.u64(layout.codeFilename), namePointer: h.u64(layout.codeName),
                        name: Self.decodeString(name, kind: kinds[1]), file: Self.decodeString(file, kind: kinds[0]),
                        firstLine: Int(h.i32(layout.codeFirstLine)), linetable: linetable)
    }

    /// Text of a compact string's characters of `kind` bytes each (1: Latin-1/ASCII, 2: UCS-2, 4: UCS-4).
    static func decodeString(_ bytes: [UInt8], kind: Int) -> String {
        var s = String.UnicodeScalarView()
        var i = 0
        while kind > 0, i + kind <= bytes.count {
            var v: UInt32 = 0
            for k in (0..<kind).reversed() { v = v << 8 | UInt32(bytes[i + k]) }
            s.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            i += kind
        }
        return String(s)
    }
}
