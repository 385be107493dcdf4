public import Logging
public import ServiceLifecycle
public import TapedeckCore
public import TapedeckRecording
public import TapedeckDiff
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// How one served connection ended.
public struct ReplaySessionReport: Sendable, Hashable {
    /// The recorded connection that was replayed.
    public var connection: ConnectionID
    /// The live client's address.
    public var peer: String
    public var outcome: ReplayOutcome
    public var framesSent: Int
    public var messagesReceived: Int
}

/// Counters of a `ReplayServer`, for the summary on exit.
public struct ReplayServerStatistics: Sendable, Hashable {
    /// Upgraded connections whose replay has ended.
    public var replayed = 0
    /// Of those, the ones that exchanged every recorded frame.
    public var completed = 0
    /// Upgrades answered with a recorded refusal (401, 403, ...).
    public var refusals = 0
    /// Requests refused because the path's recorded connections were used up, or were never recorded.
    public var turnedAway = 0
}

/// Serves a recording back to live WebSocket clients (`tapedeck replay`).
///
/// Each client that connects to a recorded path gets the next recorded connection on that path: its
/// upgrade answer (a 101 with the recorded subprotocol, or a recorded 401/403 with headers and body), then
/// the recorded server frames byte for byte with the recorded gaps scaled by the speed, and the recorded
/// close. Clients replay concurrently and independently. Runs as a swift-service-lifecycle `Service`:
/// graceful shutdown closes every connection with 1001.
public final class ReplayServer: Service, Sendable {
    public let recording: ReplayRecording
    public let configuration: ReplayServerConfiguration
    let matcher: any ReplayMatcher
    let decoder: RecordingFrameDecoder
    let logger: Logger
    let clock: any SimulationClock
    let onListening: (@Sendable (String, Int) -> Void)?
    private let state: Mutex<ReplayServerState>
    private let reportsContinuation: AsyncStream<ReplaySessionReport>.Continuation
    /// Yields a report each time a served connection ends (the latest 256 are kept for a slow reader).
    public let reports: AsyncStream<ReplaySessionReport>

    /// - Parameters:
    ///   - matcher: decides whether a live client message matches the recorded one (reactive mode).
    ///   - decoder: decodes payloads for matching (JSON text; a profile's codec for binary).
    ///   - onListening: called once the socket is bound, with the host and the real port.
    public init(
        recording: ReplayRecording, configuration: ReplayServerConfiguration, matcher: any ReplayMatcher = DiffRulesMatcher(rules: DiffRules()),
        decoder: @escaping RecordingFrameDecoder = RecordingConfiguration.jsonTextDecoder, logger: Logger,
        clock: any SimulationClock = RealClock(), onListening: (@Sendable (String, Int) -> Void)? = nil
    ) throws(ReplayError) {
        self.recording = recording
        self.configuration = configuration
        self.matcher = matcher
        self.decoder = decoder
        self.logger = logger
        self.clock = clock
        self.onListening = onListening
        let assigner = try ConnectionAssigner(
            connections: recording.connections, pinned: configuration.pinned, loop: configuration.loop)
        self.state = Mutex(ReplayServerState(assigner: assigner))
        (reports, reportsContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    /// What the server has done so far.
    public var statistics: ReplayServerStatistics { state.withLock { $0.statistics } }

    func count(_ update: @Sendable (inout ReplayServerStatistics) -> Void) {
        state.withLock { update(&$0.statistics) }
    }

    /// The recorded paths this server answers.
    public var paths: [String] { state.withLock { $0.assigner.paths } }

    /// Binds the socket and returns the real port.
    public func start() async throws -> Int {
        let maxFrameSize = configuration.maxFrameSize
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                let slot = AssignmentSlot()
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: maxFrameSize, automaticErrorHandling: true,
                    shouldUpgrade: { [self] channel, head in
                        channel.eventLoop.makeSucceededFuture(self.shouldUpgrade(head, slot: slot))
                    },
                    upgradePipelineHandler: { [self] channel, head in
                        channel.eventLoop.makeCompletedFuture {
                            try self.upgraded(channel, slot: slot)
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
                    try channel.pipeline.syncOperations.addHandler(ReplayHTTPHandler(server: self, slot: slot), name: Self.httpHandlerName)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        } catch {
            throw ReplayError.network("cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        state.withLock { $0.listener = channel }
        let port = channel.localAddress?.port ?? configuration.port
        onListening?(configuration.host, port)
        return port
    }

    /// Stops listening, closes every connection with 1001 and waits until each has ended.
    public func stop() async {
        let (listener, live) = state.withLock { s in
            defer {
                s.listener = nil
                s.stopping = true
            }
            return (s.listener, Array(s.live.values))
        }
        try? await listener?.close()
        for s in live { ReplaySessionRunner.stop(s) }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.live.isEmpty { return true }
                s.drained.append(c)
                return false
            }
            if now { c.resume() }
        }
        reportsContinuation.finish()
    }

    /// Serves until graceful shutdown (SIGINT/SIGTERM under a `ServiceGroup`).
    public func run() async throws {
        _ = try await start()
        try? await gracefulShutdown()
        await stop()
    }

    // MARK: - Upgrade

    func assign(path: String) -> ConnectionAssigner.Assignment {
        state.withLock { $0.assigner.assign(path: path) }
    }

    private func shouldUpgrade(_ head: HTTPRequestHead, slot: AssignmentSlot) -> HTTPHeaders? {
        let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        let assignment = assign(path: path)
        slot.set(assignment)
        guard case .connection(let c) = assignment, c.info.upgradeStatus == 101 else { return nil }
        var headers = HTTPHeaders()
        for field in c.info.responseHeaders {
            switch field.name.lowercased() {
            case "upgrade", "connection", "sec-websocket-accept", "sec-websocket-extensions", "sec-websocket-protocol",
                "content-length", "transfer-encoding":
                continue
            default:
                headers.add(name: field.name, value: field.value)
            }
        }
        if let subprotocol = c.info.subprotocol {
            let offered = head.headers[canonicalForm: "sec-websocket-protocol"].map(\.trimmed)
            if !offered.contains(subprotocol) {
                logger.warning(
                    "\(path): the client offers no subprotocol '\(subprotocol)' (offered: \(offered.isEmpty ? "none" : offered.joined(separator: ", "))); selecting it as recorded, which a strict client refuses")
            }
            headers.add(name: "Sec-WebSocket-Protocol", value: subprotocol)
        }
        return headers
    }

    private func upgraded(_ channel: any Channel, slot: AssignmentSlot) throws {
        guard case .connection(let connection) = slot.get() else { throw ReplayError.recording("no connection assigned") }
        let (inputs, continuation) = AsyncStream<ReplayInput>.makeStream()
        // After the upgrade only WebSocket frames flow: the refusal handler goes.
        _ = channel.pipeline.syncOperations.removeHandler(name: Self.httpHandlerName)
        try channel.pipeline.syncOperations.addHandler(ReplayFrameHandler(continuation: continuation))
        let id = state.withLock { s -> Int? in
            guard !s.stopping else { return nil }
            s.nextSession += 1
            s.live[s.nextSession] = continuation
            return s.nextSession
        }
        guard let id else {
            channel.close(promise: nil)
            return
        }
        let peer = Self.describe(channel.remoteAddress)
        let script = recording.script(for: connection, side: .serverToClient)
        let machine = ReplayStateMachine(script: script, configuration: configuration.replay, matcher: matcher, decoder: decoder)
        let logger = logger
        let label = "connection \(connection.id) → \(peer)"
        logger.info(
            "\(peer) \(connection.info.path): replaying connection \(connection.id) (\(script.ownFrameCount) server frames, \(script.peerMessageCount) client messages, \(configuration.replay.mode.rawValue), \(configuration.replay.speed))"
        )
        let clock = clock
        let onEvent: @Sendable (ReplayEvent) -> Void = { event in
            ReplayLog.log(event, label: label, peerName: "client", logger: logger)
        }
        Task { [self] in
            let runner = ReplaySessionRunner(
                machine: machine, channel: channel, clock: clock, inputs: inputs, continuation: continuation, mask: false,
                onEvent: onEvent)
            let started = clock.elapsed
            let outcome = await runner.run()
            let report = ReplaySessionReport(
                connection: connection.id, peer: peer, outcome: outcome, framesSent: runner.framesSent,
                messagesReceived: runner.messagesReceived)
            logger.info(
                "\(label): \(ReplayLog.describe(outcome)) (\(report.framesSent) frames sent, \(report.messagesReceived) received, \(ReplayLog.seconds(clock.elapsed - started)))"
            )
            self.count {
                $0.replayed += 1
                if outcome == .completed { $0.completed += 1 }
            }
            self.sessionEnded(id)
            self.reportsContinuation.yield(report)
        }
    }

    private func sessionEnded(_ id: Int) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.live[id] = nil
            guard s.live.isEmpty else { return [] }
            defer { s.drained = [] }
            return s.drained
        }
        waiters.forEach { $0.resume() }
    }

    static let httpHandlerName = "tapedeck-replay-http"

    static func describe(_ address: SocketAddress?) -> String {
        guard let address else { return "?" }
        if let ip = address.ipAddress, let port = address.port { return "\(ip):\(port)" }
        return "\(address)"
    }
}

struct ReplayServerState: ~Copyable {
    var assigner: ConnectionAssigner
    var listener: (any Channel)?
    var live: [Int: AsyncStream<ReplayInput>.Continuation] = [:]
    var nextSession = 0
    var stopping = false
    var drained: [CheckedContinuation<Void, Never>] = []
    var statistics = ReplayServerStatistics()
}

/// The connection assigned to one client's upgrade request, shared by the upgrader and the HTTP handler.
final class AssignmentSlot: Sendable {
    private let value = Mutex<ConnectionAssigner.Assignment?>(nil)
    func set(_ a: ConnectionAssigner.Assignment) { value.withLock { $0 = a } }
    func get() -> ConnectionAssigner.Assignment? { value.withLock { $0 } }
}
