import Testing
import TapedeckCore
import TapedeckProtobuf

/// Exact encodings, checked against Python's protobuf (`SerializeToString`).
@Suite struct ProtobufCodecBytesTests {
    static let cases: [(json: String, hex: String)] = [
        (#"{"fInt32":-1}"#, "18ffffffffffffffffff01"),
        (#"{"fSint32":-1,"fSint64":"-2"}"#, "38014003"),
        (#"{"rInt32":[1,2,300]}"#, "ba01040102ac02"),
        (#"{"rInt32Unpacked":[1,2]}"#, "b00201b00202"),
        (#"{"fDouble":1.5,"fFloat":-2.0}"#, "09000000000000f83f15000000c0"),
        (#"{"fColor":"COLOR_NEGATIVE"}"#, "8001ffffffffffffffffff01"),
        (#"{"mStringInt32":{"a":1}}"#, "9a03050a01611001"),
        (#"{"wTimestamp":"1970-01-01T00:00:01.500Z","wDuration":"-1.500s"}"#,
         "ba040808011080cab5ee01c2041608ffffffffffffffffff011080b6ca91feffffffff01"),
        (#"{"oInt32":0}"#, "c80200"),
        (#"{"fUint64":"18446744073709551615"}"#, "30ffffffffffffffffff01"),
        (#"{"wValue":null,"wInt32":0}"#, "ea04009a05020800"),
        (#"{"fFixed32":1,"fSfixed64":"-1"}"#, "4d0100000061ffffffffffffffff"),
    ]

    @Test(arguments: cases)
    func encodesLikeTheReferenceImplementation(_ c: (json: String, hex: String)) throws {
        let codec = try Fixtures.everything()
        #expect(hex(try codec.encode(try json(c.json))) == c.hex)
        #expect(try codec.decode(unhex(c.hex)).looselyEquals(try json(c.json)))
    }

    @Test func pingFrameFromTheSpec() throws {
        let codec = try Fixtures.workitems()
        let frame = unhex("0a0670696e672d3110d285d8cc046203089601")
        let value = try json(#"{"messageId":"ping-1","timestamp":"1234567890","ping":{"timestamp":"150"}}"#)
        #expect(try codec.encode(value) == frame)
        #expect(try codec.decode(frame) == value)
        #expect(try codec.decode(frame[...]) == value)
    }

    @Test func fieldsAreWrittenInNumberOrderWhateverTheKeyOrder() throws {
        let codec = try Fixtures.workitems()
        let a = try codec.encode(try json(#"{"ping":{"timestamp":"150"},"timestamp":1234567890,"messageId":"ping-1"}"#))
        #expect(hex(a) == "0a0670696e672d3110d285d8cc046203089601")
    }
}
