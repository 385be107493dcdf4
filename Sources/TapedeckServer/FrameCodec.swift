import TapedeckCore
import TapedeckProtocol

/// Converts between a profile's wire frames and values.
struct FrameCodec: Sendable {
    let spec: CodecSpec

    /// Decodes a text frame.
    func decode(text: String) -> InboundMessage {
        switch spec {
        case .json:
            do {
                return .message(try Value(json: text), raw: text)
            } catch {
                return .undecodable(error: error.description, raw: text)
            }
        case .protobuf:
            return .undecodable(error: "expected a binary protobuf frame, got text", raw: text)
        }
    }

    /// Decodes a binary frame.
    func decode(binary: [UInt8]) -> InboundMessage {
        let preview = binary.prefix(64).map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
        switch spec {
        case .json:
            return .undecodable(error: "expected a JSON text frame, got binary", raw: preview)
        case .protobuf:
            return .undecodable(error: "protobuf codec is not available in this build", raw: preview)
        }
    }

    /// Encodes a value for the wire.
    func encode(_ value: Value) -> OutboundItem {
        switch spec {
        case .json: .text(value.jsonString)
        case .protobuf: .text(value.jsonString)
        }
    }
}
