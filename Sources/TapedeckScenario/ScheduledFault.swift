import OrderedCollections
import TapedeckCore

/// A fault a scenario schedules (`faults:`): at a scenario time, the same fault the control API's
/// `POST /_tapedeck/faults` injects, with the same fields (`kind`, `to`, `code`, `reason`,
/// `seconds`, `status`, `retry_after`, `percent`, `count`, `ms`, `jitter_ms`, `bytes_per_second`,
/// `direction`).
public struct ScheduledFault: Sendable, Hashable {
    /// The fault kinds.
    public static let kinds = [
        "close", "reset", "refuse_upgrades", "stall", "drop", "duplicate", "delay", "reorder", "corrupt", "bandwidth",
    ]
    /// The kinds that last `seconds` (a `corrupt` with a `count` may go without).
    public static let timedKinds: Set<String> = ["stall", "refuse_upgrades", "drop", "duplicate", "delay", "reorder", "corrupt", "bandwidth"]
    /// The kinds that apply to a share of events (`percent`).
    public static let shareKinds: Set<String> = ["drop", "duplicate", "reorder", "corrupt"]
    /// A stall's `direction`: what the server stops doing.
    public static let stallDirections = ["write", "read", "both"]
    /// The longest `ms` of a delay: a minute.
    public static let maxDelayMilliseconds = 60_000.0
    /// The range of a bandwidth cap's `bytes_per_second`.
    public static let bandwidthRange = 1...1_000_000_000

    /// Scenario seconds since the timeline's start (0 for a fault triggered by a message).
    public var at: Double
    /// The fault as the control API takes it (`seconds` in seconds).
    public var spec: Value
    public var location: SourceLocation
    /// `on_message`: instead of a time, the fault happens, to the connection that sent it, each time a
    /// client message matches this pattern (a JSON object whose fields the message must have, with
    /// equal values; nested objects match the same way).
    public var onMessage: Value?

    public init(at: Double, spec: Value, location: SourceLocation, onMessage: Value? = nil) {
        self.at = at
        self.spec = spec
        self.location = location
        self.onMessage = onMessage
    }

    /// Whether `message` (a decoded client message) triggers this fault.
    public func isTriggered(by message: Value) -> Bool {
        guard let onMessage else { return false }
        return Self.contains(message, onMessage)
    }

    /// Whether `value` has every field of `pattern` with an equal value (objects compared the same way).
    static func contains(_ value: Value, _ pattern: Value) -> Bool {
        guard let fields = pattern.objectValue else { return value == pattern }
        guard let object = value.objectValue else { return false }
        for (key, expected) in fields {
            guard let actual = object[key], contains(actual, expected) else { return false }
        }
        return true
    }
}
