#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `format()`: C's printf for the conversions `%d %i %u %f %F %e %E %g %G %x %X %o %s %%`, with
/// the flags `-`, `0`, `+`, space and `#`, a width and a precision (not `*`).
///
/// Numbers go through the C library's `snprintf`, so `format('%.17f', 0.8)` is what C prints
/// (`0.80000000000000004`). `%d %i %u %x %X %o` take an integer (a fractional number is truncated
/// toward zero) and print it as a 64-bit `long long`; `%s` prints any value as text, padded and
/// truncated by characters.
enum Printf {
    static func format(_ fmt: String, _ args: [Value]) throws(ExpressionError) -> String {
        var out = ""
        var chars = Array(fmt)[...]
        var next = 0
        while let c = chars.popFirst() {
            guard c == "%" else { out.append(c); continue }
            if chars.first == "%" { chars.removeFirst(); out.append("%"); continue }
            var flags = ""
            while let f = chars.first, "-0+ #".contains(f) {
                if !flags.contains(f) { flags.append(f) }
                chars.removeFirst()
            }
            var width = 0
            while let d = chars.first, let n = d.wholeNumberValue {
                guard width < 10_000 else { throw ExpressionError("format width is too large") }
                width = width * 10 + n
                chars.removeFirst()
            }
            var precision: Int?
            if chars.first == "." {
                chars.removeFirst()
                var p = 0
                while let d = chars.first, let n = d.wholeNumberValue {
                    guard p < 10_000 else { throw ExpressionError("format precision is too large") }
                    p = p * 10 + n
                    chars.removeFirst()
                }
                precision = p
            }
            guard let conv = chars.popFirst() else { throw ExpressionError("format ends inside a '%' directive") }
            guard "diufFeEgGxXos".contains(conv) else { throw ExpressionError("unknown format directive '%\(conv)'") }
            guard next < args.count else { throw ExpressionError("format needs more arguments than the \(args.count) given") }
            let arg = args[next]
            next += 1
            let spec = "%" + flags + (width > 0 ? String(width) : "") + (precision.map { ".\($0)" } ?? "")
            switch conv {
            case "s":
                var text = arg.plainText
                if let precision, text.count > precision { text = String(text.prefix(precision)) }
                if text.count < width {
                    let pad = String(repeating: " ", count: width - text.count)
                    text = flags.contains("-") ? text + pad : pad + text
                }
                out += text
            case "d", "i", "u", "x", "X", "o":
                let n: Int64
                if let i = arg.intValue {
                    n = Int64(i)
                } else if let d = arg.doubleValue, d.isFinite, abs(d) < 9.2e18 {
                    n = Int64(d.rounded(.towardZero))
                } else {
                    throw ExpressionError("%\(conv) needs a number, not \(arg.kindName)")
                }
                out += cFormat(spec + "ll" + String(conv), n)
            default:
                guard let d = arg.doubleValue else { throw ExpressionError("%\(conv) needs a number, not \(arg.kindName)") }
                out += cFormat(spec + String(conv), d)
            }
        }
        return out
    }

    private static func text(_ bytes: ArraySlice<CChar>) -> String {
        String(decoding: bytes.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// One conversion through the C library.
    private static func cFormat(_ spec: String, _ argument: any CVarArg) -> String {
        withVaList([argument]) { list in
            var buffer = [CChar](repeating: 0, count: 512)
            let n = Int(vsnprintf(&buffer, buffer.count, spec, list))
            guard n >= 0 else { return "" }
            if n < buffer.count { return text(buffer[..<n]) }
            return withVaList([argument]) { again in
                var big = [CChar](repeating: 0, count: n + 1)
                _ = vsnprintf(&big, big.count, spec, again)
                return text(big[..<n])
            }
        }
    }
}
