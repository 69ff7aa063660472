import Foundation
import TestSupport
import XCTest

/// The efficiency fields of `stepscope report --format json` on the shared H100 and B200 traces
/// (docs/efficiency.md) against FLOPs and device time computed here, independently, in Python
/// from each event's `Input Dims` and the kernels its launches correlate with.
final class EfficiencyConformanceTests: XCTestCase {
    /// Per operator name: calls, FLOPs (GEMMs: 2·M·N·K, + M·N for addmm; flash SDPA: 2·B·H·Nq·Nkv·(d + dv),
    /// halved when causal) and the device time of the kernels, memsets and memcpys launched inside the calls.
    static let reference = #"""
import gzip, json, sys
d = json.load(gzip.open(sys.argv[1]))
ev = d["traceEvents"]
kernels = {}
for e in ev:
    if e.get("cat") in ("kernel", "gpu_memset", "gpu_memcpy") and "correlation" in e.get("args", {}):
        kernels[e["args"]["correlation"]] = kernels.get(e["args"]["correlation"], 0) + round(e["dur"] * 1000)
launches = {}
for e in ev:
    if e.get("cat") in ("cuda_runtime", "cuda_driver") and "correlation" in e.get("args", {}):
        launches.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["args"]["correlation"]))
out = {}
for e in ev:
    if e.get("cat") != "cpu_op":
        continue
    n, a = e["name"], e.get("args", {})
    dims = a.get("Input Dims")
    if n == "aten::mm":
        (m, k), (_, nn) = dims[0], dims[1]
        f = 2 * m * nn * k
    elif n == "aten::addmm":
        (m, k), (_, nn) = dims[1], dims[2]
        f = 2 * m * nn * k + m * nn
    elif n == "aten::bmm":
        (b, m, k), (_, _, nn) = dims[0], dims[1]
        f = 2 * b * m * nn * k
    elif n == "aten::_scaled_dot_product_flash_attention":
        b, h, nq, dd = dims[0]
        nk, dv = dims[1][2], dims[2][3]
        f = 2 * b * h * nq * nk * (dd + dv)
        if a["Concrete Inputs"][4] == "True":
            f = b * h * nq * nk * (dd + dv)
    else:
        continue
    dev = sum(kernels.get(c, 0) for ts, c in launches.get((e["pid"], e["tid"]), []) if e["ts"] <= ts <= e["ts"] + e["dur"])
    r = out.setdefault(n, {"calls": 0, "flops": 0, "device_ns": 0})
    r["calls"] += 1
    r["flops"] += f
    r["device_ns"] += dev
print(json.dumps(out))
"""#

    func testGEMMAndAttentionFLOPsAndDeviceTimeMatchAnIndependentCount() throws {
        guard let shared = TestSupport.sharedTraces else { throw XCTSkip("../shared/traces is absent: efficiency conformance skipped") }
        guard let python = TestSupport.python3() else { throw XCTSkip("no python3: efficiency conformance skipped") }
        let script = TestSupport.temporaryPath(".py")
        TestSupport.writeFile(script, Array(Self.reference.utf8))
        defer { unlink(script) }
        let traces = [
            ("tracelens/h100/Qwen_Qwen1.5-0.5B-Chat__1016005.json.gz", "NVIDIA H100 SXM", 989.5),
            ("tracelens/h100/gaunernst_bert-small-uncased__1016001.json.gz", "NVIDIA H100 SXM", 989.5),
            ("tracelens/b200/eager_trace.json.gz", "NVIDIA B200", 2250.0),
        ]
        var checkedRows = 0
        for (file, peakName, bf16Peak) in traces {
            let path = shared + "/" + file
            guard access(path, R_OK) == 0 else { throw XCTSkip("\(path) is absent") }
            let refText = try XCTUnwrap(TestSupport.shellOutput("'\(python)' '\(script)' '\(path)'"), file)
            let ref = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(refText.utf8)) as? [String: [String: Int]])
            let result = TestSupport.run(["report", "--format", "json", path])
            XCTAssertEqual(result.status, 0, result.stderr)
            let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            let rank = try XCTUnwrap((report["ranks"] as? [[String: Any]])?.first)
            let ops = try XCTUnwrap(rank["ops"] as? [[String: Any]])
            XCTAssertFalse(ref.isEmpty, file)
            for (name, r) in ref {
                let row = try XCTUnwrap(ops.first { $0["name"] as? String == name }, "\(file): \(name)")
                XCTAssertEqual(row["modelled_calls"] as? Int, r["calls"], "\(file) \(name) calls")
                XCTAssertEqual((row["flops"] as? NSNumber)?.int64Value, Int64(r["flops"]!), "\(file) \(name) flops")
                let device = try XCTUnwrap((row["modelled_device_ns"] as? NSNumber)?.doubleValue)
                XCTAssertEqual(device, Double(r["device_ns"]!), accuracy: max(1, 0.001 * device), "\(file) \(name) device time")
                // Achieved TFLOP/s = FLOPs / device ns / 1000 (JSON rounds to 3 decimals).
                let tflops = try XCTUnwrap((row["tflops_per_s"] as? NSNumber)?.doubleValue)
                XCTAssertEqual(tflops, Double(r["flops"]!) / Double(r["device_ns"]!) / 1000, accuracy: 0.001, "\(file) \(name)")
                // These are bf16 ops on a device with a peak table: a roofline share in (0, 100].
                let pct = try XCTUnwrap((row["roofline_pct"] as? NSNumber)?.doubleValue, "\(file) \(name)")
                XCTAssertTrue(pct > 0 && pct <= 100, "\(file) \(name) roofline \(pct)")
                checkedRows += 1
            }
            // Counted once: the rows' FLOPs add up to the rank's (every modelled call is in a step here).
            let e = try XCTUnwrap(rank["efficiency"] as? [String: Any])
            let rowsFlops = ops.reduce(Int64(0)) { $0 + (($1["flops"] as? NSNumber)?.int64Value ?? 0) }
            XCTAssertEqual((e["flops"] as? NSNumber)?.int64Value, rowsFlops, file)
            XCTAssertEqual((e["peaks"] as? [String: Any])?["name"] as? String, peakName)
            // MFU = FLOPs / (steps' time x bf16 peak), bf16 being the dominant precision here.
            XCTAssertEqual(e["dominant_precision"] as? String, "bf16")
            let steps = try XCTUnwrap(rank["steps"] as? [[String: Any]])
            let wall = steps.reduce(0.0) { $0 + (($1["dur_ns"] as? NSNumber)?.doubleValue ?? 0) }
            let mfu = try XCTUnwrap((e["mfu"] as? NSNumber)?.doubleValue)
            XCTAssertEqual(mfu, Double(rowsFlops) / (wall * bf16Peak * 1000), accuracy: 1e-5, file)
        }
        XCTAssertGreaterThanOrEqual(checkedRows, 8)
    }

    /// Forward GEMM FLOPs from `Input Dims`: addmm's 2·M·N·K (without its bias
    /// term) and bmm's outside the autograd engine's functions, and the mm and bmm calls inside them.
    static let backwardReference = #"""
import bisect, gzip, json, sys
ev = json.load(gzip.open(sys.argv[1]))["traceEvents"]
spans = {}
for e in ev:
    if e.get("name", "").startswith("autograd::engine::evaluate_function"):
        spans.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
for v in spans.values():
    v.sort()
def backward(e):
    v = spans.get(e["tid"], [])
    i = bisect.bisect_right(v, (e["ts"], float("inf"))) - 1
    return any(v[j][0] <= e["ts"] < v[j][1] for j in range(max(0, i - 8), i + 1))
out = {"addmm_mnk": 0, "bmm_forward": 0, "mm_backward_calls": 0, "bmm_backward_calls": 0}
for e in ev:
    if e.get("cat") != "cpu_op":
        continue
    dims = e.get("args", {}).get("Input Dims")
    if e["name"] == "aten::addmm" and not backward(e):
        (m, k), (_, n) = dims[1], dims[2]
        out["addmm_mnk"] += 2 * m * n * k
    elif e["name"] == "aten::bmm" and not backward(e):
        (b, m, k), (_, _, n) = dims[0], dims[1]
        out["bmm_forward"] += 2 * b * m * n * k
    elif e["name"] == "aten::mm" and backward(e):
        out["mm_backward_calls"] += 1
    elif e["name"] == "aten::bmm" and backward(e):
        out["bmm_backward_calls"] += 1
print(json.dumps(out))
"""#

    func testBackwardGEMMsAreTwiceTheForwardOnTheCPUTrace() throws {
        guard let shared = TestSupport.sharedTraces else { throw XCTSkip("../shared/traces is absent: efficiency conformance skipped") }
        guard let python = TestSupport.python3() else { throw XCTSkip("no python3: efficiency conformance skipped") }
        let path = shared + "/torch-cpu/single/single.pt.trace.json.gz"
        guard access(path, R_OK) == 0 else { throw XCTSkip("\(path) is absent") }
        let script = TestSupport.temporaryPath(".py")
        TestSupport.writeFile(script, Array(Self.backwardReference.utf8))
        defer { unlink(script) }
        let refText = try XCTUnwrap(TestSupport.shellOutput("'\(python)' '\(script)' '\(path)'"))
        let ref = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(refText.utf8)) as? [String: Int])
        let result = TestSupport.run(["report", "--format", "json", path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let ops = try XCTUnwrap((report["ranks"] as? [[String: Any]])?.first?["ops"] as? [[String: Any]])
        func row(_ name: String) throws -> [String: Any] { try XCTUnwrap(ops.first { $0["name"] as? String == name }, name) }
        func flops(_ name: String) throws -> Int64 { try XCTUnwrap((try row(name)["flops"] as? NSNumber)?.int64Value, name) }
        // Every mm here is one of AddmmBackward0's two products (grad input, grad weight), each
        // 2·M·N·K: the backward is twice the forward, counted at the mm's.
        XCTAssertGreaterThan(ref["mm_backward_calls"]!, 0)
        XCTAssertEqual(try row("aten::mm")["modelled_calls"] as? Int, ref["mm_backward_calls"])
        XCTAssertEqual(try flops("aten::mm"), 2 * Int64(ref["addmm_mnk"]!))
        // bmm: the forward's, plus BmmBackward0's two per forward call, each as large.
        XCTAssertEqual(try flops("aten::bmm"), 3 * Int64(ref["bmm_forward"]!))
        // linear and matmul dispatch to those: nothing counted at them.
        XCTAssertTrue(try row("aten::linear")["flops"] is NSNull)
        XCTAssertTrue(try row("aten::matmul")["flops"] is NSNull)
        // A CPU-only trace: FLOPs, no device time, so no achieved rate.
        XCTAssertTrue(try row("aten::mm")["tflops_per_s"] is NSNull)
    }
}
