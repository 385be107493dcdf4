import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import TapedeckCore
import TapedeckTestPeers
import Testing
@testable import TapedeckRecording

@Suite("RecordingProxy", .timeLimit(.minutes(1)))
struct RecordingProxyTests {
    struct Running {
        let dir: TemporaryDirectory
        let path: String
        let writer: RecordingWriter
        let proxy: RecordingProxy
        let port: Int
        let upstream: any Channel

        func stop() async throws {
            await proxy.stop()
            try await writer.finish()
            try await upstream.close()
        }
    }

    static func start(
        maxFrames: Int? = nil, maxFrameSize: Int = RecordingProxyConfiguration.defaultLimit,
        maxMessageSize: Int = RecordingProxyConfiguration.defaultLimit,
        configuration: RecordingConfiguration = RecordingConfiguration(batchSize: 4)
    ) async throws -> Running {
        let dir = try TemporaryDirectory()
        let path = dir.path("proxy.sqlite")
        let (upstream, upstreamPort) = try await TestUpstream.start()
        let writer = try await RecordingWriter.open(
            path: path, metadata: RecordingMetadata(name: "proxy"), configuration: configuration)
        let proxy = RecordingProxy(
            configuration: RecordingProxyConfiguration(
                upstream: try UpstreamURL(parsing: "ws://127.0.0.1:\(upstreamPort)/ws"), listenPort: 0, maxFrames: maxFrames,
                maxFrameSize: maxFrameSize, maxMessageSize: maxMessageSize),
            writer: writer, logger: Logger(label: "test"))
        let address = try await proxy.start()
        let port = try #require(Int(address.split(separator: ":").last ?? ""))
        return Running(dir: dir, path: path, writer: writer, proxy: proxy, port: port, upstream: upstream)
    }

    static func next(_ iterator: inout AsyncStream<WebSocketFrame>.Iterator) async throws -> (WebSocketOpcode, String) {
        let frame = try #require(await iterator.next())
        return (frame.opcode, String(buffer: frame.unmaskedData))
    }

    @Test("an upstream frame in the same read as the 101 reaches the client at once, 50 times in a row")
    func frameCoalescedWithThe101IsRelayedAtOnce() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("coalesced.sqlite")
        let (upstream, upstreamPort) = try await CoalescingUpstream.start()
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "c"), configuration: RecordingConfiguration(batchSize: 4))
        let proxy = RecordingProxy(
            configuration: RecordingProxyConfiguration(upstream: try UpstreamURL(parsing: "ws://127.0.0.1:\(upstreamPort)/ws"), listenPort: 0),
            writer: writer, logger: Logger(label: "test"))
        let port = try #require(Int(try await proxy.start().split(separator: ":").last ?? ""))
        var received = 0
        for _ in 0..<50 {
            // The client never sends a frame: the greeting must come by itself (a proxy that held it
            // for the next read would never send it; the timeout only allows for a busy machine).
            let text = try await RawWebSocketClient.firstText(port: port, uri: "/ws", timeout: .seconds(10))
            if text == CoalescingUpstream.greeting { received += 1 }
        }
        await proxy.stop()
        try await writer.finish()
        try await upstream.close()
        #expect(received == 50)
        let frames = try RecordingReader(path: path).frames()
        #expect(frames.filter { $0.frame.direction == .serverToClient && $0.frame.payload == Array(CoalescingUpstream.greeting.utf8) }.count == 50)
    }

    @Test("a client that leaves while the upstream answers its upgrade ends its session: stop returns")
    func clientGoneBeforeThe101() async throws {
        let dir = try TemporaryDirectory()
        let path = dir.path("gone.sqlite")
        let upstream = HeldUpstream()
        let upstreamPort = try await upstream.start()
        let writer = try await RecordingWriter.open(path: path, metadata: RecordingMetadata(name: "g"), configuration: RecordingConfiguration(batchSize: 4))
        let proxy = RecordingProxy(
            configuration: RecordingProxyConfiguration(upstream: try UpstreamURL(parsing: "ws://127.0.0.1:\(upstreamPort)/ws"), listenPort: 0),
            writer: writer, logger: Logger(label: "test"))
        let port = try #require(Int(try await proxy.start().split(separator: ":").last ?? ""))
        var events = upstream.events.makeAsyncIterator()
        // The client asks and leaves; only then does the upstream say 101.
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try await client.writeAndFlush(ByteBuffer(string: TestClient.upgradeRequest(uri: "/ws", port: port)))
        #expect(await events.next() == "request")
        try await client.close()
        upstream.answer()
        // The proxy finds its client gone and closes the upstream leg.
        #expect(await events.next() == "closed")
        await proxy.stop()
        try await writer.finish()
        try await upstream.close()
        let connections = try RecordingReader(path: path).connections()
        #expect(connections.count == 1)
        #expect(connections.first?.close.closedAt != nil)
    }

    /// A client fault the proxy must refuse as a server would: the frames sent, the close code the
    /// client must get, and what the recording's error must say.
    struct Fault: Sendable, CustomStringConvertible {
        var name: String
        var frames: [WebSocketFrame]
        var code: UInt16
        var error: String
        var description: String { name }
    }

    static let faults: [Fault] = {
        let small = ByteBuffer(bytes: Array("abc".utf8))
        let big = ByteBuffer(bytes: [UInt8](repeating: 0x61, count: 2000))
        let part = ByteBuffer(bytes: [UInt8](repeating: 0x61, count: 600))
        var badClose = ByteBuffer()
        badClose.writeInteger(UInt16(999))
        return [
            Fault(name: "unmasked", frames: [WebSocketFrame(fin: true, opcode: .text, data: small)], code: 1002, error: "the client sent an unmasked frame"),
            Fault(name: "reserved bit", frames: [WebSocketFrame(fin: true, rsv1: true, opcode: .text, maskKey: .random(), data: small)], code: 1002, error: "reserved bit"),
            Fault(name: "orphan continuation", frames: [WebSocketFrame(fin: true, opcode: .continuation, maskKey: .random(), data: small)], code: 1002, error: "continuation frame outside a message"),
            Fault(
                name: "message inside a message",
                frames: [WebSocketFrame(fin: false, opcode: .text, maskKey: .random(), data: small), WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: small)],
                code: 1002, error: "began a message inside an unfinished one"),
            Fault(name: "frame over the limit", frames: [WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: big)], code: 1009, error: "more than 1024 bytes (the limit, --max-frame-size)"),
            Fault(
                name: "message over the limit",
                frames: [
                    WebSocketFrame(fin: false, opcode: .binary, maskKey: .random(), data: part),
                    WebSocketFrame(fin: false, opcode: .continuation, maskKey: .random(), data: part),
                ],
                code: 1009, error: "more than 1024 bytes (the limit, --max-message-size)"),
            Fault(name: "close code 999", frames: [WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: badClose)], code: 1002, error: "close code 999"),
        ]
    }()

    @Test("a protocol fault or a frame over a limit gets the close a server would send, and is recorded", arguments: faults)
    func faultsAreRefusedAndRecorded(fault: Fault) async throws {
        let run = try await Self.start(maxFrameSize: 1024, maxMessageSize: 1024)
        let client = try await TestClient.connect(port: run.port, uri: "/ws")
        var frames = client.frames.makeAsyncIterator()
        try await client.send("hello")
        #expect(try await Self.next(&frames) == (.text, "echo:hello"))
        for f in fault.frames { try await client.send(frame: f) }
        // What the upstream answered to the frames before the fault comes first, then the close.
        var close = try #require(await frames.next())
        while close.opcode != .connectionClose { close = try #require(await frames.next()) }
        var data = close.unmaskedData
        #expect(data.readInteger(as: UInt16.self) == fault.code)
        try await client.channel.closeFuture.get()
        try await run.stop()
        let connection = try #require(try RecordingReader(path: run.path).connections().first)
        let error = try #require(connection.info.error)
        #expect(error.contains(fault.error), "\(error)")
        #expect(error.hasSuffix("the recorder closed the client with \(fault.code)"))
    }

    @Test("relays and records text, binary, ping/pong, fragments and a close 4000 with its reason")
    func relaysEverything() async throws {
        let run = try await Self.start()
        let client = try await TestClient.connect(
            port: run.port, uri: "/ws?token=SECRET1&room=a",
            headers: [("Sec-WebSocket-Protocol", "tapedeck.v1"), ("Authorization", "Bearer SECRET2")])
        var frames = client.frames.makeAsyncIterator()

        try await client.send("hello")
        #expect(try await Self.next(&frames) == (.text, "echo:hello"))
        try await client.send(.binary, [0, 1, 2, 0xFF])
        let binary = try #require(await frames.next())
        #expect(binary.opcode == .binary && Array(binary.unmaskedData.readableBytesView) == [0xFF, 2, 1, 0])
        try await client.send(.ping, Array("cping".utf8))
        #expect(try await Self.next(&frames) == (.pong, "cping"))
        try await client.send("please-ping")
        #expect(try await Self.next(&frames) == (.ping, "sping"))
        try await client.send(.pong, Array("sping".utf8))
        #expect(try await Self.next(&frames) == (.text, "pinged"))
        try await client.send(.text, Array("frag1-".utf8), fin: false)
        try await client.send(.continuation, Array("frag2-".utf8), fin: false)
        try await client.send(.continuation, Array("frag3".utf8), fin: true)
        #expect(try await Self.next(&frames) == (.text, "got:frag1-frag2-frag3"))
        let close: [UInt8] = [0x0F, 0xA0] + Array("bye now".utf8)
        try await client.send(.connectionClose, close)
        let closeReply = try #require(await frames.next())
        #expect(closeReply.opcode == .connectionClose && Array(closeReply.unmaskedData.readableBytesView) == close)
        try await client.channel.closeFuture.get()
        try await run.stop()

        let reader = try RecordingReader(path: run.path)
        let recorded = try reader.frames().map {
            ($0.frame.direction, $0.frame.opcode, $0.frame.fin, String(decoding: $0.frame.payload, as: UTF8.self))
        }
        let closeText = String(decoding: close, as: UTF8.self)
        let expected: [(FrameDirection, FrameOpcode, Bool, String)] = [
            (.clientToServer, .text, true, "hello"), (.serverToClient, .text, true, "echo:hello"),
            (.clientToServer, .binary, true, String(decoding: [0, 1, 2, 0xFF] as [UInt8], as: UTF8.self)),
            (.serverToClient, .binary, true, String(decoding: [0xFF, 2, 1, 0] as [UInt8], as: UTF8.self)),
            (.clientToServer, .ping, true, "cping"), (.serverToClient, .pong, true, "cping"),
            (.clientToServer, .text, true, "please-ping"), (.serverToClient, .ping, true, "sping"),
            (.clientToServer, .pong, true, "sping"), (.serverToClient, .text, true, "pinged"),
            (.clientToServer, .text, false, "frag1-"), (.clientToServer, .continuation, false, "frag2-"),
            (.clientToServer, .continuation, true, "frag3"), (.serverToClient, .text, true, "got:frag1-frag2-frag3"),
            (.clientToServer, .close, true, closeText), (.serverToClient, .close, true, closeText),
        ]
        #expect(recorded.count == expected.count)
        for (r, e) in zip(recorded, expected) {
            #expect(r.0 == e.0 && r.1 == e.1 && r.2 == e.2 && r.3 == e.3, "\(r) != \(e)")
        }
        let conn = try #require(reader.connections().first)
        #expect(conn.info.upgradeStatus == 101)
        #expect(conn.info.subprotocol == "tapedeck.v1")
        #expect(conn.info.query == "token=[REDACTED]&room=a")
        #expect(conn.close.clientCode == 4000 && conn.close.clientReason == "bye now")
        #expect(conn.close.serverCode == 4000 && conn.close.serverReason == "bye now")
        let bytes = try run.dir.allBytes()
        #expect(!bytes.contains("SECRET1") && !bytes.contains("SECRET2"))
    }

    @Test("relays the upstream's 401 with its headers and body, and records it")
    func relaysRefusal() async throws {
        let run = try await Self.start()
        let response = try await RawHTTP.upgradeRequest(port: run.port, uri: "/ws", headers: [("Authorization", "Bearer bad")])
        #expect(response.head.status == .unauthorized)
        #expect(response.head.headers.first(name: "www-authenticate") == #"Bearer realm="test""#)
        #expect(response.head.headers.first(name: "x-upstream") == "nio")
        #expect(response.body == "nope: invalid token\n")
        try await run.stop()
        let conn = try #require(RecordingReader(path: run.path).connections().first)
        #expect(conn.info.upgradeStatus == 401)
        #expect(conn.info.responseBody == Array("nope: invalid token\n".utf8))
        #expect(conn.info.requestHeaders.contains(HeaderField("Authorization", "Bearer [REDACTED]")))
    }

    @Test("many concurrent clients are recorded as separate connections, each in order")
    func concurrentClients() async throws {
        let run = try await Self.start()
        let port = run.port
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<6 {
                group.addTask {
                    let client = try await TestClient.connect(port: port, uri: "/ws")
                    var frames = client.frames.makeAsyncIterator()
                    for i in 0..<10 {
                        try await client.send("c\(n)-\(i)")
                        #expect(try await Self.next(&frames) == (.text, "echo:c\(n)-\(i)"))
                    }
                    try await client.send(.connectionClose, [0x03, 0xE8])
                    _ = await frames.next()
                    try await client.channel.closeFuture.get()
                }
            }
            try await group.waitForAll()
        }
        try await run.stop()
        let reader = try RecordingReader(path: run.path)
        let connections = try reader.connections()
        #expect(connections.count == 6)
        for c in connections {
            let texts = try reader.frames(connection: c.id).filter { $0.frame.opcode == .text }
                .map { String(decoding: $0.frame.payload, as: UTF8.self) }
            let prefix = try #require(texts.first?.split(separator: "-").first)
            #expect(texts == (0..<10).flatMap { ["\(prefix)-\($0)", "echo:\(prefix)-\($0)"] })
            #expect(c.close.clientCode == 1000)
        }
    }

    @Test("stops relaying at --max-frames and asks to be stopped")
    func maxFrames() async throws {
        let run = try await Self.start(maxFrames: 4)
        let client = try await TestClient.connect(port: run.port, uri: "/ws")
        var frames = client.frames.makeAsyncIterator()
        try await client.send("one")
        #expect(try await Self.next(&frames) == (.text, "echo:one"))
        try await client.send("two")
        #expect(try await Self.next(&frames) == (.text, "echo:two"))
        try await client.send("three")
        var stops = run.proxy.stopRequests.makeAsyncIterator()
        #expect(await stops.next() == .maxFramesReached)
        try await run.stop()
        #expect(try RecordingReader(path: run.path).frames().count == 4)
    }

    @Test("a stalled disk makes the proxy stop reading instead of buffering; nothing is lost")
    func backpressure() async throws {
        let capacity = 64
        let run = try await Self.start(
            configuration: RecordingConfiguration(batchSize: 16, flushInterval: .milliseconds(5), queueCapacity: capacity))
        let client = try await TestClient.connect(port: run.port, uri: "/ws")
        var frames = client.frames.makeAsyncIterator()
        try await client.send("hello")
        #expect(try await Self.next(&frames) == (.text, "echo:hello"))
        while run.writer.statistics.framesCommitted < 2 { try await Task.sleep(for: .milliseconds(5)) }

        let lock = WriteLockHolder(path: run.path)
        try await lock.acquire()
        let total = 3000
        try await client.send("flood \(total)")
        // Receive until the proxy stops relaying: it may only relay what it has been able to queue.
        var received = 0
        var maxAccepted = 0
        while run.writer.statistics.framesAccepted < capacity + 3 {
            try await Task.sleep(for: .milliseconds(5))
        }
        for _ in 0..<40 {
            try await Task.sleep(for: .milliseconds(5))
            maxAccepted = max(maxAccepted, run.writer.statistics.framesAccepted)
        }
        // At most one read() beyond the queue's capacity: NIO reads up to 4 x 64 KiB per read(), which is
        // about 4 x 65 frames of 1 KB here; far below the 3000 frames the upstream has sent.
        #expect(maxAccepted <= 3 + capacity + 4 * 66, "the proxy kept reading while the recorder was stalled")
        lock.release()
        while true {
            let frame = try #require(await frames.next())
            if frame.opcode == .text { break }
            #expect(frame.unmaskedData.getInteger(at: frame.unmaskedData.readerIndex, as: UInt32.self) == UInt32(received))
            received += 1
        }
        #expect(received == total)
        try await client.send(.connectionClose, [0x03, 0xE8])
        _ = await frames.next()
        try await client.channel.closeFuture.get()
        try await run.stop()
        let binary = try RecordingReader(path: run.path).frames().filter { $0.frame.opcode == .binary }
        #expect(binary.count == total)
    }
}
