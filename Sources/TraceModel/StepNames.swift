/// Whether slice names are profiler steps (`ProfilerStep#N`), tested once per distinct name.
public struct StepNames {
    /// The prefix of a profiler step's name.
    public static let prefix: StaticString = "ProfilerStep#"

    private let strings: StringTable
    private var flags: [Int8]  // per name id: -1 not tested yet, 0 no, 1 yes

    /// Sized for the names `strings` holds now.
    public init(_ strings: StringTable) {
        self.strings = strings
        flags = [Int8](repeating: -1, count: strings.count)
    }

    /// True when string `name` is a profiler step's name.
    @inline(__always)
    public mutating func contains(_ name: UInt32) -> Bool {
        let i = Int(name)
        if flags[i] < 0 { flags[i] = strings.hasPrefix(name, Self.prefix) ? 1 : 0 }
        return flags[i] == 1
    }
}
