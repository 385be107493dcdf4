/// Checks JSON text (RFC 8259, the grammar `Value(jsonBytes:)` accepts) without building a value.
///
/// The recorder stores every JSON text message twice, as its payload and as its `decoded` column; when
/// nothing in a message must change, the payload's own text is that column, and checking it is far
/// cheaper than parsing it into a `Value` and printing it again. The scanner hands each object key to a
/// closure, so a caller can look for keys that need work (secrets to redact) on the way.
///
/// ```swift
/// let shape = JSONScanner.scan(bytes) { key in key == "token" }
/// // .valid(flagged: false): JSON, and no key was flagged
/// ```
public enum JSONScanner {
    /// What a scan found.
    public enum Result: Sendable, Equatable {
        /// Not JSON text (or nested deeper than the parser allows).
        case invalid
        /// Valid JSON; `flagged` is true when the key closure returned true for some object key.
        case valid(flagged: Bool)
    }

    /// Scans `bytes`. `flagKey` sees each object key's decoded text.
    public static func scan(_ bytes: some Collection<UInt8>, flagKey: (String) -> Bool) -> Result {
        scan(bytes, flagKeyUTF8: { flagKey(String(decoding: $0, as: UTF8.self)) })
    }

    /// Scans `bytes`. `flagKeyUTF8` sees each object key's decoded text as UTF-8 bytes, valid only
    /// during the call: most keys are handed over in place, without making a `String`.
    public static func scan(_ bytes: some Collection<UInt8>, flagKeyUTF8: (UnsafeBufferPointer<UInt8>) -> Bool) -> Result {
        withoutActuallyEscaping(flagKeyUTF8) { flagKey in
            let result: Result? = bytes.withContiguousStorageIfAvailable { buffer in
                var s = Scan(bytes: buffer, flagKey: flagKey)
                return s.document()
            }
            if let result { return result }
            return Array(bytes).withUnsafeBufferPointer { buffer in
                var s = Scan(bytes: buffer, flagKey: flagKey)
                return s.document()
            }
        }
    }

    private struct Scan {
        let bytes: UnsafeBufferPointer<UInt8>
        let flagKey: (UnsafeBufferPointer<UInt8>) -> Bool
        var i = 0
        var depth = 0
        var flagged = false
        var sawNonASCII = false

        init(bytes: UnsafeBufferPointer<UInt8>, flagKey: @escaping (UnsafeBufferPointer<UInt8>) -> Bool) {
            self.bytes = bytes
            self.flagKey = flagKey
        }

        mutating func document() -> Result {
            skipSpace()
            guard value() else { return .invalid }
            skipSpace()
            guard i == bytes.count else { return .invalid }
            // Bytes over 0x7F appear only inside strings; check them as UTF-8 once, at the end.
            if sawNonASCII, String(validating: bytes, as: UTF8.self) == nil { return .invalid }
            return .valid(flagged: flagged)
        }

        mutating func skipSpace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x0A, 0x0D, 0x09: i += 1
                default: return
                }
            }
        }

        mutating func value() -> Bool {
            guard i < bytes.count else { return false }
            switch bytes[i] {
            case UInt8(ascii: "{"): return object()
            case UInt8(ascii: "["): return array()
            case UInt8(ascii: "\""): return string(key: false)
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
            default: return false
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard bytes.count - i >= n else { return false }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { return false }
            i += n
            return true
        }

        mutating func object() -> Bool {
            depth += 1
            guard depth <= JSONParser.maxDepth else { return false }
            defer { depth -= 1 }
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return true }
            while true {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), string(key: true) else { return false }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return false }
                i += 1
                skipSpace()
                guard value() else { return false }
                skipSpace()
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return true }
                return false
            }
        }

        mutating func array() -> Bool {
            depth += 1
            guard depth <= JSONParser.maxDepth else { return false }
            defer { depth -= 1 }
            i += 1
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return true }
            while true {
                skipSpace()
                guard value() else { return false }
                skipSpace()
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return true }
                return false
            }
        }

        /// A string; a key's text goes to `flagKey` (escaped keys through the full parser's decoding).
        mutating func string(key: Bool) -> Bool {
            let start = i
            i += 1
            var escaped = false
            while true {
                guard i < bytes.count else { return false }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c < 0x20 { return false }
                if c >= 0x80 { sawNonASCII = true }
                if c != UInt8(ascii: "\\") { i += 1; continue }
                escaped = true
                i += 1
                guard i < bytes.count else { return false }
                switch bytes[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"), UInt8(ascii: "u"):
                    i += 1
                default:
                    return false
                }
            }
            guard key || escaped else { return true }
            // Escapes (\u surrogates above all) are checked by the parser's own string rule.
            if escaped {
                var parser = JSONParser(bytes: Array(bytes[start..<i]))
                guard var text = try? parser.parseString() else { return false }
                if key, !flagged, text.withUTF8({ flagKey($0) }) { flagged = true }
            } else if key, !flagged, flagKey(UnsafeBufferPointer(rebasing: bytes[(start + 1)..<(i - 1)])) {
                flagged = true
            }
            return true
        }

        mutating func number() -> Bool {
            if bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, isDigit(at: i) else { return false }
            // A leading zero stands alone ("01" is not a number: what follows fails the structure).
            if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while digit() {} }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digit() else { return false }
                while digit() {}
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digit() else { return false }
                while digit() {}
            }
            return true
        }

        func isDigit(at k: Int) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[k]) }

        mutating func digit() -> Bool {
            guard i < bytes.count, isDigit(at: i) else { return false }
            i += 1
            return true
        }
    }
}
