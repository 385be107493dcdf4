import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// Runs a closure at most once (a promise must be completed exactly once).
final class Once: Sendable {
    private let done = Mutex(false)
    func run(_ body: () -> Void) {
        let first = done.withLock { d -> Bool in
            defer { d = true }
            return !d
        }
        if first { body() }
    }
}

/// A small upstream WebSocket server built on NIO's WebSocket upgrader.
///
/// It echoes text as `echo:<text>`, reverses binary payloads, answers pings with pongs, answers
/// `please-ping` by pinging and then sending `pinged` once the pong arrives, answers a fragmented message
/// with `got:<message>`, and echoes a close frame. A request with `Authorization: Bearer bad` gets a 401.
enum TestUpstream {
    static func start() async throws -> (channel: any Channel, port: Int) {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, head in
                        if head.headers.first(name: "authorization") == "Bearer bad" {
                            return channel.eventLoop.makeSucceededFuture(nil)
                        }
                        var headers = HTTPHeaders()
                        if let offered = head.headers.first(name: "sec-websocket-protocol"),
                            offered.contains("tapedeck.v1")
                        {
                            headers.add(name: "Sec-WebSocket-Protocol", value: "tapedeck.v1")
                        }
                        return channel.eventLoop.makeSucceededFuture(headers)
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            _ = channel.pipeline.syncOperations.removeHandler(name: "refuse")
                            try channel.pipeline.syncOperations.addHandler(EchoHandler())
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(RefusingHTTPHandler(), name: "refuse")
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return (channel, channel.localAddress?.port ?? 0)
    }

    /// Answers every plain HTTP request (a refused upgrade) with 401.
    final class RefusingHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let body = "nope: invalid token\n"
            var headers = HTTPHeaders()
            headers.add(name: "WWW-Authenticate", value: #"Bearer realm="test""#)
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "X-Upstream", value: "nio")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .unauthorized, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        private var fragments: ByteBuffer?

        func send(_ context: ChannelHandlerContext, _ opcode: WebSocketOpcode, _ data: ByteBuffer) {
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: data)), promise: nil)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            var payload = frame.unmaskedData
            switch frame.opcode {
            case .text where !frame.fin:
                fragments = payload
            case .continuation:
                fragments?.writeBuffer(&payload)
                if frame.fin, let whole = fragments {
                    fragments = nil
                    send(context, .text, ByteBuffer(string: "got:" + String(buffer: whole)))
                }
            case .text:
                let text = String(buffer: payload)
                if text.hasPrefix("flood "), let n = Int(text.dropFirst(6)) {
                    for i in 0..<n {
                        var frame = ByteBuffer(repeating: UInt8(i % 251), count: 1000)
                        frame.setInteger(UInt32(i), at: 0)
                        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .binary, data: frame)), promise: nil)
                    }
                    send(context, .text, ByteBuffer(string: "done"))
                } else if text == "please-ping" {
                    send(context, .ping, ByteBuffer(string: "sping"))
                } else {
                    send(context, .text, ByteBuffer(string: "echo:" + text))
                }
            case .binary:
                send(context, .binary, ByteBuffer(bytes: Array(payload.readableBytesView.reversed())))
            case .ping:
                send(context, .pong, payload)
            case .pong:
                send(context, .text, ByteBuffer(string: "pinged"))
            case .connectionClose:
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
                    .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            default:
                break
            }
        }
    }
}

/// A WebSocket client built on NIO's client upgrader; received frames arrive on `frames`.
final class TestClient: Sendable {
    let channel: any Channel
    let frames: AsyncStream<WebSocketFrame>

    private init(channel: any Channel, frames: AsyncStream<WebSocketFrame>) {
        self.channel = channel
        self.frames = frames
    }

    static func connect(port: Int, uri: String, headers: [(String, String)] = []) async throws -> TestClient {
        let (stream, continuation) = AsyncStream<WebSocketFrame>.makeStream()
        let upgraded = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let once = Once()
        let requestHeaders = headers
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                    }
                })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in once.run { upgraded.succeed() } }))
                    try channel.pipeline.syncOperations.addHandler(
                        InitialRequest(uri: uri, port: port, headers: requestHeaders))
                }
            }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        channel.closeFuture.whenComplete { _ in
            once.run { upgraded.fail(ChannelError.ioOnClosedChannel) }
            continuation.finish()
        }
        try await upgraded.futureResult.get()
        return TestClient(channel: channel, frames: stream)
    }

    func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true) async throws {
        let frame = WebSocketFrame(fin: fin, opcode: opcode, maskKey: .random(), data: ByteBuffer(bytes: bytes))
        try await channel.writeAndFlush(frame)
    }

    func send(_ text: String) async throws { try await send(.text, Array(text.utf8)) }

    /// Sends a frame exactly as given (unmasked, reserved bits), for protocol faults.
    func send(frame: WebSocketFrame) async throws { try await channel.writeAndFlush(frame) }

    final class InitialRequest: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        let uri: String
        let port: Int
        let headers: [(String, String)]

        init(uri: String, port: Int, headers: [(String, String)]) {
            self.uri = uri
            self.port = port
            self.headers = headers
        }

        func channelActive(context: ChannelHandlerContext) {
            var h = HTTPHeaders()
            h.add(name: "Host", value: "127.0.0.1:\(port)")
            for (n, v) in headers { h.add(name: n, value: v) }
            context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: h))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        let continuation: AsyncStream<WebSocketFrame>.Continuation
        init(continuation: AsyncStream<WebSocketFrame>.Continuation) { self.continuation = continuation }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }
    }
}

/// A plain HTTP exchange, to see a refused upgrade as the client sees it.
enum RawHTTP {
    struct Response: Sendable {
        var head: HTTPResponseHead
        var body: String
    }

    static func upgradeRequest(port: Int, uri: String, headers: [(String, String)]) async throws -> Response {
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
