import Sampler
import TestSupport
import TraceModel
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `--native`: libunwind over ptrace, ELF symbolization and splicing into Python stacks.
final class NativeTests: XCTestCase {
    /// Compiles a C file from Programs/ with `cc`, else the `clang` every Swift toolchain ships
    /// (it builds the C shims); skips only when neither is on PATH.
    func compile(_ source: String, shared: Bool) throws -> String {
        guard let compiler = ["cc", "clang"].first(where: { system("command -v \($0) >/dev/null 2>&1") == 0 }) else {
            print("NativeTests: no C compiler (cc or clang) on PATH; skipping")
            throw XCTSkip("no C compiler: native test programs cannot be built")
        }
        let out = TestSupport.temporaryPath(shared ? ".so" : "")
        let flags = shared ? "-shared -fPIC" : ""
        let status = system("\(compiler) -O1 \(flags) -o \(out) '\(Programs.dir)/\(source)'")
        XCTAssertEqual(status, 0, "\(compiler) failed on \(source)")
        return out
    }

    func record(_ pid: Int32, seconds: Double) throws -> SampledProfile {
        var options = SamplerOptions()
        options.duration = seconds
        options.native = true
        let session = try SamplingSession(pid: pid, options: options)
        session.run()
        XCTAssertEqual(ProcFS.tracer(of: pid), 0, "detached after the recording")
        return session.profile
    }

    func names(_ p: SampledProfile, _ sample: Int) -> [String] {
        p.samples.stack[sample] < 0 ? [] : p.stacks.frames(p.samples.stack[sample]).map { p.strings[p.frames.name[Int($0)]] }
    }

    func testNativeProgramHotFunctions() throws {
        let exe = try compile("native_hot.c", shared: false)
        defer { unlink(exe) }
        let target = try TestProcess([exe, "60"])
        defer { target.kill() }
        let p = try record(target.pid, seconds: 1.5)
        let stacks = p.samples(ofThread: target.pid).map { names(p, $0) }
        let hot = stacks.filter { $0.last == "hot_inner" }.count
        let cold = stacks.filter { $0.last == "cold_inner" }.count
        XCTAssertGreaterThan(hot + cold, 60)
        XCTAssertEqual(Double(hot) / Double(hot + cold), 0.75, accuracy: 0.15)
        for s in stacks where s.last == "hot_inner" {
            XCTAssertEqual(Array(s.suffix(3)), ["main", "spin_loop", "hot_inner"])
        }
    }

    func testPythonFramesSplicedAtTheEvalLoop() throws {
        let lib = try compile("c_spin.c", shared: true)
        defer { unlink(lib) }
        let target = try TestProcess([try Programs.python(), Programs.dir + "/native_calls.py", lib, "60"])
        defer { target.kill() }
        let p = try record(target.pid, seconds: 1.5)
        let stacks = p.samples(ofThread: target.pid).map { names(p, $0) }
        let inC = stacks.filter { $0.last == "c_spin_inner" }
        XCTAssertGreaterThan(inC.count, 10)
        for s in inC {
            // Python frames in call order, then the C library's frames below the Python caller.
            let module = try XCTUnwrap(s.firstIndex(of: "<module>"), "\(s)")
            let main = try XCTUnwrap(s.firstIndex(of: "main"), "\(s)")
            let caller = try XCTUnwrap(s.firstIndex(of: "call_native"), "\(s)")
            let c = try XCTUnwrap(s.firstIndex(of: "c_spin"), "\(s)")
            XCTAssertTrue(module < main && main < caller && caller < c, "\(s)")
            XCTAssertFalse(s.contains("_PyEval_EvalFrameDefault"), "eval frames are replaced: \(s)")
        }
        XCTAssertGreaterThan(stacks.filter { $0.last == "python_spin" }.count, 5)
    }
}
