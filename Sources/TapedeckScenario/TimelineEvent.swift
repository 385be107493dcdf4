public import TapedeckCore

/// One generated event: when it happens, where it came from, and its value.
public struct TimelineEvent: Sendable, Hashable {
    /// Seconds of scenario time since the start.
    public var time: Double
    /// The stream that made it.
    public var stream: String
    /// The profile the event is for (the stream's, else the scenario's).
    public var profile: String?
    /// 1-based number of the event within its stream.
    public var sequence: Int
    /// The event itself.
    public var value: Value

    public init(time: Double, stream: String, profile: String?, sequence: Int, value: Value) {
        self.time = time
        self.stream = stream
        self.profile = profile
        self.sequence = sequence
        self.value = value
    }
}
