import NIOCore

/// The read side of a `stall` fault: put first in a connection's pipeline, it stops reading from
/// the socket (it holds back `read()`, so the client's bytes wait in the TCP buffers) and keeps
/// the bytes of a read already under way; ``open(context:)`` hands them on, reads again and
/// takes itself out of the pipeline. Without a read stall it is not in the pipeline at all.
final class ReadGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = Any
    typealias OutboundOut = Any

    private var held: [ByteBuffer] = []
    private var readWanted = false
    private var context: ChannelHandlerContext?
    private var closed = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard closed else { return context.fireChannelRead(data) }
        held.append(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !closed else { return }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        guard !closed else {
            readWanted = true
            return
        }
        context.read()
    }

    /// Stops reading (on the event loop).
    func shut() { closed = true }

    /// Hands on what was read meanwhile, reads again, and leaves the pipeline (on the event loop).
    func open() {
        guard closed, let context else { return }
        closed = false
        let bytes = held
        held = []
        for b in bytes { context.fireChannelRead(wrapInboundOut(b)) }
        if !bytes.isEmpty { context.fireChannelReadComplete() }
        if readWanted {
            readWanted = false
            context.read()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
