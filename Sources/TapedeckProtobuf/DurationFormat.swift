/// Text for `google.protobuf.Duration`: seconds with an optional fraction and an `s`
/// suffix, e.g. `"1.5s"`, `"-0.000001s"`, `"3600s"`.
enum DurationFormat {
    static let maxSeconds: Int64 = 315_576_000_000

    static func format(seconds: Int64, nanos: Int32) -> String? {
        // Range checks before any negation: abs(Int64.min) would trap.
        guard seconds >= -maxSeconds, seconds <= maxSeconds, nanos >= -999_999_999, nanos <= 999_999_999,
            (seconds >= 0 && nanos >= 0) || (seconds <= 0 && nanos <= 0)
        else { return nil }
        let negative = seconds < 0 || nanos < 0
        return (negative ? "-" : "") + String(seconds.magnitude) + TimestampFormat.fraction(Int32(nanos.magnitude)) + "s"
    }

    static func parse(_ text: String) -> (seconds: Int64, nanos: Int32)? {
        var b = Array(text.utf8)
        guard b.last == UInt8(ascii: "s") else { return nil }
        b.removeLast()
        var i = 0
        var negative = false
        if i < b.count, b[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        var seconds: Int64 = 0
        var intDigits = 0
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
            guard intDigits < 12 else { return nil }
            seconds = seconds * 10 + Int64(b[i] - 0x30)
            intDigits += 1
            i += 1
        }
        var nanos: Int64 = 0
        var fracDigits = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                guard fracDigits < 9 else { return nil }
                nanos = nanos * 10 + Int64(b[i] - 0x30)
                fracDigits += 1
                i += 1
            }
            guard fracDigits > 0 else { return nil }
            for _ in fracDigits..<9 { nanos *= 10 }
        }
        guard i == b.count, intDigits > 0 || fracDigits > 0, seconds <= maxSeconds else { return nil }
        return negative ? (-seconds, Int32(-nanos)) : (seconds, Int32(nanos))
    }
}
