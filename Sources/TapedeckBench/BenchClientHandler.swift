import Histogram
import NIOCore
import NIOWebSocket
import TapedeckCore

/// The per-connection handler after the upgrade: counts messages and bytes, reads the latency stamp,
/// answers pings, and sends the connection's first message.
///
/// It does as little as it can per message: no copy of the payload, no JSON parsing unless a latency
/// field is asked for, and then a byte scan (`LatencyField`) rather than a parse.
final class BenchClientHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let stats: LoopStats
    private let latencyField: LatencyField?
    private let firstMessage: String?
    private var fragments: ByteBuffer?
    private var fragmentsAreText = false
    private var closing = false

    init(stats: LoopStats, latencyField: LatencyField?, firstMessage: String?) {
        self.stats = stats
        self.latencyField = latencyField
        self.firstMessage = firstMessage
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let firstMessage else { return }
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: context.channel.allocator.buffer(string: firstMessage))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            if frame.fin {
                received(frame.data, text: frame.opcode == .text)
            } else {
                fragments = frame.data
                fragmentsAreText = frame.opcode == .text
            }
        case .continuation:
            guard var whole = fragments else { return }
            var part = frame.data
            whole.writeBuffer(&part)
            if frame.fin {
                fragments = nil
                received(whole, text: fragmentsAreText)
            } else {
                fragments = whole
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.data)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            if !closing {
                closing = true
                var code = context.channel.allocator.buffer(capacity: 2)
                code.write(webSocketErrorCode: .normalClosure)
                let reply = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code)
                context.writeAndFlush(wrapOutboundOut(reply)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            }
        default:
            break
        }
    }

    @inline(__always)
    private func received(_ payload: ByteBuffer, text: Bool) {
        stats.messages &+= 1
        stats.bytes &+= payload.readableBytes
        guard let latencyField else { return }
        let stamp = payload.withUnsafeReadableBytes { latencyField.extract(from: $0) }
        guard let stamp else {
            stats.latencyMissing &+= 1
            return
        }
        let delta = monotonicNanoseconds() &- stamp
        if delta < 0 {
            stats.latencyNegative &+= 1
            return
        }
        _ = stats.latency.record(UInt64(delta))
    }

    /// Closes with 1000 from our side (the end of the run).
    func close(context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        var code = context.channel.allocator.buffer(capacity: 2)
        code.write(webSocketErrorCode: .normalClosure)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code)
        context.writeAndFlush(wrapOutboundOut(frame)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is BenchClientHandler.CloseRequest {
            close(context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !closing { stats.closedByServer += 1 }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Sent through the pipeline to end the connection politely.
    struct CloseRequest: Sendable {}
}
