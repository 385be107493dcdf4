import Testing
import TapedeckCore
import TapedeckProtocol
import TapedeckScenario

@Suite struct ClientRulesLoaderTests {
    static func load(_ client: String) throws(ScenarioErrors) -> Profile {
        let text = """
            profile: demo
            endpoints: [/ws]
            client:
            \(client.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n"))
            """
        return try ProfileLoader().load(text: text, file: "demo.yaml")
    }

    static func errors(_ client: String) -> [String] {
        do {
            _ = try load(client)
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    @Test func everyBuiltinProfileStatesClientRules() throws {
        for name in ["jobs-live-tail", "ops-control-center", "neurallog", "workitems-protobuf", "unified-logs", "graphql-transport-ws"] {
            let p = try ProfileLoader().load(name)
            let rules = try #require(p.client, "\(name) has no client rules")
            #expect(!rules.isEmpty)
        }
        let ops = try ProfileLoader().load("ops-control-center").client!
        #expect(ops.reconnect?.attempts == 5)
        #expect(ops.reconnect?.delay(attempt: 3) == 12)
        #expect(ops.maxMessageSize == 10 * 1024)
        #expect(ops.ping?.every == 30)
        let neurallog = try ProfileLoader().load("neurallog").client!
        #expect(neurallog.reconnect?.delay(attempt: 3) == 2.25)
        #expect(neurallog.reconnect?.delay(attempt: 20) == 30)
        #expect(try ProfileLoader().load("workitems-protobuf").client?.stopOn == [401])
    }

    @Test func readsEveryRuleShape() throws {
        let p = try Self.load(
            """
            ping: {message: {type: ping}, every: 30s, tolerance: 5s}
            heartbeat_ack: {server: {type: heartbeat}, reply: {type: heartbeat_ack, id: "{{ heartbeat.id }}"}, within: 10s}
            reconnect: {initial: 1s, factor: 1.5, jitter: 0.2, max: 30s, attempts: 5}
            after_reconnect: {resubscribe: {subscribe: {message: {action: subscribe}, key: "{{ msg.topics }}"}}, http_before: {path: /api/v1/activity}}
            stop_on: [401, 4401]
            max_message_size: 10KB
            max_rate: {per: "{{ msg.type }}", count: 1, window: 1s}
            send_cookie: session
            """)
        let c = try #require(p.client)
        #expect(c.ping?.tolerance == 5)
        #expect(c.heartbeatAck?.within == 10)
        #expect(c.reconnect?.schedule == .exponential(initial: 1, factor: 1.5))
        #expect(c.reconnect?.jitter == 0.2)
        #expect(c.afterReconnect?.httpBefore == "/api/v1/activity")
        #expect(c.stopOn == [401, 4401])
        #expect(c.maxRate?.count == 1)
        #expect(c.sendCookie == "session")
    }

    @Test func aBadDurationNamesFileLineColumnAndWhatWasExpected() {
        let errors = Self.errors("ping: {message: {type: ping}, every: soon}")
        #expect(errors == ["demo.yaml:4:40: expected 'every' to be a duration such as 500ms, 30s, 2m or 1h, found 'soon'"])
    }

    @Test func missingAndUnknownKeysAreReported() {
        #expect(Self.errors("ping: {every: 30s}").first?.contains("'ping' needs 'message'") == true)
        #expect(Self.errors("reconect: {delays: [1s]}").first?.contains("unknown key 'reconect' in 'client'; did you mean 'reconnect'?") == true)
        #expect(Self.errors("reconnect: {factor: 2}").first?.contains("'reconnect' needs 'delays'") == true)
        #expect(Self.errors("max_message_size: ten").first?.contains("expected 'max_message_size' to be a size such as 10KB") == true)
        #expect(Self.errors("stop_on: [200]").first?.contains("'stop_on' lists HTTP error statuses") == true)
        #expect(Self.errors("reconnect: {delays: [1s], jitter: 2}").first?.contains("'jitter' is a fraction") == true)
        #expect(Self.errors("heartbeat_ack: {server: {type: hb}, reply: \"{{ beat.id }}\"}").first?.contains("unknown name 'beat'") == true)
    }
}
