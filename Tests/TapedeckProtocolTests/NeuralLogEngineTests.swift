import Testing
import TapedeckCore
import TapedeckProtocol
import OrderedCollections

/// The neurallog profile's rules and heartbeat, driven through the engine without sockets.
@Suite("neurallog rules")
struct NeuralLogEngineTests {
    let profile: Profile

    init() throws { profile = try ProfileLoader().load("neurallog") }

    @Test func theServerHeartbeatIsTypeIdAndTimestampOnly() throws {
        let conn: Value = ["user": "u", "tenant": "acme", "endpoint": "notifications", "id": 7, "claims": [:]]
        var e = ConnectionEngine(profile: profile, conn: conn, entities: [:], settings: ["heartbeat_interval": 30], now: 0)
        _ = e.start(wallTime: 1_737_109_800)
        #expect(e.tick(now: 29, wallTime: 1_737_109_829) == [])
        let out = e.tick(now: 30, wallTime: 1_737_109_830)
        guard case .send(let hb) = out.first else {
            Issue.record("no heartbeat at 30 s: \(out)")
            return
        }
        #expect(hb.objectValue.map { Array($0.keys) } == ["type", "id", "timestamp"])
        #expect(hb["type"] == "heartbeat")
        #expect(hb["timestamp"] == "2025-01-17T10:30:30.000Z")
    }
}
