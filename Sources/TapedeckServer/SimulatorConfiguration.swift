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
            + "timeline: \(timeline), jwtSecret: <redacted>, queueCapacity: \(queueCapacity), maxMessageSize: \(maxMessageSize))"
    }

    public var debugDescription: String { description }
}
