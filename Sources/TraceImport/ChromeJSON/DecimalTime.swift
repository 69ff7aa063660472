/// Exact conversion of decimal microsecond text to integer nanoseconds (the general path:
/// exponents, long fractions, large values). Rounds to the nearest nanosecond, halves away from zero.
public enum DecimalTime {
    /// Nanoseconds for microseconds written as a JSON number, or nil when malformed or out of range.
    public static func nanoseconds(fromMicros text: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let n = text.count
        var negative = false
        if i < n && text[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var digits: [UInt8] = []
        var pointExponent = 0  // value = digits * 10^(exponent)
        var sawDigit = false
        while i < n, let d = digit(text[i]) {
            digits.append(d); sawDigit = true; i += 1
        }
        if i < n && text[i] == UInt8(ascii: ".") {
            i += 1
            var fractionDigits = false
            while i < n, let d = digit(text[i]) {
                digits.append(d); pointExponent -= 1; i += 1; fractionDigits = true
            }
            if !fractionDigits { return nil }
        }
        guard sawDigit || !digits.isEmpty else { return nil }
        var exponent = 0
        if i < n && (text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E")) {
            i += 1
            var expNegative = false
            if i < n && (text[i] == UInt8(ascii: "+") || text[i] == UInt8(ascii: "-")) {
                expNegative = text[i] == UInt8(ascii: "-"); i += 1
            }
            var sawExp = false
            while i < n, let d = digit(text[i]) {
                if exponent < 100_000 { exponent = exponent * 10 + Int(d) }
                i += 1; sawExp = true
            }
            if !sawExp { return nil }
            if expNegative { exponent = -exponent }
        }
        guard i == n else { return nil }
        // Microseconds to nanoseconds: three more decimal places.
        let scale = pointExponent + exponent + 3
        while let first = digits.first, first == 0, digits.count > 1 { digits.removeFirst() }
        var kept = digits
        var roundUp = false
        if scale < 0 {
            let drop = -scale
            if drop > kept.count {
                kept = []
            } else {
                roundUp = kept[kept.count - drop] >= 5
                kept.removeLast(drop)
            }
        } else if scale > 0 {
            if kept.count == 1 && kept[0] == 0 { return 0 }
            if kept.count + scale > 19 { return nil }
            kept.append(contentsOf: repeatElement(0, count: scale))
        }
        var value: Int64 = 0
        for d in kept {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            value = a
        }
        if roundUp {
            let (a, o) = value.addingReportingOverflow(1)
            if o { return nil }
            value = a
        }
        return negative ? -value : value
    }

    @inline(__always) private static func digit(_ c: UInt8) -> UInt8? {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : nil
    }
}

/// The times stepscope accepts: within 2^62 ns (about 146 years) of the epoch, so the difference
/// of any two of them fits in 64 bits.
public enum TimeRange {
    public static let limit: Int64 = 1 << 62
    @inline(__always) public static func contains(_ t: Int64) -> Bool { t >= -limit && t <= limit }
    /// Whether `t + d` is representable and in range.
    @inline(__always) public static func contains(_ t: Int64, plus d: Int64) -> Bool {
        let (sum, overflow) = t.addingReportingOverflow(d)
        return !overflow && contains(sum)
    }
}
