/// The kind of accelerator a rank's device activity ran on, and what reports call it.
public enum DeviceKind: String, Sendable, CaseIterable {
    case cuda, rocm, npu, mtia

    /// The word reports and the terminal UI use: "GPU", "NPU" or "MTIA".
    public var label: String {
        switch self {
        case .cuda, .rocm: return "GPU"
        case .npu: return "NPU"
        case .mtia: return "MTIA"
        }
    }

    /// The kind of a Kineto trace, from what it holds: MTIA's `mtia_ccp_events` category, HIP
    /// runtime calls or an AMD device for ROCm, else CUDA.
    public init(detectingIn trace: RankTrace) {
        let s = trace.strings
        if s.lookup("mtia_ccp_events") != nil {
            self = .mtia
        } else if s.lookup("hipLaunchKernel") != nil || s.lookup("hipExtModuleLaunchKernel") != nil
                    || trace.metadata.devices.contains(where: { $0.name.hasPrefix("AMD") }) {
            self = .rocm
        } else {
            self = .cuda
        }
    }
}
