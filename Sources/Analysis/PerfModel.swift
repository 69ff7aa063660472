import TraceModel

// The per-operator performance model: FLOPs, bytes moved and precision of one call from its
// recorded input shapes, dtypes and concrete values (docs/efficiency.md).

/// The numeric precision an operator or kernel computes in (docs/efficiency.md, "Precision").
public enum Precision: String, CaseIterable, Sendable {
    case fp64, fp32, tf32, bf16, fp16
    case fp8e4m3 = "fp8_e4m3"
    case fp8e5m2 = "fp8_e5m2"
    case fp4, int8

    /// The key of this precision's peak in a device table (both FP8 formats share `fp8`).
    public var peakKey: String {
        switch self {
        case .fp8e4m3, .fp8e5m2: return "fp8"
        default: return rawValue
        }
    }

    /// The precision of a recorded dtype name (`c10::BFloat16`, `float`, torch_npu's `BFloat16`),
    /// nil for integer, boolean and unknown types. `float` is fp32: TF32 shows only in kernel names.
    public static func of(dtype: String) -> Precision? {
        switch normalisedDType(dtype) {
        case "double", "float64": return .fp64
        case "float", "float32": return .fp32
        case "bfloat16": return .bf16
        case "half", "float16": return .fp16
        case "float8_e4m3fn", "float8_e4m3fnuz": return .fp8e4m3
        case "float8_e5m2", "float8_e5m2fnuz": return .fp8e5m2
        case "float4_e2m1fn_x2": return .fp4
        case "signed char", "int8": return .int8
        default: return nil
        }
    }

    /// The precision a kernel's name states, or nil (docs/efficiency.md, "Precision": the first
    /// rule that matches wins).
    public static func of(kernel name: String) -> Precision? {
        let n = name.lowercased()
        // ROCm Tensile/hipBLASLt: Cijk_<A>_<B>_<types>_..., the types' first letters name the inputs.
        if let r = n.firstRange(of: "cijk_") {
            let parts = n[r.upperBound...].split(separator: "_", maxSplits: 3)
            if parts.count >= 3 {
                let t = parts[2]
                if t.hasPrefix("hh") { return .fp16 }
                if t.hasPrefix("bb") { return .bf16 }
                if t.hasPrefix("ss") || t.hasPrefix("sb") { return .fp32 }
                if t.hasPrefix("dd") { return .fp64 }
                if t.hasPrefix("f8") { return .fp8e4m3 }
                if t.hasPrefix("b8") { return .fp8e5m2 }
                if t.hasPrefix("i8") { return .int8 }
            }
        }
        // cuBLASLt nvjet_<in><compute><out>_...: h = fp16, t = bf16, s = fp32, d = fp64, q = fp8 e4m3.
        if n.hasPrefix("nvjet_"), let c = n.dropFirst(6).first {
            switch c {
            case "h": return .fp16
            case "t": return .bf16
            case "s": return .fp32
            case "d": return .fp64
            case "q": return .fp8e4m3
            default: break
            }
        }
        // The narrowest input format named wins (an MX kernel of e2m1 weights and e4m3 activations is FP4).
        if n.contains("e2m1") || n.contains("nvfp4") || n.contains("mxfp4") { return .fp4 }
        if n.contains("e4m3") { return .fp8e4m3 }
        if n.contains("e5m2") { return .fp8e5m2 }
        if n.contains("int8") || n.contains("i8i8") || n.contains("_s8") || n.contains("imma") { return .int8 }
        if n.contains("tf32") { return .tf32 }
        if n.contains("bf16") || n.contains("bfloat16") { return .bf16 }
        if n.contains("fp16") || n.contains("f16f16") || n.contains("h16") || n.contains("hgemm") || n.contains("_half") { return .fp16 }
        if n.contains("dgemm") || n.contains("fp64") || n.contains("d884") { return .fp64 }
        if n.contains("sgemm") { return .fp32 }
        return nil
    }
}

/// Bytes per element of a recorded dtype name, or nil when unknown (`Scalar`, lists, empty).
public func bytesPerElement(dtype: String) -> Int64? {
    switch normalisedDType(dtype) {
    case "double", "float64", "long int", "long", "int64", "complex<float>", "complexfloat": return 8
    case "float", "float32", "int", "int32", "unsigned int", "uint32": return 4
    case "bfloat16", "half", "float16", "short int", "short", "int16": return 2
    case "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float4_e2m1fn_x2", "float8_e8m0fnu",
         "signed char", "int8", "unsigned char", "uint8", "bool": return 1
    case "complex<double>", "complexdouble": return 16
    default: return nil
    }
}

/// A count computed in floating point as an Int64: rounded, clamped to 0...Int64.max (NaN: 0).
func clampCount(_ v: Double) -> Int64 {
    guard v.isFinite ? v > 0 : v == .infinity else { return 0 }
    return v >= 0x1p63 ? .max : Int64(v.rounded())
}

/// A dtype name without its `c10::` namespace, lowercased.
func normalisedDType(_ t: String) -> String {
    let s = t.hasPrefix("c10::") ? String(t.dropFirst(5)) : t
    return s.lowercased()
}

/// The recorded inputs of one operator call (`Input Dims`, `Input type`, `Concrete Inputs`).
public struct OpInputs: Sendable, Equatable {
    /// Per input: its tensors' shapes (one for a tensor, several for a tensor list, none for a
    /// scalar or an absent input).
    public var shapes: [[[Int64]]]
    /// Per input: its dtype name (empty when not recorded).
    public var types: [String]
    /// Per input: its concrete value as text (empty when not recorded).
    public var concrete: [String]

    /// Parses the recorded args: Kineto's JSON arrays, or torch_npu's strings of `;\r\n`-separated
    /// entries (dims as comma-separated integers). Nil when `dims` is neither.
    public init?(dims: String, types: String?, concrete: String?) {
        guard let (shapes, writtenEmpty) = OpInputs.parseShapes(dims) else { return nil }
        self.shapes = shapes
        self.types = types.map(OpInputs.parseStrings) ?? []
        self.concrete = concrete.map(OpInputs.parseStrings) ?? []
        // A 0-dim tensor is recorded as [] like a scalar: its dtype tells them apart.
        for k in self.shapes.indices where writtenEmpty[k] && k < self.types.count && bytesPerElement(dtype: self.types[k]) != nil {
            self.shapes[k] = [[]]
        }
    }

    /// Shape of input `k` when it is one tensor.
    public func tensor(_ k: Int) -> [Int64]? {
        k < shapes.count && shapes[k].count == 1 ? shapes[k][0] : nil
    }

    /// Whether input `k` is a tensor of at least one dimension (an optional bias that is present).
    public func hasTensor(_ k: Int) -> Bool { !(tensor(k)?.isEmpty ?? true) }

    /// Dtype of input `k` ("" when not recorded).
    public func type(_ k: Int) -> String { k < types.count ? types[k] : "" }

    /// Concrete value of input `k` ("" when not recorded).
    public func value(_ k: Int) -> String { k < concrete.count ? concrete[k] : "" }

    /// Concrete value of input `k` as a boolean (`True`/`False`, `1`/`0`), nil when absent.
    public func flag(_ k: Int) -> Bool? {
        switch value(k).lowercased() {
        case "true", "1": return true
        case "false", "0": return false
        default: return nil
        }
    }

    /// Concrete value of input `k` as a list of integers (`[1, 1]`, `1`), nil when absent.
    public func ints(_ k: Int) -> [Int64]? {
        let v = value(k).filter { $0 != "[" && $0 != "]" && $0 != " " }
        if v.isEmpty { return nil }
        let parts = v.split(separator: ",", omittingEmptySubsequences: false).map { OpInputs.bounded(Int64($0), allowNegative: true) }
        return parts.contains(nil) ? nil : parts.map { $0! }
    }

    /// Concrete value of input `k` as a list of booleans (`[True, False, True]`), nil when absent.
    public func flags(_ k: Int) -> [Bool]? {
        let v = value(k).filter { $0 != "[" && $0 != "]" && $0 != " " }.lowercased()
        if v.isEmpty { return nil }
        let parts = v.split(separator: ",").map { $0 == "true" ? true : ($0 == "false" ? false : nil) }
        return parts.contains(nil) ? nil : parts.map { $0! }
    }

    /// Per input its shapes, and whether it was written `[]` (a Kineto array entry: a scalar or a 0-dim tensor).
    static func parseShapes(_ text: String) -> (shapes: [[[Int64]]], writtenEmpty: [Bool])? {
        if text.hasPrefix("[") {
            guard let v = try? JSONValue.parse(Array(text.utf8)), let inputs = v.array else { return nil }
            var out: [[[Int64]]] = []
            let empty = inputs.map { $0.array?.isEmpty ?? false }
            for input in inputs {
                guard let a = input.array else { out.append([]); continue }
                if a.isEmpty { out.append([]); continue }
                if a.allSatisfy({ $0.array == nil }) {
                    let dims = a.compactMap { bounded($0.int.map(Int64.init)) }
                    guard dims.count == a.count else { return nil }
                    out.append([dims])
                } else {
                    var list: [[Int64]] = []
                    for t in a {
                        guard let elements = t.array else { return nil }
                        let dims = elements.compactMap { bounded($0.int.map(Int64.init)) }
                        guard dims.count == elements.count else { return nil }
                        list.append(dims)
                    }
                    out.append(list)
                }
            }
            return (out, empty)
        }
        // torch_npu: "16,559,1024;\r\n1024,1024;\r\n" (an empty entry: no tensor).
        var out: [[[Int64]]] = []
        for entry in splitNPU(text) {
            let e = Substring(entry).trimmingSpaces
            if e.isEmpty { out.append([]); continue }
            let dims = e.split(separator: ",").map { bounded(Int64(String($0.trimmingSpaces))) }
            guard !dims.contains(nil) else { return nil }
            out.append([dims.map { $0! }])
        }
        return (out, [Bool](repeating: false, count: out.count))
    }

    /// Dimensions and concrete integers the models accept: 0...2^30 (negative ones too for
    /// concrete values, as dims to reduce); anything else makes the call unmodelled, so no
    /// product of the models can overflow.
    static func bounded(_ v: Int64?, allowNegative: Bool = false) -> Int64? {
        guard let v, v <= 1 << 30, v >= (allowNegative ? -(1 << 30) : 0) else { return nil }
        return v
    }

    static func parseStrings(_ text: String) -> [String] {
        if text.hasPrefix("["), let v = try? JSONValue.parse(Array(text.utf8)), let a = v.array {
            return a.map { $0.string ?? "" }
        }
        return splitNPU(text).map { String(Substring($0).trimmingSpaces) }
    }

    /// torch_npu's entries: separated by `;` followed by optional CR/LF.
    static func splitNPU(_ text: String) -> [String] {
        text.split(separator: ";", omittingEmptySubsequences: false).map { part in
            String(part.drop { $0 == "\r" || $0 == "\n" || $0 == "\r\n" })
        }
    }
}

/// What kind of work a model describes.
public enum WorkKind: String, Sendable, CaseIterable {
    case gemm, attention, convolution, normalization, softmax, elementwise, reduction, embedding, copy, collective
}

/// The modelled work of one operator call.
public struct OpWork: Sendable, Equatable {
    public var flops: Int64
    public var bytes: Int64
    /// From the input dtypes; nil when no input has a floating or int8 dtype.
    public var precision: Precision?
    public var kind: WorkKind

    public init(flops: Int64, bytes: Int64, precision: Precision?, kind: WorkKind) {
        self.flops = flops
        self.bytes = bytes
        self.precision = precision
        self.kind = kind
    }

    /// Counts computed in floating point (exact below 2^53), clamped to Int64 (hostile shapes
    /// cannot overflow it).
    init(flops: Double, bytes: Double, precision: Precision?, kind: WorkKind) {
        self.flops = clampCount(flops)
        self.bytes = clampCount(bytes)
        self.precision = precision
        self.kind = kind
    }
}

/// The FLOP and byte models of operators (docs/efficiency.md, "Models").
public enum PerfModel {
    /// How an operator's model takes part in the counted-once rule (docs/efficiency.md, "Counted once").
    public enum Role: Sendable {
        /// Counted at this operator unless an operator above it was counted; its descendants are not counted.
        case owns
        /// A wrapper that dispatches to modelled operators: counted only when no descendant has a model.
        case defers
    }

    /// The role of the operator named `name`, or nil when it has no model.
    public static func role(_ name: String) -> Role? {
        if deferring.contains(name) { return .defers }
        return models[name] != nil ? .owns : nil
    }

    /// The work of one call of `name` with `inputs`, or nil when it has no model or its inputs
    /// lack what the model needs.
    public static func work(_ name: String, _ inputs: OpInputs) -> OpWork? {
        guard let model = models[name] else { return nil }
        return model(inputs)
    }

    static let deferring: Set<String> = [
        "aten::linear", "aten::matmul", "aten::scaled_dot_product_attention", "aten::conv1d", "aten::conv2d", "aten::conv3d",
        "aten::conv_transpose1d", "aten::conv_transpose2d", "aten::conv_transpose3d", "aten::layer_norm", "aten::group_norm",
        "aten::batch_norm", "aten::_batch_norm_impl_index", "aten::rms_norm", "aten::softmax", "aten::log_softmax",
        "aten::_safe_softmax",
    ]

    typealias Model = @Sendable (OpInputs) -> OpWork?

    static let models: [String: Model] = {
        var m: [String: Model] = [:]
        m["aten::mm"] = { gemm($0, a: 0, b: 1, bias: nil) }
        m["aten::addmm"] = { gemm($0, a: 1, b: 2, bias: 0) }
        m["aten::_addmm_activation"] = { gemm($0, a: 1, b: 2, bias: 0) }
        m["aten::bmm"] = { gemm($0, a: 0, b: 1, bias: nil) }
        m["aten::baddbmm"] = { gemm($0, a: 1, b: 2, bias: 0) }
        m["aten::matmul"] = { gemm($0, a: 0, b: 1, bias: nil) }
        m["aten::linear"] = linear
        m["aten::_scaled_mm"] = scaledMM
        for (name, layout, causal, backward) in attentionOps {
            m[name] = { attention($0, layout: layout, causal: causal, backward: backward) }
        }
        m["aten::convolution"] = { convolution($0, params: .aten) }
        m["aten::_convolution"] = { convolution($0, params: .aten) }
        for n in ["aten::conv1d", "aten::conv2d", "aten::conv3d"] { m[n] = { convolution($0, params: .convNd) } }
        for n in ["aten::conv_transpose1d", "aten::conv_transpose2d", "aten::conv_transpose3d"] {
            m[n] = { convolution($0, params: .convTransposeNd) }
        }
        for n in ["aten::cudnn_convolution", "aten::miopen_convolution", "aten::mkldnn_convolution"] {
            m[n] = { convolution($0, params: .backend) }
        }
        m["aten::convolution_backward"] = convolutionBackward
        for n in ["aten::layer_norm", "aten::native_layer_norm", "aten::group_norm", "aten::native_group_norm", "aten::batch_norm",
                  "aten::native_batch_norm", "aten::_batch_norm_impl_index", "aten::cudnn_batch_norm", "aten::rms_norm",
                  "aten::_fused_rms_norm", "_C::rms_norm", "_C::fused_add_rms_norm"] {
            m[n] = { streaming($0, kind: .normalization, flopsPerElement: 5, outputs: .likeFirst) }
        }
        for n in ["aten::native_layer_norm_backward", "aten::native_group_norm_backward", "aten::native_batch_norm_backward",
                  "aten::cudnn_batch_norm_backward", "aten::_fused_rms_norm_backward"] {
            m[n] = { streaming($0, kind: .normalization, flopsPerElement: 8, outputs: .likeSecond) }
        }
        for n in ["aten::softmax", "aten::_softmax", "aten::log_softmax", "aten::_log_softmax", "aten::_safe_softmax"] {
            m[n] = { streaming($0, kind: .softmax, flopsPerElement: 5, outputs: .likeFirst) }
        }
        for n in ["aten::_softmax_backward_data", "aten::_log_softmax_backward_data"] {
            m[n] = { streaming($0, kind: .softmax, flopsPerElement: 3, outputs: .likeFirst) }
        }
        for n in elementwiseOps {
            m["aten::" + n] = { streaming($0, kind: .elementwise, flopsPerElement: 1, outputs: .broadcast) }
            m["aten::" + n + "_"] = { streaming($0, kind: .elementwise, flopsPerElement: 1, outputs: .inPlace) }
        }
        for n in ["aten::copy_"] { m[n] = copyWork }
        for n in ["aten::fill_", "aten::zero_"] { m[n] = { streaming($0, kind: .copy, flopsPerElement: 0, outputs: .writeOnlyFirst) } }
        for n in ["aten::sum", "aten::mean", "aten::amax", "aten::amin", "aten::max", "aten::min", "aten::prod",
                  "aten::var", "aten::std", "aten::argmax", "aten::argmin", "aten::all", "aten::any"] {
            m[n] = { reduction($0, dimsAt: 1) }
        }
        // norm(self, p, dim, ...) and linalg_vector_norm(self, ord, dim, ...): the order comes first.
        for n in ["aten::norm", "aten::linalg_vector_norm"] { m[n] = { reduction($0, dimsAt: 2) } }
        m["aten::embedding"] = embedding
        m["aten::embedding_dense_backward"] = embeddingBackward
        for n in ["c10d::allreduce_", "c10d::allgather_", "c10d::_allgather_base_", "c10d::allgather_into_tensor_coalesced_",
                  "c10d::reduce_scatter_", "c10d::_reduce_scatter_base_", "c10d::reduce_scatter_tensor_coalesced_", "c10d::broadcast_",
                  "c10d::alltoall_", "c10d::alltoall_base_", "c10d::reduce_", "c10d::send", "c10d::recv_", "c10d::allreduce_coalesced_"] {
            m[n] = collective
        }
        return m
    }()

    /// Elementwise operators (also as their in-place `_` forms).
    static let elementwiseOps = [
        "add", "sub", "mul", "div", "neg", "pow", "rsqrt", "sqrt", "exp", "log", "sigmoid", "tanh", "relu", "gelu", "silu", "abs",
        "where", "clamp", "clamp_min", "clamp_max", "maximum", "minimum", "reciprocal", "sin", "cos", "erf", "masked_fill",
        "threshold_backward", "gelu_backward", "silu_backward", "sigmoid_backward", "tanh_backward", "native_dropout",
        "native_dropout_backward", "eq", "ne", "lt", "gt", "le", "ge", "addcmul", "addcdiv", "lerp", "mse_loss", "mse_loss_backward",
    ]

    // MARK: Shapes

    /// Elements of a shape, in floating point (see `OpWork.init(flops:bytes:...)`).
    static func numel(_ shape: [Int64]) -> Double { shape.reduce(1.0) { $0 * Double($1) } }

    /// Numpy broadcasting of shapes; nil when they do not broadcast.
    static func broadcast(_ shapes: [[Int64]]) -> [Int64]? {
        let rank = shapes.map(\.count).max() ?? 0
        var out = [Int64](repeating: 1, count: rank)
        for s in shapes {
            for (k, d) in s.enumerated() {
                let j = rank - s.count + k
                if out[j] == 1 { out[j] = d } else if d != 1 && d != out[j] { return nil }
            }
        }
        return out
    }

    /// The precision of the first input with a floating (or int8) dtype.
    static func precision(_ x: OpInputs, among inputs: [Int]? = nil) -> Precision? {
        for k in inputs ?? Array(x.types.indices) { if let p = Precision.of(dtype: x.type(k)) { return p } }
        return nil
    }

    /// Bytes of input `k` (all its tensors), 0 when its dtype's size is unknown.
    static func inputBytes(_ x: OpInputs, _ k: Int) -> Double {
        guard k < x.shapes.count, let b = bytesPerElement(dtype: x.type(k)) else { return 0 }
        return elements(x, k) * Double(b)
    }

    /// Elements of input `k` (all its tensors).
    static func elements(_ x: OpInputs, _ k: Int) -> Double { x.shapes[k].reduce(0.0) { $0 + numel($1) } }

    /// Size of the first tensor input's elements, the output's assumed size.
    static func firstElementSize(_ x: OpInputs) -> Int64? {
        for k in x.shapes.indices where !x.shapes[k].isEmpty { if let b = bytesPerElement(dtype: x.type(k)) { return b } }
        return nil
    }

    // MARK: GEMM

    /// A matrix product of inputs `a` [..., M, K] and `b` [..., K, N] (batch dims broadcast, a 1-D
    /// operand is a vector), plus an optional added input `bias`: 2·batch·M·N·K FLOPs (+ batch·M·N
    /// with a bias); bytes read A, B and the bias, written the output batch·M·N.
    static func gemm(_ x: OpInputs, a: Int, b: Int, bias: Int?) -> OpWork? {
        guard var sa = x.tensor(a), var sb = x.tensor(b), !sa.isEmpty, !sb.isEmpty else { return nil }
        if sa.count == 1 { sa = [1] + sa }
        if sb.count == 1 { sb = sb + [1] }
        let m = Double(sa[sa.count - 2]), k = Double(sa[sa.count - 1]), n = Double(sb[sb.count - 1])
        guard sb[sb.count - 2] == sa[sa.count - 1], let batchShape = broadcast([Array(sa.dropLast(2)), Array(sb.dropLast(2))]) else { return nil }
        let batch = numel(batchShape)
        var flops = 2 * batch * m * n * k
        var bytes = inputBytes(x, a) + inputBytes(x, b)
        if let bias, x.tensor(bias) != nil {
            flops += batch * m * n
            bytes += inputBytes(x, bias)
        }
        guard let out = bytesPerElement(dtype: x.type(a)) else { return nil }
        bytes += batch * m * n * Double(out)
        return OpWork(flops: flops, bytes: bytes, precision: precision(x, among: [a, b]), kind: .gemm)
    }

    /// `linear(input [..., K], weight [N, K], bias [N]?)`: the GEMM of M = numel(input)/K rows.
    static func linear(_ x: OpInputs) -> OpWork? {
        guard let si = x.tensor(0), let sw = x.tensor(1), let k = si.last, sw.count == 2, sw[1] == k, k > 0,
              let out = bytesPerElement(dtype: x.type(0)) else { return nil }
        let m = numel(si) / Double(k), n = Double(sw[0])
        var flops = 2 * m * n * Double(k)
        var bytes = inputBytes(x, 0) + inputBytes(x, 1) + m * n * Double(out)
        if x.hasTensor(2) {
            flops += m * n
            bytes += inputBytes(x, 2)
        }
        return OpWork(flops: flops, bytes: bytes, precision: precision(x, among: [0, 1]), kind: .gemm)
    }

    /// `_scaled_mm(A [M, K], B [K, N], scale_a, scale_b, bias?, scale_result?, out_dtype, ...)`:
    /// 2·M·N·K (+ M·N with a bias); bytes A, B, scales, bias and the output, which is taken as
    /// 2 bytes per element for 1-byte inputs (the out dtype is recorded as a code, not a name)
    /// and the input's size otherwise.
    static func scaledMM(_ x: OpInputs) -> OpWork? {
        guard let sa = x.tensor(0), let sb = x.tensor(1), sa.count == 2, sb.count == 2, sa[1] == sb[0],
              let bpe = bytesPerElement(dtype: x.type(0)) else { return nil }
        let m = Double(sa[0]), k = Double(sa[1]), n = Double(sb[1])
        var flops = 2 * m * n * k
        var bytes = inputBytes(x, 0) + inputBytes(x, 1) + inputBytes(x, 2) + inputBytes(x, 3) + m * n * Double(bpe == 1 ? 2 : bpe)
        if x.hasTensor(4) {
            flops += m * n
            bytes += inputBytes(x, 4)
        }
        return OpWork(flops: flops, bytes: bytes, precision: precision(x, among: [0, 1]), kind: .gemm)
    }

    // MARK: Attention

    /// Where an attention operator's inputs are: q, k, v positions, the layout, and for a backward
    /// the position of the output gradient.
    enum AttentionLayout: Sendable {
        /// [B, H, N, d] (the `scaled_dot_product_*` ops).
        case bhnd
        /// [B, N, H, d] (`_flash_attention_*`, `_efficient_attention_*`).
        case bnhd
    }

    /// How an attention operator says it is causal.
    enum CausalArg: Sendable {
        /// A boolean at this input.
        case flag(Int)
        /// xformers' custom_mask_type at this input: 0 none, 1 top-left causal, 2 bottom-right.
        case maskType(Int)
    }

    /// Attention operators: name, layout, causal argument, and q's position for backward ops (nil: forward, q at 0).
    static let attentionOps: [(String, AttentionLayout, CausalArg, Int?)] = [
        ("aten::scaled_dot_product_attention", .bhnd, .flag(5), nil),
        ("aten::_scaled_dot_product_flash_attention", .bhnd, .flag(4), nil),
        ("aten::_scaled_dot_product_flash_attention_for_cpu", .bhnd, .flag(4), nil),
        ("aten::_scaled_dot_product_efficient_attention", .bhnd, .flag(6), nil),
        ("aten::_scaled_dot_product_cudnn_attention", .bhnd, .flag(6), nil),
        ("aten::_flash_attention_forward", .bnhd, .flag(8), nil),
        ("aten::_efficient_attention_forward", .bnhd, .maskType(9), nil),
        ("aten::_scaled_dot_product_flash_attention_backward", .bhnd, .flag(11), 1),
        ("aten::_scaled_dot_product_efficient_attention_backward", .bhnd, .flag(11), 1),
        ("aten::_scaled_dot_product_cudnn_attention_backward", .bhnd, .flag(14), 1),
        ("aten::_flash_attention_backward", .bnhd, .flag(11), 1),
        ("aten::_efficient_attention_backward", .bnhd, .maskType(14), 1),
    ]

    /// Scaled dot-product attention of q [B, Hq, Nq, d], k [B, Hkv, Nkv, d], v [B, Hkv, Nkv, dv]:
    /// forward 2·B·Hq·Nq·Nkv·(d + dv) FLOPs (QKᵀ and PV; softmax left out), scaled by the share of
    /// (query, key) pairs a causal mask keeps; backward 2.5× that (QKᵀ recomputed, then dV, dP, dQ,
    /// dK). Bytes: forward q, k, v read and the output written; backward q, k, v, the output and
    /// its gradient read, dq, dk, dv written.
    static func attention(_ x: OpInputs, layout: AttentionLayout, causal: CausalArg, backward: Int?) -> OpWork? {
        let q0 = backward ?? 0
        guard let q = x.tensor(q0), let k = x.tensor(q0 + 1), let v = x.tensor(q0 + 2), q.count == 4, k.count == 4, v.count == 4,
              let bpe = bytesPerElement(dtype: x.type(q0)) else { return nil }
        func dims(_ s: [Int64]) -> (b: Double, h: Double, n: Double, d: Double) {
            let t = s.map(Double.init)
            return layout == .bhnd ? (t[0], t[1], t[2], t[3]) : (t[0], t[2], t[1], t[3])
        }
        let dq = dims(q), dk = dims(k), dv = dims(v)
        guard dk.d == dq.d, dk.n == dv.n else { return nil }
        let isCausal: Bool
        switch causal {
        case .flag(let i): isCausal = x.flag(i) ?? false
        case .maskType(let i): isCausal = (x.ints(i)?.first ?? 0) != 0
        }
        let pairs = isCausal ? causalPairs(nq: dq.n, nkv: dk.n) : dq.n * dk.n
        var flops = 2 * dq.b * dq.h * pairs * (dq.d + dv.d)
        let e = Double(bpe)
        let qBytes = numel(q) * e, kBytes = numel(k) * e, vBytes = numel(v) * e
        let outBytes = dq.b * dq.h * dq.n * dv.d * e
        var bytes = qBytes + kBytes + vBytes + outBytes
        if backward != nil {
            flops = flops * 5 / 2
            bytes = 2 * (qBytes + kBytes + vBytes) + 2 * outBytes
        }
        return OpWork(flops: flops, bytes: bytes, precision: precision(x, among: [q0, q0 + 1]), kind: .attention)
    }

    /// (query, key) pairs a causal mask keeps: half of them when Nq = Nkv (as FlashAttention and
    /// TraceLens count); otherwise PyTorch's top-left mask, Σ over queries i of min(i + 1, Nkv).
    static func causalPairs(nq: Double, nkv: Double) -> Double {
        if nq == nkv { return nq * nkv / 2 }
        let full = min(nq, nkv)  // queries 0..<full see i + 1 keys, the rest all Nkv
        return full * (full + 1) / 2 + max(0, nq - nkv) * nkv
    }

    // MARK: Convolution

    /// Where a convolution operator's parameters are.
    enum ConvParams: Sendable {
        /// `convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding, groups)`.
        case aten
        /// `convNd(input, weight, bias, stride, padding, dilation, groups)`.
        case convNd
        /// `conv_transposeNd(input, weight, bias, stride, padding, output_padding, groups, dilation)`.
        case convTransposeNd
        /// `cudnn_convolution(input, weight, padding, stride, dilation, groups, ...)` (no bias).
        case backend
    }

    struct ConvShape {
        var n: Int64, cin: Int64, cout: Int64, groups: Int64
        var inSpatial: [Int64], kernel: [Int64], outSpatial: [Int64]
        var transposed: Bool

        /// A multiply-add (2 FLOPs) per (output element, input channel of its group, kernel tap).
        var flops: Double {
            transposed
                ? 2 * Double(n) * Double(cin) * PerfModel.numel(inSpatial) * Double(cout / groups) * PerfModel.numel(kernel)
                : 2 * Double(n) * Double(cout) * PerfModel.numel(outSpatial) * Double(cin / groups) * PerfModel.numel(kernel)
        }
        var outputElements: Double { Double(n) * Double(cout) * PerfModel.numel(outSpatial) }
    }

    /// The shape of a convolution from input [N, Cin, spatial...] and weight ([Cout, Cin/g, k...],
    /// transposed [Cin, Cout/g, k...]); a missing stride/padding/dilation is 1/0/1 per dimension.
    static func convShape(input: [Int64], weight: [Int64], stride: [Int64]?, padding: [Int64]?, dilation: [Int64]?,
                          outputPadding: [Int64]?, transposed: Bool, groups: Int64) -> ConvShape? {
        let sd = input.count - 2
        guard sd >= 1, weight.count == input.count, groups >= 1 else { return nil }
        func at(_ a: [Int64]?, _ i: Int, _ def: Int64) -> Int64 {
            guard let a, !a.isEmpty else { return def }
            return a.count == 1 ? a[0] : (i < a.count ? a[i] : def)
        }
        let inSpatial = Array(input[2...]), kernel = Array(weight[2...])
        var out: [Int64] = []
        for i in 0..<sd {
            let s = at(stride, i, 1), p = at(padding, i, 0), d = at(dilation, i, 1)
            guard s >= 1, d >= 1, p >= 0 else { return nil }
            let o = transposed
                ? (inSpatial[i] - 1) * s - 2 * p + d * (kernel[i] - 1) + at(outputPadding, i, 0) + 1
                : (inSpatial[i] + 2 * p - d * (kernel[i] - 1) - 1) / max(s, 1) + 1
            guard o > 0 else { return nil }
            out.append(o)
        }
        let cout = transposed ? weight[1] * groups : weight[0]
        return ConvShape(n: input[0], cin: input[1], cout: cout, groups: groups, inSpatial: inSpatial, kernel: kernel, outSpatial: out,
                         transposed: transposed)
    }

    /// A convolution's FLOPs (plus N·Cout·out elements for a bias) and bytes (input, weight,
    /// bias read, output written).
    static func convolution(_ x: OpInputs, params: ConvParams) -> OpWork? {
        guard let input = x.tensor(0), let weight = x.tensor(1), let bpe = bytesPerElement(dtype: x.type(0)) else { return nil }
        let shape: ConvShape?
        var hasBias = false
        switch params {
        case .aten:
            hasBias = x.hasTensor(2)
            shape = convShape(input: input, weight: weight, stride: x.ints(3), padding: x.ints(4), dilation: x.ints(5),
                              outputPadding: x.ints(7), transposed: x.flag(6) ?? false, groups: x.ints(8)?.first ?? 1)
        case .convNd:
            hasBias = x.hasTensor(2)
            shape = convShape(input: input, weight: weight, stride: x.ints(3), padding: x.ints(4), dilation: x.ints(5),
                              outputPadding: nil, transposed: false, groups: x.ints(6)?.first ?? 1)
        case .convTransposeNd:
            hasBias = x.hasTensor(2)
            shape = convShape(input: input, weight: weight, stride: x.ints(3), padding: x.ints(4), dilation: x.ints(7),
                              outputPadding: x.ints(5), transposed: true, groups: x.ints(6)?.first ?? 1)
        case .backend:
            shape = convShape(input: input, weight: weight, stride: x.ints(3), padding: x.ints(2), dilation: x.ints(4),
                              outputPadding: nil, transposed: false, groups: x.ints(5)?.first ?? 1)
        }
        guard let shape else { return nil }
        var flops = shape.flops
        var bytes = inputBytes(x, 0) + inputBytes(x, 1) + shape.outputElements * Double(bpe)
        if hasBias {
            flops += shape.outputElements
            bytes += inputBytes(x, 2)
        }
        return OpWork(flops: flops, bytes: bytes, precision: precision(x, among: [0, 1]), kind: .convolution)
    }

    /// `convolution_backward(grad_output, input, weight, bias_sizes, stride, padding, dilation,
    /// transposed, output_padding, groups, output_mask)`: the forward's FLOPs once per gradient of
    /// input and weight the mask asks for, plus N·Cout·out for the bias gradient; bytes read
    /// grad_output, input and weight, written the gradients asked for.
    static func convolutionBackward(_ x: OpInputs) -> OpWork? {
        guard let go = x.tensor(0), let input = x.tensor(1), let weight = x.tensor(2), let bpe = bytesPerElement(dtype: x.type(0)),
              var shape = convShape(input: input, weight: weight, stride: x.ints(4), padding: x.ints(5), dilation: x.ints(6),
                                    outputPadding: x.ints(8), transposed: x.flag(7) ?? false, groups: x.ints(9)?.first ?? 1),
              go.count == input.count else { return nil }
        shape.outSpatial = Array(go[2...])
        let mask = x.flags(10) ?? [true, true, false]
        func asked(_ i: Int) -> Bool { i < mask.count && mask[i] }
        var flops = 0.0
        var bytes = inputBytes(x, 0) + inputBytes(x, 1) + inputBytes(x, 2)
        if asked(0) { flops += shape.flops; bytes += inputBytes(x, 1) }
        if asked(1) { flops += shape.flops; bytes += inputBytes(x, 2) }
        if asked(2) { flops += numel(go); bytes += Double(go[1]) * Double(bpe) }
        return OpWork(flops: flops, bytes: bytes, precision: precision(x, among: [0, 1]), kind: .convolution)
    }

    // MARK: Memory-bound operators

    /// What a streaming operator writes.
    enum Outputs: Sendable {
        /// The broadcast of its tensor inputs, in the first tensor's dtype.
        case broadcast
        /// Its first input, in place.
        case inPlace
        /// A tensor like its first input.
        case likeFirst
        /// A tensor like its second input (a backward's gradient of the forward input).
        case likeSecond
        /// Its first input, written without being read.
        case writeOnlyFirst
    }

    /// Bytes of every tensor input read plus the output written; FLOPs `flopsPerElement` per
    /// output element.
    static func streaming(_ x: OpInputs, kind: WorkKind, flopsPerElement: Int64, outputs: Outputs) -> OpWork? {
        let tensors = x.shapes.indices.filter { !x.shapes[$0].isEmpty && bytesPerElement(dtype: x.type($0)) != nil }
        guard let first = tensors.first, let bpe = firstElementSize(x) else { return nil }
        var read = tensors.reduce(0.0) { $0 + inputBytes(x, $1) }
        let outElements: Double
        switch outputs {
        case .broadcast:
            guard let shape = broadcast(tensors.flatMap { x.shapes[$0] }) else { return nil }
            outElements = numel(shape)
        case .inPlace, .likeFirst:
            outElements = elements(x, first)
        case .likeSecond:
            guard tensors.count >= 2 else { return nil }
            outElements = elements(x, tensors[1])
        case .writeOnlyFirst:
            outElements = elements(x, first)
            read -= inputBytes(x, first)
        }
        return OpWork(flops: Double(flopsPerElement) * outElements, bytes: read + outElements * Double(bpe), precision: precision(x),
                      kind: kind)
    }

    /// `copy_(dst, src)`: src read, dst written.
    static func copyWork(_ x: OpInputs) -> OpWork? {
        guard let dst = x.tensor(0), x.tensor(1) != nil, let b = bytesPerElement(dtype: x.type(0)) else { return nil }
        return OpWork(flops: 0, bytes: inputBytes(x, 1) + numel(dst) * Double(b), precision: precision(x, among: [1, 0]), kind: .copy)
    }

    /// A reduction of input 0 over the dims in input `k` (all dims when absent; keepdim does not
    /// change the count): reads the input, writes the reduced tensor; one FLOP per input element.
    static func reduction(_ x: OpInputs, dimsAt k: Int) -> OpWork? {
        guard let s = x.tensor(0), let bpe = bytesPerElement(dtype: x.type(0)) else { return nil }
        // max(a, b) and min(a, b) of two tensors are elementwise.
        if x.tensor(1) != nil { return streaming(x, kind: .elementwise, flopsPerElement: 1, outputs: .broadcast) }
        var out = s
        if let dims = x.ints(k) {
            for d in dims {
                let j = d < 0 ? Int(d) + s.count : Int(d)
                guard j >= 0 && j < s.count else { return nil }
                out[j] = 1
            }
        } else {
            out = []
        }
        return OpWork(flops: numel(s), bytes: (numel(s) + numel(out)) * Double(bpe), precision: precision(x, among: [0]), kind: .reduction)
    }

    /// `embedding(weight [V, D], indices)`: the indices read, one row of D read and written per index.
    static func embedding(_ x: OpInputs) -> OpWork? {
        guard let w = x.tensor(0), let idx = x.tensor(1), w.count == 2, let bpe = bytesPerElement(dtype: x.type(0)) else { return nil }
        return OpWork(flops: 0, bytes: inputBytes(x, 1) + 2 * numel(idx) * Double(w[1]) * Double(bpe), precision: precision(x, among: [0]), kind: .embedding)
    }

    /// `embedding_dense_backward(grad [..., D], indices, num_weights, ...)`: grad and indices read,
    /// the weight gradient [num_weights, D] written.
    static func embeddingBackward(_ x: OpInputs) -> OpWork? {
        guard let g = x.tensor(0), let d = g.last, let rows = x.ints(2)?.first, let bpe = bytesPerElement(dtype: x.type(0)) else { return nil }
        return OpWork(flops: numel(g), bytes: inputBytes(x, 0) + inputBytes(x, 1) + Double(rows) * Double(d) * Double(bpe), precision: precision(x, among: [0]),
                      kind: .embedding)
    }

    /// A collective: the bytes of its tensor inputs (the message); no FLOPs and no roofline.
    static func collective(_ x: OpInputs) -> OpWork? {
        let bytes = x.shapes.indices.reduce(0.0) { $0 + inputBytes(x, $1) }
        guard bytes > 0 else { return nil }
        return OpWork(flops: 0, bytes: bytes, precision: precision(x), kind: .collective)
    }
}
