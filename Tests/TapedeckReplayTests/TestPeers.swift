import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

// NIO peers for end-to-end tests, after Tests/TapedeckRecordingTests/TestWebSocketPeers.swift.

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

/// A WebSocket client built on NIO's client upgrader (which checks the server's handshake);
/// received frames arrive on `frames` exactly as they came (fragments are not joined).
final class TestClient: Sendable {
    let channel: any Channel
    let frames: AsyncStream<WebSocketFrame>
    /// The subprotocol the server selected.
    let subprotocol: String?

    private init(channel: any Channel, frames: AsyncStream<WebSocketFrame>, subprotocol: String?) {
        self.channel = channel
        self.frames = frames
        self.subprotocol = subprotocol
    }

    static func connect(port: Int, uri: String, headers: [(String, String)] = []) async throws -> TestClient {
        let (stream, continuation) = AsyncStream<WebSocketFrame>.makeStream()
        let upgraded = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: String?.self)
        let once = Once()
        let requestHeaders = headers
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(
                    maxFrameSize: 1 << 20,
                    upgradePipelineHandler: { channel, response in
                        let selected = response.headers.first(name: "sec-websocket-protocol")
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(Collector(continuation: continuation))
                            once.run { upgraded.succeed(selected) }
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(
                        InitialRequest(uri: uri, port: port, headers: requestHeaders))
                }
            }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        channel.closeFuture.whenComplete { _ in
            once.run { upgraded.fail(ChannelError.ioOnClosedChannel) }
            // Once upgraded, the collector ends the stream when it leaves the pipeline: frames
            // that came with the 101 are handed on after the upgrade, even when the server has
            // closed by then, and must not be cut off.
            channel.eventLoop.execute {
                if (try? channel.pipeline.syncOperations.handler(type: Collector.self)) == nil { continuation.finish() }
            }
        }
        let selected = try await upgraded.futureResult.get()
        return TestClient(channel: channel, frames: stream, subprotocol: selected)
    }

    func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true) async throws {
        let frame = WebSocketFrame(fin: fin, opcode: opcode, maskKey: .random(), data: ByteBuffer(bytes: bytes))
        try await channel.writeAndFlush(frame)
    }

    func send(_ text: String) async throws { try await send(.text, Array(text.utf8)) }

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
        func handlerRemoved(context: ChannelHandlerContext) {
            continuation.finish()
        }
    }
}

/// A plain HTTP exchange, to see a refused upgrade as the client sees it.
enum RawHTTP {
    struct Response: Sendable {
        var head: HTTPResponseHead
        var body: String
    }

    static func upgradeRequest(port: Int, uri: String, headers: [(String, String)] = []) async throws -> Response {
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

/// A small live server for as-client tests: refuses `Authorization: Bearer bad` with 401; greets with
/// `{"type":"welcome"}`; answers each text message `m` with `{"type":"echo","text":m}`; answers `bye`
/// with a close 4001 "bye"; answers a close with the same close.
enum TestServer {
    static func start(greeting: String = #"{"type":"welcome"}"#) async throws -> (channel: any Channel, port: Int) {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, head in
                        if head.headers.first(name: "authorization") == "Bearer bad" {
                            return channel.eventLoop.makeSucceededFuture(nil)
                        }
                        return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            _ = channel.pipeline.syncOperations.removeHandler(name: "refuse")
                            try channel.pipeline.syncOperations.addHandler(Handler(greeting: greeting))
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(Refuse(), name: "refuse")
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return (channel, channel.localAddress?.port ?? 0)
    }

    final class Refuse: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let body = "bad token\n"
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .unauthorized, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let greeting: String
        init(greeting: String) { self.greeting = greeting }

        func send(_ context: ChannelHandlerContext, _ opcode: WebSocketOpcode, _ data: ByteBuffer) {
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: data)), promise: nil)
        }

        func handlerAdded(context: ChannelHandlerContext) {
            send(context, .text, ByteBuffer(string: greeting))
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            let payload = frame.unmaskedData
            switch frame.opcode {
            case .text:
                let text = String(buffer: payload)
                if text == "bye" {
                    var b = ByteBuffer()
                    b.writeInteger(UInt16(4001))
                    b.writeString("bye")
                    send(context, .connectionClose, b)
                } else {
                    let escaped = text.replacingOccurrences(of: "\"", with: "\\\"")
                    send(context, .text, ByteBuffer(string: #"{"type":"echo","text":"\#(escaped)"}"#))
                }
            case .ping:
                send(context, .pong, payload)
            case .connectionClose:
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)))
                    .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            default:
                break
            }
        }
    }
}
