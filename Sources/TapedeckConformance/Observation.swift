public import TapedeckCore

/// One thing a conformance checker learns about a client, at a simulation time.
///
/// Observations come from wherever the frames are: the live simulator's tap (`serve --conformance`),
/// a recording (`tapedeck conformance`), or a test that makes them up with chosen times. The
/// checker never reads a clock: `time` is its only notion of now.
public struct Observation: Sendable {
    /// Simulation seconds (any origin, the same for every observation of one checker).
    public var time: Double
    public var event: Event

    public init(time: Double, _ event: Event) {
        self.time = time
        self.event = event
    }

    /// What happened.
    public enum Event: Sendable {
        /// An upgrade request was answered: `101` (then `connection` is set) or a refusal.
        case upgrade(ObservedUpgrade)
        /// The client sent a message of `size` bytes; `value` is it decoded, when the codec could.
        case clientMessage(connection: Int, size: Int, value: Value?)
        /// The server sent a message.
        case serverMessage(connection: Int, value: Value?)
        /// The connection ended.
        case closed(connection: Int, by: CloseInitiator, code: Int?)
        /// The client made a plain HTTP request (a REST fetch).
        case http(client: String, path: String, status: Int)
        /// Only time passed: deadlines that fall before `time` are judged.
        case tick
    }
}

/// Who ended a connection.
public enum CloseInitiator: String, Sendable, Hashable {
    /// The client sent a close frame first: it meant to leave.
    case client
    /// The server sent a close frame first: the client should reconnect (unless the code is in `stop_on`).
    case server
    /// The connection ended without any close frame (a network drop, a killed process).
    case lost
}

/// An upgrade request and its answer.
public struct ObservedUpgrade: Sendable {
    /// The connection's number when the upgrade was accepted; `nil` for a refusal.
    public var connection: Int?
    /// Who the client is (the identity the profile derives, else the peer address).
    public var client: String
    public var path: String
    public var query: String?
    public var headers: [(name: String, value: String)]
    /// 101, or the refusal's HTTP status.
    public var status: Int

    public init(connection: Int?, client: String, path: String, query: String? = nil, headers: [(name: String, value: String)] = [], status: Int) {
        self.connection = connection
        self.client = client
        self.path = path
        self.query = query
        self.headers = headers
        self.status = status
    }

    /// The names of the cookies the request carried.
    public var cookieNames: [String] {
        headers.filter { $0.name.lowercased() == "cookie" }.flatMap { header in
            header.value.split(separator: ";").compactMap { part in
                let name = part.split(separator: "=", maxSplits: 1).first.map { $0.trimming(" ") }
                return name?.isEmpty == false ? name : nil
            }
        }
    }
}
