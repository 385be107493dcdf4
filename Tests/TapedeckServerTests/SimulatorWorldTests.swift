import Foundation
import Testing
import TapedeckCore
import TapedeckScenario
import TapedeckServer
import TapedeckProtocol
import OrderedCollections

/// A scenario can name its own profile file by path, relative to the scenario.
@Suite("Simulator world")
struct SimulatorWorldTests {
    @Test func aProfileFileNextToTheScenario() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-world-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            profile: echo
            endpoints: [/echo]
            on:
              - when: { type: hello }
                reply: { type: hi }
            """.write(to: dir.appendingPathComponent("echo.yaml"), atomically: true, encoding: .utf8)
        try """
            scenario: custom
            profile: ./echo.yaml
            entities: { users: [ann] }
            streams:
              - name: ticks
                every: 1s
                count: 2
                event: { type: tick }
            """.write(to: dir.appendingPathComponent("custom.yaml"), atomically: true, encoding: .utf8)
        let scenario = try ScenarioLoader().load(file: dir.appendingPathComponent("custom.yaml").path)
        let world = try SimulatorWorld(scenarios: [scenario])
        #expect(world.profileOrder == ["echo"])
        #expect(world.entry(for: "./echo.yaml")?.profile.endpoints.map(\.path) == ["/echo"])
        #expect(world.entry(for: "./echo.yaml")?.entities == ["users": ["ann"]])
    }

    @Test func aMissingProfileIsAClearError() throws {
        let scenario = try ScenarioLoader().load(text: "scenario: s\nprofile: nope-profile\nstreams: []\n", file: "s.yaml")
        #expect(throws: ScenarioErrors.self) { try SimulatorWorld(scenarios: [scenario]) }
    }

    @Test func eventsThatTheProtobufSchemaRejectsAreReportedWithTheirPath() throws {
        let text = """
            scenario: bad-types
            profile: workitems-protobuf
            entities: { projects: { project-1: { tenant: acme } } }
            streams:
              - name: good
                event: { scope: { project: project-1 }, payload: { userTyping: { userId: u1, isTyping: true } } }
              - name: wrong-type
                at: 1s
                event: { scope: { project: project-1 }, payload: { workItemCreated: { workItem: { id: t1, storyPoints: lots } } } }
              - name: unknown-field
                at: 2s
                event: { scope: { project: project-1 }, payload: { userTyping: { userId: u1, colour: blue } } }
            """
        let world = try SimulatorWorld(scenarios: [try ScenarioLoader().load(text: text, file: "bad.yaml")])
        let errors = world.renderErrors().map(\.description)
        #expect(errors.count == 2)
        #expect(errors.contains { $0.hasPrefix("bad.yaml:7:5: stream 'wrong-type'") && $0.contains("workItemCreated.workItem.storyPoints: expected") })
        #expect(errors.contains { $0.hasPrefix("bad.yaml:10:5: stream 'unknown-field'") && $0.hasSuffix("userTyping.colour: unknown field") })
    }

    @Test func anEntityWithoutAFieldItsProfileRequiresIsReportedAtTheEntity() throws {
        let scenario = try ScenarioLoader().load(text: """
            scenario: typo
            profile: jobs-live-tail
            entities:
              jobs:
                job-ok: { tenant_id: acme }
                job-typo: { tenant: acme }
                job-open: { tenant_id: "*" }
            streams:
              - { event: { type: job_progress, tenant_id: acme, payload: { job_id: job-ok } } }
            """, file: "typo.yaml")
        let errors = try SimulatorWorld(scenarios: [scenario]).requirementErrors()
        #expect(errors.count == 1)
        #expect(errors.first?.location == SourceLocation(file: "typo.yaml", line: 6, column: 5))
        #expect(errors.first?.message.contains("jobs 'job-typo' has no 'tenant_id'") == true)
        #expect(errors.first?.message.contains("is 'tenant' meant to be 'tenant_id'?") == true)
    }

    @Test func aJobIsOpenToEveryTenantOnlyWhenItSaysSo() throws {
        let profile = try ProfileLoader().load("jobs-live-tail")
        let entities: Value = ["jobs": ["job-open": ["tenant_id": "*"], "job-typo": ["tenant": "acme"]]]
        var e = ConnectionEngine(profile: profile, conn: ["user": "u", "tenant": "globex", "claims": [:]], entities: entities, settings: [:], now: 0)
        _ = e.start(wallTime: 0)
        let open = #"{"type":"subscribe_job_progress","payload":{"job_id":"job-open"}}"#
        #expect(e.receive(.message(try Value(json: open), raw: open), now: 1, wallTime: 1) == [])
        let typo = #"{"type":"subscribe_job_progress","payload":{"job_id":"job-typo"}}"#
        guard case .send(let reply) = e.receive(.message(try Value(json: typo), raw: typo), now: 2, wallTime: 2).first else {
            Issue.record("a job without an owner was subscribed")
            return
        }
        #expect(reply["payload"]?["code"] == "subscription_failed")
    }

    @Test func anEventWithoutAFieldItsProfileRequiresIsReportedAtTheTypo() throws {
        let scenario = try ScenarioLoader().load(text: """
            scenario: typo
            profile: jobs-live-tail
            entities: { jobs: { job-1: { tenant_id: acme } } }
            streams:
              - name: tail
                every: 1s
                count: 5
                event:
                  type: live_tail_entry
                  tenant: acme
                  payload: { job_id: job-1 }
              - name: open
                event: { type: live_tail_entry, tenant_id: "*", payload: { job_id: job-1 } }
              - name: no-job
                event: { type: live_tail_entry, tenant_id: acme, payload: { entry: {} } }
            """, file: "typo.yaml")
        let errors = try SimulatorWorld(scenarios: [scenario]).requirementErrors()
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.first?.location == SourceLocation(file: "typo.yaml", line: 10, column: 15))
        #expect(errors.first?.message == "stream 'tail', event 1 has no 'tenant_id', which profile jobs-live-tail requires; is 'tenant' meant to be 'tenant_id'? (and 4 more of the events checked)")
        #expect(errors.last?.message.hasPrefix("stream 'no-job', event 1 has no 'payload.job_id'") == true)
        // At the part of the path that is there.
        #expect(errors.last?.location.line == 15)
    }

    @Test func anEventReachesEveryTenantOnlyWhenItSaysSo() throws {
        let profile = try ProfileLoader().load("jobs-live-tail")
        let entities: Value = ["jobs": ["job-1": ["tenant_id": "*"]]]
        var e = ConnectionEngine(profile: profile, conn: ["user": "u", "tenant": "globex", "claims": [:]], entities: entities, settings: [:], now: 0)
        _ = e.start(wallTime: 0)
        let subscribe = #"{"type":"subscribe_job_progress","payload":{"job_id":"job-1"}}"#
        #expect(e.receive(.message(try Value(json: subscribe), raw: subscribe), now: 1, wallTime: 1) == [])
        let open: Value = ["type": "job_progress", "tenant_id": "*", "payload": ["job_id": "job-1"]]
        let ownerless: Value = ["type": "job_progress", "tenant": "globex", "payload": ["job_id": "job-1"]]
        let other: Value = ["type": "job_progress", "tenant_id": "acme", "payload": ["job_id": "job-1"]]
        #expect(e.acceptingSubscription(event: open, topic: "progress") != nil)
        #expect(e.acceptingSubscription(event: ownerless, topic: "progress") == nil)
        #expect(e.acceptingSubscription(event: other, topic: "progress") == nil)
    }

    @Test func aProblemIsReportedOnceWithTheCountOfEventsItAffects() throws {
        let scenario = try ScenarioLoader().load(text: """
            scenario: noisy
            profile: ops-control-center
            streams:
              - name: bad
                every: 1s
                count: 50
                event: { type: incident, action: created, data: { severity: "{{ weighted({critical: 'x'}) }}" } }
              - name: good
                every: 1s
                count: 50
                event: { type: metric, action: updated, data: { value: 1 } }
            """, file: "noisy.yaml")
        let errors = try SimulatorWorld(scenarios: [scenario]).renderErrors()
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.message.hasPrefix("stream 'bad', event 1, field 'data.severity': weighted()") == true)
        // At the field's expression, not at the stream.
        #expect(errors.first?.location.line == 7)
        #expect(errors.first?.location.column == 66)
        #expect(errors.first?.message.hasSuffix("(and 49 more of the events checked)") == true)
    }
}
