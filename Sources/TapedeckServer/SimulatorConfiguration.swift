import TapedeckScenario

/// Settings of a simulator server.
public struct SimulatorConfiguration: Sendable {
    /// How fast scenario time runs.
    public enum Speed: Sendable, Equatable, CustomStringConvertible {
        /// `factor` scenario seconds per real second (0.1 to 1000).
        case factor(Double)
        /// As fast as clients can take it: no waiting between events, but no event is dropped either.
        case max

        /// Parses `4`, `0.5`, `max`.
        public init?(_ text: String) {
            if text == "max" { self = .max; return }
            guard let d = Double(text), d >= 0.1, d <= 1000 else { return nil }
            self = .factor(d)
        }

        public var description: String {
            switch self {
            case .factor(let f): f.rounded() == f ? "\(Int(f))x" : "\(f)x"
            case .max: "max"
            }
        }
    }

    /// Which timeline a connection sees.
    public enum TimelineMode: String, Sendable, CaseIterable {
        /// One world: every connection sees the same events at the same time.
        case shared
        /// Each connection gets its own timeline, started by the start rule for that connection alone.
        case perConnection = "per-connection"
    }

    /// When a timeline starts (see ``TapedeckScenario/StartPolicy``).
    public typealias StartPolicy = TapedeckScenario.StartPolicy

    public var host: String
    /// 0 picks a free port.
    public var port: Int
    /// `nil` uses each scenario's own `speed` (default 1).
    public var speed: Speed?
    /// `nil` uses each scenario's own `loop`.
    public var loop: Bool?
    public var timeline: TimelineMode
    /// When timelines start; `nil` uses the scenario's `start:`, else `.firstMessage`.
    public var start: StartPolicy?
    /// HS256 secret for JWTs (at least 32 bytes).
    public var jwtSecret: String
    /// Capacity of each connection's outbound queue, in messages.
    public var queueCapacity: Int
    /// Largest client message accepted, in bytes.
    public var maxMessageSize: Int
    /// With `firstMessage`, seconds after the first connection at which the timeline starts
    /// anyway, for clients that never send a message.
    public var startGrace: Double
    /// At `--speed max`, how long the timeline waits for a connection whose queue is full before
    /// going on without it: a client that stops reading no longer stops the others.
    public var maxSpeedStall: Duration = .seconds(1)

    /// How long a client has to send its whole first request (the upgrade); a slower one (a
    /// slowloris) or a socket that sends nothing is dropped. Also how long a plain HTTP connection
    /// may stay idle between requests.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Origins a browser may upgrade from; when not empty, an upgrade with another `Origin` gets 403.
    public var allowedOrigins: [String] = []
    /// WebSocket connections open at once, all profiles together; beyond it an upgrade gets 503.
    /// `nil`: no limit.
    public var maxConnections: Int? = SimulatorConfiguration.defaultMaxConnections
    /// WebSocket connections open at once per identity (a profile's `limits.identity`, else what
    /// its `auth.identity` derives, else the client's address); beyond it an upgrade gets 429.
    /// `nil`: no limit.
    public var maxConnectionsPerIdentity: Int?
    /// Replies, pongs and closes waiting for a client that does not read (they are never dropped):
    /// beyond this many frames, or `replyQueueBytes` bytes, the connection is closed with 1008.
    public var replyQueueCapacity: Int = 1000
    /// Bytes of replies and pongs waiting for a client that does not read; one frame is always
    /// accepted, however large.
    public var replyQueueBytes: Int = 16 << 20
    /// How long the server waits for the client's close after sending its own (or for a close it
    /// cannot even write to a client that does not read) before it drops the TCP connection.
    public var closeTimeout: Duration = .seconds(5)
    /// JWTs must carry this `iss` when set.
    public var jwtIssuer: String?
    /// JWTs must name this audience in `aud` (a string, or a list that contains it) when set.
    public var jwtAudience: String?
    /// Clock skew allowed on a JWT's `exp`, `nbf` and `iat`, in seconds (0 to 60).
    public var jwtLeeway: Double = 0

    /// Whether the control API (`/_tapedeck/`) is served.
    public var controlEnabled: Bool = true
    /// When set, the control API and `/metrics` need `Authorization: Bearer <token>`.
    public var controlToken: String?
    /// The version the control API reports.
    public var version: String = "dev"
    /// A directory whose recordings the dashboard offers (`GET /_tapedeck/recordings`); `nil`: none.
    public var recordingsDirectory: String?
    /// The recording this server is writing (`serve --record`), offered by the dashboard too.
    public var liveRecording: String?

    /// The default of `maxConnections`: 16,384 (about 230 MiB of idle connections).
    public static let defaultMaxConnections = 16_384

    public init(
        host: String = "127.0.0.1", port: Int = 8080, speed: Speed? = nil, loop: Bool? = nil,
        timeline: TimelineMode = .shared, start: StartPolicy? = nil,
        jwtSecret: String = "tapedeck-development-secret-do-not-use-in-production", queueCapacity: Int = 1000,
        maxMessageSize: Int = 1 << 20, startGrace: Double = 2
    ) {
        self.startGrace = startGrace
        self.host = host
        self.port = port
        self.speed = speed
        self.loop = loop
        self.timeline = timeline
        self.start = start
        self.jwtSecret = jwtSecret
        self.queueCapacity = queueCapacity
        self.maxMessageSize = maxMessageSize
    }
}

extension SimulatorConfiguration: CustomStringConvertible, CustomDebugStringConvertible {
    /// Every setting but the JWT secret, which no log may print.
    public var description: String {
        "SimulatorConfiguration(host: \(host), port: \(port), speed: \(speed.map { "\($0)" } ?? "scenario"), "
            + "timeline: \(timeline), jwtSecret: <redacted>, queueCapacity: \(queueCapacity), maxMessageSize: \(maxMessageSize), "
            + "handshakeTimeout: \(handshakeTimeout), allowedOrigins: \(allowedOrigins), maxConnections: \(maxConnections.map(String.init) ?? "none"), "
            + "maxConnectionsPerIdentity: \(maxConnectionsPerIdentity.map(String.init) ?? "none"), replyQueueCapacity: \(replyQueueCapacity), "
            + "replyQueueBytes: \(replyQueueBytes), closeTimeout: \(closeTimeout), jwtIssuer: \(jwtIssuer ?? "any"), jwtAudience: \(jwtAudience ?? "any"), "
            + "jwtLeeway: \(jwtLeeway), control: \(controlEnabled), controlToken: \(controlToken == nil ? "none" : "<redacted>"))"
    }

    public var debugDescription: String { description }
}
