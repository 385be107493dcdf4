import Foundation
public import TapedeckCore
public import TapedeckProtocol
import TapedeckProtobuf
public import TapedeckRecording

/// Turns a recorded message into the body that is compared.
///
/// In order: the frame's stored `decoded` value; JSON text parsed; a binary message through the profile's
/// protobuf codec; otherwise the text or the bytes themselves.
public struct MessageDecoder: Sendable {
    private let protobuf: ProtobufCodec?

    /// A decoder for JSON and raw frames only.
    public init() { protobuf = nil }

    /// A decoder that also reads binary frames with the profile's codec (loads a descriptor set once).
    public init(profile: Profile) throws(DiffError) {
        switch profile.codec {
        case .json, .raw:
            protobuf = nil
        case .protobuf(let descriptor, let message):
            do {
                protobuf = try ProtobufCodec(pool: DescriptorPool(contentsOf: descriptor), messageType: message)
            } catch {
                throw .unreadable("profile \(profile.name)'s descriptor set \(descriptor): \(error)")
            }
        }
    }

    /// The body of a message: its opcode, its whole payload (fragments joined) and any stored decoded value.
    public func body(opcode: FrameOpcode, payload: [UInt8], decoded: Value?) -> MessageBody {
        if let decoded { return .value(decoded) }
        switch opcode {
        case .binary:
            if let protobuf, let v = try? protobuf.decode(payload) { return .value(v) }
            return .binary(payload)
        case .text:
            if Self.looksLikeJSON(payload), let v = try? Value(jsonBytes: payload) { return .value(v) }
            return .text(String(decoding: payload, as: UTF8.self))
        default:
            return .binary(payload)
        }
    }

    /// The body of one recorded (unfragmented) frame.
    public func body(of frame: RecordedFrame) -> MessageBody {
        body(opcode: frame.opcode, payload: frame.payload, decoded: frame.decoded)
    }

    static func looksLikeJSON(_ bytes: [UInt8]) -> Bool {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) else { return false }
        return first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
    }
}
