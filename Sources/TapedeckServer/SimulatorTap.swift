/// Sees every connection and frame of the simulator at the socket edge, in both directions;
/// `tapedeck serve --record` writes them to a recording through one.
///
/// Calls for one connection come in order, from one task per tapped connection: the connection
/// runs on its event loop and does not wait for the tap, so a tap slower than the traffic (a slow
/// disk) holds the frames not yet tapped in memory.
public protocol SimulatorTap: Sendable {
    /// A WebSocket connection was accepted.
    func opened(_ connection: TappedConnection) async
    /// A frame was sent or received.
    func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async
    /// The connection ended; `code` and `reason` are the server's close, when it sent one.
    ///
    /// A close the client sent (first, or in answer to the server's) comes before this as a
    /// `.close` frame from the client.
    func closed(connection: Int, code: Int?, reason: String?) async
    /// An upgrade was refused (401, 403, 404, 429, ...).
    func refused(_ refusal: TappedRefusal) async
    /// A plain HTTP request to a profile's REST endpoint (its `activity` path) was answered.
    func http(_ request: TappedHTTPRequest) async
}

extension SimulatorTap {
    public func refused(_ refusal: TappedRefusal) async {}
    public func http(_ request: TappedHTTPRequest) async {}
}

/// A plain HTTP request to a profile's REST endpoint, as the tap sees it.
public struct TappedHTTPRequest: Sendable {
    public var path: String
    public var query: String?
    public var headers: [(name: String, value: String)]
    /// `address:port` when known.
    public var peer: String?
    /// The profile whose endpoint answered.
    public var profile: String?
    public var status: Int

    public init(path: String, query: String?, headers: [(name: String, value: String)], peer: String?, profile: String?, status: Int) {
        self.path = path
        self.query = query
        self.headers = headers
        self.peer = peer
        self.profile = profile
        self.status = status
    }
}

/// A refused upgrade as the tap sees it.
public struct TappedRefusal: Sendable {
    public var path: String
    public var query: String?
    public var headers: [(name: String, value: String)]
    public var peer: String
    /// The profile that refused it; `nil` when no endpoint matched the path.
    public var profile: String?
    public var status: Int
    public var body: [UInt8]
    public var responseHeaders: [(name: String, value: String)]
}

/// A connection as the tap sees it. `peer` is `address:port` (`127.0.0.1:53211`, `[::1]:53211`).
public struct TappedConnection: Sendable {
    public var id: Int
    public var path: String
    public var query: String?
    public var headers: [(name: String, value: String)]
    public var peer: String
    public var profile: String
    /// The subprotocol the server selected in the 101, if any.
    public var subprotocol: String? = nil
    /// The `Sec-WebSocket-Extensions` the server answered in the 101 (permessage-deflate), if any.
    public var extensions: String? = nil
}

/// A frame as the tap sees it. Client messages arrive whole (the server reassembles fragments).
public enum TappedFrame: Sendable {
    case text(String)
    case binary([UInt8])
    case close(code: Int, reason: String)
}
