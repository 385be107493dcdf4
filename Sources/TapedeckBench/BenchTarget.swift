/// The WebSocket URL a benchmark connects to: `ws://host[:port][/path][?query]`.
public struct BenchTarget: Sendable, Hashable, CustomStringConvertible {
    /// Host name or address to connect to.
    public var host: String
    /// TCP port (80 when the URL names none).
    public var port: Int
    /// Path and query, as sent in the upgrade request (`/api/ws?token=...`).
    public var requestURI: String

    /// Parses a `ws://` URL (`wss://` is not supported: the load generator measures the server, not TLS).
    public init(parsing url: String) throws(BenchError) {
        guard url.hasPrefix("ws://") else {
            throw BenchError.invalidURL("\(url): expected ws://host[:port]/path (wss:// is not supported)")
        }
        let rest = url.dropFirst(5)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var uri = String(rest[authorityEnd...])
        if uri.isEmpty { uri = "/" } else if uri.hasPrefix("?") { uri = "/" + uri }
        var hostPart = Substring(authority)
        var port = 80
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw BenchError.invalidURL("\(url): missing ] in the host") }
            let after = hostPart[hostPart.index(after: close)...]
            let inner = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw BenchError.invalidURL("\(url): bad port") }
                port = p
            }
            hostPart = inner
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else {
                throw BenchError.invalidURL("\(url): bad port")
            }
            port = p
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw BenchError.invalidURL("\(url): no host") }
        self.host = String(hostPart)
        self.port = port
        self.requestURI = uri
    }

    /// The `Host` header value.
    var hostHeader: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { "ws://\(hostHeader)\(requestURI)" }
}
