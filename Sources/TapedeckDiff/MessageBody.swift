public import TapedeckCore

/// A message's content as compared: a decoded value, or text or bytes that nothing could decode.
public enum MessageBody: Sendable, Hashable {
    /// A decoded message (JSON text, or binary through the profile's codec).
    case value(Value)
    /// A text message that is not JSON.
    case text(String)
    /// A binary message without a codec that reads it.
    case binary([UInt8])

    /// The body as a value for display: the value itself, the text, or `<binary N bytes: 0a1b2c…>`.
    public var displayValue: Value {
        switch self {
        case .value(let v): return v
        case .text(let t): return .string(t)
        case .binary(let b):
            let hex = b.prefix(24).map { byte in
                let s = String(byte, radix: 16)
                return s.count == 1 ? "0" + s : s
            }.joined()
            return .string("<binary \(b.count) bytes: \(hex)\(b.count > 24 ? "…" : "")>")
        }
    }
}
