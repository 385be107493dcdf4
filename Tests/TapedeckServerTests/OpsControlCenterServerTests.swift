import Foundation
import HTTPTypes
import NIOWebSocket
import OrderedCollections
import HummingbirdWSClient
import Logging
import Testing
import TapedeckCore
import TapedeckServer

/// ops-control-center end to end: real sockets on 127.0.0.1, the real profile and scenario engine.
@Suite("ops-control-center over WebSocket")
struct OpsControlCenterServerTests {
    static let scenario = """
        scenario: squads
        profile: ops-control-center
        seed: 7
        start: 2025-01-17T10:00:00Z
        vars: { squads: [platform, payments] }
        streams:
          - name: incidents
            every: 100ms
            count: 6
            event:
              type: incident
              action: created
              data:
                id: "inc-{{ seq() }}"
                title: "Incident {{ seq() }}"
                severity: high
                status: open
                squad: "{{ vars.squads[(seq() - 1) % 2] }}"
                created_at: "{{ now() }}"
          - name: cpu
            every: 150ms
            count: 4
            event:
              type: metric
              action: updated
              data: { metric_name: cpu_usage, value: "{{ 40 + seq() }}", unit: percent, timestamp: "{{ now() }}" }
        """

    let logger = Logger(label: "client")

    @Test func missingBadAndForbiddenCredentialsAreRefusedWithTheirStatus() async throws {
        try await withSimulator(scenario: Self.scenario) { port in
            let missing = try await rawUpgrade(port: port, path: "/api/ws", headers: [:])
            #expect(missing.status == 401)
            #expect(missing.body.contains("Unauthorized"))
            let bad = try await rawUpgrade(port: port, path: "/api/ws", headers: ["Authorization": "Bearer abc.def.ghi"])
            #expect(bad.status == 401)
            let forbidden = try await rawUpgrade(port: port, path: "/api/ws", headers: ["Authorization": "Bearer \(try await token(["sub": "x", "permissions": []]))"])
            #expect(forbidden.status == 403)
            #expect(forbidden.body.contains("Forbidden"))
            let unknownPath = try await rawUpgrade(port: port, path: "/nope", headers: [:])
            #expect(unknownPath.status == 404)
            let ok = try await rawUpgrade(port: port, path: "/api/ws", headers: ["Cookie": "session=\(try await token(["sub": "qa"]))"])
            #expect(ok.status == 101)
        }
    }

    @Test func squadFilterDeliversOnlyThatSquadFramedAsTheSpecSays() async throws {
        try await withSimulator(scenario: Self.scenario) { port in
            let jwt = try await token(["sub": "qa"])
            let received = Received()
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/api/ws",
                configuration: .init(additionalHeaders: [.authorization: "Bearer \(jwt)"]), logger: logger
            ) { inbound, outbound, _ in
                try await outbound.write(.text(#"{"action":"subscribe","topics":["incidents"],"filters":{"squad":"platform"}}"#))
                var pinged = false
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    let v = try Value(json: text)
                    await received.add(v)
                    let incidents = await received.values.filter { $0["type"] == "incident" }.count
                    if incidents == 3 && !pinged {
                        pinged = true
                        try await outbound.write(.text(#"{"action":"ping"}"#))
                    }
                    if v["action"] == "pong" { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            let values = await received.values
            let incidents = values.filter { $0["type"] == "incident" }
            #expect(incidents.map { $0["data"]?["id"] } == ["inc-1", "inc-3", "inc-5"])
            #expect(incidents.allSatisfy { $0["data"]?["squad"] == "platform" })
            #expect(!values.contains { $0["type"] == "metric" })
            for i in incidents {
                #expect(i.objectValue.map { Array($0.keys) } == ["type", "action", "data", "timestamp"])
                #expect(i["timestamp"]?.stringValue.flatMap(Timestamp.parse) != nil)
            }
            let pong = values.last
            #expect(pong?["action"] == "pong")
            #expect(pong?["timestamp"]?.stringValue.flatMap(Timestamp.parse) != nil)
        }
    }

    @Test func malformedMessagesAndTheRateLimit() async throws {
        try await withSimulator(scenario: Self.scenario, timeline: .shared) { port in
            let jwt = try await token(["sub": "qa"])
            let received = Received()
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/api/ws",
                configuration: .init(additionalHeaders: [.authorization: "Bearer \(jwt)"]), logger: logger
            ) { inbound, outbound, _ in
                // Unsubscribing from everything first keeps events out of the way.
                try await outbound.write(.text(#"{"action":"subscribe","topics":["none"]}"#))
                try await outbound.write(.text("{not json"))
                for _ in 0..<99 { try await outbound.write(.text(#"{"action":"ping"}"#)) }
                try await outbound.write(.text(#"{"action":"ping"}"#))  // the 102nd message
                var count = 0
                for try await message in inbound.messages(maxSize: 1 << 20) {
                    guard case .text(let text) = message else { continue }
                    await received.add(try Value(json: text))
                    count += 1
                    if count == 101 { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            let values = await received.values
            #expect(values.first?["data"]?["code"] == "INVALID_MESSAGE")
            #expect(values.first?["data"]?["message"] == "Message format is invalid")
            #expect(values.first?["type"] == "error")
            #expect(values.dropFirst().prefix(98).allSatisfy { $0["action"] == "pong" })
            #expect(values.last?["data"]?["code"] == "RATE_LIMITED")
        }
    }

    @Test func shutdownClosesClientsWithGoingAway() async throws {
        let (connected, signal) = AsyncStream<Void>.makeStream()
        let closeFrame = Received()
        try await withSimulator(scenario: Self.scenario, timeline: .shared) { port in
            let jwt = try await token(["sub": "qa"])
            let client = Task {
                let frame = try await WebSocketClient.connect(
                    url: "ws://127.0.0.1:\(port)/api/ws",
                    configuration: .init(additionalHeaders: [.authorization: "Bearer \(jwt)"]), logger: logger
                ) { inbound, outbound, _ in
                    try await outbound.write(.text(#"{"action":"subscribe","topics":["none"]}"#))
                    signal.yield()
                    for try await _ in inbound {}
                }
                await closeFrame.add(.int(Int(frame.map { UInt16(webSocketErrorCode: $0.closeCode) } ?? 0)))
            }
            var it = connected.makeAsyncIterator()
            _ = await it.next()
            try await Task.sleep(for: .milliseconds(100))
            _ = client
        }
        // withSimulator has shut the server down; the client saw why.
        for _ in 0..<100 where await closeFrame.values.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await closeFrame.values == [1001])
    }

    @Test func speedChangesTimingNotTheSequence() async throws {
        func run(_ speed: SimulatorConfiguration.Speed) async throws -> [Value] {
            let received = Received()
            try await withSimulator(scenario: Self.scenario, speed: speed) { port in
                let jwt = try await token(["sub": "qa"])
                try await WebSocketClient.connect(
                    url: "ws://127.0.0.1:\(port)/api/ws",
                    configuration: .init(additionalHeaders: [.authorization: "Bearer \(jwt)"]), logger: logger
                ) { inbound, outbound, _ in
                    try await outbound.write(.text(#"{"action":"subscribe","topics":["incidents","metrics"]}"#))
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        var v = try Value(json: text)
                        v["timestamp"] = nil
                        await received.add(v)
                        if await received.values.count == 10 { break }
                    }
                    try await outbound.close(.normalClosure, reason: nil)
                }
            }
            return await received.values
        }
        let normal = try await run(.factor(1))
        #expect(normal.count == 10)
        #expect(try await run(.factor(10)) == normal)
        #expect(try await run(.max) == normal)
    }
}

/// Collects values across tasks.
actor Received {
    var values: [Value] = []
    func add(_ v: Value) { values.append(v) }
}
