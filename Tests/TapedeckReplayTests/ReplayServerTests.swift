import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import TapedeckCore
import TapedeckRecording
import TapedeckTestPeers
import Testing
@testable import TapedeckReplay

@Suite("ReplayServer end to end", .timeLimit(.minutes(1)))
struct ReplayServerTests {
    struct Running {
        let dir: TemporaryDirectory
        let server: ReplayServer
        let port: Int
    }

    static func serve(
        _ connections: [TapeConnection], replay: ReplayConfiguration = ReplayConfiguration(speed: .max), loop: Bool = false
    ) async throws -> Running {
        let dir = try TemporaryDirectory()
        let path = dir.path("rec.sqlite")
        try await ReplayFixtures.write(path, connections)
        let recording = try ReplayRecording(path: path)
        let server = try ReplayServer(
            recording: recording, configuration: ReplayServerConfiguration(port: 0, replay: replay, loop: loop),
            matcher: try ReplayMatchers.make(profiles: nil, ignore: []), logger: Logger(label: "test"))
        let port = try await server.start()
        return Running(dir: dir, server: server, port: port)
    }

    /// A recording of every kind of server frame: JSON text, binary, a fragmented text message, a ping,
    /// then a close 4001 with its reason.
    static var everything: TapeConnection {
        var tape = Tape()
        tape.server(#"{"type":"hello","n":1}"#, at: 0)
        tape.add(.serverToClient, .binary, [0, 1, 0xFF, 0x80], 10)
        tape.server("par", at: 20, fin: false)
        tape.server("t2", at: 20, fin: true, opcode: .continuation)
        tape.add(.serverToClient, .ping, Array("sping".utf8), 30)
        tape.add(.clientToServer, .pong, Array("sping".utf8), 31)
        tape.add(.serverToClient, .close, close(4001, "session over"), 40)
        tape.add(.clientToServer, .close, close(4001, "session over"), 41)
        return TapeConnection(
            info: ConnectionInfo(path: "/ws", requestHeaders: [HeaderField("Sec-WebSocket-Protocol", "tapedeck.v1")], subprotocol: "tapedeck.v1"),
            tape: tape, close: ConnectionClose(clientCode: 4001, serverCode: 4001, serverReason: "session over"))
    }

    static func frames(_ client: TestClient, count: Int) async -> [WebSocketFrame] {
        var out: [WebSocketFrame] = []
        for await f in client.frames {
            out.append(f)
            if out.count == count { break }
        }
        return out
    }

    @Test("server frames go out byte for byte: text, binary, fragments, ping, the recorded subprotocol and close 4001")
    func bytes() async throws {
        let run = try await Self.serve([Self.everything])
        let client = try await TestClient.connect(port: run.port, uri: "/ws", headers: [("Sec-WebSocket-Protocol", "tapedeck.v1")])
        #expect(client.subprotocol == "tapedeck.v1")
        let frames = await Self.frames(client, count: 6)
        #expect(frames.map(\.opcode) == [.text, .binary, .text, .continuation, .ping, .connectionClose])
        #expect(frames.map(\.fin) == [true, true, false, true, true, true])
        #expect(frames.map { Array($0.unmaskedData.readableBytesView) } == [
            Array(#"{"type":"hello","n":1}"#.utf8), [0, 1, 0xFF, 0x80], Array("par".utf8), Array("t2".utf8), Array("sping".utf8),
            close(4001, "session over"),
        ])
        try await client.send(.pong, Array("sping".utf8))
        try await client.send(.connectionClose, close(4001, "session over"))
        try await client.channel.closeFuture.get()
        var reports = run.server.reports.makeAsyncIterator()
        let report = try #require(await reports.next())
        #expect(report.outcome == .completed)
        await run.server.stop()
    }

    @Test("a recorded 401 is replayed with its status, headers and body; used-up paths get 410, unknown ones 404")
    func refusal() async throws {
        let refused = TapeConnection(
            info: ConnectionInfo(
                path: "/ws", upgradeStatus: 401,
                responseHeaders: [HeaderField("WWW-Authenticate", #"Bearer realm="test""#), HeaderField("Content-Length", "20")],
                responseBody: Array("nope: invalid token\n".utf8)),
            tape: Tape())
        let run = try await Self.serve([refused])
        let answer = try await RawHTTP.upgradeRequest(port: run.port, uri: "/ws?token=x")
        #expect(answer.head.status.code == 401)
        #expect(answer.head.headers.first(name: "www-authenticate") == #"Bearer realm="test""#)
        #expect(answer.body == "nope: invalid token\n")
        let gone = try await RawHTTP.upgradeRequest(port: run.port, uri: "/ws")
        #expect(gone.head.status.code == 410)
        #expect(gone.body.contains("--loop"))
        let unknown = try await RawHTTP.upgradeRequest(port: run.port, uri: "/other")
        #expect(unknown.head.status.code == 404)
        #expect(unknown.body.contains("/ws"))
        await run.server.stop()
    }

    @Test("clients get the recorded connections of a path in order, concurrently; --loop starts over")
    func order() async throws {
        func greeting(_ n: Int) -> TapeConnection {
            var tape = Tape()
            tape.server("connection \(n)", at: 0)
            tape.server("later \(n)", at: 200)
            tape.add(.serverToClient, .close, close(1000), 201)
            return TapeConnection(info: ConnectionInfo(path: "/ws"), tape: tape)
        }
        let run = try await Self.serve([greeting(1), greeting(2)], replay: ReplayConfiguration(speed: .factor(1)), loop: true)
        let a = try await TestClient.connect(port: run.port, uri: "/ws")
        let b = try await TestClient.connect(port: run.port, uri: "/ws")
        let c = try await TestClient.connect(port: run.port, uri: "/ws")
        for (client, n) in [(a, 1), (b, 2), (c, 1)] {
            let frames = await Self.frames(client, count: 3)
            #expect(frames.map { String(buffer: $0.unmaskedData) }.prefix(2) == ["connection \(n)", "later \(n)"])
        }
        await run.server.stop()
    }

    /// Hello; then the recording waits for the client's subscribe; then subscribed and a close.
    static var conversation: TapeConnection {
        var tape = Tape()
        tape.server(#"{"type":"hello"}"#, at: 0)
        tape.client(#"{"type":"subscribe","topic":"jobs","timestamp":"2026-01-01T00:00:00Z"}"#, at: 10)
        tape.server(#"{"type":"subscribed","topic":"jobs"}"#, at: 20)
        tape.add(.serverToClient, .close, close(1000), 30)
        return TapeConnection(info: ConnectionInfo(path: "/ws"), tape: tape)
    }

    @Test("reactive: the replay waits for a matching client message; a mismatch does not let it go on")
    func reactive() async throws {
        let run = try await Self.serve([Self.conversation])
        let client = try await TestClient.connect(port: run.port, uri: "/ws")
        var frames = client.frames.makeAsyncIterator()
        #expect(String(buffer: try #require(await frames.next()).unmaskedData) == #"{"type":"hello"}"#)
        try await client.send(#"{"type":"subscribe","topic":"logs"}"#)
        try await client.send(#"{"timestamp":"2026-11-29T10:00:00Z","topic":"jobs","type":"subscribe"}"#)
        // The mismatching message was skipped: the next frame is the answer to the matching one.
        #expect(String(buffer: try #require(await frames.next()).unmaskedData) == #"{"type":"subscribed","topic":"jobs"}"#)
        let closeFrame = try #require(await frames.next())
        #expect(closeFrame.opcode == .connectionClose)
        await run.server.stop()
    }

    @Test("reactive with --on-mismatch close: a wrong message gets a close 1008")
    func mismatchCloses() async throws {
        let run = try await Self.serve([Self.conversation], replay: ReplayConfiguration(speed: .max, onMismatch: .close))
        let client = try await TestClient.connect(port: run.port, uri: "/ws")
        var frames = client.frames.makeAsyncIterator()
        _ = await frames.next()
        try await client.send(#"{"type":"subscribe","topic":"logs"}"#)
        let closeFrame = try #require(await frames.next())
        #expect(closeFrame.opcode == .connectionClose)
        let (code, reason) = ConnectionClose.parseClosePayload(Array(closeFrame.unmaskedData.readableBytesView))
        #expect(code == 1008)
        #expect(reason?.contains("$.topic") == true)
        var reports = run.server.reports.makeAsyncIterator()
        let report = try #require(await reports.next())
        if case .deviated = report.outcome {} else { Issue.record("expected a deviation, got \(report.outcome)") }
        await run.server.stop()
    }

    @Test("timed: server frames follow recorded time only; the client's messages are not awaited")
    func timed() async throws {
        let run = try await Self.serve([Self.conversation], replay: ReplayConfiguration(mode: .timed, speed: .max))
        let client = try await TestClient.connect(port: run.port, uri: "/ws")
        let frames = await Self.frames(client, count: 3)
        #expect(frames.map { String(buffer: $0.unmaskedData) }.prefix(2) == [#"{"type":"hello"}"#, #"{"type":"subscribed","topic":"jobs"}"#])
        #expect(frames.last?.opcode == .connectionClose)
        await run.server.stop()
    }
}
