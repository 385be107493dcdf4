import NIOCore
import NIOHTTP1

/// Turns hummingbird-websocket's fixed `400 Bad Request` for a refused upgrade into the status and
/// body the profile asks for (401, 403, 404, 429, ...).
///
/// It is added to the channel while the upgrade is being decided, so it sits between the HTTP
/// encoder and the codec Hummingbird adds for the refusal, and sees the refusal's response parts.
final class UpgradeRefusalHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let status: HTTPResponseStatus
    let body: [UInt8]
    let contentType: String
    let extraHeaders: [(String, String)]
    private var rewriting = false

    init(status: Int, body: [UInt8], contentType: String, extraHeaders: [(String, String)] = []) {
        self.status = HTTPResponseStatus(statusCode: status)
        self.body = body
        self.contentType = contentType
        self.extraHeaders = extraHeaders
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status == .badRequest:
            rewriting = true
            head.status = status
            head.headers.replaceOrAdd(name: "content-length", value: String(body.count))
            head.headers.replaceOrAdd(name: "content-type", value: contentType)
            for (k, v) in extraHeaders { head.headers.add(name: k, value: v) }
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end(let trailers) where rewriting:
            rewriting = false
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            context.write(wrapOutboundOut(.end(trailers)), promise: promise)
        default:
            context.write(data, promise: promise)
        }
    }
}
