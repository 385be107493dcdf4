public import TapedeckRecording

/// Settings of a `ReplayServer`.
public struct ReplayServerConfiguration: Sendable {
    /// Address to listen on.
    public var host: String
    /// Port to listen on; 0 picks a free port.
    public var port: Int
    /// Mode, speed and mismatch policy of every connection.
    public var replay: ReplayConfiguration
    /// Serve this recorded connection to every client (on its path), instead of each in turn.
    public var pinned: ConnectionID?
    /// Start over when every recorded connection of a path has been served.
    public var loop: Bool
    /// Largest frame accepted from a client.
    public var maxFrameSize: Int

    public init(
        host: String = "127.0.0.1", port: Int = 8080, replay: ReplayConfiguration = ReplayConfiguration(),
        pinned: ConnectionID? = nil, loop: Bool = false, maxFrameSize: Int = 16 << 20
    ) {
        self.host = host
        self.port = port
        self.replay = replay
        self.pinned = pinned
        self.loop = loop
        self.maxFrameSize = maxFrameSize
    }
}
