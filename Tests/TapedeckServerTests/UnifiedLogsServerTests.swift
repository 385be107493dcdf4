import Foundation
import HTTPTypes
import OrderedCollections
import Testing
import TapedeckCore
import TapedeckServer

/// unified-logs end to end: the built-in profile over real sockets on 127.0.0.1.
@Suite("unified-logs over WebSocket")
struct UnifiedLogsServerTests {
    /// 120 past logs of alice and 3 of bob, then live logs of both and job events.
    static func scenario(settings: String = "{}") -> String {
        var past = ""
        for i in 1...120 {
            past += "    - { type: log, log: { id: a\(i), timestamp: \"2024-01-01T08:00:00.000Z\", userId: alice, emailAccountId: acct-a, level: info, command: FETCH, data: { raw: x, parsed: {}, response: OK, duration: \(i), error: null } } }\n"
            if i % 40 == 0 {
                past += "    - { type: log, log: { id: b\(i), timestamp: \"2024-01-01T08:00:00.000Z\", userId: bob, emailAccountId: acct-b, level: info, command: NOOP, data: { raw: x, parsed: {}, response: OK, duration: 1, error: null } } }\n"
            }
        }
        return """
            scenario: ul
            profile: unified-logs
            seed: 1
            start: 2024-01-01T09:00:00Z
            settings: \(settings)
            entities:
              sessions:
                sess-alice: { userId: alice }
                sess-bob: { userId: bob }
                sess-old: { userId: alice, expires_at: "2020-01-01T00:00:00Z" }
              past_logs:
            \(past)
            streams:
              - name: alice
                at: 200ms
                every: 50ms
                count: 30
                event:
                  type: log
                  log: { id: "live-a{{ seq() }}", timestamp: "{{ now() }}", userId: alice, emailAccountId: acct-a, level: info, command: FETCH, data: { raw: x, parsed: {}, response: OK, duration: 3, error: null } }
              - name: bob
                at: 200ms
                every: 50ms
                count: 30
                event:
                  type: log
                  log: { id: "live-b{{ seq() }}", timestamp: "{{ now() }}", userId: bob, emailAccountId: acct-b, level: info, command: NOOP, data: { raw: x, parsed: {}, response: OK, duration: 3, error: null } }
              - name: jobs
                at: 250ms
                every: 200ms
                count: 5
                event:
                  type: job-event
                  channel: jobs
                  data: { jobId: "job-{{ seq() }}", status: completed, userId: alice }
            """
    }

    static func cookie(_ v: String, name: String = "better-auth.session_token") -> HTTPFields { [.cookie: "\(name)=\(v)"] }

    @Test func noValidSessionGets401() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: [:]).status == 401)
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: ["Cookie": "better-auth.session_token=nope"]).status == 401)
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: ["Cookie": "better-auth.session_token=sess-old"]).status == 401)
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: ["Cookie": "other=1; better-auth.session_token=sess-alice"]).status == 101)
            // A signed better-auth value: "<token>.<signature>".
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: ["Cookie": "better-auth.session_token=sess-alice.c2lnbmF0dXJl"]).status == 101)
        }
    }

    @Test func theCookieNameComesFromTheSettings() async throws {
        try await withSimulator(scenario: Self.scenario(settings: "{ session_cookie: sid }")) { port async throws in
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: ["Cookie": "better-auth.session_token=sess-alice"]).status == 401)
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: ["Cookie": "sid=sess-alice"]).status == 101)
        }
    }

    @Test func initialLogsAreTheUsersLast100AndLiveLogsAreScopedToTheUser() async throws {
        try await withSimulator(scenario: Self.scenario(), configure: { $0.startGrace = 2 }) { port async throws in
            let run = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c in
                var jobs = 0
                let values = try await c.collect { v in
                    if v["type"] == "job-event" { jobs += 1 }
                    return jobs == 3
                }
                try await c.close()
                return values
            }
            let values = try #require(run.value)
            let initial = try #require(values.first)
            #expect(initial["type"] == "initial-logs")
            #expect(initial.objectValue.map { Array($0.keys) } == ["type", "logs", "timestamp"])
            let ids = initial["logs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
            #expect(ids == (21...120).map { "a\($0)" })
            let logs = values.filter { $0["type"] == "log" }
            #expect(!logs.isEmpty)
            #expect(logs.allSatisfy { $0["log"]?["userId"] == "alice" })
            #expect(logs.first?.objectValue.map { Array($0.keys) } == ["type", "log", "timestamp"])
            let jobs = values.filter { $0["type"] == "job-event" }
            #expect(jobs.allSatisfy { $0["channel"] == "jobs" && $0["data"]?["jobId"] != nil })
            #expect(jobs.first?.objectValue.map { Array($0.keys) } == ["type", "channel", "data", "timestamp"])
        }
    }

    @Test func channelsDefaultToAllAndSubscribingNarrowsAfterLeavingAll() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1)) { port async throws in
            let run = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c in
                _ = try await c.next(type: "initial-logs")
                try await c.send(#"{"type":"unsubscribe","channel":"all"}"#)
                try await c.send(#"{"type":"subscribe","channel":"jobs"}"#)
                try await c.send(#"{"type":"ping"}"#)
                _ = try await c.collect { $0["type"] == "pong" }
                var jobs = 0
                let values = try await c.collect { v in
                    if v["type"] == "job-event" { jobs += 1 }
                    return jobs == 3
                }
                try await c.close()
                return values
            }
            let values = try #require(run.value)
            #expect(values.allSatisfy { $0["type"] == "job-event" })
        }
    }

    @Test func clearLogsReallyClearsTheUsersHistory() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let first = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c in
                let initial = try await c.next(type: "initial-logs")
                try await c.send(#"{"type":"clear-logs"}"#)
                let cleared = try await c.next(type: "logs-cleared")
                try await c.close()
                return [initial ?? .null, cleared ?? .null]
            }
            #expect(first.value?.first?["logs"]?.arrayValue?.count == 100)
            #expect(first.value?.last?.objectValue.map { Array($0.keys) } == ["type", "timestamp"])
            let again = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c in
                let v = try await c.next(type: "initial-logs")
                try await c.close()
                return v
            }
            #expect((again.value ?? nil)?["logs"] == [])
            // Bob's history is his own and untouched.
            let bob = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-bob")) { c in
                let v = try await c.next(type: "initial-logs")
                try await c.close()
                return v
            }
            #expect((bob.value ?? nil)?["logs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == ["b40", "b80", "b120"])
        }
    }

    @Test func logsPlayedByTheSharedTimelineJoinTheHistory() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared, configure: { $0.startGrace = 2 }) { port async throws in
            let run = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c in
                var live: [String] = []
                _ = try await c.collect { v in
                    if v["type"] == "log", let id = v["log"]?["id"]?.stringValue { live.append(id) }
                    return live.count == 3
                }
                let later = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c2 in
                    let v = try await c2.next(type: "initial-logs")
                    try await c2.close()
                    return v?["logs"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
                }
                try await c.close()
                return [live, later.value ?? []]
            }
            let parts = try #require(run.value)
            #expect(parts[1].count == 100)
            #expect(parts[1].contains(parts[0][2]))
            #expect(!parts[1].contains { $0.hasPrefix("live-b") })
        }
    }

    @Test func invalidRequestsGetAnErrorWithAMessage() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let run = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c in
                _ = try await c.next(type: "initial-logs")
                try await c.send("not json")
                try await c.send(#"{"type":"dance"}"#)
                try await c.send(#"{"type":"subscribe"}"#)
                try await c.send(#"{"type":"ping"}"#)
                let values = try await c.collect { $0["type"] == "pong" }.filter { $0["type"] != "log" && $0["type"] != "job-event" }
                try await c.close()
                return values
            }
            #expect(run.value == [
                ["type": "error", "error": "Invalid message format"],
                ["type": "error", "error": "Unknown message type: dance"],
                ["type": "error", "error": "Channel is required"],
                ["type": "pong"],
            ])
        }
    }

    @Test func shutdownSendsACloseFrame() async throws {
        let box = ResultBox<Int>()
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let (ready, signal) = AsyncStream<Void>.makeStream()
            Task {
                let run = try await withClient(port: port, path: "/ws", headers: Self.cookie("sess-alice")) { c in
                    _ = try await c.next(type: "initial-logs")
                    signal.yield()
                    _ = try await c.collect { _ in false }
                    return 0
                }
                await box.set(run.closeCode ?? 0)
            }
            var it = ready.makeAsyncIterator()
            _ = await it.next()
        }
        for _ in 0..<100 where await box.value == nil { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await box.value == 1001)
    }
}

/// `/ws` shared by two profiles (unified-logs and a Bearer-authenticated one, as in the demo with
/// workitems-protobuf): the credentials decide which profile answers.
@Suite("A path shared by two profiles")
struct SharedPathTests {
    @Test func theSessionCookieGoesToUnifiedLogsAndABearerTokenToTheOther() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-shared-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let profile = dir.appendingPathComponent("bearer-ws.yaml")
        try """
            profile: bearer-ws
            endpoints: [/ws]
            auth:
              credentials:
                - bearer: jwt
            on_connect:
              reply: { hello: bearer }
            """.write(to: profile, atomically: true, encoding: .utf8)
        let other = """
            scenario: other
            profile: \(profile.path)
            streams:
              - name: nothing
                at: 1h
                event: { x: 1 }
            """
        try await withSimulator(scenario: UnifiedLogsServerTests.scenario(), extra: [other]) { port async throws in
            let cookie = try await rawUpgrade(port: port, path: "/ws", headers: ["Cookie": "better-auth.session_token=sess-alice"])
            #expect(cookie.status == 101)
            let jwt = try await token(["sub": "u"])
            let bearer = try await withClient(port: port, path: "/ws", headers: [.authorization: "Bearer \(jwt)"]) { c in
                let v = try await c.next()
                try await c.close()
                return v
            }
            #expect((bearer.value ?? nil)?["hello"] == "bearer")
            let alice = try await withClient(port: port, path: "/ws", headers: UnifiedLogsServerTests.cookie("sess-alice")) { c in
                let v = try await c.next()
                try await c.close()
                return v
            }
            #expect((alice.value ?? nil)?["type"] == "initial-logs")
            // Neither credential: the first profile (unified-logs) refuses with 401.
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: [:]).status == 401)
        }
    }
}
