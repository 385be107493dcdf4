public import TapedeckRecording

/// Values for secrets that were redacted at record time (`[REDACTED]` in stored headers, query
/// parameters and cookies), supplied with `--header`, `--query`, `--cookie` or environment variables.
///
/// Environment variables: `TAPEDECK_HEADER_<NAME>`, `TAPEDECK_QUERY_<NAME>` and `TAPEDECK_COOKIE_<NAME>`,
/// with the name upper-cased and `-` written as `_` (e.g. `TAPEDECK_HEADER_AUTHORIZATION`,
/// `TAPEDECK_QUERY_TOKEN`, `TAPEDECK_COOKIE_SESSION`). Options win over the environment.
public struct ReplaySecrets: Sendable {
    /// Header values by lower-cased name: they replace the recorded header of that name.
    public var headers: [String: String] = [:]
    /// Query parameter values by name: they replace the recorded parameter's value.
    public var query: [String: String] = [:]
    /// Cookie values by name: they replace the value of that cookie in the `Cookie` header.
    public var cookies: [String: String] = [:]
    private var environment: [String: String] = [:]

    /// No secrets at all.
    public static var none: ReplaySecrets { ReplaySecrets(nothing: ()) }

    private init(nothing: Void) {}

    /// - Parameters:
    ///   - headers: `Name: value` texts.
    ///   - query: `name=value` texts.
    ///   - cookies: `name=value` texts.
    public init(headers: [String] = [], query: [String] = [], cookies: [String] = [], environment: [String: String] = [:])
        throws(ReplayError)
    {
        for h in headers {
            guard let colon = h.firstIndex(of: ":") else {
                throw .invalidArgument("--header \(h): expected 'Name: value'")
            }
            self.headers[h[..<colon].trimmed.lowercased()] = String(h[h.index(after: colon)...]).trimmed
        }
        for q in query {
            guard let eq = q.firstIndex(of: "=") else { throw .invalidArgument("--query \(q): expected 'name=value'") }
            self.query[String(q[..<eq])] = String(q[q.index(after: eq)...])
        }
        for c in cookies {
            guard let eq = c.firstIndex(of: "=") else { throw .invalidArgument("--cookie \(c): expected 'name=value'") }
            self.cookies[String(c[..<eq]).trimmed] = String(c[c.index(after: eq)...])
        }
        self.environment = environment.filter { $0.key.hasPrefix("TAPEDECK_") }
    }

    static func envName(_ kind: String, _ name: String) -> String {
        "TAPEDECK_\(kind)_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
    }

    func header(_ name: String) -> String? { headers[name.lowercased()] ?? environment[Self.envName("HEADER", name)] }
    func queryValue(_ name: String) -> String? { query[name] ?? environment[Self.envName("QUERY", name)] }
    func cookie(_ name: String) -> String? { cookies[name] ?? environment[Self.envName("COOKIE", name)] }

    /// The request target and headers to send for a recorded connection, with secrets filled in.
    ///
    /// - Throws: `ReplayError.missingSecret` naming what to supply when a `[REDACTED]` value remains.
    public func request(for info: ConnectionInfo, connection: ConnectionID) throws(ReplayError) -> (uri: String, headers: [HeaderField]) {
        let marker = Redactor.placeholder
        var uri = info.path
        if let q = info.query {
            var parts: [String] = []
            for part in q.split(separator: "&", omittingEmptySubsequences: false) {
                guard let eq = part.firstIndex(of: "=") else {
                    parts.append(String(part))
                    continue
                }
                let name = String(part[..<eq])
                if let value = queryValue(name) {
                    parts.append("\(name)=\(Self.percentEncode(value))")
                } else if part[part.index(after: eq)...].contains(marker) {
                    throw .missingSecret(
                        "connection \(connection): query parameter '\(name)' was redacted when recording; supply it with --query '\(name)=VALUE' or \(Self.envName("QUERY", name))")
                } else {
                    parts.append(String(part))
                }
            }
            uri += "?" + parts.joined(separator: "&")
        }
        var headers: [HeaderField] = []
        var supplied = Set<String>()
        for field in info.requestHeaders {
            let lower = field.name.lowercased()
            if let value = header(field.name) {
                if supplied.insert(lower).inserted { headers.append(HeaderField(field.name, value)) }
                continue
            }
            if lower == "cookie" {
                var cookies: [String] = []
                for c in field.value.split(separator: ";") {
                    let trimmed = c.trimmed
                    guard let eq = trimmed.firstIndex(of: "=") else {
                        cookies.append(trimmed)
                        continue
                    }
                    let name = String(trimmed[..<eq])
                    if let value = cookie(name) {
                        cookies.append("\(name)=\(value)")
                    } else if trimmed[trimmed.index(after: eq)...].contains(marker) {
                        throw .missingSecret(
                            "connection \(connection): cookie '\(name)' was redacted when recording; supply it with --cookie '\(name)=VALUE' or \(Self.envName("COOKIE", name))")
                    } else {
                        cookies.append(trimmed)
                    }
                }
                headers.append(HeaderField(field.name, cookies.joined(separator: "; ")))
                continue
            }
            if field.value.contains(marker) {
                throw .missingSecret(
                    "connection \(connection): header '\(field.name)' was redacted when recording (\(field.value)); supply it with --header '\(field.name): VALUE' or \(Self.envName("HEADER", field.name))")
            }
            headers.append(field)
        }
        // Headers supplied for a connection that did not record them are added (e.g. a new credential).
        for (name, value) in extraHeaders(notIn: Set(info.requestHeaders.map { $0.name.lowercased() })) {
            headers.append(HeaderField(name, value))
        }
        return (uri, headers)
    }

    private func extraHeaders(notIn recorded: Set<String>) -> [(String, String)] {
        self.headers.filter { !recorded.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func percentEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            let c = Character(UnicodeScalar(b))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) { out.append(c) } else { out += String(format2: b) }
        }
        return out
    }
}

extension String {
    init(format2 byte: UInt8) {
        let hex = Array("0123456789ABCDEF")
        self = "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xF)])
    }
}

extension StringProtocol {
    var trimmed: String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s.removeFirst() }
        while s.last == " " || s.last == "\t" { s.removeLast() }
        return String(s)
    }
}
