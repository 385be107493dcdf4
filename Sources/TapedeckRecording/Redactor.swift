public import TapedeckCore
import OrderedCollections

/// Replaces secrets with a placeholder before anything reaches disk or a log.
///
/// One list of secret names (``secretNames``) applies everywhere: to query parameters, to headers
/// and to keys at any depth inside JSON payloads. Names compare case-insensitively and ignore `-`
/// and `_` and a leading `x-`, so `refresh_token`, `refreshToken`, `Refresh-Token` and
/// `X-Refresh-Token` are one name. Close reasons and error texts are scanned for `name=value`,
/// `name: value` and `Bearer value` with the same names. Redaction keeps the shape: a value is
/// replaced, never removed (`Bearer [REDACTED]`, `session=[REDACTED]`).
public struct Redactor: Sendable {
    /// The text that replaces a secret.
    public static let placeholder = "[REDACTED]"

    /// Secret names, normalised by ``normalize(_:)``.
    public var secretNames: Set<String> { didSet { secretNamesByLength = Self.byLength(secretNames) } }
    /// Extra JSON paths redacted inside JSON payloads (`$.a.b`, `$.items[*].secret`, `$..name`).
    public var payloadPaths: [JSONPath]

    /// The default secret names (documented in the README's Redaction section).
    public static let defaultSecretNames: Set<String> = [
        "token", "access_token", "id_token", "refresh_token", "auth_token", "session_token", "csrf_token", "xsrf_token",
        "api_key", "apikey", "key", "jwt", "auth", "authorization", "proxy_authorization", "password", "passwd",
        "passphrase", "secret", "client_secret", "private_key", "signature", "sig", "session", "session_id", "cookie",
        "set_cookie", "credentials",
    ]

    /// ``secretNames`` as UTF-8, by length: what ``isSecret(utf8:)`` compares without allocating.
    private var secretNamesByLength: [[[UInt8]]]

    public init(secretNames: Set<String> = Redactor.defaultSecretNames, payloadPaths: [JSONPath] = []) {
        let normalized = Set(secretNames.map(Self.normalize))
        self.secretNames = normalized
        self.payloadPaths = payloadPaths
        self.secretNamesByLength = Self.byLength(normalized)
    }

    private static func byLength(_ names: Set<String>) -> [[[UInt8]]] {
        var byLength: [[[UInt8]]] = []
        for name in names {
            let bytes = Array(name.utf8)
            while byLength.count <= bytes.count { byLength.append([]) }
            byLength[bytes.count].append(bytes)
        }
        return byLength
    }

    /// ``isSecret(_:)`` for a name given as UTF-8 bytes (a JSON key as it is in the payload), without
    /// making a `String` for the common case of an ASCII name.
    public func isSecret(utf8 name: UnsafeBufferPointer<UInt8>) -> Bool {
        // Unicode lower-casing is the String path's business.
        if name.contains(where: { $0 >= 0x80 }) { return isSecret(String(decoding: name, as: UTF8.self)) }
        let longest = secretNamesByLength.count - 1
        guard longest > 0 else { return false }
        func lower(_ b: UInt8) -> UInt8 { b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b }
        var start = 0
        if name.count >= 2, lower(name[0]) == UInt8(ascii: "x"), name[1] == UInt8(ascii: "-") || name[1] == UInt8(ascii: "_") { start = 2 }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: longest + 1) { normalized -> Bool in
            var n = 0
            for b in name[start...] where b != UInt8(ascii: "-") && b != UInt8(ascii: "_") {
                guard n <= longest else { return false }
                normalized[n] = lower(b)
                n += 1
            }
            guard n <= longest else { return false }
            let candidate = UnsafeBufferPointer(rebasing: normalized[..<n])
            return secretNamesByLength[n].contains { $0.elementsEqual(candidate) }
        }
    }

    /// A name as the list compares it: lower case, without `-` and `_`, and without a leading `x-`.
    public static func normalize(_ name: some StringProtocol) -> String {
        var lower = name.lowercased()
        if lower.hasPrefix("x-") || lower.hasPrefix("x_") { lower.removeFirst(2) }
        lower.removeAll { $0 == "-" || $0 == "_" }
        return lower
    }

    /// Whether `name` (a query parameter, header or JSON key) holds a secret.
    public func isSecret(_ name: some StringProtocol) -> Bool { secretNames.contains(Self.normalize(name)) }

    /// Redacts the values of credential parameters in a query string, keeping names and order.
    public func redactQuery(_ query: String) -> String {
        query.split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
            guard let eq = part.firstIndex(of: "=") else { return String(part) }
            let name = part[..<eq]
            return isSecret(String(name).removingPercentEncodingLossy) ? "\(name)=\(Self.placeholder)" : String(part)
        }.joined(separator: "&")
    }

    /// Redacts one header's value, keeping its structure (auth scheme, cookie names, cookie attributes).
    public func redactHeader(_ field: HeaderField) -> HeaderField {
        let lower = field.name.lowercased()
        guard isSecret(lower) else { return field }
        switch lower {
        case "authorization", "proxy-authorization":
            let parts = field.value.split(separator: " ", maxSplits: 1)
            if parts.count == 2 { return HeaderField(field.name, "\(parts[0]) \(Self.placeholder)") }
            return HeaderField(field.name, Self.placeholder)
        case "cookie":
            let cookies = field.value.split(separator: ";").map { c -> String in
                let trimmed = c.drop(while: { $0 == " " })
                guard let eq = trimmed.firstIndex(of: "=") else { return String(trimmed) }
                return "\(trimmed[..<eq])=\(Self.placeholder)"
            }
            return HeaderField(field.name, cookies.joined(separator: "; "))
        case "set-cookie":
            var attributes = field.value.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
            if let first = attributes.first, let eq = first.firstIndex(of: "=") {
                attributes[0] = "\(first[..<eq])=\(Self.placeholder)"
            } else {
                attributes[0] = Self.placeholder
            }
            return HeaderField(field.name, attributes.joined(separator: ";"))
        default:
            return HeaderField(field.name, Self.placeholder)
        }
    }

    public func redactHeaders(_ fields: [HeaderField]) -> [HeaderField] { fields.map(redactHeader) }

    /// Redacts secret keys at any depth and the extra paths in a JSON value; returns `nil` when
    /// nothing matched.
    public func redactValue(_ value: Value) -> Value? {
        // A read-only pass first: most messages hold no secret, and checking is much cheaper than rewriting.
        let needsRewrite = containsSecretKey(value) || payloadPaths.contains { $0.matches(value) }
        guard needsRewrite else { return Optional<Value>.none }
        var v = redactingKeys(value)
        for path in payloadPaths { _ = path.replace(in: &v, with: .string(Self.placeholder)) }
        return v
    }

    private func containsSecretKey(_ value: Value) -> Bool {
        switch value {
        case .object(let o):
            for (k, child) in o where isSecret(k) || containsSecretKey(child) { return true }
            return false
        case .array(let a):
            return a.contains { containsSecretKey($0) }
        default:
            return false
        }
    }

    private func redactingKeys(_ value: Value) -> Value {
        switch value {
        case .object(var o):
            for (k, child) in o { o[k] = isSecret(k) ? .string(Self.placeholder) : redactingKeys(child) }
            return .object(o)
        case .array(let a):
            return .array(a.map(redactingKeys))
        default:
            return value
        }
    }

    /// Redacts secrets in free text (a close reason, an error): `name=value` and `name: value`
    /// for every secret name, `Bearer value`, and anything shaped like a JWT.
    public func redactText(_ text: String) -> String {
        if text.first == "{" || text.first == "[", let value = try? Value(json: text) {
            return redactValue(value)?.jsonString ?? text
        }
        var words = Self.tokenize(text)
        var i = 0
        while i < words.count {
            defer { i += 1 }
            guard case .word(let w) = words[i] else { continue }
            if w.hasPrefix("eyJ"), w.split(separator: ".", omittingEmptySubsequences: false).count == 3 {
                words[i] = .word(Self.placeholder)
                continue
            }
            // `name=value` inside one word, or `name:`/`name=`/`Bearer` then the next word.
            if let eq = w.firstIndex(where: { $0 == "=" || $0 == ":" }), eq != w.startIndex, w.index(after: eq) != w.endIndex,
                isSecret(w[..<eq])
            {
                words[i] = .word(String(w[...eq]) + Self.placeholder)
                continue
            }
            // `name: value`, `name= value` or `Bearer value`: the next word is the secret.
            let introduces = ((w.hasSuffix(":") || w.hasSuffix("=")) && isSecret(w.dropLast())) || w.lowercased() == "bearer"
            if introduces, i + 2 < words.count, case .separator(let gap) = words[i + 1], gap.allSatisfy({ $0 == " " }),
                case .word = words[i + 2]
            {
                words[i + 2] = .word(Self.placeholder)
                i += 2
            }
        }
        return words.map { switch $0 { case .word(let w): w; case .separator(let s): s } }.joined()
    }

    private enum Piece { case word(String), separator(String) }

    private static func tokenize(_ text: String) -> [Piece] {
        var out: [Piece] = []
        var current = ""
        var inWord = true
        for ch in text {
            let isSep = ch == " " || ch == "&" || ch == ";" || ch == "," || ch == "\"" || ch == "'" || ch == "\n" || ch == "\t"
            if isSep == inWord, !current.isEmpty {
                out.append(inWord ? .word(current) : .separator(current))
                current = ""
            }
            inWord = !isSep
            current.append(ch)
        }
        if !current.isEmpty { out.append(inWord ? .word(current) : .separator(current)) }
        return out
    }

    /// Redacts a text payload that holds JSON. Returns the new payload bytes, or `nil` if unchanged.
    public func redactPayload(opcode: FrameOpcode, _ payload: [UInt8]) -> (bytes: [UInt8], value: Value)? {
        guard opcode == .text, let value = RecordingConfiguration.jsonTextDecoder(.text, payload)
        else { return nil }
        return redactPayload(parsed: value)
    }

    /// Redacts an already parsed JSON text payload.
    func redactPayload(parsed value: Value) -> (bytes: [UInt8], value: Value)? {
        guard let redacted = redactValue(value) else { return nil }
        return (redacted.jsonBytes, redacted)
    }

    /// Redacts a free-form log line or URL: the query's secret parameters, and secrets in the text.
    public func redactLogText(_ text: String) -> String {
        if let q = text.firstIndex(of: "?") {
            let after = text[text.index(after: q)...]
            let end = after.firstIndex(where: { $0 == " " || $0 == "#" }) ?? after.endIndex
            return redactText(String(text[..<q])) + "?" + redactQuery(String(after[..<end])) + redactText(String(after[end...]))
        }
        return redactText(text)
    }
}

extension String {
    var removingPercentEncodingLossy: String {
        var out: [UInt8] = []
        var bytes = Array(utf8)[...]
        while let b = bytes.popFirst() {
            if b == UInt8(ascii: "%"), bytes.count >= 2,
                let v = UInt8(String(decoding: bytes.prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(v)
                bytes = bytes.dropFirst(2)
            } else if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
