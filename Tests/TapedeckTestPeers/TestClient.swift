import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

// NIO peers that the end-to-end tests of the recording proxy and of replay share.

/// Runs a closure at most once (a promise must be completed exactly once).
public final class Once: Sendable {
    public init() {}
    private let done = Mutex(false)
    public func run(_ body: () -> Void) {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        if first { body() }
    }
}

/// A WebSocket client built on NIO's client upgrader (which checks the server's handshake);
/// received frames arrive on `frames` exactly as they came (fragments are not joined).
public final class TestClient: Sendable {
    public let channel: any Channel
    public let frames: AsyncStream<WebSocketFrame>
    /// The subprotocol the server selected.
    public let subprotocol: String?

    private init(channel: any Channel, frames: AsyncStream<WebSocketFrame>, subprotocol: String?) {
        self.channel = channel
        self.frames = frames
        self.subprotocol = subprotocol
    }

    /// The key every test handshake sends, and the accept value RFC 6455 gives for it.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="

    /// A WebSocket upgrade request for `uri` on 127.0.0.1:`port`, with the fixed key ``key`` and
    /// `headers` added, as raw clients in tests send it.
    public static func upgradeRequest(uri: String, port: Int, headers: [(String, String)] = []) -> String {
        var request = "GET \(uri) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        for (n, v) in headers { request += "\(n): \(v)\r\n" }
        return request + "\r\n"
    }
    static let expectedAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    public static func connect(port: Int, uri: String, headers: [(String, String)] = []) async throws -> TestClient {
        let (stream, continuation) = AsyncStream<WebSocketFrame>.makeStream()
        let upgraded = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: String?.self)
        let once = Once()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handshake(uri: uri, port: port, headers: headers, upgraded: upgraded, once: once, frames: continuation))
                }
            }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        channel.closeFuture.whenComplete { _ in once.run { upgraded.fail(ChannelError.ioOnClosedChannel) } }
        let selected = try await upgraded.futureResult.get()
        return TestClient(channel: channel, frames: stream, subprotocol: selected)
    }

    public func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true) async throws {
        let frame = WebSocketFrame(fin: fin, opcode: opcode, maskKey: .random(), data: ByteBuffer(bytes: bytes))
        try await channel.writeAndFlush(frame)
    }

    public func send(_ text: String) async throws { try await send(.text, Array(text.utf8)) }

    /// Sends a frame exactly as given (unmasked, reserved bits), for protocol faults.
    public func send(frame: WebSocketFrame) async throws { try await channel.writeAndFlush(frame) }

    /// Sends the upgrade request, reads the answer byte by byte up to its blank line and checks it,
    /// then puts the frame codec and the collector in its place and hands them the bytes that came with
    /// the 101 (a server may send its first frames, even its close, in the same segment).
    final class Handshake: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let uri: String
        let port: Int
        let headers: [(String, String)]
        let upgraded: EventLoopPromise<String?>
        let once: Once
        let frames: AsyncStream<WebSocketFrame>.Continuation
        var received = ByteBuffer()
        var done = false

        init(uri: String, port: Int, headers: [(String, String)], upgraded: EventLoopPromise<String?>, once: Once, frames: AsyncStream<WebSocketFrame>.Continuation) {
            self.once = once
            self.uri = uri
            self.port = port
            self.headers = headers
            self.upgraded = upgraded
            self.frames = frames
        }

        func channelActive(context: ChannelHandlerContext) {
            let request = TestClient.upgradeRequest(uri: uri, port: port, headers: headers)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.writeBuffer(&bytes)
            let view = received.readableBytesView
            guard !done, let end = view.firstRange(of: [13, 10, 13, 10]) else { return }
            done = true
            let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            received.moveReaderIndex(to: end.upperBound)
            var lines = head.split(separator: "\r\n").map(String.init)
            let status = lines.isEmpty ? "" : lines.removeFirst()
            var fields: [String: String] = [:]
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                fields[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop(while: { $0 == " " }))
            }
            guard status.hasPrefix("HTTP/1.1 101"), fields["sec-websocket-accept"] == TestClient.expectedAccept,
                fields["upgrade"]?.lowercased() == "websocket"
            else {
                once.run { upgraded.fail(HandshakeFailed(status: status)) }
                context.close(promise: nil)
                return
            }
            do {
                let sync = context.pipeline.syncOperations
                try sync.addHandler(WebSocketFrameEncoder())
                try sync.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
                try sync.addHandler(Collector(continuation: frames))
            } catch {
                once.run { upgraded.fail(error) }
                context.close(promise: nil)
                return
            }
            let selected = fields["sec-websocket-protocol"]
            once.run { upgraded.succeed(selected) }
            if received.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(received)) }
            received = ByteBuffer()
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }

        typealias InboundOut = ByteBuffer

        func channelInactive(context: ChannelHandlerContext) {
            if !done {
                done = true
                once.run { upgraded.fail(ChannelError.ioOnClosedChannel) }
                frames.finish()
            }
            context.fireChannelInactive()
        }
    }

    /// The server did not switch protocols.
    public struct HandshakeFailed: Error, CustomStringConvertible {
        public let status: String
        public var description: String { "the upgrade was not accepted: \(status)" }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        let continuation: AsyncStream<WebSocketFrame>.Continuation
        init(continuation: AsyncStream<WebSocketFrame>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }
        func handlerRemoved(context: ChannelHandlerContext) {
            continuation.finish()
        }
    }
}

/// A plain HTTP exchange, to see a refused upgrade as the client sees it.
public enum RawHTTP {
    public struct Response: Sendable {
        public var head: HTTPResponseHead
        public var body: String
    }

    public static func upgradeRequest(port: Int, uri: String, headers: [(String, String)] = []) async throws -> Response {
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Response.self)
        let once = Once()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(Collect(promise: promise, once: once))
                }
            }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        var h = HTTPHeaders()
        h.add(name: "Host", value: "127.0.0.1:\(port)")
        h.add(name: "Upgrade", value: "websocket")
        h.add(name: "Connection", value: "Upgrade")
        h.add(name: "Sec-WebSocket-Key", value: "dGhlIHNhbXBsZSBub25jZQ==")
        h.add(name: "Sec-WebSocket-Version", value: "13")
        for (n, v) in headers { h.add(name: n, value: v) }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: h)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        channel.closeFuture.whenComplete { _ in once.run { promise.fail(ChannelError.ioOnClosedChannel) } }
        let response = try await promise.futureResult.get()
        try? await channel.close()
        return response
    }

    final class Collect: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Response>
        let once: Once
        var head: HTTPResponseHead?
        var body = ""
        init(promise: EventLoopPromise<Response>, once: Once) {
            self.promise = promise
            self.once = once
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h
            case .body(let b): body += String(buffer: b)
            case .end:
                if let head {
                    let response = Response(head: head, body: body)
                    once.run { promise.succeed(response) }
                }
            }
        }
    }
}
