/// What a connection writes: an encoded message, or a close.
public enum OutboundItem: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
    case close(code: Int, reason: String)
}
