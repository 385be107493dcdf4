import NIOCore
import NIOPosix
import Synchronization
import TapedeckTestPeers

/// An upstream that speaks first: it answers the upgrade with `101` and its first text frame in
/// one `write()`, so both arrive at the proxy in the same TCP read. It does not check the key.
enum CoalescingUpstream {
    static let greeting = "hello from upstream"

    static func start() async throws -> (channel: any Channel, port: Int) {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Speaker()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel, channel.localAddress?.port ?? 0)
    }

    final class Speaker: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private var request = ""
        private var answered = false

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            guard !answered else { return }
            request += bytes.readString(length: bytes.readableBytes) ?? ""
            guard request.contains("\r\n\r\n") else { return }
            answered = true
            var out = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
            out.writeBytes([0x81, UInt8(greeting.utf8.count)] + Array(greeting.utf8))
            context.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }
}

/// A raw client: sends an upgrade request and returns the text of the first server frame, or
/// `nil` if none arrived within `timeout`.
enum RawWebSocketClient {
    static func firstText(port: Int, uri: String, timeout: Duration) async throws -> String? {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: TestClient.upgradeRequest(uri: uri, port: port)))
            return try await withThrowingTaskGroup(of: String?.self) { group in
                group.addTask {
                    var all: [UInt8] = []
                    for try await chunk in inbound {
                        all += chunk.readableBytesView
                        guard let end = all.firstRange(of: Array("\r\n\r\n".utf8))?.upperBound, all.count >= end + 2 else { continue }
                        let length = Int(all[end + 1] & 0x7F)
                        if all.count >= end + 2 + length { return String(decoding: all[(end + 2)..<(end + 2 + length)], as: UTF8.self) }
                    }
                    return nil
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    // Closing ends the reader's loop; cancellation alone may leave it waiting for bytes.
                    channel.channel.close(promise: nil)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        }
    }
}

/// An upstream that answers the upgrade only when told to: the test can let the client leave
/// first. It reports when it has a request and when a connection of its closed.
final class HeldUpstream: Sendable {
    /// Yields "request" per upgrade request received and "closed" per connection closed.
    let events: AsyncStream<String>
    private let continuation: AsyncStream<String>.Continuation
    private let held = Mutex<[any Channel]>([])
    private let listener = Mutex<(any Channel)?>(nil)

    init() {
        (events, continuation) = AsyncStream<String>.makeStream()
    }

    /// Listens on 127.0.0.1; returns the port.
    func start() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Holder(owner: self)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        listener.withLock { $0 = channel }
        return channel.localAddress?.port ?? 0
    }

    /// Answers every request held so far with a 101.
    func answer() {
        let channels = held.withLock { h in
            defer { h = [] }
            return h
        }
        for c in channels {
            c.writeAndFlush(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"), promise: nil)
        }
    }

    func close() async throws {
        continuation.finish()
        try await listener.withLock { $0 }?.close()
    }

    final class Holder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let owner: HeldUpstream
        init(owner: HeldUpstream) { self.owner = owner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            guard bytes.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) != nil else { return }
            owner.held.withLock { $0.append(context.channel) }
            owner.continuation.yield("request")
        }

        func channelInactive(context: ChannelHandlerContext) {
            owner.continuation.yield("closed")
        }
    }
}
