import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import TapedeckRecording

/// Answers every request that is not upgraded: a recorded refusal (401, 403, ... with its headers and
/// body), 410 when the path's recorded connections are used up, 404 for a path never recorded, 426 for
/// plain HTTP on a recorded path.
final class ReplayHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: ReplayServer
    private let slot: AssignmentSlot
    private var head: HTTPRequestHead?

    init(server: ReplayServer, slot: AssignmentSlot) {
        self.server = server
        self.slot = slot
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            answer(head, context: context)
        }
    }

    private func answer(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let peer = ReplayServer.describe(context.channel.remoteAddress)
        switch slot.get() {
        case .connection(let c):
            guard let status = c.info.upgradeStatus else {
                // The recording has no answer: the upstream was unreachable or failed.
                server.count { $0.refusals += 1 }
                respond(
                    context: context, status: .badGateway,
                    text: "tapedeck replay: connection \(c.id) got no upgrade answer when recorded: \(c.info.error ?? "no answer")\n")
                return
            }
            guard status != 101 else {
                // Assigned but the upgrade failed (a bad handshake): NIO's upgrader has answered already.
                respond(context: context, status: .badRequest, text: "tapedeck replay: invalid WebSocket upgrade request\n")
                return
            }
            server.logger.info("\(peer) \(path): replaying connection \(c.id): upgrade refused with \(status)")
            server.count { $0.refusals += 1 }
            var headers = HTTPHeaders()
            for field in c.info.responseHeaders {
                switch field.name.lowercased() {
                case "content-length", "transfer-encoding", "connection": continue
                default: headers.add(name: field.name, value: field.value)
                }
            }
            headers.add(name: "Content-Length", value: String(c.info.responseBody.count))
            headers.add(name: "Connection", value: "close")
            write(context: context, status: HTTPResponseStatus(statusCode: status), headers: headers, body: c.info.responseBody)
        case .exhausted(let p, let count):
            server.count { $0.turnedAway += 1 }
            server.logger.warning("\(peer) \(p): refused with 410, all \(count) recorded connection(s) on this path were replayed")
            respond(
                context: context, status: .gone,
                text: "tapedeck replay: all \(count) recorded connection(s) on \(p) have been replayed (start with --loop to serve them again)\n")
        case .unknownPath(let p, let known):
            server.count { $0.turnedAway += 1 }
            server.logger.warning("\(peer) \(p): refused with 404, nothing was recorded on this path")
            respond(
                context: context, status: .notFound,
                text: "tapedeck replay: nothing was recorded on \(p); recorded paths: \(known.joined(separator: ", "))\n")
        case nil:
            if server.paths.contains(path) {
                respond(context: context, status: .upgradeRequired, text: "tapedeck replay: \(path) is a WebSocket endpoint; send an upgrade request\n")
            } else {
                respond(
                    context: context, status: .notFound,
                    text: "tapedeck replay: nothing was recorded on \(path); recorded paths: \(server.paths.joined(separator: ", "))\n")
            }
        }
    }

    private func respond(context: ChannelHandlerContext, status: HTTPResponseStatus, text: String) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(text.utf8.count))
        headers.add(name: "Connection", value: "close")
        write(context: context, status: status, headers: headers, body: Array(text.utf8))
    }

    private func write(context: ChannelHandlerContext, status: HTTPResponseStatus, headers: HTTPHeaders, body: [UInt8]) {
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A refused upgrade (our own `shouldUpgrade` said no) comes through here first; the request follows.
        if error is NIOWebSocketUpgradeError { return }
        context.close(promise: nil)
    }
}
