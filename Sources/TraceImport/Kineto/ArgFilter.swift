import TraceModel

/// Which args a filtered load keeps, decided once per key (an interned string).
struct ArgFilter {
    private let keep: Set<String>
    /// Per string id: -1 not decided yet, 0 drop, 1 keep.
    private var decided: [Int8] = []

    init(keep: Set<String>) {
        self.keep = keep
    }

    /// Whether args with key `key` (an id in `strings`) are kept.
    @inline(__always)
    mutating func keeps(_ key: UInt32, _ strings: StringTable) -> Bool {
        let i = Int(key)
        if i < decided.count, decided[i] >= 0 { return decided[i] == 1 }
        return decide(key, strings)
    }

    private mutating func decide(_ key: UInt32, _ strings: StringTable) -> Bool {
        let i = Int(key)
        if i >= decided.count { decided.append(contentsOf: repeatElement(-1, count: i + 1 - decided.count)) }
        decided[i] = keep.contains(strings[key]) ? 1 : 0
        return decided[i] == 1
    }
}
