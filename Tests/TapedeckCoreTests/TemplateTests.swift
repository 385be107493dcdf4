import Testing
import TapedeckCore

@Suite("Templates")
struct TemplateTests {
    func render(_ v: Value, _ vars: [String: Value] = [:], sequence: Int = 1) throws -> Value {
        var ctx = EvaluationContext(variables: vars, sequence: sequence)
        return try Template(value: v).evaluate(in: &ctx)
    }

    @Test func aLoneExpressionKeepsItsType() throws {
        #expect(try render("{{ 1 + 2 }}") == 3)
        #expect(try render("  {{ true }}  ") == true)
        #expect(try render("{{ vars.obj }}", ["vars": ["obj": ["a": 1]]]) == ["a": 1])
    }

    @Test func textAroundExpressionsMakesAString() throws {
        #expect(try render("inc-{{ seq() }}", sequence: 7) == "inc-7")
        #expect(try render("{{ 1 }}{{ 2 }}") == "12")
        #expect(try render("list: {{ [1, 2] }}") == "list: [1,2]")
    }

    @Test func objectsAndListsAreTemplatesOfTemplates() throws {
        let v: Value = ["id": "inc-{{ seq() }}", "n": "{{ seq() * 10 }}", "fixed": [1, 2]]
        #expect(try render(v, sequence: 3) == ["id": "inc-3", "n": 30, "fixed": [1, 2]])
    }

    @Test func optionalKeysAreLeftOutWhenNull() throws {
        let v: Value = ["a": 1, "b?": "{{ msg.id }}"]
        #expect(try render(v, ["msg": [:]]) == ["a": 1])
        #expect(try render(v, ["msg": ["id": "m-1"]]) == ["a": 1, "b": "m-1"])
    }

    @Test func objectLiteralInsideBraces() throws {
        #expect(try render("{{ {a: 1} }}") == ["a": 1])
        #expect(try render("{{ msg.filters ?? {} }}", ["msg": [:]]) == [:])
    }

    @Test func unclosedBracesAreAnError() {
        #expect(throws: ExpressionError.self) { try Template(string: "id-{{ seq()") }
    }
}

extension TemplateTests {
    @Test func nestedObjectLiteralsEndingInManyBracesAreWhole() throws {
        #expect(try render("{{ {a: {b: 1}}}}") == ["a": ["b": 1]])
        #expect(try render("x{{ {a: {b: 1}}.a.b }}y") == "x1y")
        #expect(try render("{{ 1 }}}") == "1}")
        #expect(try render("{{ '}}' + 'a' }}") == "}}a")
    }
}
