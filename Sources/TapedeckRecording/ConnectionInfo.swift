/// Identifies one WebSocket connection inside a recording.
public struct ConnectionID: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int64
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}

/// One HTTP header line, kept in order (names may repeat).
public struct HeaderField: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// What is known about a connection when it starts: the upgrade request and the server's answer.
///
/// The writer redacts query tokens, credentials and cookies before anything is stored.
public struct ConnectionInfo: Sendable, Hashable {
    /// Request path without the query, e.g. `/api/ws`.
    public var path: String
    /// The raw query string without `?` (redacted by the writer), or `nil`.
    public var query: String?
    public var requestHeaders: [HeaderField]
    /// The negotiated subprotocol, if any.
    public var subprotocol: String?
    /// The negotiated extensions (`Sec-WebSocket-Extensions` of the answer), if any.
    public var extensions: String?
    /// HTTP status the server answered the upgrade with: 101, or e.g. 401. `nil` if no answer.
    public var upgradeStatus: Int?
    public var responseHeaders: [HeaderField]
    /// Body of a refused upgrade (empty for 101).
    public var responseBody: [UInt8]
    /// The client's address, e.g. `127.0.0.1:53211`.
    public var peer: String?
    /// The upstream URL or scenario endpoint this connection talked to.
    public var upstream: String?
    /// Why no upgrade happened (e.g. the upstream was unreachable), if so.
    public var error: String?
    /// When the connection opened; `nil` lets the writer stamp it.
    public var openedAt: FrameTimestamp?

    public init(
        path: String, query: String? = nil, requestHeaders: [HeaderField] = [], subprotocol: String? = nil,
        extensions: String? = nil, upgradeStatus: Int? = 101, responseHeaders: [HeaderField] = [],
        responseBody: [UInt8] = [], peer: String? = nil, upstream: String? = nil, error: String? = nil,
        openedAt: FrameTimestamp? = nil
    ) {
        self.path = path
        self.query = query
        self.requestHeaders = requestHeaders
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.upgradeStatus = upgradeStatus
        self.responseHeaders = responseHeaders
        self.responseBody = responseBody
        self.peer = peer
        self.upstream = upstream
        self.error = error
        self.openedAt = openedAt
    }
}

/// How a connection ended: the close code and reason each side sent (if it sent a close frame).
public struct ConnectionClose: Sendable, Hashable {
    public var clientCode: Int?
    public var clientReason: String?
    public var serverCode: Int?
    public var serverReason: String?
    /// When the connection closed; `nil` lets the writer stamp it.
    public var closedAt: FrameTimestamp?
    /// Why the recorder ended the connection itself (a protocol fault or a limit), stored in the
    /// connection's `error` column.
    public var error: String?

    public init(
        clientCode: Int? = nil, clientReason: String? = nil, serverCode: Int? = nil, serverReason: String? = nil,
        closedAt: FrameTimestamp? = nil
    ) {
        self.clientCode = clientCode
        self.clientReason = clientReason
        self.serverCode = serverCode
        self.serverReason = serverReason
        self.closedAt = closedAt
    }

    /// Parses a close frame's payload: a 2-byte big-endian code then a UTF-8 reason.
    public static func parseClosePayload(_ payload: [UInt8]) -> (code: Int?, reason: String?) {
        guard payload.count >= 2 else { return (nil, nil) }
        let code = Int(payload[0]) << 8 | Int(payload[1])
        let reason = String(decoding: payload[2...], as: UTF8.self)
        return (code, reason)
    }
}
