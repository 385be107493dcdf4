import Foundation
import Logging
import NIOCore
import TapedeckCompression
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import TapedeckHandshake

/// Receives the client's upgrade request, forwards it upstream, relays the upstream's real answer and,
/// on a 101, swaps both pipelines to WebSocket frames and starts relaying.
final class ProxyFrontHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let proxy: RecordingProxy
    private let requestDecoder: ByteToMessageHandler<HTTPRequestDecoder>
    private let responseEncoder: HTTPResponseEncoder
    private var head: HTTPRequestHead?
    private var started = false

    /// The handshake timeout, and the answers to unreadable or oversized requests, are the
    /// ``HandshakeGuard``'s in front of this handler (as on `serve`): what comes here is a request
    /// read whole.
    init(proxy: RecordingProxy, requestDecoder: ByteToMessageHandler<HTTPRequestDecoder>, responseEncoder: HTTPResponseEncoder) {
        self.proxy = proxy
        self.requestDecoder = requestDecoder
        self.responseEncoder = responseEncoder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head, !started else { return }
            started = true
            forward(head, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        proxy.logger.debug("client connection: \(error)")
        context.close(promise: nil)
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, text: String) {
        HandshakeAnswer(status: status, text: text).send(on: context)
    }

    private func forward(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        guard request.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            respond(context: context, status: .badRequest, text: "tapedeck record relays WebSocket upgrades only\n")
            return
        }
        let upstream = proxy.configuration.upstream
        let target = upstream.target(forClientURI: request.uri)
        var headers = HTTPHeaders()
        for (name, value) in request.headers {
            switch name.lowercased() {
            case "host": headers.add(name: name, value: upstream.authority)
            // Only permessage-deflate is offered on: the recorder decompresses it to record payloads
            // in clear, where another extension would hide them. The upstream's answer comes back as it is.
            case "sec-websocket-extensions":
                let offers = ExtensionOffer.parse(value)?.filter { $0.name == DeflateAgreement.extensionName } ?? []
                if !offers.isEmpty { headers.add(name: name, value: offers.map(\.headerValue).joined(separator: ", ")) }
            default: headers.add(name: name, value: value)
            }
        }
        if !headers.contains(name: "host") { headers.add(name: "Host", value: upstream.authority) }
        let upstreamHead = HTTPRequestHead(version: .http1_1, method: request.method, uri: target, headers: headers)
        let (path, query) = UpstreamURL.split(request.uri)
        var info = ConnectionInfo(
            path: path, query: query, requestHeaders: request.headers.map { HeaderField($0.name, $0.value) },
            upgradeStatus: nil, peer: Self.describe(context.channel.remoteAddress),
            upstream: "ws://\(upstream.authority)\(target)")
        info.openedAt = proxy.writer.timestamp()
        // A browser's cross-site upgrade from an origin not allowed is refused here, never forwarded.
        if let origin = request.headers.first(name: "origin"), !OriginPolicy(allowed: proxy.configuration.allowedOrigins).allows(origin) {
            let text = "origin \(origin) is not allowed\n"
            info.upgradeStatus = 403
            info.responseBody = Array(text.utf8)
            info.error = "refused by the recorder: origin \(origin) is not in --allow-origin"
            recordRefused(info)
            respond(context: context, status: .forbidden, text: text)
            return
        }

        let loop = context.eventLoop
        let answer = loop.makePromise(of: UpstreamAnswer.self)
        let collector = NIOLoopBound(ProxyUpstreamHandler(promise: answer), eventLoop: loop)
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let encoder = HTTPRequestEncoder()
                    let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                    try channel.pipeline.syncOperations.addHandler(encoder, name: "http-encoder")
                    try channel.pipeline.syncOperations.addHandler(decoder, name: "http-decoder")
                    try channel.pipeline.syncOperations.addHandler(collector.value, name: "upstream-answer")
                }
            }
        bootstrap.connect(host: upstream.host, port: upstream.port).assumeIsolated().whenComplete { result in
            switch result {
            case .failure(let error):
                collector.value.fail(RecordingError.proxy("upstream \(upstream) unreachable: \(error)"))
                answer.futureResult.assumeIsolated().whenFailure { error in
                    info.error = "\(error)"
                    self.recordRefused(info)
                    self.respond(context: context, status: .badGateway, text: "tapedeck: \(error)\n")
                }
            case .success(let upstreamChannel):
                upstreamChannel.write(HTTPClientRequestPart.head(upstreamHead), promise: nil)
                upstreamChannel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                answer.futureResult.assumeIsolated().whenComplete { result in
                    switch result {
                    case .failure(let error):
                        info.error = "\(error)"
                        self.recordRefused(info)
                        upstreamChannel.close(promise: nil)
                        self.respond(context: context, status: .badGateway, text: "tapedeck: \(error)\n")
                    case .success(let reply):
                        self.relay(reply, request: request, info: info, context: context, upstreamChannel: upstreamChannel)
                    }
                }
            }
        }
    }

    private func recordRefused(_ info: ConnectionInfo) {
        do {
            let id = try proxy.writer.beginConnectionNow(info)
            try proxy.writer.endConnectionNow(id, close: ConnectionClose())
        } catch {
            proxy.logger.error("could not record a refused connection: \(error)")
        }
    }

    private func relay(
        _ reply: UpstreamAnswer, request: HTTPRequestHead, info: ConnectionInfo, context: ChannelHandlerContext,
        upstreamChannel: any Channel
    ) {
        var info = info
        info.upgradeStatus = Int(reply.head.status.code)
        info.responseHeaders = reply.head.headers.map { HeaderField($0.name, $0.value) }
        info.subprotocol = reply.head.headers.first(name: "sec-websocket-protocol")
        info.extensions = reply.head.headers.first(name: "sec-websocket-extensions")
        let responseHead = HTTPResponseHead(version: .http1_1, status: reply.head.status, headers: reply.head.headers)

        guard reply.head.status == .switchingProtocols else {
            // A refused upgrade: relay status, headers and body as they are, then close both sides.
            info.responseBody = Array(reply.body.readableBytesView)
            recordRefused(info)
            proxy.logger.info("upstream answered \(reply.head.status.code) for \(Redactor().redactLogText(request.uri))")
            var headers = reply.head.headers
            if !headers.contains(name: "content-length") && !headers.contains(name: "transfer-encoding") {
                headers.add(name: "Content-Length", value: String(reply.body.readableBytes))
            }
            var head = responseHead
            head.headers = headers
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            if reply.body.readableBytes > 0 {
                context.write(wrapOutboundOut(.body(.byteBuffer(reply.body))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
                upstreamChannel.close(promise: nil)
            }
            return
        }

        let id: ConnectionID
        do {
            id = try proxy.writer.beginConnectionNow(info)
        } catch {
            proxy.logger.error("recording failed: \(error)")
            upstreamChannel.close(promise: nil)
            context.close(promise: nil)
            return
        }
        let session = ProxySession(id: id, writer: proxy.writer, proxy: proxy, eventLoop: context.eventLoop)
        do {
            try session.agreeCompression(ExtensionOffer.parse(reply.head.headers[canonicalForm: "sec-websocket-extensions"].map(String.init)))
        } catch {
            proxy.logger.error("could not set up decompression: \(error)")
        }
        session.client = context.channel
        session.upstream = upstreamChannel
        proxy.sessionStarted(session)
        let maxFrameSize = proxy.configuration.maxFrameSize

        // Client side first: send the upstream's 101 as it is, then switch to frames at once (the
        // head is encoded as it is written), so that frames may follow it right away.
        context.writeAndFlush(wrapOutboundOut(.head(responseHead))).assumeIsolated().whenFailure { _ in
            // The client left while the upstream was answering.
            session.abandon()
        }
        do {
            let ops = context.pipeline.syncOperations
            let clientRelay = ProxyRelayHandler(session: session, side: .client)
            session.clientRelay = clientRelay
            try ops.addHandler(WebSocketFrameEncoder())
            try ops.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
            try ops.addHandler(clientRelay)
            // A frame the decoder refuses (over the size limit, a bad control frame) is answered
            // as a server would: a close with 1009 or 1002, after the relay has recorded why.
            try ops.addHandler(WebSocketProtocolErrorHandler(isServer: true))
            ops.removeHandler(self.responseEncoder, promise: nil)
            ops.removeHandler(self.requestDecoder, promise: nil)
            ops.removeHandler(context: context, promise: nil)
        } catch {
            // The client left while the upstream was answering (its channel is closed).
            if context.channel.isActive { proxy.logger.error("could not set up the client relay: \(error)") }
            session.abandon()
            return
        }

        do {
            // Upstream side: drop the HTTP handlers. Bytes that came after the 101 in the same read
            // (a server that speaks first) go to the frame decoder as the HTTP decoder leaves, and
            // are relayed to the client now, not at the next read.
            let up = upstreamChannel.pipeline.syncOperations
            let upstreamRelay = ProxyRelayHandler(session: session, side: .upstream)
            session.upstreamRelay = upstreamRelay
            _ = up.removeHandler(name: "upstream-answer")
            try up.addHandler(WebSocketFrameEncoder())
            try up.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
            try up.addHandler(upstreamRelay)
            try up.addHandler(WebSocketProtocolErrorHandler(isServer: false))
            _ = up.removeHandler(name: "http-encoder")
            // The decoder hands its leftover bytes on as it leaves (a later event-loop tick), with
            // no read-complete after them: flush what they made once it has left.
            up.removeHandler(name: "http-decoder").assumeIsolated().whenComplete { _ in
                session.readComplete(from: .upstream)
            }
        } catch {
            proxy.logger.error("could not set up the upstream relay: \(error)")
            session.abandon()
        }
    }

    static func describe(_ address: SocketAddress?) -> String? {
        guard let address else { return nil }
        if let ip = address.ipAddress, let port = address.port { return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
        return "\(address)"
    }
}
