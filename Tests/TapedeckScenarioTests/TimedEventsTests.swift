import Testing
import TapedeckCore
import TapedeckScenario

/// `events:` lists literal events, each at its own time: what a scenario made from a recording uses.
@Suite("Timed event lists")
struct TimedEventsTests {
    func load(_ text: String) throws -> Scenario { try ScenarioLoader().load(text: text, file: "t.yaml") }

    func problems(_ text: String) -> [String] {
        do throws(ScenarioErrors) {
            _ = try ScenarioLoader().load(text: text, file: "t.yaml")
            return []
        } catch {
            return error.errors.map { "\($0.location.line):\($0.location.column): \($0.message)" }
        }
    }

    @Test func eventsPlayAtTheirOwnTimesMergedWithOtherStreams() throws {
        let s = try load("""
            scenario: x
            profile: ops-control-center
            streams:
              - name: incidents
                events:
                  - at: 0.25s
                    event: {type: incident, data: {id: inc-1}}
                  - at: 1.5s
                    event: {type: incident, data: {id: inc-2, n: "{{ seq() }}"}}
                  - at: 1.5s
                    event: {type: incident, data: {id: inc-3}}
              - name: tick
                at: 1s
                event: {type: metric}
            """)
        let events = try Timeline(scenario: s).prefix(10)
        #expect(events.map(\.time) == [0.25, 1, 1.5, 1.5])
        #expect(events.map(\.stream) == ["incidents", "tick", "incidents", "incidents"])
        #expect(events[2].value == ["type": "incident", "data": ["id": "inc-2", "n": 2]])
        #expect(events[3].value["data"]?["id"] == "inc-3")
    }

    @Test func offsetsCountFromTheStreamsStartAndLoopsRepeatThem() throws {
        let s = try load("""
            scenario: x
            profile: ops-control-center
            loop: true
            streams:
              - name: later
                at: 10s
                events:
                  - { at: 0s, event: {n: 1} }
                  - { at: 2s, event: {n: 2} }
            """)
        let events = try Timeline(scenario: s).prefix(4)
        // The loop restarts after the longest stream: at 10s + 12s.
        #expect(events.map(\.time) == [10, 12, 22, 24])
        #expect(events.map { $0.value["n"] } == [1, 2, 1, 2])
    }

    @Test func aStreamCanStartAfterAnEventList() throws {
        let s = try load("""
            scenario: x
            profile: ops-control-center
            streams:
              - name: first
                events: [{ at: 3s, event: {n: 1} }]
              - name: second
                after: first
                event: {n: 2}
            """)
        #expect(try Timeline(scenario: s).prefix(5).map(\.time) == [3, 3])
    }

    @Test func mistakesAreReportedWhereTheyAre() {
        #expect(problems("""
            scenario: x
            streams:
              - name: a
                events:
                  - { at: 2s, event: {n: 1} }
                  - { at: 1s, event: {n: 2} }
            """) == ["6:15: event 2 of 'events' is at 1s, before the previous one (2s); list events in time order"])
        #expect(problems("""
            scenario: x
            streams:
              - name: a
                every: 1s
                events: [{ at: 1s, event: {} }]
            """) == ["4:12: a stream with 'events' (a list of timed events) cannot also have 'every'"])
        #expect(problems("""
            scenario: x
            streams:
              - name: a
                events: [{ event: {} }, { at: 1s, evnt: {} }]
            """) == [
                "4:14: event 1 of 'events' needs 'at' (its offset from the stream's start)",
                "4:39: unknown key 'evnt' in an item of 'events'; did you mean 'event'?",
                "4:29: event 2 of 'events' needs 'event' (a template)",
            ])
        #expect(problems("""
            scenario: x
            streams:
              - name: a
                events: []
            """) == ["4:13: 'events' is empty; give at least one {at, event}"])
    }
}
