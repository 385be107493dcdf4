import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
import TapedeckTestPeers

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
