import TapedeckCore
import TapedeckRecording

/// One whole message of a connection (fragments joined), as the diff reads it.
struct RecordedMessage: Sendable {
    var direction: FrameDirection
    var opcode: FrameOpcode
    var payload: [UInt8]
    var decodedJSON: String?
    /// When its first frame was captured, in nanoseconds since the recording started.
    var offsetNanos: Int64

    /// The body to compare, decoding only now.
    func body(_ decoder: MessageDecoder) -> MessageBody {
        let decoded = decodedJSON.flatMap { try? Value(json: $0) }
        return decoder.body(opcode: opcode, payload: payload, decoded: decoded)
    }
}

/// Walks a connection's messages in order, page by page: fragments are joined into one message, close
/// frames are skipped (a connection's close is compared from its close codes).
struct MessageCursor {
    let reader: RecordingReader
    let connection: ConnectionID
    let direction: FrameDirection?
    let pageSize: Int
    private var page: [RawStoredFrame] = []
    private var index = 0
    private var lastSeq: Int64 = 0
    private var exhausted = false
    private var pending: [FrameDirection: RecordedMessage] = [:]

    init(reader: RecordingReader, connection: ConnectionID, direction: FrameDirection? = nil, pageSize: Int = 2000) {
        self.reader = reader
        self.connection = connection
        self.direction = direction
        self.pageSize = pageSize
    }

    private mutating func nextFrame() throws -> RawStoredFrame? {
        if index >= page.count {
            if exhausted { return nil }
            page = try reader.framePage(connection: connection, direction: direction, after: lastSeq, limit: pageSize)
            index = 0
            if page.count < pageSize { exhausted = true }
            guard let last = page.last else { return nil }
            lastSeq = last.seq
        }
        defer { index += 1 }
        return page[index]
    }

    /// The next whole message, or `nil` at the end. A message whose last fragment never came is returned
    /// as far as it got.
    mutating func next() throws -> RecordedMessage? {
        while let f = try nextFrame() {
            switch f.opcode {
            case .close:
                continue
            case .ping, .pong:
                return RecordedMessage(direction: f.direction, opcode: f.opcode, payload: f.payload, decodedJSON: nil, offsetNanos: f.offsetNanos)
            case .continuation:
                guard var held = pending[f.direction] else {
                    // A stray continuation: keep it as a message of its own rather than drop it.
                    return RecordedMessage(direction: f.direction, opcode: .continuation, payload: f.payload, decodedJSON: f.decodedJSON, offsetNanos: f.offsetNanos)
                }
                held.payload += f.payload
                if f.fin {
                    pending[f.direction] = nil
                    held.decodedJSON = f.decodedJSON
                    return held
                }
                pending[f.direction] = held
            case .text, .binary:
                let m = RecordedMessage(direction: f.direction, opcode: f.opcode, payload: f.payload, decodedJSON: f.decodedJSON, offsetNanos: f.offsetNanos)
                if f.fin { return m }
                pending[f.direction] = m
            }
        }
        if let (dir, held) = pending.first {
            pending[dir] = nil
            return held
        }
        return nil
    }
}
