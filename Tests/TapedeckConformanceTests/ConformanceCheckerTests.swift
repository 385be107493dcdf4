import Testing
import TapedeckConformance
import TapedeckCore
import TapedeckProtocol
import TapedeckScenario

/// The checker on observations with chosen times: no socket, no clock, no sleep.
@Suite struct ConformanceCheckerTests {
    static func rules(_ yaml: String) throws -> ClientRules {
        let text = "profile: demo\nendpoints: [/ws]\nclient:\n" + yaml.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        return try #require(try ProfileLoader().load(text: text, file: "demo.yaml").client)
    }

    /// Builds observations for one client, `alice`, connection by connection.
    struct Script {
        var observations: [Observation] = []
        var connection = 0

        mutating func open(_ t: Double, status: Int = 101, cookies: String? = nil) {
            if status == 101 { connection += 1 }
            let headers = cookies.map { [(name: "Cookie", value: $0)] } ?? []
            observations.append(Observation(time: t, .upgrade(ObservedUpgrade(connection: status == 101 ? connection : nil, client: "alice", path: "/ws", headers: headers, status: status))))
        }
        mutating func send(_ t: Double, _ json: String) {
            observations.append(Observation(time: t, .clientMessage(connection: connection, size: json.utf8.count, value: try! Value(json: json))))
        }
        mutating func receive(_ t: Double, _ json: String) {
            observations.append(Observation(time: t, .serverMessage(connection: connection, value: try! Value(json: json))))
        }
        mutating func close(_ t: Double, by: CloseInitiator, code: Int? = nil) {
            observations.append(Observation(time: t, .closed(connection: connection, by: by, code: code)))
        }
        mutating func http(_ t: Double, _ path: String) {
            observations.append(Observation(time: t, .http(client: "alice", path: path, status: 200)))
        }
    }

    static func result(_ rules: ClientRules, _ script: Script, at end: Double, _ rule: String) throws -> RuleResult {
        var checker = ConformanceChecker(profile: "demo", rules: rules)
        for o in script.observations { checker.observe(o) }
        let client = try #require(checker.results(at: end).first)
        #expect(client.client == "alice")
        return try #require(client.rules.first { $0.rule == rule })
    }

    static let ping = "ping: {message: {type: ping}, every: 30s, tolerance: 5s}"

    @Test func pingsEvery30sPass() throws {
        var s = Script()
        s.open(0)
        for t in stride(from: 30.0, through: 150, by: 30) { s.send(t + 1, #"{"type":"ping"}"#) }
        s.close(152, by: .client)
        let r = try Self.result(try Self.rules(Self.ping), s, at: 160, "ping")
        #expect(r.status == .pass)
        #expect(r.passes == 5)
        #expect(r.failures == 0)
    }

    @Test func pingsEvery45sFailWithTheirTimes() throws {
        var s = Script()
        s.open(0)
        s.send(45, #"{"type":"ping"}"#)
        s.send(90, #"{"type":"ping"}"#)
        s.close(91, by: .client)
        let r = try Self.result(try Self.rules(Self.ping), s, at: 100, "ping")
        #expect(r.status == .fail)
        #expect(r.failures == 2)
        #expect(r.evidence.first?.time == 35)
        #expect(r.evidence.first?.message == "no ping within 35s of the connection opened at t=0s")
        #expect(r.evidence.last?.message.contains("no ping within 35s of the ping at t=45s") == true)
    }

    @Test func pingingTooOftenFails() throws {
        var s = Script()
        s.open(0)
        s.send(5, #"{"type":"ping"}"#)
        s.send(10, #"{"type":"ping"}"#)
        s.close(11, by: .client)
        let r = try Self.result(try Self.rules(Self.ping), s, at: 12, "ping")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.message.contains("too soon") == true)
    }

    @Test func aShortConnectionDoesNotExercisePing() throws {
        var s = Script()
        s.open(0)
        s.close(10, by: .client)
        #expect(try Self.result(try Self.rules(Self.ping), s, at: 12, "ping").status == .notExercised)
    }

    static let backoff = "reconnect: {delays: [1s, 2s, 4s, 8s], max: 30s}"

    @Test func backoffThatFollowsTheSchedulePasses() throws {
        var s = Script()
        s.open(0)
        s.close(10, by: .lost)
        s.open(11, status: 503)
        s.open(13.2, status: 503)
        s.open(17.1)
        s.close(20, by: .client)
        let r = try Self.result(try Self.rules(Self.backoff), s, at: 60, "reconnect")
        #expect(r.status == .pass)
        #expect(r.passes == 3)
    }

    @Test func reconnectingImmediatelyFails() throws {
        var s = Script()
        s.open(0)
        s.close(10, by: .server, code: 1012)
        s.open(10.05)
        let r = try Self.result(try Self.rules(Self.backoff), s, at: 60, "reconnect")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.message == "attempt 1 came 0.1s after the server's close 1012 at t=10s (expected 1s, accepted 0.5s–1.5s)")
    }

    @Test func aClientThatClosesItselfIsNotExpectedToReconnect() throws {
        var s = Script()
        s.open(0)
        s.close(10, by: .client)
        #expect(try Self.result(try Self.rules(Self.backoff), s, at: 60, "reconnect").status == .notExercised)
    }

    @Test func neverReconnectingAfterADropFails() throws {
        var s = Script()
        s.open(0)
        s.close(10, by: .lost)
        let r = try Self.result(try Self.rules(Self.backoff), s, at: 60, "reconnect")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.message.contains("no attempt 1 within 1.5s") == true)
    }

    @Test func moreAttemptsThanAllowedFail() throws {
        var s = Script()
        s.open(0)
        s.close(1, by: .lost)
        s.open(4, status: 503)
        s.open(10, status: 503)
        s.open(16, status: 503)
        let r = try Self.result(try Self.rules("reconnect: {delays: [3s, 6s], attempts: 2}"), s, at: 100, "reconnect")
        #expect(r.status == .fail)
        #expect(r.passes == 2)
        #expect(r.evidence.first?.message.contains("attempt 3 after the lost connection at t=1s: at most 2 attempts") == true)
    }

    @Test func giving_upAfterTheLastAllowedAttemptIsFine() throws {
        var s = Script()
        s.open(0)
        s.close(1, by: .lost)
        s.open(4, status: 503)
        s.open(10, status: 503)
        #expect(try Self.result(try Self.rules("reconnect: {delays: [3s, 6s], attempts: 2}"), s, at: 100, "reconnect").status == .pass)
    }

    @Test func jitterWidensTheWindow() throws {
        let rules = try Self.rules("reconnect: {initial: 1s, factor: 1.5, jitter: 0.2, max: 30s, tolerance: 0s}")
        var s = Script()
        s.open(0)
        s.close(1, by: .lost)
        s.open(2.15, status: 503)  // 1.15s: within 1s ± 20%
        s.open(3.4, status: 503)  // 1.25s after the refusal: 1.5s - 20% is 1.2s, fine
        s.open(5.0)  // 1.6s: 2.25s - 20% is 1.8s, too soon
        let r = try Self.result(rules, s, at: 10, "reconnect")
        #expect(r.passes == 2)
        #expect(r.failures == 1)
        #expect(r.evidence.first?.message.contains("attempt 3 came 1.6s") == true)
    }

    static let resubscribe = """
        after_reconnect:
          resubscribe:
            subscribe: {message: {action: subscribe}, key: "{{ msg.topics }}"}
            unsubscribe: {message: {action: unsubscribe}, key: "{{ msg.topics }}"}
          within: 10s
        """

    @Test func reSubscribingToEveryTopicPasses() throws {
        var s = Script()
        s.open(0)
        s.send(1, #"{"action":"subscribe","topics":["incidents","alerts"]}"#)
        s.send(2, #"{"action":"subscribe","topics":["tasks"]}"#)
        s.send(3, #"{"action":"unsubscribe","topics":["tasks"]}"#)
        s.close(10, by: .lost)
        s.open(13)
        s.send(14, #"{"action":"subscribe","topics":["alerts","incidents"]}"#)
        let r = try Self.result(try Self.rules(Self.resubscribe), s, at: 60, "after_reconnect.resubscribe")
        #expect(r.status == .pass)
        #expect(r.evidence.first?.message == "re-subscribed to incidents, alerts 1s after reconnecting")
    }

    @Test func forgettingATopicFailsNamingIt() throws {
        var s = Script()
        s.open(0)
        s.send(1, #"{"action":"subscribe","topics":["incidents","alerts"]}"#)
        s.close(10, by: .server, code: 1001)
        s.open(13)
        s.send(14, #"{"action":"subscribe","topics":["incidents"]}"#)
        let r = try Self.result(try Self.rules(Self.resubscribe), s, at: 60, "after_reconnect.resubscribe")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.message == "reconnected at t=13s but did not re-subscribe to alerts within 10s")
        #expect(r.evidence.first?.time == 23)
    }

    static let heartbeat = #"heartbeat_ack: {server: {type: heartbeat}, reply: {type: heartbeat_ack, id: "{{ heartbeat.id }}"}, within: 10s}"#

    @Test func ackingEachHeartbeatWithItsIdPasses() throws {
        var s = Script()
        s.open(0)
        s.receive(30, #"{"type":"heartbeat","id":"hb-1"}"#)
        s.send(30.2, #"{"type":"heartbeat_ack","id":"hb-1"}"#)
        s.receive(60, #"{"type":"heartbeat","id":"hb-2"}"#)
        s.send(61, #"{"type":"heartbeat_ack","id":"hb-2"}"#)
        let r = try Self.result(try Self.rules(Self.heartbeat), s, at: 80, "heartbeat_ack")
        #expect(r.status == .pass)
        #expect(r.passes == 2)
    }

    @Test func anAckWithTheWrongIdOrNoneFails() throws {
        var s = Script()
        s.open(0)
        s.receive(30, #"{"type":"heartbeat","id":"hb-1"}"#)
        s.send(30.2, #"{"type":"heartbeat_ack","id":"hb-0"}"#)
        let r = try Self.result(try Self.rules(Self.heartbeat), s, at: 80, "heartbeat_ack")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.time == 40)
        #expect(r.evidence.first?.message.contains(#"not answered with {"type":"heartbeat_ack","id":"hb-1"} within 10s"#) == true)
        #expect(r.evidence.first?.frame == #"{"type":"heartbeat","id":"hb-1"}"#)
    }

    @Test func retryingAfter401Fails_stoppingPasses() throws {
        let rules = try Self.rules("stop_on: [401]\nreconnect: {delays: [1s]}")
        var s = Script()
        s.open(0)
        s.close(5, by: .lost)
        s.open(6, status: 401)
        var stopped = s
        s.open(7, status: 401)
        let r = try Self.result(rules, s, at: 30, "stop_on")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.message == "tried again 1s after refusal 401 at t=6s (answered 401)")
        stopped.open(6.5, status: 403)  // any further attempt breaks the rule, whatever its answer
        #expect(try Self.result(rules, stopped, at: 30, "stop_on").status == .fail)
        var clean = Script()
        clean.open(0)
        clean.close(5, by: .lost)
        clean.open(6, status: 401)
        #expect(try Self.result(rules, clean, at: 30, "stop_on").status == .pass)
        #expect(try Self.result(rules, clean, at: 30, "reconnect").status == .pass)
    }

    @Test func sizeAndRateLimits() throws {
        let rules = try Self.rules("max_message_size: 100B\nmax_rate: {per: \"{{ msg.type }}\", count: 1, window: 1s}")
        var s = Script()
        s.open(0)
        s.send(1, #"{"type":"a"}"#)
        s.send(1.5, #"{"type":"b"}"#)
        s.send(1.7, #"{"type":"a","pad":"\#(String(repeating: "x", count: 120))"}"#)
        s.send(3, #"{"type":"a"}"#)
        let size = try Self.result(rules, s, at: 5, "max_message_size")
        #expect(size.status == .fail)
        #expect(size.failures == 1)
        #expect(size.evidence.first?.message.contains("of 141 bytes (at most 100)") == true)
        let rate = try Self.result(rules, s, at: 5, "max_rate")
        #expect(rate.status == .fail)
        #expect(rate.failures == 1)
        #expect(rate.evidence.first?.message == "2 messages of 'a' within 1s (at t=1s, t=1.7s); at most 1")
    }

    @Test func theCookieMustComeWithEveryUpgrade() throws {
        let rules = try Self.rules("send_cookie: session")
        var s = Script()
        s.open(0, cookies: "theme=dark; session=abc")
        #expect(try Self.result(rules, s, at: 1, "send_cookie").status == .pass)
        s.close(1, by: .client)
        s.open(2, cookies: "theme=dark")
        let r = try Self.result(rules, s, at: 3, "send_cookie")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.message == "upgrade to /ws without cookie 'session' (sent cookies 'theme')")
    }

    @Test func theRestFetchMustFollowAReconnect() throws {
        let rules = try Self.rules("after_reconnect: {http_before: {path: /api/v1/activity}, within: 5s}")
        var s = Script()
        s.open(0)
        s.close(10, by: .lost)
        s.open(11)
        var fetched = s
        fetched.http(11.5, "/api/v1/activity?since=1")
        #expect(try Self.result(rules, fetched, at: 30, "after_reconnect.http_before").status == .pass)
        let r = try Self.result(rules, s, at: 30, "after_reconnect.http_before")
        #expect(r.status == .fail)
        #expect(r.evidence.first?.message == "reconnected at t=11s but did not request /api/v1/activity within 5s")
    }

    @Test func clientsAreKeptApartAndTheReportSaysWhoFailed() throws {
        let rules = try Self.rules(Self.backoff)
        var checker = ConformanceChecker(profile: "demo", rules: rules)
        checker.observe(Observation(time: 0, .upgrade(ObservedUpgrade(connection: 1, client: "alice", path: "/ws", status: 101))))
        checker.observe(Observation(time: 0, .upgrade(ObservedUpgrade(connection: 2, client: "bob", path: "/ws", status: 101))))
        checker.observe(Observation(time: 5, .closed(connection: 1, by: .lost, code: nil)))
        checker.observe(Observation(time: 5, .closed(connection: 2, by: .lost, code: nil)))
        checker.observe(Observation(time: 6, .upgrade(ObservedUpgrade(connection: 3, client: "alice", path: "/ws", status: 101))))
        checker.observe(Observation(time: 5.01, .upgrade(ObservedUpgrade(connection: 4, client: "bob", path: "/ws", status: 101))))
        let report = ConformanceReport(source: "test", duration: 10, clients: checker.results(at: 10))
        #expect(report.clients.map(\.client) == ["alice", "bob"])
        #expect(report.clients.map(\.status) == [.pass, .fail])
        #expect(!report.passed)
        let json = report.jsonValue
        #expect(json["clients"]?[1]?["rules"]?[0]?["status"] == "fail")
        #expect(json["summary"]?["fail"] == 1)
        #expect(report.junitXML.contains(#"<testsuite name="demo bob" tests="1" failures="1" skipped="0">"#))
        #expect(report.summaryText.contains("FAIL  reconnect: attempt 1 came 0s after the lost connection at t=5s"))
    }
}

extension ConformanceCheckerTests {
    @Test func twoSocketsOfOneClientAreJudgedPerEndpoint() throws {
        var checker = ConformanceChecker(profile: "demo", rules: try Self.rules(Self.backoff))
        func up(_ t: Double, _ id: Int?, _ path: String) {
            checker.observe(Observation(time: t, .upgrade(ObservedUpgrade(connection: id, client: "alice", path: path, status: id == nil ? 503 : 101))))
        }
        up(0, 1, "/stream")
        up(0, 2, "/notifications")
        checker.observe(Observation(time: 10, .closed(connection: 1, by: .server, code: 1012)))
        checker.observe(Observation(time: 10, .closed(connection: 2, by: .server, code: 1012)))
        up(11, 3, "/stream")  // 1 s after its own drop
        up(11, nil, "/notifications")  // 1 s: refused
        up(13, 4, "/notifications")  // 2 s after that refusal
        let r = try #require(checker.results(at: 30).first?.rules.first)
        #expect(r.status == .pass)
        #expect(r.passes == 3)
    }
}

extension ConformanceCheckerTests {
    @Test func aCookieNamedBySettingsIsTheOneChecked() throws {
        let rules = try Self.rules(#"send_cookie: "{{ settings.session_cookie ?? 'session' }}""#)
        var checker = ConformanceChecker(profile: "demo", rules: rules, settings: ["session_cookie": "__Secure-sid"])
        checker.observe(Observation(time: 0, .upgrade(ObservedUpgrade(connection: 1, client: "a", path: "/ws", headers: [(name: "Cookie", value: "session=x")], status: 101))))
        checker.observe(Observation(time: 1, .upgrade(ObservedUpgrade(connection: 2, client: "b", path: "/ws", headers: [(name: "Cookie", value: "__Secure-sid=x")], status: 101))))
        let results = checker.results(at: 2)
        #expect(results.map { $0.rules[0].status } == [.fail, .pass])
        #expect(results[0].rules[0].statement == "send cookie '__Secure-sid' with every upgrade")
        var defaults = ConformanceChecker(profile: "demo", rules: rules)
        defaults.observe(Observation(time: 0, .upgrade(ObservedUpgrade(connection: 1, client: "a", path: "/ws", headers: [(name: "Cookie", value: "session=x")], status: 101))))
        #expect(defaults.results(at: 1)[0].rules[0].status == .pass)
    }
}

extension ConformanceCheckerTests {
    @Test func aSourceWithoutHTTPLeavesTheRestFetchNotExercised() throws {
        let rules = try Self.rules("after_reconnect: {http_before: {path: /api/v1/activity}, within: 5s}")
        var s = Script()
        s.open(0)
        s.close(10, by: .lost)
        s.open(11)
        var checker = ConformanceChecker(profile: "demo", rules: rules, observesHTTP: false)
        for o in s.observations { checker.observe(o) }
        let r = try #require(checker.results(at: 30).first?.rules.first)
        #expect(r.status == .notExercised)
        #expect(r.statement.hasSuffix("(not observable here: the source holds no HTTP requests)"))
    }
}
