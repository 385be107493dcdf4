public import TapedeckCore

/// Who sent a frame.
public enum FrameDirection: String, Sendable, Hashable, CaseIterable, Codable {
    /// Sent by the client (towards the server or upstream).
    case clientToServer = "c2s"
    /// Sent by the server or upstream (towards the client).
    case serverToClient = "s2c"
}

/// A WebSocket frame's opcode as stored in a recording.
public enum FrameOpcode: String, Sendable, Hashable, CaseIterable, Codable {
    case text, binary, continuation, ping, pong, close
}

/// When a frame was captured: nanoseconds since the recording started on a monotonic clock,
/// and the wall-clock time in nanoseconds since the Unix epoch.
public struct FrameTimestamp: Sendable, Hashable {
    public var offsetNanos: Int64
    public var wallNanos: Int64

    public init(offsetNanos: Int64, wallNanos: Int64) {
        self.offsetNanos = offsetNanos
        self.wallNanos = wallNanos
    }
}

/// One WebSocket frame, exactly as it crossed the wire (payload unmasked).
public struct RecordedFrame: Sendable, Hashable {
    public var connection: ConnectionID
    public var direction: FrameDirection
    public var opcode: FrameOpcode
    /// The FIN bit: false on every fragment of a fragmented message but the last.
    public var fin: Bool
    public var payload: [UInt8]
    /// Capture time; `nil` lets the writer stamp the frame when it is appended.
    public var timestamp: FrameTimestamp?
    /// A decoded value supplied by the caller; `nil` lets the writer's decoder hook try.
    public var decoded: Value?

    public init(
        connection: ConnectionID, direction: FrameDirection, opcode: FrameOpcode, fin: Bool = true,
        payload: [UInt8], timestamp: FrameTimestamp? = nil, decoded: Value? = Optional<Value>.none
    ) {
        self.connection = connection
        self.direction = direction
        self.opcode = opcode
        self.fin = fin
        self.payload = payload
        self.timestamp = timestamp
        self.decoded = decoded
    }
}
