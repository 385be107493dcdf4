import TapedeckCore
import TapedeckScenario
import Testing

/// `faults:` with `on_message`: read from the scenario, and which client messages set them off.
@Suite("Faults set off by a client message")
struct FaultTriggerTests {
    static let scenario = """
        scenario: t
        profile: ops-control-center
        streams:
          - name: s
            every: 1s
            event: { type: metric }
        faults:
          - { at: 5s, kind: reset }
          - { on_message: { action: subscribe, filter: { squad: platform } }, kind: close, code: 4002 }
        """

    @Test("an on_message fault is kept apart from the timed ones and matches by its fields")
    func matching() throws {
        let s = try ScenarioLoader().load(text: Self.scenario, file: "t.yaml")
        let triggered = try #require(s.faults.first { $0.onMessage != nil })
        #expect(s.faults.filter { $0.onMessage == nil }.map(\.at) == [5])
        #expect(triggered.spec["code"] == .int(4002))
        let matching = try Value(json: #"{"action":"subscribe","topics":["incidents"],"filter":{"squad":"platform","severity":"high"}}"#)
        #expect(triggered.isTriggered(by: matching))
        for json in [
            #"{"action":"subscribe"}"#, #"{"action":"unsubscribe","filter":{"squad":"platform"}}"#,
            #"{"action":"subscribe","filter":{"squad":"payments"}}"#, #"["action","subscribe"]"#, #""subscribe""#,
        ] {
            #expect(!triggered.isTriggered(by: try Value(json: json)), "\(json)")
        }
    }

    @Test("a fault with both 'at' and 'on_message', or neither, is reported at its place")
    func mistakes() {
        let text = """
            scenario: t
            streams: []
            faults:
              - { at: 1s, on_message: { action: ping }, kind: reset }
              - { kind: reset }
              - { on_message: [ping], kind: reset }
            """
        do {
            _ = try ScenarioLoader().load(text: text, file: "f.yaml")
            Issue.record("expected errors")
        } catch {
            let messages = error.errors.map(\.description)
            #expect(messages.contains { $0.hasPrefix("f.yaml:4:27: fault 1 has both 'at' and 'on_message'") })
            #expect(messages.contains { $0.hasPrefix("f.yaml:5:5: fault 2 needs 'at'") && $0.contains("'on_message'") })
            #expect(messages.contains { $0.hasPrefix("f.yaml:6:19: expected 'on_message' to be a mapping") })
        }
    }
}
