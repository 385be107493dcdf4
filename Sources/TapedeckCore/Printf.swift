/// A small printf: `%d %5d %-5d %05d %s %f %.2f %x %X %%`.
enum Printf {
    static func format(_ fmt: String, _ args: [Value]) throws(ExpressionError) -> String {
        var out = ""
        var chars = Array(fmt)[...]
        var next = 0
        while let c = chars.popFirst() {
            guard c == "%" else { out.append(c); continue }
            if chars.first == "%" { chars.removeFirst(); out.append("%"); continue }
            var leftAlign = false, zeroPad = false
            while let f = chars.first, f == "-" || f == "0" {
                if f == "-" { leftAlign = true } else { zeroPad = true }
                chars.removeFirst()
            }
            var width = 0
            while let d = chars.first, let n = d.wholeNumberValue { width = width * 10 + n; chars.removeFirst() }
            var precision: Int?
            if chars.first == "." {
                chars.removeFirst()
                var p = 0
                while let d = chars.first, let n = d.wholeNumberValue { p = p * 10 + n; chars.removeFirst() }
                precision = p
            }
            guard let conv = chars.popFirst() else { throw ExpressionError("format ends inside a '%' directive") }
            guard next < args.count else { throw ExpressionError("format needs more arguments than the \(args.count) given") }
            let arg = args[next]
            next += 1
            var text: String
            switch conv {
            case "d", "i":
                guard let d = arg.doubleValue else { throw ExpressionError("%d needs a number, not \(arg.kindName)") }
                text = String(Int(d.rounded(.towardZero)))
            case "f":
                guard let d = arg.doubleValue else { throw ExpressionError("%f needs a number, not \(arg.kindName)") }
                text = fixed(d, precision ?? 6)
            case "s": text = arg.plainText
            case "x", "X":
                guard let i = arg.intValue else { throw ExpressionError("%x needs an integer") }
                text = String(i, radix: 16, uppercase: conv == "X")
            default: throw ExpressionError("unknown format directive '%\(conv)'")
            }
            if text.count < width {
                let padCount = width - text.count
                if leftAlign {
                    text += String(repeating: " ", count: padCount)
                } else if zeroPad && conv != "s" {
                    let negative = text.hasPrefix("-")
                    let digits = negative ? String(text.dropFirst()) : text
                    text = (negative ? "-" : "") + String(repeating: "0", count: padCount) + digits
                } else {
                    text = String(repeating: " ", count: padCount) + text
                }
            }
            out += text
        }
        return out
    }

    static func fixed(_ d: Double, _ precision: Int) -> String {
        guard d.isFinite else { return "\(d)" }
        var scale = 1.0
        for _ in 0..<min(precision, 15) { scale *= 10 }
        let scaled = (abs(d) * scale).rounded()
        let intPart = Int(scaled / scale)
        var frac = String(Int(scaled - Double(intPart) * scale))
        while frac.count < precision { frac = "0" + frac }
        let sign = d < 0 && scaled != 0 ? "-" : ""
        return precision == 0 ? "\(sign)\(intPart)" : "\(sign)\(intPart).\(frac)"
    }
}
