@testable import Attach
import TestSupport
import XCTest

/// The message codec, against datagrams captured from a real client: torch 2.15 (CPU) with
/// KINETO_USE_DAEMON=1 polling a listener on @dynolog. `req-activities.bin` asks for an
/// activities config (type 2), `req-none.bin` is the poll it sends while a trace runs (type 0).
/// Both list pid 12816 (the process) and its five ancestors.
final class ProtocolTests: XCTestCase {
    static let fixtures = TestSupport.packageRoot + "/Tests/AttachTests/Fixtures/"

    func bytes(_ name: String) throws -> [UInt8] {
        guard let f = fopen(Self.fixtures + name, "rb") else { throw XCTSkip("missing fixture \(name)") }
        defer { fclose(f) }
        var out = [UInt8](repeating: 0, count: 4096)
        out.removeSubrange(fread(&out, 1, out.count, f)...)
        return out
    }

    func testCapturedActivitiesRequest() throws {
        let raw = try bytes("req-activities.bin")
        XCTAssertEqual(raw.count, 80)
        let message = try FabricMessage.decode(raw)
        XCTAssertEqual(message.type, "req")
        XCTAssertEqual(message.payload.count, 40)
        let request = try KinetoRequest(payload: message.payload)
        XCTAssertEqual(request.configType, 2)
        XCTAssertTrue(request.wantsActivities)
        XCTAssertEqual(request.jobID, 0)
        XCTAssertEqual(request.pids, [12816, 12815, 12768, 12767, 6394, 6385])
        XCTAssertEqual(request.pid, 12816)
        // Encoding the parsed request gives back the client's bytes.
        XCTAssertEqual(request.encoded().encoded(), raw)
    }

    func testCapturedBusyPoll() throws {
        let request = try KinetoRequest(payload: FabricMessage.decode(bytes("req-none.bin")).payload)
        XCTAssertEqual(request.configType, 0)
        XCTAssertFalse(request.wantsActivities)
        XCTAssertEqual(request.pid, 12816)
    }

    func testConfigReplyLayout() {
        let text = "ACTIVITIES_DURATION_MSECS=2000\nACTIVITIES_LOG_FILE=/tmp/t.json\nPROFILE_START_TIME=0"
        let bytes = KinetoRequest.reply(config: text).encoded()
        XCTAssertEqual(bytes.count, 40 + text.utf8.count)
        XCTAssertEqual(Array(bytes[0..<8]), [UInt8(text.utf8.count), 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(bytes[8..<12]), Array("req".utf8) + [0])
        XCTAssertTrue(bytes[11..<40].allSatisfy { $0 == 0 })
        XCTAssertEqual(String(decoding: bytes[40...], as: UTF8.self), text)
        // The empty config: a bare header with size 0.
        XCTAssertEqual(KinetoRequest.reply(config: "").encoded(), [0, 0, 0, 0, 0, 0, 0, 0] + Array("req".utf8) + [UInt8](repeating: 0, count: 29))
    }

    /// Kineto of torch 2.15 no longer registers (`ctxt`), so this one is built from Utils.h's
    /// `LibkinetoContext {int32 gpu; pid_t pid; int64 jobid}`.
    func testContextRegistration() throws {
        let raw: [UInt8] = [16, 0, 0, 0, 0, 0, 0, 0] + Array("ctxt".utf8) + [UInt8](repeating: 0, count: 28)
            + [1, 0, 0, 0, 0x39, 0x30, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0]
        let message = try FabricMessage.decode(raw)
        XCTAssertEqual(message.type, "ctxt")
        XCTAssertEqual(try KinetoContext(payload: message.payload), KinetoContext(gpu: 1, pid: 12345, jobID: 7))
        XCTAssertEqual(KinetoContext(gpu: 1, pid: 12345, jobID: 7).encoded().encoded(), raw)
        let reply = KinetoContext.reply(registered: 3).encoded()
        XCTAssertEqual(reply.count, 44)
        XCTAssertEqual(Array(reply[40...]), [3, 0, 0, 0])
    }

    func testMalformedDatagramsNameTheByte() throws {
        let raw = try bytes("req-activities.bin")
        XCTAssertThrowsError(try FabricMessage.decode(Array(raw[0..<30]))) { XCTAssertEqual(($0 as! DaemonProtocolError).offset, 30) }
        XCTAssertThrowsError(try FabricMessage.decode(Array(raw.dropLast(4)))) { error in
            let e = error as! DaemonProtocolError
            XCTAssertEqual(e.offset, 0)
            XCTAssertTrue(e.message.contains("40"), e.message)
        }
        var unterminated = raw
        for i in 8..<40 { unterminated[i] = UInt8(ascii: "x") }
        XCTAssertThrowsError(try FabricMessage.decode(unterminated)) { XCTAssertEqual(($0 as! DaemonProtocolError).offset, 8) }
        var wrongCount = try FabricMessage.decode(raw).payload
        wrongCount[4] = 7
        XCTAssertThrowsError(try KinetoRequest(payload: wrongCount)) { XCTAssertEqual(($0 as! DaemonProtocolError).offset, 44) }
        var negative = wrongCount
        negative[4...7] = [0xff, 0xff, 0xff, 0xff]
        XCTAssertThrowsError(try KinetoRequest(payload: negative))
        XCTAssertThrowsError(try KinetoRequest(payload: [1, 2, 3]))
        XCTAssertThrowsError(try KinetoContext(payload: [UInt8](repeating: 0, count: 12)))
    }

    func testConfigText() throws {
        var c = OnDemandConfig(window: .milliseconds(2000), logFile: "/tmp/x.json")
        XCTAssertEqual(c.text, "ACTIVITIES_DURATION_MSECS=2000\nPROFILE_START_TIME=0\nACTIVITIES_LOG_FILE=/tmp/x.json")
        c.startTimeMs = 1_790_000_000_123
        c.warmupSeconds = 5
        c.activityTypes = try OnDemandConfig.activityTypes(["CPU", "cpu_op", "kernel"])
        c.recordShapes = true
        c.profileMemory = true
        c.withStack = true
        XCTAssertEqual(c.text.split(separator: "\n"), [
            "ACTIVITIES_DURATION_MSECS=2000", "PROFILE_START_TIME=1790000000123", "ACTIVITIES_LOG_FILE=/tmp/x.json",
            "ACTIVITIES_WARMUP_PERIOD_SECS=5",
            "ACTIVITY_TYPES=cpu_op,user_annotation,external_correlation,cpu_instant_event,python_function,kernel",
            "PROFILE_REPORT_INPUT_SHAPES=true", "PROFILE_PROFILE_MEMORY=true", "PROFILE_WITH_STACK=true",
        ])
        let it = OnDemandConfig(window: .iterations(5), logFile: "/tmp/y.json")
        XCTAssertEqual(it.text, "PROFILE_START_ITERATION=0\nPROFILE_START_ITERATION_ROUNDUP=1\nACTIVITIES_ITERATIONS=5\nACTIVITIES_LOG_FILE=/tmp/y.json")
        XCTAssertThrowsError(try OnDemandConfig.activityTypes(["gpu"])) {
            XCTAssertTrue(($0 as! DaemonProtocolError).message.contains("unknown activity 'gpu'"))
        }
    }
}
