public import TapedeckCore
public import TapedeckScenario

/// What a profile's spec asks of its *clients* (`client:` in the profile): the rules
/// `tapedeck serve --conformance` and `tapedeck conformance` check an app against.
///
/// Every rule is optional and stated generally: patterns say which messages count (the same
/// patterns as a rule's `when:` and a test's `expect:`), templates read the message in `msg` (or the
/// server's heartbeat in `heartbeat`), durations are simulation time. Nothing here knows a
/// particular protocol.
public struct ClientRules: Sendable {
    /// `identity:` who a client is across its connections (a template over `conn`, `claims` and
    /// `request`); `nil`: the profile's `limits.identity`, else what its auth derives, else the peer address.
    public var identity: Template?
    /// `ping:` the client sends a keep-alive at a steady cadence.
    public var ping: PingRule?
    /// `heartbeat_ack:` the client answers each server heartbeat.
    public var heartbeatAck: HeartbeatAckRule?
    /// `reconnect:` after a drop the client waits per a backoff schedule.
    public var reconnect: ReconnectRule?
    /// `after_reconnect:` what a client does once reconnected.
    public var afterReconnect: AfterReconnectRule?
    /// `stop_on:` HTTP statuses of a refused upgrade (401) and close codes after which the client
    /// must not try again.
    public var stopOn: [Int] = []
    /// `max_message_size:` the largest message (bytes) a client may send.
    public var maxMessageSize: Int?
    /// `max_rate:` at most `count` messages per key in any `window`.
    public var maxRate: RateRule?
    /// `send_cookie:` the cookie every upgrade request must carry; a name with `{{ }}` is a template
    /// over `settings` (`"{{ settings.session_cookie ?? 'session' }}"`), as credential names are.
    public var sendCookie: String?
    /// Where the section is, for messages.
    public var location: SourceLocation

    public init(location: SourceLocation) { self.location = location }

    /// Whether the section states no rule at all.
    public var isEmpty: Bool {
        ping == nil && heartbeatAck == nil && reconnect == nil && afterReconnect == nil && stopOn.isEmpty && maxMessageSize == nil
            && maxRate == nil && sendCookie == nil
    }
}

/// `ping: {message: <pattern>, every: 30s, tolerance: 5s}`: on every connection the first
/// matching message comes within `every + tolerance` of the open, and each next one
/// `every ± tolerance` after the previous.
public struct PingRule: Sendable {
    public var message: Pattern
    public var every: Double
    public var tolerance: Double
}

/// `heartbeat_ack: {server: <pattern>, reply: <pattern template over heartbeat>, within: 10s}`:
/// each server message matching `server` is answered within `within` by a client message matching
/// `reply` evaluated with `heartbeat` (the server's message).
public struct HeartbeatAckRule: Sendable {
    public var server: Pattern
    public var reply: Template
    /// `reply` as written (for reports).
    public var replyText: String
    public var within: Double
}

/// `reconnect:` the delays between a drop (a close the server started, or a connection lost
/// without a close) and each attempt to connect again, until one is accepted.
public struct ReconnectRule: Sendable {
    /// How the n-th delay is computed.
    public enum Schedule: Sendable, Equatable {
        /// `delays: [1s, 2s, 4s]`: the n-th delay; past the list, the last one.
        case delays([Double])
        /// `initial: 1s, factor: 1.5`: `initial * factor^(n-1)`.
        case exponential(initial: Double, factor: Double)
    }

    public var schedule: Schedule
    /// `max:` no delay is longer.
    public var max: Double?
    /// `jitter:` each delay may vary by this fraction either way (0.2: ±20%).
    public var jitter: Double
    /// `attempts:` how many attempts after one drop at most; `nil`: no limit.
    public var attempts: Int?
    /// `tolerance:` timing slack either way (default 0.5 s), for the network and the client's timers.
    public var tolerance: Double

    /// The expected delay before attempt `n` (1-based).
    public func delay(attempt n: Int) -> Double {
        let raw: Double
        switch schedule {
        case .delays(let list): raw = list.isEmpty ? 0 : list[Swift.max(1, Swift.min(n, list.count)) - 1]
        case .exponential(let initial, let factor):
            var d = initial
            for _ in 1..<Swift.max(n, 1) {
                d *= factor
                if let max, d > max { break }
            }
            raw = d
        }
        return max.map { Swift.min(raw, $0) } ?? raw
    }

    /// The delays accepted before attempt `n`.
    public func window(attempt n: Int) -> ClosedRange<Double> {
        let d = delay(attempt: n)
        return Swift.max(0, d * (1 - jitter) - tolerance)...(d * (1 + jitter) + tolerance)
    }
}

/// `after_reconnect:` what must follow a successful reconnect, within `within` of it.
public struct AfterReconnectRule: Sendable {
    /// `resubscribe:` how client messages open and close subscriptions: after a reconnect, every
    /// subscription open when the connection dropped is opened again.
    public var resubscribe: SubscriptionReading?
    /// `http_before: {path: ...}`: an HTTP request to this path comes after the drop and before the
    /// client's first message on the new connection.
    public var httpBefore: String?
    /// `within:` (default 10 s).
    public var within: Double
}

/// How to read subscriptions from client messages: `subscribe: {message: <pattern>, key: <template over msg>}`
/// and optionally `unsubscribe:` the same way. A key that evaluates to a list names several subscriptions.
public struct SubscriptionReading: Sendable {
    public var subscribe: MessageKey
    public var unsubscribe: MessageKey?
}

/// Which client messages count (`message:`, a pattern) and what they name (`key:`, a template over `msg`).
public struct MessageKey: Sendable {
    public var message: Pattern
    public var key: Template
}

/// `max_rate: {per: <template over msg>, count: 1, window: 1s, message?: <pattern>}`.
public struct RateRule: Sendable {
    public var per: Template
    /// `per` as written (for reports).
    public var perText: String
    public var count: Int
    public var window: Double
    /// Only messages matching this pattern count; `nil`: all.
    public var message: Pattern?
}
