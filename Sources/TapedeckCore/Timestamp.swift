/// ISO-8601 formatting and parsing of Unix times (seconds since 1970, UTC), without Foundation formatters.
public enum Timestamp {
    /// `2025-01-17T10:30:00.000Z` (milliseconds, UTC), or without the fraction when `fractional` is false.
    public static func iso8601(_ seconds: Double, fractional: Bool = true) -> String {
        let totalMillis = Int64((seconds * 1000).rounded(.down))
        var days = totalMillis / 86_400_000
        var ms = totalMillis % 86_400_000
        if ms < 0 { ms += 86_400_000; days -= 1 }
        let (y, m, d) = civil(fromDays: days)
        let h = ms / 3_600_000, mi = (ms / 60000) % 60, s = (ms / 1000) % 60, frac = ms % 1000
        var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2))"
        if fractional { out += ".\(pad(frac, 3))" }
        return out + "Z"
    }

    /// Parses `2025-01-17T10:30:00Z`, `2025-01-17T10:30:00.123+02:00` or `2025-01-17` into Unix seconds.
    public static func parse(_ text: String) -> Double? {
        let c = Array(text.utf8)
        func num(_ at: Int, _ len: Int) -> Int? {
            guard at + len <= c.count else { return nil }
            var v = 0
            for i in at..<at + len {
                guard c[i] >= 48, c[i] <= 57 else { return nil }
                v = v * 10 + Int(c[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), c.count >= 10, c[4] == 45, let mo = num(5, 2), c[7] == 45, let d = num(8, 2),
            (1...12).contains(mo), (1...31).contains(d)
        else { return nil }
        var seconds = Double(days(fromCivil: y, mo, d)) * 86400
        if c.count == 10 { return seconds }
        guard c.count >= 19, c[10] == 84 || c[10] == 116 || c[10] == 32, let h = num(11, 2), c[13] == 58,
            let mi = num(14, 2), c[16] == 58, let s = num(17, 2), h < 24, mi < 60, s < 61
        else { return nil }
        seconds += Double(h * 3600 + mi * 60 + s)
        var i = 19
        if i < c.count, c[i] == 46 {
            i += 1
            var scale = 0.1
            while i < c.count, c[i] >= 48, c[i] <= 57 {
                seconds += Double(c[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        guard i < c.count else { return nil }
        if c[i] == 90 || c[i] == 122 { return i + 1 == c.count ? seconds : nil }
        guard c[i] == 43 || c[i] == 45, let oh = num(i + 1, 2), i + 3 < c.count, c[i + 3] == 58, let om = num(i + 4, 2),
            i + 6 == c.count
        else { return nil }
        let offset = Double(oh * 3600 + om * 60)
        return c[i] == 43 ? seconds - offset : seconds + offset
    }

    static func pad(_ v: some BinaryInteger, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    // Howard Hinnant's civil-from-days algorithms.
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    static func days(fromCivil y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
