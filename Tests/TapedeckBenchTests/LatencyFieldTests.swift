import Testing
import TapedeckBench

@Suite struct LatencyFieldTests {
    func read(_ path: String, _ json: String, unit: String = "ns") throws -> Int? {
        try LatencyField(parsing: path, unit: unit).extract(from: Array(json.utf8))
    }

    @Test func readsANestedIntegerAfterMembersItSkips() throws {
        let json = #"{"type":"metric","note":"a \"quoted\" } ] , text","list":[1,{"t":5},[2,3]],"data":{"x":null,"t":123456789}}"#
        #expect(try read("$.data.t", json) == 123_456_789)
        #expect(try read("$['data'].t", json) == 123_456_789)
    }

    @Test func readsListElementsStringsAndFractions() throws {
        #expect(try read("$.list[1].t", #"{"list":[{"t":1},{"t":2}]}"#) == 2)
        #expect(try read("$.t", #"{"t":"1700000000123"}"#) == 1_700_000_000_123)
        #expect(try read("$.t", #"{ "t" : 42.9 }"#) == 42)
        #expect(try read("$.t", #"{"t":-7}"#) == -7)
    }

    @Test func convertsUnitsToNanoseconds() throws {
        #expect(try read("$.t", #"{"t":1500}"#, unit: "us") == 1_500_000)
        #expect(try read("$.t", #"{"t":3}"#, unit: "ms") == 3_000_000)
        #expect(try read("$.t", #"{"t":2}"#, unit: "s") == 2_000_000_000)
    }

    @Test func missingOrUnreadableStampsAreNil() throws {
        #expect(try read("$.data.t", #"{"data":{"u":1}}"#) == nil)
        #expect(try read("$.data.t", #"{"data":"t"}"#) == nil)
        #expect(try read("$.t", #"{"t":"soon"}"#) == nil)
        #expect(try read("$.t", #"{"t":true}"#) == nil)
        #expect(try read("$.t", "not json at all") == nil)
        #expect(try read("$.t", #"{"t":"#) == nil)
        #expect(try read("$.list[5]", #"{"list":[1,2]}"#) == nil)
    }

    @Test func badPathsAreRefusedWithAReason() {
        #expect(throws: BenchError.self) { try LatencyField(parsing: "data.t") }
        #expect(throws: BenchError.self) { try LatencyField(parsing: "$") }
        #expect(throws: BenchError.self) { try LatencyField(parsing: "$.t", unit: "fortnights") }
    }
}

@Suite struct BenchOptionsTests {
    @Test func targetsAreWebSocketURLs() throws {
        let t = try BenchTarget(parsing: "ws://127.0.0.1:8080/api/ws?token=x")
        #expect(t.host == "127.0.0.1" && t.port == 8080 && t.requestURI == "/api/ws?token=x")
        #expect(try BenchTarget(parsing: "ws://localhost").requestURI == "/")
        #expect(try BenchTarget(parsing: "ws://localhost").port == 80)
        #expect(throws: BenchError.self) { try BenchTarget(parsing: "wss://example.com/") }
        #expect(throws: BenchError.self) { try BenchTarget(parsing: "ws://host:99999/") }
    }

    @Test func rampsAreRatesOrDurations() throws {
        #expect(try BenchConfiguration.rampPerSecond(parsing: "500/s", connections: 10) == 500)
        #expect(try BenchConfiguration.rampPerSecond(parsing: "120/m", connections: 10) == 2)
        #expect(try BenchConfiguration.rampPerSecond(parsing: "2s", connections: 1000) == 500)
        #expect(try BenchConfiguration.rampPerSecond(parsing: "0", connections: 10) == nil)
        #expect(throws: BenchError.self) { try BenchConfiguration.rampPerSecond(parsing: "fast", connections: 10) }
    }
}
