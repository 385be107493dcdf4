import TapedeckCore
import TapedeckProtocol
import TapedeckProtobuf
import TapedeckRecording

/// One whole message (fragments joined) as recorded.
struct AssembledMessage: Sendable {
    var opcode: FrameOpcode
    var payload: [UInt8]
}

/// Joins fragmented messages: a text or binary frame without FIN, then continuations until FIN.
struct MessageAssembler: Sendable {
    private var pending: AssembledMessage?

    /// The whole message when `frame` completes one; control frames give `nil`.
    mutating func add(_ frame: RecordedFrame) -> AssembledMessage? {
        switch frame.opcode {
        case .text, .binary:
            let message = AssembledMessage(opcode: frame.opcode, payload: frame.payload)
            if frame.fin { pending = nil; return message }
            pending = message
            return nil
        case .continuation:
            guard var message = pending else { return nil }
            message.payload += frame.payload
            if frame.fin { pending = nil; return message }
            pending = message
            return nil
        default:
            return nil
        }
    }
}

/// Decodes recorded messages with a profile's codec: JSON text, or binary protobuf through the
/// profile's descriptor set (used when the recording has no `decoded` value).
struct MessageDecoder: Sendable {
    private let protobuf: ProtobufCodec?

    init(codec: CodecSpec) throws {
        switch codec {
        case .json: protobuf = nil
        case .protobuf(let descriptor, let message):
            protobuf = try ProtobufCodec(pool: DescriptorPool(contentsOf: descriptor), messageType: message)
        }
    }

    func decode(_ message: AssembledMessage) -> Value? {
        switch (message.opcode, protobuf) {
        case (.binary, let codec?): return try? codec.decode(message.payload)
        case (.text, _): return try? Value(json: String(decoding: message.payload, as: UTF8.self))
        default: return nil
        }
    }
}
