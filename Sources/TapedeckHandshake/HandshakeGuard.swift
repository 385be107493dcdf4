public import Logging
public import NIOCore
public import NIOHTTP1

/// Guards the first HTTP request of a connection, until it has been read whole: what `serve` and
/// `record` share in front of their upgrades.
///
/// - A client that does not send a complete request within `timeout` (a slowloris sending its
///   headers a byte at a time, a socket that never sends anything) is dropped.
/// - A request the HTTP decoder cannot read gets 400, one whose headers are over the decoder's
///   limit 431, at once, and the connection closes.
/// - `screen`, when given, sees the request head first: an answer it returns is sent instead of
///   passing the request on (the rest of the request is dropped), then the connection closes.
///
/// Put it right after the HTTP request decoder. Once the first request has been read it has
/// nothing more to do: it leaves the pipeline, and until it has left, passes everything on as it is.
public final class HandshakeGuard: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart

    /// Looks at a request head before it goes on; an answer refuses the request.
    public typealias Screen = @Sendable (HTTPRequestHead) -> HandshakeAnswer?

    private enum State {
        /// The first request is not complete yet; the timer runs.
        case reading
        /// The request was refused: its answer is written, the rest of it is dropped.
        case refused
        /// The first request went on whole: nothing left to guard.
        case done
    }

    private let timeout: Duration
    private let logger: Logger
    private let screen: Screen?
    private var state = State.reading
    private var timer: Scheduled<Void>?

    public init(timeout: Duration, logger: Logger, screen: Screen? = nil) {
        self.timeout = timeout
        self.logger = logger
        self.screen = screen
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        guard state == .reading else { return }
        let limit = timeout, logger = logger
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            logger.debug("client connection: no complete request within \(limit); dropped")
            channel.close(promise: nil)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .done:
            // Bytes after the request (frames sent right behind an upgrade) while leaving the pipeline.
            context.fireChannelRead(data)
        case .refused:
            break
        case .reading:
            let part = unwrapInboundIn(data)
            switch part {
            case .head(let head):
                if let answer = screen?(head) {
                    logger.debug("client connection: refused \(answer.status.code): \(answer.text.dropLast())")
                    refuse(answer, context: context)
                    return
                }
                context.fireChannelRead(data)
            case .body:
                context.fireChannelRead(data)
            case .end:
                state = .done
                timer?.cancel()
                timer = nil
                context.fireChannelRead(data)
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch state {
        case .done:
            context.fireErrorCaught(error)
        case .refused:
            break
        case .reading:
            logger.debug("client connection: \(error)")
            if let error = error as? HTTPParserError {
                // A request that cannot be read is answered, not dropped.
                refuse(.answering(error), context: context)
            } else {
                context.close(promise: nil)
            }
        }
    }

    private func refuse(_ answer: HandshakeAnswer, context: ChannelHandlerContext) {
        state = .refused
        timer?.cancel()
        timer = nil
        answer.send(on: context)
    }
}
