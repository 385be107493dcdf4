import Testing
import TapedeckScenario

/// The `tests:` section: steps are read with their locations, mistakes are reported where they are.
@Suite("Scenario tests section")
struct TestsSectionTests {
    static let header = """
        scenario: t
        profile: ops-control-center
        streams:
          - name: s
            every: 1s
            event: { type: incident }
        tests:

        """

    func errors(_ tests: String) -> [String] {
        do {
            _ = try ScenarioLoader().load(text: Self.header + tests, file: "t.yaml")
            return []
        } catch {
            return error.errors.map { "\($0.location.line):\($0.location.column): \($0.message)" }
        }
    }

    @Test func stepsAreReadInOrderWithTheirLines() throws {
        let s = try ScenarioLoader().load(
            text: Self.header + """
                  - name: ping
                    connect: { path: /api/ws, headers: { Authorization: "Bearer {{ token(sub: 'qa') }}" } }
                    steps:
                      - send: { action: ping }
                      - expect: { action: pong }
                        within: 2s
                        capture: { at: $.timestamp }
                      - expect_none: { action: pong, timestamp: "{{ at }}" }
                        as: main
                        during: 1m
                      - expect_close: 1001
                      - connect: /api/ws
                        as: bob
                      - expect_status: 401
                        as: bob
                        body: { error: Unauthorized }
                """, file: "t.yaml")
        let test = try #require(s.tests.first)
        #expect(test.name == "ping")
        #expect(test.location.line == 8)
        #expect(test.steps.map(\.keyword) == ["connect", "send", "expect", "expect_none", "expect_close", "connect", "expect_status"])
        #expect(test.steps.map(\.location.line) == [9, 11, 12, 15, 18, 19, 21])
        #expect(test.steps.map(\.connection) == ["main", "main", "main", "main", "main", "bob", "bob"])
        guard case .expect(_, let within, let captures) = test.steps[2].kind else { Issue.record("not an expect"); return }
        #expect(within == 2)
        #expect(captures.map(\.name) == ["at"])
        guard case .expectNone(_, let during) = test.steps[3].kind else { Issue.record("not an expect_none"); return }
        #expect(during == 60)
        guard case .expectClose(let code, _) = test.steps[4].kind else { Issue.record("not an expect_close"); return }
        #expect(code == 1001)
    }

    @Test func unknownStepKeyIsReportedWithASuggestion() {
        #expect(
            errors("""
                  - name: a
                    steps:
                      - expct: { action: pong }
                """) == ["10:9: unknown key 'expct' in a test step; did you mean 'expect'?"])
    }

    @Test func aModifierThatDoesNotApplyIsReported() {
        #expect(
            errors("""
                  - name: a
                    steps:
                      - send: { action: ping }
                        within: 1s
                """) == ["11:9: 'within' does not apply to 'send'; it takes: as"])
    }

    @Test func aCaptureIsOnlyKnownAfterItsStep() {
        #expect(
            errors("""
                  - name: a
                    steps:
                      - send: { id: "{{ corr }}" }
                      - expect: { id: { exists: true } }
                        capture: { corr: $.id }
                      - send: { id: "{{ corr }}" }
                """) == ["10:25: unknown name 'corr'; names here are: entities, settings, vars"])
    }

    @Test func missingPartsAreNamed() {
        #expect(
            errors("""
                  - name: a
                    steps:
                      - expect_count: { type: incident }
                      - expect_close: soon
                      - connect: { headers: {} }
                  - steps: []
                """) == [
                    "10:9: 'expect_count' needs 'count': a number, or a comparison such as {gte: 2}",
                    "11:23: expected the close code of 'expect_close' to be an integer, found 'soon'",
                    "12:18: missing key 'path' in 'connect' (the WebSocket path, such as /ws)",
                    "13:5: missing key 'name' in a test",
                ])
    }

    @Test func httpStepsAreReadWithTheirModifiers() throws {
        let s = try ScenarioLoader().load(
            text: Self.header + """
                  - name: rest
                    steps:
                      - http: { method: post, path: /api/v1/activity, query: { since: 0 }, body: { a: 1 } }
                        status: 201
                        response: { count: { gte: 1 } }
                        capture: { n: $.count }
                      - send: { seen: "{{ n }}" }
                """, file: "t.yaml")
        let step = try #require(s.tests.first?.steps.first)
        guard case .http(let request, let status, let response, let captures) = step.kind else { Issue.record("not http"); return }
        #expect(request.method == "POST")
        #expect(request.body != nil && request.target.query != nil)
        #expect(status == 201)
        #expect(response != nil)
        #expect(captures.map(\.name) == ["n"])
        #expect(
            errors("""
                  - name: rest
                    steps:
                      - http: { method: FETCH, pth: / }
                        within: 1s
                """) == [
                    "11:9: 'within' does not apply to 'http'; it takes: status, response, capture",
                    "10:32: unknown key 'pth' in 'http'; did you mean 'path'?",
                    "10:25: expected 'method' to be GET, POST, PUT, PATCH, DELETE or HEAD, found 'FETCH'",
                    "10:15: missing key 'path' in 'http' (such as /api/v1/activity)",
                ])
    }
}
