public import TapedeckRecording

/// Settings of a `ReplayClient`.
public struct ReplayClientConfiguration: Sendable {
    /// The live server, e.g. `ws://127.0.0.1:8080` (its path is not used: each connection uses its recorded path).
    public var target: UpstreamURL
    /// Mode and speed; `peerTimeout` bounds the wait for each awaited server message.
    public var replay: ReplayConfiguration
    /// Values for redacted secrets.
    public var secrets: ReplaySecrets
    /// Largest frame accepted from the server.
    public var maxFrameSize: Int

    public init(
        target: UpstreamURL, replay: ReplayConfiguration = ReplayConfiguration(peerTimeout: .seconds(10)),
        secrets: ReplaySecrets = .none, maxFrameSize: Int = 16 << 20
    ) {
        self.target = target
        self.replay = replay
        self.secrets = secrets
        self.maxFrameSize = maxFrameSize
    }
}
