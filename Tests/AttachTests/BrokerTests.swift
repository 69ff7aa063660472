@testable import Attach
import TestSupport
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Who gets which answer, the common start time of ranks traced together, and the socket.
final class BrokerTests: XCTestCase {
    func captured(_ name: String) throws -> [UInt8] {
        guard let f = fopen(ProtocolTests.fixtures + name, "rb") else { throw XCTSkip("missing fixture \(name)") }
        defer { fclose(f) }
        var out = [UInt8](repeating: 0, count: 4096)
        out.removeSubrange(fread(&out, 1, out.count, f)...)
        return out
    }

    func broker(_ targets: Set<Int32>, together: Bool = false) -> RequestBroker {
        RequestBroker(targets: targets, together: together, warmup: 5) { pid, start in "LOG=\(pid) START=\(start ?? 0)" }
    }

    func config(_ reply: FabricMessage?) -> String? { reply.map { String(decoding: $0.payload, as: UTF8.self) } }

    func testTargetIsServedOnceOthersGetNothing() throws {
        var b = broker([12816])
        let busy = b.answer(try captured("req-none.bin"), nowMs: 0)
        XCTAssertEqual(config(busy.reply), "", "a poll without the activities bit gets an empty config")
        XCTAssertEqual(b.busy, [12816], "its profiler is busy")
        XCTAssertTrue(b.pending)
        let first = b.answer(try captured("req-activities.bin"), nowMs: 0)
        XCTAssertEqual(first.event, .served(pid: 12816, startTimeMs: nil))
        XCTAssertEqual(config(first.reply), "LOG=12816 START=0")
        XCTAssertFalse(b.pending)
        XCTAssertEqual(config(b.answer(try captured("req-activities.bin"), nowMs: 0).reply), "", "served once")

        var other = broker([999])
        let r = other.answer(try captured("req-activities.bin"), nowMs: 0)
        XCTAssertEqual(r.event, .answeredEmpty(pid: 12816))
        XCTAssertEqual(config(r.reply), "")
        // An ancestor's pid in the list is not the target itself.
        var ancestor = broker([12815])
        XCTAssertEqual(ancestor.answer(try captured("req-activities.bin"), nowMs: 0).event, .answeredEmpty(pid: 12816))
    }

    func testRanksTogetherShareOneStartTime() {
        var b = broker([10, 11], together: true)
        func poll(_ pid: Int32, _ now: Int64) -> (reply: FabricMessage?, event: RequestBroker.Event) {
            b.answer(KinetoRequest(configType: 2, jobID: 0, pids: [pid, 1]).encoded().encoded(), nowMs: now)
        }
        let held = poll(10, 1000)
        XCTAssertEqual(held.event, .heldBack(pid: 10))
        XCTAssertEqual(config(held.reply), "")
        // The last rank to poll fixes the start: one poll interval, the warm-up and a second ahead.
        XCTAssertEqual(poll(11, 3000).event, .served(pid: 11, startTimeMs: 3000 + 11_000))
        let later = poll(10, 6000)
        XCTAssertEqual(later.event, .served(pid: 10, startTimeMs: 14_000))
        XCTAssertEqual(config(later.reply), "LOG=10 START=14000")
        XCTAssertFalse(b.pending)
    }

    func testRegistrationAndOddDatagrams() {
        var b = broker([5, 6, 7])
        let ctxt = b.answer(KinetoContext(gpu: 0, pid: 5, jobID: 0).encoded().encoded(), nowMs: 0)
        XCTAssertEqual(ctxt.event, .registered(pid: 5))
        XCTAssertEqual(ctxt.reply, KinetoContext.reply(registered: 3))
        XCTAssertEqual(b.answer(FabricMessage(type: "other", payload: []).encoded(), nowMs: 0).event, .unknown(type: "other"))
        guard case .malformed = b.answer([1, 2, 3], nowMs: 0).event else { return XCTFail("short datagram not reported") }
        XCTAssertNil(b.answer([1, 2, 3], nowMs: 0).reply)
    }

    /// A client on its own abstract name polls the bound @dynolog and reads the answer; a second
    /// bind is refused as in use (what a running dynolog causes).
    func testAbstractSocketRoundTrip() throws {
        let server: DaemonSocket
        do { server = try DaemonSocket() } catch {
            throw XCTSkip("@dynolog is taken on this machine (\(error)): skipping the socket test")
        }
        defer { server.close() }
        XCTAssertEqual(server.address, "@dynolog")
        XCTAssertThrowsError(try DaemonSocket()) { error in
            guard case DaemonSocketError.inUse = error else { return XCTFail("\(error)") }
        }
        let client = try Client(name: "stepscope-test-\(getpid())")
        defer { client.close() }
        let request = try captured("req-activities.bin")
        XCTAssertTrue(client.send(request, to: [0] + Array("dynolog".utf8) + [0]))
        let got = try XCTUnwrap(server.receive(timeout: 2))
        XCTAssertEqual(got.bytes, request)
        XCTAssertEqual(got.from, client.address, "the sender's address, its trailing NUL included")
        XCTAssertTrue(server.send(KinetoRequest.reply(config: "X=1").encoded(), to: got.from))
        XCTAssertEqual(client.receive().map { Array($0[40...]) }, Array("X=1".utf8))
        XCTAssertNil(server.receive(timeout: 0.05))
    }

    /// With KINETO_IPC_SOCKET_DIR the socket is a file: removed at close, and a stale one is replaced.
    func testSocketFileInDirectory() throws {
        let dir = TestSupport.temporaryPath("-sock")
        mkdir(dir, 0o700)
        defer { rmdir(dir) }
        let stale = try Client(path: dir + "/dynolog")
        stale.close()  // leaves the file, nobody reading it
        XCTAssertEqual(access(dir + "/dynolog", F_OK), 0)
        let server = try DaemonSocket(directory: dir)
        XCTAssertEqual(server.address, dir + "/dynolog")
        XCTAssertThrowsError(try DaemonSocket(directory: dir)) { error in
            guard case DaemonSocketError.inUse = error else { return XCTFail("\(error)") }
        }
        server.close()
        XCTAssertNotEqual(access(dir + "/dynolog", F_OK), 0)
    }
}

/// A datagram socket bound to an abstract name or a path, as Kineto's client is.
final class Client {
    let fd: Int32
    let address: [UInt8]

    convenience init(name: String) throws { try self.init(sunPath: [0] + Array(name.utf8) + [0]) }
    convenience init(path: String) throws { try self.init(sunPath: Array(path.utf8) + [0]) }

    init(sunPath: [UInt8]) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: sunPath) }
        let length = MemoryLayout<sa_family_t>.size + sunPath.count
        let rc = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard rc == 0 else { throw XCTSkip("cannot bind a test socket: \(String(cString: strerror(errno)))") }
        address = withUnsafeBytes(of: &addr) { Array($0.prefix(length)) }
    }

    func send(_ bytes: [UInt8], to sunPath: [UInt8]) -> Bool {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: sunPath) }
        let n = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sa_family_t>.size + sunPath.count))
            }
        }
        return n == bytes.count
    }

    func receive() -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 2000) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n >= 0 ? Array(buffer.prefix(n)) : nil
    }

    func close() { Glibc.close(fd) }
}
