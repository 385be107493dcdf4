public import NIOWebSocket

extension FrameOpcode {
    /// The recorded opcode of a NIO frame; `nil` for a reserved opcode.
    public init?(_ opcode: WebSocketOpcode) {
        switch opcode {
        case .text: self = .text
        case .binary: self = .binary
        case .continuation: self = .continuation
        case .ping: self = .ping
        case .pong: self = .pong
        case .connectionClose: self = .close
        default: return nil
        }
    }
}
