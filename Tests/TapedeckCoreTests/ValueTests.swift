import Testing
import TapedeckCore
import OrderedCollections

@Suite("Value and JSON")
struct ValueTests {
    @Test func jsonKeepsKeyOrder() throws {
        let text = #"{"z":1,"a":[true,null,"x"],"m":{"b":2.5,"a":-3}}"#
        let v = try Value(json: text)
        #expect(v.jsonString == text)
        #expect(v.objectValue.map { Array($0.keys) } == ["z", "a", "m"])
    }

    @Test func escapesRoundTrip() throws {
        let v: Value = ["s": "quote \" backslash \\ newline \n tab \t unicode é 😀 control \u{01}"]
        #expect(try Value(json: v.jsonString) == v)
        #expect(try Value(json: #""\ud83d\ude00""#) == "😀")
    }

    @Test func numbers() throws {
        #expect(try Value(json: "12") == .int(12))
        #expect(try Value(json: "-1.5e2") == .double(-150))
        #expect(Value.double(95).jsonString == "95")
        #expect(Value.double(99.5).jsonString == "99.5")
        #expect(Value.double(.nan).jsonString == "null")
    }

    @Test func invalidJSONIsAnErrorWithAnOffset() {
        for bad in ["", "{", "{\"a\" 1}", "[1,]", "tru", "\"abc", "01", "{\"a\":1}x", "\"\\ud800\""] {
            #expect(throws: JSONParseError.self, "\(bad)") { try Value(json: bad) }
        }
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONParseError.self) { try Value(json: deep) }
    }

    @Test func looseEquality() {
        #expect(Value.int(1).looselyEquals(.double(1)))
        #expect(Value(dictionaryLiteral: ("a", 1), ("b", 2)).looselyEquals(["b": 2, "a": 1]))
        #expect(!Value("1").looselyEquals(1))
    }
}
