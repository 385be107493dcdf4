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

/// How one recorded connection went when replayed as a client.
public struct ReplayClientResult: Sendable, Hashable {
    public var connection: ConnectionID
    public var path: String
    public var outcome: ReplayOutcome
    /// The live server's answer to the upgrade (`nil` when it could not be reached).
    public var upgradeStatus: Int?
    /// Why the connection could not be made, if so.
    public var error: String?
}

/// Plays a recording as a client against a live server (`tapedeck replay --as-client`).
///
/// Opens one connection per recorded connection, at its recorded time (scaled by the speed), with the
/// recorded path, query, headers and subprotocols (redacted secrets filled in from `ReplaySecrets`),
/// sends the recorded client frames with the recorded timing and, in reactive mode, waits for the server
/// messages that preceded each client frame. Everything seen can be recorded into a `RecordingWriter`.
public final class ReplayClient: Service, Sendable {
    public let recording: ReplayRecording
    public let configuration: ReplayClientConfiguration
    let matcher: any ReplayMatcher
    let decoder: RecordingFrameDecoder
    let logger: Logger
    let clock: any SimulationClock
    let writer: RecordingWriter?
    private let requests: [ConnectionID: (uri: String, headers: [HeaderField])]
    private let state = Mutex<ClientState>(ClientState())

    /// Checks every connection's secrets first.
    ///
    /// - Throws: `ReplayError.missingSecret` when a redacted value is needed and was not supplied.
    public init(
        recording: ReplayRecording, configuration: ReplayClientConfiguration, matcher: any ReplayMatcher = DiffRulesMatcher(rules: DiffRules()),
        decoder: @escaping RecordingFrameDecoder = RecordingConfiguration.jsonTextDecoder, logger: Logger,
        clock: any SimulationClock = RealClock(), writer: RecordingWriter? = nil
    ) throws(ReplayError) {
        self.recording = recording
        self.configuration = configuration
        self.matcher = matcher
        self.decoder = decoder
        self.logger = logger
        self.clock = clock
        self.writer = writer
        var requests: [ConnectionID: (uri: String, headers: [HeaderField])] = [:]
        for c in recording.connections {
            requests[c.id] = try configuration.secrets.request(for: c.info, connection: c.id)
            for frame in recording.frames[c.id] ?? [] where frame.direction == .clientToServer {
                if frame.opcode == .text || frame.opcode == .binary || frame.opcode == .continuation,
                    String(decoding: frame.payload, as: UTF8.self).contains(Redactor.placeholder)
                {
                    throw .missingSecret(
                        "connection \(c.id): a client message was redacted when recording (\(ScriptMessage(opcode: frame.opcode, payload: frame.payload).preview)); it cannot be sent as it is")
                }
            }
        }
        self.requests = requests
    }

    /// The results, once `run()` or `replay()` has returned.
    public var results: [ReplayClientResult] { state.withLock { $0.results.sorted { $0.connection.rawValue < $1.connection.rawValue } } }

    /// Runs under a `ServiceGroup`: graceful shutdown stops every connection with 1001.
    public func run() async throws {
        await withGracefulShutdownHandler {
            _ = await replay()
        } onGracefulShutdown: {
            self.stopAll()
        }
    }

    /// Replays every recorded connection and returns the results.
    ///
    /// Connections start at their recorded times (scaled by the speed); their upgrades happen one after
    /// another in recording order, so that a server that hands out sessions in order sees the recorded order.
    public func replay() async -> [ReplayClientResult] {
        let origin = recording.connections.compactMap { $0.info.openedAt?.offsetNanos }.min() ?? 0
        let start = clock.elapsed
        await withTaskGroup(of: Void.self) { group in
            for connection in recording.connections {
                let delay = configuration.replay.speed.scale(nanos: (connection.info.openedAt?.offsetNanos ?? origin) - origin)
                try? await clock.sleep(until: start + delay)
                if state.withLock({ $0.stopping }) { break }
                switch await upgrade(connection) {
                case .done(let result):
                    state.withLock { $0.results.append(result) }
                case .upgraded(let session):
                    group.addTask { [self] in
                        let result = await play(session)
                        state.withLock { $0.results.append(result) }
                    }
                }
            }
        }
        return results
    }

    private func stopAll() {
        let live = state.withLock { s in
            s.stopping = true
            return Array(s.live.values)
        }
        live.forEach { ReplaySessionRunner.stop($0) }
    }

    private func upgrade(_ connection: StoredConnection) async -> UpgradeResult {
        let target = configuration.target
        let request = requests[connection.id] ?? (connection.info.path, [])
        let label = "connection \(connection.id) \(connection.info.path)"
        var result = ReplayClientResult(connection: connection.id, path: connection.info.path, outcome: .completed)
        guard connection.info.upgradeStatus != nil else {
            // Nothing answered when it was recorded (an unreachable upstream): nothing to compare with.
            logger.notice("\(label): skipped, the recording has no upgrade answer (\(connection.info.error ?? "no answer"))")
            return .done(result)
        }
        var headers = HTTPHeaders()
        var key: [UInt8] = []
        for _ in 0..<16 { key.append(UInt8.random(in: 0...255)) }
        for field in request.headers {
            switch field.name.lowercased() {
            case "host", "sec-websocket-key", "sec-websocket-extensions", "content-length": continue
            default: headers.add(name: field.name, value: field.value)
            }
        }
        headers.replaceOrAdd(name: "Host", value: target.port == 80 ? target.host : "\(target.host):\(target.port)")
        headers.replaceOrAdd(name: "Sec-WebSocket-Key", value: Base64.encode(key))
        if !headers.contains(name: "upgrade") { headers.add(name: "Upgrade", value: "websocket") }
        if !headers.contains(name: "connection") { headers.add(name: "Connection", value: "Upgrade") }
        if !headers.contains(name: "sec-websocket-version") { headers.add(name: "Sec-WebSocket-Version", value: "13") }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: request.uri, headers: headers)

        let (inputs, continuation) = AsyncStream<ReplayInput>.makeStream()
        let maxFrameSize = configuration.maxFrameSize
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let answer = loop.makePromise(of: UpstreamAnswer.self)
        let bootstrap = ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    try ops.addHandler(HTTPRequestEncoder(), name: "http-encoder")
                    try ops.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)), name: "http-decoder")
                    try ops.addHandler(ProxyUpstreamHandler(promise: answer), name: "upgrade-answer")
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: target.host, port: target.port).get()
        } catch {
            answer.fail(error)
            result.outcome = .deviated("cannot connect to \(target.host):\(target.port)")
            result.error = "cannot connect to \(target.host):\(target.port): \(error)"
            logger.error("\(label): \(result.error ?? "")")
            return .done(result)
        }
        // Switch to WebSocket frames on the event loop, as soon as the 101 arrives (nothing is lost in between).
        let switched = answer.futureResult.flatMapThrowing { reply -> UpstreamAnswer in
            guard reply.head.status == .switchingProtocols else { return reply }
            let ops = channel.pipeline.syncOperations
            _ = ops.removeHandler(name: "upgrade-answer")
            try ops.addHandler(WebSocketFrameEncoder())
            try ops.addHandler(ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: maxFrameSize)))
            try ops.addHandler(ReplayFrameHandler(continuation: continuation))
            _ = ops.removeHandler(name: "http-encoder")
            _ = ops.removeHandler(name: "http-decoder")
            return reply
        }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let reply: UpstreamAnswer
        do {
            reply = try await switched.get()
        } catch {
            try? await channel.close()
            result.outcome = .deviated("no answer to the upgrade request")
            result.error = "\(error)"
            logger.error("\(label): no answer to the upgrade request: \(error)")
            return .done(result)
        }
        let status = Int(reply.head.status.code)
        result.upgradeStatus = status
        var info = ConnectionInfo(
            path: connection.info.path, query: request.uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init),
            requestHeaders: headers.map { HeaderField($0.name, $0.value) }, subprotocol: reply.head.headers.first(name: "sec-websocket-protocol"),
            extensions: reply.head.headers.first(name: "sec-websocket-extensions"), upgradeStatus: status,
            responseHeaders: reply.head.headers.map { HeaderField($0.name, $0.value) },
            responseBody: status == 101 ? [] : Array(reply.body.readableBytesView),
            upstream: "ws://\(target.host):\(target.port)\(request.uri)")
        info.upstream = info.upstream.map { Redactor().redactLogText($0) }
        let recordedID = await begin(info)
        let expectedStatus = connection.info.upgradeStatus ?? 0

        guard status == 101 else {
            try? await channel.close()
            await end(recordedID, ConnectionClose())
            if status == expectedStatus {
                logger.info("\(label): upgrade answered \(status) as recorded")
                result.outcome = .completed
            } else {
                logger.warning("\(label): upgrade answered \(status), the recording has \(expectedStatus)")
                result.outcome = .deviated("upgrade answered \(status), recorded \(expectedStatus)")
            }
            return .done(result)
        }
        guard expectedStatus == 101 else {
            try? await channel.close()
            await end(recordedID, ConnectionClose())
            logger.warning("\(label): upgrade answered 101, the recording has \(expectedStatus)")
            result.outcome = .deviated("upgrade answered 101, recorded \(expectedStatus)")
            return .done(result)
        }
        return .upgraded(
            UpgradedSession(
                connection: connection, channel: channel, inputs: inputs, continuation: continuation, recordedID: recordedID,
                result: result, label: label))
    }

    private func play(_ session: UpgradedSession) async -> ReplayClientResult {
        let connection = session.connection
        let label = session.label
        let recordedID = session.recordedID
        let continuation = session.continuation
        var result = session.result

        let script = recording.script(for: connection, side: .clientToServer)
        logger.info(
            "\(label): connected, replaying \(script.ownFrameCount) client frames, awaiting \(script.peerMessageCount) server messages (\(configuration.replay.mode.rawValue), \(configuration.replay.speed))"
        )
        let machine = ReplayStateMachine(script: script, configuration: configuration.replay, matcher: matcher, decoder: decoder)
        let sessionID = state.withLock { s -> Int in
            s.next += 1
            s.live[s.next] = continuation
            return s.next
        }
        if state.withLock({ $0.stopping }) { continuation.yield(.stop) }
        let closes = CloseCodes()
        let writer = writer
        let tap: ReplayFrameTap = { direction, opcode, fin, payload in
            if opcode == .close {
                let (code, reason) = ConnectionClose.parseClosePayload(payload)
                closes.value.withLock { c in
                    if direction == .clientToServer {
                        c.clientCode = code ?? 1005
                        c.clientReason = reason
                    } else {
                        c.serverCode = code ?? 1005
                        c.serverReason = reason
                    }
                }
            }
            guard let writer, let recordedID else { return }
            try? await writer.append(RecordedFrame(connection: recordedID, direction: direction, opcode: opcode, fin: fin, payload: payload))
        }
        let logger = logger
        let runner = ReplaySessionRunner(
            machine: machine, channel: session.channel, clock: clock, inputs: session.inputs, continuation: continuation, mask: true,
            onEvent: { ReplayLog.log($0, label: label, peerName: "server", logger: logger) }, tap: tap)
        let started = clock.elapsed
        result.outcome = await runner.run()
        _ = state.withLock { $0.live.removeValue(forKey: sessionID) }
        await end(recordedID, closes.value.withLock { $0 })
        logger.info(
            "\(label): \(ReplayLog.describe(result.outcome)) (\(runner.framesSent) frames sent, \(runner.messagesReceived) received, \(ReplayLog.seconds(clock.elapsed - started)))"
        )
        return result
    }

    private func begin(_ info: ConnectionInfo) async -> ConnectionID? {
        guard let writer else { return nil }
        do {
            return try await writer.beginConnection(info)
        } catch {
            logger.error("recording: \(error)")
            return nil
        }
    }

    private func end(_ id: ConnectionID?, _ close: ConnectionClose) async {
        guard let writer, let id else { return }
        do {
            try await writer.endConnection(id, close: close)
        } catch {
            logger.error("recording: \(error)")
        }
    }
}

/// The close codes each side sent, as the session's tap saw them.
final class CloseCodes: Sendable {
    let value = Mutex(ConnectionClose())
}

enum UpgradeResult: Sendable {
    case done(ReplayClientResult)
    case upgraded(UpgradedSession)
}

/// A connection whose upgrade succeeded, ready to play its frames.
struct UpgradedSession: Sendable {
    var connection: StoredConnection
    var channel: any Channel
    var inputs: AsyncStream<ReplayInput>
    var continuation: AsyncStream<ReplayInput>.Continuation
    var recordedID: ConnectionID?
    var result: ReplayClientResult
    var label: String
}

struct ClientState: ~Copyable {
    var results: [ReplayClientResult] = []
    var live: [Int: AsyncStream<ReplayInput>.Continuation] = [:]
    var next = 0
    var stopping = false
}

/// Standard base64, for the `Sec-WebSocket-Key`.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i]
            let b1 = i + 1 < bytes.count ? bytes[i + 1] : 0
            let b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 0x0F) << 2 | b2 >> 6)] : "=")
            out.append(i + 2 < bytes.count ? table[Int(b2 & 0x3F)] : "=")
            i += 3
        }
        return out
    }
}
