import Foundation
public import TapedeckCore
import TapedeckProtobuf

/// Decodes recorded or live frames into values through profiles' codecs: JSON text frames, and binary
/// frames through the first protobuf profile given. Used to fill a recording's `decoded` column and to
/// match binary frames during replay.
public struct ProfileFrameDecoder: Sendable {
    private let protobuf: ProtobufCodec?

    /// A decoder for the profiles named in `names` (built-in names or profile files, comma-separated as a
    /// recording's metadata stores them). Profiles that cannot be loaded are skipped.
    public init(profiles names: String?) {
        let loader = ProfileLoader()
        var codec: ProtobufCodec?
        for name in (names ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            guard let profile = try? loader.load(name) else { continue }
            if let c = Self.protobufCodec(profile.codec) {
                codec = c
                break
            }
        }
        protobuf = codec
    }

    /// A decoder for one loaded profile.
    public init(profile: Profile) {
        protobuf = Self.protobufCodec(profile.codec)
    }

    /// Whether binary frames decode through a protobuf codec.
    public var decodesBinary: Bool { protobuf != nil }

    /// The decoded value of a whole message, or `nil` (not JSON text, or binary that does not decode).
    public func decode(binary: Bool, _ bytes: [UInt8]) -> Value? {
        if binary {
            guard let protobuf else { return nil }
            return try? protobuf.decode(bytes)
        }
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "[")
        else { return nil }
        return try? Value(jsonBytes: bytes)
    }

    /// Encodes a value as a binary frame through the protobuf codec (`nil` without one, or when it does not fit).
    public func encode(_ value: Value) -> [UInt8]? {
        try? protobuf?.encode(value)
    }

    private static func protobufCodec(_ spec: CodecSpec) -> ProtobufCodec? {
        guard case .protobuf(let descriptor, let message) = spec else { return nil }
        return try? ProtobufCodec(pool: DescriptorPool(contentsOf: descriptor), messageType: message)
    }
}
