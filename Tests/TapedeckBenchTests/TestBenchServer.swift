import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import TapedeckCore

/// A tiny WebSocket server for the load generator's tests, on NIO's server upgrader.
///
/// - An upgrade without `Authorization: Bearer ok` is refused with 401 when `requireAuth` is set.
/// - Every text message a client sends is kept in `received`, with the subprotocol it offered.
/// - `stream COUNT EVERY_MS UNSTAMPED_EVERY` makes the server send COUNT messages to that client, one every
///   EVERY_MS ms (0: all at once), `{"type":"tick","data":{"i":K,"t":<mono_ns()>}}`; every UNSTAMPED_EVERY-th
///   one (0: none) has no `t`.
final class TestBenchServer: Sendable {
    let channel: any Channel
    let port: Int
    private let box: Box

    /// Text messages received, in order of arrival, as "subprotocol|message".
    var received: [String] { box.received.withLock { $0 } }

    private init(channel: any Channel, port: Int, box: Box) {
        self.channel = channel
        self.port = port
        self.box = box
    }

    static func start(requireAuth: Bool = false) async throws -> TestBenchServer {
        let box = Box()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, head in
                        if requireAuth, head.headers.first(name: "authorization") != "Bearer ok" {
                            return channel.eventLoop.makeSucceededFuture(nil)
                        }
                        var headers = HTTPHeaders()
                        if let offered = head.headers.first(name: "sec-websocket-protocol") {
                            headers.add(name: "Sec-WebSocket-Protocol", value: offered)
                        }
                        return channel.eventLoop.makeSucceededFuture(headers)
                    },
                    upgradePipelineHandler: { channel, head in
                        channel.eventLoop.makeCompletedFuture {
                            let sync = channel.pipeline.syncOperations
                            _ = sync.removeHandler(name: "refuse")
                            try sync.addHandler(
                                StreamHandler(box: box, subprotocol: head.headers.first(name: "sec-websocket-protocol") ?? ""))
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(Refuse(), name: "refuse")
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return TestBenchServer(channel: channel, port: channel.localAddress?.port ?? 0, box: box)
    }

    func stop() async { try? await channel.close() }

    final class Box: Sendable {
        let received = Mutex<[String]>([])
    }

    /// Answers a refused upgrade (plain HTTP) with 401.
    final class Refuse: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "0")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .unauthorized, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    final class StreamHandler: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let box: Box
        let subprotocol: String
        var sent = 0
        var task: RepeatedTask?

        init(box: Box, subprotocol: String) {
            self.box = box
            self.subprotocol = subprotocol
        }

        func message(_ i: Int, stamped: Bool, allocator: ByteBufferAllocator) -> WebSocketFrame {
            let text = stamped
                ? #"{"type":"tick","note":"a \"quoted\" {brace} [x]","data":{"i":\#(i),"t":\#(monotonicNanoseconds())}}"#
                : #"{"type":"tick","data":{"i":\#(i)}}"#
            return WebSocketFrame(fin: true, opcode: .text, data: allocator.buffer(string: text))
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                let text = String(buffer: frame.unmaskedData)
                box.received.withLock { $0.append("\(subprotocol)|\(text)") }
                let parts = text.split(separator: " ")
                guard parts.count == 4, parts[0] == "stream", let count = Int(parts[1]), let every = Int(parts[2]),
                    let unstamped = Int(parts[3])
                else { return }
                if every == 0 {
                    for i in 0..<count {
                        let stamped = unstamped == 0 || (i + 1) % unstamped != 0
                        context.write(wrapOutboundOut(message(i, stamped: stamped, allocator: context.channel.allocator)), promise: nil)
                    }
                    context.flush()
                } else {
                    let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
                    task = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(Int64(every))) { task in
                        let (handler, context) = bound.value
                        guard handler.sent < count else { return task.cancel() }
                        let stamped = unstamped == 0 || (handler.sent + 1) % unstamped != 0
                        let frame = handler.message(handler.sent, stamped: stamped, allocator: context.channel.allocator)
                        context.writeAndFlush(handler.wrapOutboundOut(frame), promise: nil)
                        handler.sent += 1
                    }
                }
            case .connectionClose:
                task?.cancel()
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)))
                    .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            default:
                break
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            task?.cancel()
            context.fireChannelInactive()
        }
    }
}
