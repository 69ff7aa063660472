@testable import Attach
import XCTest

/// Which processes of a job are its ranks, from their parents and environments.
final class TargetsTests: XCTestCase {
    func testEnvironmentParsing() {
        let bytes = Array("A=1\u{0}KINETO_USE_DAEMON=\u{0}PATH=/bin:/usr/bin\u{0}X=a=b\u{0}broken\u{0}".utf8)
        let env = AttachTargets.parseEnvironment(bytes)
        XCTAssertEqual(env, ["A": "1", "KINETO_USE_DAEMON": "", "PATH": "/bin:/usr/bin", "X": "a=b"])
        XCTAssertTrue(AttachTargets.hasHook(env), "set, even empty, is what Kineto checks")
        XCTAssertFalse(AttachTargets.hasHook(["A": "1"]))
    }

    /// shell 1 -> torchrun 2 (hooked, no RANK) -> ranks 3, 4 -> DataLoader workers 5, 6.
    func testTorchrunRanksNotItsWorkersNorItself() {
        let parent: [Int32: Int32] = [2: 1, 3: 2, 4: 2, 5: 3, 6: 4]
        let hook = ["KINETO_USE_DAEMON": "1"]
        let env: [Int32: [String: String]] = [
            1: [:], 2: hook, 3: hook.merging(["RANK": "0"]) { $1 }, 4: hook.merging(["RANK": "1"]) { $1 },
            5: hook.merging(["RANK": "0"]) { $1 }, 6: hook.merging(["RANK": "1"]) { $1 },
        ]
        XCTAssertEqual(AttachTargets.pick(1, descendants: [2, 3, 4, 5, 6], parent: { parent[$0] }, environment: { env[$0] }), [3, 4])
        XCTAssertEqual(AttachTargets.pick(2, descendants: [3, 4, 5, 6], parent: { parent[$0] }, environment: { env[$0] }), [3, 4])
    }

    /// mp.spawn: main 1 (hooked) -> children 2, 3 (hooked, no RANK) -> worker 4.
    func testSpawnedChildrenWithoutRank() {
        let parent: [Int32: Int32] = [2: 1, 3: 1, 4: 2]
        let hook = ["KINETO_USE_DAEMON": "1"]
        let env: [Int32: [String: String]] = [1: hook, 2: hook, 3: hook, 4: hook]
        XCTAssertEqual(AttachTargets.pick(1, descendants: [2, 3, 4], parent: { parent[$0] }, environment: { env[$0] }), [2, 3])
        // Nothing hooked below: the process itself.
        XCTAssertEqual(AttachTargets.pick(1, descendants: [], parent: { parent[$0] }, environment: { env[$0] }), [1])
        // Unreadable environments count as no hook.
        XCTAssertEqual(AttachTargets.pick(1, descendants: [2, 3], parent: { parent[$0] }, environment: { _ in nil }), [1])
    }
}
