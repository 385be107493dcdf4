import Testing
import TapedeckCore

@Suite("Functions")
struct FunctionTests {
    func eval(_ s: String, seed: UInt64 = 1, time: Double = 0, now: Double = 0, env: [String: String] = [:]) throws -> Value {
        var ctx = EvaluationContext(random: SeededRandom(seed: seed), scenarioTime: time, now: now, environment: env)
        return try ctx.evaluate(try Expression(parsing: s))
    }

    @Test func randomValuesDeriveFromTheSeed() throws {
        let a = try (0..<20).map { _ in try eval("[rand.int(1, 100), rand.float(0, 1), uuid(), pick(['a','b','c'])]", seed: 42) }
        let b = try (0..<20).map { _ in try eval("[rand.int(1, 100), rand.float(0, 1), uuid(), pick(['a','b','c'])]", seed: 42) }
        #expect(a == b)
        #expect(try eval("uuid()", seed: 1) != eval("uuid()", seed: 2))
    }

    @Test func randIntStaysInItsInclusiveRange() throws {
        var ctx = EvaluationContext(random: SeededRandom(seed: 9))
        let e = try Expression(parsing: "rand.int(3, 5)")
        var seen: Set<Int> = []
        for _ in 0..<500 { seen.insert(try ctx.evaluate(e).intValue!) }
        #expect(seen == [3, 4, 5])
    }

    @Test func weightedFollowsWeights() throws {
        var ctx = EvaluationContext(random: SeededRandom(seed: 3))
        let e = try Expression(parsing: "weighted({a: 9, b: 1, c: 0})")
        var counts: [String: Int] = [:]
        for _ in 0..<2000 { counts[try ctx.evaluate(e).stringValue!, default: 0] += 1 }
        #expect(counts["c"] == nil)
        #expect(counts["a"]! > counts["b"]! * 5)
    }

    @Test func monoNsReadsTheRealMonotonicClockWhateverTheScenarioTime() throws {
        let before = monotonicNanoseconds()
        let a = try eval("mono_ns()", time: 1000, now: 5).intValue!
        let b = try eval("mono_ns()", time: 0, now: 0).intValue!
        let after = monotonicNanoseconds()
        #expect(before <= a && a <= b && b <= after)
    }

    @Test func uuidIsVersion4() throws {
        let u = try eval("uuid()").stringValue!
        #expect(u.count == 36)
        #expect(Array(u)[14] == "4")
    }

    @Test func waveAndRampFollowScenarioTime() throws {
        #expect(try eval("wave(0, 100, 40s)", time: 0) == 50.0)
        #expect(try eval("round(wave(0, 100, 40s))", time: 10) == 100)
        #expect(try eval("ramp(10, 20, 10s)", time: 5) == 15.0)
        #expect(try eval("ramp(10, 20, 10s)", time: 50) == 20.0)
        #expect(try eval("ramp(10, 20, 10s, 20s)", time: 5) == 10.0)
    }

    @Test func normalIsCentredOnTheMean() throws {
        var ctx = EvaluationContext(random: SeededRandom(seed: 5))
        let e = try Expression(parsing: "normal(50, 2)")
        var sum = 0.0
        for _ in 0..<2000 { sum += try ctx.evaluate(e).doubleValue! }
        #expect(abs(sum / 2000 - 50) < 0.5)
    }

    @Test func formattingHelpers() throws {
        #expect(try eval("round(3.14159, 2)") == 3.14)
        #expect(try eval("round(2.5)") == 3)
        #expect(try eval("format('%05d|%-4s|%.2f|%x|%%', 42, 'ab', 3.14159, 255)") == "00042|ab  |3.14|ff|%")
    }

    /// Each row: a format, its argument, and what C's printf prints (glibc, checked with a C
    /// program): every conversion and flag that `format` claims.
    @Test(arguments: [
        ("%d", "42", "42"), ("%5d", "42", "   42"), ("%-5d|", "42", "42   |"), ("%05d", "-42", "-0042"),
        ("%+d", "7", "+7"), ("% d", "7", " 7"), ("%i", "-3", "-3"), ("%u", "42", "42"), ("%d", "3.99", "3"),
        ("%x", "255", "ff"), ("%X", "255", "FF"), ("%#x", "255", "0xff"), ("%08x", "48879", "0000beef"),
        ("%o", "8", "10"), ("%#o", "8", "010"), ("%x", "-1", "ffffffffffffffff"),
        ("%f", "3.14159", "3.141590"), ("%.2f", "2.675", "2.67"), ("%.17f", "0.8", "0.80000000000000004"),
        ("%.0f", "2.5", "2"), ("%.0f", "3.5", "4"), ("%10.3f|", "-1.5", "    -1.500|"), ("%-10.3f|", "1.5", "1.500     |"),
        ("%+.1f", "0.05", "+0.1"), ("%F", "1.5", "1.500000"),
        ("%e", "12345.678", "1.234568e+04"), ("%.3E", "0.00012345", "1.234E-04"),
        ("%g", "0.0001", "0.0001"), ("%g", "0.00001", "1e-05"), ("%G", "1e20", "1E+20"), ("%#g", "1.0", "1.00000"),
        ("%s", "'ab'", "ab"), ("%5s|", "'ab'", "   ab|"), ("%-5s|", "'ab'", "ab   |"), ("%.1s", "'ab'", "a"),
        ("100%%", "0", "100%"),
    ])
    func formatPrintsWhatCPrintfPrints(format: String, argument: String, c: String) throws {
        #expect(try eval("format('\(format)', \(argument))") == .string(c))
    }

    @Test func durationAlwaysHasFourUnits() throws {
        #expect(try eval("duration.dhms(691199)") == "7d 23h 59m 59s")
        #expect(try eval("duration.dhms(7205)") == "0d 2h 0m 5s")
        #expect(try eval("duration.dhms(59)") == "0d 0h 0m 59s")
        #expect(try eval("duration.dhms(0)") == "0d 0h 0m 0s")
        #expect(try eval("duration.dhms(-90)") == "-0d 0h 1m 30s")
    }

    @Test func timeIsISO8601() throws {
        #expect(try eval("now()", now: 1_737_109_800) == "2025-01-17T10:30:00.000Z")
        #expect(try eval("now(-5m)", now: 1_737_109_800) == "2025-01-17T10:25:00.000Z")
        #expect(try eval("iso('2025-01-17T12:30:00+02:00')") == "2025-01-17T10:30:00.000Z")
        #expect(Timestamp.parse("2024-02-29T23:59:59.5Z") == 1_709_251_199.5)
    }

    @Test func environmentVariables() throws {
        #expect(try eval("env('REGION', 'eu')", env: [:]) == "eu")
        #expect(try eval("env('REGION')", env: ["REGION": "us"]) == "us")
    }

    @Test func filterMatchRestrictsOnlyFieldsThatArePresent() throws {
        #expect(try eval("filter_match({squad: 'platform'}, {squad: 'platform', environment: 'production'})") == true)
        #expect(try eval("filter_match({squad: 'payments'}, {squad: 'platform'})") == false)
        #expect(try eval("filter_match({squad: 'payments'}, {squad: ['platform', 'payments']})") == true)
        #expect(try eval("filter_match({}, {squad: 'platform'})") == true)
    }

    @Test func badArgumentsAreErrors() {
        #expect(throws: ExpressionError.self) { try eval("rand.int(5, 1)") }
        #expect(throws: ExpressionError.self) { try eval("pick([])") }
        #expect(throws: ExpressionError.self) { try eval("round('x')") }
        #expect(throws: ExpressionError.self) { try eval("format('%d')") }
    }
}

extension FunctionTests {
    @Test func regexFindAndAllReadCaptures() throws {
        #expect(try eval("regex_find('subscription S { price(symbol: $s) { p } }', '[{][ ]*([a-zA-Z_]+)', 1)") == "price")
        #expect(try eval("regex_find('abc', 'x')") == .null)
        #expect(try eval("regex_find('k=v', '(?<key>[a-z])=(?<val>[a-z])', 'val')") == "v")
        #expect(try eval("regex_all('a1 b2 c3', '[a-z]([0-9])', 1)") == ["1", "2", "3"])
        #expect(throws: ExpressionError.self) { try eval("regex_find('a', '(')") }
    }

    @Test func objectBuildsComputedKeys() throws {
        #expect(try eval("object('price', 3, 'n', null)") == ["price": 3, "n": .null])
        #expect(throws: ExpressionError.self) { try eval("object('a')") }
    }
}
