@testable import TraceImport
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Loads inline JSON text.
func load(_ json: String, name: String = "test.json") throws -> RankTrace {
    try TestSupport.trace(json, name: name)
}

/// The ImportError that loading `json` throws, or nil when it loads.
func importError(_ json: String, name: String = "test.json", file: StaticString = #filePath, line: UInt = #line) -> ImportError? {
    do {
        _ = try TestSupport.trace(json, name: name)
        XCTFail("expected an import error", file: file, line: line)
        return nil
    } catch let e as ImportError {
        return e
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
        return nil
    }
}

/// Parses `bytes` with the internal parser and a buffer of `bufferSize` bytes.
func parseWithBuffer(_ bytes: [UInt8], bufferSize: Int, name: String = "buf.json") throws(ImportError) -> RankTrace {
    let trace = RankTrace(source: name, rank: 0)
    let decoder = KinetoDecoder(builder: TimelineBuilder(rank: trace))
    let parser = TraceParser(source: MemorySource(bytes), file: name, decoder: decoder, bufferSize: bufferSize)
    try parser.run()
    try decoder.finish()
    return trace
}

/// Indices of the slices named `name`, in slice order.
func slices(_ t: RankTrace, _ name: String) -> [Int] {
    (0..<t.slices.count).filter { t.name(ofSlice: $0) == name }
}

/// The only slice named `name` (fails the test when not exactly one).
func slice(_ t: RankTrace, _ name: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
    let found = slices(t, name)
    XCTAssertEqual(found.count, 1, "slices named \(name)", file: file, line: line)
    return found.first ?? 0
}

/// The track keyed by (pid, tid) texts, or nil.
func track(_ t: RankTrace, pid: String, tid: String) -> Int? {
    (0..<t.tracks.count).first { t.strings[t.tracks.pid[$0]] == pid && t.strings[t.tracks.tid[$0]] == tid }
}

/// Args of slice `i` as a dictionary of JSON texts.
func argDict(_ t: RankTrace, _ i: Int) -> [String: String] {
    Dictionary(t.args(ofSlice: i).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
}

/// A whole-model text dump (names as text), to compare two loads of the same trace.
func dump(_ t: RankTrace) -> String {
    var out = ""
    let s = t.strings
    out += "meta base=\(t.metadata.baseTimeNanoseconds) unit=\(t.metadata.displayTimeUnit ?? "-") schema=\(t.metadata.schemaVersion ?? -1) name=\(t.metadata.traceName ?? "-")\n"
    out += "dist=\(String(describing: t.metadata.distributed)) devices=\(t.metadata.devices)\n"
    for k in 0..<t.tracks.count {
        out += "track \(k) \(s[t.tracks.pid[k]])/\(s[t.tracks.tid[k]]) \(t.tracks.kind[k]) name=\(s[t.tracks.name[k]]) sort=\(t.tracks.sortIndex[k]) range=\(t.tracks.sliceRange[k])\n"
    }
    for i in 0..<t.slices.count {
        out += "slice \(i) \(s[t.slices.name[i]]) cat=\(s[t.slices.category[i]]) \(t.slices.kind[i]) t=\(t.slices.track[i]) "
            + "\(t.slices.start[i])+\(t.slices.dur[i]) nest=\(t.slices.nestEnd(i)) d=\(t.slices.depth[i]) p=\(t.slices.parent[i]) "
            + "corr=\(t.slices.correlation[i]) ext=\(t.slices.externalID[i]) launcher=\(t.slices.launcher.isEmpty ? -9 : t.slices.launcher[i]) "
            + "args=\(t.args(ofSlice: i).map { "\($0.key)=\($0.value)" })\n"
    }
    for i in 0..<t.instants.count {
        let a = Int(t.instants.argStart[i])
        let args = (a..<a + Int(t.instants.argCount[i])).map { "\(s[t.args.key[$0]])=\(t.argText(t.args.value[$0]))" }
        out += "instant \(s[t.instants.name[i]]) \(t.instants.ts[i]) t=\(t.instants.track[i]) scope=\(t.instants.scope[i]) args=\(args)\n"
    }
    for i in 0..<t.memory.count {
        out += "memory \(t.memory.ts[i]) t=\(t.memory.track[i]) \(t.memory.bytes[i]) \(t.memory.totalAllocated[i]) \(t.memory.totalReserved[i]) \(t.memory.addr[i]) \(t.memory.deviceType[i]) \(t.memory.deviceID[i])\n"
    }
    for i in 0..<t.counters.count {
        out += "counter \(s[t.counters.name[i]]) \(s[t.counters.series[i]]) \(t.counters.ts[i]) pid=\(s[t.counters.pid[i]]) \(t.counters.value[i])\n"
    }
    for p in t.processes { out += "process \(s[p.pid]) \(s[p.name]) \(s[p.labels]) \(p.sortIndex)\n" }
    for w in t.warnings.entries { out += "warning \(w.code) \(w.count) \(w.example)\n" }
    for (ph, n) in t.eventCounts.sorted(by: { $0.key < $1.key }) { out += "count \(ph) \(n)\n" }
    return out
}

/// A fresh temporary directory.
func temporaryDirectory() -> String {
    let dir = TestSupport.temporaryPath(".d")
    mkdir(dir, 0o700)
    return dir
}

/// Removes a directory tree made by a test.
func removeTree(_ path: String) {
    _ = system("rm -rf '\(path)'")
}

/// Reads a file's bytes.
func readBytes(_ path: String) -> [UInt8] {
    (try? FileSource.readAll(path: path)) ?? []
}

/// `bytes` compressed by the system gzip (one member).
func gzipped(_ bytes: [UInt8]) -> [UInt8] {
    let plain = TestSupport.temporaryPath(".json")
    TestSupport.writeFile(plain, bytes)
    defer { unlink(plain); unlink(plain + ".gz") }
    let rc = system("gzip -n -f '\(plain)'")
    precondition(rc == 0, "gzip failed")
    return readBytes(plain + ".gz")
}

/// A JSON event object text.
func event(_ fields: String) -> String { "{" + fields + "}" }
