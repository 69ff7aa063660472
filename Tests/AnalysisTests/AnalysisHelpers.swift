@testable import Analysis
import TestSupport
import TraceImport
import TraceModel
import XCTest

/// Loads inline JSON and analyses it.
func analyzed(_ json: String, rules: [PhaseRule] = [], byShape: Bool = false) throws -> (trace: RankTrace, analysis: RankAnalysis) {
    let trace = try TestSupport.trace(json)
    return (trace, Analyzer.analyze(trace, options: AnalysisOptions(phaseRules: rules, byShape: byShape)))
}

/// The only slice named `name`.
func sliceIndex(_ t: RankTrace, _ name: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
    let found = (0..<t.slices.count).filter { t.name(ofSlice: $0) == name }
    XCTAssertEqual(found.count, 1, "slices named \(name)", file: file, line: line)
    return found.first ?? 0
}

/// The operator stat for `name` (and shape), failing when absent.
func op(_ a: RankAnalysis, _ name: String, shape: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> OperatorStat {
    guard let o = a.operators.first(where: { $0.name == name && $0.shape == shape }) else {
        XCTFail("no operator \(name) \(shape ?? "")", file: file, line: line)
        return OperatorStat(name: name, kind: .other)
    }
    return o
}

/// Phase times from a dictionary (missing phases are 0).
func phases(_ values: [Phase: Int64]) -> PhaseTimes {
    var t = PhaseTimes()
    for (p, v) in values { t[p] = v }
    return t
}

/// A readable form of phase times for failure messages.
func describe(_ t: PhaseTimes) -> String {
    Phase.allCases.filter { t[$0] != 0 }.map { "\($0.name)=\(t[$0])" }.joined(separator: " ")
}

/// A thread_name metadata event.
func threadName(pid: String = "1", tid: String, _ name: String) -> String {
    "{\"ph\": \"M\", \"name\": \"thread_name\", \"pid\": \(pid), \"tid\": \(tid), \"args\": {\"name\": \"\(name)\"}}"
}

/// The track keyed by (pid, tid) texts.
func trackIndex(_ t: RankTrace, pid: String = "1", tid: String) -> Int? {
    (0..<t.tracks.count).first { t.strings[t.tracks.pid[$0]] == pid && t.strings[t.tracks.tid[$0]] == tid }
}
