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
}
