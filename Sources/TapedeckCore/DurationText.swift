/// Parsing and formatting of durations written as text: `500ms`, `30s`, `2m`, `1h30m`, `1.5s`.
public enum DurationText {
    static let unitSeconds: [String: Double] = [
        "ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400,
    ]

    /// Parses a duration in seconds. Accepts a bare number (seconds) or one or more `<number><unit>` parts.
    public static func seconds(_ text: String) -> Double? {
        let t = text.trimming(" ")
        if t.isEmpty { return nil }
        if let d = Double(t) { return d }
        var total = 0.0
        var number = ""
        var unit = ""
        var sawPart = false
        func flush() -> Bool {
            guard !number.isEmpty, let n = Double(number), let s = unitSeconds[unit] else { return false }
            total += n * s
            number = ""
            unit = ""
            sawPart = true
            return true
        }
        var negative = false
        var chars = Substring(t)
        if chars.first == "-" { negative = true; chars = chars.dropFirst() }
        for c in chars {
            if c.isNumber || c == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(c)
            } else if c.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(c)
            } else {
                return nil
            }
        }
        guard flush(), sawPart else { return nil }
        return negative ? -total : total
    }

    /// Formats seconds compactly: `1.5s`, `2m`, `1h30m`.
    public static func format(_ seconds: Double) -> String {
        if seconds < 1 && seconds > 0 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 || seconds.rounded() != seconds {
            return seconds.rounded() == seconds ? "\(Int(seconds))s" : "\(seconds)s"
        }
        var rest = Int(seconds)
        var out = ""
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}

extension StringProtocol {
    /// The text without `character` at either end (`" a b ".trimming(" ")` is `"a b"`).
    public func trimming(_ character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return String(s)
    }
}
