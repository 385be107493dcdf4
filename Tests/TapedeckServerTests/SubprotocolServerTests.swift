import Foundation
import NIOCore
import NIOPosix
import Testing
import TapedeckCore

/// Subprotocol negotiation on real sockets: the 101 names the protocol selected from the client's
/// offer, and a profile that requires one refuses an upgrade that offers none of its own.
@Suite("Subprotocols")
struct SubprotocolServerTests {
    static let gql = """
        scenario: gql
        profile: graphql-transport-ws
        streams:
          - { name: later, at: 1h, event: { field: price, data: {} } }
        """

    /// The response head of an upgrade request (status line and headers, lowercased names).
    func upgradeHead(port: Int, path: String, headers: [String: String]) async throws -> (status: Int, headers: [String: String]) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        var request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        request += "\r\n"
        let text: String = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var text = ""
            for try await chunk in inbound {
                text += String(buffer: chunk)
                if text.contains("\r\n\r\n") { break }
            }
            return text
        }
        let head = text.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        let status = Int(head[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        var fields: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (status, fields)
    }

    @Test func theServerAnswersTheSubprotocolItSelectedFromTheOffer() async throws {
        try await withSimulator(scenario: Self.gql) { port in
            let chosen = try await upgradeHead(port: port, path: "/graphql", headers: ["Sec-WebSocket-Protocol": "graphql-ws, graphql-transport-ws"])
            #expect(chosen.status == 101)
            #expect(chosen.headers["sec-websocket-protocol"] == "graphql-transport-ws")
            // Not offered: accepted without one (the profile then closes with 4406).
            let none = try await upgradeHead(port: port, path: "/graphql", headers: [:])
            #expect(none.status == 101)
            #expect(none.headers["sec-websocket-protocol"] == nil)
            let session = try await rawSession(port: port, path: "/graphql", headers: ["Sec-WebSocket-Protocol": "soap"])
            #expect(session.closeCode == 4406)
        }
    }

    @Test func aProfileThatRequiresASubprotocolRefusesAnUpgradeWithoutOne() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-subprotocol-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let profile = dir.appendingPathComponent("p.yaml")
        try """
            profile: strict
            endpoints: [/ws]
            subprotocols:
              names: [v2.example, v1.example]
              required: true
              refusal: { status: 426, body: { error: "offer one of v2.example, v1.example", offered: "{{ offered }}" } }
            on:
              - when: { type: which }
                reply: { protocol: "{{ conn.subprotocol }}" }
            """.write(to: profile, atomically: true, encoding: .utf8)
        try await withSimulator(scenario: "scenario: s\nprofile: \(profile.path)\nstreams: [{ name: later, at: 1h, event: {} }]\n") { port in
            let refused = try await rawUpgrade(port: port, path: "/ws", headers: ["Sec-WebSocket-Protocol": "v3.example"])
            #expect(refused.status == 426)
            #expect(try Value(json: refused.body) == ["error": "offer one of v2.example, v1.example", "offered": ["v3.example"]])
            #expect(try await rawUpgrade(port: port, path: "/ws", headers: [:]).status == 426)
            // The client's order decides among the protocols the profile speaks.
            let chosen = try await upgradeHead(port: port, path: "/ws", headers: ["Sec-WebSocket-Protocol": "v1.example, v2.example"])
            #expect(chosen.status == 101)
            #expect(chosen.headers["sec-websocket-protocol"] == "v1.example")
        }
    }

    @Test func onASharedPathTheProfileThatSpeaksTheOfferedSubprotocolAnswers() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tapedeck-subprotocol-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let legacy = dir.appendingPathComponent("legacy.yaml")
        try """
            profile: legacy-graphql-ws
            endpoints: [/graphql]
            subprotocols: [graphql-ws]
            on_connect: { reply: { type: ka }, close: { code: 4000, reason: legacy } }
            """.write(to: legacy, atomically: true, encoding: .utf8)
        let extra = "scenario: legacy\nprofile: \(legacy.path)\nstreams: [{ name: later, at: 1h, event: {} }]\n"
        try await withSimulator(scenario: Self.gql, extra: [extra]) { port in
            let old = try await upgradeHead(port: port, path: "/graphql", headers: ["Sec-WebSocket-Protocol": "graphql-ws"])
            #expect(old.headers["sec-websocket-protocol"] == "graphql-ws")
            let new = try await upgradeHead(port: port, path: "/graphql", headers: ["Sec-WebSocket-Protocol": "graphql-transport-ws"])
            #expect(new.headers["sec-websocket-protocol"] == "graphql-transport-ws")
            let session = try await rawSession(port: port, path: "/graphql", headers: ["Sec-WebSocket-Protocol": "graphql-ws"])
            #expect(session.messages == [["type": "ka"]])
            #expect(session.closeCode == 4000)
        }
    }
}
