import Foundation
import OrderedCollections
import Testing
import TapedeckCore
import TapedeckServer

/// `/_tapedeck/scenarios`: load a scenario into the shared timeline of a running server (checked as
/// `tapedeck validate` checks it), and unload it.
@Suite("Control API: scenarios")
struct ControlAPIScenarioTests {
    static let extra = """
        scenario: extra
        profile: ops-control-center
        seed: 2
        streams:
          - name: x
            every: 1s
            count: 50
            event: { type: incident, action: created, data: { id: "x-{{ seq() }}" } }
        """

    @Test(.timeLimit(.minutes(1))) func aLoadedScenarioPlaysOnTheSharedTimelineUntilItIsUnloaded() async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: ControlAPITests.scenario(), speed: .factor(1), timeline: .shared, clock: clock) { port in
            let headers = try await ControlAPITests.bearer("qa", clock: clock)
            let (ids, got) = AsyncStream<String>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: headers) { client in
                defer { got.finish() }
                try await client.send(#"{"action":"ping"}"#)
                while let m = try await client.next() {
                    if let n = m["data"]?["seq"]?.intValue { got.yield("seq-\(n)") }
                    if let id = m["data"]?["id"]?.stringValue {
                        got.yield(id)
                        if id == "marker" { break }
                    }
                }
                return true
            }
            var it = ids.makeAsyncIterator()
            #expect(await it.next() == "seq-1")
            let before = try await http(port: port, "GET", "/_tapedeck/scenarios").json
            #expect(before?["scenarios"]?.arrayValue?.map { $0["name"] } == ["control"], "\(before ?? .null)")
            #expect(before?["scenarios"]?[0]?["paths"] == ["/api/ws"])
            let body = Value.object(["yaml": .string(Self.extra)]).jsonString
            let loaded = try await http(port: port, "POST", "/_tapedeck/scenarios", body: body)
            #expect(loaded.status == 200, "\(loaded.body)")
            #expect(loaded.json?["name"] == "extra")
            #expect(loaded.json?["streams"] == ["x"])
            #expect(loaded.json?["starts_at"]?.doubleValue == 0)
            // Its first event is at its time 0: now.
            #expect(await it.next() == "x-1")
            clock.advance(by: .seconds(1))
            #expect(await it.next() == "x-2")
            #expect(try await http(port: port, "GET", "/_tapedeck/scenarios").json?["scenarios"]?.arrayValue?.count == 2)
            let gone = try await http(port: port, "DELETE", "/_tapedeck/scenarios/extra")
            #expect(gone.status == 200, "\(gone.body)")
            #expect(gone.json?["unloaded"] == true)
            // Five seconds later nothing more of it came: the marker is next.
            clock.advance(by: .seconds(5))
            _ = try await http(port: port, "POST", "/_tapedeck/emit", body: #"{"event":{"type":"incident","action":"created","data":{"id":"marker"}}}"#)
            #expect(await it.next() == "marker")
            #expect(try await http(port: port, "DELETE", "/_tapedeck/scenarios/extra").status == 404)
            _ = try await run
        }
    }

    @Test(.timeLimit(.minutes(1))) func aBadScenarioIsRefusedWithTheValidatorsMessagesAndChangesNothing() async throws {
        try await withSimulator(scenario: ControlAPITests.scenario(), speed: .factor(1), timeline: .shared) { port in
            let bad = Value.object(["yaml": .string("scenario: bad\nprofile: ops-control-center\nstreams:\n  - name: s\n    every: often\n    event: {}\n")]).jsonString
            let r = try await http(port: port, "POST", "/_tapedeck/scenarios", body: bad)
            #expect(r.status == 422, "\(r.body)")
            #expect(r.json?["error"] == "invalid_scenario")
            let problem = r.json?["problems"]?[0]
            #expect(problem?["file"] == "request.yaml")
            #expect(problem?["line"] == 5, "\(r.body)")
            #expect(r.json?["message"]?.stringValue?.hasPrefix("request.yaml:5:") == true, "\(r.body)")
            // A profile this server does not serve: its endpoints would not be routed.
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../scenarios/jobs-live-tail/quick-check.yaml").standardizedFileURL.path
            let other = Value.object(["path": .string(file)]).jsonString
            let o = try await http(port: port, "POST", "/_tapedeck/scenarios", body: other)
            #expect(o.status == 409, "\(o.body)")
            #expect(o.json?["error"] == "profile_not_served")
            let missing = try await http(port: port, "POST", "/_tapedeck/scenarios", body: #"{"path":"/no/such/file.yaml"}"#)
            #expect(missing.status == 422)
            #expect(try await http(port: port, "POST", "/_tapedeck/scenarios", body: #"{}"#).status == 400)
            let same = Value.object(["yaml": .string(ControlAPITests.scenario())]).jsonString
            #expect(try await http(port: port, "POST", "/_tapedeck/scenarios", body: same).json?["error"] == "scenario_loaded")
            #expect(try await http(port: port, "GET", "/_tapedeck/scenarios").json?["scenarios"]?.arrayValue?.count == 1)
        }
    }
}
