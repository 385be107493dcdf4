import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization
import Testing
import TapedeckCore
import TapedeckServer

/// `serve --record` sees every frame at the socket edge, in order, in both directions.
@Suite("Simulator tap")
struct SimulatorTapTests {
    final class CollectingTap: SimulatorTap {
        let log = Mutex<[String]>([])
        let peers = Mutex<[String]>([])
        func opened(_ c: TappedConnection) async {
            log.withLock { $0.append("open \(c.path) \(c.profile)") }
            peers.withLock { $0.append(c.peer) }
        }
        func refused(_ r: TappedRefusal) async {
            log.withLock { $0.append("refused \(r.path) \(r.status) \(r.profile ?? "-") \(String(decoding: r.body, as: UTF8.self).contains("Unauthorized"))") }
            peers.withLock { $0.append(r.peer) }
        }
        func frame(connection: Int, fromClient: Bool, _ frame: TappedFrame) async {
            let text: String =
                switch frame {
                case .text(let s): s
                case .binary(let b): "binary \(b.count)"
                case .close(let code, let reason): "close \(code) \(reason)"
                }
            log.withLock { $0.append((fromClient ? "c> " : "s> ") + text) }
        }
        func closed(connection: Int, code: Int?, reason: String?) async { log.withLock { $0.append("closed \(code ?? 0)") } }
    }

    @Test func everyFrameReachesTheTapInOrder() async throws {
        let tap = CollectingTap()
        try await withSimulator(scenario: OpsControlCenterServerTests.scenario, tap: tap) { port in
            let jwt = try await token(["sub": "qa"])
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/api/ws",
                configuration: .init(additionalHeaders: [.authorization: "Bearer \(jwt)"]), logger: Logger(label: "c")
            ) { inbound, outbound, _ in
                try await outbound.write(.text(#"{"action":"subscribe","topics":["nothing"]}"#))
                try await outbound.write(.text(#"{"action":"ping"}"#))
                for try await _ in inbound.messages(maxSize: 1 << 16) { break }
                try await outbound.close(.normalClosure, reason: nil)
            }
            for _ in 0..<100 where !tap.log.withLock({ $0.contains { $0.hasPrefix("closed") } }) {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        let log = tap.log.withLock { $0 }
        #expect(log.first == "open /api/ws ops-control-center")
        #expect(log.dropFirst().prefix(2).elementsEqual([#"c> {"action":"subscribe","topics":["nothing"]}"#, #"c> {"action":"ping"}"#]))
        #expect(log.contains { $0.hasPrefix(#"s> {"action":"pong""#) })
        #expect(log.last?.hasPrefix("closed") == true)
    }

    @Test func refusedUpgradesAndAClientsCloseReachTheTapWithThePeerAsAddressAndPort() async throws {
        let tap = CollectingTap()
        try await withSimulator(scenario: OpsControlCenterServerTests.scenario, tap: tap) { port in
            #expect(try await rawUpgrade(port: port, path: "/api/ws", headers: [:]).status == 401)
            #expect(try await rawUpgrade(port: port, path: "/nowhere", headers: [:]).status == 404)
            let jwt = try await token(["sub": "qa"])
            try await WebSocketClient.connect(
                url: "ws://127.0.0.1:\(port)/api/ws",
                configuration: .init(additionalHeaders: [.authorization: "Bearer \(jwt)"]), logger: Logger(label: "c")
            ) { inbound, outbound, _ in
                try await outbound.write(.text(#"{"action":"ping"}"#))
                for try await _ in inbound.messages(maxSize: 1 << 16) { break }
                try await outbound.close(.init(codeNumber: 4000), reason: "done for today")
            }
            for _ in 0..<200 where !tap.log.withLock({ $0.contains { $0.hasPrefix("closed") } }) {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        let log = tap.log.withLock { $0 }
        #expect(log.prefix(2).elementsEqual(["refused /api/ws 401 ops-control-center true", "refused /nowhere 404 - false"]))
        #expect(log.suffix(3).elementsEqual(["c> close 4000 done for today", "s> close 1000 ", "closed 1000"]))
        let peers = tap.peers.withLock { $0 }
        #expect(peers.count == 3)
        #expect(peers.allSatisfy { $0.wholeMatch(of: /127\.0\.0\.1:\d+/) != nil }, "\(peers)")
    }
}
