import Logging
import NIOCore
import NIOWebSocket

/// Sits on one side of a proxied connection: hands frames to the session and withholds reads while
/// the recorder's queue is full or the other side cannot take more (backpressure).
final class ProxyRelayHandler: ChannelDuplexHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    let session: ProxySession
    let side: ProxySession.Side
    private var context: ChannelHandlerContext?
    private var readPending = false

    init(session: ProxySession, side: ProxySession.Side) {
        self.session = session
        self.side = side
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        session.received(unwrapInboundIn(data), from: side)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        session.readComplete(from: side)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        session.readGatesChanged()
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        session.sideClosed(side)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        session.proxy.logger.debug("connection \(session.id) \(side): \(error)")
        if let error = error as? NIOWebSocketError {
            // Recorded first; WebSocketProtocolErrorHandler, next, answers the offender with 1009
            // or 1002 and closes it.
            session.decoderRefused(error, from: side)
            context.fireErrorCaught(error)
            return
        }
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if session.mayRead(side) {
            context.read()
        } else {
            readPending = true
        }
    }

    func resumeIfAllowed() {
        guard readPending, let context, session.mayRead(side) else { return }
        readPending = false
        context.read()
    }
}
