@testable import TraceImport
import TestSupport
import TraceModel
import XCTest

/// Sorting and the nesting walk (docs/definitions.md, "Nesting, self and inclusive time").
final class NestingTests: XCTestCase {
    func names(_ t: RankTrace) -> [String] { (0..<t.slices.count).map { t.name(ofSlice: $0) } }

    func testSortedByStartThenDurationDescendingThenFileOrder() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("B", ts: "5", dur: "1"),
            TestSupport.x("A", ts: "0", dur: "2"),
            TestSupport.x("C", ts: "0", dur: "10"),
            TestSupport.x("D", ts: "0", dur: "10"),
        ]))
        XCTAssertEqual(names(t), ["C", "D", "A", "B"])
        XCTAssertEqual(t.slices.depth, [0, 1, 2, 2])
        XCTAssertEqual(t.slices.parent, [-1, 0, 1, 1])
        XCTAssertEqual((0..<t.slices.count).map(t.slices.nestEnd), [10_000, 10_000, 2_000, 6_000])
        XCTAssertEqual(t.warnings.count("overlapping-slices"), 0)
    }

    /// The tie rule: the slice that encloses is the outer one (longer first at one start); for exact
    /// ties (same start and duration) the one read first is the outer one, as Kineto writes parents
    /// first, whatever the event form (X or B/E) and however deep the chain.
    func testExactTiesNestInFileOrderForCompleteAndBeginEndSlices() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("main", ts: "0", dur: "10"),
            #"{"ph": "B", "name": "run", "pid": 1, "tid": 1, "ts": 0}"#,
            TestSupport.x("step", ts: "0", dur: "10"),
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 10}"#,
            TestSupport.x("inner", ts: "0", dur: "4"),
        ]))
        XCTAssertEqual(names(t), ["main", "run", "step", "inner"])
        XCTAssertEqual(t.slices.parent, [-1, 0, 1, 2])
        XCTAssertEqual(t.slices.depth, [0, 1, 2, 3])
        // The same events in the reverse order nest the other way round: file order decides ties.
        let r = try load(TestSupport.kineto([
            TestSupport.x("step", ts: "0", dur: "10"),
            TestSupport.x("main", ts: "0", dur: "10"),
        ]))
        XCTAssertEqual(names(r), ["step", "main"])
        XCTAssertEqual(r.slices.parent, [-1, 0])
    }

    func testSlicesAreGroupedByTrackInTrackOrder() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("t1-late", ts: "9", dur: "1", tid: "1"),
            TestSupport.x("t2-a", ts: "3", dur: "1", tid: "2"),
            TestSupport.x("t1-early", ts: "1", dur: "1", tid: "1"),
            TestSupport.x("t2-b", ts: "0", dur: "1", tid: "2"),
        ]))
        XCTAssertEqual(names(t), ["t1-early", "t1-late", "t2-b", "t2-a"])
        XCTAssertEqual(t.tracks.sliceRange, [0..<2, 2..<4])
        XCTAssertEqual(t.slices.track, [0, 0, 1, 1])
        // Nesting never crosses tracks: t2-b starts inside nothing of its own track.
        XCTAssertEqual(t.slices.parent, [-1, -1, -1, -1])
    }

    func testStepOnePopsEverythingEndedBeforeTheNewStart() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("A", ts: "0", dur: "10"),
            TestSupport.x("B", ts: "2", dur: "3"),
            TestSupport.x("C", ts: "10", dur: "10"),  // starts exactly where A ends: a sibling
            TestSupport.x("D", ts: "5", dur: "0"),    // zero length at B's end: A's child
            TestSupport.x("E", ts: "3", dur: "0"),    // zero length inside B: B's child
        ]))
        XCTAssertEqual(names(t), ["A", "B", "E", "D", "C"])
        XCTAssertEqual(t.slices.parent, [-1, 0, 1, 0, -1])
        XCTAssertEqual(t.slices.depth, [0, 1, 2, 1, 0])
        XCTAssertEqual(t.warnings.count("overlapping-slices"), 0)
        XCTAssertEqual((0..<t.slices.count).map(t.slices.nestEnd), [10_000, 5_000, 3_000, 5_000, 20_000])
    }

    func testStepTwoClipsARangeThatStartsInsideAFrameAndOutlivesIt() throws {
        // with_stack: the Python frame opening record_function("ProfilerStep#1") ends before it.
        let t = try load(TestSupport.kineto([
            TestSupport.x("train.py(10): run", cat: "python_function", ts: "0", dur: "50"),
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "10", dur: "100"),
            TestSupport.x("aten::add", ts: "20", dur: "10"),
        ]))
        let frame = slice(t, "train.py(10): run"), step = slice(t, "ProfilerStep#1"), add = slice(t, "aten::add")
        XCTAssertEqual(t.slices.nestEnd(frame), 10_000)
        XCTAssertEqual(t.slices.dur[frame], 50_000)  // dur stays as written
        XCTAssertEqual(t.slices.parent[step], -1)
        XCTAssertEqual(t.slices.depth[step], 0)
        XCTAssertEqual(t.slices.parent[add], Int32(step))
        XCTAssertEqual(t.slices.depth[add], 1)
        XCTAssertEqual(t.slices.nestEnd(step), 110_000)
        XCTAssertEqual(t.warnings.count("overlapping-slices"), 1)
    }

    func testStepTwoClipsSeveralLevels() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("A", ts: "0", dur: "100"),
            TestSupport.x("B", ts: "10", dur: "40"),
            TestSupport.x("C", ts: "20", dur: "180"),
            TestSupport.x("D", ts: "30", dur: "5"),
        ]))
        let a = slice(t, "A"), b = slice(t, "B"), c = slice(t, "C"), d = slice(t, "D")
        XCTAssertEqual(t.slices.nestEnd(a), 20_000)
        XCTAssertEqual(t.slices.nestEnd(b), 20_000)
        XCTAssertEqual(t.slices.nestEnd(c), 200_000)
        XCTAssertEqual(t.slices.parent[b], Int32(a))
        XCTAssertEqual(t.slices.parent[c], -1)
        XCTAssertEqual(t.slices.depth[c], 0)
        XCTAssertEqual(t.slices.parent[d], Int32(c))
        XCTAssertEqual(t.warnings.count("overlapping-slices"), 2)
    }

    func testClipStopsAtTheFirstContainingSlice() throws {
        let t = try load(TestSupport.kineto([
            TestSupport.x("outer", ts: "0", dur: "100"),
            TestSupport.x("mid", ts: "10", dur: "20"),
            TestSupport.x("late", ts: "20", dur: "30"),
        ]))
        let outer = slice(t, "outer"), mid = slice(t, "mid"), late = slice(t, "late")
        XCTAssertEqual(t.slices.nestEnd(mid), 20_000)
        XCTAssertEqual(t.slices.nestEnd(outer), 100_000)
        XCTAssertEqual(t.slices.parent[late], Int32(outer))
        XCTAssertEqual(t.slices.depth[late], 1)
        XCTAssertEqual(t.warnings.count("overlapping-slices"), 1)
    }

    func testNestingIsProperAfterClipping() throws {
        // Every child lies inside its parent's nesting interval and siblings never overlap.
        var events: [String] = []
        var seed: UInt64 = 12345
        func next(_ n: UInt64) -> UInt64 { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return (seed >> 33) % n }
        for i in 0..<300 { events.append(TestSupport.x("s\(i)", ts: String(next(1000)), dur: String(next(200)))) }
        let t = try load(TestSupport.kineto(events))
        XCTAssertEqual(t.slices.count, 300)
        var lastChildEnd: [Int32: Int64] = [:]
        for i in 0..<t.slices.count {
            XCTAssertLessThanOrEqual(t.slices.nestEnd(i), t.slices.end(i))
            XCTAssertGreaterThanOrEqual(t.slices.nestEnd(i), t.slices.start[i])
            let p = t.slices.parent[i]
            if p >= 0 {
                XCTAssertLessThan(Int(p), i)
                XCTAssertLessThanOrEqual(t.slices.start[Int(p)], t.slices.start[i])
                XCTAssertLessThanOrEqual(t.slices.nestEnd(i), t.slices.nestEnd(Int(p)))
                XCTAssertEqual(Int(t.slices.depth[i]), Int(t.slices.depth[Int(p)]) + 1)
            } else {
                XCTAssertEqual(t.slices.depth[i], 0)
            }
            XCTAssertLessThanOrEqual(lastChildEnd[p] ?? .min, t.slices.start[i], "siblings overlap at \(i)")
            lastChildEnd[p] = t.slices.nestEnd(i)
        }
    }

    func testNestingPerTrackWithBeginEnd() throws {
        let t = try load(TestSupport.kineto([
            #"{"ph": "B", "name": "outer", "pid": 1, "tid": 1, "ts": 0}"#,
            TestSupport.x("x-inside", ts: "2", dur: "2"),
            TestSupport.x("other-thread", ts: "1", dur: "1", tid: "2"),
            #"{"ph": "E", "pid": 1, "tid": 1, "ts": 8}"#,
        ]))
        XCTAssertEqual(t.slices.parent[slice(t, "x-inside")], Int32(slice(t, "outer")))
        XCTAssertEqual(t.slices.parent[slice(t, "other-thread")], -1)
    }
}
