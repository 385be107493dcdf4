public import NIOCore
public import NIOHTTP1

/// A server's HTTP answer to a WebSocket upgrade request: the head, and the body of a refusal.
public struct UpstreamAnswer: Sendable {
    public var head: HTTPResponseHead
    public var body: ByteBuffer
}

/// Collects a server's HTTP answer to an upgrade request (a 101, or e.g. a 401 with its body).
/// Shared by the recording proxy and the as-client replay.
public final class ProxyUpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<UpstreamAnswer>
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private var done = false

    public init(promise: EventLoopPromise<UpstreamAnswer>) {
        self.promise = promise
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
    public func fail(_ error: any Error) {
        guard !done else { return }
        done = true
        promise.fail(error)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        fail(RecordingError.proxy("the upstream closed the connection before answering the upgrade"))
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }
}
