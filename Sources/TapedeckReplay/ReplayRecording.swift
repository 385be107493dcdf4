public import TapedeckRecording

/// A recording loaded for replay: its metadata, connections and frames grouped by connection.
public struct ReplayRecording: Sendable {
    public var path: String
    public var recording: StoredRecording
    public var connections: [StoredConnection]
    public var frames: [ConnectionID: [RecordedFrame]]

    /// Reads the whole recording (sample recordings are small; frames are kept per connection).
    public init(path: String) throws {
        let reader = try RecordingReader(path: path)
        self.path = path
        self.recording = try reader.recording()
        self.connections = try reader.connections()
        var frames: [ConnectionID: [RecordedFrame]] = [:]
        try reader.forEachFrame { stored in frames[stored.frame.connection, default: []].append(stored.frame) }
        self.frames = frames
    }

    /// The connection arranged for the side that replays (`.serverToClient` for a server replay).
    public func script(for connection: StoredConnection, side: FrameDirection) -> ReplayScript {
        ReplayScript(connection: connection, frames: frames[connection.id] ?? [], side: side)
    }
}
