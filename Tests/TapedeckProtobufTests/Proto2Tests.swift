import Testing
import TapedeckCore
import TapedeckProtobuf

/// proto2 semantics on real data: descriptor sets decoded as `google.protobuf.FileDescriptorSet`
/// (descriptor.proto is proto2: explicit presence everywhere, unpacked repeated fields).
@Suite struct Proto2Tests {
    @Test func descriptorSetsRoundTripByteForByte() throws {
        let pool = try DescriptorPool(descriptorSetBytes: Fixtures.bytes("descriptor"))
        let codec = try ProtobufCodec(pool: pool, messageType: "google.protobuf.FileDescriptorSet")
        for name in ["workitems", "codec_test", "descriptor"] {
            let bytes = Fixtures.bytes(name)
            let value = try codec.decode(bytes)
            #expect(try codec.encode(value) == bytes, "\(name)")
        }
        let workitems = try codec.decode(Fixtures.bytes("workitems"))
        let file = try #require(workitems["file"]?[0])
        #expect(file["name"] == "workitems.proto")
        #expect(file["package"] == "workitems.v1")
        #expect(file["syntax"] == "proto3")
        let ws = try #require(file["messageType"]?[0])
        #expect(ws["name"] == "WebSocketMessage")
        // proto2 presence: `number: 1` and label LABEL_OPTIONAL (= 1, the default) are both output.
        #expect(ws["field"]?[0] == ["name": "message_id", "number": 1, "label": "LABEL_OPTIONAL", "type": "TYPE_STRING", "jsonName": "messageId"])
        #expect(ws["oneofDecl"] == [["name": "payload"]])
    }
}
