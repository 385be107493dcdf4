import Testing
import TapedeckCore

@Suite("JSON scanner")
struct JSONScannerTests {
    /// Documents the parser accepts and refuses: the scanner must agree on every one.
    static let corpus = [
        #"{}"#, #"[]"#, #" {"a" : [1, -2.5e3, 0, -0, 0.25, 1E+2, true, false, null, "x"]} "#, #"{"z":{"y":{"x":[[]]}}}"#,
        #""text""#, "12", "-0.5", #"{"é":"ü 😀","\u00e9":"\ud83d\ude00"}"#, #"["a\"b\\c\/d\b\f\n\r\t"]"#,
        "", " ", "{", "}", "[1,]", "[,1]", #"{"a" 1}"#, #"{"a":}"#, #"{a:1}"#, "tru", "nul", "falsey", #""abc"#,
        "01", "-", "1.", "1e", "1e+", ".5", "+1", #"{"a":1}x"#, #"{"a":1,}"#, #""\ud800""#, #""\udc00x""#,
        #""\x""#, "\"tab\there\"", "[1 2]", #"{"a":1 "b":2}"#, "[" + String(repeating: "[", count: 600) + "]",
    ]

    @Test("agrees with the parser on what is JSON")
    func agreesWithTheParser() {
        for text in Self.corpus {
            let parses = (try? Value(json: text)) != nil
            let scan = JSONScanner.scan(Array(text.utf8), flagKey: { _ in false })
            #expect((scan != .invalid) == parses, "\(text)")
        }
        // Invalid UTF-8 inside a string is not JSON text.
        #expect(JSONScanner.scan([0x5B, 0x22, 0xC3, 0x28, 0x22, 0x5D], flagKey: { _ in false }) == .invalid)
    }

    @Test("hands every object key to the closure, escaped keys decoded, values never")
    func flagsKeys() {
        var seen: [String] = []
        let text = #"{"a":{"b":["c",{"to\u006ben":"v"}]},"d":"key"}"#
        let result = JSONScanner.scan(Array(text.utf8)) { key in
            seen.append(key)
            return false
        }
        #expect(result == .valid(flagged: false))
        #expect(seen == ["a", "b", "token", "d"])
        #expect(JSONScanner.scan(Array(text.utf8)) { $0 == "token" } == .valid(flagged: true))
        #expect(JSONScanner.scan(Array(#"["token"]"#.utf8)) { $0 == "token" } == .valid(flagged: false), "a value is not a key")
    }
}
