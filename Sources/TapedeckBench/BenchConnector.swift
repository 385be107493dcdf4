import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import TapedeckCore

/// Opens one benchmark connection: TCP connect, the HTTP upgrade with the configured headers and
/// subprotocol, then the `BenchClientHandler`.
enum BenchConnector {
    /// Succeeds with the channel once the upgrade is done; fails when the server refuses it, the
    /// connection fails, or the connect timeout passes first.
    static func connect(
        on loop: any EventLoop, configuration: BenchConfiguration, stats: LoopStats, firstMessage: String?
    ) -> EventLoopFuture<any Channel> {
        let upgraded = loop.makePromise(of: (any Channel).self)
        let once = PromiseOnce(upgraded)
        let target = configuration.target
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: target.hostHeader)
        for h in configuration.headers { headers.add(name: h.name, value: h.value) }
        if let subprotocol = configuration.subprotocol { headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol) }
        let requestHead = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.requestURI, headers: headers)
        let latencyField = configuration.latencyField
        let maxFrameSize = configuration.maxFrameSize
        let timeout = TimeAmount.nanoseconds(Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000
            + configuration.connectTimeout.components.attoseconds / 1_000_000_000)

        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(
                    maxFrameSize: maxFrameSize, automaticErrorHandling: true,
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            let sync = channel.pipeline.syncOperations
                            _ = sync.removeHandler(name: UpgradeRequestHandler.name)
                            try sync.addHandler(BenchClientHandler(stats: stats, latencyField: latencyField, firstMessage: firstMessage))
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in once.succeed(context.channel) }))
                    try sync.addHandler(UpgradeRequestHandler(head: requestHead, once: once), name: UpgradeRequestHandler.name)
                }
            }
        let deadline = loop.scheduleTask(in: timeout) {
            once.fail(BenchError.noConnection("no upgrade within the connect timeout"))
        }
        bootstrap.connect(host: target.host, port: target.port).whenComplete { result in
            switch result {
            case .success(let channel):
                channel.closeFuture.whenComplete { _ in once.fail(ChannelError.ioOnClosedChannel) }
            case .failure(let error):
                once.fail(error)
            }
        }
        // A channel that connected but did not upgrade in time is closed by `PromiseOnce.fail`.
        upgraded.futureResult.whenComplete { _ in deadline.cancel() }
        return upgraded.futureResult
    }

    /// Completes a promise once; later completions are ignored. Touched only on the promise's loop.
    final class PromiseOnce: @unchecked Sendable {
        private let promise: EventLoopPromise<any Channel>
        private var done = false
        private var channel: (any Channel)?

        init(_ promise: EventLoopPromise<any Channel>) { self.promise = promise }

        func succeed(_ channel: any Channel) {
            guard !done else { return }
            done = true
            promise.succeed(channel)
        }

        func fail(_ error: any Error) {
            guard !done else { return }
            done = true
            promise.fail(error)
            channel?.close(promise: nil)
        }

        func attach(_ channel: any Channel) { self.channel = channel }
    }

    /// Sends the upgrade request when the connection is up; turns a refused upgrade into an error.
    final class UpgradeRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        static let name = "bench-upgrade-request"
        private let head: HTTPRequestHead
        private let once: PromiseOnce

        init(head: HTTPRequestHead, once: PromiseOnce) {
            self.head = head
            self.once = once
        }

        func channelActive(context: ChannelHandlerContext) {
            once.attach(context.channel)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let response) = unwrapInboundIn(data) {
                once.fail(BenchError.upgradeRefused(status: Int(response.status.code)))
                context.close(promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            once.fail(error)
            context.close(promise: nil)
        }
    }
}
