/// Field offsets (bytes, x86_64) of the CPython structures the frame reader walks.
///
/// 3.10-3.12 come from the headers of those releases (offsetof over `Py_BUILD_CORE` structs,
/// checked against py-spy's tables); 3.13+ are read from the target's own `_Py_DebugOffsets`.
public struct PythonLayout: Sendable, Equatable {
    /// PY_VERSION_HEX major/minor, e.g. 0x030B for 3.11.
    public var minor: Int
    // _PyRuntimeState
    public var interpretersHead: Int
    /// `gilstate.tstate_current` (3.10, 3.11): the thread holding the GIL.
    public var tstateCurrent: Int?
    // PyInterpreterState
    public var interpNext: Int
    public var interpThreadsHead: Int
    /// 3.12: offset of the `ceval.gil` pointer; 3.13: offset of the embedded `_gil` struct.
    public var gilState: Int?
    /// Whether `gilState` is a pointer to follow (3.12) or the struct itself (3.13+).
    public var gilIsPointer = false
    public var gilLastHolder = 8
    public var gilLocked = 16
    // PyThreadState
    public var tstateSize: Int
    public var tstateNext: Int
    public var tstateInterp: Int
    /// The current frame: a frame object (3.10), a `_PyCFrame *` (3.11, 3.12), the frame (3.13+).
    public var tstateFrame: Int
    /// Offset of `current_frame` in `_PyCFrame` (3.11, 3.12).
    public var cframeCurrent: Int?
    public var tstateThreadID: Int
    public var tstateNativeThreadID: Int?
    public var tstateDatastackChunk: Int?
    // Frames: PyFrameObject (3.10) or _PyInterpreterFrame (3.11+)
    public var frameSize: Int
    public var framePrevious: Int
    public var frameCode: Int
    /// 3.10: `f_lasti` (int, instruction index); 3.11+: `prev_instr` / `instr_ptr` (pointer).
    public var frameInstr: Int
    public var frameOwner: Int?
    // PyCodeObject
    public var codeSize: Int
    public var codeFilename: Int
    public var codeName: Int
    public var codeQualname: Int?
    public var codeFirstLine: Int
    public var codeLinetable: Int
    public var codeAdaptive: Int?
    // Objects
    public var objectType = 8
    public var bytesSize = 16
    public var bytesData = 32
    public var unicodeLength = 16
    public var unicodeState = 32
    /// Where the characters of a compact ASCII string start (sizeof PyASCIIObject).
    public var asciiData: Int
    /// Where the characters of another compact string start (sizeof PyCompactUnicodeObject).
    public var compactData: Int

    /// True when frames are `_PyInterpreterFrame`s and lines come from the 3.11+ location table.
    public var interpreterFrames: Bool { minor >= 11 }

    /// The built-in table for 3.`minor` (10, 11 or 12), nil for others.
    public static func builtIn(minor: Int) -> PythonLayout? {
        switch minor {
        case 10:
            return PythonLayout(minor: 10, interpretersHead: 32, tstateCurrent: 568, interpNext: 0, interpThreadsHead: 8,
                                tstateSize: 184, tstateNext: 8, tstateInterp: 16, tstateFrame: 24, cframeCurrent: nil,
                                tstateThreadID: 176, tstateNativeThreadID: nil, tstateDatastackChunk: nil,
                                frameSize: 104, framePrevious: 24, frameCode: 32, frameInstr: 96, frameOwner: nil,
                                codeSize: 128, codeFilename: 104, codeName: 112, codeQualname: nil, codeFirstLine: 40,
                                codeLinetable: 120, codeAdaptive: nil, asciiData: 48, compactData: 72)
        case 11:
            return PythonLayout(minor: 11, interpretersHead: 40, tstateCurrent: 576, interpNext: 0, interpThreadsHead: 16,
                                tstateSize: 320, tstateNext: 8, tstateInterp: 16, tstateFrame: 56, cframeCurrent: 8,
                                tstateThreadID: 152, tstateNativeThreadID: 160, tstateDatastackChunk: 296,
                                frameSize: 72, framePrevious: 48, frameCode: 32, frameInstr: 56, frameOwner: 69,
                                codeSize: 192, codeFilename: 112, codeName: 120, codeQualname: 128, codeFirstLine: 72,
                                codeLinetable: 136, codeAdaptive: 184, asciiData: 48, compactData: 72)
        case 12:
            return PythonLayout(minor: 12, interpretersHead: 40, tstateCurrent: nil, interpNext: 0, interpThreadsHead: 72,
                                gilState: 384, gilIsPointer: true,
                                tstateSize: 256, tstateNext: 8, tstateInterp: 16, tstateFrame: 56, cframeCurrent: 0,
                                tstateThreadID: 136, tstateNativeThreadID: 144, tstateDatastackChunk: 232,
                                frameSize: 72, framePrevious: 8, frameCode: 0, frameInstr: 56, frameOwner: 70,
                                codeSize: 200, codeFilename: 112, codeName: 120, codeQualname: 128, codeFirstLine: 68,
                                codeLinetable: 136, codeAdaptive: 192, asciiData: 40, compactData: 56)
        default:
            return nil
        }
    }

    /// Size of the `_Py_DebugOffsets` prefix of `_PyRuntime` that `fromDebugOffsets` reads.
    public static let debugOffsetsSize = 568

    /// The layout described by a 3.13+ `_Py_DebugOffsets` (the first bytes of `_PyRuntime`), or nil
    /// when the cookie is missing or the interpreter is free-threaded.
    public static func fromDebugOffsets(_ d: [UInt8]) -> PythonLayout? {
        guard d.count >= debugOffsetsSize, Array(d[0..<8]) == Array("xdebugpy".utf8), d.u64(16) == 0 else { return nil }
        let version = d.u64(8)
        guard version >> 24 == 3, (version >> 16) & 0xff >= 13 else { return nil }
        func o(_ at: Int) -> Int { Int(truncatingIfNeeded: d.u64(at)) }
        let gil = o(120)
        return PythonLayout(minor: Int((version >> 16) & 0xff), interpretersHead: o(40), tstateCurrent: nil,
                            interpNext: o(64), interpThreadsHead: o(72),
                            gilState: gil, gilIsPointer: false, gilLastHolder: o(144) - gil, gilLocked: o(136) - gil,
                            tstateSize: max(o(152), o(208) + 24), tstateNext: o(168), tstateInterp: o(176), tstateFrame: o(184),
                            cframeCurrent: nil, tstateThreadID: o(192), tstateNativeThreadID: o(200), tstateDatastackChunk: o(208),
                            frameSize: max(o(264), o(248)) + 8, framePrevious: o(232), frameCode: o(240), frameInstr: o(248),
                            frameOwner: o(264), codeSize: o(344) + 8, codeFilename: o(280), codeName: o(288), codeQualname: o(296),
                            codeFirstLine: o(312), codeLinetable: o(304), codeAdaptive: o(344),
                            objectType: o(360), bytesSize: o(520), bytesData: o(528), unicodeLength: o(552), unicodeState: o(544),
                            asciiData: o(560), compactData: o(560) + 16)
    }
}

/// Line numbers from a code object's line table.
public enum LineTable {
    /// The line of code unit `index` in a 3.11+ location table (`co_linetable`), or `firstLine`
    /// when the index is outside the table.
    public static func line311(_ table: [UInt8], firstLine: Int, index: Int) -> Int {
        var line = firstLine
        var addr = 0
        var i = 0
        func varint() -> Int {
            var value = 0, shift = 0
            while i < table.count {
                let b = Int(table[i]); i += 1
                value |= (b & 63) << shift
                shift += 6
                if b & 64 == 0 { break }
            }
            return value
        }
        func svarint() -> Int {
            let v = varint()
            return v & 1 != 0 ? -(v >> 1) : v >> 1
        }
        while i < table.count {
            let first = Int(table[i]); i += 1
            guard first & 0x80 != 0 else { continue }  // resynchronise on an entry start
            let code = (first >> 3) & 15
            let length = (first & 7) + 1
            var entryLine: Int? = line
            switch code {
            case 15: entryLine = nil
            case 14:
                line &+= svarint()
                entryLine = line
                _ = varint(); _ = varint(); _ = varint()
            case 13:
                line &+= svarint()
                entryLine = line
            case 10...12:
                line &+= code - 10
                entryLine = line
                i += 2
            default:
                i += 1
            }
            if index >= addr && index < addr + length { return entryLine ?? firstLine }
            addr &+= length
        }
        return firstLine
    }

    /// The line of byte offset `offset` in a 3.10 line table (pairs of byte delta, signed line delta).
    public static func line310(_ table: [UInt8], firstLine: Int, offset: Int) -> Int {
        var line = firstLine
        var start = 0
        var i = 0
        while i + 1 < table.count {
            let delta = Int(table[i])
            let lineDelta = Int(Int8(bitPattern: table[i + 1]))
            i += 2
            let end = start &+ delta
            var current: Int? = nil
            if lineDelta != -128 {
                line &+= lineDelta
                current = line
            }
            if offset >= start && offset < end { return current ?? firstLine }
            start = end
        }
        return line
    }
}
