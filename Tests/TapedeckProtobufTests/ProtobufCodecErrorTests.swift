import Testing
import TapedeckCore
import TapedeckProtobuf

/// Every error names where the problem is.
@Suite struct ProtobufCodecErrorTests {
    func encodeError(_ codec: ProtobufCodec, _ text: String) throws -> String? {
        let value = try json(text)
        do {
            _ = try codec.encode(value)
            return nil
        } catch {
            return error.description
        }
    }

    func decodeError(_ codec: ProtobufCodec, _ hexText: String) -> ProtobufError? {
        do {
            _ = try codec.decode(unhex(hexText))
            return nil
        } catch {
            return error
        }
    }

    static let workitemsValueErrors: [(json: String, message: String)] = [
        (#"{"workItemCreated":{"workItem":{"status":3}}}"#, "workItemCreated.workItem.status: expected string, found integer 3"),
        (#"{"workItemCreated":{"workItem":{"estimate":"x"}}}"#, #"workItemCreated.workItem.estimate: expected integer, found string "x""#),
        (#"{"work_item_created":{"work_item":{"colour":"red"}}}"#, "work_item_created.work_item.colour: unknown field"),
        (#"{"workItemCreated":{"workItem":{"position":2147483648}}}"#, "workItemCreated.workItem.position: 2147483648 for int32 is out of range"),
        (#"{"workItemCreated":{"workItem":{"itemType":"WORK_ITEM_TYPE_SPIKE"}}}"#,
         #"workItemCreated.workItem.itemType: unknown value "WORK_ITEM_TYPE_SPIKE" for enum workitems.v1.WorkItemType"#),
        (#"{"workItemCreated":{"workItem":{"itemType":true}}}"#, "workItemCreated.workItem.itemType: expected enum name or number, found bool true"),
        (#"{"workItemUpdated":{"changes":[{},{"fieldName":[]}]}}"#, "workItemUpdated.changes[1].fieldName: expected string, found list"),
        (#"{"workItemUpdated":{"changes":{}}}"#, "workItemUpdated.changes: expected list, found object"),
        (#"{"subscribe":{"projectIds":["a",null]}}"#, "subscribe.projectIds[1]: null is not allowed here"),
        (#"{"ping":{},"pong":{}}"#, #"pong: only one field of oneof "payload" may be set, but "ping" is set too"#),
        (#"{"ping":"now"}"#, #"ping: expected object, found string "now""#),
        (#"{"userTyping":{"isTyping":"yes"}}"#, #"userTyping.isTyping: expected bool, found string "yes""#),
        (#"{"messageId":"a","message_id":"b"}"#, #"field given twice, as "messageId" and "message_id""#),
        (#"{"timestamp":1.5}"#, "timestamp: expected integer, found number 1.5"),
        (#"{"timestamp":"9223372036854775808"}"#, "timestamp: 9223372036854775808 for int64 is out of range"),
        (#"{"$unknownFields":"!!"}"#, "$unknownFields: invalid base64"),
        (#"{"$unknownFields":"CA=="}"#, "$unknownFields: not a sequence of protobuf fields (truncated varint at byte 1)"),
    ]

    @Test(arguments: workitemsValueErrors)
    func valueErrorsNameThePath(_ c: (json: String, message: String)) throws {
        #expect(try encodeError(try Fixtures.workitems(), c.json) == c.message)
    }

    static let everythingValueErrors: [(json: String, message: String)] = [
        (#"{"fUint64":-1}"#, "fUint64: -1 for uint64 is out of range"),
        (#"{"fUint32":4294967296}"#, "fUint32: 4294967296 for uint32 is out of range"),
        (#"{"fFloat":1e39}"#, "fFloat: 1e+39 for float is out of range"),
        (#"{"fDouble":"fast"}"#, #"fDouble: expected number, found string "fast""#),
        (#"{"fDouble":"inf"}"#, #"fDouble: expected number, found string "inf""#),
        (#"{"fBytes":"not base64!"}"#, #"fBytes: invalid base64 "not base64!""#),
        (#"{"fBytes":5}"#, "fBytes: expected base64 string, found integer 5"),
        (#"{"mBoolString":{"yes":"x"}}"#, #"mBoolString["yes"]: expected map key "true" or "false", found string "yes""#),
        (#"{"mInt32String":{"one":"x"}}"#, #"mInt32String["one"]: expected integer, found string "one""#),
        (#"{"mInt64Node":{"1":{"value":"x"}}}"#, #"mInt64Node["1"].value: expected integer, found string "x""#),
        (#"{"mStringInt32":{"a":null}}"#, #"mStringInt32["a"]: null is not allowed here"#),
        (#"{"wTimestamp":"2024-02-30T00:00:00Z"}"#, #"wTimestamp: invalid timestamp "2024-02-30T00:00:00Z", expected e.g. "2024-05-01T12:00:00Z""#),
        (#"{"wTimestamp":1700000000}"#, "wTimestamp: expected RFC 3339 timestamp string, found integer 1700000000"),
        (#"{"wDuration":"1.5"}"#, #"wDuration: invalid duration "1.5", expected e.g. "1.5s""#),
        (#"{"wEmpty":{"x":1}}"#, "wEmpty.x: unknown field"),
        (#"{"wInt32":"big"}"#, #"wInt32: expected integer, found string "big""#),
        (#"{"wStruct":[]}"#, "wStruct: expected object, found list"),
        (#"{"wAny":{"value":1}}"#, #"wAny: Any needs an "@type" string"#),
        (#"{"wAny":{"@type":"type.googleapis.com/x.Y"}}"#, #"unknown message type "type.googleapis.com/x.Y""#),
        (#"{"wFieldMask":"a_b"}"#, #"wFieldMask: invalid FieldMask path "a_b""#),
        (#"{"rNode":[{"child":{"children":[{"value":[]}]}}]}"#, "rNode[0].child.children[0].value: expected integer, found list"),
    ]

    @Test(arguments: everythingValueErrors)
    func wellKnownAndScalarErrorsNameThePath(_ c: (json: String, message: String)) throws {
        #expect(try encodeError(try Fixtures.everything(), c.json) == c.message)
    }

    @Test func ignoreUnknownFieldsSkipsThem() throws {
        let codec = try Fixtures.workitems(.init(ignoreUnknownFields: true))
        let bytes = try codec.encode(try json(#"{"messageId":"m","colour":"red","ping":{"x":1}}"#))
        #expect(try codec.decode(bytes) == (try json(#"{"messageId":"m","ping":{}}"#)))
    }

    static let malformedFrames: [(hex: String, message: String)] = [
        ("0a", "truncated varint at byte 1 (in message_id)"),
        ("0a05616263", "truncated field at byte 1: length 5 but only 3 bytes remain (in message_id)"),
        ("08", "wire type mismatch for field 1 (message_id): expected length-delimited, found varint"),
        ("10", "truncated varint at byte 1 (in timestamp)"),
        ("10ffffffffffffffffffff01", "malformed varint (more than 10 bytes) at byte 1 (in timestamp)"),
        ("00", "invalid field number 0 at byte 0"),
        ("0b", "groups are not supported (field 1 at byte 0)"),
        ("0c", "groups are not supported (field 1 at byte 0)"),
        ("0e", "invalid wire type 6 at byte 0"),
        ("0f", "invalid wire type 7 at byte 0"),
        ("8080808010", "invalid field number 536870912 at byte 0"),
        ("0a02c328", "message_id: invalid UTF-8 in string field"),
        ("1203616263", "wire type mismatch for field 2 (timestamp): expected varint, found length-delimited"),
        ("fa01050a0318", "truncated field at byte 2: length 5 but only 3 bytes remain (in work_item_updated)"),
        ("fa01030a0318", "truncated field at byte 4: length 3 but only 1 bytes remain (in work_item_updated.work_item)"),
        ("fa0105120208011a", "wire type mismatch for field 1 (work_item_updated.changes[0].field_name): expected length-delimited, found varint"),
        ("fa010412021801", "wire type mismatch for field 3 (work_item_updated.changes[0].new_value): expected length-delimited, found varint"),
        ("fa0106" + "0a041a02c328", "work_item_updated.work_item.title: invalid UTF-8 in string field"),
        ("fa0105" + "0a030a01ff", "work_item_updated.work_item.id: invalid UTF-8 in string field"),
        ("fa01020d00", "wire type mismatch for field 1 (work_item_updated.work_item): expected length-delimited, found 32-bit"),
    ]

    @Test(arguments: malformedFrames)
    func malformedFramesGiveClearErrors(_ c: (hex: String, message: String)) throws {
        let error = decodeError(try Fixtures.workitems(), c.hex)
        #expect(error?.description == c.message)
    }

    @Test func errorsExposePathAndOffset() throws {
        let codec = try Fixtures.workitems()
        let error = try #require(decodeError(codec, "fa0105120208011a"))
        #expect(error.path == "work_item_updated.changes[0].field_name")
        #expect(error.byteOffset == nil)
        let truncated = try #require(decodeError(codec, "0a05616263"))
        #expect(truncated.byteOffset == 1)
        #expect(truncated.path == "message_id")
    }

    @Test func deepNestingIsRefusedBothWays() throws {
        let codec = try Fixtures.codec("tapedeck.test.Node")
        // 200 nested `child` fields.
        var bytes: [UInt8] = []
        for _ in 0..<200 { bytes = [0x12] + varint(bytes.count) + bytes }
        let error = #expect(throws: ProtobufError.self) { try codec.decode(bytes) }
        #expect(error?.description.hasSuffix("message nesting deeper than 100 levels") == true)
        #expect(error?.path.hasPrefix("child.child.child") == true)

        var value: Value = [:]
        for _ in 0..<200 { value = ["child": value] }
        #expect(throws: ProtobufError.self) { try codec.encode(value) }

        // Just inside the limit works.
        var ok: Value = ["value": 1]
        for _ in 0..<98 { ok = ["child": ok] }
        #expect(try codec.decode(try codec.encode(ok)) == ok)
    }

    @Test func decodingSpecialValuesWithoutJSONFormFails() throws {
        let codec = try Fixtures.everything()
        // w_timestamp (71) with seconds = 253402300800 (year 10000).
        var ts = WireWriterHelper()
        ts.tag(1, 0)
        ts.varint(253_402_300_800)
        let frame = [0xBA, 0x04] + varint(ts.bytes.count) + ts.bytes
        let error = #expect(throws: ProtobufError.self) { try codec.decode(frame) }
        #expect(error?.description.hasPrefix("w_timestamp: Timestamp seconds 253402300800") == true)
    }

    func varint(_ n: Int) -> [UInt8] {
        var w = WireWriterHelper()
        w.varint(UInt64(n))
        return w.bytes
    }
}

/// A tiny independent writer for building frames in tests.
struct WireWriterHelper {
    var bytes: [UInt8] = []
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    mutating func tag(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }
}
