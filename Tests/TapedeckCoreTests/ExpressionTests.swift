import Testing
import TapedeckCore

@Suite("Expressions")
struct ExpressionTests {
    func eval(_ source: String, _ vars: [String: Value] = [:]) throws -> Value {
        var ctx = EvaluationContext(variables: vars)
        return try ctx.evaluate(try Expression(parsing: source))
    }

    @Test func arithmeticFollowsPrecedence() throws {
        #expect(try eval("1 + 2 * 3") == 7)
        #expect(try eval("(1 + 2) * 3") == 9)
        #expect(try eval("7 / 2") == 3.5)
        #expect(try eval("6 / 2") == 3)
        #expect(try eval("7 % 4") == 3)
        #expect(try eval("-2 * -3") == 6)
        #expect(try eval("1.5 + 1") == 2.5)
    }

    @Test func stringConcatenationAndComparison() throws {
        #expect(try eval("'inc-' + 5") == "inc-5")
        #expect(try eval("\"a\" < \"b\"") == true)
        #expect(try eval("3 >= 3 and 2 != 3") == true)
        #expect(try eval("1 == 1.0") == true)
    }

    @Test func logicShortCircuits() throws {
        // The right side would fail (unknown function) if evaluated.
        #expect(try eval("false and missing()") == false)
        #expect(try eval("true or missing()") == true)
        #expect(try eval("not true") == false)
        #expect(try eval("!false && true || false") == true)
    }

    @Test func membershipWithIn() throws {
        #expect(try eval("'b' in ['a', 'b']") == true)
        #expect(try eval("'x' not in ['a', 'b']") == true)
        #expect(try eval("'k' in {k: 1}") == true)
        #expect(try eval("'ell' in 'hello'") == true)
    }

    @Test func memberAndIndexAccess() throws {
        let vars: [String: Value] = ["event": ["data": ["squad": "platform", "tags": ["a", "b"]]]]
        #expect(try eval("event.data.squad", vars) == "platform")
        #expect(try eval("event.data.tags[1]", vars) == "b")
        #expect(try eval("event.data.tags[-1]", vars) == "b")
        #expect(try eval("event['data']['squad']", vars) == "platform")
        #expect(try eval("event.data.missing", vars) == .null)
        #expect(try eval("event.data.missing.deeper", vars) == .null)
        #expect(try eval("event.data.tags.length", vars) == 2)
    }

    @Test func literalsAndCoalescing() throws {
        #expect(try eval("[1, 'two', {three: 3}]") == [1, "two", ["three": 3]])
        #expect(try eval("{a: 1, 'b c': [true, null]}") == ["a": 1, "b c": [true, nil]])
        #expect(try eval("claims.squads ?? []", ["claims": [:]]) == [])
        #expect(try eval("1 > 2 ? 'yes' : 'no'") == "no")
    }

    @Test func durationLiteralsAreSeconds() throws {
        #expect(try eval("30s") == 30)
        #expect(try eval("2m") == 120)
        #expect(try eval("500ms") == 0.5)
        #expect(try eval("1h + 1") == 3601)
    }

    @Test func syntaxErrorsPointAtTheProblem() {
        #expect(throws: ExpressionError.self) { try Expression(parsing: "1 +") }
        do {
            _ = try Expression(parsing: "a = 1")
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 2)
            #expect(error.message.contains("=="))
        }
        do {
            _ = try Expression(parsing: "5parsecs")
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("duration unit"))
        }
    }

    @Test func unknownNamesAndFunctionsAreErrors() {
        #expect(throws: ExpressionError.self) { try eval("nope + 1") }
        do {
            _ = try eval("pik([1])")
            Issue.record("expected an error")
        } catch let e as ExpressionError {
            #expect(e.message == "unknown function 'pik'; did you mean 'pick'?")
        } catch {
            Issue.record("wrong error \(error)")
        }
    }

    @Test func divisionByZeroIsAnErrorNotACrash() {
        #expect(throws: ExpressionError.self) { try eval("1 / 0") }
        #expect(throws: ExpressionError.self) { try eval("1 % 0") }
    }

    @Test func deeplyNestedInputDoesNotCrash() {
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        #expect(throws: ExpressionError.self) { try Expression(parsing: deep) }
    }

    @Test func fieldsReadOfARootName() throws {
        func reads(_ source: String) throws -> Set<String>? { try Expression(parsing: source).fieldsRead(of: "conn") }
        #expect(try reads("'*' in conn.permissions or topic in conn.permissions") == ["permissions"])
        #expect(try reads("conn['squads'] == [] and conn.environments.length > 0") == ["squads", "environments"])
        #expect(try reads("event.data.squad == 'x'") == [])
        // Read as a whole: passed on, compared, or indexed with a computed key.
        #expect(try reads("filter_match(conn, event)") == nil)
        #expect(try reads("conn[event.field]") == nil)
        #expect(try reads("conn == null") == nil)
    }

    @Test func deterministicExpressions() throws {
        #expect(try Expression(parsing: "filter_match(event.data, sub.params) and len(conn.squads) > 0").isDeterministic)
        #expect(try !Expression(parsing: "rand.bool() or event.x").isDeterministic)
        #expect(try !Expression(parsing: "uuid() != now()").isDeterministic)
        #expect(try !Expression(parsing: "token(sub: 'x')").isDeterministic)
        // Marked where each function is defined: the random, sequence and clock functions are not.
        for name in ["seq", "uuid", "now", "time", "time_ms", "mono_ns", "rand.int", "rand.float", "rand.bool", "pick",
            "weighted", "normal", "wave", "ramp"]
        {
            #expect(!FunctionLibrary.isDeterministic(name), "\(name)")
        }
        for name in ["len", "lower", "filter_match", "logquery.match", "duration.dhms", "regex_find", "parse_json"] {
            #expect(FunctionLibrary.isDeterministic(name), "\(name)")
        }
    }
}
