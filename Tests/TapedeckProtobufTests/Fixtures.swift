import Foundation
import TapedeckCore
import TapedeckProtobuf

/// The descriptor sets under Fixtures/ and codecs over them.
enum Fixtures {
    static func path(_ name: String) -> String {
        Bundle.module.path(forResource: name, ofType: "pb", inDirectory: "Fixtures") ?? "Fixtures/\(name).pb"
    }

    static func bytes(_ name: String) -> [UInt8] {
        [UInt8](FileManager.default.contents(atPath: path(name)) ?? Data())
    }

    static let workitemsPool: DescriptorPool? = try? DescriptorPool(descriptorSetBytes: bytes("workitems"))
    static let testPool: DescriptorPool? = try? DescriptorPool(descriptorSetBytes: bytes("codec_test"))

    static func workitems(_ options: ProtobufCodec.Options = .init()) throws -> ProtobufCodec {
        try ProtobufCodec(
            pool: try DescriptorPool(descriptorSetBytes: bytes("workitems")), messageType: "workitems.v1.WebSocketMessage",
            options: options)
    }

    static func everything(_ options: ProtobufCodec.Options = .init()) throws -> ProtobufCodec {
        try ProtobufCodec(
            pool: try DescriptorPool(descriptorSetBytes: bytes("codec_test")), messageType: "tapedeck.test.Everything",
            options: options)
    }

    static func codec(_ type: String) throws -> ProtobufCodec {
        try ProtobufCodec(pool: try DescriptorPool(descriptorSetBytes: bytes("codec_test")), messageType: type)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

func unhex(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(text.utf8)[...]
    while chars.count >= 2 {
        out.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16) ?? 0)
        chars = chars.dropFirst(2)
    }
    return out
}

func json(_ text: String) throws -> Value { try Value(json: text) }
