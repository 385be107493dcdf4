public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import TapedeckHandshake

/// A transparent WebSocket proxy that records every connection through a `RecordingWriter`.
///
/// It forwards each client's upgrade request (path, query, headers, subprotocols) to the upstream,
/// relays the upstream's real answer (a 401 stays a 401 with its headers and body), then relays every
/// frame in both directions unchanged: text, binary, ping, pong, fragments and close frames. When the
/// writer's queue is full, the proxy stops reading from both sockets of a connection until it has room.
public final class RecordingProxy: Sendable {
    /// Why the proxy asks to be stopped.
    public enum StopReason: Sendable, Hashable {
        case maxFramesReached
        case recordingFailed
    }

    public let configuration: RecordingProxyConfiguration
    public let writer: RecordingWriter
    let logger: Logger
    private let state = Mutex<ProxyState>(ProxyState())
    private let admitted = Atomic<Int>(0)
    private let stopContinuation: AsyncStream<StopReason>.Continuation
    /// Yields when the proxy should be stopped (`--max-frames` reached, or the writer failed).
    public let stopRequests: AsyncStream<StopReason>

    public init(configuration: RecordingProxyConfiguration, writer: RecordingWriter, logger: Logger) {
        self.configuration = configuration
        self.writer = writer
        self.logger = logger
        (stopRequests, stopContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(4))
    }

    /// Binds the listening socket and returns the bound address (`127.0.0.1:54321`).
    public func start() async throws -> String {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let encoder = HTTPResponseEncoder()
                    let decoder = ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes))
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(encoder)
                    try ops.addHandler(decoder)
                    try ops.addHandler(HandshakeGuard(timeout: configuration.handshakeTimeout, logger: logger))
                    try ops.addHandler(ProxyFrontHandler(proxy: self, requestDecoder: decoder, responseEncoder: encoder))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.listenHost, port: configuration.listenPort).get()
        } catch {
            throw RecordingError.proxy("cannot listen on \(configuration.listenHost):\(configuration.listenPort): \(error)")
        }
        state.withLock { $0.listener = channel }
        return ProxyFrontHandler.describe(channel.localAddress) ?? "\(configuration.listenHost):\(configuration.listenPort)"
    }

    /// Connections currently being relayed.
    public var activeConnections: Int { state.withLock { $0.live.count } }

    /// Stops listening, sends a 1001 close to both sides of every open connection, waits until each has
    /// been recorded as ended. Call `writer.finish()` afterwards.
    public func stop() async {
        let (listener, live) = state.withLock { s in
            defer { s.listener = nil; s.stopping = true }
            return (s.listener, Array(s.live.values))
        }
        try? await listener?.close()
        for bound in live {
            bound.eventLoop.execute { bound.value.stop() }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.live.isEmpty { return true }
                s.drained.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    // MARK: - Called by sessions (on their event loop)

    func sessionStarted(_ session: ProxySession) {
        let key = ObjectIdentifier(session)
        let stopping = state.withLock { s -> Bool in
            s.live[key] = NIOLoopBound(session, eventLoop: session.eventLoop)
            return s.stopping
        }
        if stopping { session.stop() }
    }

    func sessionEnded(_ session: ProxySession) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.live[ObjectIdentifier(session)] = nil
            guard s.live.isEmpty else { return [] }
            defer { s.drained = [] }
            return s.drained
        }
        waiters.forEach { $0.resume() }
    }

    /// Counts a frame against `maxFrames`; false once the limit is reached.
    func admitFrame() -> Bool {
        guard let max = configuration.maxFrames else { return true }
        return admitted.add(1, ordering: .relaxed).newValue <= max
    }

    func limitReached() {
        stopContinuation.yield(.maxFramesReached)
    }

    func recordingFailed() {
        stopContinuation.yield(.recordingFailed)
    }
}

struct ProxyState: ~Copyable {
    var listener: (any Channel)?
    var live: [ObjectIdentifier: NIOLoopBound<ProxySession>] = [:]
    var drained: [CheckedContinuation<Void, Never>] = []
    var stopping = false
}
