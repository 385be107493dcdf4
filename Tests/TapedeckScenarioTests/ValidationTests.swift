import Foundation
import Testing
import TapedeckScenario

/// `tapedeck validate` reports each kind of mistake at its exact place.
@Suite("Scenario validation")
struct ValidationTests {
    static let broken = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/broken")

    func errors(_ name: String) -> [String] {
        ScenarioLoader().validate(file: Self.broken.appendingPathComponent(name).path).map {
            "\($0.location.line):\($0.location.column): \($0.message)"
        }
    }

    @Test func yamlSyntaxError() {
        let e = errors("yaml-syntax.yaml")
        #expect(e.count == 1)
        #expect(e.first?.hasPrefix("5:42: YAML syntax error: did not find expected ',' or ']'") == true)
    }

    @Test func unknownKeyWithSuggestion() {
        #expect(errors("unknown-key.yaml") == ["5:5: unknown key 'evry' in a stream; did you mean 'every'?"])
    }

    @Test func wrongType() {
        #expect(errors("wrong-type.yaml") == ["6:12: expected 'count' to be an integer, found 'many'"])
    }

    @Test func badExpression() {
        let e = errors("bad-expression.yaml")
        #expect(e.count == 1)
        #expect(e.first?.hasPrefix("10:26: bad expression in 'inc-{{ seq( }}'") == true)
    }

    @Test func unknownFunction() {
        #expect(errors("unknown-function.yaml") == ["10:20: unknown function 'pik'; did you mean 'pick'?"])
    }

    @Test func negativeDuration() {
        #expect(errors("negative-duration.yaml") == ["5:12: 'every' must not be negative, found '-5s'"])
    }

    @Test func includeCycle() {
        let e = errors("include-cycle-a.yaml")
        #expect(e == ["2:11: include cycle: include-cycle-a.yaml -> include-cycle-b.yaml -> include-cycle-a.yaml"])
        let all = ScenarioLoader().validate(file: Self.broken.appendingPathComponent("include-cycle-a.yaml").path)
        #expect(all.first?.location.file.hasSuffix("include-cycle-b.yaml") == true)
    }

    @Test func everyErrorIsReportedNotJustTheFirst() throws {
        let text = """
            scenario: many
            profile: ops-control-center
            speeed: 2
            streams:
              - name: a
                every: soon
                event: { x: "{{ nope }}" }
              - name: a
                at: 1s
                event: { y: 1 }
            """
        do {
            _ = try ScenarioLoader().load(text: text, file: "many.yaml")
            Issue.record("expected errors")
        } catch {
            let messages = error.errors.map(\.description)
            #expect(messages.contains("many.yaml:3:1: unknown key 'speeed' in the scenario; did you mean 'speed'?"))
            #expect(messages.contains { $0.hasPrefix("many.yaml:6:12: expected 'every' to be a duration") })
            #expect(messages.contains { $0.hasPrefix("many.yaml:7:21: unknown name 'nope'") })
        }
    }

    @Test func duplicateKeysPointAtTheSecond() {
        do {
            _ = try ScenarioLoader().load(text: "scenario: a\nscenario: b\nstreams: []\n", file: "d.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.first?.description == "d.yaml:2:1: duplicate key 'scenario' in the scenario (first defined at line 1)")
        }
    }

    @Test func afterMustNameAStreamThatEnds() {
        let text = """
            scenario: after
            streams:
              - name: forever
                every: 1s
                event: { a: 1 }
              - name: later
                after: forever
                event: { b: 1 }
              - name: typo
                after: forevr
                event: { c: 1 }
            """
        do {
            _ = try ScenarioLoader().load(text: text, file: "a.yaml")
            Issue.record("expected errors")
        } catch {
            let m = error.errors.map(\.message)
            #expect(m.contains { $0.contains("'forever' never ends") })
            #expect(m.contains("'after' names an unknown stream 'forevr'; did you mean 'forever'?"))
        }
    }

    @Test func anUndefinedVarsNameIsAWarningAtTheReference() throws {
        let text = """
            scenario: v
            vars: { squads: [a, b] }
            streams:
              - event: { squad: "{{ pick(vars.sqads) }}", ok: "{{ vars.squads[0] }}" }
            """
        // It loads (a warning does not stop it)...
        let s = try ScenarioLoader().load(text: text, file: "v.yaml")
        #expect(s.streams.count == 1)
        // ...and validation points at the reference.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-v-\(UUID().uuidString).yaml")
        try text.write(to: dir, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: dir) }
        let problems = ScenarioLoader().validate(file: dir.path)
        #expect(problems.count == 1)
        #expect(problems.first?.isWarning == true)
        #expect(problems.first?.location.line == 4)
        #expect(problems.first?.location.column == 30)
        #expect(problems.first?.message == "'vars.sqads' is not defined in 'vars', so it reads null; did you mean 'vars.squads'?")
        #expect(problems.first?.description.contains(": warning: 'vars.sqads'") == true)
    }

    func loadErrors(_ text: String) -> [String] {
        do {
            _ = try ScenarioLoader().load(text: text, file: "x.yaml")
            return []
        } catch {
            return error.errors.map { "\($0.location.line):\($0.location.column): \($0.message)" }
        }
    }

    @Test func aDocumentNestedThousandsDeepIsRefusedNotACrash() {
        let text = "scenario: deep\nvars:\n  x: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n"
        #expect(loadErrors(text) == ["3:\(4 + NodeReader.maximumDepth): the document nests deeper than \(NodeReader.maximumDepth) levels"])
    }

    @Test func anAliasBombIsRefusedBeforeItExpands() {
        var lines = ["scenario: bomb", "vars:", "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        var previous = "a"
        for c in "bcdefghi" {
            lines.append("  \(c): &\(c) [" + Array(repeating: "*" + previous, count: 9).joined(separator: ", ") + "]")
            previous = String(c)
        }
        let e = loadErrors(lines.joined(separator: "\n") + "\nstreams: [{ event: { x: 1 } }]\n")
        #expect(e.count == 1)
        #expect(e.first?.hasPrefix("1:1: the document holds more than 1000000 values once its aliases are expanded") == true)
    }

    @Test func aNulByteIsReportedWhereItIs() {
        let e = loadErrors("scenario: nul\nstreams:\n  - event:\n      x: \"a\u{0}b\"\n")
        #expect(e == ["4:12: cannot read YAML: control characters are not allowed (byte 0x00)"])
    }
}
