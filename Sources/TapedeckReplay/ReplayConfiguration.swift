/// How a recorded connection is replayed: mode, speed, and what happens when the live peer deviates.
public struct ReplayConfiguration: Sendable {
    /// How the replay treats the other side's messages.
    public enum Mode: String, Sendable, CaseIterable {
        /// Where the recording has a message from the other side before one of ours, wait for a matching
        /// live message before going on.
        case reactive
        /// Follow recorded time only; the other side's messages are read and logged, not awaited.
        case timed
    }

    /// What a reactive replay does when a live message does not match the recorded one.
    public enum MismatchPolicy: String, Sendable, CaseIterable {
        /// Log a diagnostic and keep waiting for a matching message.
        case wait
        /// Log a diagnostic and close the connection with 1008 (policy violation).
        case close
    }

    public var mode: Mode
    public var speed: ReplaySpeed
    public var onMismatch: MismatchPolicy
    /// How long a reactive replay waits for an awaited message; `nil` waits as long as the peer stays.
    public var peerTimeout: Duration?
    /// After this side's close frame, how long to wait for the other side's close.
    public var closeTimeout: Duration

    public init(
        mode: Mode = .reactive, speed: ReplaySpeed = .factor(1), onMismatch: MismatchPolicy = .wait,
        peerTimeout: Duration? = nil, closeTimeout: Duration = .seconds(5)
    ) {
        self.mode = mode
        self.speed = speed
        self.onMismatch = onMismatch
        self.peerTimeout = peerTimeout
        self.closeTimeout = closeTimeout
    }
}
