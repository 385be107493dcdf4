/// Where a message carries its send timestamp, and how to read it without parsing the whole message.
///
/// The path is a small JSON path of member names and list indices (`$.data.t`, `$.t`,
/// `$.payload.items[0].sent`). `extract(from:)` walks the raw UTF-8 bytes of a JSON text, skipping
/// whatever it does not need, and builds no values: a load generator reads thousands of messages a
/// second and must not be the bottleneck. The value may be a JSON integer, a number with a fraction
/// (truncated) or a string holding an integer (the proto3 JSON mapping writes 64-bit integers as strings).
public struct LatencyField: Sendable, Hashable, CustomStringConvertible {
    enum Step: Sendable, Hashable {
        case key([UInt8])
        case index(Int)
    }

    let steps: [Step]
    /// The path as written.
    public let description: String
    /// Nanoseconds per unit of the stamped value (1 for `mono_ns()`, 1000 for microseconds, ...).
    public let nanosecondsPerUnit: Int

    /// Parses `$.a.b`, `$.a[2].b` or `$['a'].b`; `unit` is `ns` (default), `us`, `ms` or `s`.
    public init(parsing text: String, unit: String = "ns") throws(BenchError) {
        switch unit {
        case "ns": nanosecondsPerUnit = 1
        case "us", "µs": nanosecondsPerUnit = 1_000
        case "ms": nanosecondsPerUnit = 1_000_000
        case "s": nanosecondsPerUnit = 1_000_000_000
        default: throw BenchError.invalidOption("latency unit '\(unit)' is not ns, us, ms or s")
        }
        let chars = Array(text)
        guard chars.first == "$" else { throw BenchError.invalidOption("latency field \(text) must start with $ (e.g. $.data.t)") }
        var i = 1
        var steps: [Step] = []
        while i < chars.count {
            if chars[i] == "." {
                i += 1
                var name = ""
                while i < chars.count, chars[i] != ".", chars[i] != "[" {
                    name.append(chars[i])
                    i += 1
                }
                guard !name.isEmpty else { throw BenchError.invalidOption("latency field \(text): empty name after .") }
                steps.append(.key(Array(name.utf8)))
            } else if chars[i] == "[" {
                guard let close = chars[i...].firstIndex(of: "]") else { throw BenchError.invalidOption("latency field \(text): missing ]") }
                let inner = String(chars[(i + 1)..<close])
                i = close + 1
                if let n = Int(inner), n >= 0 {
                    steps.append(.index(n))
                } else if inner.count >= 2, let q = inner.first, q == "'" || q == "\"", inner.last == q {
                    steps.append(.key(Array(inner.dropFirst().dropLast().utf8)))
                } else {
                    throw BenchError.invalidOption("latency field \(text): cannot read [\(inner)] (a name or an index ≥ 0)")
                }
            } else {
                throw BenchError.invalidOption("latency field \(text): unexpected \(chars[i])")
            }
        }
        guard !steps.isEmpty else { throw BenchError.invalidOption("latency field \(text) selects the whole message, not a number") }
        self.steps = steps
        self.description = text
    }

    /// The stamped time in nanoseconds, or nil when the message has no number at the path (or is not JSON).
    public func extract(from bytes: UnsafeRawBufferPointer) -> Int? {
        var scanner = Scanner(bytes: bytes)
        for step in steps {
            switch step {
            case .key(let key):
                guard scanner.enterMember(named: key) else { return nil }
            case .index(let n):
                guard scanner.enterElement(at: n) else { return nil }
            }
        }
        guard let value = scanner.readInteger() else { return nil }
        let (product, overflow) = value.multipliedReportingOverflow(by: nanosecondsPerUnit)
        return overflow ? nil : product
    }

    /// The stamped time in nanoseconds, from a byte array (tests, tools).
    public func extract(from bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { extract(from: $0) }
    }

    /// A forward-only reader over JSON bytes that skips values without building them.
    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var current: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func expect(_ byte: UInt8) -> Bool {
            skipWhitespace()
            guard current == byte else { return false }
            i += 1
            return true
        }

        /// At an object: moves to the value of member `key`.
        mutating func enterMember(named key: [UInt8]) -> Bool {
            guard expect(UInt8(ascii: "{")) else { return false }
            skipWhitespace()
            if current == UInt8(ascii: "}") { return false }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { return false }
                let start = i + 1
                guard skipString() else { return false }
                let end = i - 1
                guard expect(UInt8(ascii: ":")) else { return false }
                if end - start == key.count, key.withUnsafeBytes({ k in memcmpEqual(k, bytes, start) }) {
                    skipWhitespace()
                    return true
                }
                guard skipValue() else { return false }
                skipWhitespace()
                guard let c = current else { return false }
                if c == UInt8(ascii: ",") { i += 1; continue }
                return false
            }
        }

        /// At a list: moves to element `n`.
        mutating func enterElement(at n: Int) -> Bool {
            guard expect(UInt8(ascii: "[")) else { return false }
            skipWhitespace()
            if current == UInt8(ascii: "]") { return false }
            for _ in 0..<n {
                guard skipValue() else { return false }
                guard expect(UInt8(ascii: ",")) else { return false }
            }
            skipWhitespace()
            return true
        }

        private func memcmpEqual(_ key: UnsafeRawBufferPointer, _ bytes: UnsafeRawBufferPointer, _ start: Int) -> Bool {
            for j in 0..<key.count where key[j] != bytes[start + j] { return false }
            return true
        }

        /// At a `"`: moves past the closing quote.
        mutating func skipString() -> Bool {
            i += 1
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\\"): i += 2
                case UInt8(ascii: "\""): i += 1; return true
                default: i += 1
                }
            }
            return false
        }

        /// Moves past one value of any kind.
        mutating func skipValue() -> Bool {
            skipWhitespace()
            guard let c = current else { return false }
            switch c {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: "\""):
                        guard skipString() else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 { i += 1; return true }
                    default: break
                    }
                    i += 1
                }
                return false
            default:
                while i < bytes.count {
                    switch bytes[i] {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D: return true
                    default: i += 1
                    }
                }
                return true
            }
        }

        /// Reads an integer, a number with a fraction (truncated toward zero) or a string holding one.
        mutating func readInteger() -> Int? {
            skipWhitespace()
            var quoted = false
            if current == UInt8(ascii: "\"") { quoted = true; i += 1 }
            var negative = false
            if current == UInt8(ascii: "-") { negative = true; i += 1 }
            var value = 0
            var digits = 0
            while let c = current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(Int(c - UInt8(ascii: "0")))
                guard !o1, !o2 else { return nil }
                value = s
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if current == UInt8(ascii: ".") {
                i += 1
                while let c = current, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") { i += 1 }
            }
            if let c = current, c == UInt8(ascii: "e") || c == UInt8(ascii: "E") { return nil }  // exponents: not a timestamp we write
            if quoted, current != UInt8(ascii: "\"") { return nil }
            return negative ? -value : value
        }
    }
}
