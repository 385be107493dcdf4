import Foundation
import HTTPTypes
import NIOCore
import NIOPosix
import Testing
import TapedeckCore
import TapedeckProtocol
import TapedeckScenario
import TapedeckServer

/// The control API on a real server: `/_tapedeck/...`, a plain GET on a WebSocket path, `/metrics`.
@Suite("Control API, faults and metrics")
struct ControlAPITests {
    static func scenario(every: String = "1h", count: Int = 10) -> String {
        """
        scenario: control
        profile: ops-control-center
        seed: 1
        start: first-message
        streams:
          - name: m
            every: \(every)
            count: \(count)
            event: { type: metric, action: updated, data: { seq: "{{ seq() }}" } }
        """
    }

    static func bearer(_ user: String, clock: any SimulationClock = RealClock()) async throws -> HTTPFields {
        let jwt = try await Authenticator().mint(claims: ["sub": .string(user)], expiresIn: 3600, now: clock.wallTime)
        return [.authorization: "Bearer \(jwt)"]
    }

    @Test(.timeLimit(.minutes(1))) func aPlainGetOnAWebSocketPathAnswers426NamingTheProfile() async throws {
        try await withSimulator(scenario: Self.scenario()) { port in
            let a = try await http(port: port, "GET", "/api/ws")
            #expect(a.status == 426)
            #expect(a.header("upgrade") == "websocket")
            #expect(a.body.contains("ops-control-center"), "\(a.body)")
            #expect(try await http(port: port, "GET", "/no/such/path").status == 404)
        }
    }

    @Test(.timeLimit(.minutes(1))) func healthVersionAndConnectionsShowALiveClient() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared) { port in
            #expect(try await http(port: port, "GET", "/_tapedeck/health").json?["status"] == "ok")
            #expect(try await http(port: port, "GET", "/_tapedeck/version").json?["name"] == "tapedeck")
            let (ready, readyGo) = AsyncStream<Void>.makeStream()
            let (done, doneGo) = AsyncStream<Void>.makeStream()
            let headers = try await Self.bearer("alice")
            async let run = withClient(port: port, path: "/api/ws", headers: headers) { client in
                defer { readyGo.finish() }
                try await client.send(#"{"action":"subscribe","topics":["incidents"],"filters":{"squad":"platform"}}"#)
                try await client.send(#"{"action":"ping"}"#)
                _ = try await client.collect { $0["action"] == "pong" }
                readyGo.yield()
                for await _ in done { break }
                try await client.close()
                return true
            }
            for await _ in ready { break }
            let list = try await http(port: port, "GET", "/_tapedeck/connections").json?["connections"]?.arrayValue ?? []
            #expect(list.count == 1)
            let c = list.first ?? .null
            #expect(c["user"] == "alice")
            #expect(c["path"] == "/api/ws")
            #expect(c["profile"] == "ops-control-center")
            #expect(c["messages_received"] == 2)
            #expect((c["messages_sent"]?.intValue ?? 0) >= 1)
            #expect(c["subscriptions"]?.arrayValue?.contains { $0["topics"] == ["incidents"] } == true, "\(c)")
            #expect(c["connected_since"]?.stringValue?.isEmpty == false)
            #expect(try await http(port: port, "GET", "/_tapedeck/health").json?["connections"] == 1)
            doneGo.yield()
            _ = try await run
        }
    }

    @Test(.timeLimit(.minutes(1))) func aControlTokenIsRequiredWhenSetAndNoControlTurnsTheAPIOff() async throws {
        try await withSimulator(scenario: Self.scenario(), configure: { $0.controlToken = "s3cret" }) { port async throws in
            let without = try await http(port: port, "GET", "/_tapedeck/health")
            #expect(without.status == 401)
            #expect(without.json?["error"] == "unauthorized")
            #expect(try await http(port: port, "GET", "/_tapedeck/health", headers: ["Authorization": "Bearer wrong"]).status == 401)
            #expect(try await http(port: port, "GET", "/metrics").status == 401)
            #expect(try await http(port: port, "GET", "/_tapedeck/health", headers: ["Authorization": "Bearer s3cret"]).status == 200)
            #expect(try await http(port: port, "GET", "/metrics", headers: ["Authorization": "Bearer s3cret"]).status == 200)
        }
        try await withSimulator(scenario: Self.scenario(), configure: { $0.controlEnabled = false }) { port async throws in
            #expect(try await http(port: port, "GET", "/_tapedeck/health").status == 404)
            #expect(try await http(port: port, "POST", "/_tapedeck/timeline/pause", body: "{}").status == 404)
            #expect(try await http(port: port, "GET", "/metrics").status == 200)
        }
    }

    @Test(.timeLimit(.minutes(1))) func badInputGetsAClearError() async throws {
        try await withSimulator(scenario: Self.scenario()) { port in
            let notJSON = try await http(port: port, "POST", "/_tapedeck/emit", body: "{not json")
            #expect(notJSON.status == 400)
            #expect(notJSON.json?["error"] == "bad_request")
            #expect(notJSON.json?["message"]?.stringValue?.contains("not valid JSON") == true)
            let kind = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"explode"}"#)
            #expect(kind.status == 400)
            #expect(kind.json?["message"]?.stringValue?.contains("close, reset, refuse_upgrades, stall, drop, duplicate") == true, "\(kind.body)")
            let speed = try await http(port: port, "POST", "/_tapedeck/timeline/speed", body: #"{"speed":"fast"}"#)
            #expect(speed.status == 400)
            let code = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"close","code":1005}"#)
            #expect(code.status == 400)
            let selector = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"reset","to":{"squad":"x"}}"#)
            #expect(selector.status == 400)
            #expect(selector.json?["message"]?.stringValue?.contains("path, profile, user, tenant, connection") == true)
            // A browser form cannot post JSON without a preflight: text/plain is refused.
            let form = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"reset"}"#, contentType: "text/plain")
            #expect(form.status == 415)
        }
    }

    /// Pause, resume and speed on the manual clock: scenario time stands still while paused, no
    /// event is skipped, and a new speed applies from the moment it is set.
    @Test(.timeLimit(.minutes(1))) func pauseResumeAndSpeedSteerTheTimeline() async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: Self.scenario(every: "1s", count: 10), speed: .factor(1), timeline: .shared, clock: clock) { port in
            let headers = try await Self.bearer("qa", clock: clock)
            let (seqs, seen) = AsyncStream<Int>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: headers) { client in
                defer { seen.finish() }
                try await client.send(#"{"action":"ping"}"#)
                while let m = try await client.next() {
                    guard let n = m["data"]?["seq"]?.intValue else { continue }
                    seen.yield(n)
                    if n == 10 { break }
                }
                seen.finish()
                return true
            }
            var it = seqs.makeAsyncIterator()
            // The first event is due at once when the ping starts the timeline.
            #expect(await it.next() == 1)
            let paused = try await http(port: port, "POST", "/_tapedeck/timeline/pause").json
            #expect(paused?["paused"] == true)
            clock.advance(by: .seconds(10))
            let still = try await http(port: port, "GET", "/_tapedeck/timeline").json
            #expect(still?["scenario_time"]?.doubleValue == 0, "\(still ?? .null)")
            #expect(still?["events_sent"] == 1)
            #expect(try await http(port: port, "POST", "/_tapedeck/timeline/resume").json?["paused"] == false)
            clock.advance(by: .seconds(1))
            #expect(await it.next() == 2)
            #expect(try await http(port: port, "GET", "/_tapedeck/timeline").json?["scenario_time"]?.doubleValue == 1)
            // Twice as fast: the next event, one scenario second later, is due half a second later.
            #expect(try await http(port: port, "POST", "/_tapedeck/timeline/speed", body: #"{"speed":2}"#).json?["speed"]?.doubleValue == 2)
            clock.advance(by: .milliseconds(500))
            #expect(await it.next() == 3)
            #expect(try await http(port: port, "GET", "/_tapedeck/timeline").json?["scenario_time"]?.doubleValue == 2)
            // max: the rest at once, without moving the clock.
            #expect(try await http(port: port, "POST", "/_tapedeck/timeline/speed", body: #"{"speed":"max"}"#).json?["speed"] == "max")
            var rest: [Int] = []
            while let n = await it.next() { rest.append(n) }
            #expect(rest == Array(4...10))
            _ = try await run
        }
    }

    @Test(.timeLimit(.minutes(1))) func emitRoutesAnAdHocEventThroughTheProfileToTheSelectedUser() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared) { port in
            let (ready, readyGo) = AsyncStream<Void>.makeStream()
            func client(_ user: String) async throws -> ClientRun<[Value]> {
                try await withClient(port: port, path: "/api/ws", headers: try await Self.bearer(user)) { client in
                    do {
                        try await client.send(#"{"action":"ping"}"#)
                        _ = try await client.collect { $0["action"] == "pong" }
                    } catch {
                        readyGo.yield()
                        throw error
                    }
                    readyGo.yield()
                    // Up to the broadcast that every client gets last.
                    return try await client.collect { $0["data"]?["id"] == "to-all" }
                }
            }
            async let alice = client("alice")
            async let bob = client("bob")
            var it = ready.makeAsyncIterator()
            await it.next()
            await it.next()
            let ids = try await http(port: port, "GET", "/_tapedeck/connections").json?["connections"]?.arrayValue ?? []
            let aliceID = ids.first { $0["user"] == "alice" }?["id"]
            let one = try await http(
                port: port, "POST", "/_tapedeck/emit",
                body: #"{"event":{"type":"incident","action":"created","data":{"id":"to-alice","title":"{{ upper('db down') }}"}},"to":{"user":"alice"}}"#)
            #expect(one.status == 200, "\(one.body)")
            #expect(one.json?["delivered_to"] == .array([aliceID ?? .null]))
            let all = try await http(port: port, "POST", "/_tapedeck/emit", body: #"{"event":{"type":"incident","action":"created","data":{"id":"to-all"}}}"#)
            #expect(all.json?["delivered_to"]?.arrayValue?.count == 2)
            let a = try await alice.value ?? []
            let b = try await bob.value ?? []
            let aliceEvents = a.filter { $0["type"] == "incident" }
            #expect(aliceEvents.map { $0["data"]?["id"] } == ["to-alice", "to-all"])
            // Enveloped by the profile (type, action, data, timestamp) and templated.
            #expect(aliceEvents.first?["data"]?["title"] == "DB DOWN")
            #expect(aliceEvents.first?["timestamp"] != nil)
            #expect(b.filter { $0["type"] == "incident" }.map { $0["data"]?["id"] } == ["to-all"])
        }
    }

    @Test(.timeLimit(.minutes(1))) func closeFaultSendsTheCodeAndReason() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared) { port in
            let (ready, readyGo) = AsyncStream<Void>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: try await Self.bearer("alice")) { client in
                defer { readyGo.finish() }
                try await client.send(#"{"action":"ping"}"#)
                _ = try await client.collect { $0["action"] == "pong" }
                readyGo.yield()
                while try await client.next() != nil {}
                return true
            }
            for await _ in ready { break }
            let r = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"close","code":4012,"reason":"maintenance","to":{"user":"alice"}}"#)
            #expect(r.json?["connections"]?.arrayValue?.count == 1)
            #expect(try await run.closeCode == 4012)
        }
    }

    @Test(.timeLimit(.minutes(1))) func resetFaultDropsTheConnectionWithoutACloseFrame() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared) { port in
            let headers = try await Self.bearer("alice")
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
            var request = "GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            request += "Authorization: \(headers[.authorization] ?? "")\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            let (bytes, failure): ([UInt8], (any Error)?) = try await channel.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(string: request))
                var all: [UInt8] = []
                var it = inbound.makeAsyncIterator()
                // The 101 first, then the fault.
                while parseFrames(all) == nil, let chunk = try await it.next() { all += chunk.readableBytesView }
                let r = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"reset"}"#)
                #expect(r.json?["connections"]?.arrayValue?.count == 1)
                do {
                    while let chunk = try await it.next() { all += chunk.readableBytesView }
                    return (all, nil)
                } catch {
                    return (all, error)
                }
            }
            #expect(parseFrames(bytes)?.contains { $0.opcode == 8 } == false, "a reset sends no close frame")
            let reset = failure.map { "\($0)".contains("reset") || "\($0)".contains("104") } ?? false
            #expect(reset, "the client sees a connection reset, got \(failure.map { "\($0)" } ?? "a clean end of stream")")
        }
    }

    @Test(.timeLimit(.minutes(1))) func refuseUpgradesAnswersTheStatusUntilTheTimeIsUp() async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared, clock: clock) { port in
            let auth = try await Self.bearer("alice", clock: clock)[.authorization] ?? ""
            let r = try await http(
                port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"refuse_upgrades","seconds":30,"status":429,"retry_after":7,"to":{"path":"/api/ws"}}"#)
            #expect(r.status == 200, "\(r.body)")
            let refused = try await rawUpgrade(port: port, path: "/api/ws", headers: ["Authorization": auth])
            #expect(refused.status == 429)
            #expect(refused.head.contains { $0.lowercased() == "retry-after: 7" }, "\(refused.head)")
            clock.advance(by: .seconds(30))
            #expect(try await rawUpgrade(port: port, path: "/api/ws", headers: ["Authorization": auth]).status == 101)
            let metrics = try await http(port: port, "GET", "/metrics").body
            #expect(metrics.contains(#"tapedeck_upgrades_refused_total{status="429"} 1"#), "\(metrics)")
        }
    }

    @Test(.timeLimit(.minutes(1))) func stallHoldsFramesInTheQueueUntilTheStallEnds() async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared, clock: clock) { port in
            let (ready, readyGo) = AsyncStream<Void>.makeStream()
            let (ids, got) = AsyncStream<String>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: try await Self.bearer("alice", clock: clock)) { client in
                defer {
                    readyGo.finish()
                    got.finish()
                }
                try await client.send(#"{"action":"ping"}"#)
                _ = try await client.collect { $0["action"] == "pong" }
                readyGo.yield()
                while let m = try await client.next() {
                    guard let id = m["data"]?["id"]?.stringValue else { continue }
                    got.yield(id)
                    if id == "after" { break }
                }
                return true
            }
            for await _ in ready { break }
            var it = ids.makeAsyncIterator()
            let event = { (id: String) in #"{"event":{"type":"incident","action":"created","data":{"id":"\#(id)"}}}"# }
            _ = try await http(port: port, "POST", "/_tapedeck/emit", body: event("before"))
            #expect(await it.next() == "before")
            let stall = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"stall","seconds":5}"#)
            #expect(stall.json?["connections"]?.arrayValue?.count == 1)
            #expect(try await http(port: port, "POST", "/_tapedeck/emit", body: event("after")).json?["delivered_to"]?.arrayValue?.count == 1)
            let c = try await http(port: port, "GET", "/_tapedeck/connections").json?["connections"]?[0]
            #expect(c?["stalled"] == true)
            #expect(c?["queue_depth"] == 1, "the event waits in the queue while stalled")
            clock.advance(by: .seconds(5))
            #expect(await it.next() == "after")
            _ = try await run
        }
    }

    @Test(.timeLimit(.minutes(1))) func metricsCountConnectionsMessagesAndRefusals() async throws {
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared) { port in
            #expect(try await rawUpgrade(port: port, path: "/api/ws", headers: ["Authorization": "Bearer nonsense"]).status == 401)
            let (ready, readyGo) = AsyncStream<Void>.makeStream()
            let (done, doneGo) = AsyncStream<Void>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: try await Self.bearer("alice")) { client in
                defer { readyGo.finish() }
                try await client.send(#"{"action":"ping"}"#)
                _ = try await client.collect { $0["action"] == "pong" }
                readyGo.yield()
                for await _ in done { break }
                try await client.close()
                return true
            }
            for await _ in ready { break }
            let a = try await http(port: port, "GET", "/metrics")
            #expect(a.status == 200)
            #expect(a.header("content-type")?.hasPrefix("text/plain") == true)
            func value(_ series: String) -> Double? {
                a.body.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
            }
            #expect(value(#"tapedeck_connections{profile="ops-control-center"}"#) == 1, "\(a.body)")
            #expect(value(#"tapedeck_messages_in_total{profile="ops-control-center"}"#) == 1)
            #expect((value(#"tapedeck_messages_out_total{profile="ops-control-center"}"#) ?? 0) >= 1)
            #expect(value(#"tapedeck_upgrades_refused_total{status="401"}"#) == 1)
            #expect(try await http(port: port, "GET", "/_tapedeck/metrics").body.contains("tapedeck_connections"))
            doneGo.yield()
            _ = try await run
        }
    }

    /// The status line's figures: a hand-over 9 s late (the clock jumped 10 s over events due every
    /// second) is reported once, with a warning, and the next status starts afresh.
    @Test(.timeLimit(.minutes(1))) func theStatusReportsTheScheduleFallingBehind() async throws {
        let clock = ManualClock()
        let box = ServerBox()
        try await withSimulator(
            scenario: Self.scenario(every: "1s", count: 10), speed: .factor(1), timeline: .shared, clock: clock, onServer: { box.server = $0 }
        ) { port in
            let headers = try await Self.bearer("qa", clock: clock)
            let (seqs, seen) = AsyncStream<Int>.makeStream()
            let (done, doneGo) = AsyncStream<Void>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: headers) { client in
                defer { seen.finish() }
                try await client.send(#"{"action":"ping"}"#)
                while let m = try await client.next() {
                    guard let n = m["data"]?["seq"]?.intValue else { continue }
                    seen.yield(n)
                    if n == 10 { break }
                }
                seen.finish()
                // Connected until the test has read the status.
                for await _ in done { break }
                return true
            }
            var it = seqs.makeAsyncIterator()
            #expect(await it.next() == 1)
            let server = try #require(box.server)
            let onTime = try #require(server.status())
            #expect(onTime.lag == 0)
            #expect(onTime.behindWarning() == nil)
            clock.advance(by: .seconds(10))
            while let n = await it.next(), n < 10 {}
            let late = try #require(server.status())
            #expect(late.eventsSent == 10)
            #expect(late.lag == 9)
            #expect(late.line(rate: 2) == "[status] 1 connection, 10 events sent (2/s), 0 dropped, lag 9000 ms")
            #expect(late.behindWarning() == "warning: the schedule is 9.0 s behind: events are due faster than they can be sent")
            #expect(try await http(port: port, "GET", "/_tapedeck/timeline").json?["lag_seconds"]?.doubleValue == 9)
            #expect(server.status()?.lag == 0, "each status reports the lag since the previous one")
            doneGo.finish()
            _ = try await run
        }
    }
}

extension ControlAPITests {
    /// A scenario's `faults:` happen at their scenario time, on the simulation clock: a pause
    /// holds them back like events.
    @Test(.timeLimit(.minutes(1))) func aScheduledFaultClosesAtItsScenarioTimeAndWaitsForAPause() async throws {
        let clock = ManualClock()
        let yaml = Self.scenario(every: "1s", count: 10) + """

            faults:
              - { at: 3s, kind: close, code: 4001, reason: scheduled, to: { user: alice } }
            """
        try await withSimulator(scenario: yaml, speed: .factor(1), timeline: .shared, clock: clock) { port in
            let (seqs, seen) = AsyncStream<Int>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: try await Self.bearer("alice", clock: clock)) { client in
                defer { seen.finish() }
                try await client.send(#"{"action":"ping"}"#)
                var all: [Int] = []
                while let m = try await client.next() {
                    guard let n = m["data"]?["seq"]?.intValue else { continue }
                    all.append(n)
                    seen.yield(n)
                }
                return all
            }
            var it = seqs.makeAsyncIterator()
            #expect(await it.next() == 1)
            _ = try await http(port: port, "POST", "/_tapedeck/timeline/pause")
            clock.advance(by: .seconds(5))
            #expect(try await http(port: port, "GET", "/_tapedeck/health").json?["connections"] == 1, "paused: the fault waits")
            _ = try await http(port: port, "POST", "/_tapedeck/timeline/resume")
            clock.advance(by: .seconds(2))
            #expect(await it.next() == 2)
            #expect(await it.next() == 3)
            clock.advance(by: .seconds(1))
            let result = try await run
            #expect(result.closeCode == 4001)
            #expect(Array((result.value ?? []).prefix(3)) == [1, 2, 3])
        }
    }

    @Test(.timeLimit(.minutes(1))) func aScenarioFaultWithAnUnknownKindOrNoDurationIsAnError() throws {
        let bad = Self.scenario() + """

            faults:
              - { at: 1s, kind: explode }
              - { at: 2s, kind: stall }
              - { at: 3s, kind: close, code: 1005 }
            """
        do {
            _ = try ScenarioLoader().load(text: bad, file: "faults.yaml")
            Issue.record("the scenario loaded")
        } catch {
            let text = "\(error)"
            #expect(text.contains("faults.yaml:13:"), "\(text)")
            #expect(text.contains("unknown fault kind 'explode': use one of close, reset, refuse_upgrades, stall, drop, duplicate"), "\(text)")
            #expect(text.contains("a stall fault needs 'seconds'"), "\(text)")
            #expect(text.contains("close code 1005 cannot be sent"), "\(text)")
        }
        let good = try ScenarioLoader().load(text: Self.scenario() + "\nfaults:\n  - { at: 2s, kind: stall, seconds: 500ms }\n", file: "ok.yaml")
        #expect(good.faults.map(\.at) == [2])
        #expect(good.faults.first?.spec["seconds"]?.doubleValue == 0.5)
    }
}

extension ControlAPITests {
    /// `drop` and `duplicate` at 100 %: while on, no event arrives, or each arrives twice; after
    /// their seconds (on the manual clock), events flow as usual.
    @Test(.timeLimit(.minutes(1))) func dropAndDuplicateFaultsApplyToEventsForTheirSeconds() async throws {
        let clock = ManualClock()
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), timeline: .shared, clock: clock) { port in
            let (ready, readyGo) = AsyncStream<Void>.makeStream()
            let (ids, got) = AsyncStream<String>.makeStream()
            async let run = withClient(port: port, path: "/api/ws", headers: try await Self.bearer("alice", clock: clock)) { client in
                defer {
                    readyGo.finish()
                    got.finish()
                }
                try await client.send(#"{"action":"ping"}"#)
                _ = try await client.collect { $0["action"] == "pong" }
                readyGo.yield()
                while let m = try await client.next() {
                    guard let id = m["data"]?["id"]?.stringValue else { continue }
                    got.yield(id)
                    if id == "end" { break }
                }
                return true
            }
            for await _ in ready { break }
            var it = ids.makeAsyncIterator()
            let emit = { (id: String) async throws -> Int in
                let r = try await http(port: port, "POST", "/_tapedeck/emit", body: #"{"event":{"type":"incident","action":"created","data":{"id":"\#(id)"}}}"#)
                return r.json?["delivered_to"]?.arrayValue?.count ?? -1
            }
            let drop = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"drop","percent":100,"seconds":5}"#)
            #expect(drop.json?["connections"]?.arrayValue?.count == 1, "\(drop.body)")
            #expect(try await emit("dropped-1") == 1)
            #expect(try await emit("dropped-2") == 1)
            // The fault ends when the clock says so: the next event after that goes through.
            clock.advance(by: .seconds(5))
            #expect(try await emit("after-drop") == 1)
            _ = try await http(port: port, "POST", "/_tapedeck/faults", body: #"{"kind":"duplicate","percent":100,"seconds":5}"#)
            #expect(try await emit("twice") == 1)
            clock.advance(by: .seconds(5))
            #expect(try await emit("end") == 1)
            var seen: [String] = []
            while let id = await it.next() { seen.append(id) }
            #expect(seen == ["after-drop", "twice", "twice", "end"])
            _ = try await run
        }
    }
}

/// Hands the server made inside `withSimulator` to the test.
final class ServerBox: @unchecked Sendable {
    var server: SimulatorServer?
}
