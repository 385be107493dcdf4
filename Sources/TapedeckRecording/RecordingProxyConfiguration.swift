import Foundation

/// Settings of a `RecordingProxy`.
public struct RecordingProxyConfiguration: Sendable {
    /// The upstream WebSocket server, e.g. `ws://127.0.0.1:8080/api/ws` (plain `ws` only).
    public var upstream: UpstreamURL
    /// Address to listen on; port 0 picks a free port.
    public var listenHost: String
    public var listenPort: Int
    /// Stop recording after this many frames (the frame that would exceed it is not relayed).
    public var maxFrames: Int?
    /// Largest frame accepted from either side (payload bytes); a larger one closes that side with
    /// 1009 (message too big), the other with 1001, and is recorded as the connection's error.
    public var maxFrameSize: Int
    /// Largest message accepted from either side, all its fragments together; handled like a frame
    /// over `maxFrameSize`.
    public var maxMessageSize: Int

    /// How long a client has to send its whole upgrade request; a slower one (or an idle socket)
    /// is dropped.
    public var handshakeTimeout: Duration

    /// Origins a browser may upgrade from (`https://app.example.com`); when not empty, a request
    /// with another `Origin` is refused with 403. Requests without `Origin` (not from a browser)
    /// are always forwarded.
    public var allowedOrigins: [String] = []

    /// The default of both limits: 16 MiB.
    public static let defaultLimit = 16 << 20

    public init(
        upstream: UpstreamURL, listenHost: String = "127.0.0.1", listenPort: Int = 9000, maxFrames: Int? = nil,
        maxFrameSize: Int = RecordingProxyConfiguration.defaultLimit, maxMessageSize: Int = RecordingProxyConfiguration.defaultLimit,
        handshakeTimeout: Duration = .seconds(10)
    ) {
        self.handshakeTimeout = handshakeTimeout
        self.upstream = upstream
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.maxFrames = maxFrames
        self.maxFrameSize = maxFrameSize
        self.maxMessageSize = maxMessageSize
    }
}

/// A parsed `ws://host:port/path?query` upstream address.
public struct UpstreamURL: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Path used when a client connects to `/`; other client paths are forwarded as they are.
    public var path: String
    public var query: String?

    public init(parsing text: String) throws(RecordingError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased() else {
            throw .invalidArgument("--upstream \(text) is not a URL")
        }
        guard scheme == "ws" || scheme == "http" else {
            throw .invalidArgument("--upstream must be a ws:// URL (got \(scheme)://; TLS upstreams are not supported)")
        }
        guard let host = url.host, !host.isEmpty else { throw .invalidArgument("--upstream \(text) has no host") }
        self.host = host
        self.port = url.port ?? 80
        self.path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        self.query = url.percentEncodedQuery
    }

    /// The address as text, with credentials in the query redacted.
    public var description: String {
        "ws://\(host):\(port)\(path)" + (query.map { "?" + Redactor().redactQuery($0) } ?? "")
    }

    /// `host:port` for the Host header.
    var authority: String { port == 80 ? host : "\(host):\(port)" }

    /// The request target sent upstream for a client's target.
    func target(forClientURI uri: String) -> String {
        let (p, q) = Self.split(uri)
        if p == "/" || p.isEmpty {
            let query = q ?? self.query
            return path + (query.map { "?" + $0 } ?? "")
        }
        return uri
    }

    static func split(_ uri: String) -> (path: String, query: String?) {
        guard let i = uri.firstIndex(of: "?") else { return (uri, nil) }
        return (String(uri[..<i]), String(uri[uri.index(after: i)...]))
    }
}
