import Foundation
public import TapedeckCore

/// What a benchmark run does: where it connects, how many connections and how fast they open, what each
/// sends first, how long it measures and what it reads from each message.
public struct BenchConfiguration: Sendable {
    /// The server to connect to.
    public var target: BenchTarget
    /// How many WebSocket connections to open.
    public var connections: Int
    /// Connections opened per second while ramping up; `nil` opens them all at once.
    public var rampPerSecond: Double?
    /// Extra request headers sent with every upgrade (`Authorization`, `Cookie`, ...).
    public var headers: [(name: String, value: String)]
    /// A subprotocol offered in `Sec-WebSocket-Protocol`.
    public var subprotocol: String?
    /// A message sent by each connection once it is open (a subscribe), as a template. It sees
    /// `conn.index` (0-based), `conn.id` (1-based), `connections` (the total) and `seq()` (= `conn.id`).
    /// A result that is a string is sent as it is, anything else as JSON; always a text frame.
    public var send: Template?
    /// How long to measure once every connection is open (or the ramp gave up on the rest).
    public var duration: Duration
    /// Where each message carries its send time; `nil` skips parsing messages altogether.
    public var latencyField: LatencyField?
    /// Event loop threads of the load generator.
    public var threads: Int
    /// A local process (the server) whose CPU and memory are sampled during the run.
    public var pid: Int32?
    /// Largest incoming frame accepted, in bytes.
    public var maxFrameSize: Int
    /// Time allowed for one connection's TCP connect and upgrade.
    public var connectTimeout: Duration
    /// At most this many connections are being opened at the same time.
    public var maxPendingConnects: Int
    /// Environment variables visible to `env()` in the send template.
    public var environment: [String: String]

    public init(
        target: BenchTarget,
        connections: Int = 1,
        rampPerSecond: Double? = nil,
        headers: [(name: String, value: String)] = [],
        subprotocol: String? = nil,
        send: Template? = nil,
        duration: Duration = .seconds(10),
        latencyField: LatencyField? = nil,
        threads: Int = 1,
        pid: Int32? = nil,
        maxFrameSize: Int = 1 << 24,
        connectTimeout: Duration = .seconds(10),
        maxPendingConnects: Int = 256,
        environment: [String: String] = [:]
    ) {
        self.target = target
        self.connections = connections
        self.rampPerSecond = rampPerSecond
        self.headers = headers
        self.subprotocol = subprotocol
        self.send = send
        self.duration = duration
        self.latencyField = latencyField
        self.threads = threads
        self.pid = pid
        self.maxFrameSize = maxFrameSize
        self.connectTimeout = connectTimeout
        self.maxPendingConnects = maxPendingConnects
        self.environment = environment
    }

    /// Reads a ramp: a rate (`500/s`, `30/m`), a duration over which all `connections` open (`2s`,
    /// `500ms`), or `0`/`none` for all at once (nil).
    public static func rampPerSecond(parsing text: String, connections: Int) throws(BenchError) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "0" || t == "none" || t == "0s" { return nil }
        if let slash = t.firstIndex(of: "/") {
            guard let count = Double(t[..<slash]), count > 0 else { throw BenchError.invalidOption("--ramp \(text): expected N/s, N/m or a duration") }
            let unit = String(t[t.index(after: slash)...])
            let per: Double? = switch unit {
            case "s": 1
            case "m": 60
            case "h": 3600
            default: DurationText.seconds(unit)
            }
            guard let per, per > 0 else { throw BenchError.invalidOption("--ramp \(text): expected N/s, N/m or a duration") }
            return count / per
        }
        guard let seconds = DurationText.seconds(t), seconds > 0 else {
            throw BenchError.invalidOption("--ramp \(text): expected a rate (500/s) or a duration (2s)")
        }
        return Double(max(connections, 1)) / seconds
    }

    /// The first message of connection `index`, or nil when none is configured.
    func firstMessage(forConnection index: Int) throws(ExpressionError) -> String? {
        guard let send else { return nil }
        var ctx = EvaluationContext(
            variables: ["conn": ["index": .int(index), "id": .int(index + 1)], "connections": .int(connections)],
            random: SeededRandom(seed: UInt64(index)),
            sequence: index + 1,
            now: RealClock().wallTime,
            environment: environment
        )
        let value = try send.evaluate(in: &ctx)
        if case .string(let s) = value { return s }
        return value.jsonString
    }
}
