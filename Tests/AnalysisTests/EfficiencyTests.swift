@testable import Analysis
import TestSupport
import TraceModel
import XCTest

/// The performance model's formulas (docs/efficiency.md, "Models") on hand-computed inputs, the
/// counted-once rule, precision, peaks and MFU on small hand-made traces.
final class PerfModelTests: XCTestCase {
    func work(_ name: String, _ dims: String, _ types: String, _ concrete: String = "[]",
              file: StaticString = #filePath, line: UInt = #line) -> OpWork? {
        guard let x = OpInputs(dims: dims, types: types, concrete: concrete) else {
            XCTFail("inputs did not parse", file: file, line: line)
            return nil
        }
        return PerfModel.work(name, x)
    }

    func testMatrixProducts() {
        // mm: 2*8*256*512 FLOPs; (8*512 + 512*256 + 8*256) * 2 bytes.
        let mm = work("aten::mm", "[[8, 512], [512, 256]]", #"["c10::BFloat16", "c10::BFloat16"]"#)
        XCTAssertEqual(mm?.flops, 2_097_152)
        XCTAssertEqual(mm?.bytes, 274_432)
        XCTAssertEqual(mm?.precision, .bf16)
        XCTAssertEqual(mm?.kind, .gemm)
        // addmm adds the bias: + 8*256 FLOPs, + 256*2 bytes.
        let addmm = work("aten::addmm", "[[256], [8, 512], [512, 256], [], []]", #"["c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "Scalar", "Scalar"]"#)
        XCTAssertEqual(addmm?.flops, 2_099_200)
        XCTAssertEqual(addmm?.bytes, 274_944)
        // bmm fp32: 2*4*8*32*16; (512 + 2048 + 1024) * 4.
        let bmm = work("aten::bmm", "[[4, 8, 16], [4, 16, 32]]", #"["float", "float"]"#)
        XCTAssertEqual(bmm?.flops, 32_768)
        XCTAssertEqual(bmm?.bytes, 14_336)
        XCTAssertEqual(bmm?.precision, .fp32)
        // baddbmm: + 4*8*32 for the added input, + its 1024*4 bytes.
        XCTAssertEqual(work("aten::baddbmm", "[[4, 8, 32], [4, 8, 16], [4, 16, 32], [], []]", #"["float", "float", "float", "Scalar", "Scalar"]"#)?.flops, 33_792)
        // matmul broadcasts the batch: 10 x (3x4 @ 4x5).
        XCTAssertEqual(work("aten::matmul", "[[10, 3, 4], [4, 5]]", #"["float", "float"]"#)?.flops, 1_200)
        // A vector operand: (4) @ (4x5) is 1x4 @ 4x5.
        XCTAssertEqual(work("aten::matmul", "[[4], [4, 5]]", #"["float", "float"]"#)?.flops, 40)
        // Mismatched inner dimensions: no model.
        XCTAssertNil(work("aten::mm", "[[8, 512], [256, 256]]", #"["float", "float"]"#))
    }

    func testLinearAndScaledMM() {
        // linear of [2, 3, 64] by [128, 64] with bias: M = 6; 2*6*128*64 + 6*128 FLOPs;
        // (384 + 8192 + 128 + 768) * 2 bytes.
        let l = work("aten::linear", "[[2, 3, 64], [128, 64], [128]]", #"["c10::Half", "c10::Half", "c10::Half"]"#)
        XCTAssertEqual(l?.flops, 99_072)
        XCTAssertEqual(l?.bytes, 18_944)
        XCTAssertEqual(l?.precision, .fp16)
        // _scaled_mm of FP8 [16, 32] x [32, 64] with two 0-dim float scales: 2*16*64*32 FLOPs;
        // 512 + 2048 + 4 + 4 + 16*64*2 (2-byte output) bytes.
        let s = work("aten::_scaled_mm", "[[16, 32], [32, 64], [], [], [], [], []]",
                     #"["c10::Float8_e4m3fn", "c10::Float8_e4m3fn", "float", "float", "", "", "Scalar"]"#)
        XCTAssertEqual(s?.flops, 65_536)
        XCTAssertEqual(s?.bytes, 4_616)
        XCTAssertEqual(s?.precision, .fp8e4m3)
    }

    func testAttention() {
        let t = #"["c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "", "Scalar", "Scalar", "Scalar", "Scalar"]"#
        // SDPA [2, 4, 128, 64]: 2*2*4*128*128*(64+64) FLOPs; causal keeps half the pairs.
        let full = work("aten::scaled_dot_product_attention", "[[2, 4, 128, 64], [2, 4, 128, 64], [2, 4, 128, 64], [], [], [], [], []]", t,
                        #"["", "", "", "", "0.", "False", "", "False"]"#)
        XCTAssertEqual(full?.flops, 33_554_432)
        // q, k, v read and the output written: 4 * 2*4*128*64 * 2 bytes.
        XCTAssertEqual(full?.bytes, 524_288)
        XCTAssertEqual(full?.kind, .attention)
        let causal = work("aten::scaled_dot_product_attention", "[[2, 4, 128, 64], [2, 4, 128, 64], [2, 4, 128, 64], [], [], [], [], []]", t,
                          #"["", "", "", "", "0.", "True", "", "False"]"#)
        XCTAssertEqual(causal?.flops, 16_777_216)
        // _flash_attention_forward has [B, N, H, d] and is_causal at 8.
        let fa = work("aten::_flash_attention_forward", "[[2, 128, 4, 64], [2, 128, 4, 64], [2, 128, 4, 64], [], [], [], [], [], [], [], []]",
                      #"["c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "", "", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar", "Scalar"]"#,
                      #"["", "", "", "", "", "128", "128", "0.", "True", "False", "0.125"]"#)
        XCTAssertEqual(fa?.flops, 16_777_216)
        // Backward: 2.5x the forward; q, k, v, out, grad_out read, dq, dk, dv written.
        let bwd = work("aten::_scaled_dot_product_flash_attention_backward",
                       "[[2, 4, 128, 64], [2, 4, 128, 64], [2, 4, 128, 64], [2, 4, 128, 64], [2, 4, 128, 64], [2, 4, 128], [], [], [], [], [], [], [], [], []]",
                       #"["c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "c10::BFloat16", "float", "", "", "Scalar", "Scalar", "Scalar", "Scalar", "", "", "Scalar"]"#,
                       #"["", "", "", "", "", "", "", "", "128", "128", "0.", "True", "", "", "0.125"]"#)
        XCTAssertEqual(bwd?.flops, 41_943_040)
        XCTAssertEqual(bwd?.bytes, 8 * 131_072)
        // Grouped-query attention: Hkv = 1 reads less K/V, computes the same.
        let gqa = work("aten::_scaled_dot_product_flash_attention", "[[1, 8, 16, 32], [1, 1, 16, 32], [1, 1, 16, 32], [], [], [], []]",
                       #"["float", "float", "float", "Scalar", "Scalar", "Scalar", "Scalar"]"#, #"["", "", "", "0.", "False", "False", ""]"#)
        XCTAssertEqual(gqa?.flops, 2 * 8 * 16 * 16 * 64)
        XCTAssertEqual(gqa?.bytes, (4096 + 512 + 512 + 4096) * 4)
    }

    func testCausalPairs() {
        XCTAssertEqual(PerfModel.causalPairs(nq: 128, nkv: 128), 8192)
        // Top-left mask: query i sees min(i + 1, Nkv) keys.
        XCTAssertEqual(PerfModel.causalPairs(nq: 4, nkv: 10), 1 + 2 + 3 + 4)
        XCTAssertEqual(PerfModel.causalPairs(nq: 10, nkv: 4), 1 + 2 + 3 + 4 * 7)
    }

    func testConvolutions() {
        let t = #"["float", "float", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar", "ScalarList", "Scalar"]"#
        // 3x3, pad 1, 3 -> 16 channels on 32x32: 2*16*1024*3*9 + bias 16*1024 FLOPs;
        // (3072 + 432 + 16 + 16384) * 4 bytes.
        let c = work("aten::convolution", "[[1, 3, 32, 32], [16, 3, 3, 3], [16], [], [], [], [], [], []]", t,
                     #"["", "", "", "[1, 1]", "[1, 1]", "[1, 1]", "False", "[0, 0]", "1"]"#)
        XCTAssertEqual(c?.flops, 901_120)
        XCTAssertEqual(c?.bytes, 79_616)
        XCTAssertEqual(c?.kind, .convolution)
        // Stride 2 without padding: (32 - 2 - 1) / 2 + 1 = 15 per side; no bias.
        let s2 = work("aten::convolution", "[[1, 3, 32, 32], [16, 3, 3, 3], [], [], [], [], [], [], []]", t,
                      #"["", "", "", "[2, 2]", "[0, 0]", "[1, 1]", "False", "[0, 0]", "1"]"#)
        XCTAssertEqual(s2?.flops, 2 * 16 * 225 * 3 * 9)
        // Depthwise (groups 16): one input channel per output channel.
        let dw = work("aten::convolution", "[[1, 16, 8, 8], [16, 1, 3, 3], [], [], [], [], [], [], []]", t,
                      #"["", "", "", "[1, 1]", "[1, 1]", "[1, 1]", "False", "[0, 0]", "16"]"#)
        XCTAssertEqual(dw?.flops, 18_432)
        // Dilation 2 on 3x3: effective 5x5, pad 0 on 9x9 -> 5x5 out.
        let dil = work("aten::convolution", "[[1, 1, 9, 9], [1, 1, 3, 3], [], [], [], [], [], [], []]", t,
                       #"["", "", "", "[1, 1]", "[0, 0]", "[2, 2]", "False", "[0, 0]", "1"]"#)
        XCTAssertEqual(dil?.flops, 2 * 25 * 9)
        // Transposed, stride 2, weight [Cin 8, Cout 4, 2, 2] on 4x4: 2 * 8*16 inputs * 4 * 4 taps.
        let tr = work("aten::convolution", "[[1, 8, 4, 4], [8, 4, 2, 2], [], [], [], [], [], [], []]", t,
                      #"["", "", "", "[2, 2]", "[0, 0]", "[1, 1]", "True", "[0, 0]", "1"]"#)
        XCTAssertEqual(tr?.flops, 4_096)
        // Output (4-1)*2 + (2-1) + 1 = 8 per side: 1*4*64 output elements written.
        XCTAssertEqual(tr?.bytes, (128 + 128 + 256) * 4)
        // Backward with input and weight gradients: twice the forward without the bias.
        let b = work("aten::convolution_backward", "[[1, 16, 32, 32], [1, 3, 32, 32], [16, 3, 3, 3], [], [], [], [], [], [], [], []]",
                     #"["float", "float", "float", "", "ScalarList", "ScalarList", "ScalarList", "Scalar", "ScalarList", "Scalar", ""]"#,
                     #"["", "", "", "[16]", "[1, 1]", "[1, 1]", "[1, 1]", "False", "[0, 0]", "1", "[True, True, False]"]"#)
        XCTAssertEqual(b?.flops, 2 * 884_736)
        // conv2d(input, weight, bias, stride, padding, dilation, groups).
        let c2 = work("aten::conv2d", "[[1, 3, 32, 32], [16, 3, 3, 3], [16], [], [], [], []]",
                      #"["float", "float", "float", "ScalarList", "ScalarList", "ScalarList", "Scalar"]"#,
                      #"["", "", "", "[1, 1]", "[1, 1]", "[1, 1]", "1"]"#)
        XCTAssertEqual(c2?.flops, 901_120)
    }

    func testMemoryBoundOperators() {
        // Broadcast add of [4, 1] and [1, 8]: 32 outputs; (4 + 8) * 4 read + 32 * 4 written.
        let add = work("aten::add", "[[4, 1], [1, 8], []]", #"["float", "float", "Scalar"]"#, #"["", "", "1"]"#)
        XCTAssertEqual(add?.flops, 32)
        XCTAssertEqual(add?.bytes, 176)
        XCTAssertEqual(add?.kind, .elementwise)
        // In place: both read, the first written.
        XCTAssertEqual(work("aten::add_", "[[4, 8], [4, 8], []]", #"["float", "float", "Scalar"]"#)?.bytes, 384)
        // A scalar operand is not a tensor; a 0-dim tensor ([] with a dtype) is one element.
        XCTAssertEqual(work("aten::mul", "[[10], []]", #"["float", "Scalar"]"#)?.bytes, 80)
        XCTAssertEqual(work("aten::mul", "[[10], []]", #"["float", "double"]"#)?.bytes, 88)
        // copy_(dst bf16, src fp32): 10*4 read, 10*2 written.
        XCTAssertEqual(work("aten::copy_", "[[10], [10], []]", #"["c10::BFloat16", "float", "Scalar"]"#)?.bytes, 60)
        // mean over the last dim of [16, 10]: 160 read, 16 written.
        let mean = work("aten::mean", "[[16, 10], [], [], []]", #"["float", "ScalarList", "Scalar", ""]"#, #"["", "[-1]", "True", ""]"#)
        XCTAssertEqual(mean?.bytes, 704)
        XCTAssertEqual(mean?.flops, 160)
        // A full reduction writes one element.
        XCTAssertEqual(work("aten::sum", "[[16, 10], []]", #"["float", ""]"#)?.bytes, 644)
        // linalg_vector_norm(self, ord, dim, keepdim, dtype): the dims are input 2, after the order.
        let norm = work("aten::linalg_vector_norm", "[[16, 10], [], [], [], []]", #"["float", "Scalar", "ScalarList", "Scalar", ""]"#,
                        #"["", "2", "[1]", "False", ""]"#)
        XCTAssertEqual(norm?.bytes, 704)
        XCTAssertEqual(work("aten::norm", "[[16, 10], [], [], []]", #"["float", "Scalar", "ScalarList", "Scalar"]"#,
                            #"["", "2", "[0]", "False"]"#)?.bytes, 680)
        // Softmax: read and write [4, 10] in fp16; 5 FLOPs per element.
        let sm = work("aten::_softmax", "[[4, 10], [], []]", #"["c10::Half", "Scalar", "Scalar"]"#)
        XCTAssertEqual(sm?.bytes, 160)
        XCTAssertEqual(sm?.flops, 200)
        // native_layer_norm: input, weight and bias read, the output written.
        let ln = work("aten::native_layer_norm", "[[4, 10], [], [10], [10], []]", #"["float", "ScalarList", "float", "float", "Scalar"]"#)
        XCTAssertEqual(ln?.bytes, 400)
        XCTAssertEqual(ln?.flops, 200)
        // embedding: 10 long indices read, 10 rows of 16 bf16 read and written.
        XCTAssertEqual(work("aten::embedding", "[[100, 16], [2, 5], [], [], []]", #"["c10::BFloat16", "long int", "Scalar", "Scalar", "Scalar"]"#)?.bytes, 720)
        // A collective's message: its tensors.
        let ar = work("c10d::allreduce_", "[[[1024], [1024]], [], [], [], []]", #"["GenericList", "", "", "", ""]"#)
        XCTAssertNil(ar, "a list of unknown dtype has no size")
        XCTAssertEqual(work("c10d::allreduce_", "[[1024], []]", #"["float", ""]"#)?.bytes, 4096)
    }

    func testTorchNPUStrings() {
        // torch_npu writes entries separated by ";\r\n".
        let x = OpInputs(dims: "2,3;\r\n3,4", types: "float;\r\nfloat", concrete: ";\r\n")
        XCTAssertEqual(x?.shapes, [[[2, 3]], [[3, 4]]])
        XCTAssertEqual(PerfModel.work("aten::mm", x!)?.flops, 48)
        XCTAssertEqual(PerfModel.work("aten::mm", x!)?.precision, .fp32)
    }

    func testHostileShapesAreUnmodelledNotACrash() {
        // Dims past 2^30 make the call unmodelled; large legal ones saturate instead of overflowing.
        XCTAssertNil(OpInputs(dims: "[[99999999999, 2], [2, 2]]", types: "[\"float\", \"float\"]", concrete: nil))
        let big = work("aten::bmm", "[[1073741824, 1073741824, 1073741824], [1073741824, 1073741824, 1073741824]]", #"["float", "float"]"#)
        XCTAssertEqual(big?.flops, .max)
        XCTAssertNil(work("aten::convolution", "[[1, 3, 8, 8], [16, 3, 3, 3], [], [], [], [], [], [], []]",
                          #"["float", "float", "", "", "", "", "", "", ""]"#, #"["", "", "", "[0, 0]", "[0, 0]", "[1, 1]", "False", "", "1"]"#),
                     "stride 0")
    }

    func testKernelNamePrecision() {
        XCTAssertEqual(Precision.of(kernel: "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64"), .bf16)
        XCTAssertEqual(Precision.of(kernel: "nvjet_tst_64x64_64x16_2x1_2cta_v_bz_bias_TNT"), .bf16)
        XCTAssertEqual(Precision.of(kernel: "nvjet_hsh_128x256_64x4_2x1_v_bz_TNN"), .fp16)
        XCTAssertEqual(Precision.of(kernel: "fmhaSm100aKernel_QkvE4m3OBfloat16H64PagedKvCausalP16VarSeqQ128Kv128PersistentContext"), .fp8e4m3)
        XCTAssertEqual(Precision.of(kernel: "bmm_MxE4m3_MxE2m1MxE4m3_Fp32_t128x16x256u2_s3"), .fp4)
        XCTAssertEqual(Precision.of(kernel: "Cijk_Alik_Bljk_HHS_BH_MT128x128x32"), .fp16)
        XCTAssertEqual(Precision.of(kernel: "Cijk_Ailk_Bjlk_BBS_BH_MT64x64x64"), .bf16)
        XCTAssertEqual(Precision.of(kernel: "Cijk_Alik_Bljk_SB_Bias_AS_SAV_UserArgs_MT64x16x32"), .fp32)
        XCTAssertEqual(Precision.of(kernel: "cutlass_80_tensorop_s1688gemm_tf32_128x128_32x3_nn_align4"), .tf32)
        XCTAssertEqual(Precision.of(kernel: "ampere_h16816gemm_256x128_ldg8_stages_32x3_nn"), .fp16)
        XCTAssertEqual(Precision.of(kernel: "void cutlass::Kernel2<cutlass_80_simt_sgemm_128x32_8x5_nn_align1>"), .fp32)
        XCTAssertEqual(Precision.of(kernel: "sm80_xmma_gemm_i8i8_i8i32_f32_tn_n"), .int8)
        XCTAssertNil(Precision.of(kernel: "void at::native::vectorized_elementwise_kernel<4, at::native::CUDAFunctor_add<float>>"))
        XCTAssertEqual(Precision.of(dtype: "c10::Float8_e5m2"), .fp8e5m2)
        XCTAssertEqual(Precision.of(dtype: "c10::Float4_e2m1fn_x2"), .fp4)
        XCTAssertNil(Precision.of(dtype: "long int"))
    }

    func testDevicePeaks() throws {
        XCTAssertEqual(DevicePeaks.lookup(deviceName: "NVIDIA H100 80GB HBM3")?.name, "NVIDIA H100 SXM")
        XCTAssertEqual(DevicePeaks.lookup(deviceName: "NVIDIA H100 PCIe")?.memoryGBps, 2000)
        XCTAssertEqual(DevicePeaks.lookup(deviceName: "NVIDIA A100-SXM4-40GB")?.memoryGBps, 1555)
        XCTAssertEqual(DevicePeaks.lookup(deviceName: "NVIDIA B200")?.tflops["fp8"], 4500)
        XCTAssertEqual(DevicePeaks.lookup(deviceName: "AMD Instinct MI300X")?.tflops["bf16"], 1307.4)
        XCTAssertNil(DevicePeaks.lookup(deviceName: "AMD Radeon Graphics"))
        let p = try DevicePeaks.parse(Array(#"{"name": "X1", "memory_gbps": 1000, "tflops": {"bf16": 100, "fp8": 200}}"#.utf8), file: "p.json")
        XCTAssertEqual(p, DevicePeaks(name: "X1", tflops: ["bf16": 100, "fp8": 200], memoryGBps: 1000))
        XCTAssertEqual(p.flopsPerNs(.fp8e5m2), 200_000)
        XCTAssertThrowsError(try DevicePeaks.parse(Array(#"{"name": "X1", "memory_gbps": 1000, "tflops": {"bf17": 1}}"#.utf8), file: "p.json")) {
            XCTAssertTrue("\($0)".hasPrefix("p.json: field \"tflops.bf17\""), "\($0)")
        }
        XCTAssertThrowsError(try DevicePeaks.parse(Array(#"{"name": "X1", "tflops": {}}"#.utf8), file: "p.json")) {
            XCTAssertEqual("\($0)", "p.json: field \"memory_gbps\": expected a positive number")
        }
        XCTAssertThrowsError(try DevicePeaks.parse(Array("{\"name\": ".utf8), file: "p.json")) {
            XCTAssertTrue("\($0)".hasPrefix("p.json: byte "), "\($0)")
        }
    }

    /// The TOML form gives the same peaks as the JSON form, with a table or an inline table.
    func testDevicePeaksInTOML() throws {
        let expected = DevicePeaks(name: "X1 \"v2\"", tflops: ["bf16": 989.5, "fp8": 1979], memoryGBps: 3350)
        let table = """
            # my accelerator
            name = "X1 \\"v2\\""   # quoted
            memory_gbps = 3_350

            [tflops]
            bf16 = 989.5
            "fp8" = +1979\r
            """
        XCTAssertEqual(try DevicePeaks.parse(Array(table.utf8), file: "p.toml"), expected)
        let inline = "name = \"X1 \\\"v2\\\"\"\nmemory_gbps = 3350.0\ntflops = { bf16 = 989.5, fp8 = 1979 }\n"
        XCTAssertEqual(try DevicePeaks.parse(Array(inline.utf8), file: "p.toml"), expected)
        // The rules of the JSON form apply; syntax errors name the line and column.
        for (text, message) in [
            ("name = \"X\"\nmemory_gbps = 1\n[tflops]\nbf17 = 1\n", "p.toml: field \"tflops.bf17\": unknown precision"),
            ("name = \"X\"\ntflops = {}\n", "p.toml: field \"memory_gbps\": expected a positive number"),
            ("name = \"X\"\nname = \"Y\"\n", "p.toml: line 2: key \"name\" given twice"),
            ("name = \"X\n", "p.toml: line 1, column 10: unterminated string"),
            ("[tflops.more]\n", "p.toml: line 1, column 8: expected ']' after the table name"),
            ("memory_gbps = 12 GB\n", "p.toml: line 1, column 18: unexpected text after the value"),
            ("memory_gbps = fast\n", "p.toml: line 1, column 19: expected a number or a string"),
        ] {
            XCTAssertThrowsError(try DevicePeaks.parse(Array(text.utf8), file: "p.toml"), text) {
                XCTAssertTrue("\($0)".hasPrefix(message), "\($0)")
            }
        }
    }
}

/// The counted-once rule, device time, roofline and MFU on a hand-made trace.
final class EfficiencyTraceTests: XCTestCase {
    func op(_ name: String, ts: String, dur: String, dims: String, types: String, concrete: String = "[]", tid: String = "1") -> String {
        TestSupport.x(name, cat: "cpu_op", ts: ts, dur: dur, tid: tid,
                      args: "\"Input Dims\": \(dims), \"Input type\": \(types), \"Concrete Inputs\": \(concrete)")
    }

    func launch(ts: String, corr: Int) -> String {
        TestSupport.x("cudaLaunchKernel", cat: "cuda_runtime", ts: ts, dur: "1", args: "\"correlation\": \(corr)")
    }

    func kernel(_ name: String, ts: String, dur: String, corr: Int) -> String {
        TestSupport.x(name, cat: "kernel", ts: ts, dur: dur, pid: "0", tid: "7", args: "\"correlation\": \(corr)")
    }

    func testCountedOnceDeviceTimeRooflineAndMFU() throws {
        let bf = #""c10::BFloat16""#
        // Step of 100 us: linear -> addmm (a 20 us bf16 GEMM kernel), then SDPA -> flash ->
        // _flash_attention_forward (10 us kernel), then a math-path SDPA whose bmm is the model.
        let events = [
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "100"),
            op("aten::linear", ts: "1", dur: "20", dims: "[[64, 1024], [1024, 1024], [1024]]", types: "[\(bf), \(bf), \(bf)]"),
            op("aten::addmm", ts: "2", dur: "10", dims: "[[1024], [64, 1024], [1024, 1024], [], []]", types: "[\(bf), \(bf), \(bf), \"Scalar\", \"Scalar\"]"),
            launch(ts: "3", corr: 1),
            op("aten::scaled_dot_product_attention", ts: "30", dur: "20", dims: "[[1, 2, 128, 64], [1, 2, 128, 64], [1, 2, 128, 64], [], [], [], [], []]",
               types: "[\(bf), \(bf), \(bf), \"\", \"Scalar\", \"Scalar\", \"\", \"Scalar\"]", concrete: #"["", "", "", "", "0.", "True", "", "False"]"#),
            op("aten::_scaled_dot_product_flash_attention", ts: "31", dur: "15", dims: "[[1, 2, 128, 64], [1, 2, 128, 64], [1, 2, 128, 64], [], [], [], []]",
               types: "[\(bf), \(bf), \(bf), \"Scalar\", \"Scalar\", \"Scalar\", \"Scalar\"]", concrete: #"["", "", "", "0.", "True", "False", ""]"#),
            op("aten::_flash_attention_forward", ts: "32", dur: "10", dims: "[[1, 128, 2, 64], [1, 128, 2, 64], [1, 128, 2, 64], [], [], [], [], [], [], [], []]",
               types: "[\(bf), \(bf), \(bf)]", concrete: #"["", "", "", "", "", "128", "128", "0.", "True", "False", ""]"#),
            launch(ts: "33", corr: 2),
            op("aten::scaled_dot_product_attention", ts: "60", dur: "20", dims: "[[1, 2, 16, 8], [1, 2, 16, 8], [1, 2, 16, 8], [], [], [], [], []]",
               types: "[\"float\", \"float\", \"float\", \"\", \"Scalar\", \"Scalar\", \"\", \"Scalar\"]", concrete: #"["", "", "", "", "0.", "False", "", "False"]"#),
            op("aten::bmm", ts: "61", dur: "5", dims: "[[2, 16, 8], [2, 8, 16]]", types: #"["float", "float"]"#),
            launch(ts: "62", corr: 3),
            kernel("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64", ts: "5", dur: "20", corr: 1),
            kernel("void pytorch_flash::flash_fwd_kernel<cutlass::bfloat16_t>", ts: "35", dur: "10", corr: 2),
            kernel("cutlass_80_tensorop_s1688gemm_tf32_128x128", ts: "65", dur: "2", corr: 3),
        ]
        let trace = try TestSupport.trace(TestSupport.kineto(events))
        trace.metadata.devices = [DeviceInfo(id: 0, name: "NVIDIA H100 80GB HBM3", totalGlobalMemory: nil, smCount: nil)]
        let a = Analyzer.analyze(trace)
        let e = try XCTUnwrap(a.efficiency)
        XCTAssertEqual(e.peaks?.name, "NVIDIA H100 SXM")
        // Counted: addmm (not linear), _scaled_dot_product_flash_attention (not SDPA, not
        // _flash_attention_forward), the math path's bmm (not its SDPA).
        func work(_ name: String) -> OperatorWork? { a.operators.first { $0.name == name }?.work }
        XCTAssertNil(work("aten::linear"))
        XCTAssertNil(work("aten::scaled_dot_product_attention"))
        XCTAssertNil(work("aten::_flash_attention_forward"))
        let gemmFlops: Int64 = 2 * 64 * 1024 * 1024 + 64 * 1024
        let attnFlops: Int64 = 2 * 1 * 2 * (128 * 128 / 2) * 128
        let bmmFlops: Int64 = 2 * 2 * 16 * 16 * 8
        XCTAssertEqual(work("aten::addmm")?.flops, gemmFlops)
        XCTAssertEqual(work("aten::addmm")?.deviceNs, 20_000)
        XCTAssertEqual(work("aten::_scaled_dot_product_flash_attention")?.flops, attnFlops)
        XCTAssertEqual(work("aten::bmm")?.flops, bmmFlops)
        // The fp32 bmm ran a TF32 kernel: the kernel's name wins.
        XCTAssertEqual(work("aten::bmm")?.precision, .tf32)
        XCTAssertEqual(e.modelledCalls, 3)
        // Achieved TFLOP/s over the kernel time: FLOPs / ns / 1000.
        let addmm = try XCTUnwrap(work("aten::addmm"))
        XCTAssertEqual(addmm.tflopsPerSecond!, Double(gemmFlops) / 20_000 / 1000, accuracy: 1e-9)
        // Roofline at 989.5 TFLOP/s and 3350 GB/s: max(FLOPs / 989500, bytes / 3350) ns.
        let bytes = Double((1024 + 64 * 1024 + 1024 * 1024 + 64 * 1024) * 2)
        let atRoofline = max(Double(gemmFlops) / 989_500, bytes / 3350)
        XCTAssertEqual(addmm.rooflinePercent!, 100 * atRoofline / 20_000, accuracy: 1e-9)
        XCTAssertEqual(addmm.bound, Double(gemmFlops) / 989_500 >= bytes / 3350 ? "compute" : "memory")
        XCTAssertEqual(addmm.headroomNs, 20_000 - Int64(atRoofline.rounded()))
        // Step: FLOPs of the three calls; MFU over 100 us at the bf16 peak (most FLOPs).
        let step = try XCTUnwrap(e.steps.first)
        XCTAssertEqual(step.flops, gemmFlops + attnFlops + bmmFlops)
        XCTAssertEqual(step.dominant, .bf16)
        XCTAssertEqual(step.mfu!, Double(gemmFlops + attnFlops + bmmFlops) / (100_000 * 989_500), accuracy: 1e-12)
        // Busy: 20 + 10 + 2 us of kernels.
        XCTAssertEqual(step.busyUtilization!, Double(gemmFlops + attnFlops + bmmFlops) / (32_000 * 989_500), accuracy: 1e-12)
        XCTAssertEqual(step.byPrecision.map { $0.precision }, [.bf16, .tf32])
        XCTAssertEqual(step.byPrecision.map(\.deviceNs), [30_000, 2_000])
        XCTAssertEqual(step.byPrecision.map(\.flops), [gemmFlops + attnFlops, bmmFlops])
        XCTAssertEqual(e.total.flops, step.flops)
        // Kernels: by name (tf32, bf16), the flash kernel by its name's bfloat16.
        XCTAssertEqual(e.kernelPrecision["cutlass_80_tensorop_s1688gemm_tf32_128x128"], .tf32)
        XCTAssertEqual(e.kernelPrecision["void pytorch_flash::flash_fwd_kernel<cutlass::bfloat16_t>"], .bf16)
    }

    func testUnknownDeviceHasNoRooflineAndAnOverrideGivesOne() throws {
        let trace = try TestSupport.trace(TestSupport.kineto([
            TestSupport.x("ProfilerStep#1", cat: "user_annotation", ts: "0", dur: "10"),
            op("aten::mm", ts: "1", dur: "5", dims: "[[4, 4], [4, 4]]", types: #"["float", "float"]"#),
            launch(ts: "2", corr: 1),
            kernel("k", ts: "3", dur: "1", corr: 1),
        ]))
        let plain = try XCTUnwrap(Analyzer.analyze(trace).efficiency)
        XCTAssertNil(plain.peaks)
        XCTAssertNil(plain.steps[0].mfu)
        let mm = Analyzer.analyze(trace).operators.first { $0.name == "aten::mm" }?.work
        XCTAssertEqual(mm?.flops, 128)
        XCTAssertNil(mm?.rooflinePercent)
        XCTAssertEqual(mm?.gigabytesPerSecond, Double(48 * 4) / 1000)
        let peaks = DevicePeaks(name: "X", tflops: ["fp32": 1], memoryGBps: 1)
        let e = try XCTUnwrap(Analyzer.analyze(trace, options: AnalysisOptions(devicePeaks: peaks)).efficiency)
        XCTAssertEqual(e.steps[0].mfu!, 128.0 / (10_000 * 1000), accuracy: 1e-15)
        // The kernel's precision comes from its launching op (the name says none).
        XCTAssertEqual(e.steps[0].byPrecision.map { $0.precision }, [.fp32])
        XCTAssertEqual(e.kernelPrecision, ["k": .fp32])
    }
}

/// `mfu` and `op_flops` in a diff (docs/diff.md): per-step samples from a trace, and a slower
/// kernel at the same FLOPs as a regression.
final class EfficiencyDiffTests: XCTestCase {
    /// Eight 1 ms steps, each with one fp32 64x64x64 `aten::mm` whose kernel lasts `kernelUs[k]`.
    func run(kernelUs: [Int]) throws -> RunSamples {
        let trace = try TestSupport.trace(TestSupport.mmSteps(kernelUs: kernelUs))
        let a = Analyzer.analyze(trace, options: AnalysisOptions(operatorTables: false))
        return Analyzer.samples(ranks: [RankReport(trace: trace, analysis: a, samples: true)], communication: nil)
    }

    func testSamplesAndASlowerKernelAtTheSameFLOPsIsARegression() throws {
        let base = try run(kernelUs: [10, 11, 10, 9, 10, 11, 9, 10])
        let flops = 2.0 * 64 * 64 * 64
        // op_flops: FLOPs / device ns; mfu: FLOPs / (1 ms x A100's fp32 19.5 TFLOP/s), in ppm.
        XCTAssertEqual(base.metrics[MetricKey(.opFLOPS, "aten::mm")]?[0], flops / 10_000)
        XCTAssertEqual(try XCTUnwrap(base.metrics[MetricKey(.mfu, "")]?[0]), flops / (1_000_000 * 19_500) * 1e6, accuracy: 1e-9)
        let slower = try run(kernelUs: [20, 21, 20, 19, 20, 21, 19, 20])
        let r = Analyzer.diff(base: base, candidate: slower, options: DiffOptions())
        let row = try XCTUnwrap(r.metrics.first { $0.key == MetricKey(.opFLOPS, "aten::mm") })
        XCTAssertEqual(row.verdict, .regression)
        // The same FLOPs at the same step time: MFU does not move.
        XCTAssertEqual(r.metrics.first { $0.key.kind == .mfu }?.verdict, .noise)
        // Faster kernels are an improvement, and neither gates the run's verdict.
        let faster = Analyzer.diff(base: slower, candidate: base, options: DiffOptions())
        XCTAssertEqual(faster.metrics.first { $0.key == MetricKey(.opFLOPS, "aten::mm") }?.verdict, .improvement)
        XCTAssertFalse(MetricKind.opFLOPS.gates)
        XCTAssertFalse(MetricKind.mfu.gates)
    }
}
