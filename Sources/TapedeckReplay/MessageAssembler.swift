import TapedeckCore
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
