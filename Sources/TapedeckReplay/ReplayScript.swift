public import TapedeckCore
public import TapedeckRecording

/// One frame of a recording as a replay sends it: exactly the recorded opcode, FIN bit and payload.
public struct ScriptFrame: Sendable, Hashable {
    public var opcode: FrameOpcode
    public var fin: Bool
    public var payload: [UInt8]

    public init(opcode: FrameOpcode, fin: Bool = true, payload: [UInt8]) {
        self.opcode = opcode
        self.fin = fin
        self.payload = payload
    }
}

/// A whole message (fragments joined) or a control frame, as one side sent it.
public struct ScriptMessage: Sendable, Hashable {
    /// `text`, `binary`, `ping`, `pong` or `close` (never `continuation`).
    public var opcode: FrameOpcode
    public var payload: [UInt8]
    /// The recorded decoded value (JSON, or a profile's codec), if any.
    public var decoded: Value?

    public init(opcode: FrameOpcode, payload: [UInt8], decoded: Value? = Optional<Value>.none) {
        self.opcode = opcode
        self.payload = payload
        self.decoded = decoded
    }

    /// A short readable form for logs: the JSON, the text, or a hex preview.
    public var preview: String {
        if let decoded { return Self.clip(decoded.jsonString) }
        switch opcode {
        case .text: return Self.clip(String(decoding: payload, as: UTF8.self))
        case .close:
            let (code, reason) = ConnectionClose.parseClosePayload(payload)
            return "close \(code.map(String.init) ?? "(no code)")" + (reason.map { $0.isEmpty ? "" : " \"\($0)\"" } ?? "")
        default:
            let hex = payload.prefix(32).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            return "\(opcode.rawValue) \(payload.count) bytes \(hex)\(payload.count > 32 ? "…" : "")"
        }
    }

    static func clip(_ s: String) -> String { s.count > 240 ? String(s.prefix(240)) + "…" : s }
}

/// One recorded connection, arranged for replay from one side's point of view.
///
/// Frames the replaying side sent are `own` steps, sent byte for byte; messages the other side sent
/// are `peer` steps, which the replay waits for in reactive mode.
public struct ReplayScript: Sendable {
    public enum Step: Sendable, Hashable {
        /// A frame this side sends, at `offsetNanos` of the recording.
        case own(ScriptFrame, offsetNanos: Int64)
        /// A message the other side sent, at `offsetNanos` of the recording (when its last fragment came).
        case peer(ScriptMessage, offsetNanos: Int64)
    }

    /// The recorded connection id.
    public var connection: ConnectionID
    public var info: ConnectionInfo
    public var close: ConnectionClose
    public var steps: [Step]
    /// When the connection opened, in recording nanoseconds: the origin of the timing.
    public var openedOffsetNanos: Int64

    /// Arranges `frames` (one connection's, in recording order) for the `side` that replays.
    public init(connection: StoredConnection, frames: [RecordedFrame], side: FrameDirection) {
        self.init(id: connection.id, info: connection.info, close: connection.close, frames: frames, side: side)
    }

    /// Arranges `frames` of a connection described by `info` for the `side` that replays.
    public init(id: ConnectionID, info: ConnectionInfo, close: ConnectionClose = ConnectionClose(), frames: [RecordedFrame], side: FrameDirection) {
        self.connection = id
        self.info = info
        self.close = close
        self.openedOffsetNanos = info.openedAt?.offsetNanos ?? frames.first?.timestamp?.offsetNanos ?? 0
        var steps: [Step] = []
        var fragments: (opcode: FrameOpcode, payload: [UInt8])?
        for frame in frames {
            let offset = frame.timestamp?.offsetNanos ?? 0
            if frame.direction == side {
                steps.append(.own(ScriptFrame(opcode: frame.opcode, fin: frame.fin, payload: frame.payload), offsetNanos: offset))
                continue
            }
            switch frame.opcode {
            case .ping, .pong, .close:
                steps.append(.peer(ScriptMessage(opcode: frame.opcode, payload: frame.payload), offsetNanos: offset))
            case .text, .binary:
                if frame.fin {
                    steps.append(.peer(ScriptMessage(opcode: frame.opcode, payload: frame.payload, decoded: frame.decoded), offsetNanos: offset))
                    fragments = nil
                } else {
                    fragments = (frame.opcode, frame.payload)
                }
            case .continuation:
                guard var held = fragments else { continue }
                held.payload += frame.payload
                if frame.fin {
                    steps.append(.peer(ScriptMessage(opcode: held.opcode, payload: held.payload, decoded: frame.decoded), offsetNanos: offset))
                    fragments = nil
                } else {
                    fragments = held
                }
            }
        }
        self.steps = steps
    }

    /// The number of frames this side sends.
    public var ownFrameCount: Int { steps.count(where: { if case .own = $0 { true } else { false } }) }
    /// The number of messages the other side sent.
    public var peerMessageCount: Int { steps.count(where: { if case .peer = $0 { true } else { false } }) }
}
