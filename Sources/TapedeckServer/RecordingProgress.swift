/// How far a recording has got.
public struct RecordingProgress: Sendable, Hashable {
    /// Connections (and refused upgrades) recorded.
    public var connections: Int
    /// Frames handed to the writer.
    public var framesAccepted: Int
    /// Frames in committed batches (on disk).
    public var framesCommitted: Int

    /// A recording's progress: its connections, and the frames accepted and committed.
    public init(connections: Int, framesAccepted: Int, framesCommitted: Int) {
        self.connections = connections
        self.framesAccepted = framesAccepted
        self.framesCommitted = framesCommitted
    }
}
