import Foundation
import TapedeckCore
import OrderedCollections
import TapedeckProtocol
import TapedeckProtobuf

/// Converts between a profile's wire frames and values: JSON text frames, or binary protobuf
/// frames through a descriptor set (proto3 JSON mapping).
struct FrameCodec: Sendable {
    let spec: CodecSpec
    private let protobuf: ProtobufCodec?

    /// Builds the codec; a protobuf codec loads its descriptor set once, here.
    init(spec: CodecSpec) throws {
        self.spec = spec
        switch spec {
        case .json, .raw:
            protobuf = nil
        case .protobuf(let descriptor, let message):
            protobuf = try ProtobufCodec(pool: DescriptorPool(contentsOf: descriptor), messageType: message)
        }
    }

    /// Decodes a text frame.
    func decode(text: String) -> InboundMessage {
        if spec == .raw { return .message(.string(text), raw: text) }
        guard protobuf == nil else {
            return .undecodable(error: "expected a binary protobuf frame, got text", raw: text)
        }
        do {
            return .message(try Value(json: text), raw: text)
        } catch {
            return .undecodable(error: error.description, raw: text)
        }
    }

    /// Decodes a binary frame.
    func decode(binary: [UInt8]) -> InboundMessage {
        let preview = binary.prefix(64).map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
        if spec == .raw { return .message(["binary": .string(Data(binary).base64EncodedString())], raw: preview) }
        guard let protobuf else {
            return .undecodable(error: "expected a JSON text frame, got binary", raw: preview)
        }
        do {
            return .message(try protobuf.decode(binary), raw: preview)
        } catch {
            return .undecodable(error: error.description, raw: preview)
        }
    }

    /// Encodes a value for the wire.
    func encode(_ value: Value) throws -> OutboundItem {
        if spec == .raw {
            if case .string(let text) = value { return .text(text) }
            if let object = value.objectValue, object.count == 1, let b64 = object["binary"]?.stringValue, let bytes = Data(base64Encoded: b64) {
                return .binary(Array(bytes))
            }
            return .text(value.jsonString)
        }
        guard let protobuf else { return .text(value.jsonString) }
        return .binary(try protobuf.encode(value))
    }
}
