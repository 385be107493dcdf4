import Foundation
import Logging
import NIOCore
import TapedeckCore
import TapedeckRecording
import Testing
@testable import TapedeckReplay

@Suite("ReplayClient end to end", .timeLimit(.minutes(1)))
struct ReplayClientTests {
    /// A recorded session with the test server: welcome, hi/echo, bye and a close 4001 from the server.
    static func record(_ path: String) async throws {
        var tape = Tape()
        tape.server(#"{"type":"welcome"}"#, at: 0)
        tape.client("hi", at: 10)
        tape.server(#"{"type":"echo","text":"hi"}"#, at: 11)
        tape.client("bye", at: 20)
        tape.add(.serverToClient, .close, close(4001, "bye"), 21)
        tape.add(.clientToServer, .close, close(4001, "bye"), 22)
        try await ReplayFixtures.write(
            path,
            [
                TapeConnection(
                    info: ConnectionInfo(path: "/ws", query: "room=a&token=secret", requestHeaders: [HeaderField("Authorization", "Bearer good")]),
                    tape: tape, close: ConnectionClose(clientCode: 4001, clientReason: "bye", serverCode: 4001, serverReason: "bye"))
            ])
    }

    static func client(
        _ path: String, port: Int, secrets: ReplaySecrets, timeout: Duration = .seconds(5), writer: RecordingWriter? = nil
    ) throws -> ReplayClient {
        try ReplayClient(
            recording: try ReplayRecording(path: path),
            configuration: ReplayClientConfiguration(
                target: try UpstreamURL(parsing: "ws://127.0.0.1:\(port)"),
                replay: ReplayConfiguration(speed: .max, peerTimeout: timeout), secrets: secrets),
            matcher: try ReplayMatchers.make(profiles: nil, ignore: []), logger: Logger(label: "test"), writer: writer)
    }

    @Test("replays the client side with secrets filled in and records the new session")
    func replays() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("rec.sqlite")
        try await Self.record(path)
        let stored = try RecordingReader(path: path).connections()
        #expect(stored[0].info.requestHeaders == [HeaderField("Authorization", "Bearer [REDACTED]")])
        #expect(stored[0].info.query == "room=a&token=[REDACTED]")

        let (server, port) = try await TestServer.start()
        let out = dir.path("out.sqlite")
        let writer = try await RecordingWriter.open(path: out, metadata: RecordingMetadata(name: "out"))
        let client = try Self.client(
            path, port: port, secrets: try ReplaySecrets(headers: ["Authorization: Bearer good"], query: ["token=t0k"]), writer: writer)
        let results = await client.replay()
        try await writer.finish()
        try await server.close()
        #expect(results.map(\.outcome) == [.completed])
        #expect(results.first?.upgradeStatus == 101)

        let reader = try RecordingReader(path: out)
        let frames = try reader.frames().map(\.frame)
        #expect(frames.map(\.direction) == [.serverToClient, .clientToServer, .serverToClient, .clientToServer, .serverToClient, .clientToServer])
        #expect(frames.map { String(decoding: $0.payload, as: UTF8.self) }.prefix(4) == [#"{"type":"welcome"}"#, "hi", #"{"type":"echo","text":"hi"}"#, "bye"])
        let connection = try #require(try reader.connections().first)
        #expect(connection.close.serverCode == 4001)
        #expect(connection.info.upgradeStatus == 101)
        #expect(connection.info.requestHeaders.contains(HeaderField("Authorization", "Bearer [REDACTED]")))
    }

    @Test("a redacted value still needed is a clear error before anything is sent")
    func missingSecret() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("rec.sqlite")
        try await Self.record(path)
        do {
            _ = try Self.client(path, port: 1, secrets: .none)
            Issue.record("expected an error")
        } catch let error as ReplayError {
            #expect(error.description.contains("'token' was redacted"))
        }
    }

    @Test("a server that deviates stops the replay: the awaited message times out")
    func deviation() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("rec.sqlite")
        try await Self.record(path)
        let (server, port) = try await TestServer.start(greeting: #"{"type":"maintenance"}"#)
        let client = try Self.client(
            path, port: port, secrets: try ReplaySecrets(headers: ["Authorization: Bearer good"], query: ["token=t0k"]),
            timeout: .milliseconds(300))
        let results = await client.replay()
        try await server.close()
        guard case .deviated(let why) = results.first?.outcome else {
            Issue.record("expected a deviation, got \(results)")
            return
        }
        #expect(why.contains("welcome"))
    }

    @Test("a refused upgrade that the recording has as 101 is a deviation")
    func refused() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("rec.sqlite")
        try await Self.record(path)
        let (server, port) = try await TestServer.start()
        let client = try Self.client(path, port: port, secrets: try ReplaySecrets(headers: ["Authorization: Bearer bad"], query: ["token=t"]))
        let results = await client.replay()
        try await server.close()
        #expect(results.first?.upgradeStatus == 401)
        if case .deviated = results.first?.outcome {} else { Issue.record("expected a deviation") }
    }
}
