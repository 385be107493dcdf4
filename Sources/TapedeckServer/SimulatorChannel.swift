import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import TapedeckCompression
import TapedeckHandshake

/// The server's child channel: HTTP/1 with the simulator's own WebSocket upgrade.
///
/// The first request is guarded (``HandshakeGuard``, as on the recording proxy): it must arrive
/// whole within the handshake timeout; an unreadable one gets 400, one with too large headers 431,
/// and an upgrade request that is not a valid opening handshake (RFC 6455: version 13, a 16-byte
/// key, ...) 400, all before the upgrade is considered.
///
/// Plain HTTP requests (`/`, `/healthz`, activity endpoints) go to Hummingbird's router. A
/// WebSocket upgrade is decided by ``Upgrader``: a refusal is answered with the profile's status
/// and body, and an accepted upgrade gets NIO's frame decoder and a
/// ``WebSocketConnectionHandler``, which runs the connection on the channel's event loop.
struct SimulatorChannel: ServerChildChannel, HTTPChannelHandler {
    enum Outcome: Sendable {
        /// The connection is a WebSocket, run by its handler until the socket closes.
        case websocket(any Channel)
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
        case refused(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, UpgradeRefusal?)
    }

    struct Value: ServerChildChannelValue {
        let outcome: EventLoopFuture<Outcome>
        let channel: any Channel
    }

    /// What the upgrade decision left for the rest of the channel's setup.
    private enum Decided {
        case none
        case accepted(WebSocketConnectionHandler.Setup)
        case refused(UpgradeRefusal)
    }

    let responder: HTTPChannelHandler.Responder
    let upgrader: Upgrader
    let services: WebSocketConnectionHandler.Services
    let maxFrameSize: Int
    let handshakeTimeout: Duration

    init(
        responder: @escaping HTTPChannelHandler.Responder, upgrader: Upgrader, services: WebSocketConnectionHandler.Services, maxFrameSize: Int,
        handshakeTimeout: Duration
    ) {
        self.responder = Self.redirectingLateUpgrades(responder)
        self.upgrader = upgrader
        self.services = services
        self.maxFrameSize = maxFrameSize
        self.handshakeTimeout = handshakeTimeout
    }

    /// A WebSocket upgrade request that is not a valid opening handshake: its 400.
    static let screen: HandshakeGuard.Screen = { head in
        WebSocketRequestCheck.asksForWebSocket(head) ? WebSocketRequestCheck.problem(in: head) : nil
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Reads start at 512 bytes (an upgrade request fits) and grow with the traffic, as NIO's
            // default does from 2048: an idle connection keeps its last read buffer, and 10,000 idle
            // connections hold 14 MiB less (`bench/run.py`, idle memory).
            try channel.syncOptions?.setOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65536))
            let decided = NIOLoopBoundBox(Decided.none, eventLoop: channel.eventLoop)
            let upgrader = self.upgrader
            let services = self.services
            let handshakeTimeout = self.handshakeTimeout
            let webSocket = NIOTypedWebSocketServerUpgrader<Outcome>(
                maxFrameSize: maxFrameSize,
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    let promise = channel.eventLoop.makePromise(of: Upgrader.Decision.self)
                    promise.completeWithTask {
                        let request = try HTTPRequest(head, secure: false, splitCookie: false)
                        return await upgrader.decide(request, channel: channel)
                    }
                    return promise.futureResult.map { decision -> HTTPHeaders? in
                        switch decision {
                        case .accept(let setup):
                            decided.value = .accepted(setup)
                            var headers = HTTPHeaders()
                            if let subprotocol = setup.subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
                            if let deflate = setup.deflate { headers.add(name: "Sec-WebSocket-Extensions", value: deflate.headerValue) }
                            return headers
                        case .refuse(let refusal):
                            decided.value = .refused(refusal)
                            return nil
                        }
                    }
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard case .accepted(let setup) = decided.value else { throw ChannelError.inappropriateOperationForState }
                        decided.value = .none
                        try channel.pipeline.syncOperations.addHandler(WebSocketConnectionHandler(setup: setup, services: services))
                        return Outcome.websocket(channel)
                    }
                }
            )
            let configuration = NIOTypedHTTPServerUpgradeConfiguration<Outcome>(
                upgraders: [webSocket],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: handshakeTimeout, logger: logger))
                        let async = try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        switch decided.value {
                        case .none: return .http(async)
                        case .refused(let refusal): return .refused(async, refusal)
                        case .accepted: return .refused(async, nil)
                        }
                    }
                }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration<Outcome>(upgradeConfiguration: configuration)
            pipeline.enablePipelining = false
            pipeline.enableErrorHandling = false
            pipeline.enableResponseHeaderValidation = false
            let ops = channel.pipeline.syncOperations
            let outcome = try ops.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            let decoder = try ops.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try ops.addHandler(HandshakeGuard(timeout: handshakeTimeout, logger: logger, screen: Self.screen), position: .after(decoder))
            return Value(outcome: outcome, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.outcome.get() {
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http, let refusal):
                await Self.write(refusal, to: http, logger: logger)
            case .websocket(let channel):
                // The handler runs the connection; this task only lasts as long as the socket.
                await withTaskCancellationHandler {
                    try? await channel.closeFuture.get()
                } onCancel: {
                    channel.close(promise: nil)
                }
            }
        } catch {
            logger.debug("connection setup failed: \(error)")
        }
    }

    /// Answers a refused upgrade (without a refusal: a malformed upgrade request, 400) and closes.
    static func write(_ refusal: UpgradeRefusal?, to http: NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>, logger: Logger) async {
        let refusal = refusal ?? UpgradeRefusal(status: 400, body: [], contentType: "text/plain; charset=utf-8", extraHeaders: [])
        do {
            try await http.executeThenClose { _, outbound in
                var headers: HTTPFields = [.connection: "close", .contentLength: String(refusal.body.count)]
                if !refusal.body.isEmpty { headers[.contentType] = refusal.contentType }
                for (name, value) in refusal.extraHeaders {
                    if let name = HTTPField.Name(name) { headers.append(HTTPField(name: name, value: value)) }
                }
                try await outbound.write(.head(HTTPResponse(status: .init(code: refusal.status), headerFields: headers)))
                if !refusal.body.isEmpty { try await outbound.write(.body(ByteBuffer(bytes: refusal.body))) }
                try await outbound.write(.end(nil))
            }
        } catch {
            logger.trace("cannot write a refused upgrade: \(error)")
        }
    }

    /// An upgrade request that arrives after another request on the same connection cannot be
    /// upgraded there: like hummingbird-websocket, redirect to the same URI on a new connection.
    static func redirectingLateUpgrades(_ responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        struct RedirectClose: Error {}
        return { request, writer, channel in
            if request.headers[.upgrade]?.lowercased() == "websocket" {
                var path = request.uri.path
                if let query = request.uri.query { path += "?\(query)" }
                try await writer.writeResponse(HTTPResponse(status: .temporaryRedirect, headerFields: [.connection: "close", .location: path]))
                throw RedirectClose()
            }
            try await responder(request, writer, channel)
        }
    }
}
