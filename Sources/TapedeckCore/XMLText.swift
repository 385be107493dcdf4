/// Text made safe for XML 1.0 and HTML: the JUnit reports and the HTML diff report share it.
public enum XMLText {
    /// Escapes `&`, `<`, `>` and both quotes (so the result fits in element text and in
    /// attribute values alike), and replaces the characters XML 1.0 does not allow even escaped
    /// (control characters other than tab, newline and carriage return; U+FFFE and U+FFFF) with U+FFFD.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
