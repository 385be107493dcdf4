import Foundation
import HTTPTypes
import OrderedCollections
import Testing
import TapedeckCore
import TapedeckServer

/// neurallog end to end: the built-in profile over real sockets on 127.0.0.1.
@Suite("neurallog over WebSocket")
struct NeuralLogServerTests {
    static func scenario(settings: String = "{ max_connections_per_tenant: 2 }") -> String {
        """
        scenario: nl
        profile: neurallog
        seed: 1
        start: 2023-04-08T12:30:00Z
        settings: \(settings)
        entities:
          api_keys:
            key-acme: { sub: bot, tenant_id: acme }
            key-globex: { sub: g, tenant_id: globex }
          past_logs:
            - { type: log, tenant_id: acme, data: { id: p1, level: INFO, message: one, source: api-service } }
            - { type: log, tenant_id: acme, data: { id: p2, level: ERROR, message: two, source: api-service } }
            - { type: log, tenant_id: acme, data: { id: p3, level: ERROR, message: three, source: auth } }
            - { type: log, tenant_id: globex, data: { id: g1, level: ERROR, message: globex, source: api-service } }
            - { type: log, tenant_id: acme, data: { id: p5, level: ERROR, message: five, source: api-service } }
            - { type: log, tenant_id: acme, data: { id: p6, level: ERROR, message: six, source: api-service } }
            - { type: log, tenant_id: acme, data: { id: p7, level: WARN, message: seven, source: api-service } }
        streams:
          - name: logs
            at: 300ms
            every: 50ms
            count: 40
            event:
              type: log
              tenant_id: acme
              data:
                id: "log-{{ seq() }}"
                timestamp: "{{ now() }}"
                level: "{{ ['INFO', 'ERROR'][seq() % 2] }}"
                message: "message {{ seq() }}"
                source: "{{ ['api-service', 'auth'][floor((seq() - 1) / 2) % 2] }}"
                metadata: { component: database }
          - name: globex
            at: 300ms
            every: 50ms
            count: 10
            event: { type: log, tenant_id: globex, data: { id: "globex-{{ seq() }}", level: ERROR, message: other, source: api-service } }
          - name: rule
            at: 300ms
            event: { type: rule_triggered, tenant_id: acme, data: { ruleId: rule-456, ruleName: Error Alert, triggeredAt: "{{ now() }}", logId: log-1, severity: high } }
          - name: rule-globex
            at: 310ms
            event: { type: rule_triggered, tenant_id: globex, data: { ruleId: rule-g, ruleName: Globex, triggeredAt: "{{ now() }}", logId: g, severity: low } }
          - name: action
            at: 350ms
            event: { type: action_executed, tenant_id: acme, data: { actionId: action-456, actionName: Send Email, executedAt: "{{ now() }}", status: success, ruleId: rule-456 } }
          - name: system
            at: 400ms
            event: { type: system_notification, data: { title: Maintenance Scheduled, message: Soon, severity: info, actionUrl: "https://status.neurallog.com" } }
        """
    }

    static func enc(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
    static func logNumber(_ v: Value) -> Int? { v["data"]?["id"]?.stringValue.flatMap { Int($0.dropFirst(4)) } }

    @Test func tokenOrApiKeyAndTheTenantFromTheHostHeader() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let p = "/v1/logs/stream"
            #expect(try await rawUpgrade(port: port, path: p, headers: [:]).status == 401)
            #expect(try await rawUpgrade(port: port, path: p + "?apiKey=nope", headers: [:]).status == 401)
            #expect(try await rawUpgrade(port: port, path: p + "?apiKey=key-acme", headers: [:]).status == 101)
            let acme = try await token(["sub": "u", "tenant_id": "acme"])
            #expect(try await rawUpgrade(port: port, path: "/v1/notifications?token=\(acme)", headers: [:]).status == 101)
            // No tenant in the token: only the Host header can give one.
            let bare = try await token(["sub": "u"])
            #expect(try await rawUpgrade(port: port, path: p + "?token=\(bare)", headers: [:]).status == 403)
            #expect(try await rawUpgrade(port: port, path: p + "?token=\(bare)", headers: ["Host": "api.acme.neurallog.com"]).status == 101)
            // A token of one tenant cannot read another tenant's host.
            let globex = try await token(["sub": "u", "tenant_id": "globex"])
            #expect(try await rawUpgrade(port: port, path: p + "?token=\(globex)", headers: ["Host": "api.acme.neurallog.com"]).status == 403)
            // The Host's tenant scopes the data: globex's history only.
            let scoped = try await rawSession(port: port, path: p + "?token=\(bare)&history=true&follow=false", headers: ["Host": "api.globex.neurallog.com"])
            #expect(scoped.messages.filter { $0["type"] == "log" }.map { $0["data"]?["id"] } == ["g1"])
        }
    }

    @Test func everyTenantClaimIsCheckedAgainstTheHostsTenant() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let p = "/v1/logs/stream"
            // `tenant` is accepted as the tenant claim, so it must match the Host's tenant too.
            let globex = try await token(["sub": "u", "tenant": "globex"])
            #expect(try await rawUpgrade(port: port, path: p + "?token=\(globex)", headers: ["Host": "api.acme.neurallog.com"]).status == 403)
            let acme = try await token(["sub": "u", "tenant": "acme"])
            #expect(try await rawUpgrade(port: port, path: p + "?token=\(acme)", headers: ["Host": "api.acme.neurallog.com"]).status == 101)
            let mixed = try await token(["sub": "u", "tenant_id": "acme", "tenant": "globex"])
            #expect(try await rawUpgrade(port: port, path: p + "?token=\(mixed)", headers: ["Host": "api.acme.neurallog.com"]).status == 403)
        }
    }

    @Test func theHostHeaderIsCaseInsensitiveAndMustBeSingle() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let p = "/v1/logs/stream"
            let bare = try await token(["sub": "u"])
            // Upper case is the same host: the tenant is globex, so globex's history.
            let scoped = try await rawSession(port: port, path: p + "?token=\(bare)&history=true&follow=false", headers: ["Host": "API.GLOBEX.NEURALLOG.COM"])
            #expect(scoped.messages.filter { $0["type"] == "log" }.map { $0["data"]?["id"] } == ["g1"])
            // Two Host headers: 400, whatever they say.
            let two = try await rawUpgrade(port: port, path: p + "?token=\(bare)", headers: ["Host": "api.acme.neurallog.com", "host": "api.globex.neurallog.com"])
            #expect(two.status == 400)
            let twoSame = try await rawUpgrade(port: port, path: "/v1/logs/stream?apiKey=key-acme", headers: ["Host": "127.0.0.1", "HOST": "127.0.0.1"])
            #expect(twoSame.status == 400)
        }
    }

    @Test func aLogWithoutATenantIsInEveryTenantsHistoryAsItIsLive() async throws {
        let scenario = """
            scenario: nt
            profile: neurallog
            entities:
              api_keys:
                key-acme: { sub: bot, tenant_id: acme }
                key-globex: { sub: g, tenant_id: globex }
              past_logs:
                - { type: log, tenant_id: acme, data: { id: a1, level: INFO, message: one, source: api } }
                - { type: log, data: { id: all-1, level: WARN, message: everyone, source: platform } }
                - { type: log, tenant_id: globex, data: { id: g1, level: INFO, message: globex, source: api } }
                - { type: log, tenant_id: acme, data: { id: a2, level: INFO, message: two, source: api } }
            streams:
              - { at: 1h, event: { type: log, data: { id: later } } }
            """
        try await withSimulator(scenario: scenario) { port async throws in
            let acme = try await rawSession(port: port, path: "/v1/logs/stream?apiKey=key-acme&history=true&follow=false")
            #expect(acme.messages.filter { $0["type"] == "log" }.map { $0["data"]?["id"] } == ["a1", "all-1", "a2"])
            let globex = try await rawSession(port: port, path: "/v1/logs/stream?apiKey=key-globex&history=true&follow=false")
            #expect(globex.messages.filter { $0["type"] == "log" }.map { $0["data"]?["id"] } == ["all-1", "g1"])
        }
    }

    @Test func streamStartThenLimitedMatchingHistoryThenStreamEndAndClose() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let q = "query=\(Self.enc("level:ERROR"))&filter=\(Self.enc(#"{"source":"api-service"}"#))&history=true&limit=2&follow=false"
            // A raw socket: the whole session is sent at once, then closed by the server.
            let run = try await rawSession(port: port, path: "/v1/logs/stream?apiKey=key-acme&\(q)")
            let values = run.messages
            #expect(values.map { $0["type"] } == ["stream_start", "log", "log", "stream_end"])
            #expect(values.first?["data"] == ["query": "level:ERROR", "filter": ["source": "api-service"], "follow": false])
            #expect(values.dropFirst().prefix(2).map { $0["data"]?["id"] } == ["p5", "p6"])
            for v in values {
                #expect(v.objectValue.map { Array($0.keys) } == ["type", "id", "data", "timestamp"])
            }
            #expect(Set(values.compactMap { $0["id"]?.stringValue }).count == values.count)
            #expect(run.closeCode == 1000)
        }
    }

    @Test func followDeliversOnlyLogsMatchingTheQueryOfTheTenant() async throws {
        try await withSimulator(scenario: Self.scenario(), configure: { $0.startGrace = 2 }) { port async throws in
            let q = Self.enc("level:ERROR AND NOT (source:auth OR message:nothing)")
            let run = try await withClient(port: port, path: "/v1/logs/stream?apiKey=key-acme&query=\(q)") { c in
                var logs = 0
                let values = try await c.collect { v in
                    if v["type"] == "log" { logs += 1 }
                    return logs == 4
                }
                try await c.close()
                return values
            }
            let values = try #require(run.value)
            #expect(values.first?["type"] == "stream_start")
            #expect(values.first?["data"]?["follow"] == true)
            let logs = values.filter { $0["type"] == "log" }
            #expect(logs.map { $0["data"]?["id"] } == ["log-1", "log-5", "log-9", "log-13"])
            #expect(Set(logs.compactMap { $0["id"]?.stringValue }).count == 4)
        }
    }

    @Test func updateFilterReplacesTheFilterAndAnInvalidOneIsAnError() async throws {
        // On the manual clock: no log is due until the filters are in place, however slow the machine.
        let clock = ManualClock()
        try await withSimulator(scenario: Self.scenario(), speed: .factor(1), clock: clock) { port async throws in
            let run = try await withClient(port: port, path: "/v1/logs/stream?apiKey=key-acme") { c in
                _ = try await c.next(type: "stream_start")
                try await c.send(#"{"type":"command","id":"cmd-1","data":{"action":"update_filter","filter":{"invalid":"field"}}}"#)
                let bad = try await c.next(type: "error")
                try await c.send(#"{"type":"command","id":"cmd-2","data":{"action":"update_filter","filter":"level=ERROR"}}"#)
                let bad2 = try await c.next(type: "error")
                try await c.send(#"{"type":"command","id":"cmd-3","data":{"action":"update_filter","filter":{"level":["WARN"],"source":"auth"}}}"#)
                try await c.send(#"{"type":"command","id":"sync","data":{"action":"sync"}}"#)
                _ = try await c.next(type: "error")
                try await c.send(#"{"type":"command","id":"cmd-4","data":{"action":"update_filter","filter":{"level":["ERROR"],"source":"auth"}}}"#)
                try await c.send(#"{"type":"command","id":"sync","data":{"action":"sync"}}"#)
                let before = try await c.collect { $0["type"] == "error" }
                clock.advance(by: .seconds(3))
                var logs: [Value] = []
                _ = try await c.collect { v in
                    if v["type"] == "log" { logs.append(v) }
                    return logs.count == 3
                }
                try await c.close()
                return [bad ?? .null, bad2 ?? .null, .array(before), .array(logs)]
            }
            let parts = try #require(run.value)
            #expect(parts[0]["data"]?["code"] == "invalid_filter")
            #expect(parts[0]["data"]?["details"]?["filter"] == ["invalid": "field"])
            #expect(parts[1]["data"]?["code"] == "invalid_filter")
            #expect(parts[1]["data"]?["details"]?["filter"] == "level=ERROR")
            // After the barrier, every log matches the last filter (WARN matched nothing).
            let logs = parts[3].arrayValue ?? []
            #expect(logs.count == 3)
            #expect(logs.allSatisfy { $0["data"]?["level"] == "ERROR" && $0["data"]?["source"] == "auth" })
        }
    }

    @Test func heartbeatsNeedAcksAndAClientThatStopsAckingIsClosed() async throws {
        // On the manual clock: an ack that a busy machine sends late is still in time.
        let clock = ManualClock()
        let probe = SimulatorProbe()
        try await withSimulator(scenario: Self.scenario(settings: "{ heartbeat_interval: 0.2, heartbeat_grace: 1.5 }"), probe: probe, clock: clock) { port async throws in
            let run = try await withClient(port: port, path: "/v1/notifications?apiKey=key-acme") { c in
                // The 101 can reach the client before the server has set the connection up: once
                // a message is handled, its heartbeats count from time 0, before the clock moves.
                try await c.send(#"{"type":"heartbeat_ack","id":"none"}"#)
                await probe.waitUntilHandled(atLeast: 1)
                var ids: [Value] = []
                while ids.count < 5 {
                    // A little past each heartbeat's time (the timer wakes just after its deadline).
                    clock.advance(by: .milliseconds(250))
                    guard let hb = try await c.next(type: "heartbeat") else { break }
                    ids.append(hb["id"] ?? .null)
                    try await c.send(#"{"type":"heartbeat_ack","id":\#(hb["id"]?.jsonString ?? "null"),"timestamp":"2023-04-08T12:34:56.789Z"}"#)
                }
                // Stop acking: the next heartbeats go unanswered and, past the grace, the server closes.
                for _ in 0..<20 {
                    clock.advance(by: .milliseconds(500))
                    guard try await c.next(type: "heartbeat") != nil else { break }
                }
                return ids
            }
            let ids = try #require(run.value)
            #expect(ids.count == 5)
            #expect(Set(ids).count == 5)
            #expect(run.closeCode == 1001)
        }
    }

    @Test func notificationsEndpointDeliversTheTenantsNotifications() async throws {
        try await withSimulator(scenario: Self.scenario(), configure: { $0.startGrace = 2 }) { port async throws in
            let run = try await withClient(port: port, path: "/v1/notifications?apiKey=key-acme") { c in
                let values = try await c.collect { $0["type"] == "system_notification" }
                try await c.close()
                return values
            }
            let values = try #require(run.value)
            #expect(values.map { $0["type"] } == ["rule_triggered", "action_executed", "system_notification"])
            #expect(values.first?["data"]?["ruleId"] == "rule-456")
            #expect(values.allSatisfy { $0.objectValue.map { Array($0.keys) } == ["type", "id", "data", "timestamp"] })
        }
    }

    @Test func simultaneousUpgradesGetExactlyTheLimitOf101s() async throws {
        try await withSimulator(scenario: Self.scenario(settings: "{ max_connections_per_tenant: 3 }")) { port async throws in
            for _ in 0..<3 {
                let statuses = try await simultaneousUpgrades(port: port, path: "/v1/logs/stream?apiKey=key-acme", count: 24)
                #expect(statuses.filter { $0 == 101 }.count == 3, "\(statuses)")
                #expect(statuses.filter { $0 == 429 }.count == 21, "\(statuses)")
                // The slots come back when those sockets close.
                for _ in 0..<200 {
                    if try await rawUpgrade(port: port, path: "/v1/notifications?apiKey=key-acme", headers: [:]).status == 101 { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
            }
        }
    }

    @Test func perTenantConnectionLimitRefusesTheUpgradeWith429() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let result = try await withClient(port: port, path: "/v1/notifications?apiKey=key-acme") { _ in
                try await withClient(port: port, path: "/v1/logs/stream?apiKey=key-acme") { _ in
                    let third = try await rawUpgrade(port: port, path: "/v1/notifications?apiKey=key-acme", headers: [:])
                    let other = try await rawUpgrade(port: port, path: "/v1/notifications?apiKey=key-globex", headers: [:])
                    return [third.status, other.status, third.body.contains("too_many_connections") ? 1 : 0]
                }.value
            }
            #expect((result.value ?? nil) == [429, 101, 1])
        }
    }

    @Test func anInvalidQueryIsAnErrorAndCloses() async throws {
        try await withSimulator(scenario: Self.scenario()) { port async throws in
            let run = try await rawSession(port: port, path: "/v1/logs/stream?apiKey=key-acme&query=\(Self.enc("level:ERROR AND ("))")
            #expect(run.messages.first?["data"]?["code"] == "invalid_query")
            #expect(run.messages.first?["data"]?["details"]?["query"] == "level:ERROR AND (")
            #expect(run.closeCode == 1008)
        }
    }
}
