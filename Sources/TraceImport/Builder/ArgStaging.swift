import TraceModel

/// Args as the parser appends them (and may drop or rewrite them) until `TimelineBuilder.finish`
/// packs them into the model's `ArgTable`.
struct ArgStaging {
    var key: [UInt32] = []
    var value: [ArgValue] = []
    var count: Int { key.count }

    /// Appends `other`'s rows with keys and text values mapped by `remap`; `other` is emptied.
    mutating func append(contentsOf other: inout ArgStaging, remap: RowRemap) {
        key.append(contentsOf: other.key.lazy.map { remap.strings[Int($0)] }); other.key = []
        value.append(contentsOf: other.value.lazy.map { $0.remapped(remap) }); other.value = []
    }
}
