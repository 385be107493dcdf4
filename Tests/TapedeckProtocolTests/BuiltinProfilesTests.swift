import Testing
import TapedeckCore
import TapedeckScenario
import TapedeckProtocol

/// The three log/job profiles load and their engines follow the specs without a server.
@Suite("Built-in profiles jobs-live-tail, neurallog, unified-logs")
struct BuiltinProfilesTests {
    @Test func theyLoadWithTheirSpecPaths() throws {
        #expect(try ProfileLoader().load("jobs-live-tail").endpoints.map(\.path) == ["/api/v1/ws"])
        #expect(try ProfileLoader().load("neurallog").endpoints.map(\.path) == ["/v1/logs/stream", "/v1/notifications"])
        #expect(try ProfileLoader().load("unified-logs").endpoints.map(\.path) == ["/ws"])
    }

    @Test func clientTimeoutComesFromTheSettings() throws {
        let p = try ProfileLoader().load("jobs-live-tail")
        let short = ConnectionEngine(profile: p, conn: ["tenant": "t1"], entities: .emptyObject, settings: ["ping_timeout": 2], now: 0)
        #expect(short.clientTimeout == 2)
        let byDefault = ConnectionEngine(profile: p, conn: ["tenant": "t1"], entities: .emptyObject, settings: .emptyObject, now: 0)
        #expect(byDefault.clientTimeout == 60)
        var e = short
        #expect(e.tick(now: 1, wallTime: 0).isEmpty)
        #expect(e.tick(now: 2.5, wallTime: 0) == [.close(code: 1001, reason: "ping timeout")])
    }

    @Test func serverHeartbeatsWantTheirAck() throws {
        let p = try ProfileLoader().load("neurallog")
        var e = ConnectionEngine(
            profile: p, conn: ["tenant": "acme", "endpoint": "notifications", "id": 7], entities: .emptyObject,
            settings: ["heartbeat_interval": 1, "heartbeat_grace": 3], now: 0)
        #expect(e.tick(now: 0.5, wallTime: 0).isEmpty)
        guard case .send(let hb)? = e.tick(now: 1, wallTime: 0).first else {
            Issue.record("expected a heartbeat")
            return
        }
        #expect(hb["type"] == "heartbeat")
        #expect(hb["id"] == "hb-7-1")
        _ = e.receive(.message(["type": "heartbeat_ack", "id": "hb-7-1"], raw: ""), now: 1.1, wallTime: 0)
        #expect(!e.awaitsAcknowledgement("hb-7-1"))
        _ = e.tick(now: 2, wallTime: 0)   // hb-7-2, never acked
        _ = e.tick(now: 3, wallTime: 0)
        _ = e.tick(now: 4, wallTime: 0)
        #expect(e.tick(now: 5, wallTime: 0).contains(.close(code: 1001, reason: "heartbeat not acknowledged")))
    }

    @Test func clearLogsClearsTheUsersHistoryKey() throws {
        let p = try ProfileLoader().load("unified-logs")
        var e = ConnectionEngine(profile: p, conn: ["user": "alice"], entities: .emptyObject, settings: .emptyObject, now: 0)
        let start = e.start(wallTime: 0, history: [["id": "a1"]])
        guard case .send(let initial)? = start.first else {
            Issue.record("expected initial-logs")
            return
        }
        #expect(initial["type"] == "initial-logs")
        #expect(initial["logs"] == [["id": "a1"]])
        let out = e.receive(.message(["type": "clear-logs"], raw: ""), now: 1, wallTime: 0)
        #expect(out.first == .clearHistory(key: "alice"))
        #expect(out.dropFirst().first.map { if case .send(let v) = $0 { v["type"] == "logs-cleared" } else { false } } == true)
    }
}
