import NIOCore
import NIOHTTP1

/// The upstream's answer to the forwarded upgrade request.
struct UpstreamAnswer: Sendable {
    var head: HTTPResponseHead
    var body: ByteBuffer
}

/// Collects the upstream's HTTP answer to the upgrade request (a 101, or e.g. a 401 with its body).
final class ProxyUpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<UpstreamAnswer>
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var done = false

    init(promise: EventLoopPromise<UpstreamAnswer>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(var b):
            body.writeBuffer(&b)
        case .end:
            finish()
        }
    }

    private func finish() {
        guard !done, let head else { return }
        done = true
        promise.succeed(UpstreamAnswer(head: head, body: body))
    }

    /// Fails the answer unless it is already complete.
    func fail(_ error: any Error) {
        guard !done else { return }
        done = true
        promise.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(RecordingError.proxy("the upstream closed the connection before answering the upgrade"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }
}
