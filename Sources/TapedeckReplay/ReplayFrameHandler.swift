import NIOCore
import NIOWebSocket
import TapedeckRecording

/// Hands the frames of an upgraded channel to a replay session.
final class ReplayFrameHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame

    let continuation: AsyncStream<ReplayInput>.Continuation

    init(continuation: AsyncStream<ReplayInput>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let opcode = FrameOpcode(frame.opcode) else { return }
        continuation.yield(.frame(opcode: opcode, fin: frame.fin, payload: Array(frame.unmaskedData.readableBytesView)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.yield(.disconnected)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
