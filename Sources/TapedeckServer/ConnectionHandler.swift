import Logging
import TapedeckCore
import OrderedCollections
import TapedeckProtocol
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Synchronization

/// Runs one WebSocket connection: reads client messages into the engine, writes the queue to the
/// socket, watches the heartbeat, and plays a private timeline in per-connection mode.
struct ConnectionHandler: Sendable {
    let connection: SimulatorConnection
    let hub: Hub
    let scheduler: Scheduler
    let codec: FrameCodec
    let configuration: SimulatorConfiguration
    let clock: any SimulationClock
    let logger: Logger
    let peer: String
    let path: String
    let query: String?
    let headers: [(name: String, value: String)]
    let tap: (any SimulatorTap)?
    /// The client's close frame, seen at the socket (only with a tap).
    let clientClose: ClientCloseObserver.Seen

    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async {
        let logger = {
            var l = self.logger
            l[metadataKey: "connection"] = "\(connection.id)"
            return l
        }()
        guard hub.add(connection) else {
            try? await outbound.close(.goingAway, reason: "server shutting down")
            return
        }
        logger.info("connected", metadata: ["path": "\(path)", "profile": "\(connection.profileName)", "peer": "\(peer)", "user": "\(connection.withEngine { $0.conn["user"]?.plainText ?? "" })"])
        await tap?.opened(TappedConnection(id: connection.id, path: path, query: query, headers: headers, peer: peer, profile: connection.profileName))
        let serverClose = ServerCloseBox()
        defer {
            hub.remove(connection)
            logger.info("disconnected", metadata: ["dropped": "\(connection.queue.droppedCount)"])
        }
        // History is read and the initial subscriptions made under the engine's lock, so an event
        // published meanwhile is either in the history or delivered live (never neither).
        let start = connection.withEngine { e in
            let past = hub.history.items(profile: connection.profileName, keys: e.historyKeys)
            let actions = e.start(wallTime: clock.wallTime, history: past)
            enqueue(actions, logger: logger)
            return actions
        }
        perform(start, logger: logger)

        await withTaskGroup(of: Void.self) { group in
            // Writer: the queue to the socket, until a close or the end.
            group.addTask {
                while let item = await connection.queue.next() {
                    do {
                        switch item {
                        case .text(let s):
                            try await outbound.write(.text(s))
                            await tap?.frame(connection: connection.id, fromClient: false, .text(s))
                        case .binary(let b):
                            try await outbound.write(.binary(ByteBuffer(bytes: b)))
                            await tap?.frame(connection: connection.id, fromClient: false, .binary(b))
                        case .close(let code, let reason):
                            serverClose.set(code, reason)
                            await tap?.frame(connection: connection.id, fromClient: false, .close(code: code, reason: reason))
                            try await outbound.close(WebSocketErrorCode(codeNumber: code), reason: reason)
                            return
                        }
                    } catch {
                        return
                    }
                }
            }
            // Reader: client messages through the engine.
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: configuration.maxMessageSize) {
                        let decoded: InboundMessage
                        switch message {
                        case .text(let s):
                            await tap?.frame(connection: connection.id, fromClient: true, .text(s))
                            decoded = codec.decode(text: s)
                        case .binary(let b):
                            let bytes = Array(b.readableBytesView)
                            await tap?.frame(connection: connection.id, fromClient: true, .binary(bytes))
                            decoded = codec.decode(binary: bytes)
                        }
                        let now = seconds(clock.elapsed)
                        // Replies are queued under the engine's lock, like events, so an event that a
                        // subscribe lets through never overtakes the subscribe's own reply.
                        let actions = connection.withEngine { e in
                            let actions = e.receive(decoded, now: now, wallTime: clock.wallTime)
                            enqueue(actions, logger: logger)
                            return actions
                        }
                        perform(actions, logger: logger)
                        // After the engine has handled it, so that a timeline it starts finds the
                        // subscription it made.
                        hub.start.messageReceived()
                        connection.start.messageReceived()
                    }
                } catch {
                    logger.debug("read ended: \(error)")
                }
                connection.queue.finish()
            }
            // Heartbeats: the client timeout and the server's own heartbeats.
            let (clientTimeout, serverHeartbeat) = connection.withEngine { ($0.clientTimeout, $0.serverHeartbeat) }
            if clientTimeout != nil || serverHeartbeat != nil {
                let shortest = [clientTimeout, serverHeartbeat?.every, serverHeartbeat?.grace].compactMap { $0 }.min() ?? 1
                let step = Duration.milliseconds(Int64(max(10, min(100, shortest * 1000 / 10))))
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: step) } catch { return }
                        let actions = connection.withEngine { e in
                            let actions = e.tick(now: seconds(clock.elapsed), wallTime: clock.wallTime)
                            enqueue(actions, logger: logger)
                            return actions
                        }
                        perform(actions, logger: logger)
                        if actions.contains(where: { if case .close = $0 { true } else { false } }) {
                            logger.info("heartbeat timeout")
                            await sleepUntilCancelled()
                            return
                        }
                    }
                }
            }
            // A private timeline, started by the same rule as the shared one, for this connection.
            if connection.ownsTimeline {
                connection.start.connected()
                group.addTask {
                    await connection.start.wait(scheduler.startPolicy, grace: configuration.startGrace)
                    guard !Task.isCancelled else { return }
                    await scheduler.run(for: connection)
                    // The connection outlives its timeline: only the reader or writer ends it.
                    await sleepUntilCancelled()
                }
            }
            await group.next()
            group.cancelAll()
        }
        var close = serverClose.value
        if let tap, let client = clientClose.value {
            await tap.frame(connection: connection.id, fromClient: true, .close(code: client.code, reason: client.reason))
            if close == nil {
                // The client closed first: the WebSocket layer answered 1000, or 1002 to a code
                // that is not allowed on the wire.
                let known: Set<Int> = [1000, 1001, 1002, 1003, 1005, 1007, 1008, 1009, 1010, 1011]
                let answer = known.contains(client.code) || (3000...4999).contains(client.code) ? 1000 : 1002
                await tap.frame(connection: connection.id, fromClient: false, .close(code: answer, reason: ""))
                close = (answer, "")
            }
        }
        await tap?.closed(connection: connection.id, code: close?.0, reason: close?.1)
    }

    /// The close the server sent, if any.
    final class ServerCloseBox: Sendable {
        private let state = Mutex<(Int, String)?>(nil)
        func set(_ code: Int, _ reason: String) { state.withLock { $0 = (code, reason) } }
        var value: (Int, String)? { state.withLock { $0 } }
    }

    func sleepUntilCancelled() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: .seconds(3600)) } catch { return }
        }
    }

    /// Queues the messages and closes among `actions`; called under the engine's lock.
    func enqueue(_ actions: [EngineAction], logger: Logger) {
        for a in actions {
            switch a {
            case .send(let v):
                do {
                    connection.queue.pushControl(try codec.encode(v))
                } catch {
                    logger.error("profile \(connection.profileName): cannot encode a reply: \(error)")
                }
            case .close(let code, let reason): connection.queue.pushControl(.close(code: code, reason: reason))
            case .log, .clearHistory: break
            }
        }
    }

    /// Carries out the rest of `actions` (logs, history), outside the engine's lock.
    func perform(_ actions: [EngineAction], logger: Logger) {
        for a in actions {
            switch a {
            case .send, .close: break
            case .log(let m): logger.warning("profile \(connection.profileName): \(m)")
            case .clearHistory(let key): hub.history.clear(profile: connection.profileName, key: key)
            }
        }
    }
}
