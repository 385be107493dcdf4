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

    public static func connect(port: Int, uri: String, headers: [(String, String)] = []) async throws -> TestClient {
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

    public func send(_ opcode: WebSocketOpcode, _ bytes: [UInt8], fin: Bool = true) async throws {
        let frame = WebSocketFrame(fin: fin, opcode: opcode, maskKey: .random(), data: ByteBuffer(bytes: bytes))
        try await channel.writeAndFlush(frame)
    }

    public func send(_ text: String) async throws { try await send(.text, Array(text.utf8)) }

    /// Sends a frame exactly as given (unmasked, reserved bits), for protocol faults.
    public func send(frame: WebSocketFrame) async throws { try await channel.writeAndFlush(frame) }

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
