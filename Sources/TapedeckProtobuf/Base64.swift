/// Base64 for `bytes` fields: standard alphabet with padding on output; standard or
/// URL-safe alphabet, padding optional, on input (as the proto3 JSON mapping requires).
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    private static let decodeTable: [Int8] = {
        var t = [Int8](repeating: -1, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = Int8(i) }
        t[Int(UInt8(ascii: "-"))] = 62
        t[Int(UInt8(ascii: "_"))] = 63
        return t
    }()

    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let b0 = iterator.next() {
            let b1 = iterator.next()
            let b2 = iterator.next()
            let n = UInt32(b0) << 16 | UInt32(b1 ?? 0) << 8 | UInt32(b2 ?? 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(b1 == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 63)])
            out.append(b2 == nil ? UInt8(ascii: "=") : alphabet[Int(n & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Returns nil on a character outside both alphabets or a malformed length.
    static func decode(_ text: String) -> [UInt8]? {
        var digits: [UInt8] = []
        var utf8 = Array(text.utf8)
        while utf8.last == UInt8(ascii: "=") { utf8.removeLast() }
        if Array(text.utf8).count - utf8.count > 2 { return nil }
        digits.reserveCapacity(utf8.count)
        for c in utf8 {
            let v = decodeTable[Int(c)]
            guard v >= 0 else { return nil }
            digits.append(UInt8(v))
        }
        if digits.count % 4 == 1 { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count * 3 / 4)
        var i = 0
        while i < digits.count {
            let chunk = digits[i..<min(i + 4, digits.count)]
            var n: UInt32 = 0
            for (k, d) in chunk.enumerated() { n |= UInt32(d) << (18 - 6 * UInt32(k)) }
            out.append(UInt8(truncatingIfNeeded: n >> 16))
            if chunk.count > 2 { out.append(UInt8(truncatingIfNeeded: n >> 8)) }
            if chunk.count > 3 { out.append(UInt8(truncatingIfNeeded: n)) }
            i += 4
        }
        return out
    }
}
