import Testing
import TapedeckCore

@Suite("Log queries and filters")
struct LogQueryTests {
    let error: Value = ["level": "ERROR", "service": "api", "message": "Database connection failed", "duration": 1500, "metadata": ["component": "database"]]
    let authError: Value = ["level": "error", "service": "auth", "message": "Bad password"]
    let info: Value = ["level": "INFO", "service": "api", "message": "ok"]

    func matches(_ q: String, _ log: Value) throws -> Bool { try LogQuery(parsing: q).matches(log) }

    @Test func termsCombineWithAndOrNotAndParentheses() throws {
        #expect(try matches("level:ERROR", error))
        #expect(try matches("level:error", authError))            // case-insensitive
        #expect(try !matches("level:ERROR", info))
        #expect(try matches("level:ERROR AND NOT service:auth", error))
        #expect(try !matches("level:ERROR AND NOT service:auth", authError))
        #expect(try matches("level:INFO OR service:auth", authError))
        #expect(try matches("level:ERROR service:api", error))       // adjacent terms are ANDed
        #expect(try !matches("level:ERROR service:api", authError))
        #expect(try matches("NOT (service:auth OR level:INFO)", error))
        #expect(try matches("-service:auth", error))
        #expect(try matches("level:INFO OR level:ERROR AND service:auth", authError))   // AND binds tighter
        #expect(try !matches("(level:INFO OR level:ERROR) AND service:auth", info))
        #expect(try matches("", info))
    }

    @Test func valuesQuotesWildcardsNumbersPathsAndFreeText() throws {
        #expect(try matches(#"message:"database connection failed""#, error))
        #expect(try matches("message:Data*", error))
        #expect(try matches("metadata.component:database", error))
        #expect(try matches("duration:>1000 AND duration:<=1500", error))
        #expect(try !matches("duration:>1500", error))
        #expect(try matches("metadata:*", error))
        #expect(try !matches("metadata:*", info))
        #expect(try matches("connection", error))
    }

    @Test func invalidQueriesAreErrorsNotCrashes() {
        for bad in ["level:", ":x", "level:ERROR AND", "(level:ERROR", "level:ERROR)", "OR level:x", #"message:"open"#, String(repeating: "(", count: 200)] {
            #expect(throws: ExpressionError.self) { try LogQuery(parsing: bad) }
        }
    }

    func eval(_ s: String, _ vars: [String: Value] = [:]) throws -> Value {
        var ctx = EvaluationContext(variables: vars)
        return try ctx.evaluate(try Expression(parsing: s))
    }

    @Test func queryAndFilterFunctions() throws {
        let logs: Value = [error, authError, info]
        #expect(try eval("logquery.match('level:ERROR', log)", ["log": error]) == true)
        #expect(try eval("logquery.error('level:ERROR')") == .null)
        #expect(try eval("logquery.error('level:(')") != .null)
        #expect(try eval("len(logquery.select(logs, 'level:ERROR'))", ["logs": logs]) == 2)
        #expect(try eval("filter_error({level: ['ERROR', 'WARN']}, ['level'])") == .null)
        #expect(try eval("filter_error({invalid: 'field'}, ['level'])") == "unknown filter field 'invalid'")
        #expect(try eval("filter_error('level=ERROR')") != .null)
        #expect(try eval("filter_error({level: {a: 1}})") != .null)
        #expect(try eval("filter_match(log, {missing: 1})", ["log": error]) == true)
        #expect(try eval("filter_match(log, {missing: 1}, true)", ["log": error]) == false)
        #expect(try eval("filter_match(log, {'metadata.component': 'database'}, true)", ["log": error]) == true)
        #expect(try eval("len(filter_select(logs, {service: 'api'}, true))", ["logs": logs]) == 2)
        #expect(try eval("last([1, 2, 3], 2)") == [2, 3])
        #expect(try eval("last([1, 2, 3], 9)") == [1, 2, 3])
        #expect(try eval("parse_json('{\"a\": 1}')") == ["a": 1])
        #expect(try eval("parse_json('nope', null)") == .null)
        #expect(try eval("duration.dhms(unix('2026-02-08T23:59:59Z') - unix('2026-02-01T00:00:00Z'))") == "7d 23h 59m 59s")
    }
}

@Suite("Numbers from input")
struct WholeNumberTests {
    @Test func hugeOrNonFiniteNumbersAreErrorsNotCrashes() throws {
        for e in ["int(1e300)", "int('1e300')", "floor(1e300)", "round(1e300)", "last([1], 1e300)", "range(1e300)", "int(parse_json('1e999', 0))"] {
            var ctx = EvaluationContext()
            #expect(throws: (any Error).self) { try ctx.evaluate(try Expression(parsing: e)) }
        }
    }
}
