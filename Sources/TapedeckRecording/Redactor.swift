public import TapedeckCore
import OrderedCollections

/// Replaces secrets with a placeholder before anything reaches disk or a log.
///
/// By default it redacts query parameters that carry credentials (`token`, `access_token`, `apiKey`,
/// `api_key`, `key`, ...), the `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie` and
/// API-key headers, and the same credential keys anywhere inside JSON payloads. Redaction keeps the
/// shape: a value is replaced, never removed (`Bearer [REDACTED]`, `session=[REDACTED]`).
public struct Redactor: Sendable {
    /// The text that replaces a secret.
    public static let placeholder = "[REDACTED]"

    /// Query parameter names (case-insensitive) whose values are redacted.
    public var queryParameters: Set<String>
    /// Header names (case-insensitive) whose values are redacted.
    public var headers: Set<String>
    /// JSON paths redacted inside JSON payloads (`$.a.b`, `$.items[*].secret`, `$..token`).
    public var payloadPaths: [JSONPath]

    public static let defaultQueryParameters: Set<String> = [
        "token", "access_token", "accesstoken", "id_token", "refresh_token", "apikey", "api_key", "api-key", "key",
        "jwt", "auth", "authorization", "password", "passwd", "secret", "client_secret", "signature", "sig",
        "session", "sessionid", "session_id",
    ]
    public static let defaultHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "x-auth-token",
        "x-access-token",
    ]
    /// Credential keys redacted anywhere in JSON payloads by default.
    public static let defaultPayloadPaths: [JSONPath] = [
        "$..token", "$..access_token", "$..accessToken", "$..apiKey", "$..api_key", "$..password", "$..secret",
        "$..jwt",
    ].compactMap { try? JSONPath(parsing: $0) }

    public init(
        queryParameters: Set<String> = Redactor.defaultQueryParameters, headers: Set<String> = Redactor.defaultHeaders,
        payloadPaths: [JSONPath] = Redactor.defaultPayloadPaths
    ) {
        self.queryParameters = Set(queryParameters.map { $0.lowercased() })
        self.headers = Set(headers.map { $0.lowercased() })
        self.payloadPaths = payloadPaths
    }

    /// Redacts the values of credential parameters in a query string, keeping names and order.
    public func redactQuery(_ query: String) -> String {
        query.split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
            guard let eq = part.firstIndex(of: "=") else { return String(part) }
            let name = part[..<eq]
            let decodedName = (String(name).removingPercentEncodingLossy).lowercased()
            return queryParameters.contains(decodedName) ? "\(name)=\(Self.placeholder)" : String(part)
        }.joined(separator: "&")
    }

    /// Redacts one header's value, keeping its structure (auth scheme, cookie names, cookie attributes).
    public func redactHeader(_ field: HeaderField) -> HeaderField {
        let lower = field.name.lowercased()
        guard headers.contains(lower) else { return field }
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

    /// Redacts the configured paths in a JSON value; returns `nil` when nothing matched.
    public func redactValue(_ value: Value) -> Value? {
        // A read-only pass first: most messages hold no secret, and checking is much cheaper than rewriting.
        let anyDepthKeys = Set(payloadPaths.compactMap(\.anyDepthKey))
        let needsRewrite =
            Self.containsKey(anyDepthKeys, in: value)
            || payloadPaths.contains { $0.anyDepthKey == nil && $0.matches(value) }
        guard needsRewrite else { return Optional<Value>.none }
        var v = value
        var changed = false
        for path in payloadPaths where path.replace(in: &v, with: .string(Self.placeholder)) {
            changed = true
        }
        // Not `changed ? v : nil`: Value is ExpressibleByNilLiteral, so that would return `.null`.
        guard changed else { return Optional<Value>.none }
        return v
    }

    private static func containsKey(_ keys: Set<String>, in value: Value) -> Bool {
        guard !keys.isEmpty else { return false }
        switch value {
        case .object(let o):
            for (k, child) in o where keys.contains(k) || containsKey(keys, in: child) { return true }
            return false
        case .array(let a):
            return a.contains { containsKey(keys, in: $0) }
        default:
            return false
        }
    }

    /// Redacts a text payload that holds JSON. Returns the new payload bytes, or `nil` if unchanged.
    public func redactPayload(opcode: FrameOpcode, _ payload: [UInt8]) -> (bytes: [UInt8], value: Value)? {
        guard !payloadPaths.isEmpty, opcode == .text, let value = RecordingConfiguration.jsonTextDecoder(.text, payload)
        else { return nil }
        return redactPayload(parsed: value)
    }

    /// Redacts an already parsed JSON text payload.
    func redactPayload(parsed value: Value) -> (bytes: [UInt8], value: Value)? {
        guard !payloadPaths.isEmpty, let redacted = redactValue(value) else { return nil }
        return (redacted.jsonBytes, redacted)
    }

    /// Redacts a free-form log line: every `name=value` of a credential parameter, and `Bearer xyz`.
    public func redactLogText(_ text: String) -> String {
        if let q = text.firstIndex(of: "?") {
            let after = text[text.index(after: q)...]
            let end = after.firstIndex(where: { $0 == " " || $0 == "#" }) ?? after.endIndex
            return String(text[...q]) + redactQuery(String(after[..<end])) + String(after[end...])
        }
        return text
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
