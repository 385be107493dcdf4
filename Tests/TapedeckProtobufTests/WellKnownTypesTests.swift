import Testing
import TapedeckCore
@testable import TapedeckProtobuf

@Suite struct WellKnownTypesTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", Int64(0), Int32(0)),
        ("1972-01-01T10:00:20.021Z", 63_108_020, 21_000_000),
        ("0001-01-01T00:00:00Z", -62_135_596_800, 0),
        ("9999-12-31T23:59:59.999999999Z", 253_402_300_799, 999_999_999),
        ("1969-12-31T23:59:59.000001Z", -1, 1000),
        ("2000-02-29T00:00:00Z", 951_782_400, 0),
    ])
    func timestampsFormatAndParse(_ text: String, _ seconds: Int64, _ nanos: Int32) {
        #expect(TimestampFormat.format(seconds: seconds, nanos: nanos) == text)
        #expect(TimestampFormat.parse(text)?.seconds == seconds)
        #expect(TimestampFormat.parse(text)?.nanos == nanos)
    }

    @Test func timestampsAcceptOffsetsAndRejectNonsense() {
        #expect(TimestampFormat.parse("1970-01-01T01:00:00+01:00")?.seconds == 0)
        #expect(TimestampFormat.parse("1969-12-31T19:00:00.5-05:00")?.seconds == 0)
        #expect(TimestampFormat.parse("1969-12-31T19:00:00.5-05:00")?.nanos == 500_000_000)
        for bad in [
            "", "1970-01-01", "1970-01-01T00:00:00", "1970-13-01T00:00:00Z", "1970-02-29T00:00:00Z",
            "1970-01-01T24:00:00Z", "1970-01-01T00:00:00.Z", "1970-01-01T00:00:00.1234567890Z",
            "0000-12-31T23:59:59Z", "1970-01-01T00:00:00Zjunk", "9999-12-31T23:59:59-01:00",
        ] {
            #expect(TimestampFormat.parse(bad) == nil, "\(bad)")
        }
        #expect(TimestampFormat.format(seconds: 253_402_300_800, nanos: 0) == nil)
        #expect(TimestampFormat.format(seconds: 0, nanos: -1) == nil)
    }

    @Test(arguments: [
        ("0s", Int64(0), Int32(0)), ("1.500s", 1, 500_000_000), ("-1.500s", -1, -500_000_000), ("1.000001s", 1, 1000),
        ("-0.000001s", 0, -1000), ("3600s", 3600, 0), ("0.000000001s", 0, 1),
        ("315576000000s", 315_576_000_000, 0),
    ])
    func durationsFormatAndParse(_ text: String, _ seconds: Int64, _ nanos: Int32) {
        #expect(DurationFormat.format(seconds: seconds, nanos: nanos) == text)
        #expect(DurationFormat.parse(text)?.seconds == seconds)
        #expect(DurationFormat.parse(text)?.nanos == nanos)
    }

    @Test func durationsRejectNonsense() {
        for bad in ["", "s", "1", "1.s", ".s", "1.5 s", "--1s", "315576000001s", "1.0000000001s", "1e3s"] {
            #expect(DurationFormat.parse(bad) == nil, "\(bad)")
        }
        #expect(DurationFormat.parse(".5s")?.nanos == 500_000_000)
        #expect(DurationFormat.parse("-1.5s")?.nanos == -500_000_000)
        #expect(DurationFormat.format(seconds: 1, nanos: -1) == nil)
        // Extremes from a hostile frame must not trap (abs(Int64.min) would).
        #expect(DurationFormat.format(seconds: .min, nanos: 0) == nil)
        #expect(DurationFormat.format(seconds: 0, nanos: .min) == nil)
        #expect(DurationFormat.format(seconds: -315_576_000_000, nanos: -999_999_999) == "-315576000000.999999999s")
    }

    @Test func base64BothAlphabetsAndPadding() {
        let bytes: [UInt8] = [0xFB, 0xFF, 0x00, 0x01]
        #expect(Base64.encode(bytes) == "+/8AAQ==")
        #expect(Base64.decode("+/8AAQ==") == bytes)
        #expect(Base64.decode("-_8AAQ") == bytes)
        #expect(Base64.decode("") == [])
        #expect(Base64.decode("A") == nil)
        #expect(Base64.decode("AA===") == nil)
        #expect(Base64.decode("A A=") == nil)
        for n in 0..<20 {
            let data = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64.decode(Base64.encode(data)) == data)
        }
    }

    @Test func fieldMaskPaths() {
        #expect(ProtobufCodec.fieldMaskPathToJSON("foo_bar.baz_qux") == "fooBar.bazQux")
        #expect(ProtobufCodec.fieldMaskPathToJSON("foo__bar") == nil)
        #expect(ProtobufCodec.fieldMaskPathToJSON("fooBar") == nil)
        #expect(ProtobufCodec.fieldMaskPathFromJSON("fooBar.bazQux") == "foo_bar.baz_qux")
    }

    @Test func unknownFieldsSurviveARoundTrip() throws {
        let full = try Fixtures.everything()
        let partial = try Fixtures.codec("tapedeck.test.Partial")
        let original = try json(
            #"{"fInt32":5,"fInt64":"-3","fString":"kept","fNode":{"value":1,"label":"x","children":[{"value":2}]},"rString":["a","b"],"wTimestamp":"2024-01-01T00:00:00Z","mStringInt32":{"x":1}}"#)
        let bytes = try full.encode(original)
        let seen = try partial.decode(bytes)
        #expect(seen["fInt32"] == 5)
        #expect(seen["fString"] == "kept")
        #expect(seen["fNode"]?["value"] == 1)
        #expect(seen["fNode"]?["children"] == [["value": 2]])  // Partial.f_node is a full Node
        #expect(seen[ProtobufCodec.unknownFieldsKey]?.stringValue != nil)
        // Re-encoding through Partial gives back every field to a reader that knows them all.
        #expect(try full.decode(try partial.encode(seen)) == (try full.decode(bytes)))
        // The unknown bytes are verbatim: they decode alone to the fields Partial lacks.
        let unknownText = try #require(seen[ProtobufCodec.unknownFieldsKey]?.stringValue)
        let unknown = try #require(Base64.decode(unknownText))
        #expect(
            try full.decode(unknown)
                == (try json(#"{"fInt64":"-3","rString":["a","b"],"mStringInt32":{"x":1},"wTimestamp":"2024-01-01T00:00:00Z"}"#)))
        // Dropping them is an option.
        let dropping = try ProtobufCodec(
            pool: try #require(Fixtures.testPool), messageType: "tapedeck.test.Partial",
            options: .init(preserveUnknownFields: false))
        #expect(try dropping.decode(bytes)[ProtobufCodec.unknownFieldsKey] == nil)
    }

    @Test func unknownFieldsInNestedMessagesStayThere() throws {
        let node = try Fixtures.codec("tapedeck.test.Node")
        // Node.child = { field 99 varint 1, value = 2 }
        let frame = unhex("1205b806010802")
        let value = try node.decode(frame)
        #expect(value == (try json(#"{"child":{"value":2,"$unknownFields":"uAYB"}}"#)))
        #expect(hex(try node.encode(value)) == "12050802b80601")
    }

    @Test func anyRoundTripsForMessagesAndWellKnownTypes() throws {
        let codec = try Fixtures.everything()
        for text in [
            #"{"wAny":{"@type":"type.googleapis.com/tapedeck.test.Node","value":9,"child":{"label":"x"}}}"#,
            #"{"wAny":{"@type":"type.googleapis.com/google.protobuf.Timestamp","value":"2024-05-01T12:00:00Z"}}"#,
            #"{"wAny":{"@type":"type.googleapis.com/google.protobuf.Value","value":[1,"a",null]}}"#,
            #"{"wAny":{}}"#,
        ] {
            let value = try json(text)
            #expect(try codec.decode(try codec.encode(value)) == value)
        }
    }
}
